//! The OCI layout and archive `dist` writes, read back here: blobs, the
//! index, manifests and configs, and the layer's gzip and tar.

use super::*;

/// The most a client may download for linux/amd64 once it has the index:
/// manifest + config + layer, with the default message.
pub(crate) const PULL_BUDGET_AMD64: usize = 700;

pub(crate) const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub(crate) const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

pub(crate) fn layout_dir() -> PathBuf {
    root().join("target/dist/oci")
}

pub(crate) fn archive_path() -> PathBuf {
    root().join("target/dist/hello-image.tar")
}

pub(crate) fn sha256(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

pub(crate) fn json(bytes: &[u8], what: &str) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{what} is not JSON: {e}"))
}

/// A blob of the layout, checked against the descriptor that points at it.
pub(crate) struct Blob {
    pub(crate) digest: String,
    pub(crate) bytes: Vec<u8>,
}

pub(crate) fn blob(dir: &Path, descriptor: &Value, media_type: &str) -> Blob {
    assert_eq!(
        descriptor["mediaType"], media_type,
        "descriptor {descriptor}"
    );
    let digest = descriptor["digest"].as_str().expect("a digest").to_string();
    let path = dir
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
pub(crate) struct Image {
    /// `linux/amd64`, `linux/arm/v7`.
    pub(crate) platform: String,
    pub(crate) architecture: String,
    pub(crate) variant: Option<String>,
    pub(crate) manifest: Blob,
    pub(crate) config: Blob,
    pub(crate) layer: Blob,
    /// The program's name: `hello`, `serve`.
    pub(crate) program: &'static str,
}

impl Image {
    pub(crate) fn pull_bytes(&self) -> usize {
        self.manifest.bytes.len() + self.config.bytes.len() + self.layer.bytes.len()
    }

    /// `target/dist/<os>-<arch>[-<variant>]/<program>`.
    pub(crate) fn dist_file(&self) -> PathBuf {
        root()
            .join("target/dist")
            .join(self.platform.replace('/', "-"))
            .join(self.program)
    }
}

pub(crate) struct Layout {
    pub(crate) index: Blob,
    pub(crate) images: Vec<Image>,
}

/// Reads target/dist/oci and checks every digest and size on the way.
pub(crate) fn read_layout() -> Layout {
    read_layout_of(&layout_dir(), "hello")
}

/// Reads `program`'s OCI layout in `dir`, as [`read_layout`] does hello's.
pub(crate) fn read_layout_of(dir: &Path, program: &'static str) -> Layout {
    let dir = dir.to_path_buf();
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
    let index = blob(&dir, &entries[0], INDEX_TYPE);
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
        let manifest = blob(&dir, entry, MANIFEST_TYPE);
        let m = json(&manifest.bytes, "a manifest");
        assert_eq!(m["schemaVersion"], 2, "{platform} manifest");
        let layers = m["layers"].as_array().expect("manifest layers");
        assert_eq!(layers.len(), 1, "{platform}: one layer");
        let config = blob(&dir, &m["config"], CONFIG_TYPE);
        let layer = blob(&dir, &layers[0], LAYER_TYPE);
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
            program,
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
    assert_eq!(
        have,
        want,
        "{}/blobs/sha256 holds other blobs",
        dir.display()
    );
    Layout { index, images }
}

pub(crate) fn host_platform() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "linux/amd64",
        "aarch64" => "linux/arm64",
        other => panic!("no Docker platform known for a {other} host in this test"),
    }
}

/// gunzips with the system's gzip, an implementation other than ours.
pub(crate) fn gunzip(bytes: &[u8]) -> Vec<u8> {
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
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) mode: u64,
    pub(crate) uid: u64,
    pub(crate) gid: u64,
    /// uname and gname, run together.
    pub(crate) names: String,
    pub(crate) mtime: u64,
    pub(crate) typeflag: u8,
    pub(crate) data: Vec<u8>,
}

pub(crate) fn octal(field: &[u8]) -> u64 {
    let s = String::from_utf8_lossy(field);
    let s = s.trim_matches(|c| c == '\0' || c == ' ');
    u64::from_str_radix(s, 8).unwrap_or_else(|_| panic!("tar field {s:?} is not octal"))
}

pub(crate) fn untar(tar: &[u8]) -> Vec<Entry> {
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
