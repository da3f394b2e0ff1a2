//! Signatures (issue 5): `bundle keygen|sign|verify|pack --sign` against the real `minisign`, both
//! ways; one-byte flips; key ids; rotation; and `bundle-bootstrap run --pubkey` end to end over HTTP
//! with rollback and expiry refusals.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::support::http::Server;
use crate::support::{
    ITER, Mode, PASS, Pass, Ran, boot, bundle, keygen, pack_command, pack_signed, personality, run,
    run_with_stdin, scratch, sha256_hex, tool, write,
};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn verify(file: &Path, keys: &[&str]) -> Ran {
    let mut cmd = bundle();
    cmd.arg("verify").arg(file);
    for k in keys {
        cmd.args(["--pubkey", k]);
    }
    run(&mut cmd)
}

/// `bundle-bootstrap run URL --pubkey …` with the passphrase only: no --iter, no --cipher.
fn signed_boot(
    url: impl AsRef<std::ffi::OsStr>,
    state: &Path,
    keys: &[&str],
    extra: &[&str],
) -> Ran {
    keys.iter()
        .fold(boot(url).pass(Pass::Env(PASS)).state_dir(state), |b, k| {
            b.pubkey(k)
        })
        .args(extra)
        .run()
}

/// A personality whose one module leaves `$BUNDLE_STATE_DIR/ran` behind: proof that it ran.
fn marker_personality(root: &Path, version: &str) -> PathBuf {
    let dir = root.join("marked");
    write(
        &dir,
        "10-mark/start",
        "touch \"$BUNDLE_STATE_DIR/ran\"\n",
        Mode::Plain,
    );
    write(
        &dir,
        "bundle.toml",
        &format!("name = \"marked\"\nversion = \"{version}\"\n"),
        Mode::Plain,
    );
    dir
}

fn sig_of(file: &Path) -> PathBuf {
    PathBuf::from(format!("{}.minisig", file.display()))
}

/// Flips one byte of a file in place.
fn flip_byte(path: &Path, at: usize) {
    let mut bytes = fs::read(path).unwrap();
    bytes[at] ^= 0x01;
    fs::write(path, bytes).unwrap();
}

/// Replaces one character of line `line` (0-based) of a text file with another one of the same
/// kind, so the file stays well-formed and only the content changes.
fn flip_char(path: &Path, line: usize, col: usize) {
    let text = fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut chars: Vec<char> = lines[line].chars().collect();
    chars[col] = match chars[col] {
        'A' => 'B',
        '9' => '8',
        c if c.is_ascii_digit() => '9',
        _ => 'A',
    };
    lines[line] = chars.into_iter().collect();
    fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// A public key with one byte of its decoded form flipped (`at`: 2..10 key id, 10..42 the key).
fn flipped_key(b64: &str, at: usize) -> String {
    let mut raw = B64.decode(b64).unwrap();
    raw[at] ^= 0x01;
    B64.encode(raw)
}

#[test]
fn our_signatures_pass_minisign_and_minisigns_pass_ours() {
    let tmp = scratch();
    let dir = personality(tmp.path());
    // Our password-sealed key, read by the reference tool with the password on stdin.
    let (public, secret) = (tmp.path().join("ours.pub"), tmp.path().join("ours.key"));
    let made = run(bundle()
        .args(["keygen", "--key-pass", "env:KEY_PASS", "-p"])
        .arg(&public)
        .arg("-s")
        .arg(&secret)
        .env("KEY_PASS", "key password"));
    made.ok();
    let file = tmp.path().join("shop.bundle");
    run(pack_command(&dir, &file)
        .arg("--sign")
        .arg(&secret)
        .args(["--key-pass", "env:KEY_PASS", "--seq", "42"])
        .env("KEY_PASS", "key password"))
    .ok()
    .stdout_has("seq 42");
    run(tool("minisign").args(["-V", "-m"]).arg(&file).arg("-p").arg(&public))
        .ok()
        .stdout_has(&format!(
            "startup-bundle v1 name=shop version=1.2.3 seq=42 sha256={} cipher=aes-256-cbc kdf=pbkdf2 md=sha256 iter={ITER}",
            sha256_hex(&fs::read(&file).unwrap())
        ));
    run_with_stdin(
        tool("minisign")
            .args(["-S", "-s"])
            .arg(&secret)
            .arg("-m")
            .arg(&file)
            .args(["-x"])
            .arg(tmp.path().join("by-minisign.minisig")),
        b"key password\n",
    )
    .ok();

    // minisign's own key and signature: good for `bundle verify`, but its trusted comment
    // (`timestamp:… file:…`) carries none of our facts, so the bootstrap refuses it.
    let (mpub, mkey) = (tmp.path().join("m.pub"), tmp.path().join("m.key"));
    run(tool("minisign")
        .args(["-G", "-W", "-p"])
        .arg(&mpub)
        .arg("-s")
        .arg(&mkey))
    .ok();
    let theirs = tmp.path().join("theirs.bundle");
    fs::copy(&file, &theirs).unwrap();
    run(tool("minisign")
        .args(["-S", "-s"])
        .arg(&mkey)
        .arg("-m")
        .arg(&theirs))
    .ok();
    verify(&theirs, &[&mpub.to_string_lossy()])
        .ok()
        .stdout_has("signature good")
        .stdout_has("timestamp:")
        .stderr_has("not a startup-bundle one");
    signed_boot(
        &theirs,
        &tmp.path().join("state"),
        &[&mpub.to_string_lossy()],
        &[],
    )
    .code(3)
    .stderr_has("not a startup-bundle one");

    // A minisign-made signature with our comment is ours in every way: `bundle verify` and the
    // bootstrap take it, with the decryption parameters it names.
    let comment = format!(
        "startup-bundle v1 name=shop version=1.2.3 seq=1 sha256={} cipher=aes-256-cbc kdf=pbkdf2 md=sha256 iter={ITER}",
        sha256_hex(&fs::read(&theirs).unwrap())
    );
    run(tool("minisign")
        .args(["-S", "-s"])
        .arg(&mkey)
        .arg("-m")
        .arg(&theirs)
        .args(["-t", &comment]))
    .ok();
    verify(&theirs, &[&mpub.to_string_lossy()])
        .ok()
        .stdout_has("seq:      1");
    // Signed for `shop` but served as `theirs`: the instance asks for the name the URL gives.
    signed_boot(
        &theirs,
        &tmp.path().join("state"),
        &[&mpub.to_string_lossy()],
        &[],
    )
    .code(3)
    .stderr_has("the signature is for the bundle \"shop\", but this instance boots \"theirs\"");
    signed_boot(
        &theirs,
        &tmp.path().join("state"),
        &[&mpub.to_string_lossy()],
        &["--name", "shop"],
    )
    .ok();
}

#[test]
fn one_byte_flips_of_bundle_signature_comment_and_key_are_refused() {
    let tmp = scratch();
    let dir = personality(tmp.path());
    let key = keygen(tmp.path(), "k");
    let file = tmp.path().join("shop.bundle");
    pack_signed(&dir, &file, &key, &[]).ok();
    let sig = sig_of(&file);
    verify(&file, &[&key.b64]).ok().stdout_has("name:     shop");

    let fresh = |name: &str| {
        let (f, s) = (
            tmp.path().join(name),
            tmp.path().join(format!("{name}.minisig")),
        );
        fs::copy(&file, &f).unwrap();
        fs::copy(&sig, &s).unwrap();
        (f, s)
    };
    // The bundle: one byte in the middle of the ciphertext.
    let (f, _) = fresh("bundle-flip");
    flip_byte(&f, 100);
    verify(&f, &[&key.b64]).code(3).stderr_has("bad signature");
    // The signature line: a character inside the Ed25519 signature.
    let (f, s) = fresh("sig-flip");
    flip_char(&s, 1, 40);
    verify(&f, &[&key.b64]).code(3).stderr_has("bad signature");
    // The trusted comment: one digit of the sequence number.
    let (f, s) = fresh("comment-flip");
    let text = fs::read_to_string(&s).unwrap();
    let col = text.lines().nth(2).unwrap().find("seq=").unwrap() + 4;
    flip_char(&s, 2, col);
    verify(&f, &[&key.b64]).code(3).stderr_has("bad signature");
    // The public key: one byte of the Ed25519 key, then one byte of its id.
    verify(&file, &[&flipped_key(&key.b64, 20)])
        .code(3)
        .stderr_has("bad signature");
    let other_id = flipped_key(&key.b64, 2);
    verify(&file, &[&other_id])
        .code(3)
        .stderr_has("which is not a given --pubkey");
    // The untouched pair still verifies.
    verify(&file, &[&key.b64]).ok();
}

#[test]
fn a_wrong_key_is_named_and_two_keys_serve_a_rotation() {
    let tmp = scratch();
    let dir = personality(tmp.path());
    let old = keygen(tmp.path(), "old");
    let new = keygen(tmp.path(), "new");
    let old_id = fs::read_to_string(&old.public).unwrap();
    let old_id = old_id.lines().next().unwrap().rsplit(' ').next().unwrap();
    let new_id = fs::read_to_string(&new.public).unwrap();
    let new_id = new_id.lines().next().unwrap().rsplit(' ').next().unwrap();

    // Both named as the bundle they hold, as an instance booting …/shop.bundle expects.
    fs::create_dir_all(tmp.path().join("old")).unwrap();
    fs::create_dir_all(tmp.path().join("new")).unwrap();
    let by_old = tmp.path().join("old/shop.bundle");
    let by_new = tmp.path().join("new/shop.bundle");
    pack_signed(&dir, &by_old, &old, &["--seq", "1"]).ok();
    pack_signed(&dir, &by_new, &new, &["--seq", "2"]).ok();

    let state = tmp.path().join("state");
    let ran = signed_boot(&by_old, &state, &[&new.b64], &["--dry-run"]);
    ran.code(3)
        .stderr_has(&format!("made with key {old_id}"))
        .stderr_has(&format!("({new_id})"))
        .stderr_has("hint: pass the publisher's current public key");

    // During the overlap both keys are given; a .pub file works as well as the inline key.
    let both = [old.public.to_string_lossy().into_owned(), new.b64.clone()];
    let both: Vec<&str> = both.iter().map(String::as_str).collect();
    signed_boot(&by_old, &state, &both, &[])
        .ok()
        .stderr_has(&format!("signature good: key {old_id}"));
    signed_boot(&by_new, &state, &both, &[])
        .ok()
        .stderr_has(&format!("signature good: key {new_id}"));
}

#[test]
fn signed_boot_over_http_takes_its_parameters_from_the_comment_and_refuses_tampering() {
    let tmp = scratch();
    let dir = marker_personality(tmp.path(), "1.0");
    let key = keygen(tmp.path(), "k");
    let file = tmp.path().join("marked.bundle");
    pack_signed(
        &dir,
        &file,
        &key,
        &["--cipher", "aes-128-cbc", "--md", "sha512"],
    )
    .ok();
    let server = Server::start();
    let state = tmp.path().join("state");

    // Not signed: no .minisig on the server.
    server.put("/marked.bundle", fs::read(&file).unwrap());
    signed_boot(server.url("/marked.bundle"), &state, &[&key.b64], &[])
        .code(3)
        .stderr_has("is not signed");
    assert!(!state.join("ran").exists());

    // Tampered on the server: refused before decryption, nothing run, nothing unpacked.
    let mut evil = fs::read(&file).unwrap();
    let last = evil.len() - 1;
    evil[last] ^= 0x01;
    server.put("/marked.bundle", evil);
    server.put("/marked.bundle.minisig", fs::read(sig_of(&file)).unwrap());
    let ran = signed_boot(server.url("/marked.bundle"), &state, &[&key.b64], &[]);
    ran.code(3).stderr_has("bad signature");
    assert!(!ran.stderr.contains("decrypt"), "{ran}");
    assert!(!state.join("ran").exists());
    let releases = fs::read_dir(state.join("releases"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(releases, 0, "something was unpacked{ran}");

    // The real one: no --iter, --cipher or --md given; the signed comment supplies them.
    server.put("/marked.bundle", fs::read(&file).unwrap());
    signed_boot(server.url("/marked.bundle"), &state, &[&key.b64], &[])
        .ok()
        .stderr_has("signature good");
    assert!(state.join("ran").exists());
    // Conflicting flags lose to the signed parameters, and say so.
    signed_boot(
        server.url("/marked.bundle"),
        &state,
        &[&key.b64],
        &["--iter", "7"],
    )
    .ok()
    .stderr_has(
        "decrypting with the signed parameters (-aes-128-cbc -pbkdf2 -iter 1000 -md sha512)",
    );
    // Without --pubkey, the flags are all there is: these (the default cipher and digest) do not
    // open this bundle.
    boot(server.url("/marked.bundle"))
        .iter(ITER)
        .pass(Pass::Env(PASS))
        .state_dir(&tmp.path().join("state2"))
        .run()
        .code(3);
}

#[test]
fn rollback_and_expiry_are_refused_unless_allowed() {
    let tmp = scratch();
    let key = keygen(tmp.path(), "k");
    let state = tmp.path().join("state");
    fs::create_dir_all(tmp.path().join("newer")).unwrap();
    fs::create_dir_all(tmp.path().join("older")).unwrap();
    let newer = tmp.path().join("newer/marked.bundle");
    let older = tmp.path().join("older/marked.bundle");
    pack_signed(
        &marker_personality(tmp.path(), "2.0"),
        &newer,
        &key,
        &["--seq", "10"],
    )
    .ok();
    pack_signed(
        &marker_personality(tmp.path(), "1.0"),
        &older,
        &key,
        &["--seq", "9"],
    )
    .ok();

    signed_boot(&newer, &state, &[&key.b64], &[]).ok();
    assert_eq!(
        fs::read_to_string(state.join("seq/marked")).unwrap(),
        "10\n"
    );
    // The same seq again is fine (a reboot).
    signed_boot(&newer, &state, &[&key.b64], &[]).ok();
    signed_boot(&older, &state, &[&key.b64], &[])
        .code(3)
        .stderr_has("refusing marked seq 9: this machine already applied seq 10")
        .stderr_has("--allow-downgrade");
    signed_boot(&older, &state, &[&key.b64], &["--allow-downgrade"])
        .ok()
        .stderr_has("accepted because of --allow-downgrade");
    // Going back on purpose does not lower the floor.
    assert_eq!(
        fs::read_to_string(state.join("seq/marked")).unwrap(),
        "10\n"
    );

    // Expiry: re-sign the newer bundle with an expiry that has passed, using the reference tool
    // (ours refuses to write an expiry in the past).
    let comment = format!(
        "startup-bundle v1 name=marked version=2.0 seq=11 sha256={} cipher=aes-256-cbc kdf=pbkdf2 md=sha256 iter={ITER} expires=2001-01-01T00:00:00Z",
        sha256_hex(&fs::read(&newer).unwrap())
    );
    run(tool("minisign")
        .args(["-S", "-s"])
        .arg(&key.secret)
        .arg("-m")
        .arg(&newer)
        .args(["-t", &comment]))
    .ok();
    verify(&newer, &[&key.b64])
        .code(3)
        .stderr_has("expired at 2001-01-01T00:00:00Z");
    signed_boot(&newer, &state, &[&key.b64], &[])
        .code(3)
        .stderr_has("the signature of marked 2.0 expired at 2001-01-01T00:00:00Z")
        .stderr_has("--allow-expired");
    signed_boot(&newer, &state, &[&key.b64], &["--allow-expired"])
        .ok()
        .stderr_has("accepted because of --allow-expired");
    assert_eq!(
        fs::read_to_string(state.join("seq/marked")).unwrap(),
        "11\n"
    );

    // A future expiry is fine, and `bundle sign` refuses one in the past.
    run(bundle()
        .arg("sign")
        .arg(&newer)
        .arg("-s")
        .arg(&key.secret)
        .args(["--iter", ITER, "--pass", "env:SB_PASS", "--force"])
        .args(["--expires", "1h"])
        .env("SB_PASS", PASS))
    .ok();
    signed_boot(&newer, &state, &[&key.b64], &[]).ok();
    run(bundle()
        .arg("sign")
        .arg(&newer)
        .arg("-s")
        .arg(&key.secret)
        .args(["--force", "--expires", "2001-01-01"]))
    .code(1)
    .stderr_has("in the past");
}

#[test]
fn signatures_are_never_silently_replaced_and_unknown_formats_are_refused() {
    let tmp = scratch();
    let dir = personality(tmp.path());
    let key = keygen(tmp.path(), "k");
    // keygen refuses to overwrite a key pair.
    run(bundle()
        .args(["keygen", "--unencrypted", "-p"])
        .arg(&key.public)
        .arg("-s")
        .arg(&key.secret))
    .code(1)
    .stderr_has("already exists");

    let file = tmp.path().join("shop.bundle");
    fs::write(sig_of(&file), "old signature\n").unwrap();
    pack_signed(&dir, &file, &key, &[])
        .code(1)
        .stderr_has(".minisig already exists");
    assert!(!file.exists(), "the bundle appeared without its signature");
    pack_signed(&dir, &file, &key, &["--force"]).ok();
    run(bundle().arg("sign").arg(&file).arg("-s").arg(&key.secret))
        .code(1)
        .stderr_has("already exists");

    // A signed comment of a future format is refused by name.
    let comment = format!(
        "startup-bundle v2 name=shop sha256={}",
        sha256_hex(&fs::read(&file).unwrap())
    );
    run(tool("minisign")
        .args(["-S", "-s"])
        .arg(&key.secret)
        .arg("-m")
        .arg(&file)
        .args(["-t", &comment]))
    .ok();
    verify(&file, &[&key.b64])
        .code(3)
        .stderr_has("format \"v2\"");
    // No signature at all.
    fs::remove_file(sig_of(&file)).unwrap();
    verify(&file, &[&key.b64])
        .code(3)
        .stderr_has("is not signed");
}
