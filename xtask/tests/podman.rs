//! Podman (Debian's 4.3) loads what `dist` writes and runs it: the `docker
//! load` archive (target/dist/hello-image.tar) for this machine's platform,
//! and a foreign platform's image from the OCI layout (target/dist/oci) through
//! binfmt_misc; plain and hardened; as root and rootless, as an unprivileged
//! user.
mod common;

use common::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

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

/// How podman is run: as this user, or as `user` through runuser.
#[derive(Clone, Copy)]
enum As<'a> {
    Me,
    User(&'a str),
}

fn podman_as(who: As, args: &[&str]) -> Output {
    let mut cmd = match who {
        As::Me => Command::new("podman"),
        As::User(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--", "podman"]);
            // Root's runtime directory is not the user's: podman picks its own.
            c.env_remove("XDG_RUNTIME_DIR").current_dir("/");
            c
        }
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run podman")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `podman load` of the archive and `podman pull --platform` of the foreign
/// image from the layout, each checked by image ID, then run plain and
/// hardened (exact message, status 0). `dist` is where target/dist's archive
/// and layout are (a copy the user can read, when rootless).
fn load_and_run(test: &str, who: As, dist: &Path) {
    let (host, foreign, qemu) = platforms();
    let layout = dist.join("oci");
    let archive = dist.join("hello-image.tar");
    let out = podman_as(who, &["load", "-i", archive.to_str().unwrap()]);
    assert!(out.status.success(), "podman load: {}", text(&out));
    let loaded = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Loaded image: "))
        .unwrap_or_else(|| {
            panic!(
                "podman load printed no `Loaded image:` line: {}",
                text(&out)
            )
        })
        .trim()
        .to_string();
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
    let mut runs = vec![(host, loaded.clone())];
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
    podman_as(who, &["rmi", "-f", &loaded, &foreign_id]);
}

#[test]
fn podman_runs_the_archive_and_a_foreign_image() {
    let test = "podman_runs_the_archive_and_a_foreign_image";
    if !podman_available(test) {
        return;
    }
    let _g = lock();
    xtask_ok(&["dist", "--no-docker", "--platform", "all"]);
    load_and_run(test, As::Me, &root().join("target/dist"));
}

/// The unprivileged user the rootless run uses, with subordinate ids for its
/// user namespace; created when missing. Err(why) when it cannot be.
fn rootless_user() -> Result<&'static str, String> {
    const USER: &str = "hello-rootless";
    let exists = Command::new("id")
        .arg(USER)
        .output()
        .is_ok_and(|o| o.status.success());
    if !exists {
        let out = Command::new("useradd")
            .args(["--create-home", "--shell", "/bin/sh", USER])
            .output()
            .map_err(|e| format!("useradd: {e}"))?;
        if !out.status.success() {
            return Err(format!("useradd {USER}: {}", text(&out)));
        }
    }
    for file in ["/etc/subuid", "/etc/subgid"] {
        let has = std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with(&format!("{USER}:")));
        if !has {
            let flag = if file.ends_with("uid") {
                "--add-subuids"
            } else {
                "--add-subgids"
            };
            let out = Command::new("usermod")
                .args([flag, "400000-465535", USER])
                .output()
                .map_err(|e| format!("usermod: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "usermod {flag} 400000-465535 {USER}: {}",
                    text(&out)
                ));
            }
        }
    }
    Ok(USER)
}

#[test]
fn podman_runs_them_rootless() {
    let test = "podman_runs_them_rootless";
    if !podman_available(test) {
        return;
    }
    let _g = lock();
    xtask_ok(&["dist", "--no-docker", "--platform", "all"]);
    if !is_root() {
        // Not root: this user is the unprivileged one.
        load_and_run(test, As::Me, &root().join("target/dist"));
        return;
    }
    if !tool_available(test, "runuser", "apt-get install -y util-linux") {
        return;
    }
    let user = match rootless_user() {
        Ok(u) => u,
        Err(why) => {
            skip(
                test,
                &format!("no unprivileged user for rootless podman: {why}"),
                "useradd",
            );
            return;
        }
    };
    let info = podman_as(
        As::User(user),
        &["info", "--format", "{{.Host.Security.Rootless}}"],
    );
    if String::from_utf8_lossy(&info.stdout).trim() != "true" {
        skip(
            test,
            &format!(
                "podman as {user} does not run rootless: {}",
                text(&info).trim()
            ),
            "apt-get install -y uidmap (newuidmap), and allow user namespaces",
        );
        return;
    }
    // A copy the user can read: the checkout may sit in a private directory.
    let dir: PathBuf = std::env::temp_dir().join(format!("hello-rootless-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let copy = Command::new("cp")
        .arg("-r")
        .arg(root().join("target/dist/oci"))
        .arg(root().join("target/dist/hello-image.tar"))
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
    load_and_run(test, As::User(user), &dir);
    std::fs::remove_dir_all(&dir).unwrap();
}
