//! The test site as an image: serve's under the hardened `docker run`, its
//! health check, wget's crawl of it beside nginx's; and its size beside the
//! same site in busybox httpd's and nginx's images, built here from Debian's
//! binaries on `scratch` (no registry is reachable), in docs/site.md.
use super::*;

/// A `scratch` image `tag` from `files` (path in the image, bytes, mode) and
/// the Dockerfile's other lines.
fn scratch_image(tag: &str, files: &[(String, Vec<u8>, u32)], lines: &str) {
    use std::os::unix::fs::PermissionsExt;
    let dir = shared_dir().join(format!("context-{}", tag.replace([':', '/'], "-")));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, bytes, mode) in files {
        let at = dir.join("root").join(path.trim_start_matches('/'));
        // A path ending in `/` is a directory.
        if path.ends_with('/') {
            std::fs::create_dir_all(&at).unwrap();
        } else {
            std::fs::create_dir_all(at.parent().unwrap()).unwrap();
            std::fs::write(&at, bytes).unwrap();
        }
        std::fs::set_permissions(&at, std::fs::Permissions::from_mode(*mode)).unwrap();
    }
    std::fs::write(
        dir.join("Dockerfile"),
        format!("FROM scratch\nCOPY root/ /\n{lines}"),
    )
    .unwrap();
    let out = docker(&["build", "--quiet", "-t", tag, dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "docker build {tag}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The test site's files as image files under `/www`.
fn www_files() -> Vec<(String, Vec<u8>, u32)> {
    let mut out = Vec::new();
    let site = xtask::build::site::read(&www(), None, None).unwrap();
    for (path, bytes) in site.files {
        out.push((format!("/www/{path}"), bytes, 0o644));
    }
    out
}

/// Debian's busybox-static, `busybox httpd` in the foreground on `port`.
fn busybox_image(tag: &str, port: u16) {
    let mut files = www_files();
    files.push((
        "/busybox".into(),
        std::fs::read("/bin/busybox").unwrap(),
        0o755,
    ));
    scratch_image(
        tag,
        &files,
        &format!(
            "USER 65534:65534\nENTRYPOINT [\"/busybox\", \"httpd\", \"-f\", \"-p\", \"{port}\", \"-h\", \"/www\"]\n"
        ),
    );
}

/// Debian's nginx-light: the binary, the libraries `ldd` names, mime.types
/// and a configuration for a read-only root, on `port`.
fn nginx_image(tag: &str, port: u16) {
    let mut files = www_files();
    files.push((
        "/usr/sbin/nginx".into(),
        std::fs::read("/usr/sbin/nginx").unwrap(),
        0o755,
    ));
    let ldd = Command::new("ldd").arg("/usr/sbin/nginx").output().unwrap();
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        let path = line
            .split_whitespace()
            .find(|w| w.starts_with('/'))
            .map(str::to_string);
        if let Some(path) = path {
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
            files.push((path, bytes, 0o755));
        }
    }
    files.push((
        "/etc/nginx/mime.types".into(),
        std::fs::read("/etc/nginx/mime.types").unwrap(),
        0o644,
    ));
    let conf = format!(
        "daemon off;\nworker_processes 1;\npid /tmp/nginx.pid;\nerror_log stderr;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  include /etc/nginx/mime.types;\n  access_log off;\n  client_body_temp_path /tmp;\n  \
         proxy_temp_path /tmp;\n  fastcgi_temp_path /tmp;\n  uwsgi_temp_path /tmp;\n  scgi_temp_path /tmp;\n  \
         server {{ listen {port}; root /www; }}\n}}\n"
    );
    files.push(("/etc/nginx/nginx.conf".into(), conf.into_bytes(), 0o644));
    // nginx, as uid 65534, writes its pid and temporary files here.
    files.push(("/tmp/".into(), Vec::new(), 0o1777));
    scratch_image(
        tag,
        &files,
        "USER 65534:65534\nENTRYPOINT [\"/usr/sbin/nginx\", \"-c\", \"/etc/nginx/nginx.conf\"]\n",
    );
}

fn image_size(tag: &str) -> u64 {
    let out = docker(&["image", "inspect", "--format", "{{.Size}}", tag]);
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("docker image inspect {tag}: {out:?}"))
}

/// `curl http://127.0.0.1:port/` from a container on the host's network,
/// retried for up to 20 s while it starts: the body.
fn index_from(port: u16) -> Vec<u8> {
    let start = std::time::Instant::now();
    loop {
        let out = Command::new("curl")
            .args(["--silent", "--fail"])
            .arg(format!("http://127.0.0.1:{port}/"))
            .output()
            .expect("run curl");
        if out.status.success() {
            return out.stdout;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "nothing answers on {port}: {out:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Removes these images when dropped.
struct Images(Vec<String>);

impl Drop for Images {
    fn drop(&mut self) {
        for t in &self.0 {
            let _ = docker(&["rmi", "-f", t]);
        }
    }
}

#[test]
fn site_image_hardened_and_sizes() {
    let test = "site_image_hardened_and_sizes";
    if !docker_available(test)
        || !tool_available(test, "wget", "apt-get install wget")
        || !(Path::new("/usr/sbin/nginx").exists()
            || skip(
                test,
                "/usr/sbin/nginx is missing",
                "apt-get install nginx-light",
            ))
        || !(Path::new("/bin/busybox").exists()
            || skip(
                test,
                "/bin/busybox is missing",
                "apt-get install busybox-static",
            ))
    {
        return;
    }
    let tag = own_tag("site");
    let busybox_tag = own_tag("site-busybox");
    let nginx_tag = own_tag("site-nginx");
    let _images = Images(vec![tag.clone(), busybox_tag.clone(), nginx_tag.clone()]);
    let port = quiet_port();
    {
        let _g = lock();
        xtask_ok(&[
            "dist",
            "--program",
            "serve",
            "--platform",
            "linux/amd64",
            "--site",
            www().to_str().unwrap(),
            "--port",
            &port.to_string(),
            "--tag",
            &tag,
        ]);
    }
    let name = format!("hello-test-site-{}", std::process::id());
    let out = docker_serve(&name, &tag, HARDENED);
    assert!(out.status.success(), "docker run {tag}: {out:?}");
    let _container = Container(name.clone());
    assert_eq!(index_from(port), file("index.html"));
    // Its health check: `/serve health` every 5 s.
    let start = std::time::Instant::now();
    loop {
        let out = docker(&["inspect", "--format", "{{.State.Health.Status}}", &name]);
        let status = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if status == "healthy" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{name}: health {status:?} after 30 s"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let (ours, log) = broken_links(port, "/");
    let nginx_port = quiet_port();
    let _nginx = nginx(&www(), nginx_port);
    let (theirs, _) = broken_links(nginx_port, "/");
    println!("wget --spider against the hardened container: broken links {ours:?}");
    assert_eq!(
        ours, theirs,
        "broken links from the container and from nginx:\n{log}"
    );
    assert!(
        ours.contains("/docs/old.html"),
        "the test site's one broken link: {ours:?}"
    );

    // The same site in busybox httpd's and nginx's images.
    let (bport, nport) = (quiet_port(), quiet_port());
    busybox_image(&busybox_tag, bport);
    nginx_image(&nginx_tag, nport);
    for (tag, port, what) in [
        (&busybox_tag, bport, "busybox"),
        (&nginx_tag, nport, "nginx"),
    ] {
        let name = format!("hello-test-site-{what}-{}", std::process::id());
        let out = docker_serve(&name, tag, &[]);
        assert!(out.status.success(), "docker run {tag}: {out:?}");
        let _c = Container(name);
        assert_eq!(
            index_from(port),
            file("index.html"),
            "{what}'s image serves the site"
        );
    }
    let sizes = [
        ("serve --site", image_size(&tag)),
        (
            "busybox httpd (Debian busybox-static 1.35)",
            image_size(&busybox_tag),
        ),
        (
            "nginx (Debian nginx-light, its libraries)",
            image_size(&nginx_tag),
        ),
    ];
    let bytes = xtask::build::site::read(&www(), None, None)
        .unwrap()
        .bytes();
    let mut table = format!(
        "| image, the test site ({bytes} bytes of files) on `scratch` | bytes | × serve |\n|---|---:|---:|\n"
    );
    for (what, size) in sizes {
        table.push_str(&format!(
            "| {what} | {size} | {:.1} |\n",
            size as f64 / sizes[0].1 as f64
        ));
    }
    println!("{table}");
    assert!(
        sizes[0].1 < sizes[1].1 && sizes[1].1 < sizes[2].1,
        "{sizes:?}"
    );
    assert_page_block("README.md", "site-images", &table);
}
