//! The quine (hello/src/bin/quine.rs, issue 12): its output is byte for byte
//! the `docker load` archive `cargo xtask dist --program quine` writes; loaded,
//! it is the image that printed it (same ID), and so on for every generation;
//! its SHA-256 agrees with the `sha2` crate.
#[path = "../common/mod.rs"]
mod common;

#[path = "../../../hello/src/sha256.rs"]
mod sha256;

mod archive;
mod platforms;

use archive::*;
use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use xtask::core::platform::{PLATFORMS, Platform, Program};

/// The hash the program uses, built for the test (the program itself only
/// ever hashes its own layer): the same bytes as the `sha2` crate's.
#[test]
fn sha256_matches_the_sha2_crate() {
    let mut inputs: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"abc".to_vec(),
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".to_vec(),
    ];
    // Every length around the one- and two-block padding boundaries.
    for len in [55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129] {
        inputs.push((0..len).map(|i| i as u8).collect());
    }
    // 1 MiB of pseudo-random bytes (xorshift64, fixed seed).
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    inputs.push(
        (0..1 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 56) as u8
            })
            .collect(),
    );
    for input in &inputs {
        let ours: Vec<u8> = sha256::sha256(input)
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect();
        assert_eq!(
            hex(&ours),
            hex(&Sha256::digest(input)),
            "SHA-256 of {} bytes",
            input.len()
        );
    }
    assert_eq!(
        hex(&Sha256::digest(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

/// Natively: the file is within its limit, prints the archive the xtask wrote
/// byte for byte and exits 0, also as uid 65534 and under `ulimit -v 256`;
/// `> /dev/full` and a closed stdout give a non-zero status. The archive's
/// parts agree with each other and with the ID dist printed.
#[test]
fn quine_prints_the_archive_the_xtask_writes() {
    let _g = lock();
    let (file, archive, id) = dist_quine("linux/amd64");
    assert!(
        file.len() <= QUINE_MAX,
        "the amd64 quine has {} bytes, over {QUINE_MAX}",
        file.len()
    );
    assert_eq!(
        std::fs::read(root().join("target/dist/quine")).unwrap(),
        file,
        "target/dist/quine is the host's file"
    );
    assert_eq!(
        std::fs::read(root().join("target/dist/quine-image.tar")).unwrap(),
        archive,
        "target/dist/quine-image.tar is the host's archive"
    );
    assert_eq!(check_archive(&archive, &file, "linux/amd64"), id);
    assert_behaves(&root().join("target/dist/quine"), &archive);
}

/// A `write` that fails with EINTR before writing anything is tried again:
/// strace makes the first three fail so.
#[test]
fn quine_retries_a_write_interrupted_by_a_signal() {
    if !tool_available(
        "quine_retries_a_write_interrupted_by_a_signal",
        "strace",
        "apt-get install -y strace",
    ) {
        return;
    }
    let _g = lock();
    let (_, archive, _) = dist_quine("linux/amd64");
    let out = Command::new("strace")
        .args([
            "-o",
            "/dev/null",
            "-e",
            "inject=write:error=EINTR:when=1..3",
        ])
        .arg(root().join("target/dist/quine"))
        .stdin(Stdio::null())
        .output()
        .expect("run strace");
    assert_prints(&out, &archive, "quine with 3 writes failing with EINTR");
}

/// The fixed point: the image dist loaded prints its archive; its output,
/// loaded, has the same ID, which is sha256(config); and its output, loaded,
/// gives the same ID and bytes again. Also under the hardened `docker run`.
///
/// dist loads `hello:quine`, the name the quine's archive carries, which every
/// checkout shares: the test runs the image under its own tag, taken from the
/// ID (content-addressed, whoever loads `hello:quine` meanwhile), loads each
/// generation's output under that tag too (docker_load_as_own), and removes
/// only that tag. `hello:quine` stays, as dist leaves it.
#[test]
fn docker_load_of_the_output_is_the_image_that_ran() {
    if !docker_available("docker_load_of_the_output_is_the_image_that_ran") {
        return;
    }
    let _g = lock();
    let own = own_tag("quine");
    let out = xtask_ok(&["dist", "--program", "quine"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let archive = std::fs::read(root().join("target/dist/quine-image.tar")).unwrap();
    let file = std::fs::read(root().join("target/dist/quine")).unwrap();
    let config_id = check_archive(&archive, &file, "linux/amd64");
    assert!(
        stdout.contains(&format!("image {TAG}: ID {config_id}")),
        "dist did not load {TAG} as {config_id}:\n{stdout}"
    );
    docker_ok(&["tag", &config_id, &own]);
    assert_docker_prints(&own, &archive);

    let mut previous = archive.clone();
    for generation in 1..=2 {
        let printed = docker_run(&own, &[]);
        assert_prints(
            &printed,
            &previous,
            &format!("generation {generation}: docker run {own}"),
        );
        docker_ok(&["rmi", &own]);
        assert_eq!(
            docker_load_as_own(&printed.stdout, &own),
            config_id,
            "generation {generation}: the ID docker gave the loaded output"
        );
        previous = printed.stdout;
    }
    assert!(
        previous == archive,
        "the last generation printed other bytes"
    );
    docker_ok(&["rmi", &own]);
}

/// `cargo xtask publish --program quine` to a local registry, pulled back and
/// run: the same image ID and the same bytes as the archive.
#[test]
fn published_quine_pulled_and_run_prints_the_same_bytes() {
    let test = "published_quine_pulled_and_run_prints_the_same_bytes";
    if !docker_available(test)
        || !tool_available(
            test,
            "docker-registry",
            "apt-get install -y docker-registry",
        )
        || !tool_available(test, "skopeo", "apt-get install -y skopeo")
    {
        return;
    }
    let _g = lock();
    xtask_ok(&["dist", "--program", "quine", "--no-docker"]);
    let archive = std::fs::read(root().join("target/dist/quine-image.tar")).unwrap();
    let file = std::fs::read(root().join("target/dist/quine")).unwrap();
    let id = check_archive(&archive, &file, "linux/amd64");
    let registry = Registry::start();
    let reference = format!("127.0.0.1:{}/hello:quine", registry.port);
    let out = xtask_ok(&["publish", "--program", "quine", &reference]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("published {reference}")),
        "{stdout}"
    );
    // What the registry serves, read from it directly: the manifest names
    // the archive's config (so the image ID) and its one layer. (Docker's pull
    // would fetch nothing when an image of that ID is already here, under
    // any checkout's name, and the test removes no image it did not make.)
    let get_manifest = |reference: &str| -> Value {
        let (status, _, body) = registry
            .get(
                &format!("/v2/hello/manifests/{reference}"),
                "application/vnd.oci.image.index.v1+json, \
                 application/vnd.oci.image.manifest.v1+json, \
                 application/vnd.docker.distribution.manifest.list.v2+json, \
                 application/vnd.docker.distribution.manifest.v2+json",
            )
            .expect("the registry answers");
        assert!(
            status.contains(" 200 "),
            "GET manifest {reference}: {status}"
        );
        serde_json::from_slice(&body).expect("the manifest is JSON")
    };
    let mut manifest = get_manifest("quine");
    if let Some(list) = manifest["manifests"].as_array() {
        // An index: this machine's (amd64) image.
        let digest = list
            .iter()
            .find(|m| m["platform"]["architecture"] == "amd64")
            .unwrap_or_else(|| panic!("the index has no amd64 image: {manifest}"))["digest"]
            .as_str()
            .unwrap()
            .to_string();
        manifest = get_manifest(&digest);
    }
    assert_eq!(manifest["config"]["digest"], id.as_str(), "{manifest}");
    let entries = untar(&archive);
    for (digest, want) in [
        (manifest["config"]["digest"].as_str().unwrap(), "c.json"),
        (manifest["layers"][0]["digest"].as_str().unwrap(), "l.tar"),
    ] {
        let (status, _, blob) = registry
            .get(&format!("/v2/hello/blobs/{digest}"), "*/*")
            .expect("the registry answers");
        assert!(status.contains(" 200 "), "GET blob {digest}: {status}");
        assert_eq!(sha256_id(&blob), digest, "the registry's blob {digest}");
        // The layer is pushed gzipped: `gzip -dc` gives the archive's l.tar.
        let blob = if want == "l.tar" { gunzip(&blob) } else { blob };
        assert!(
            blob == entries[want].1,
            "the registry's {digest} is not the archive's {want}"
        );
    }
    docker_ok(&["pull", &reference]);
    assert_eq!(image_id(&reference), id, "the pulled image's ID");
    let out = docker_run(&reference, &[]);
    assert_prints(&out, &archive, &format!("docker run {reference}"));
    // The reference is this run's own (its registry's port); the image goes
    // with it unless another name holds it.
    docker_ok(&["rmi", &reference]);
}

/// docs/quine.md's table: each platform's file size and where its bytes go,
/// as dist measures them.
#[test]
fn readme_quine_sizes_match_measured() {
    let _g = lock();
    let out = xtask_ok(&[
        "dist",
        "--program",
        "quine",
        "--platform",
        "all",
        "--no-docker",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut table = String::from(
        "| platform | file | ELF headers | constants | padding | code | prints | goal |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut rows = 0;
    for line in stdout.lines().filter(|l| l.starts_with("quine linux/")) {
        // quine P: N bytes = ELF headers H + constants C + padding G + code X;
        // prints A bytes; ... Each part is measured on its own (the linker
        // script's symbols, the gaps between functions, the function symbols'
        // sizes), so their sum is a check.
        let (platform, rest) = line["quine ".len()..].split_once(": ").unwrap();
        let num = |key: &str| -> u64 {
            let at = rest
                .find(key)
                .unwrap_or_else(|| panic!("no `{key}` in {line:?}"))
                + key.len();
            let digits: String = rest[at..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits
                .parse()
                .unwrap_or_else(|_| panic!("no number after `{key}` in {line:?}"))
        };
        let size = num("");
        let parts = [
            num("ELF headers "),
            num("constants "),
            num("padding "),
            num("code "),
        ];
        assert_eq!(
            parts.iter().sum::<u64>(),
            size,
            "the parts do not add up to the file: {line:?}"
        );
        assert!(
            size as usize <= QUINE_MAX,
            "{platform}: {size} bytes, over the budget of {QUINE_MAX}"
        );
        let goal = if platform == "linux/amd64" {
            QUINE_GOAL_AMD64
        } else {
            QUINE_GOAL
        } as u64;
        let goal = if size <= goal {
            format!("{goal} (met)")
        } else {
            format!("{goal} (missed by {})", size - goal)
        };
        table.push_str(&format!(
            "| {platform} | {size} | {} | {} | {} | {} | {} | {goal} |\n",
            parts[0],
            parts[1],
            parts[2],
            parts[3],
            num("prints ")
        ));
        rows += 1;
    }
    let built: Vec<&str> = Program::Quine.platforms().map(|p| p.docker).collect();
    assert_eq!(
        rows,
        built.len(),
        "dist built the quine for {built:?}:\n{stdout}"
    );
    // Nine rows, in the table's order.
    let mut ordered = String::new();
    for p in PLATFORMS {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| {} |", p.docker)))
            .unwrap_or_else(|| panic!("no {} row in dist's quine table:\n{table}", p.docker));
        ordered.push_str(&format!("{row}\n"));
    }
    let head: String = table.lines().take(2).map(|l| format!("{l}\n")).collect();
    let table = head + &ordered;
    assert_page_block("docs/quine.md", "quine-sizes", &table);
}

/// What the quine cannot do is refused with status 2 and a message that says
/// why: hello's options.
#[test]
fn dist_quine_refuses_what_it_cannot_do() {
    for (args, says) in [
        (&["--message", "hi"][..], "--message is for --program hello"),
        (&["--tag", "x:y"][..], "--tag is for --program hello"),
        (&["--layout", "tiny"][..], "--layout is for --program hello"),
    ] {
        let mut all = vec!["dist", "--program", "quine", "--no-docker"];
        all.extend_from_slice(args);
        let out = xtask(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {stderr}");
        assert!(
            stderr.contains(says),
            "{all:?} printed {stderr:?}, not {says:?}"
        );
    }
}
