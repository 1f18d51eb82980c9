//! The quine on every platform it is built for but amd64 (whose tests run it
//! natively): under qemu-user (with the platform's CPU) it prints byte for
//! byte the archive `cargo xtask dist` writes for that platform; `docker load`
//! gives the image ID dist printed, for that platform; and through
//! `docker run --platform` the image prints the same bytes again. One test
//! per platform, so that the harness runs them side by side.

use super::*;

fn quine_on(platform_name: &str) {
    let platform = Platform::find(platform_name).unwrap();
    let test = format!("quine_on_{}", platform.dir_name());
    let qemu = match platform.qemu_program() {
        Ok(q) => q,
        Err(why) => {
            skip(&test, &why, "apt-get install -y qemu-user-static");
            return;
        }
    };
    if !docker_available(&test) {
        return;
    }
    let (file, archive, id) = {
        let _g = lock();
        dist_quine(platform_name)
    };
    assert!(
        file.len() <= QUINE_MAX,
        "the {platform_name} quine has {} bytes, over {QUINE_MAX}",
        file.len()
    );
    assert_eq!(check_archive(&archive, &file, platform_name), id);
    // A copy: other tests' dist runs rewrite target/dist.
    let path = std::env::temp_dir().join(format!(
        "hello-quine-test-{}-{}",
        std::process::id(),
        platform.dir_name()
    ));
    std::fs::write(&path, &file).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = Command::new(&qemu);
    if let Some(cpu) = platform.qemu_cpu {
        cmd.args(["-cpu", cpu]);
    }
    let out = cmd.arg(&path).stdin(Stdio::null()).output().unwrap();
    let what = format!("{} {}", qemu.display(), path.display());
    assert_prints(&out, &archive, &what);
    let _ = std::fs::remove_file(&path);

    // Under this run's own tag: loaded as it is, the image would take
    // hello:quine, which other checkouts' dist gives the host's.
    let own = own_tag(&format!("quine-{}", platform.dir_name()));
    assert_eq!(
        docker_load_as_own(&out.stdout, &own),
        id,
        "the {platform_name} image's ID is sha256(config)"
    );
    let arch = docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Os}}/{{.Architecture}}{{with .Variant}}/{{.}}{{end}}",
        &own,
    ]);
    assert_eq!(String::from_utf8_lossy(&arch).trim(), platform_name);
    let again = docker_run(&own, &["--platform", platform_name]);
    assert_prints(
        &again,
        &archive,
        &format!("docker run --platform {platform_name} {own}"),
    );
    docker_ok(&["rmi", &own]);
}

/// One `#[test]` per platform the quine is built for but amd64;
/// `every_built_platform_has_its_test` checks the list.
macro_rules! platforms {
    ($($name:ident: $platform:literal,)*) => {
        $(#[test]
        fn $name() {
            quine_on($platform);
        })*
        const TESTED: &[&str] = &[$($platform),*];
    };
}

platforms! {
    quine_on_linux_386: "linux/386",
    quine_on_linux_arm64: "linux/arm64",
    quine_on_linux_arm_v7: "linux/arm/v7",
    quine_on_linux_arm_v6: "linux/arm/v6",
    quine_on_linux_arm_v5: "linux/arm/v5",
    quine_on_linux_riscv64: "linux/riscv64",
    quine_on_linux_s390x: "linux/s390x",
    quine_on_linux_ppc64le: "linux/ppc64le",
}

#[test]
fn every_built_platform_has_its_test() {
    let built: Vec<&str> = Program::Quine
        .platforms()
        .map(|p| p.docker)
        .filter(|&p| p != "linux/amd64")
        .collect();
    assert_eq!(TESTED, built, "add the new platform's test to platforms!");
}
