//! The image without a Docker daemon: `cargo xtask image` (run by `dist`) and
//! `cargo xtask publish`. The OCI layout's bytes, their reproducibility, and
//! what Docker 20.10, skopeo and a real registry make of them.
#[path = "../common/mod.rs"]
mod common;

mod keep;
mod layout;
mod programs;
mod run;

use common::*;
use layout::*;
use run::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[test]
fn layout_holds_every_platform_built_with_minimal_config() {
    let _g = lock();
    // (A dist for this machine's platform alone: keep.rs.)
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
    // This machine's platform alone, as the fresh copy builds it.
    forget_built_platforms();
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
    // Its OCI part, as podman reads it: the full name first (docs/dist.md).
    let index = json(&get("index.json").data, "the archive's index.json");
    assert_eq!(
        index["manifests"][0]["annotations"],
        json!({
            "io.containerd.image.name": "docker.io/library/hello:latest",
            "org.opencontainers.image.ref.name": "latest",
        })
    );
    assert_eq!(
        index["manifests"][0]["digest"],
        host.manifest.digest.as_str()
    );
    assert!(get(&blob_path(&host.config)).data == host.config.bytes);
    assert!(get(&blob_path(&host.layer)).data == host.layer.bytes);
    for e in &entries {
        assert_eq!((e.uid, e.gid, e.mtime), (0, 0, want_mtime()), "{}", e.name);
    }
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
