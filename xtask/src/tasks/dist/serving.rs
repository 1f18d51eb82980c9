//! `dist --program serve`: each platform's server built and written, tried
//! with one `GET /` (natively or under qemu-user) when its port is free here,
//! and, with an engine, built as an image; then the OCI layout and the
//! `docker load` archive, written without Docker.
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Options;
use crate::Error;
use crate::build::serve::{self, Config, DEFAULT_TAG, GOAL, SITE_BUDGET, SITE_GOAL};
use crate::build::{inputs, program_path};
use crate::core::cmd;
use crate::core::platform::{Platform, Program};
use crate::oci;
use crate::run::{NotRun, docker, qemu};

/// `dist --program serve`: build, write, try, and package each platform, then
/// write the OCI layout and archive of these and of the platforms earlier runs
/// built with the same page, type and port (docs/dist.md).
pub fn run(opts: &Options, engine: Option<&str>, not_run: &mut NotRun) -> Result<(), Error> {
    let config = &opts.serve;
    let port = config.port.to_string();
    let page = content_digest(config);
    let inputs = inputs::line(
        Program::Serve,
        &[
            ("port", &port),
            ("type", &config.content_type),
            ("page", &page),
        ],
    );
    for &platform in &opts.platforms {
        let (built, sizes) = serve::build_sized(platform, config)?;
        let root = crate::root();
        let rel = program_path(Program::Serve, platform);
        let file = root.join(&rel);
        inputs::write(Program::Serve, platform, &built.bytes, &inputs)?;
        match sizes {
            Some(s) => println!(
                "serve {}: {} bytes, port {}, site of {} files ({} bytes) and {} gzipped copies \
                 ({} bytes); without them {} bytes (budget {SITE_BUDGET} on amd64, goal \
                 {SITE_GOAL}), of which {} are the tables -> {}",
                platform.docker,
                built.bytes.len(),
                config.port,
                s.files,
                s.file_bytes,
                s.gzipped,
                s.gzip_bytes,
                s.without_content,
                s.table_bytes,
                rel.display()
            ),
            None => println!(
                "serve {}: {} bytes (budget {}, goal {GOAL}), port {}, page {} bytes ({}) -> {}",
                platform.docker,
                built.bytes.len(),
                built
                    .budget
                    .map_or("none for this page".into(), |b| b.to_string()),
                config.port,
                config.page.len(),
                config.content_type,
                rel.display()
            ),
        }
        if built.budget.is_some() {
            // Where the bytes go, from the linked file's symbols.
            let parts = serve::parts(&built)?;
            let list: Vec<String> = parts.iter().map(|(p, n)| format!("{p} {n}")).collect();
            println!(
                "serve {}: {} bytes = {}",
                platform.docker,
                built.bytes.len(),
                list.join(" + ")
            );
        }
        try_file(platform, &file, config, not_run)?;
        if let Some(version) = engine {
            let tag = match &opts.tag {
                Some(t) => t.clone(),
                None => tag_for(platform),
            };
            println!("Docker engine {version}: building {tag}");
            let context = file.parent().expect("a dist file has a directory");
            docker::build_context(
                platform.docker,
                context,
                &tag,
                &serve::dockerfile(config.port),
            )?;
            let size = docker::image_size(&tag)?;
            println!(
                "image {tag}: {size} bytes (docker image inspect); run it with \
                 `docker run --rm --network host {tag}` and open http://localhost:{}/",
                config.port
            );
        }
    }
    let found = inputs::find(Program::Serve, &inputs);
    if let Some(line) = found.left_out(Program::Serve, serve::LAYOUT, "page or site, type or port")
    {
        println!("{line}");
    }
    let tag = opts.tag.as_deref().unwrap_or(DEFAULT_TAG);
    oci::write(&serve::image_spec(config.port), &found.same, tag)?;
    Ok(())
}

/// The digest of what serve answers with: the page, or with `--site` every
/// file's path and bytes, the fallback and the Cache-Control value.
fn content_digest(config: &Config) -> String {
    let Some(site) = &config.site else {
        return oci::sha256(&config.page);
    };
    let mut all = Vec::new();
    for (path, bytes) in &site.files {
        for part in [path.as_bytes(), bytes] {
            all.extend_from_slice(&(part.len() as u64).to_le_bytes());
            all.extend_from_slice(part);
        }
    }
    for option in [&site.fallback, &site.cache_control] {
        let text = option.as_deref().unwrap_or("");
        all.push(u8::from(option.is_some()));
        all.extend_from_slice(&(text.len() as u64).to_le_bytes());
        all.extend_from_slice(text.as_bytes());
    }
    format!("site-{}", oci::sha256(&all))
}

/// `hello:serve` for this machine's platform, `hello:serve-linux-arm64` for others.
pub fn tag_for(platform: &Platform) -> String {
    let is_host = Platform::host().is_some_and(|h| h.docker == platform.docker);
    if is_host {
        DEFAULT_TAG.to_string()
    } else {
        format!("{DEFAULT_TAG}-{}", platform.dir_name())
    }
}

/// Starts the file (natively or under qemu-user) and checks one `GET /`, when
/// its port is free here; otherwise says why it did not.
fn try_file(
    platform: &Platform,
    file: &Path,
    config: &Config,
    not_run: &mut NotRun,
) -> Result<(), Error> {
    if TcpListener::bind(("127.0.0.1", config.port)).is_err() {
        println!(
            "note: port {} is in use here, so dist did not start {} to try it",
            config.port,
            file.display()
        );
        return Ok(());
    }
    let mut run = match qemu::command(platform, file) {
        Ok(run) => run,
        Err(why) => {
            not_run.file(file, &why);
            return Ok(());
        }
    };
    eprintln!("$ {} &", cmd::line(&run));
    let child = run
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| Error::fail(format!("could not run `{}`: {e}", cmd::line(&run))))?;
    let mut server = Server(child);
    let (path, want) = match &config.site {
        Some(site) => site.probe(),
        None => ("/".to_string(), &config.page[..]),
    };
    let response = get(config.port, &path, Duration::from_secs(10));
    let status = server.stop();
    let response = response.map_err(|e| {
        Error::fail(format!(
            "{} did not answer GET {path} on port {}: {e}",
            file.display(),
            config.port
        ))
    })?;
    let body_at = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4);
    if !response.starts_with(b"HTTP/1.1 200 OK\r\n")
        || body_at.map(|i| &response[i..]) != Some(want)
    {
        return Err(Error::fail(format!(
            "{}: GET {path} answered {} bytes starting {:?}, not 200 and the {}-byte page",
            file.display(),
            response.len(),
            String::from_utf8_lossy(&response[..response.len().min(80)]),
            want.len()
        )));
    }
    println!(
        "{}: GET {path} on port {} -> 200, {} bytes of page; SIGTERM -> {status}",
        file.display(),
        config.port,
        want.len()
    );
    Ok(())
}

/// A running server, stopped with SIGTERM when dropped.
struct Server(Child);

impl Server {
    fn stop(&mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        match self.0.wait() {
            Ok(s) => s.to_string(),
            Err(e) => e.to_string(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// `GET path` as HTTP/1.0 on 127.0.0.1:`port`, retried until the server
/// listens or `within` passes: the whole response.
fn get(port: u16, path: &str, within: Duration) -> std::io::Result<Vec<u8>> {
    let start = Instant::now();
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut s) => {
                s.set_read_timeout(Some(Duration::from_secs(10)))?;
                s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())?;
                let mut out = Vec::new();
                s.read_to_end(&mut out)?;
                return Ok(out);
            }
            Err(e) if start.elapsed() > within => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}
