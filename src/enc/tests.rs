//! Round trips through `Encryptor` and `Decryptor` together: padding edges, short reads, armour,
//! and the one opaque error. Interop with the real `openssl` lives in tests/enc.rs.

use std::io::{self, Read, Write};

use super::*;

const PASS: &[u8] = b"hunter2";
const SALT: [u8; SALT_LEN] = *b"saltsalt";

/// Few iterations: these tests are about the stream, not the KDF.
fn fast() -> Params {
    Params {
        kdf: Kdf::Pbkdf2 { iterations: 10 },
        ..Params::default()
    }
}

fn seal(plain: &[u8], params: &Params, armor: Armor, chunk: usize) -> Vec<u8> {
    let mut enc = Encryptor::with_salt(Vec::new(), PASS, params, armor, SALT).unwrap();
    for piece in plain.chunks(chunk.max(1)) {
        enc.write_all(piece).unwrap();
    }
    enc.finish().unwrap()
}

fn open(sealed: impl Read, pass: &[u8], params: &Params) -> io::Result<Vec<u8>> {
    let mut dec = Decryptor::new(sealed, pass, params).map_err(io::Error::other)?;
    let mut out = Vec::new();
    dec.read_to_end(&mut out)?;
    Ok(out)
}

/// Hands out at most one byte per `read`, like a slow pipe.
struct Trickle<R>(R);
impl<R: Read> Read for Trickle<R> {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        let n = dst.len().min(1);
        self.0.read(&mut dst[..n])
    }
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn padding_edges_round_trip() {
    for len in [
        0,
        1,
        15,
        16,
        17,
        31,
        32,
        33,
        BATCH - 1,
        BATCH,
        BATCH + 1,
        3 * BATCH + 5,
    ] {
        let plain = data(len);
        for armor in [Armor::Binary, Armor::Base64] {
            let sealed = seal(&plain, &fast(), armor, 1000);
            if armor == Armor::Binary {
                // Header, then the data padded up to the next whole block (a full block when aligned).
                assert_eq!(sealed.len(), 16 + (len / 16 + 1) * 16, "len {len}");
                assert_eq!(&sealed[..8], MAGIC);
                assert_eq!(&sealed[8..16], &SALT);
            } else {
                assert!(sealed.starts_with(BASE64_MAGIC));
            }
            assert_eq!(
                open(&sealed[..], PASS, &fast()).unwrap(),
                plain,
                "len {len}"
            );
        }
    }
}

#[test]
fn byte_at_a_time_both_ways() {
    let plain = data(1000);
    for armor in [Armor::Binary, Armor::Base64] {
        let sealed = seal(&plain, &fast(), armor, 1);
        assert_eq!(
            sealed,
            seal(&plain, &fast(), armor, 4096),
            "chunking changed the output"
        );
        let mut dec = Decryptor::new(Trickle(&sealed[..]), PASS, &fast()).unwrap();
        let mut out = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            match dec.read(&mut byte).unwrap() {
                0 => break,
                _ => out.push(byte[0]),
            }
        }
        assert_eq!(out, plain);
    }
}

#[test]
fn flush_mid_stream_changes_nothing() {
    let plain = data(100);
    let mut enc = Encryptor::with_salt(Vec::new(), PASS, &fast(), Armor::Base64, SALT).unwrap();
    enc.write_all(&plain[..37]).unwrap();
    enc.flush().unwrap();
    enc.write_all(&plain[37..]).unwrap();
    assert_eq!(
        enc.finish().unwrap(),
        seal(&plain, &fast(), Armor::Base64, 100)
    );
}

#[test]
fn every_parameter_set_round_trips() {
    for cipher in Cipher::ALL {
        for digest in Digest::ALL {
            for kdf in [Kdf::Legacy, Kdf::Pbkdf2 { iterations: 3 }] {
                let params = Params {
                    cipher,
                    digest,
                    kdf,
                };
                let sealed = seal(b"personality", &params, Armor::Binary, 64);
                assert_eq!(open(&sealed[..], PASS, &params).unwrap(), b"personality");
            }
        }
    }
}

fn assert_opaque(result: io::Result<Vec<u8>>, what: &str) {
    match result {
        Ok(_) => panic!("{what}: decrypted"),
        Err(e) => {
            let opaque = is_decryption_failure(&e)
                || matches!(
                    e.get_ref().and_then(|i| i.downcast_ref()),
                    Some(EncError::DecryptionFailed)
                );
            assert!(opaque, "{what}: {e:?}");
            assert!(e.to_string().starts_with("cannot decrypt"), "{what}: {e}");
        }
    }
}

#[test]
fn damage_gives_the_one_opaque_error() {
    let plain = data(100);
    let sealed = seal(&plain, &fast(), Armor::Binary, 100);
    // Each of these fails for this salt and data; CBC cannot catch damage before the last blocks.
    assert_opaque(open(&sealed[..], b"hunter3", &fast()), "wrong passphrase");
    let other = Params {
        digest: Digest::Sha512,
        ..fast()
    };
    assert_opaque(open(&sealed[..], PASS, &other), "wrong digest");
    let last = sealed.len() - 1;
    let mut flipped = sealed.clone();
    flipped[last] ^= 0x40;
    assert_opaque(open(&flipped[..], PASS, &fast()), "flipped byte");
    assert_opaque(open(&sealed[..last], PASS, &fast()), "cut mid-block");
    assert_opaque(
        open(&sealed[..sealed.len() - 16], PASS, &fast()),
        "cut a block",
    );
    assert_opaque(open(&sealed[..16], PASS, &fast()), "header only");
    assert_opaque(open(&sealed[..12], PASS, &fast()), "half a salt");

    let armored = seal(&plain, &fast(), Armor::Base64, 100);
    let mut bad = armored.clone();
    bad[30] = b'*';
    assert_opaque(open(&bad[..], PASS, &fast()), "bad base64");
    assert_opaque(
        open(&armored[..armored.len() - 3], PASS, &fast()),
        "cut base64",
    );
}

#[test]
fn the_failure_repeats_on_every_later_read() {
    let sealed = seal(b"abc", &fast(), Armor::Binary, 3);
    let mut dec = Decryptor::new(&sealed[..], b"wrong", &fast()).unwrap();
    let mut buf = [0u8; 64];
    assert!(dec.read(&mut buf).is_err());
    assert!(dec.read(&mut buf).is_err());
}

#[test]
fn not_encrypted_is_told_apart() {
    for input in [
        &b""[..],
        b"Salted_",
        b"hello, world\n",
        b"\x1f\x8b\x08\0\0\0\0\0",
        b"U2FsdGVkX2xx",
    ] {
        assert!(
            matches!(
                Decryptor::new(input, PASS, &fast()),
                Err(EncError::NotEncrypted)
            ),
            "{input:?}"
        );
    }
    assert!(matches!(
        Decryptor::new(&b"U2FsdGVk"[..], PASS, &fast()),
        Err(EncError::DecryptionFailed)
    ));
}

#[test]
fn armour_is_detected_and_reported() {
    let plain = data(300);
    let armored = seal(&plain, &fast(), Armor::Base64, 300);
    let text = String::from_utf8(armored.clone()).unwrap();
    assert!(text.lines().all(|l| l.len() <= 64) && text.ends_with('\n'));
    let dec = Decryptor::new(&armored[..], PASS, &fast()).unwrap();
    assert_eq!(dec.armor(), Armor::Base64);
    // One long line, no newline at all (`openssl enc -A`), and CRLF line ends.
    let one_line: Vec<u8> = armored.iter().copied().filter(|&b| b != b'\n').collect();
    assert_eq!(open(&one_line[..], PASS, &fast()).unwrap(), plain);
    let crlf = text.replace('\n', "\r\n");
    assert_eq!(open(crlf.as_bytes(), PASS, &fast()).unwrap(), plain);
}

#[test]
fn random_salts_differ() {
    let mut a = Encryptor::new(Vec::new(), PASS, &fast(), Armor::Binary).unwrap();
    a.write_all(b"same").unwrap();
    let mut b = Encryptor::new(Vec::new(), PASS, &fast(), Armor::Binary).unwrap();
    b.write_all(b"same").unwrap();
    let (a, b) = (a.finish().unwrap(), b.finish().unwrap());
    assert_ne!(a[8..16], b[8..16]);
    assert_eq!(open(&a[..], PASS, &fast()).unwrap(), b"same");
}

#[test]
fn a_failed_sink_poisons_the_encryptor() {
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    assert!(Encryptor::with_salt(Broken, PASS, &fast(), Armor::Binary, SALT).is_err());
}
