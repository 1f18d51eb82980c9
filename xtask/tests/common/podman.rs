//! Podman for the tests: rootful and rootless runs, the rootless user, and
//! the hardened run's limits read back from a container's cgroup.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::{HARDENED, is_root, skip, tool_available};

/// Whether `podman` is on PATH; a loud skip (see [`skip`]) when not.
pub fn podman_available(test: &str) -> bool {
    tool_available(test, "podman", "apt-get install -y podman uidmap")
}

/// Podman's default rlimits (nofile, nproc) can exceed the hard limits the
/// tests run under, and then every `podman run` fails: ask for modest ones.
pub const PODMAN_ULIMITS: &[&str] = &[
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
];

/// `podman <args>`, returning the output whatever the status.
pub fn podman(args: &[&str]) -> Output {
    Command::new("podman")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run podman")
}

/// `podman run --rm --network none <ulimits> <extra> <image>`.
pub fn podman_run(image: &str, extra: &[&str]) -> Output {
    let mut args = vec!["run", "--rm", "--network", "none"];
    args.extend_from_slice(PODMAN_ULIMITS);
    args.extend_from_slice(extra);
    args.push(image);
    podman(&args)
}

/// How podman is run: as this user, or as `user` through runuser.
#[derive(Clone, Copy, Debug)]
pub enum As<'a> {
    Me,
    User(&'a str),
}

/// `podman <args>` as `who`, returning the output whatever the status.
pub fn podman_as(who: As, args: &[&str]) -> Output {
    let mut cmd = match who {
        As::Me => Command::new("podman"),
        As::User(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--", "podman"]);
            // Root's runtime directory is not the user's: podman picks its own.
            c.env_remove("XDG_RUNTIME_DIR").current_dir("/");
            c
        }
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run podman")
}

fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The unprivileged user the rootless runs use, with subordinate ids for its
/// user namespace; created when missing. Err(why) when it cannot be.
pub fn rootless_user() -> Result<&'static str, String> {
    const USER: &str = "hello-rootless";
    let exists = Command::new("id")
        .arg(USER)
        .output()
        .is_ok_and(|o| o.status.success());
    if !exists {
        let out = Command::new("useradd")
            .args(["--create-home", "--shell", "/bin/sh", USER])
            .output()
            .map_err(|e| format!("useradd: {e}"))?;
        if !out.status.success() {
            return Err(format!("useradd {USER}: {}", output_text(&out)));
        }
    }
    for file in ["/etc/subuid", "/etc/subgid"] {
        let has = std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with(&format!("{USER}:")));
        if !has {
            let flag = if file.ends_with("uid") {
                "--add-subuids"
            } else {
                "--add-subgids"
            };
            let out = Command::new("usermod")
                .args([flag, "400000-465535", USER])
                .output()
                .map_err(|e| format!("usermod: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "usermod {flag} 400000-465535 {USER}: {}",
                    output_text(&out)
                ));
            }
        }
    }
    Ok(USER)
}

/// Who runs podman rootless here: this user when the tests do not run as
/// root, else the unprivileged `hello-rootless` through runuser. None after a
/// loud skip (see [`skip`]). The caller has checked that podman is on PATH.
pub fn rootless_podman(test: &str) -> Option<As<'static>> {
    if !is_root() {
        return Some(As::Me);
    }
    if !tool_available(test, "runuser", "apt-get install -y util-linux") {
        return None;
    }
    let user = match rootless_user() {
        Ok(u) => u,
        Err(why) => {
            skip(
                test,
                &format!("no unprivileged user for rootless podman: {why}"),
                "useradd",
            );
            return None;
        }
    };
    let info = podman_as(
        As::User(user),
        &["info", "--format", "{{.Host.Security.Rootless}}"],
    );
    if String::from_utf8_lossy(&info.stdout).trim() != "true" {
        skip(
            test,
            &format!(
                "podman as {user} does not run rootless: {}",
                output_text(&info).trim()
            ),
            "apt-get install -y uidmap (newuidmap), and allow user namespaces",
        );
        return None;
    }
    Some(As::User(user))
}

/// One limit of the hardened run, read back from a container's cgroup.
#[derive(Debug, PartialEq)]
pub struct Limit {
    /// The flag and its value, as in HARDENED: `--pids-limit 32`.
    pub flag: String,
    /// The cgroup file read (pids.max, memory.limit_in_bytes or memory.max).
    pub file: &'static str,
    /// Whether that file, in the container's own cgroup, holds the value.
    pub applied: bool,
}

/// The pids and memory limits HARDENED asks for, as podman (as `who`) sets
/// them up for `image`: `podman create` and `podman init` make the container
/// and its cgroups without starting the program; the limits are then read
/// from the cgroup files of the container's process (/proc/PID/cgroup, v1 or
/// v2), and the container is removed.
pub fn podman_limits(who: As, image: &str) -> Vec<Limit> {
    let mut args = vec!["create", "--network", "none"];
    args.extend_from_slice(PODMAN_ULIMITS);
    args.extend_from_slice(HARDENED);
    args.push(image);
    let created = podman_as(who, &args);
    assert!(
        created.status.success(),
        "podman {}: {}",
        args.join(" "),
        output_text(&created)
    );
    let id = String::from_utf8_lossy(&created.stdout).trim().to_string();
    let init = podman_as(who, &["init", &id]);
    let pid = podman_as(who, &["inspect", "--format", "{{.State.Pid}}", &id]);
    let pid = String::from_utf8_lossy(&pid.stdout).trim().to_string();
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    if !init.status.success() || cgroups.is_empty() {
        podman_as(who, &["rm", "-f", &id]);
        panic!("podman init {id} (pid {pid:?}): {}", output_text(&init));
    }
    // `N:pids:/path` on cgroup v1, `0::/path` on v2.
    let path = |controller: &str| {
        cgroups.lines().find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, names, path) = (f.next()?, f.next()?, f.next()?);
            names
                .split(',')
                .any(|n| n == controller)
                .then(|| path.to_string())
        })
    };
    let flag = |name: &str| {
        let at = HARDENED.iter().position(|f| *f == name).unwrap();
        HARDENED[at + 1]
    };
    let memory = flag("--memory");
    let (number, unit) = memory.split_at(memory.len() - 1);
    let shift = match unit {
        "k" => 10,
        "m" => 20,
        "g" => 30,
        _ => panic!("HARDENED's --memory {memory}: expected a k, m or g suffix"),
    };
    let memory_bytes = (number.parse::<u64>().unwrap() << shift).to_string();
    let v1 = path("pids").is_some();
    let read = |controller: &str, file: &str| {
        let dir = match (v1, path(controller)) {
            (true, Some(p)) => format!("/sys/fs/cgroup/{controller}{p}"),
            (false, _) => format!("/sys/fs/cgroup{}", path("").unwrap_or_default()),
            (true, None) => return None,
        };
        std::fs::read_to_string(Path::new(&dir).join(file))
            .ok()
            .map(|v| v.trim().to_string())
    };
    let (pids_file, memory_file) = if v1 {
        ("pids.max", "memory.limit_in_bytes")
    } else {
        ("pids.max", "memory.max")
    };
    // Read while the container (and so its cgroup) exists.
    let limits = vec![
        Limit {
            flag: format!("--pids-limit {}", flag("--pids-limit")),
            file: pids_file,
            applied: read("pids", pids_file).as_deref() == Some(flag("--pids-limit")),
        },
        Limit {
            flag: format!("--memory {memory}"),
            file: memory_file,
            applied: read("memory", memory_file).as_deref() == Some(memory_bytes.as_str()),
        },
    ];
    podman_as(who, &["rm", "-f", &id]);
    limits
}
