//! Podman (Debian's 4.3) loads what `dist` writes and runs it: the `docker
//! load` archives of hello, serve and the quine for this machine's platform,
//! each under the name Docker gives it (docs/dist.md), and a foreign
//! platform's hello from the OCI layout (target/dist/oci) through
//! binfmt_misc; plain and hardened; as root and rootless, as an unprivileged
//! user.
mod common;

use common::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use xtask::build::serve::DEFAULT_PAGE;

/// This machine's platform and a foreign one, with qemu's name for it.
fn platforms() -> (&'static str, &'static str, &'static str) {
    if std::env::consts::ARCH == "aarch64" {
        ("linux/arm64", "linux/amd64", "qemu-x86_64")
    } else {
        ("linux/amd64", "linux/arm64", "qemu-aarch64")
    }
}

/// The config digest (the image ID) of `platform`'s image in the OCI layout.
fn config_id(layout: &Path, platform: &str) -> String {
    let read = |digest: &str| -> Value {
        let path = layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"));
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
    };
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let index = read(index["manifests"][0]["digest"].as_str().unwrap());
    let (os, rest) = platform.split_once('/').unwrap();
    let m = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["os"] == os && m["platform"]["architecture"] == rest)
        .unwrap_or_else(|| panic!("the OCI index has no {platform}"));
    let manifest = read(m["digest"].as_str().unwrap());
    manifest["config"]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `podman load -i archive`: the name it printed.
fn podman_load(who: As, archive: &Path) -> String {
    let out = podman_as(who, &["load", "-i", archive.to_str().unwrap()]);
    assert!(out.status.success(), "podman load: {}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Loaded image: "))
        .unwrap_or_else(|| {
            panic!(
                "podman load printed no `Loaded image:` line: {}",
                text(&out)
            )
        })
        .trim()
        .to_string()
}

/// `podman load` of the archive and `podman pull --platform` of the foreign
/// image from the layout, each checked by image ID, then run plain and
/// hardened (exact message, status 0), the archive's by its short name with
/// and without `:latest`, as `podman run hello` would. `dist` is where
/// target/dist's archives and layout are (a copy the user can read, when
/// rootless).
fn load_and_run(test: &str, who: As, dist: &Path) {
    let (host, foreign, qemu) = platforms();
    let layout = dist.join("oci");
    let loaded = podman_load(who, &dist.join("hello-image.tar"));
    // The name Docker gives it: the archive's index.json says it in full.
    let name = own_name(who, "hello");
    assert_eq!(
        loaded,
        format!("docker.io/library/{name}:latest"),
        "podman load of an archive tagged {name}"
    );
    let id = podman_as(who, &["image", "inspect", "--format", "{{.Id}}", &loaded]);
    assert_eq!(
        String::from_utf8_lossy(&id.stdout).trim(),
        config_id(&layout, host),
        "podman load gave {loaded}, not our {host} image: {}",
        text(&id)
    );
    // podman names an `oci:` source after its path, and a name must be
    // lowercase: a checkout under mktemp -d (/tmp/tmp.AbC...) would be refused.
    // So pull through a link of our own, lowercase, name.
    let link = std::env::temp_dir().join(format!(
        "hello-podman-oci-{}-{}",
        std::process::id(),
        match who {
            As::Me => "me",
            As::User(u) => u,
        }
    ));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&layout, &link).expect("link the OCI layout");
    let src = format!("oci:{}:latest", link.display());
    // The name podman gives what it pulls from an `oci:` path.
    let pulled_name = format!("localhost{}:latest", link.display());
    let pulled = podman_as(who, &["pull", "-q", "--platform", foreign, &src]);
    assert!(
        pulled.status.success(),
        "podman pull --platform {foreign} {src}: {}",
        text(&pulled)
    );
    let _ = std::fs::remove_file(&link);
    let foreign_id = String::from_utf8_lossy(&pulled.stdout).trim().to_string();
    assert_eq!(
        foreign_id,
        config_id(&layout, foreign),
        "podman pull --platform {foreign} {src}"
    );

    let file = root()
        .join("target/dist")
        .join(foreign.replace('/', "-"))
        .join("hello");
    let mut runs = vec![(host, format!("{name}:latest")), (host, name.clone())];
    if binfmt_available(&format!("{test} ({foreign})"), qemu, &file) {
        runs.push((foreign, foreign_id.clone()));
    }
    for (platform, image) in runs {
        for hardened in [false, true] {
            let mut args = vec!["run", "--rm", "--network", "none", "--platform", platform];
            args.extend_from_slice(PODMAN_ULIMITS);
            if hardened {
                args.extend_from_slice(HARDENED);
            }
            args.push(&image);
            let out = podman_as(who, &args);
            let what = format!("podman {}", args.join(" "));
            assert_eq!(
                (out.status.code(), out.stdout.as_slice()),
                (Some(0), MESSAGE),
                "{what}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !stderr.trim().is_empty() {
                // Rootless podman on cgroup v1 ignores --pids-limit and --memory, and says so.
                eprintln!("note: {what} said: {}", stderr.trim());
            }
        }
    }
    // By name, not by ID: an image of the same bytes that another checkout
    // loaded under its own name stays; podman drops the image with its last name.
    let removed = podman_as(who, &["rmi", &loaded, &pulled_name]);
    assert!(removed.status.success(), "podman rmi: {}", text(&removed));
    load_and_run_quine(who, dist);
    load_and_run_serve(who, dist);
}

/// The quine's archive, a Docker archive only: podman names it after its
/// RepoTags, `localhost/hello:quine`, and `podman run hello:quine` prints the
/// archive again, byte for byte.
fn load_and_run_quine(who: As, dist: &Path) {
    let archive_path = dist.join("quine-image.tar");
    let archive = std::fs::read(&archive_path).unwrap();
    let loaded = podman_load(who, &archive_path);
    assert_eq!(loaded, "localhost/hello:quine", "podman load of the quine");
    let mut args = vec!["run", "--rm", "--network", "none"];
    args.extend_from_slice(PODMAN_ULIMITS);
    args.extend_from_slice(HARDENED);
    args.push("hello:quine");
    let out = podman_as(who, &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "podman {}: {}",
        args.join(" "),
        text(&out)
    );
    assert!(
        out.stdout == archive,
        "podman {} printed {} bytes, not the {}-byte archive it was loaded from",
        args.join(" "),
        out.stdout.len(),
        archive.len()
    );
    // By name: an image of the same bytes loaded elsewhere stays.
    let removed = podman_as(who, &["rmi", &loaded]);
    assert!(removed.status.success(), "podman rmi: {}", text(&removed));
}

/// serve's archive, tagged with this run's own name and port: loaded under
/// the name Docker gives it, run by its short name on the host's network,
/// and `GET /` answers the page, exactly.
fn load_and_run_serve(who: As, dist: &Path) {
    let name = own_name(who, "serve");
    let loaded = podman_load(who, &dist.join("serve-image.tar"));
    assert_eq!(loaded, format!("docker.io/library/{name}:latest"));
    let container = format!("{name}-run");
    // No `--rm`: podman removes such a container after `stop` returns, in
    // its cleanup process, so an `rmi` right after failed now and then with
    // the image still in use. `podman rm` below removes it before returning.
    let mut args = vec!["run", "-d", "--network", "host", "--name", &container];
    args.extend_from_slice(PODMAN_ULIMITS);
    args.extend_from_slice(HARDENED);
    args.push(&name);
    let out = podman_as(who, &args);
    assert!(
        out.status.success(),
        "podman {}: {}",
        args.join(" "),
        text(&out)
    );
    let port = serve_port(who);
    // It listens once podman has started it: wait for that, then one GET.
    let start = Instant::now();
    let got = loop {
        match good_get(port, DEFAULT_PAGE, Duration::from_secs(10)) {
            Err(e) if e.starts_with("connect") && start.elapsed() < Duration::from_secs(20) => {
                std::thread::sleep(Duration::from_millis(50))
            }
            other => break other,
        }
    };
    let stopped = podman_as(who, &["stop", "-t", "5", &container]);
    assert!(stopped.status.success(), "podman stop: {}", text(&stopped));
    let gone = podman_as(who, &["rm", &container]);
    assert!(gone.status.success(), "podman rm: {}", text(&gone));
    got.unwrap_or_else(|e| panic!("GET / on port {port} from podman's {name}: {e}"));
    let removed = podman_as(who, &["rmi", &loaded]);
    assert!(removed.status.success(), "podman rmi: {}", text(&removed));
}

#[test]
fn podman_runs_the_archive_and_a_foreign_image() {
    let test = "podman_runs_the_archive_and_a_foreign_image";
    if !podman_available(test) {
        return;
    }
    let _g = lock();
    dist_own_archive(As::Me);
    load_and_run(test, As::Me, &root().join("target/dist"));
}

/// Every platform's file, and target/dist's archives named for this test run
/// alone (`cargo xtask image --tag`, `dist --program serve --tag`): podman
/// stores of root and of the rootless user are shared with other checkouts,
/// which load their own. The quine's name is fixed (it prints it).
fn dist_own_archive(who: As) {
    xtask_ok(&["dist", "--no-docker", "--platform", "all"]);
    xtask_ok(&["image", "--tag", &own_name(who, "hello")]);
    xtask_ok(&["dist", "--program", "quine", "--no-docker"]);
    let port = serve_port(who).to_string();
    let serve = own_name(who, "serve");
    let args = [
        "dist",
        "--program",
        "serve",
        "--no-docker",
        "--port",
        &port,
        "--tag",
        &serve,
    ];
    xtask_ok(&args);
}

/// `hello-test-podman-<who>-<program>-<pid>`: a repository of this run's own,
/// tagged `latest` by default, so that the test can run it by the name alone.
fn own_name(who: As, program: &str) -> String {
    let who = match who {
        As::Me => "me",
        As::User(u) => u,
    };
    format!("hello-test-podman-{who}-{program}-{}", std::process::id())
}

/// The port serve's image listens on, one per test: free now, and this run's.
fn serve_port(who: As) -> u16 {
    static PORTS: std::sync::OnceLock<(u16, u16)> = std::sync::OnceLock::new();
    let (me, user) = *PORTS.get_or_init(|| (quiet_port(), quiet_port()));
    match who {
        As::Me => me,
        As::User(_) => user,
    }
}

#[test]
fn podman_runs_them_rootless() {
    let test = "podman_runs_them_rootless";
    if !podman_available(test) {
        return;
    }
    let Some(who) = rootless_podman(test) else {
        return;
    };
    let _g = lock();
    dist_own_archive(who);
    let As::User(_) = who else {
        // Not root: this user is the unprivileged one.
        load_and_run(test, who, &root().join("target/dist"));
        return;
    };
    // A copy the user can read: the checkout may sit in a private directory.
    let dir: PathBuf = std::env::temp_dir().join(format!("hello-rootless-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let copy = Command::new("cp")
        .arg("-r")
        .arg(root().join("target/dist/oci"))
        .arg(root().join("target/dist/hello-image.tar"))
        .arg(root().join("target/dist/quine-image.tar"))
        .arg(root().join("target/dist/serve-image.tar"))
        .arg(&dir)
        .status()
        .unwrap();
    assert!(copy.success());
    let chmod = Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(chmod.success());
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    load_and_run(test, who, &dir);
    std::fs::remove_dir_all(&dir).unwrap();
}
