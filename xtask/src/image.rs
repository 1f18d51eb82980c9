//! `cargo xtask image`: the image as a registry serves it, written without a
//! Docker daemon, byte for byte the same on every run and in every checkout.
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
//!   OCI layout (`oci-layout`, `index.json`, `blobs/`), as Docker 25 writes it.
//!
//! The quine (`cargo xtask dist --program quine`) gets its own, smaller
//! `docker load` archive, uncompressed and holding only what the program can
//! print itself (`quine`), and its own OCI layout, `target/dist/quine-oci`.
use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::platform::{PLATFORMS, Platform};
use crate::{Error, dist};

pub const LAYOUT: &str = "target/dist/oci";
pub const ARCHIVE: &str = "target/dist/hello-image.tar";
/// The tag the layout's `index.json` gives the image index.
pub const LAYOUT_TAG: &str = "latest";

const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// The file's path inside the image, and its mode there: read and execute for
/// everyone, writable by no one.
const ENTRY: &str = "hello";
const ENTRY_MODE: u32 = 0o555;
/// nobody:nogroup, as in the Dockerfile.
const USER: &str = "65534:65534";

const HELP: &str = "\
cargo xtask image [options]

Writes, without a Docker daemon, from the files in target/dist/<os>-<arch>/hello:
  target/dist/oci/             an OCI image layout: one image index (tag latest)
                               with one manifest per platform
  target/dist/hello-image.tar  this machine's platform, for `docker load`
and prints the bytes a client pulls per platform. `cargo xtask dist` runs this
step itself; run it alone to repackage files dist already wrote.

Options:
  --tag NAME[:TAG]   the tag `docker load` gives the image (default hello:latest)
  -h, --help         print this help
";

/// Content-addressed bytes, as the OCI layout and a registry store them.
pub struct Blob {
    pub media_type: &'static str,
    pub bytes: Vec<u8>,
    /// `sha256:<hex>` of `bytes`.
    pub digest: String,
}

impl Blob {
    fn new(media_type: &'static str, bytes: Vec<u8>) -> Blob {
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
    fn descriptor(&self) -> Value {
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

/// One ustar header block for `name`: owner and group 0 with no names, the
/// given mode and mtime, and the size of the data that follows.
fn tar_header(
    name: &str,
    mode: u32,
    size: u64,
    mtime: u64,
    typeflag: u8,
) -> Result<[u8; 512], Error> {
    if name.len() > 100 {
        return Err(Error::fail(format!(
            "tar entry name {name:?} is over 100 bytes; ustar cannot hold it without a prefix"
        )));
    }
    let mut h = [0u8; 512];
    let mut field = |at: usize, len: usize, value: u64, what: &str| {
        // Octal digits, zero-padded, then a NUL: the field's full width.
        let text = format!("{value:0width$o}", width = len - 1);
        if text.len() != len - 1 {
            return Err(Error::fail(format!(
                "tar entry {name}: {what} {value} does not fit the {len}-byte field"
            )));
        }
        h[at..at + len - 1].copy_from_slice(text.as_bytes());
        Ok(())
    };
    field(100, 8, u64::from(mode), "mode")?;
    field(108, 8, 0, "uid")?;
    field(116, 8, 0, "gid")?;
    field(124, 12, size, "size")?;
    field(136, 12, mtime, "mtime (SOURCE_DATE_EPOCH)")?;
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[156] = typeflag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    // uname and gname stay empty: the numeric ids alone say who owns the file.
    // devmajor and devminor stay NUL: POSIX leaves them unspecified for
    // anything but device files, and NULs compress better than "0000000".
    // The checksum is the sum of all header bytes with its own field as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    Ok(h)
}

/// A tar archive builder: regular files and directories, no trailing records
/// beyond the two zero blocks that end every archive.
struct Tar {
    bytes: Vec<u8>,
    mtime: u64,
}

impl Tar {
    fn new(mtime: u64) -> Tar {
        Tar {
            bytes: Vec::new(),
            mtime,
        }
    }

    fn dir(&mut self, name: &str) -> Result<(), Error> {
        let h = tar_header(name, 0o755, 0, self.mtime, b'5')?;
        self.bytes.extend_from_slice(&h);
        Ok(())
    }

    fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> Result<(), Error> {
        let h = tar_header(name, mode, data.len() as u64, self.mtime, b'0')?;
        self.bytes.extend_from_slice(&h);
        self.bytes.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.bytes.resize(self.bytes.len() + pad, 0);
        Ok(())
    }

    fn finish(mut self) -> Vec<u8> {
        self.bytes.resize(self.bytes.len() + 1024, 0);
        self.bytes
    }
}

/// Gzip with zopfli, which beats zlib's level 9 by a byte on this tar (more than
/// its default 15 iterations gain nothing here). The gzip header zopfli writes
/// has no name and mtime 0, so equal input gives equal output. Inputs over
/// 64 KiB (the report's classic images, or a huge message) get one iteration:
/// 15 would take minutes on a megabyte and change the size by a fraction of a
/// percent.
pub fn gzip(data: &[u8]) -> Result<Vec<u8>, Error> {
    let mut options = zopfli::Options::default();
    if data.len() > 64 * 1024 {
        options.iteration_count = std::num::NonZeroU64::MIN;
    }
    let mut out = Vec::new();
    zopfli::compress(options, zopfli::Format::Gzip, data, &mut out)
        .map_err(|e| Error::fail(format!("gzip the layer: {e}")))?;
    Ok(out)
}

/// The seconds every tar entry carries: `SOURCE_DATE_EPOCH`, else 0.
pub fn mtime_secs() -> Result<u64, Error> {
    let t = dist::mtime()?;
    Ok(t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()))
}

/// The config of an image whose one layer, with digest `diff_id` uncompressed,
/// holds `/entry`: platform, entrypoint, user, nothing else. serde_json writes
/// the keys sorted, which the quine's own copy of this text relies on.
fn config_blob(platform: &Platform, entry: &str, diff_id: &str) -> Blob {
    let mut config = platform_json(platform.docker);
    config.insert(
        "config".into(),
        json!({ "Entrypoint": [format!("/{entry}")], "User": USER }),
    );
    config.insert(
        "rootfs".into(),
        json!({ "type": "layers", "diff_ids": [diff_id] }),
    );
    Blob::json(CONFIG_TYPE, &Value::Object(config))
}

/// The manifest of an image with `config` and one `layer`.
fn manifest_blob(config: &Blob, layer: &Blob) -> Blob {
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

/// The image of one platform's `hello` file.
pub fn image(platform: &'static Platform, file: &[u8], mtime: u64) -> Result<Image, Error> {
    let mut tar = Tar::new(mtime);
    tar.file(ENTRY, ENTRY_MODE, file)?;
    let tar = tar.finish();
    let diff_id = sha256(&tar);
    let layer = Blob::new(LAYER_TYPE, gzip(&tar)?);

    let config = config_blob(platform, ENTRY, &diff_id);
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

/// The images of `files` (each platform with its `hello`), in that order, and
/// the index over them.
pub fn build(files: &[(&'static Platform, PathBuf)]) -> Result<Images, Error> {
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
        images.push(image(platform, &bytes, mtime)?);
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

/// `index.json` of a layout: one descriptor, for `target`, tagged `tag`.
fn layout_index(target: &Blob, tag: &str) -> Vec<u8> {
    let mut d = target.descriptor();
    d["annotations"] = json!({ "org.opencontainers.image.ref.name": tag });
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
        layout_index(&images.index, LAYOUT_TAG),
    )
    .map_err(&err)?;
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(io_error(dir))?;
    }
    fs::rename(&tmp, dir).map_err(io_error(dir))
}

/// The `docker load` archive of one image, tagged `tag`.
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
        &layout_index(&image.manifest, tag_part),
    )?;
    tar.file("manifest.json", 0o644, &manifest_json)?;
    tar.file("oci-layout", 0o644, OCI_LAYOUT)?;
    Ok(tar.finish())
}

/// Writes `bytes` to `path` through a temporary file, so a failure leaves the
/// previous file as it was.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let err = io_error(path);
    let tmp = path.with_extension("tmp");
    fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(&err)?;
    fs::rename(&tmp, path).map_err(&err)
}

fn rel(path: &Path) -> String {
    path.strip_prefix(crate::root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Packages `files` (each platform that this run built, with its `hello`):
/// writes the OCI layout and the host platform's `docker load` archive tagged
/// `tag`, and prints the sizes a client pulls.
pub fn write(files: &[(&'static Platform, PathBuf)], tag: &str) -> Result<Images, Error> {
    // (hello's images; the quine's are `write_quine`'s.)
    let images = build(files)?;
    let root = crate::root();
    let layout = root.join(LAYOUT);
    write_layout(&images, &layout)?;

    let host = Platform::host().map(|p| p.docker);
    let native = images
        .images
        .iter()
        .find(|i| Some(i.platform.docker) == host);
    let out = root.join(ARCHIVE);
    match native {
        Some(native) => write_atomic(&out, &archive(native, tag, mtime_secs()?)?)?,
        None => {
            // An archive from an earlier run would not match the new index.
            if out.exists() {
                fs::remove_file(&out)
                    .map_err(|e| Error::fail(format!("remove {}: {e}", rel(&out))))?;
            }
            println!(
                "note: no {ARCHIVE}: it holds this machine's platform ({}), which this run did not build",
                host.unwrap_or(std::env::consts::ARCH)
            );
        }
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

/// The platforms with a file in `target/dist/<os>-<arch>/hello`, in table order.
pub fn built_files() -> Vec<(&'static Platform, PathBuf)> {
    let dist = crate::root().join("target/dist");
    PLATFORMS
        .iter()
        .map(|p| (p, dist.join(p.dir_name()).join("hello")))
        .filter(|(_, path)| path.is_file())
        .collect()
}

pub fn main(args: Vec<OsString>) -> Result<(), Error> {
    let mut tag = dist::DEFAULT_TAG.to_string();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        match arg.to_str() {
            Some("-h" | "--help") => {
                print!("{HELP}");
                return Ok(());
            }
            Some("--tag") => {
                let v = it
                    .next()
                    .ok_or_else(|| Error::usage("--tag needs a value: --tag NAME[:TAG]"))?;
                tag = v.to_string_lossy().into_owned();
                dist::check_tag(&tag).map_err(|why| {
                    Error::usage(format!(
                        "invalid --tag {tag:?}: {why}; use a Docker reference like hello:latest"
                    ))
                })?;
            }
            _ => {
                return Err(Error::usage(format!(
                    "unknown option `{}`: run `cargo xtask image --help` for the options",
                    arg.to_string_lossy()
                )));
            }
        }
    }
    let files = built_files();
    if files.is_empty() {
        return Err(Error::fail(
            "no target/dist/<os>-<arch>/hello to package: run `cargo xtask dist` first",
        ));
    }
    write(&files, &tag)?;
    Ok(())
}

/// The tag the quine's archive gives its image: the program writes the same
/// text into its own output, so it is not an option.
pub const QUINE_TAG: &str = "hello:quine";
/// The host platform's quine archive (each platform's is also in
/// target/dist/<os>-<arch>/quine-image.tar).
pub const QUINE_ARCHIVE: &str = "target/dist/quine-image.tar";
/// The quine images as an OCI layout, for `cargo xtask publish --program quine`.
pub const QUINE_LAYOUT: &str = "target/dist/quine-oci";
/// Inside the quine's archive: the config's and the layer's names, short
/// because the program carries each of them twice (tar header and manifest).
const QUINE_CONFIG: &str = "c.json";
const QUINE_LAYER: &str = "l.tar";

/// One platform's quine image.
pub struct Quine {
    /// The `docker load` archive: byte for byte what the program prints.
    pub archive: Vec<u8>,
    /// The registry's form (config, gzipped layer, manifest), for the OCI layout.
    pub image: Image,
}

/// The quine's image for `file` (its program file): the uncompressed
/// docker-archive the program itself prints, written here from the file.
///
/// Everything the program can reproduce and nothing else: mtime 0 (not
/// SOURCE_DATE_EPOCH, which the program cannot know), three regular files
/// (no directories, no OCI index), mode 0444, and the program as `quine`, mode
/// 0555, in the layer. Both tars end with the two zero blocks.
pub fn quine(platform: &'static Platform, file: &[u8]) -> Result<Quine, Error> {
    let mut layer = Tar::new(0);
    layer.file("quine", 0o555, file)?;
    let layer_tar = layer.finish();
    let config = config_blob(platform, "quine", &sha256(&layer_tar));
    let manifest_json = serde_json::to_vec(&json!([{
        "Config": QUINE_CONFIG,
        "RepoTags": [QUINE_TAG],
        "Layers": [QUINE_LAYER],
    }]))
    .expect("a JSON value serialises");
    let mut tar = Tar::new(0);
    tar.file(QUINE_CONFIG, 0o444, &config.bytes)?;
    tar.file(QUINE_LAYER, 0o444, &layer_tar)?;
    tar.file("manifest.json", 0o444, &manifest_json)?;
    let archive = tar.finish();

    let layer = Blob::new(LAYER_TYPE, gzip(&layer_tar)?);
    let manifest = manifest_blob(&config, &layer);
    Ok(Quine {
        archive,
        image: Image {
            platform,
            layer,
            config,
            manifest,
        },
    })
}

/// The quine's archive for `platform`: target/dist/<os>-<arch>/quine-image.tar.
pub fn quine_archive_path(platform: &Platform) -> PathBuf {
    crate::root()
        .join("target/dist")
        .join(platform.dir_name())
        .join("quine-image.tar")
}

/// Writes each platform's quine archive (and the host's to QUINE_ARCHIVE) and
/// the OCI layout of them all to QUINE_LAYOUT.
pub fn write_quine(quines: Vec<Quine>) -> Result<(), Error> {
    let root = crate::root();
    let host = Platform::host().map(|p| p.docker);
    for q in &quines {
        let path = quine_archive_path(q.image.platform);
        write_atomic(&path, &q.archive)?;
        println!(
            "wrote {} ({} bytes, {QUINE_TAG}, {}, image ID {})",
            rel(&path),
            q.archive.len(),
            q.image.platform.docker,
            q.image.config.digest
        );
        if Some(q.image.platform.docker) == host {
            let out = root.join(QUINE_ARCHIVE);
            write_atomic(&out, &q.archive)?;
            println!("wrote {} (this machine's platform)", rel(&out));
        }
    }
    let images: Vec<Image> = quines.into_iter().map(|q| q.image).collect();
    let manifests = images
        .iter()
        .map(|i| {
            let mut d = i.manifest.descriptor();
            d["platform"] = Value::Object(platform_json(i.platform.docker));
            d
        })
        .collect();
    let images = Images {
        images,
        index: index_of(manifests),
    };
    let layout = root.join(QUINE_LAYOUT);
    write_layout(&images, &layout)?;
    println!(
        "wrote {} (tag {LAYOUT_TAG}, index {}): cargo xtask publish --program quine REF",
        rel(&layout),
        images.index.digest
    );
    Ok(())
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

    #[test]
    fn tar_header_fields_and_checksum() {
        let h = tar_header("hello", 0o555, 120, 0, b'0').unwrap();
        assert_eq!(&h[..6], b"hello\0");
        assert_eq!(&h[100..108], b"0000555\0");
        assert_eq!(&h[124..136], b"00000000170\0");
        assert_eq!(&h[257..265], b"ustar\x0000");
        let mut blanked = h;
        blanked[148..156].copy_from_slice(b"        ");
        let sum: u32 = blanked.iter().map(|&b| u32::from(b)).sum();
        assert_eq!(&h[148..156], format!("{sum:06o}\0 ").as_bytes());
        assert!(tar_header(&"x".repeat(101), 0o644, 0, 0, b'0').is_err());
        assert!(tar_header("hello", 0o555, 0, 1 << 33, b'0').is_err());
    }
}
