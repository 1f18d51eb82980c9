//! Image references: the grammar `--tag` and `publish REF` take, and the tags
//! and names the xtask gives its images.
use crate::core::platform::Platform;

/// The tag `dist` gives hello's image for this machine's platform.
pub const DEFAULT_TAG: &str = "hello:latest";

/// `hello:linux-arm-v7`: hello's image tag for one platform.
pub fn platform_tag(platform: &Platform) -> String {
    format!("hello:{}", platform.dir_name())
}

/// A Docker image reference without digest: `[host[:port]/]path[:tag]`, as the
/// reference grammar of the distribution spec has it.
pub fn check_tag(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    let (name, tag) = match s.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, Some(t)),
        _ => (s, None),
    };
    if let Some(t) = tag {
        let ok_start = t
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok_start
            || t.len() > 128
            || !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return Err(format!(
                "the tag `{t}` must be 1-128 of [A-Za-z0-9_.-], not starting with . or -"
            ));
        }
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
        let host = parts.remove(0);
        let (h, port) = host.split_once(':').unwrap_or((host, "0"));
        if h.is_empty()
            || !h
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
            || port.parse::<u16>().is_err()
        {
            return Err(format!("the registry host `{host}` is not a host[:port]"));
        }
    }
    for p in parts {
        let ok = !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
            && p.starts_with(|c: char| c.is_ascii_alphanumeric())
            && p.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !ok {
            return Err(format!(
                "the name component `{p}` must be lowercase letters and digits, with . _ or - between them"
            ));
        }
    }
    Ok(())
}

/// A checked reference (see [`check_tag`]) in full, as Docker stores it and
/// writes it into an archive's `io.containerd.image.name`: the registry
/// `docker.io` when none is named, `library/` before a one-component name on
/// it, and the tag `latest` when none is given. `hello` is
/// `docker.io/library/hello:latest`; `localhost:5000/hello:v1` stays.
pub fn normalized(reference: &str) -> String {
    let (name, tag) = match reference.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, t),
        _ => (reference, "latest"),
    };
    let (host, path) = match registry(name) {
        Some(host) => (host, &name[host.len() + 1..]),
        None => ("docker.io", name),
    };
    let library = if host == "docker.io" && !path.contains('/') {
        "library/"
    } else {
        ""
    };
    format!("{host}/{library}{path}:{tag}")
}

/// The registry part of a reference, if it names one (`host[:port]/...`).
pub fn registry(reference: &str) -> Option<&str> {
    let (first, _) = reference.split_once('/')?;
    (first.contains(['.', ':']) || first == "localhost").then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_normalize_as_docker_stores_them() {
        for (given, full) in [
            ("hello", "docker.io/library/hello:latest"),
            ("hello:latest", "docker.io/library/hello:latest"),
            ("hello:serve", "docker.io/library/hello:serve"),
            ("me/hello:v1", "docker.io/me/hello:v1"),
            ("docker.io/hello:v1", "docker.io/library/hello:v1"),
            ("localhost/hello", "localhost/hello:latest"),
            ("localhost:5000/hello:v1", "localhost:5000/hello:v1"),
            ("ghcr.io/a/b:c", "ghcr.io/a/b:c"),
        ] {
            assert_eq!(normalized(given), full, "{given}");
        }
    }
}
