//! Issue 11: one user-data for x86_64 and aarch64 instances. `--bootstrap-url …-{arch}` with a
//! `--bootstrap-file` per architecture, rendered and run as root into scratch folders against a
//! bundle served on 127.0.0.1; `uname -m` (a stand-in earlier on PATH for the other answers) picks
//! the file, and an architecture without a pin stops before anything is downloaded.

use std::fs;
use std::path::Path;

use crate::support::{Mode, Ran, bootstrap, bundle, run, write};
use crate::userdata::{Setup, setup, shellcheck};

/// `e_machine` of the ELF header (System V ABI): where it sits, and the two we build for.
const E_MACHINE: usize = 18;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

/// A 64-byte little-endian 64-bit ELF header for `machine`: enough for `userdata` to read the
/// architecture from (the pin only hashes the file); no instance could run it.
fn elf_header(machine: u16) -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // ELFCLASS64
    h[5] = 1; // ELFDATA2LSB
    h[6] = 1; // EV_CURRENT
    h[16] = 2; // ET_EXEC
    h[E_MACHINE..E_MACHINE + 2].copy_from_slice(&machine.to_le_bytes());
    h
}

/// The architecture this test's `bundle-bootstrap` was built for, by its ELF header, and the
/// other one.
fn built_and_other() -> (&'static str, &'static str, u16) {
    let built = fs::read(env!("CARGO_BIN_EXE_bundle-bootstrap")).unwrap();
    match u16::from_le_bytes([built[E_MACHINE], built[E_MACHINE + 1]]) {
        EM_X86_64 => ("x86_64", "aarch64", EM_AARCH64),
        EM_AARCH64 => ("aarch64", "x86_64", EM_X86_64),
        other => panic!("bundle-bootstrap was built for machine {other}"),
    }
}

/// Puts a stand-in `uname` that prints `machine` for `-m` first on the script's PATH.
fn fake_uname(s: &Setup, machine: &str) {
    write(
        &s.tmp.path().join("fakebin"),
        "uname",
        &format!(
            "#!/bin/sh\n[ \"$1\" = -m ] && {{ echo {machine}; exit 0; }}\nexec /bin/uname \"$@\"\n"
        ),
        Mode::Exec,
    );
}

fn downloads(s: &Setup) -> Vec<String> {
    s.server
        .requests()
        .iter()
        .map(|r| r.path.clone())
        .filter(|p| p.starts_with("/bundle-bootstrap"))
        .collect()
}

/// Renders the user-data with one URL for both architectures, pinned from the two files.
fn render_both(s: &Setup, other_file: &Path) -> Ran {
    let url = s.server.url("/bundle-bootstrap-{arch}");
    s.render(&[
        "--bootstrap-url",
        &url,
        "--bootstrap-file",
        env!("CARGO_BIN_EXE_bundle-bootstrap"),
        "--bootstrap-file",
        other_file.to_str().unwrap(),
    ])
}

#[test]
fn one_user_data_boots_either_architecture_and_stops_on_an_unknown_one() {
    let s = setup();
    let (built, other, other_machine) = built_and_other();
    let binary = fs::read(env!("CARGO_BIN_EXE_bundle-bootstrap")).unwrap();
    s.server.put(&format!("/bundle-bootstrap-{built}"), binary);
    let other_file = s.tmp.path().join(format!("bundle-bootstrap-{other}"));
    fs::write(&other_file, elf_header(other_machine)).unwrap();
    s.server.put(
        &format!("/bundle-bootstrap-{other}"),
        fs::read(&other_file).unwrap(),
    );

    let rendered = render_both(&s, &other_file);
    rendered.ok().stdout_has("ARCH=$(uname -m)");
    shellcheck(&rendered.stdout, s.tmp.path());
    // This machine's architecture: the real build is downloaded, checked and boots the bundle.
    s.execute(&rendered.stdout)
        .ok()
        .stdout_has("installed: startup-bundle.service");
    assert_eq!(s.trace().len(), 4);
    assert_eq!(downloads(&s), [format!("/bundle-bootstrap-{built}")]);
    run(bootstrap().arg("--version")).ok();

    // The other architecture, under the name some systems give it: its own file is downloaded and
    // passes its pin (this stand-in cannot run, so the script fails after the check).
    let alias = if other == "aarch64" { "arm64" } else { "amd64" };
    fake_uname(&s, alias);
    let ran = s.execute(&rendered.stdout);
    assert_ne!(ran.code, Some(0), "{ran}");
    assert!(!ran.stdout.contains("refusing"), "{ran}");
    assert_eq!(
        downloads(&s).last().unwrap(),
        &format!("/bundle-bootstrap-{other}")
    );

    // An architecture without a pin: stopped before any download, naming the architecture.
    let before = s.server.requests().len();
    fake_uname(&s, "riscv64");
    s.execute(&rendered.stdout)
        .code(1)
        .stdout_has("this instance is riscv64")
        .stdout_has("pins bundle-bootstrap for x86_64 and aarch64 only");
    assert_eq!(
        s.server.requests().len(),
        before,
        "something was downloaded"
    );
    assert_eq!(s.trace().len(), 4);
}

#[test]
fn bootstrap_files_must_be_elf_builds_for_x86_64_or_aarch64() {
    let s = setup();
    let url = s.server.url("/p.bundle");
    let t = s.tmp.path();
    let script = t.join("not-elf");
    fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let riscv = t.join("riscv");
    fs::write(&riscv, elf_header(243)).unwrap();
    let render = |file: &Path| {
        run(bundle()
            .args(["userdata", &url, "--pass-from", "ssm:/p"])
            .args(["--bootstrap-url", "https://h/bundle-bootstrap-{arch}"])
            .arg("--bootstrap-file")
            .arg(file))
    };
    render(&script)
        .code(1)
        .stderr_has("not-elf: not an ELF executable");
    render(&riscv).code(1).stderr_has("machine 243 (riscv)");
    render(&t.join("missing"))
        .code(1)
        .stderr_has("cannot read it");
}

#[test]
fn pins_must_fit_the_bootstrap_url() {
    let s = setup();
    let url = s.server.url("/p.bundle");
    let hex = "ab".repeat(32);
    let render = |boot_url: &str, pins: &[String]| {
        let mut cmd = bundle();
        cmd.args([
            "userdata",
            &url,
            "--pass-from",
            "ssm:/p",
            "--bootstrap-url",
            boot_url,
        ]);
        for pin in pins {
            cmd.args(["--bootstrap-sha256", pin]);
        }
        run(&mut cmd)
    };
    let arch_url = "https://h/bundle-bootstrap-{arch}";
    let both = [format!("x86_64={hex}"), format!("arm64={hex}")];
    let ok = render(arch_url, &both);
    ok.ok()
        .stdout_has("fetch https://h/bundle-bootstrap-\"$ARCH\" \"$tmp\"")
        .stdout_has(&format!("aarch64) BOOTSTRAP_SHA256={hex} ;;"));
    shellcheck(&ok.stdout, s.tmp.path());
    // A plain HEX cannot pin a URL that differs by architecture …
    render(arch_url, std::slice::from_ref(&hex))
        .code(1)
        .stderr_has("ARCH=HEX");
    // … two pins cannot fit a URL that serves one file …
    render("https://h/bundle-bootstrap", &both)
        .code(1)
        .stderr_has("put {arch} in the URL");
    // … nor two for one architecture, nor anything that is not 64 hex digits.
    render(arch_url, &[both[0].clone(), both[0].clone()])
        .code(1)
        .stderr_has("two bundle-bootstrap pins for x86_64");
    for bad in [
        "zzz",
        &format!("x86_64={}", &hex[1..]),
        &format!("sparc={hex}"),
    ] {
        render(arch_url, &[bad.to_string()]).code(1).stderr_has(bad);
    }
    // A single-architecture pin with a plain URL: other instances stop, naming theirs.
    render("https://h/bundle-bootstrap", &[both[0].clone()])
        .ok()
        .stdout_has("x86_64) BOOTSTRAP_SHA256=");
}
