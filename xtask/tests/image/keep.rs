//! What `dist` keeps from earlier runs (docs/dist.md): building one platform
//! adds it to the index next to those built before with the same message,
//! keeps the host's archive, and names in one line what it leaves out or
//! removes.

use super::*;

/// A platform that is not this machine's, built under qemu-user.
fn foreign() -> &'static str {
    if host_platform() == "linux/arm64" {
        "linux/amd64"
    } else {
        "linux/arm64"
    }
}

fn platforms() -> Vec<String> {
    read_layout()
        .images
        .into_iter()
        .map(|i| i.platform)
        .collect()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The lines of `out` that start with `start`.
fn lines(out: &str, start: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.starts_with(start))
        .map(str::to_string)
        .collect()
}

#[test]
fn dist_adds_a_platform_to_those_built_before() {
    let _g = lock();
    // No hello file from an earlier test: each platform is built here.
    forget_built_platforms();
    let host = host_platform();
    let foreign = foreign();
    let first = xtask_ok(&["dist", "--no-docker"]);
    assert_eq!(platforms(), [host], "the index after `dist` for {host}");
    assert_eq!(
        lines(&stdout(&first), "note: target/dist/oci"),
        [] as [String; 0]
    );
    let archive = fs::read(archive_path()).expect("dist wrote the host's archive");
    let inputs = fs::read_to_string(
        root()
            .join("target/dist")
            .join(host.replace('/', "-"))
            .join("hello.inputs"),
    )
    .unwrap();
    assert_eq!(
        inputs,
        format!("hello layout compat message {}\n", sha256(MESSAGE)),
        "the inputs line beside the file"
    );

    // The same message, another platform: added, the archive kept.
    let second = xtask_ok(&["dist", "--no-docker", "--platform", foreign]);
    let mut both = vec![host.to_string(), foreign.to_string()];
    both.sort_by_key(|p| p != "linux/amd64"); // table order: amd64 first
    assert_eq!(
        platforms(),
        both,
        "the index after `dist --platform {foreign}`"
    );
    let out = stdout(&second);
    assert!(
        !out.contains("leaves out") && !out.contains("removed"),
        "{out}"
    );
    assert!(
        fs::read(archive_path()).unwrap() == archive,
        "`dist --platform {foreign}` changed target/dist/hello-image.tar"
    );

    // Another message: the host's file is left out, and its archive removed,
    // each said in one line.
    let third = xtask_ok(&[
        "dist",
        "--no-docker",
        "--platform",
        foreign,
        "--message",
        "Other\n",
    ]);
    assert_eq!(platforms(), [foreign], "the index after another message");
    let out = stdout(&third);
    assert_eq!(
        lines(&out, "note: target/dist/oci"),
        [format!(
            "note: target/dist/oci leaves out {host}: an earlier run built hello there with \
             another message or --layout (target/dist/<os>-<arch>/hello.inputs); build them \
             with these options to add them"
        )],
        "{out}"
    );
    assert_eq!(
        lines(&out, "removed"),
        [format!(
            "removed target/dist/hello-image.tar: it holds this machine's platform ({host}), \
             which is not in the new index; build that platform with the same options to \
             write it again"
        )],
        "{out}"
    );
    assert!(!archive_path().exists(), "the archive is gone");
    assert!(
        root().join("target/dist/hello").is_file(),
        "no file is deleted"
    );

    // Back to the default message, this machine only: the foreign file, now
    // of another message, is left out; the archive is the first one again.
    let fourth = xtask_ok(&["dist", "--no-docker"]);
    assert_eq!(platforms(), [host]);
    assert_eq!(lines(&stdout(&fourth), "note: target/dist/oci").len(), 1);
    assert!(fs::read(archive_path()).unwrap() == archive);
}
