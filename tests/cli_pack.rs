//! `bundle check|pack|unpack|inspect|keygen` as a user runs them, against the real `openssl` and GNU
//! `tar`, both ways.

use std::fs;
use std::path::Path;

use crate::support::{
    ITER, Mode, PASS, bundle, pack, pack_command, personality, run, scratch, seed_bundle, tool,
    write,
};

/// `openssl enc -d` with the test passphrase: the plaintext payload, written next to `file`.
fn openssl_decrypt(file: &Path, flags: &[&str]) -> Vec<u8> {
    let plain = file.with_extension("plain");
    run(tool("openssl")
        .args(["enc", "-d"])
        .args(flags)
        .arg("-in")
        .arg(file)
        .arg("-out")
        .arg(&plain)
        .args(["-pass", "env:SB_PASS"])
        .env("SB_PASS", PASS))
    .ok();
    fs::read(&plain).unwrap()
}

#[test]
fn openssl_and_tar_open_what_pack_writes() {
    let tmp = scratch();
    let dir = personality(tmp.path());
    let file = tmp.path().join("shop.bundle");
    let ran = run(&mut pack_command(&dir, &file));
    ran.ok()
        .stdout_has("openssl enc -d -aes-256-cbc -pbkdf2 -iter 1000 -md sha256");
    assert!(
        !ran.stdout.contains(PASS) && !ran.stderr.contains(PASS),
        "passphrase printed{ran}"
    );

    // The exact line pack printed opens the bundle with stock tools, reading the passphrase from
    // where pack was told to (`--pass env:SB_PASS`).
    let line = ran
        .stdout
        .lines()
        .find(|l| l.contains("openssl enc -d"))
        .unwrap()
        .trim()
        .to_string();
    let out = tmp.path().join("by-openssl");
    fs::create_dir(&out).unwrap();
    run(tool("bash")
        .arg("-c")
        .arg(format!("set -o pipefail; {line}"))
        .current_dir(&out)
        .env("SB_PASS", PASS))
    .ok();
    let top = out.join("start-up-bundle");
    assert_eq!(
        fs::read_to_string(top.join("20-web/public/index.html")).unwrap(),
        "<h1>hello</h1>\n"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(top.join("bundle.json")).unwrap()).unwrap();
    assert_eq!(manifest["name"], "shop");
    assert_eq!(manifest["version"], "1.2.3");
    assert_eq!(manifest["modules"][0]["name"], "10-db");
    assert_eq!(manifest["modules"][1]["requires"][0], "10-db");
}

#[test]
fn every_cipher_digest_and_armour_opens_with_openssl() {
    let tmp = scratch();
    let dir = personality(tmp.path());
    let cases: &[&[&str]] = &[
        &["--cipher", "aes-128-cbc", "--md", "sha512"],
        &["--cipher", "aes-192-cbc", "--md", "sha1", "--base64"],
        &["--md", "md5", "--base64"],
        &["--compression", "none"],
    ];
    for (i, flags) in cases.iter().enumerate() {
        let file = tmp.path().join(format!("b{i}"));
        pack(&dir, &file, flags);
        let cipher = flags
            .iter()
            .position(|f| *f == "--cipher")
            .map_or("aes-256-cbc", |p| flags[p + 1]);
        let md = flags
            .iter()
            .position(|f| *f == "--md")
            .map_or("sha256", |p| flags[p + 1]);
        let mut openssl_flags = vec![
            format!("-{cipher}"),
            "-pbkdf2".into(),
            "-iter".into(),
            ITER.into(),
            "-md".into(),
            md.into(),
        ];
        if flags.contains(&"--base64") {
            openssl_flags.push("-a".into());
        }
        let refs: Vec<&str> = openssl_flags.iter().map(String::as_str).collect();
        let payload = openssl_decrypt(&file, &refs);
        let tar_flag = if flags.contains(&"--compression") {
            "-t"
        } else {
            "-tz"
        };
        let listing = tmp.path().join(format!("payload{i}"));
        fs::write(&listing, &payload).unwrap();
        let ran = run(tool("tar").arg(tar_flag).arg("-f").arg(&listing));
        ran.ok()
            .stdout_has("start-up-bundle/20-web/public/index.html");
    }
}

#[test]
fn two_packs_decrypt_to_identical_payloads() {
    let tmp = scratch();
    let dir = personality(tmp.path());
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    pack(&dir, &a, &[]);
    pack(&dir, &b, &["--threads", "1"]);
    assert_ne!(
        fs::read(&a).unwrap(),
        fs::read(&b).unwrap(),
        "the salt must differ"
    );
    let flags = ["-aes-256-cbc", "-pbkdf2", "-iter", ITER, "-md", "sha256"];
    assert_eq!(openssl_decrypt(&a, &flags), openssl_decrypt(&b, &flags));
}

#[test]
fn unpack_and_inspect_a_bundle_made_with_tar_and_openssl() {
    let tmp = scratch();
    let src = tmp.path().join("src");
    write(
        &src,
        "start-up-bundle/10-java/start",
        "echo java\n",
        Mode::Plain,
    );
    write(
        &src,
        "start-up-bundle/20-rabbitmq/start",
        "echo rabbit\n",
        Mode::Plain,
    );
    let file = seed_bundle(&src, &tmp.path().join("seed.enc"));
    let legacy = ["--legacy-kdf", "--md", "md5", "--pass", "env:SB_PASS"];
    let ran = run(bundle()
        .arg("inspect")
        .arg(&file)
        .args(legacy)
        .arg("--json")
        .env("SB_PASS", PASS));
    ran.ok();
    let report: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(report["manifest"], false);
    assert_eq!(report["modules"][0]["name"], "10-java");
    assert_eq!(report["modules"][1]["name"], "20-rabbitmq");

    let out = tmp.path().join("out");
    run(bundle()
        .arg("unpack")
        .arg(&file)
        .arg("-C")
        .arg(&out)
        .args(legacy)
        .env("SB_PASS", PASS))
    .ok();
    assert_eq!(
        fs::read_to_string(out.join("start-up-bundle/20-rabbitmq/start")).unwrap(),
        "echo rabbit\n"
    );
    // A second unpack into the same place refuses to replace what is there.
    run(bundle()
        .arg("unpack")
        .arg(&file)
        .arg("-C")
        .arg(&out)
        .args(legacy)
        .env("SB_PASS", PASS))
    .code(1)
    .stderr_has("already exists");
}

#[test]
fn wrong_passphrase_truncation_and_bit_flips_exit_3_and_unpack_nothing() {
    let tmp = scratch();
    let dir = personality(tmp.path());
    let good = tmp.path().join("good");
    pack(&dir, &good, &[]);
    let bytes = fs::read(&good).unwrap();
    let truncated = tmp.path().join("truncated");
    fs::write(&truncated, &bytes[..bytes.len() - 7]).unwrap();
    let flipped = tmp.path().join("flipped");
    let mut f = bytes.clone();
    let mid = f.len() / 2;
    f[mid] ^= 0x20;
    fs::write(&flipped, &f).unwrap();
    let cases = [
        (&good, "not the passphrase"),
        (&truncated, PASS),
        (&flipped, PASS),
    ];
    for (file, pass) in cases {
        let out = tmp.path().join("out");
        let ran = run(bundle()
            .arg("unpack")
            .arg(file)
            .arg("-C")
            .arg(&out)
            .args(["--iter", ITER, "--pass", "env:P"])
            .env("P", pass));
        ran.code(3).stderr_has("--iter");
        assert!(!ran.stderr.contains(PASS), "passphrase in error{ran}");
        let left: Vec<_> = fs::read_dir(&out).map(|d| d.collect()).unwrap_or_default();
        assert!(left.is_empty(), "unpack left {left:?}{ran}");
    }
    // The wrong iteration count is the same opaque failure.
    let out = tmp.path().join("out2");
    run(bundle()
        .arg("unpack")
        .arg(&good)
        .arg("-C")
        .arg(&out)
        .args(["--iter", "999", "--pass", "env:P"])
        .env("P", PASS))
    .code(3);
}

#[test]
fn pack_never_overwrites_without_force_and_leaves_no_partial_file() {
    let tmp = scratch();
    let dir = personality(tmp.path());
    let file = tmp.path().join("b");
    fs::write(&file, "precious").unwrap();
    run(&mut pack_command(&dir, &file))
        .code(1)
        .stderr_has("--force");
    assert_eq!(fs::read_to_string(&file).unwrap(), "precious");
    pack(&dir, &file, &["--force"]);
    assert_ne!(fs::read(&file).unwrap(), b"precious");

    // A personality with problems: exit 1, every problem listed, no output at all.
    write(
        &dir,
        "30-bad/start",
        "#!/bin/sh\r\necho crlf\r\n",
        Mode::Exec,
    );
    write(&dir, "40-orphan/start", "echo x\n", Mode::Plain);
    write(
        &dir,
        "40-orphan/module.toml",
        "requires = [\"nowhere\"]\n",
        Mode::Plain,
    );
    let bad_out = tmp.path().join("bad");
    let ran = run(&mut pack_command(&dir, &bad_out));
    ran.code(1).stderr_has("30-bad").stderr_has("nowhere");
    let names: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(!names.iter().any(|n| n.to_string_lossy().contains("bad") || n.to_string_lossy().contains("partial")), "{names:?}");
}

#[test]
fn check_lists_problems_and_usage_errors_exit_1() {
    let tmp = scratch();
    let dir = personality(tmp.path());
    run(bundle().arg("check").arg(&dir))
        .ok()
        .stdout_has("10-db, 20-web");
    write(
        &dir,
        "10-db/module.toml",
        "requires = [\"20-web\"]\n",
        Mode::Plain,
    );
    run(bundle().arg("check").arg(&dir))
        .code(1)
        .stderr_has("10-db → 20-web → 10-db");
    // Pack refuses the cycle with the same message, and writes nothing.
    let out = tmp.path().join("cycle.bundle");
    run(&mut pack_command(&dir, &out))
        .in_dir(tmp.path())
        .code(1)
        .stderr_has("10-db → 20-web → 10-db");
    assert!(!out.exists(), "pack wrote a bundle with a requires cycle");
    run(bundle().arg("no-such-command")).code(1);
    run(bundle().args(["pack", "x", "-o", "y", "--legacy-kdf", "--iter", "5"]))
        .code(1)
        .stderr_has("--iter");
}

#[test]
fn keygen_prints_a_fresh_strong_passphrase() {
    let a = run(bundle().args(["keygen", "--passphrase"]));
    let b = run(bundle().args(["keygen", "--passphrase"]));
    a.ok();
    assert_eq!(a.stdout.trim().len(), 43);
    assert_ne!(a.stdout, b.stdout);
}
