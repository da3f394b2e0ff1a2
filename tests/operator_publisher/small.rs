//! Issue 12 item 9, the small things that cost an operator time: a passphrase file only its
//! owner reads, the `openssl enc -d` line for the `--pass` given, short passphrases, `-o -`, each
//! program naming itself, `new --list` whole, progress with a percentage and an ETA.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::support::{ITER, PASS, bundle, personality, run, scratch, tool};

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Before: `keygen --passphrase` only printed (a `> pass.txt` left it world-readable).
#[test]
fn keygen_writes_a_passphrase_file_only_its_owner_reads() {
    let tmp = scratch();
    let file = tmp.path().join("pass.txt");
    let keygen_to = |out: &Path, extra: &[&str]| {
        run(bundle()
            .args(["keygen", "--passphrase", "-o"])
            .arg(out)
            .args(extra))
    };
    keygen_to(&file, &[])
        .ok()
        .stderr_has("mode 0600")
        .stderr_has(&format!("--pass file:{}", file.display()));
    assert_eq!(mode_of(&file), 0o600);
    let first = fs::read_to_string(&file).unwrap();
    assert_eq!(first.trim_end().len(), 43, "{first:?}");
    keygen_to(&file, &[]).code(1).stderr_has("already exists");
    assert_eq!(fs::read_to_string(&file).unwrap(), first);
    keygen_to(&file, &["--force"]).ok();
    assert_ne!(fs::read_to_string(&file).unwrap(), first);
    assert_eq!(mode_of(&file), 0o600);
    // `-o -` is stdout; a key pair is never written to stdout.
    let out = keygen_to(Path::new("-"), &[]);
    out.ok();
    assert_eq!(out.stdout.trim_end().len(), 43, "{out}");
    run(bundle().args(["keygen", "--unencrypted", "-s", "-"]))
        .code(1)
        .stderr_has("-s - is refused");
    // -o is for the passphrase only: nothing is made.
    run(bundle()
        .args(["keygen", "--unencrypted", "-o", "x"])
        .current_dir(tmp.path()))
    .code(1)
    .stderr_has("-o is for --passphrase");
    assert!(!tmp.path().join("bundle.key").exists());
}

/// Before: the printed line always said `-pass env:BUNDLE_PASSPHRASE`, whatever `--pass` was, and
/// a short passphrase went by without a word.
#[test]
fn pack_prints_the_open_line_for_the_pass_given_and_warns_on_a_short_passphrase() {
    let tmp = scratch();
    let dir = personality(tmp.path());
    let pass_file = tmp.path().join("pass.txt");
    fs::write(&pass_file, format!("{PASS}\n")).unwrap();
    let file = tmp.path().join("shop.bundle");
    let packed = run(bundle()
        .arg("pack")
        .arg(&dir)
        .arg("-o")
        .arg(&file)
        .args(["--iter", ITER, "--pass"])
        .arg(format!("file:{}", pass_file.display())));
    packed.ok();
    assert!(!packed.stderr.contains("shorter than"), "{packed}");
    let line = packed
        .stdout
        .lines()
        .find(|l| l.contains("openssl enc -d"))
        .unwrap_or_else(|| panic!("no openssl line{packed}"))
        .trim()
        .to_string();
    assert!(
        line.contains(&format!("-pass file:{}", pass_file.display())),
        "{line}"
    );
    // The line runs as printed, with stock tools.
    let opened = tmp.path().join("opened");
    fs::create_dir(&opened).unwrap();
    run(tool("bash")
        .args(["-o", "pipefail", "-c", &line])
        .current_dir(&opened))
    .ok();
    assert!(opened.join("start-up-bundle/20-web/start").is_file());

    // pass:TEXT is never printed back; the line names a variable instead. 5 characters: warned.
    let short = run(bundle()
        .arg("pack")
        .arg(&dir)
        .arg("-o")
        .arg(tmp.path().join("short.bundle"))
        .args(["--iter", ITER, "--pass", "pass:abcde"]));
    short
        .ok()
        .stdout_has("-pass env:BUNDLE_PASSPHRASE")
        .stderr_has("shorter than 16 characters");
    assert!(!short.stdout.contains("abcde"), "{short}");
    // -o - would stream a file that cannot be signed or placed whole: refused, nothing written.
    let before: Vec<_> = fs::read_dir(tmp.path()).unwrap().collect();
    run(bundle()
        .arg("pack")
        .arg(&dir)
        .args(["-o", "-", "--pass", "pass:abcde"]))
    .code(1)
    .stderr_has("-o - is refused");
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), before.len());
}

/// `startup-bundle` (the name for machines where Bundler owns `bundle`) names itself in every
/// message, clap's included, and a usage mistake is exit 1, never clap's 2 (our "fetch failed").
#[test]
fn each_program_names_itself_and_usage_errors_exit_1() {
    let tmp = scratch();
    let other = || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_startup-bundle"));
        cmd.env_remove("BUNDLE_PASSPHRASE")
            .stdin(std::process::Stdio::null());
        cmd
    };
    run(other().args(["pack", "--no-such-flag"]))
        .code(1)
        .stderr_has("startup-bundle: error: unexpected argument '--no-such-flag'");
    run(other()
        .arg("inspect")
        .arg(tmp.path().join("missing.bundle"))
        .args(["--pass", "pass:x"]))
    .code(1)
    .stderr_has("startup-bundle: error: cannot use")
    .stderr_has("hint:");
    run(bundle().args(["sign"]))
        .code(1)
        .stderr_has("bundle: error: the following required arguments were not provided");
    run(other().arg("--version"))
        .ok()
        .stdout_has("startup-bundle");
}

/// Before: `new --list` showed the first line of each wrapped paragraph, cut mid-sentence.
#[test]
fn new_list_shows_whole_first_sentences() {
    let listed = run(bundle().args(["new", "--list"]));
    listed.ok();
    for (name, end) in [
        ("hello", "and no library modules."),
        ("dns", "in tinydns-data format."),
    ] {
        assert!(
            listed
                .stdout
                .lines()
                .any(|l| l.starts_with(name) && l.ends_with(end)),
            "{name}: {listed}"
        );
    }
}

/// Before: a spinner with a byte count only. With a total (pack knows its content bytes), a bar
/// with a percentage and an ETA, on a terminal only (`script` gives the command one).
#[test]
fn pack_shows_percentage_and_eta_on_a_terminal_only() {
    let tmp = scratch();
    let dir = personality(tmp.path());
    let line = format!(
        "{} pack {} -o {} --iter {ITER} --pass env:SB_PASS",
        env!("CARGO_BIN_EXE_bundle"),
        dir.display(),
        tmp.path().join("tty.bundle").display()
    );
    let on_tty = run(tool("script")
        .args(["-qec", &line, "/dev/null"])
        .env("SB_PASS", PASS));
    on_tty.ok();
    assert!(
        on_tty.stdout.contains("% 0 B/") && on_tty.stdout.contains("left)"),
        "{on_tty}"
    );
    let piped = run(&mut crate::support::pack_command(
        &dir,
        &tmp.path().join("piped.bundle"),
    ));
    piped.ok();
    assert!(!piped.stderr.contains('%'), "{piped}");
}
