//! `dist --program serve`: each platform's server built and written, tried
//! with one `GET /` (natively or under qemu-user) when its port is free here,
//! and, with an engine, built as an image.
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Options;
use crate::Error;
use crate::build::program_path;
use crate::build::serve::{self, Config, DEFAULT_TAG, GOAL, SITE_BUDGET, SITE_GOAL};
use crate::core::cmd;
use crate::core::files::write_program;
use crate::core::platform::{Platform, Program};
use crate::run::{NotRun, docker, qemu};

/// `dist --program serve`: build, write, try, and package each platform.
pub fn run(opts: &Options, engine: Option<&str>, not_run: &mut NotRun) -> Result<(), Error> {
    let config = &opts.serve;
    for &platform in &opts.platforms {
        let (built, sizes) = serve::build_sized(platform, config)?;
        let root = crate::root();
        let rel = program_path(Program::Serve, platform);
        let file = root.join(&rel);
        write_program(&built.bytes, &file)?;
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
    Ok(())
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
