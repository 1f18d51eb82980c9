//! The quine's helpers: building it, reading the tar archive it prints, and
//! loading that archive into Docker as an image.

use super::*;

pub(crate) const TAG: &str = "hello:quine";
/// The file's budget (issue 20), as linker/quine.ld.in and dist's QUINE_MAX
/// have it; the goal, and amd64's goal.
pub(crate) const QUINE_MAX: usize = 2560;
pub(crate) const QUINE_GOAL: usize = 2048;
pub(crate) const QUINE_GOAL_AMD64: usize = 1024;

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn sha256_id(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

/// The entries of a tar archive (regular files only): name -> (mode, data).
/// Checks every header's checksum and that the archive ends with two zero blocks.
pub(crate) fn untar(tar: &[u8]) -> BTreeMap<String, (u32, Vec<u8>)> {
    let octal = |f: &[u8]| {
        let s = String::from_utf8_lossy(f);
        u64::from_str_radix(s.trim_matches(|c| c == '\0' || c == ' '), 8).unwrap()
    };
    assert_eq!(tar.len() % 512, 0, "a tar is whole blocks");
    let mut entries = BTreeMap::new();
    let mut at = 0;
    while tar[at..at + 512].iter().any(|&b| b != 0) {
        let h = &tar[at..at + 512];
        let mut blank = h.to_vec();
        blank[148..156].copy_from_slice(b"        ");
        let sum: u64 = blank.iter().map(|&b| u64::from(b)).sum();
        assert_eq!(octal(&h[148..156]), sum, "header checksum at {at}");
        assert_eq!(&h[257..265], b"ustar\x0000", "ustar magic at {at}");
        assert_eq!(h[156], b'0', "a regular file at {at}");
        let name = String::from_utf8_lossy(&h[..100])
            .trim_end_matches('\0')
            .to_string();
        let size = octal(&h[124..136]) as usize;
        let data = tar[at + 512..at + 512 + size].to_vec();
        entries.insert(name, (octal(&h[100..108]) as u32, data));
        at += 512 + size.next_multiple_of(512);
    }
    assert_eq!(
        &tar[at..],
        &[0u8; 1024][..],
        "the archive ends with two zero blocks"
    );
    entries
}

/// The archive's parts, checked against each other: the config's diff_id is
/// the layer's SHA-256, the layer holds `file` as /quine, mode 0555; the
/// manifest names them and the tag. Returns the image ID, sha256(config).
pub(crate) fn check_archive(archive: &[u8], file: &[u8], platform: &str) -> String {
    // os/architecture[/variant], as the config names them.
    let mut parts = platform.splitn(3, '/');
    let (os, arch, variant) = (parts.next().unwrap(), parts.next().unwrap(), parts.next());
    let entries = untar(archive);
    let names: Vec<&str> = entries.keys().map(String::as_str).collect();
    assert_eq!(names, ["c.json", "l.tar", "manifest.json"]);
    let (_, config) = &entries["c.json"];
    let (_, layer) = &entries["l.tar"];
    let (_, manifest) = &entries["manifest.json"];
    let config_json: Value = serde_json::from_slice(config).expect("the config is JSON");
    assert_eq!(
        config_json,
        {
            let mut want = serde_json::json!({
                "architecture": arch,
                "os": os,
                "config": { "Entrypoint": ["/quine"], "User": "65534:65534" },
                "rootfs": { "type": "layers", "diff_ids": [sha256_id(layer)] },
            });
            if let Some(v) = variant {
                want["variant"] = v.into();
            }
            want
        },
        "the config, with the layer's SHA-256 as its diff_id"
    );
    let manifest: Value = serde_json::from_slice(manifest).expect("manifest.json is JSON");
    assert_eq!(
        manifest,
        serde_json::json!([{ "Config": "c.json", "RepoTags": [TAG], "Layers": ["l.tar"] }])
    );
    let layer = untar(layer);
    assert_eq!(layer.len(), 1, "the layer holds one file");
    let (mode, data) = &layer["quine"];
    assert_eq!(*mode, 0o555, "the program's mode in the layer");
    assert!(data == file, "the layer's /quine is not the program file");
    sha256_id(config)
}

/// Builds the quine for `platform` without Docker; returns (file, archive,
/// the image ID dist printed). Caller holds `lock()`.
pub(crate) fn dist_quine(platform: &str) -> (Vec<u8>, Vec<u8>, String) {
    let out = xtask_ok(&[
        "dist",
        "--program",
        "quine",
        "--platform",
        platform,
        "--no-docker",
    ]);
    let dir = root().join("target/dist").join(platform.replace('/', "-"));
    let file = std::fs::read(dir.join("quine")).unwrap();
    let archive = std::fs::read(dir.join("quine-image.tar")).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let id = stdout
        .lines()
        .find_map(|l| {
            l.split_once(&format!("{platform}, image ID "))?
                .1
                .strip_suffix(')')
        })
        .unwrap_or_else(|| panic!("dist printed no image ID for {platform}:\n{stdout}"))
        .to_string();
    (file, archive, id)
}

pub(crate) fn docker_ok(args: &[&str]) -> Vec<u8> {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `docker load` with `archive` on stdin: its stdout.
pub(crate) fn docker_load(archive: &[u8]) -> String {
    let mut child = Command::new("docker")
        .arg("load")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run docker load");
    child.stdin.take().unwrap().write_all(archive).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "docker load failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn image_id(reference: &str) -> String {
    let id = docker_ok(&["image", "inspect", "--format", "{{.Id}}", reference]);
    String::from_utf8_lossy(&id).trim().to_string()
}

/// `gzip -dc` of `bytes`.
pub(crate) fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run gzip");
    let mut stdin = child.stdin.take().unwrap();
    let bytes = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&bytes));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().expect("write to gzip");
    assert!(out.status.success(), "gzip -dc: {}", out.status);
    out.stdout
}

/// `docker load` of `archive` under this test run's own tag `own`, never the
/// quine's shared `hello:quine`, which every checkout's dist loads: the
/// manifest's `"RepoTags":["hello:quine"]` becomes blank space of the same
/// length (a tar checksums its headers, not the data), so docker loads the
/// image untagged and names its ID, which is then tagged `own`. The config
/// and the layer, which make the ID, are the archive's own bytes. Returns
/// the ID docker gave.
pub(crate) fn docker_load_as_own(archive: &[u8], own: &str) -> String {
    let named = format!(r#""RepoTags":["{TAG}"]"#);
    // manifest.json's data: the layer (the quine itself) holds the same text.
    let mut at = 0;
    let data = loop {
        let header = &archive[at..at + 512];
        assert!(
            header.iter().any(|&b| b != 0),
            "no manifest.json in the archive"
        );
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&header[124..136]).trim_matches(|c| c == '\0' || c == ' '),
            8,
        )
        .unwrap();
        if header.starts_with(b"manifest.json\0") {
            break at + 512..at + 512 + size;
        }
        at += 512 + size.div_ceil(512) * 512;
    };
    let at = data.start
        + archive[data]
            .windows(named.len())
            .position(|w| w == named.as_bytes())
            .unwrap_or_else(|| panic!("the archive's manifest has no {named}"));
    let mut untagged = archive.to_vec();
    let blank = format!(r#""RepoTags":[{}]"#, " ".repeat(named.len() - 13));
    untagged[at..at + named.len()].copy_from_slice(blank.as_bytes());
    let loaded = docker_load(&untagged);
    let id = loaded
        .trim()
        .strip_prefix("Loaded image ID: ")
        .unwrap_or_else(|| panic!("docker load printed {loaded:?}, not `Loaded image ID: ...`"))
        .to_string();
    docker_ok(&["tag", &id, own]);
    id
}

pub(crate) fn assert_prints(out: &Output, archive: &[u8], what: &str) {
    assert_output(out, archive, what);
}
