//! The quine's images: the uncompressed `docker load` archive the program
//! prints of itself, written here from its file, and their OCI layout.
use std::path::PathBuf;

use serde_json::json;

use super::tar::{Tar, gzip};
use super::{
    Blob, Image, LAYER_TYPE, LAYOUT_TAG, config_blob, indexed, manifest_blob, sha256, write_layout,
};
use crate::Error;
use crate::core::files::{rel, write_atomic};
use crate::core::platform::Platform;

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
    let config = config_blob(
        platform,
        "quine",
        &serde_json::Map::new(),
        &sha256(&layer_tar),
    );
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
    let images = indexed(quines.into_iter().map(|q| q.image).collect());
    let layout = root.join(QUINE_LAYOUT);
    write_layout(&images, &layout)?;
    println!(
        "wrote {} (tag {LAYOUT_TAG}, index {}): cargo xtask publish --program quine REF",
        rel(&layout),
        images.index.digest
    );
    Ok(())
}
