//! One multi-platform index per program (docs/dist.md): `dist --program serve
//! --platform all` and `--program quine --platform all` write every platform
//! the run built into target/dist/serve-oci and target/dist/quine-oci, and
//! `publish --program serve` pushes the whole index, which Docker pulls by
//! platform and runs, through binfmt_misc where the platform is foreign.

use super::*;
use std::time::{Duration, Instant};
use xtask::build::serve::DEFAULT_PAGE;
use xtask::core::platform::{PLATFORMS, Program};

/// The platforms a dist run printed its line `<program> <platform>: N bytes
/// <then>` for: one line per platform built.
fn built(out: &std::process::Output, program: &str, then: &str) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{program} ")))
        .filter_map(|l| l.split_once(':'))
        .filter(|(p, rest)| p.starts_with("linux/") && rest.contains(then))
        .map(|(p, _)| p.to_string())
        .collect()
}

fn platforms_of(layout: &Layout) -> Vec<String> {
    layout.images.iter().map(|i| i.platform.clone()).collect()
}

#[test]
fn quine_index_holds_every_platform_built() {
    let _g = lock();
    let out = xtask_ok(&[
        "dist",
        "--program",
        "quine",
        "--platform",
        "all",
        "--no-docker",
    ]);
    let built = built(&out, "quine", " bytes = ELF headers");
    // Every platform the quine is built for: all nine.
    assert_eq!(Program::Quine.platforms().count(), PLATFORMS.len());
    for p in Program::Quine.platforms().map(|p| p.docker) {
        assert!(
            built.iter().any(|b| b == p),
            "dist built no {p} quine: {built:?}"
        );
    }
    let layout = read_layout_of(&root().join("target/dist/quine-oci"), "quine");
    assert_eq!(
        platforms_of(&layout),
        built,
        "target/dist/quine-oci's index"
    );
}

/// `GET /` on `port` answers the page, once the server listens (within 20 s:
/// a foreign one starts under qemu).
fn assert_serves_page(port: u16, what: &str) {
    let start = Instant::now();
    loop {
        match good_get(port, DEFAULT_PAGE, Duration::from_secs(10)) {
            Ok(_) => return,
            Err(e) if e.starts_with("connect") && start.elapsed() < Duration::from_secs(20) => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("{what}: GET / on port {port}: {e}"),
        }
    }
}

#[test]
fn serve_index_holds_every_platform_and_publishes() {
    let test = "serve_index_holds_every_platform_and_publishes";
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
    let port = quiet_port();
    let port_text = port.to_string();
    let out = xtask_ok(&[
        "dist",
        "--program",
        "serve",
        "--platform",
        "all",
        "--no-docker",
        "--port",
        &port_text,
    ]);
    let built = built(&out, "serve", " bytes (budget");
    // Every platform serve is built for: all nine.
    assert_eq!(Program::Serve.platforms().count(), PLATFORMS.len());
    for p in Program::Serve.platforms().map(|p| p.docker) {
        assert!(
            built.iter().any(|b| b == p),
            "dist built no {p} serve: {built:?}"
        );
    }
    let layout = read_layout_of(&root().join("target/dist/serve-oci"), "serve");
    assert_eq!(
        platforms_of(&layout),
        built,
        "target/dist/serve-oci's index"
    );
    for image in &layout.images {
        let tar = gunzip(&image.layer.bytes);
        let entries = untar(&tar);
        assert_eq!(
            entries.len(),
            1,
            "{}: one file in the layer",
            image.platform
        );
        assert_eq!(
            (entries[0].name.as_str(), entries[0].mode),
            ("serve", 0o555)
        );
        assert!(
            entries[0].data == fs::read(image.dist_file()).unwrap(),
            "{}: the layer's file is not {}",
            image.platform,
            image.dist_file().display()
        );
        // What the Dockerfile says (xtask/src/build/serve.rs), as config keys.
        assert_eq!(
            json(&image.config.bytes, "serve's config")["config"],
            json!({
                "Entrypoint": ["/serve"],
                "User": "65534:65534",
                "ExposedPorts": { format!("{port}/tcp"): {} },
                "Healthcheck": {
                    "Test": ["CMD", "/serve", "health"],
                    "Interval": 5_000_000_000u64,
                    "Timeout": 3_000_000_000u64,
                    "Retries": 3,
                },
            }),
            "{} config",
            image.platform
        );
    }

    // This machine's platform again, with the same page and port: the index
    // keeps the others (docs/dist.md), byte for byte the same.
    xtask_ok(&[
        "dist",
        "--program",
        "serve",
        "--no-docker",
        "--port",
        &port_text,
    ]);
    let again = read_layout_of(&root().join("target/dist/serve-oci"), "serve");
    assert_eq!(
        again.index.digest, layout.index.digest,
        "serve-oci's index after `dist --program serve` for this machine alone"
    );

    let registry = Registry::start();
    let reference = format!("127.0.0.1:{}/hello:serve", registry.port);
    let out = xtask_ok(&["publish", "--program", "serve", &reference]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "published {reference}: index {}",
            layout.index.digest
        )),
        "publish output:\n{stdout}"
    );
    assert_serves(
        &registry,
        "/v2/hello/manifests/serve",
        INDEX_TYPE,
        &layout.index,
    );
    for image in &layout.images {
        docker_ok(&["pull", "--platform", &image.platform, &reference]);
        let id = docker_ok(&["image", "inspect", "--format", "{{.Id}}", &reference]);
        assert_eq!(
            String::from_utf8_lossy(&id).trim(),
            image.config.digest,
            "docker pull --platform {} {reference}",
            image.platform
        );
        if runs_here(test, image) {
            let name = format!(
                "hello-test-serve-index-{}-{}",
                std::process::id(),
                image.architecture
            );
            let started = docker_serve(&name, &reference, &["--platform", &image.platform]);
            assert!(
                started.status.success(),
                "docker run {reference} ({}): {}",
                image.platform,
                String::from_utf8_lossy(&started.stderr)
            );
            let container = Container(name);
            assert_serves_page(
                port,
                &format!("docker run --platform {} {reference}", image.platform),
            );
            drop(container); // docker rm -f: the port is free for the next one
        }
        // The reference is this run's own (its registry's port): the image
        // goes with it unless another name holds it.
        docker_ok(&["rmi", &reference]);
    }
}
