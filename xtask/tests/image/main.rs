//! The image without a Docker daemon: `cargo xtask image` (run by `dist`) and
//! `cargo xtask publish`. The OCI layout's bytes, their reproducibility, and
//! what Docker 20.10, skopeo and a real registry make of them.
#[path = "../common/mod.rs"]
mod common;

use common::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The most a client may download for linux/amd64 once it has the index:
/// manifest + config + layer, with the default message.
const PULL_BUDGET_AMD64: usize = 700;

const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fn layout_dir() -> PathBuf {
    root().join("target/dist/oci")
}

fn archive_path() -> PathBuf {
    root().join("target/dist/hello-image.tar")
}

fn sha256(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn json(bytes: &[u8], what: &str) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{what} is not JSON: {e}"))
}

/// A blob of the layout, checked against the descriptor that points at it.
struct Blob {
    digest: String,
    bytes: Vec<u8>,
}

fn blob(descriptor: &Value, media_type: &str) -> Blob {
    assert_eq!(
        descriptor["mediaType"], media_type,
        "descriptor {descriptor}"
    );
    let digest = descriptor["digest"].as_str().expect("a digest").to_string();
    let path = layout_dir()
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    let bytes = fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert_eq!(
        sha256(&bytes),
        digest,
        "{} has another digest",
        path.display()
    );
    assert_eq!(
        descriptor["size"].as_u64(),
        Some(bytes.len() as u64),
        "size of {digest}"
    );
    Blob { digest, bytes }
}

/// One platform's image, as the layout's index lists it.
struct Image {
    /// `linux/amd64`, `linux/arm/v7`.
    platform: String,
    architecture: String,
    variant: Option<String>,
    manifest: Blob,
    config: Blob,
    layer: Blob,
}

impl Image {
    fn pull_bytes(&self) -> usize {
        self.manifest.bytes.len() + self.config.bytes.len() + self.layer.bytes.len()
    }

    /// `target/dist/<os>-<arch>[-<variant>]/hello`.
    fn dist_file(&self) -> PathBuf {
        root()
            .join("target/dist")
            .join(self.platform.replace('/', "-"))
            .join("hello")
    }
}

struct Layout {
    index: Blob,
    images: Vec<Image>,
}

/// Reads target/dist/oci and checks every digest and size on the way.
fn read_layout() -> Layout {
    let dir = layout_dir();
    assert_eq!(
        fs::read(dir.join("oci-layout")).expect("read target/dist/oci/oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#
    );
    let top = json(
        &fs::read(dir.join("index.json")).expect("read target/dist/oci/index.json"),
        "index.json",
    );
    assert_eq!(top["schemaVersion"], 2);
    let entries = top["manifests"].as_array().expect("index.json manifests");
    assert_eq!(entries.len(), 1, "index.json points at one image index");
    assert_eq!(
        entries[0]["annotations"],
        json!({ "org.opencontainers.image.ref.name": "latest" })
    );
    let index = blob(&entries[0], INDEX_TYPE);
    let index_json = json(&index.bytes, "the image index");
    assert_eq!(index_json["schemaVersion"], 2);
    assert_eq!(index_json["mediaType"], INDEX_TYPE);

    let mut images = Vec::new();
    for entry in index_json["manifests"].as_array().expect("index manifests") {
        let p = &entry["platform"];
        let os = p["os"].as_str().expect("platform.os");
        let architecture = p["architecture"].as_str().expect("platform.architecture");
        let variant = p["variant"].as_str().map(str::to_string);
        let mut platform = format!("{os}/{architecture}");
        if let Some(v) = &variant {
            platform.push_str(&format!("/{v}"));
        }
        let manifest = blob(entry, MANIFEST_TYPE);
        let m = json(&manifest.bytes, "a manifest");
        assert_eq!(m["schemaVersion"], 2, "{platform} manifest");
        let layers = m["layers"].as_array().expect("manifest layers");
        assert_eq!(layers.len(), 1, "{platform}: one layer");
        let config = blob(&m["config"], CONFIG_TYPE);
        let layer = blob(&layers[0], LAYER_TYPE);
        let c = json(&config.bytes, "a config");
        assert_eq!(c["os"], os, "{platform} config os");
        assert_eq!(c["architecture"], architecture, "{platform} config");
        assert_eq!(c["variant"].as_str(), variant.as_deref(), "{platform}");
        images.push(Image {
            platform,
            architecture: architecture.to_string(),
            variant,
            manifest,
            config,
            layer,
        });
    }
    assert!(!images.is_empty(), "the image index lists no manifest");
    // Nothing else in blobs/: no stale blob from an earlier run.
    let mut want: Vec<String> = vec![index.digest.clone()];
    for i in &images {
        want.extend([&i.manifest, &i.config, &i.layer].map(|b| b.digest.clone()));
    }
    want.sort();
    want.dedup();
    let mut have: Vec<String> = fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .map(|e| format!("sha256:{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    have.sort();
    assert_eq!(have, want, "target/dist/oci/blobs/sha256 holds other blobs");
    Layout { index, images }
}

fn host_platform() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "linux/amd64",
        "aarch64" => "linux/arm64",
        other => panic!("no Docker platform known for a {other} host in this test"),
    }
}

/// gunzips with the system's gzip, an implementation other than ours.
fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .args(["-d", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run gzip -d");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "gzip -d failed on the layer");
    out.stdout
}

/// One entry of a ustar archive.
struct Entry {
    name: String,
    mode: u64,
    uid: u64,
    gid: u64,
    /// uname and gname, run together.
    names: String,
    mtime: u64,
    typeflag: u8,
    data: Vec<u8>,
}

fn octal(field: &[u8]) -> u64 {
    let s = String::from_utf8_lossy(field);
    let s = s.trim_matches(|c| c == '\0' || c == ' ');
    u64::from_str_radix(s, 8).unwrap_or_else(|_| panic!("tar field {s:?} is not octal"))
}

fn untar(tar: &[u8]) -> Vec<Entry> {
    assert_eq!(tar.len() % 512, 0, "a tar is whole 512-byte blocks");
    let mut entries = Vec::new();
    let mut at = 0;
    loop {
        let h = &tar[at..at + 512];
        if h.iter().all(|&b| b == 0) {
            assert!(
                tar[at..].len() == 1024 && tar[at..].iter().all(|&b| b == 0),
                "the archive ends with exactly two zero blocks"
            );
            break;
        }
        let mut sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
        sum -= h[148..156].iter().map(|&b| u64::from(b)).sum::<u64>();
        sum += 8 * u64::from(b' ');
        assert_eq!(octal(&h[148..156]), sum, "tar header checksum");
        assert_eq!(&h[257..265], b"ustar\x0000", "a ustar header");
        let cstr =
            |f: &[u8]| String::from_utf8_lossy(f.split(|&b| b == 0).next().unwrap()).into_owned();
        let size = octal(&h[124..136]) as usize;
        let data = tar[at + 512..at + 512 + size].to_vec();
        entries.push(Entry {
            name: cstr(&h[..100]),
            mode: octal(&h[100..108]),
            uid: octal(&h[108..116]),
            gid: octal(&h[116..124]),
            names: cstr(&h[265..297]) + &cstr(&h[297..329]),
            mtime: octal(&h[136..148]),
            typeflag: h[156],
            data,
        });
        at += 512 + size.div_ceil(512) * 512;
    }
    entries
}

/// `cargo xtask ARGS` without SOURCE_DATE_EPOCH, as the README's figures and
/// the pull budget assume: mtime 0. (A present-day epoch in the tar header
/// costs the gzipped layer about ten bytes.) Must succeed; caller holds `lock()`.
fn xtask_by_default(args: &[&str]) -> std::process::Output {
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
fn dist_as_by_default() {
    xtask_by_default(&["dist", "--no-docker", "--platform", "all"]);
}

fn want_mtime() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH").map_or(0, |s| s.parse().unwrap())
}

const SKOPEO_INSTALL: &str = "apt-get install -y skopeo";

fn skopeo(args: &[&str]) -> std::process::Output {
    Command::new("skopeo")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run skopeo ({e}): install it with `apt-get install -y skopeo`"))
}

#[test]
fn layout_holds_every_platform_built_with_minimal_config() {
    let _g = lock();
    // A dist for this machine's platform alone: the index holds that one image.
    xtask_ok(&["dist", "--no-docker"]);
    let only_host: Vec<String> = read_layout()
        .images
        .iter()
        .map(|i| i.platform.clone())
        .collect();
    assert_eq!(
        only_host,
        [host_platform()],
        "the index after `dist` for this platform only"
    );
    // Every platform: one image each, for all nine platforms Docker's own
    // `hello-world` ships for Linux.
    xtask_ok(&["dist", "--no-docker", "--platform", "all"]);
    let layout = read_layout();
    let mut platforms: Vec<&str> = layout.images.iter().map(|i| i.platform.as_str()).collect();
    platforms.sort_unstable();
    assert_eq!(
        platforms,
        [
            "linux/386",
            "linux/amd64",
            "linux/arm/v5",
            "linux/arm/v6",
            "linux/arm/v7",
            "linux/arm64",
            "linux/ppc64le",
            "linux/riscv64",
            "linux/s390x",
        ],
        "the index after `dist --platform all`"
    );
    let built: Vec<String> = fs::read_dir(root().join("target/dist"))
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            e.path()
                .join("hello")
                .is_file()
                .then(|| e.file_name().to_string_lossy().replace('-', "/"))
        })
        .collect();
    for p in &built {
        assert!(
            layout.images.iter().any(|i| &i.platform == p),
            "target/dist has {p} but the index does not"
        );
    }
    assert!(
        layout.images.iter().any(|i| i.platform == host_platform()),
        "the index has no {} image",
        host_platform()
    );
    for image in &layout.images {
        let file = fs::read(image.dist_file()).unwrap_or_else(|e| {
            panic!(
                "{}: read {}: {e}",
                image.platform,
                image.dist_file().display()
            )
        });
        // The layer: exactly the file, root-owned, 0555, fixed mtime, no names.
        assert_eq!(&image.layer.bytes[..2], b"\x1f\x8b", "a gzip layer");
        let tar = gunzip(&image.layer.bytes);
        let entries = untar(&tar);
        assert_eq!(
            entries.len(),
            1,
            "{}: the layer holds one entry",
            image.platform
        );
        let e = &entries[0];
        assert_eq!(e.name, "hello");
        assert_eq!(e.typeflag, b'0', "a regular file");
        assert_eq!(e.mode, 0o555);
        assert_eq!((e.uid, e.gid), (0, 0));
        assert_eq!(e.names, "", "no user or group names");
        assert_eq!(e.mtime, want_mtime(), "mtime: SOURCE_DATE_EPOCH, else 0");
        assert!(
            e.data == file,
            "{}: the layer's file differs from {}",
            image.platform,
            image.dist_file().display()
        );
        // The config: exactly these fields, nothing random or dated.
        let mut want = json!({
            "architecture": image.architecture,
            "os": "linux",
            "config": { "Entrypoint": ["/hello"], "User": "65534:65534" },
            "rootfs": { "type": "layers", "diff_ids": [sha256(&tar)] },
        });
        if let Some(v) = &image.variant {
            want["variant"] = json!(v);
        }
        assert_eq!(
            json(&image.config.bytes, "config"),
            want,
            "{} config",
            image.platform
        );
    }
}

#[test]
fn image_prints_the_pull_figures() {
    let _g = lock();
    dist_as_by_default();
    let out = xtask_by_default(&["image"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let layout = read_layout();
    for i in &layout.images {
        let line = format!(
            "image {}: pull {} bytes = manifest {} + config {} + layer {} ({})",
            i.platform,
            i.pull_bytes(),
            i.manifest.bytes.len(),
            i.config.bytes.len(),
            i.layer.bytes.len(),
            i.manifest.digest
        );
        assert!(
            stdout.contains(&line),
            "`cargo xtask image` does not print {line:?}:\n{stdout}"
        );
        if i.platform == "linux/amd64" {
            assert!(
                i.pull_bytes() <= PULL_BUDGET_AMD64,
                "linux/amd64 pulls {} bytes, over the budget of {PULL_BUDGET_AMD64}",
                i.pull_bytes()
            );
        }
    }
    let line = format!(
        "image index: {} bytes, {} platform(s) ({})",
        layout.index.bytes.len(),
        layout.images.len(),
        layout.index.digest
    );
    assert!(
        stdout.contains(&line),
        "`cargo xtask image` does not print {line:?}:\n{stdout}"
    );
}

#[test]
fn readme_pull_sizes_match_measured() {
    let _g = lock();
    dist_as_by_default();
    let layout = read_layout();
    let mut expected = String::from(
        "| platform | manifest | config | layer | pull |\n|---|---:|---:|---:|---:|\n",
    );
    for i in &layout.images {
        expected.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            i.platform,
            i.manifest.bytes.len(),
            i.config.bytes.len(),
            i.layer.bytes.len(),
            i.pull_bytes()
        ));
    }
    expected.push_str(&format!(
        "\nThe image index, which a client fetches first: {} bytes.\n",
        layout.index.bytes.len()
    ));
    assert_page_block("docs/pull-size.md", "pull", &expected);
}

/// Every output file's bytes, by path under target/dist.
fn outputs(dist: &Path) -> BTreeMap<String, Vec<u8>> {
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

fn assert_same(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>, what: &str) {
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

#[test]
fn two_runs_give_the_same_bytes() {
    let _g = lock();
    xtask_ok(&["dist", "--no-docker", "--platform", "all"]);
    let dist = root().join("target/dist");
    let first = outputs(&dist);
    fs::remove_dir_all(&dist).unwrap();
    xtask_ok(&["dist", "--no-docker", "--platform", "all"]);
    assert_same(&first, &outputs(&dist), "two cargo xtask dist runs");
    xtask_ok(&["image"]);
    assert_same(&first, &outputs(&dist), "dist, then cargo xtask image");
}

/// The working tree (tracked and untracked files that git does not ignore)
/// copied into a fresh directory and built there from scratch, xtask included,
/// gives the same digests.
#[test]
fn another_checkout_directory_gives_the_same_digests() {
    let _g = lock();
    xtask_ok(&["dist", "--no-docker"]);
    let here = outputs(&root().join("target/dist"));

    let copy = std::env::temp_dir().join(format!("hello-image-copy-{}", std::process::id()));
    let _ = fs::remove_dir_all(&copy);
    let ls = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root())
        .output()
        .expect("run git ls-files");
    assert!(
        ls.status.success(),
        "git ls-files failed: this test needs the git checkout"
    );
    for name in ls.stdout.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let from = root().join(&name);
        if !from.is_file() {
            continue; // deleted in the working tree
        }
        let to = copy.join(&name);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(&from, &to).unwrap_or_else(|e| panic!("copy {name}: {e}"));
    }
    let out = Command::new(env!("CARGO"))
        .args(["xtask", "dist", "--no-docker"])
        .current_dir(&copy)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo xtask dist in {} failed:\n{}",
        copy.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let there = outputs(&copy.join("target/dist"));
    fs::remove_dir_all(&copy).unwrap();
    assert_same(&here, &there, "the same tree built in another directory");
}

#[test]
fn skopeo_reads_the_layout_and_the_archive() {
    if !tool_available(
        "skopeo_reads_the_layout_and_the_archive",
        "skopeo",
        SKOPEO_INSTALL,
    ) {
        return;
    }
    let _g = lock();
    xtask_ok(&["dist", "--no-docker", "--platform", "all"]);
    let layout = read_layout();
    let host = layout
        .images
        .iter()
        .find(|i| i.platform == host_platform())
        .expect("the host's image");
    let oci = format!("oci:{}", layout_dir().display());
    let archive = format!("oci-archive:{}", archive_path().display());
    for (reference, digest) in [
        (&oci, &layout.index.digest),
        (&archive, &host.manifest.digest),
    ] {
        let out = skopeo(&["inspect", reference]);
        assert!(
            out.status.success(),
            "skopeo inspect {reference}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = json(&out.stdout, "skopeo inspect");
        assert_eq!(v["Digest"], digest.as_str(), "skopeo inspect {reference}");
        assert_eq!(
            v["Layers"],
            json!([host.layer.digest]),
            "skopeo inspect {reference}"
        );
        assert_eq!(
            v["Architecture"], host.architecture,
            "skopeo inspect {reference}"
        );
    }
    // The archive's docker-archive part: manifest.json, as `docker load` reads it.
    let tar = fs::read(archive_path()).unwrap();
    let entries = untar(&tar);
    let get = |name: &str| {
        entries
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("hello-image.tar has no {name}"))
    };
    let m = json(&get("manifest.json").data, "manifest.json");
    let blob_path = |b: &Blob| format!("blobs/sha256/{}", b.digest.trim_start_matches("sha256:"));
    assert_eq!(
        m,
        json!([{
            "Config": blob_path(&host.config),
            "Layers": [blob_path(&host.layer)],
            "RepoTags": ["hello:latest"],
        }])
    );
    assert!(get(&blob_path(&host.config)).data == host.config.bytes);
    assert!(get(&blob_path(&host.layer)).data == host.layer.bytes);
    for e in &entries {
        assert_eq!((e.uid, e.gid, e.mtime), (0, 0, want_mtime()), "{}", e.name);
    }
}

/// `docker <args>` that must succeed; returns stdout.
fn docker_ok(args: &[&str]) -> Vec<u8> {
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
fn qemu_name(architecture: &str) -> String {
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
fn runs_here(test: &str, image: &Image) -> bool {
    // x86-64 kernels run 386 programs themselves.
    image.platform == host_platform()
        || (host_platform() == "linux/amd64" && image.platform == "linux/386")
        || binfmt_available(
            &format!("{test} ({})", image.platform),
            &qemu_name(&image.architecture),
            &image.dist_file(),
        )
}

fn run_in_docker(reference: &str, platform: Option<&str>) -> std::process::Output {
    let mut args = vec!["run", "--rm", "--pull", "never", "--network", "none"];
    if let Some(p) = platform {
        args.extend(["--platform", p]);
    }
    args.push(reference);
    docker(&args)
}

fn assert_prints_message(out: &std::process::Output, what: &str) {
    assert_output(out, MESSAGE, what);
}

#[test]
fn docker_loads_the_archive_and_runs_every_platform() {
    let test = "docker_loads_the_archive_and_runs_every_platform";
    if !docker_available(test) || !tool_available(test, "skopeo", SKOPEO_INSTALL) {
        return;
    }
    let _g = lock();
    xtask_ok(&["dist", "--no-docker", "--platform", "all"]);
    let layout = read_layout();
    let host = layout
        .images
        .iter()
        .find(|i| i.platform == host_platform())
        .unwrap();

    let out = docker_ok(&["load", "-i", archive_path().to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&out).contains("hello:latest"),
        "docker load: {}",
        String::from_utf8_lossy(&out)
    );
    let id = docker_ok(&["image", "inspect", "--format", "{{.Id}}", "hello:latest"]);
    assert_eq!(
        String::from_utf8_lossy(&id).trim(),
        host.config.digest,
        "hello:latest after docker load (someone may have rebuilt it meanwhile: rerun)"
    );
    assert_prints_message(
        &run_in_docker("hello:latest", None),
        "docker run hello:latest",
    );

    // Every platform, through skopeo into the daemon, then run where possible.
    let tag = format!("hello-image-test-{}", std::process::id());
    for image in &layout.images {
        let reference = format!("{tag}:{}", image.platform.replace('/', "-"));
        let mut args = vec!["copy", "--override-arch", image.architecture.as_str()];
        if let Some(v) = &image.variant {
            args.extend(["--override-variant", v.as_str()]);
        }
        let src = format!("oci:{}:latest", layout_dir().display());
        let dst = format!("docker-daemon:{reference}");
        args.extend([src.as_str(), dst.as_str()]);
        let out = skopeo(&args);
        assert!(
            out.status.success(),
            "skopeo {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        let inspect = docker_ok(&["image", "inspect", "--format", "{{json .}}", &reference]);
        let v = json(&inspect, "docker image inspect");
        assert_eq!(v["Id"], image.config.digest.as_str(), "{reference}");
        assert_eq!(
            v["Architecture"],
            image.architecture.as_str(),
            "{reference}"
        );
        if runs_here(test, image) {
            let out = run_in_docker(&reference, Some(&image.platform));
            assert_prints_message(&out, &format!("docker run {reference}"));
        }
        docker(&["rmi", &reference]);
    }
}

/// What the registry serves at `path`: checks status 200, the media type
/// and the length it declares, and that the bytes are `want`'s.
fn assert_serves(registry: &Registry, path: &str, media_type: &str, want: &Blob) {
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

#[test]
fn publish_to_a_registry_then_pull_and_run() {
    let test = "publish_to_a_registry_then_pull_and_run";
    if !docker_available(test)
        || !tool_available(test, "skopeo", SKOPEO_INSTALL)
        || !tool_available(
            test,
            "docker-registry",
            "apt-get install -y docker-registry",
        )
    {
        return;
    }
    let _g = lock();
    dist_as_by_default();
    let layout = read_layout();
    let registry = Registry::start();
    let reference = format!("127.0.0.1:{}/hello:latest", registry.port);

    let out = xtask_ok(&["publish", &reference]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "published {reference}: index {}",
            layout.index.digest
        )),
        "publish output:\n{stdout}"
    );

    // The tag serves our index, byte for byte, as an OCI index.
    assert_serves(
        &registry,
        "/v2/hello/manifests/latest",
        INDEX_TYPE,
        &layout.index,
    );

    // Remove every local image of the index (every tag of each config), so
    // that each pull downloads for real.
    for i in &layout.images {
        docker(&["rmi", "-f", &i.config.digest]);
    }
    // The host first, with no --platform: the daemon picks it from the index.
    let mut order: Vec<&Image> = layout.images.iter().collect();
    order.sort_by_key(|i| i.platform != host_platform());
    for image in order {
        let is_host = image.platform == host_platform();
        let from = registry.log().len();
        let mut args = vec!["pull"];
        if !is_host {
            args.extend(["--platform", image.platform.as_str()]);
        }
        args.push(&reference);
        docker_ok(&args);
        let id = docker_ok(&["image", "inspect", "--format", "{{.Id}}", &reference]);
        assert_eq!(
            String::from_utf8_lossy(&id).trim(),
            image.config.digest,
            "docker {}",
            args.join(" ")
        );

        // What the daemon downloaded, as the registry logged it: the config and
        // the layer. (Docker 20.10 keeps manifests it has seen in its content
        // store, so on a second run it may not GET the manifest again.)
        let gets = registry.gets_since(from);
        for b in [&image.config, &image.layer] {
            let p = format!("/v2/hello/blobs/{}", b.digest);
            assert!(
                gets.contains(&(p.clone(), b.bytes.len())),
                "docker {} did not GET {p} ({} bytes); the registry logged {gets:?}. \
                 Is the layer still in the daemon under another image?",
                args.join(" "),
                b.bytes.len()
            );
        }
        // What the registry serves for this platform, and its total.
        assert_serves(
            &registry,
            &format!("/v2/hello/manifests/{}", image.manifest.digest),
            MANIFEST_TYPE,
            &image.manifest,
        );
        assert_serves(
            &registry,
            &format!("/v2/hello/blobs/{}", image.config.digest),
            CONFIG_TYPE,
            &image.config,
        );
        assert_serves(
            &registry,
            &format!("/v2/hello/blobs/{}", image.layer.digest),
            LAYER_TYPE,
            &image.layer,
        );
        let pulled = image.pull_bytes();
        if image.platform == "linux/amd64" {
            assert!(
                pulled <= PULL_BUDGET_AMD64,
                "a linux/amd64 pull downloads {pulled} bytes besides the index, over {PULL_BUDGET_AMD64}"
            );
        }
        if runs_here(test, image) {
            let platform = (!is_host).then_some(image.platform.as_str());
            let out = run_in_docker(&reference, platform);
            assert_prints_message(
                &out,
                &format!("docker run {reference} ({})", image.platform),
            );
        }
        docker(&["rmi", "-f", &image.config.digest]);
    }
    if !layout.images.iter().any(|i| i.platform == "linux/arm64") {
        eprintln!(
            "note: the index has no linux/arm64 image, so no `docker pull --platform linux/arm64`"
        );
    }
}

/// The plain `docker build` path: the Dockerfile built twice from the same
/// target/dist/hello gives the same layer, thanks to the fixed mtime.
#[test]
fn dockerfile_builds_give_the_same_diff_id() {
    if !docker_available("dockerfile_builds_give_the_same_diff_id") {
        return;
    }
    let _g = lock();
    xtask_ok(&["dist", "--no-docker"]);
    let tag = format!("hello-image-test-{}", std::process::id());
    let mut layers = Vec::new();
    for n in ["a", "b"] {
        let t = format!("{tag}:build-{n}");
        let out = Command::new("docker")
            .args(["build", "--no-cache", "-q", "-t", &t, "."])
            .current_dir(root())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker build: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        layers.push(docker_ok(&[
            "image",
            "inspect",
            "--format",
            "{{json .RootFS.Layers}}",
            &t,
        ]));
        docker(&["rmi", &t]);
    }
    assert_eq!(
        String::from_utf8_lossy(&layers[0]),
        String::from_utf8_lossy(&layers[1]),
        "two docker builds of the same target/dist/hello gave different layers"
    );
}
