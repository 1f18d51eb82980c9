//! The images as a registry serves them, written without a Docker daemon,
//! byte for byte the same on every run and in every checkout.
//!
//! Per platform: a layer (a tar holding only `hello`, gzipped with zopfli), a
//! config (platform, entrypoint, user, the layer's diff_id; no time stamps) and
//! a manifest. Over all platforms: an image index. Two outputs:
//!
//! - `target/dist/oci/`: an OCI image layout. Its `index.json` points at the
//!   image index (tagged `latest`), which holds one manifest per platform, as
//!   `docker buildx --output type=oci` lays it out, so that
//!   `skopeo copy --all oci:target/dist/oci:latest docker://...` pushes the whole
//!   index (`cargo xtask publish`).
//! - `target/dist/hello-image.tar`: the host platform's image for
//!   `docker load`. Docker 20.10 reads `manifest.json` (config and layer paths,
//!   repository tags) and accepts a gzipped layer; the same archive is also an
//!   OCI layout (`oci-layout`, `index.json`, `blobs/`), as Docker 25 writes it,
//!   and, as there, its `index.json` names the image twice: in full
//!   (`io.containerd.image.name`: `docker.io/library/hello:latest`), which
//!   podman and containerd take as the name, and by its tag alone
//!   (`org.opencontainers.image.ref.name`: `latest`), which is all the OCI
//!   layout's own grammar looks at (`oci-archive:hello-image.tar:latest`).
//!   Podman 4.3 reads that OCI side first; with the tag alone it would name
//!   the image `localhost/latest:latest`.
//!
//! serve (`--program serve`) gets the same two, `target/dist/serve-oci` and
//! `target/dist/serve-image.tar` (its [`Spec`] adds the port and health
//! check). The quine (`--program quine`) gets its own, smaller `docker load`
//! archive, uncompressed and holding only what the program can print itself
//! (`quine`), and its own OCI layout, `target/dist/quine-oci`.
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Error;
use crate::core::files::{mtime_secs, rel, write_atomic};
use crate::core::platform::Platform;
use crate::core::reference::normalized;

pub mod quine;
pub mod tar;

use tar::{Tar, gzip};

pub const LAYOUT: &str = "target/dist/oci";
pub const ARCHIVE: &str = "target/dist/hello-image.tar";
/// The tag the layout's `index.json` gives the image index.
pub const LAYOUT_TAG: &str = "latest";

const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub(crate) const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// The file's mode in the image: read and execute for everyone, writable by
/// no one.
const ENTRY_MODE: u32 = 0o555;
/// nobody:nogroup, as in the Dockerfile.
const USER: &str = "65534:65534";

/// What differs between the programs' images, and where `dist` writes them.
pub struct Spec {
    /// The program's name: its file in target/dist/<os>-<arch>/ and in the
    /// image (`/hello`), the image's entrypoint.
    pub entry: &'static str,
    /// More keys of the config's `config` object (serve's `ExposedPorts` and
    /// `Healthcheck`), besides `Entrypoint` and `User`.
    pub config: serde_json::Map<String, Value>,
    /// The OCI layout of every platform.
    pub layout: &'static str,
    /// The host platform's `docker load` archive.
    pub archive: &'static str,
}

impl Spec {
    /// hello's images: target/dist/oci and target/dist/hello-image.tar.
    pub fn hello() -> Spec {
        Spec {
            entry: "hello",
            config: serde_json::Map::new(),
            layout: LAYOUT,
            archive: ARCHIVE,
        }
    }
}

/// Content-addressed bytes, as the OCI layout and a registry store them.
pub struct Blob {
    pub media_type: &'static str,
    pub bytes: Vec<u8>,
    /// `sha256:<hex>` of `bytes`.
    pub digest: String,
}

impl Blob {
    pub(crate) fn new(media_type: &'static str, bytes: Vec<u8>) -> Blob {
        let digest = sha256(&bytes);
        Blob {
            media_type,
            bytes,
            digest,
        }
    }

    fn json(media_type: &'static str, value: &Value) -> Blob {
        let bytes = serde_json::to_vec(value).expect("a JSON value serialises");
        Blob::new(media_type, bytes)
    }

    /// The OCI descriptor that points at this blob.
    pub(crate) fn descriptor(&self) -> Value {
        json!({
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.bytes.len(),
        })
    }

    /// The hex part of the digest: the blob's file name under `blobs/sha256/`.
    pub fn hex(&self) -> &str {
        self.digest.trim_start_matches("sha256:")
    }
}

/// One platform's image.
pub struct Image {
    pub platform: &'static Platform,
    pub layer: Blob,
    pub config: Blob,
    pub manifest: Blob,
}

impl Image {
    /// What a client downloads for this platform once it has chosen it from the
    /// index: the manifest, the config and the layer.
    pub fn pull_bytes(&self) -> usize {
        self.manifest.bytes.len() + self.config.bytes.len() + self.layer.bytes.len()
    }
}

/// Every platform's image and the index over them.
pub struct Images {
    pub images: Vec<Image>,
    pub index: Blob,
}

/// `sha256:<hex>`.
pub fn sha256(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut s = String::with_capacity(7 + 64);
    s.push_str("sha256:");
    for b in hash.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The `platform` object of the index and the same fields of the config:
/// `os`, `architecture` and, if any, `variant`, from Docker's platform string
/// (`linux/amd64`, `linux/arm/v7`).
fn platform_json(docker: &str) -> serde_json::Map<String, Value> {
    let mut parts = docker.splitn(3, '/');
    let mut map = serde_json::Map::new();
    map.insert("os".into(), parts.next().unwrap_or_default().into());
    map.insert(
        "architecture".into(),
        parts.next().unwrap_or_default().into(),
    );
    if let Some(v) = parts.next() {
        map.insert("variant".into(), v.into());
    }
    map
}

/// The config of an image whose one layer, with digest `diff_id` uncompressed,
/// holds `/entry`: platform, entrypoint, user, the `extra` keys of `config`,
/// nothing else. serde_json writes the keys sorted, which the quine's own copy
/// of this text relies on.
pub(crate) fn config_blob(
    platform: &Platform,
    entry: &str,
    extra: &serde_json::Map<String, Value>,
    diff_id: &str,
) -> Blob {
    let mut config = platform_json(platform.docker);
    let mut run = extra.clone();
    run.insert("Entrypoint".into(), json!([format!("/{entry}")]));
    run.insert("User".into(), USER.into());
    config.insert("config".into(), Value::Object(run));
    config.insert(
        "rootfs".into(),
        json!({ "type": "layers", "diff_ids": [diff_id] }),
    );
    Blob::json(CONFIG_TYPE, &Value::Object(config))
}

/// The manifest of an image with `config` and one `layer`.
pub(crate) fn manifest_blob(config: &Blob, layer: &Blob) -> Blob {
    // No top-level "mediaType": image-spec 1.0 reserves it and 1.1 says SHOULD;
    // the index's descriptor and the registry's Content-Type carry the type, and
    // its 56 bytes are 8% of what a client pulls. With no "manifests" key the
    // document cannot be taken for an index (the CVE-2021-41190 ambiguity).
    Blob::json(
        MANIFEST_TYPE,
        &json!({
            "schemaVersion": 2,
            "config": config.descriptor(),
            "layers": [layer.descriptor()],
        }),
    )
}

/// The image of one platform's file of the program `spec` describes.
pub fn image(
    spec: &Spec,
    platform: &'static Platform,
    file: &[u8],
    mtime: u64,
) -> Result<Image, Error> {
    let mut tar = Tar::new(mtime);
    tar.file(spec.entry, ENTRY_MODE, file)?;
    let tar = tar.finish();
    let diff_id = sha256(&tar);
    let layer = Blob::new(LAYER_TYPE, gzip(&tar)?);

    let config = config_blob(platform, spec.entry, &spec.config, &diff_id);
    let manifest = manifest_blob(&config, &layer);
    Ok(Image {
        platform,
        layer,
        config,
        manifest,
    })
}

fn index_of(manifests: Vec<Value>) -> Blob {
    Blob::json(
        INDEX_TYPE,
        &json!({
            "schemaVersion": 2,
            "mediaType": INDEX_TYPE,
            "manifests": manifests,
        }),
    )
}

/// The images of `files` (each platform with its file of the program `spec`
/// describes), in that order, and the index over them.
pub fn from_files(spec: &Spec, files: &[(&'static Platform, PathBuf)]) -> Result<Images, Error> {
    if files.is_empty() {
        return Err(Error::fail(
            "no platform to package: run `cargo xtask dist` first",
        ));
    }
    let mtime = mtime_secs()?;
    let mut images = Vec::new();
    for (platform, path) in files {
        let bytes = fs::read(path).map_err(|e| {
            Error::fail(format!(
                "read {}: {e}; run `cargo xtask dist` to write it",
                path.display()
            ))
        })?;
        images.push(image(spec, platform, &bytes, mtime)?);
    }
    Ok(indexed(images))
}

/// `images` and the index over them, each manifest with its platform.
pub fn indexed(images: Vec<Image>) -> Images {
    let manifests = images
        .iter()
        .map(|i| {
            let mut d = i.manifest.descriptor();
            d["platform"] = Value::Object(platform_json(i.platform.docker));
            d
        })
        .collect();
    let index = index_of(manifests);
    Images { images, index }
}

/// `index.json` of a layout: one descriptor, for `target`, tagged `tag` (the
/// tag part of a reference: `latest`) and, if given, named `full` (a whole
/// reference, `docker.io/library/hello:latest`), as Docker 25 writes them.
fn layout_index(target: &Blob, tag: &str, full: Option<&str>) -> Vec<u8> {
    let mut d = target.descriptor();
    d["annotations"] = json!({ "org.opencontainers.image.ref.name": tag });
    if let Some(full) = full {
        d["annotations"]["io.containerd.image.name"] = full.into();
    }
    index_of(vec![d]).bytes
}

const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::fail(format!("write {}: {e}", path.display()))
}

/// Writes the OCI layout to `dir`, replacing what was there (no stale blobs).
pub fn write_layout(images: &Images, dir: &Path) -> Result<(), Error> {
    let tmp = dir.with_extension("tmp");
    let err = io_error(&tmp);
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(&err)?;
    }
    let blobs = tmp.join("blobs/sha256");
    fs::create_dir_all(&blobs).map_err(&err)?;
    let mut all = vec![&images.index];
    for i in &images.images {
        all.extend([&i.manifest, &i.config, &i.layer]);
    }
    for blob in all {
        fs::write(blobs.join(blob.hex()), &blob.bytes).map_err(&err)?;
    }
    fs::write(tmp.join("oci-layout"), OCI_LAYOUT).map_err(&err)?;
    fs::write(
        tmp.join("index.json"),
        layout_index(&images.index, LAYOUT_TAG, None),
    )
    .map_err(&err)?;
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(io_error(dir))?;
    }
    fs::rename(&tmp, dir).map_err(io_error(dir))
}

/// The `docker load` archive of one image, tagged `tag`: `docker load` reads
/// its `manifest.json`, podman its `index.json` (see the module's docs).
pub fn archive(image: &Image, tag: &str, mtime: u64) -> Result<Vec<u8>, Error> {
    let blob = |b: &Blob| format!("blobs/sha256/{}", b.hex());
    let manifest_json = serde_json::to_vec(&json!([{
        "Config": blob(&image.config),
        "RepoTags": [tag],
        "Layers": [blob(&image.layer)],
    }]))
    .expect("a JSON value serialises");
    let tag_part = match tag.rsplit_once(':') {
        Some((_, t)) if !t.contains('/') => t,
        _ => LAYOUT_TAG,
    };
    let mut tar = Tar::new(mtime);
    tar.dir("blobs/")?;
    tar.dir("blobs/sha256/")?;
    for b in [&image.config, &image.layer, &image.manifest] {
        tar.file(&blob(b), 0o644, &b.bytes)?;
    }
    tar.file(
        "index.json",
        0o644,
        &layout_index(&image.manifest, tag_part, Some(&normalized(tag))),
    )?;
    tar.file("manifest.json", 0o644, &manifest_json)?;
    tar.file("oci-layout", 0o644, OCI_LAYOUT)?;
    Ok(tar.finish())
}

/// Packages `files` (each platform with its file of the program `spec`
/// describes): writes the OCI layout and the host platform's `docker load`
/// archive tagged `tag`, and prints the sizes a client pulls. Without the
/// host's file an archive from an earlier run would not match the new index:
/// it is removed, and a line says so.
pub fn write(
    spec: &Spec,
    files: &[(&'static Platform, PathBuf)],
    tag: &str,
) -> Result<Images, Error> {
    let images = from_files(spec, files)?;
    let root = crate::root();
    let layout = root.join(spec.layout);
    write_layout(&images, &layout)?;

    let host = Platform::host().map(|p| p.docker);
    let native = images
        .images
        .iter()
        .find(|i| Some(i.platform.docker) == host);
    let out = root.join(spec.archive);
    let host_name = host.unwrap_or(std::env::consts::ARCH);
    match native {
        Some(native) => write_atomic(&out, &archive(native, tag, mtime_secs()?)?)?,
        None if out.exists() => {
            fs::remove_file(&out).map_err(|e| Error::fail(format!("remove {}: {e}", rel(&out))))?;
            println!(
                "removed {}: it holds this machine's platform ({host_name}), which is not in \
                 the new index; build that platform with the same options to write it again",
                spec.archive
            );
        }
        None => println!(
            "note: no {}: it holds this machine's platform ({host_name}), which is not in the index",
            spec.archive
        ),
    }

    for i in &images.images {
        println!(
            "image {}: pull {} bytes = manifest {} + config {} + layer {} ({})",
            i.platform.docker,
            i.pull_bytes(),
            i.manifest.bytes.len(),
            i.config.bytes.len(),
            i.layer.bytes.len(),
            i.manifest.digest
        );
    }
    println!(
        "image index: {} bytes, {} platform(s) ({})",
        images.index.bytes.len(),
        images.images.len(),
        images.index.digest
    );
    println!("wrote {} (tag {LAYOUT_TAG})", rel(&layout));
    if let Some(native) = native {
        println!("wrote {} ({tag}, {})", rel(&out), native.platform.docker);
    }
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_fields_come_from_the_docker_string() {
        assert_eq!(
            Value::Object(platform_json("linux/amd64")),
            json!({ "os": "linux", "architecture": "amd64" })
        );
        assert_eq!(
            Value::Object(platform_json("linux/arm/v7")),
            json!({ "os": "linux", "architecture": "arm", "variant": "v7" })
        );
    }
}
