//! Running what the image tests need: the xtask's builds, skopeo, and the
//! image's files in Docker natively or under qemu.

use super::*;

/// `cargo xtask ARGS` without SOURCE_DATE_EPOCH, as the README's figures and
/// the pull budget assume: mtime 0. (A present-day epoch in the tar header
/// costs the gzipped layer about ten bytes.) Must succeed; caller holds `lock()`.
pub(crate) fn xtask_by_default(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(root())
        .env_remove("SOURCE_DATE_EPOCH")
        .stdin(Stdio::null())
        .output()
        .expect("run the xtask binary");
    assert!(
        out.status.success(),
        "cargo xtask {} failed ({}):\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every platform, with mtime 0 whatever SOURCE_DATE_EPOCH the tests run with.
pub(crate) fn dist_as_by_default() {
    xtask_by_default(&["dist", "--no-docker", "--platform", "all"]);
}

pub(crate) fn want_mtime() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH").map_or(0, |s| s.parse().unwrap())
}

pub(crate) const SKOPEO_INSTALL: &str = "apt-get install -y skopeo";

pub(crate) fn skopeo(args: &[&str]) -> std::process::Output {
    Command::new("skopeo")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run skopeo ({e}): install it with `apt-get install -y skopeo`"))
}

/// Removes every platform's hello file (and its inputs line) from target/dist,
/// so that the next `dist` packages only what it builds: it adds the
/// platforms earlier runs built with the same message (docs/dist.md).
pub(crate) fn forget_built_platforms() {
    for entry in fs::read_dir(root().join("target/dist")).unwrap() {
        let dir = entry.unwrap().path();
        for name in ["hello", "hello.inputs"] {
            let _ = fs::remove_file(dir.join(name));
        }
    }
}

/// Every output file's bytes, by path under target/dist.
pub(crate) fn outputs(dist: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut map = BTreeMap::new();
    fn walk(dir: &Path, base: &Path, map: &mut BTreeMap<String, Vec<u8>>) {
        for e in fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(&path, base, map);
            } else {
                let rel = path.strip_prefix(base).unwrap().display().to_string();
                map.insert(rel, fs::read(&path).unwrap());
            }
        }
    }
    walk(&dist.join("oci"), dist, &mut map);
    map.insert(
        "hello-image.tar".into(),
        fs::read(dist.join("hello-image.tar")).expect("read hello-image.tar"),
    );
    map
}

pub(crate) fn assert_same(
    a: &BTreeMap<String, Vec<u8>>,
    b: &BTreeMap<String, Vec<u8>>,
    what: &str,
) {
    let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(a), names(b), "{what}: different files");
    for (name, bytes) in a {
        assert!(
            &b[name] == bytes,
            "{what}: {name} differs ({} vs {})",
            sha256(bytes),
            sha256(&b[name])
        );
    }
}

/// `docker <args>` that must succeed; returns stdout.
pub(crate) fn docker_ok(args: &[&str]) -> Vec<u8> {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {} failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// qemu-user's name for an OCI architecture, as in its binfmt_misc entry.
pub(crate) fn qemu_name(architecture: &str) -> String {
    let arch = match architecture {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "386" => "i386",
        other => other,
    };
    format!("qemu-{arch}")
}

/// Whether `image` runs on this machine: natively, or through a matching
/// binfmt_misc entry with the F flag; a loud skip (see common::skip) when not.
pub(crate) fn runs_here(test: &str, image: &Image) -> bool {
    // x86-64 kernels run 386 programs themselves.
    image.platform == host_platform()
        || (host_platform() == "linux/amd64" && image.platform == "linux/386")
        || binfmt_available(
            &format!("{test} ({})", image.platform),
            &qemu_name(&image.architecture),
            &image.dist_file(),
        )
}

pub(crate) fn run_in_docker(reference: &str, platform: Option<&str>) -> std::process::Output {
    let mut args = vec!["run", "--rm", "--pull", "never", "--network", "none"];
    if let Some(p) = platform {
        args.extend(["--platform", p]);
    }
    args.push(reference);
    docker(&args)
}

pub(crate) fn assert_prints_message(out: &std::process::Output, what: &str) {
    assert_output(out, MESSAGE, what);
}

/// What the registry serves at `path`: checks status 200, the media type
/// and the length it declares, and that the bytes are `want`'s.
pub(crate) fn assert_serves(registry: &Registry, path: &str, media_type: &str, want: &Blob) {
    let (status, headers, body) = registry
        .get(path, media_type)
        .unwrap_or_else(|| panic!("the registry did not answer GET {path}"));
    assert!(status.contains(" 200 "), "GET {path}: {status}");
    if path.contains("/manifests/") {
        assert_eq!(
            headers.get("content-type").map(String::as_str),
            Some(media_type),
            "GET {path}: Content-Type"
        );
        assert_eq!(
            headers.get("docker-content-digest"),
            Some(&want.digest),
            "GET {path}"
        );
    }
    assert_eq!(
        headers.get("content-length"),
        Some(&body.len().to_string()),
        "GET {path}: Content-Length"
    );
    assert!(
        body == want.bytes,
        "GET {path}: the registry serves other bytes than {}",
        want.digest
    );
}
