//! Issue 12, the operator's path on the publisher's side: `bundle sign` reads what it signs,
//! `verify`/`inspect` of URLs and pointers, `releases`, `publish --from`, and the small things that
//! cost an operator time. Each test fails on the code before the fix it names. The publisher's
//! credentials, the way the AWS tools find them, are in [`credentials`]; the small things that
//! cost an operator time (item 9) in [`small`].

mod credentials;
mod small;

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::{
    ITER, Key, Mode, PASS, Pass, Ran, boot, bundle, keygen, pack, personality, run, scratch,
    seed_bundle, sha256_hex, tool, write,
};

/// `bundle sign FILE -s KEY --pass env:SB_PASS`, plus `extra`.
fn sign(file: &Path, key: &Key, extra: &[&str]) -> Ran {
    run(bundle()
        .arg("sign")
        .arg(file)
        .arg("-s")
        .arg(&key.secret)
        .args(["--pass", "env:SB_PASS"])
        .env("SB_PASS", PASS)
        .args(extra))
}

fn sig_of(file: &Path) -> PathBuf {
    PathBuf::from(format!("{}.minisig", file.display()))
}

/// The trusted comment of a `.minisig`, as the reference `minisign -V` prints it.
fn signed_comment(file: &Path, key: &Key) -> String {
    run(tool("minisign")
        .args(["-V", "-m"])
        .arg(file)
        .arg("-p")
        .arg(&key.public))
    .ok()
    .stdout
    .clone()
}

/// Before: `bundle sign` signed `name=<file stem> version=0 iter=600000` without opening the file,
/// so an instance decrypted with 600000 rounds a bundle packed with 1000 and blamed `--iter`.
#[test]
fn sign_reads_name_version_and_parameters_from_the_bundle_it_opens() {
    let tmp = scratch();
    let key = keygen(tmp.path(), "k");
    // Packed from `shop` 1.2.3 (bundle.toml), saved under another file name.
    let file = tmp.path().join("upload-7.bundle");
    pack(&personality(tmp.path()), &file, &["--md", "sha512"]);
    sign(
        &file,
        &key,
        &["--iter", ITER, "--md", "sha512", "--seq", "9"],
    )
    .ok()
    .stdout_has("(shop 1.2.3 seq 9)");
    let comment = signed_comment(&file, &key);
    for fact in [
        "name=shop ",
        "version=1.2.3 ",
        "md=sha512 ",
        &format!("iter={ITER}"),
        &format!("sha256={}", sha256_hex(&fs::read(&file).unwrap())),
    ] {
        assert!(comment.contains(fact), "{fact} not in {comment}");
    }
    // An instance needs only the passphrase and the key: the signed parameters open it.
    boot(&file)
        .pass(Pass::Env(PASS))
        .state_dir(&tmp.path().join("state"))
        .pubkey(&key.b64)
        .args(["--name", "shop"])
        .run()
        .ok()
        .stdout_has("[20-web] web started");
}

/// Parameters or a passphrase that do not open the file are never signed: exit 3, nothing written.
#[test]
fn sign_refuses_what_does_not_open_and_writes_nothing() {
    let tmp = scratch();
    let key = keygen(tmp.path(), "k");
    let file = tmp.path().join("shop.bundle");
    pack(&personality(tmp.path()), &file, &[]);
    sign(&file, &key, &["--iter", "2000"])
        .code(3)
        .stderr_has("cannot decrypt")
        .stderr_has("hint:");
    assert!(!sig_of(&file).exists(), "a signature was written");
    run(bundle()
        .arg("sign")
        .arg(&file)
        .arg("-s")
        .arg(&key.secret)
        .args(["--iter", ITER, "--pass", "env:WRONG"])
        .env("WRONG", "not the passphrase"))
    .code(3);
    assert!(!sig_of(&file).exists(), "a signature was written");
    // A flag that contradicts bundle.json is refused; one that restates it is fine.
    sign(&file, &key, &["--iter", ITER, "--name", "web"])
        .code(1)
        .stderr_has("--name \"web\" is not what the bundle says")
        .stderr_has("hint:");
    assert!(!sig_of(&file).exists(), "a signature was written");
    sign(&file, &key, &["--iter", ITER, "--version", "1.2.3"]).ok();
}

/// A bundle made by hand (the 2009 seed's `tar | openssl enc -md md5`) has no bundle.json: it is
/// signed under the name an instance booting it expects (the file's stem) and its short sha256,
/// and the operator is told so.
#[test]
fn a_hand_made_bundle_is_signed_by_file_name_and_short_sha_and_says_so() {
    let tmp = scratch();
    let key = keygen(tmp.path(), "k");
    let src = tmp.path().join("src");
    write(
        &src,
        "start-up-bundle/10-hello/start",
        "#!/bin/sh\necho hello from the seed\n",
        Mode::Exec,
    );
    let file = seed_bundle(&src, &tmp.path().join("seed.enc"));
    let sha = sha256_hex(&fs::read(&file).unwrap());
    sign(&file, &key, &["--legacy-kdf", "--md", "md5"])
        .ok()
        .stderr_has("has no bundle.json")
        .stderr_has(&format!(
            "name seed (the file's name), version {}",
            &sha[..12]
        ));
    let comment = signed_comment(&file, &key);
    assert!(comment.contains("kdf=evp-bytestokey md=md5"), "{comment}");
    boot(&file)
        .pass(Pass::Env(PASS))
        .state_dir(&tmp.path().join("state"))
        .pubkey(&key.b64)
        .run()
        .ok()
        .stdout_has("hello from the seed");
    // With --name, the name is the operator's.
    sign(
        &file,
        &key,
        &["--legacy-kdf", "--md", "md5", "--name", "hello", "--force"],
    )
    .ok()
    .stderr_has("name hello (--name)");
}

/// `bundle verify TARGET --pubkey KEY`, plus `extra`.
fn verify(target: &str, key: &Key, extra: &[&str]) -> Ran {
    run(bundle()
        .arg("verify")
        .arg(target)
        .args(["--pubkey", &key.b64])
        .args(extra))
}

/// `bundle inspect TARGET --pass env:SB_PASS`, plus `extra`.
fn inspect(target: &str, extra: &[&str]) -> Ran {
    run(bundle()
        .arg("inspect")
        .arg(target)
        .args(["--pass", "env:SB_PASS"])
        .env("SB_PASS", PASS)
        .args(extra))
}

/// Before: `verify` and `inspect` took a local file only, so checking what instances download meant
/// a curl by hand and a guess at the pointer's release. Now they fetch as an instance does, and
/// `verify` of a pointer checks its signature over the release it names, with the instance's policy.
#[test]
fn verify_and_inspect_follow_urls_and_pointers_as_an_instance_would() {
    let tmp = scratch();
    let key = keygen(tmp.path(), "team");
    let other = keygen(tmp.path(), "other");
    let file = tmp.path().join("shop.bundle");
    crate::support::pack_signed(&personality(tmp.path()), &file, &key, &["--seq", "10"]).ok();
    let dest = tmp.path().join("www");
    run(bundle().arg("publish").arg(&file).arg("--to").arg(&dest)).ok();
    let sha = sha256_hex(&fs::read(&file).unwrap());
    let server = startup_bundle::serve::Server::start(&dest).unwrap();
    let pointer = server.url("shop.latest");
    let release = server.url(&format!("shop/{sha}.bundle"));

    verify(&pointer, &key, &[])
        .ok()
        .stdout_has("signature good")
        .stdout_has("seq:      10")
        .stderr_has("points at shop 1.2.3 seq 10");
    verify(&pointer, &other, &[])
        .code(3)
        .stderr_has("not a given --pubkey");
    // A local pointer, as a folder destination holds it.
    verify(&dest.join("shop.latest").to_string_lossy(), &key, &[]).ok();
    // The release by its own URL: an instance booting it expects the name the URL gives.
    verify(&release, &key, &[])
        .code(3)
        .stderr_has(&format!("this instance boots \"{sha}\""));
    verify(&release, &key, &["--name", "shop"]).ok();

    // No --iter: the pointer's parameters open the release it names; the pointer is said to be
    // unverified.
    inspect(&pointer, &[])
        .ok()
        .stdout_has("shop 1.2.3")
        .stdout_has("20-web")
        .stderr_has("not verified here");
    inspect(&release, &["--iter", ITER])
        .ok()
        .stdout_has("shop 1.2.3");
    inspect(&release, &[]).code(3);

    // The release under the pointer replaced by other bytes: refused, by URL.
    let stored = dest.join(format!("shop/{sha}.bundle"));
    fs::write(&stored, b"Salted__12345678 something else entirely").unwrap();
    verify(&pointer, &key, &[])
        .code(3)
        .stderr_has(&format!("{release} has sha256"));
    inspect(&pointer, &[]).code(3).stderr_has("the pointer");

    // A URL with nothing beside it is not signed (exit 3), and a missing one is a fetch error.
    fs::copy(&file, dest.join("plain.bundle")).unwrap();
    verify(&server.url("plain.bundle"), &key, &["--retry-for", "1s"])
        .code(3)
        .stderr_has("is not signed");
    verify(&server.url("gone.bundle"), &key, &["--retry-for", "1s"]).code(2);

    // Before: a tampered download was named by its private temp file (`…/.fetch-….part`).
    let mut flipped = fs::read(&file).unwrap();
    flipped[100] ^= 1;
    fs::write(dest.join("flipped.bundle"), flipped).unwrap();
    fs::copy(sig_of(&file), sig_of(&dest.join("flipped.bundle"))).unwrap();
    let url = server.url("flipped.bundle");
    let said = verify(&url, &key, &[]);
    said.code(3)
        .stderr_has(&format!("bad signature: {url} or its signature"));
    let booted = boot(&url)
        .pass(Pass::Env(PASS))
        .state_dir(&tmp.path().join("state"))
        .pubkey(&key.b64)
        .run();
    booted
        .code(3)
        .stderr_has(&format!("bad signature: {url} or its signature"));
    for ran in [&said, &booted] {
        assert!(!ran.stderr.contains(".part"), "{ran}");
    }
}

/// Packs `version` of `shop` with `extra` signing flags, publishes it to `dest`; returns its sha256.
fn publish_release(root: &Path, key: &Key, dest: &Path, version: &str, extra: &[&str]) -> String {
    let file = root.join(format!("shop-{version}-{}.bundle", extra.join("-")));
    crate::support::pack_signed(&crate::publish::versioned(root, version), &file, key, extra).ok();
    run(bundle().arg("publish").arg(&file).arg("--to").arg(dest)).ok();
    sha256_hex(&fs::read(&file).unwrap())
}

/// Before: `releases` of a mistyped folder printed nothing and exited 0, had no header, and showed
/// seq as bare UNIX seconds; `publish --from` took only a seq.
#[test]
fn releases_refuse_a_missing_destination_and_from_takes_a_version_or_a_sha256() {
    let tmp = scratch();
    let key = keygen(tmp.path(), "k");
    let dest = tmp.path().join("www");
    run(bundle()
        .arg("releases")
        .arg("--from")
        .arg(tmp.path().join("wwww")))
    .code(1)
    .stderr_has("wwww does not exist")
    .stderr_has("hint:");

    // 2026-01-01T00:00:00Z as seq (the default is the signing time), then a release counter.
    let old = publish_release(
        tmp.path(),
        &key,
        &dest,
        "1.0",
        &["--seq", "1767225600", "--expires", "2099-12-31"],
    );
    let new = publish_release(tmp.path(), &key, &dest, "2.0", &["--seq", "1767225700"]);
    let listed = run(bundle().arg("releases").arg("--from").arg(&dest));
    listed
        .ok()
        .stdout_has("NAME  SEQ")
        .stdout_has("2026-01-01 00:00 UTC  1.0")
        .stdout_has("2099-12-31 00:00 UTC")
        .stdout_has(&new[..12]);
    assert!(listed.stdout.starts_with("NAME"), "{listed}");

    let from = |what: &str, seq: &str| {
        run(bundle()
            .args(["publish", "--from", what, "--name", "shop", "--seq", seq])
            .arg("--key")
            .arg(&key.secret)
            .arg("--to")
            .arg(&dest))
    };
    // By version, then by a sha256 prefix: the pointer names those bytes under the new seq.
    from("1.0", "1767225800")
        .ok()
        .stdout_has("shop 1.0 seq 1767225800");
    let pointer = fs::read_to_string(dest.join("shop.latest")).unwrap();
    assert!(pointer.contains(&format!("sha256={old}")), "{pointer}");
    from(&new[..10], "1767225900").ok().stdout_has("shop 2.0");
    from("9.9", "1767226000")
        .code(1)
        .stderr_has("no release of shop has the seq, sha256 or version \"9.9\"");
    // The same version packed twice is two releases: ambiguous, named by seq (a republished
    // release is listed under the seq it was last signed with).
    publish_release(tmp.path(), &key, &dest, "2.0", &["--seq", "1767226100"]);
    from("2.0", "1767226200")
        .code(1)
        .stderr_has("names several releases of shop: seq 1767225900, 1767226100");
}
