//! Bad `--site` inputs: status 2, one line, nothing built or changed.
use super::*;

#[test]
fn bad_site_inputs_are_refused() {
    let dir = shared_dir().join("site-refusals");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mk = |name: &str| {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("index.html"), b"<p>hi</p>\n").unwrap();
        d
    };
    let empty = dir.join("empty");
    std::fs::create_dir_all(empty.join("sub")).unwrap();
    let escapes = mk("escapes");
    std::os::unix::fs::symlink("/etc/hostname", escapes.join("host.txt")).unwrap();
    let up = mk("up");
    std::os::unix::fs::symlink("..", up.join("parent")).unwrap();
    let broken = mk("broken");
    std::os::unix::fs::symlink("nowhere.html", broken.join("gone.html")).unwrap();
    let latin1 = mk("latin1");
    {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"caf\xe9.html");
        std::fs::write(latin1.join(name), b"x").unwrap();
    }
    let control = mk("control");
    std::fs::write(control.join("a\nb.html"), b"x").unwrap();
    let huge = mk("huge");
    // Sparse: 256 MiB and one byte, refused before it is read.
    std::fs::File::create(huge.join("big.bin"))
        .unwrap()
        .set_len((256 << 20) + 1)
        .unwrap();
    let plain_file = dir.join("file.html");
    std::fs::write(&plain_file, b"x").unwrap();
    let good = mk("good");
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--site".into(), s(&dir.join("missing"))],
            "No such file",
        ),
        (vec!["--site".into(), s(&plain_file)], "is not a directory"),
        (vec!["--site".into(), s(&empty)], "holds no regular file"),
        (vec!["--site".into(), s(&escapes)], "outside the site"),
        (vec!["--site".into(), s(&up)], "outside the site"),
        (vec!["--site".into(), s(&broken)], "broken symlink"),
        (
            vec!["--site".into(), s(&latin1)],
            "cannot be carried by a URL",
        ),
        (
            vec!["--site".into(), s(&control)],
            "cannot be carried by a URL",
        ),
        (vec!["--site".into(), s(&huge)], "256 MiB"),
        (
            vec![
                "--site".into(),
                s(&good),
                "--page-file".into(),
                s(&plain_file),
            ],
            "--site and --page-file were both given",
        ),
        (
            vec![
                "--site".into(),
                s(&good),
                "--content-type".into(),
                "text/plain".into(),
            ],
            "--site and --content-type were both given",
        ),
        (
            vec!["--fallback".into(), "/index.html".into()],
            "goes with --site",
        ),
        (
            vec!["--cache-control".into(), "no-store".into()],
            "goes with --site",
        ),
        (
            vec![
                "--site".into(),
                s(&good),
                "--fallback".into(),
                "/app.html".into(),
            ],
            "no such file",
        ),
        (
            vec![
                "--site".into(),
                s(&good),
                "--cache-control".into(),
                "a\u{1}b".into(),
            ],
            "printable ASCII",
        ),
    ];
    let _g = lock();
    let dist = root().join("target/dist/linux-amd64/serve");
    let tables = root().join("target/xtask/site/site.rs");
    let before = (std::fs::read(&dist).ok(), std::fs::read(&tables).ok());
    for (args, want) in cases {
        let mut all = vec!["dist", "--program", "serve", "--no-docker"];
        all.extend(args.iter().map(String::as_str));
        let out = xtask(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(
            stderr.lines().count(),
            1,
            "{args:?}: one line, got {stderr:?}"
        );
        assert!(stderr.contains(want), "{args:?}: {stderr:?} lacks {want:?}");
        assert!(out.stdout.is_empty(), "{args:?}: printed {:?}", out.stdout);
    }
    // --site for another program.
    let out = xtask(&["dist", "--site", &s(&good)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("an option of --program serve"));
    let after = (std::fs::read(&dist).ok(), std::fs::read(&tables).ok());
    assert!(
        before == after,
        "a refused dist changed target/dist or target/xtask/site"
    );
}
