//! The openssl-enc container against the real `openssl enc`, both ways, for every cipher, KDF,
//! digest and armour; and every vector in tests/vectors/ (made by openssl, see its README.md).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use startup_bundle::enc::{
    Armor, Cipher, Decryptor, Digest, EncError, Encryptor, Kdf, Params, SALT_LEN,
    is_decryption_failure,
};

use crate::support::{run, scratch, tool};

/// Not ASCII and with spaces: the passphrase is bytes, passed to openssl through the environment.
const PASS: &str = "pässphrase with spaces";
const PASS_VAR: &str = "SB_ENC_TEST_PASS";
/// Small, so the suite stays fast; the count itself is what matters to interop, not its size.
const ITER: u32 = 1000;
const SIZES: [usize; 4] = [0, 1, 16, 100_000];

fn kdfs() -> Vec<(Kdf, Digest)> {
    let pbkdf2 = Kdf::Pbkdf2 { iterations: ITER };
    let mut all: Vec<_> = [Digest::Sha256, Digest::Sha512, Digest::Sha1, Digest::Md5]
        .into_iter()
        .map(|d| (pbkdf2, d))
        .collect();
    all.extend([Digest::Md5, Digest::Sha1, Digest::Sha256].map(|d| (Kdf::Legacy, d)));
    all
}

fn plaintext(len: usize) -> Vec<u8> {
    // A cheap generator, so compression-like patterns do not hide bugs at block edges.
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// `openssl enc` with our parameters' flags, the passphrase in the environment.
fn openssl_enc(
    params: &Params,
    armor: Armor,
    direction: &str,
    input: &Path,
    output: &Path,
) -> crate::support::Ran {
    let mut cmd = tool("openssl");
    cmd.arg("enc").arg(direction);
    cmd.args(params.openssl_flags().split_whitespace());
    if armor == Armor::Base64 {
        cmd.arg("-a");
    }
    cmd.args(["-pass", &format!("env:{PASS_VAR}")])
        .arg("-in")
        .arg(input)
        .arg("-out")
        .arg(output)
        .env(PASS_VAR, PASS);
    run(&mut cmd)
}

fn decrypt(input: impl Read, pass: &[u8], params: &Params) -> Result<(Vec<u8>, Armor), EncError> {
    let mut dec = Decryptor::new(input, pass, params)?;
    let armor = dec.armor();
    let mut out = Vec::new();
    match dec.read_to_end(&mut out) {
        Ok(_) => Ok((out, armor)),
        Err(e) if is_decryption_failure(&e) => Err(EncError::DecryptionFailed),
        Err(e) => Err(EncError::Io(e)),
    }
}

/// Ours → `openssl enc -d`, and `openssl enc -e` → ours, for one cipher and every KDF, armour, size.
fn both_ways(cipher: Cipher) {
    let dir = scratch();
    let (plain_path, sealed_path, out_path) = (
        dir.path().join("plain"),
        dir.path().join("sealed"),
        dir.path().join("out"),
    );
    for (kdf, digest) in kdfs() {
        let params = Params {
            cipher,
            digest,
            kdf,
        };
        for armor in [Armor::Binary, Armor::Base64] {
            for size in SIZES {
                let plain = plaintext(size);
                let what = format!("{} {armor:?} {size} bytes", params.openssl_flags());

                let mut enc = Encryptor::new(Vec::new(), PASS.as_bytes(), &params, armor).unwrap();
                enc.write_all(&plain).unwrap();
                std::fs::write(&sealed_path, enc.finish().unwrap()).unwrap();
                openssl_enc(&params, armor, "-d", &sealed_path, &out_path).ok();
                assert!(
                    std::fs::read(&out_path).unwrap() == plain,
                    "openssl -d of ours: {what}"
                );

                std::fs::write(&plain_path, &plain).unwrap();
                openssl_enc(&params, armor, "-e", &plain_path, &sealed_path).ok();
                let sealed = std::fs::read(&sealed_path).unwrap();
                let (ours, detected) = decrypt(&sealed[..], PASS.as_bytes(), &params)
                    .unwrap_or_else(|e| panic!("ours of openssl -e: {what}: {e}"));
                assert!(ours == plain, "ours of openssl -e: {what}");
                assert_eq!(detected, armor, "{what}");
            }
        }
    }
}

#[test]
fn openssl_both_ways_aes_128() {
    both_ways(Cipher::Aes128Cbc);
}

#[test]
fn openssl_both_ways_aes_192() {
    both_ways(Cipher::Aes192Cbc);
}

#[test]
fn openssl_both_ways_aes_256() {
    both_ways(Cipher::Aes256Cbc);
}

/// One vector file: its header fields and the input bytes after the first empty line.
struct Vector {
    name: String,
    fields: HashMap<String, String>,
    body: Vec<u8>,
}

impl Vector {
    fn load(path: &Path) -> Vector {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(path).unwrap();
        let split = bytes
            .windows(2)
            .position(|w| w == b"\n\n")
            .unwrap_or_else(|| panic!("{name}: no empty line after the header"));
        let header = std::str::from_utf8(&bytes[..split]).expect("ASCII header");
        let fields = header
            .lines()
            .map(|line| {
                let (k, v) = line
                    .split_once(": ")
                    .or_else(|| line.strip_suffix(':').map(|k| (k, "")))
                    .unwrap_or_else(|| panic!("{name}: not `key: value`: {line:?}"));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        Vector {
            name,
            fields,
            body: bytes[split + 2..].to_vec(),
        }
    }

    fn get(&self, key: &str) -> &str {
        self.fields
            .get(key)
            .unwrap_or_else(|| panic!("{}: no `{key}:` line", self.name))
    }

    fn params(&self) -> Params {
        let kdf = match self.get("kdf") {
            "pbkdf2" => Kdf::Pbkdf2 {
                iterations: self.get("iter").parse().unwrap(),
            },
            "legacy" => Kdf::Legacy,
            other => panic!("{}: unknown kdf {other}", self.name),
        };
        Params {
            cipher: self.get("cipher").parse().unwrap(),
            digest: self.get("md").parse().unwrap(),
            kdf,
        }
    }
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

fn vector_paths() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "vec"))
        .collect();
    paths.sort();
    paths
}

#[test]
fn vectors_from_openssl() {
    let paths = vector_paths();
    assert!(
        paths.len() >= 20,
        "tests/vectors/ lost its vectors: {paths:?}"
    );
    for path in paths {
        let v = Vector::load(&path);
        let params = v.params();
        let pass = v.get("passphrase").as_bytes();
        let result = decrypt(&v.body[..], pass, &params);
        match v.get("expect") {
            "success" => {
                let (plain, armor) =
                    result.unwrap_or_else(|e| panic!("{}: expected success: {e}", v.name));
                assert_eq!(plain, unhex(v.get("plaintext-hex")), "{}", v.name);
                let want = if v.get("armor") == "base64" {
                    Armor::Base64
                } else {
                    Armor::Binary
                };
                assert_eq!(armor, want, "{}", v.name);
                reproduce(&v, &params, &plain, armor);
            }
            "decryption failed" => assert!(
                matches!(result, Err(EncError::DecryptionFailed)),
                "{}: expected the opaque failure, got {result:?}",
                v.name
            ),
            "not encrypted" => assert!(
                matches!(result, Err(EncError::NotEncrypted)),
                "{}: expected NotEncrypted, got {result:?}",
                v.name
            ),
            other => panic!("{}: unknown expect {other:?}", v.name),
        }
    }
}

/// Our encryptor, given the vector's salt, writes openssl's bytes (base64 compared without layout).
fn reproduce(v: &Vector, params: &Params, plain: &[u8], armor: Armor) {
    let mut ours = Vec::new();
    let mut salt = [0u8; SALT_LEN];
    let binary = match armor {
        Armor::Binary => v.body.clone(),
        Armor::Base64 => {
            use base64::Engine as _;
            let text: Vec<u8> = v
                .body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap()
        }
    };
    salt.copy_from_slice(&binary[8..16]);
    let mut enc = Encryptor::with_salt(
        &mut ours,
        v.get("passphrase").as_bytes(),
        params,
        armor,
        salt,
    )
    .unwrap();
    enc.write_all(plain).unwrap();
    enc.finish().unwrap();
    let squeeze = |b: &[u8]| -> Vec<u8> {
        b.iter()
            .copied()
            .filter(|c| !c.is_ascii_whitespace())
            .collect()
    };
    assert!(
        squeeze(&ours) == squeeze(&v.body),
        "{}: our ciphertext differs from openssl's",
        v.name
    );
}

#[test]
fn base64_layout_is_openssls() {
    let dir = scratch();
    let params = Params {
        kdf: Kdf::Pbkdf2 { iterations: ITER },
        ..Params::default()
    };
    let plain = plaintext(1000);
    let salt = *b"\x01\x02\x03\x04\x05\x06\x07\x08";
    let mut enc =
        Encryptor::with_salt(Vec::new(), PASS.as_bytes(), &params, Armor::Base64, salt).unwrap();
    enc.write_all(&plain).unwrap();
    let ours = enc.finish().unwrap();
    // Same salt, same bytes: openssl's own armour of our binary output must equal our armour.
    let mut enc =
        Encryptor::with_salt(Vec::new(), PASS.as_bytes(), &params, Armor::Binary, salt).unwrap();
    enc.write_all(&plain).unwrap();
    let binary = dir.path().join("binary");
    std::fs::write(&binary, enc.finish().unwrap()).unwrap();
    let theirs = run(tool("openssl")
        .arg("base64")
        .arg("-e")
        .arg("-in")
        .arg(&binary));
    theirs.ok();
    assert_eq!(String::from_utf8(ours).unwrap(), theirs.stdout);
}

#[test]
fn wrong_passphrase_flipped_byte_and_truncation_are_one_error() {
    let params = Params {
        kdf: Kdf::Pbkdf2 { iterations: ITER },
        ..Params::default()
    };
    let salt = *b"fixedsal";
    let mut enc =
        Encryptor::with_salt(Vec::new(), PASS.as_bytes(), &params, Armor::Binary, salt).unwrap();
    enc.write_all(&plaintext(5000)).unwrap();
    let sealed = enc.finish().unwrap();
    let mut flipped = sealed.clone();
    *flipped.last_mut().unwrap() ^= 1;
    let cases: [(&str, &[u8], &[u8]); 4] = [
        ("wrong passphrase", &sealed, b"not the passphrase"),
        ("flipped byte", &flipped, PASS.as_bytes()),
        (
            "truncated mid-block",
            &sealed[..sealed.len() - 7],
            PASS.as_bytes(),
        ),
        (
            "truncated at a block",
            &sealed[..sealed.len() - 16],
            PASS.as_bytes(),
        ),
    ];
    let mut messages = Vec::new();
    for (what, input, pass) in cases {
        let mut dec = Decryptor::new(input, pass, &params).unwrap();
        let err = std::io::copy(&mut dec, &mut std::io::sink()).expect_err(what);
        assert!(is_decryption_failure(&err), "{what}: {err:?}");
        messages.push(err.to_string());
    }
    messages.dedup();
    assert_eq!(
        messages.len(),
        1,
        "the failures can be told apart: {messages:?}"
    );
    assert!(messages[0].contains("wrong passphrase"), "{}", messages[0]);
}
