//! Target `decrypt`: arbitrary bytes into [`Decryptor`], binary or base64 (it sniffs which), read
//! to the end under several parameter sets. Checks that it never panics and that:
//! - reading through a reader that returns short reads, into small buffers, gives the same outcome
//!   as reading in one go (the batching and block withholding must not depend on read sizes);
//! - a binary input that decrypts re-encrypts, with its own salt, to exactly itself (CBC with a
//!   fixed key and IV is deterministic, so anything else means bytes were skipped or invented).

use std::io::{self, Read};

use crate::Verdict;
use startup_bundle::enc::{
    Armor, Cipher, Decryptor, Digest, EncError, Encryptor, Kdf, MAGIC, Params, SALT_LEN,
    is_decryption_failure,
};

/// The passphrase every input is tried with (and the seeds are made with).
pub const PASSPHRASE: &[u8] = b"fuzz passphrase";
/// PBKDF2 rounds: one, so each input costs microseconds; the count does not change the parsing.
pub const PBKDF2_ITERATIONS: u32 = 1;

/// The parameter sets each input is decrypted with: every cipher, both key-derivation functions.
pub const PARAMS: [Params; 4] = [
    Params {
        cipher: Cipher::Aes256Cbc,
        digest: Digest::Sha256,
        kdf: Kdf::Pbkdf2 {
            iterations: PBKDF2_ITERATIONS,
        },
    },
    Params {
        cipher: Cipher::Aes128Cbc,
        digest: Digest::Md5,
        kdf: Kdf::Legacy,
    },
    Params {
        cipher: Cipher::Aes192Cbc,
        digest: Digest::Sha512,
        kdf: Kdf::Pbkdf2 {
            iterations: PBKDF2_ITERATIONS,
        },
    },
    Params {
        cipher: Cipher::Aes256Cbc,
        digest: Digest::Sha1,
        kdf: Kdf::Legacy,
    },
];

/// Read sizes the short reader and the small buffers cycle through: single bytes, around the AES
/// block, around a base64 line (64 characters + newline), and larger than the decryptor's batch.
const READ_SIZES: [usize; 9] = [1, 3, 15, 16, 17, 64, 65, 4096, 100_000];

/// What reading an input to its end gave, coarse enough not to depend on read sizes.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `Decryptor::new` refused the header: not a container.
    NotEncrypted,
    /// The opaque decryption failure, from `Decryptor::new` (a header cut short) or from reading.
    /// One outcome for both: base64 armour read in large pieces meets a bad character while the
    /// header is being read, in small pieces only later, and the user sees the same error.
    Failed,
    /// Some other error (never expected: the input is in memory).
    Other(String),
    /// The plaintext, and how the input was armoured.
    Plain(Armor, Vec<u8>),
}

/// Runs one input through every parameter set; accepted when one of them decrypted it. Panics on
/// a broken invariant.
pub fn check(data: &[u8]) -> Verdict {
    let mut verdict = Verdict::Refused;
    for params in &PARAMS {
        let whole = decrypt(data, params, Reads::Whole);
        let short = decrypt(data, params, Reads::Short);
        assert!(
            consistent(data, &whole, &short),
            "short reads changed the outcome for {params:?}: {whole:?} in one go, {short:?} in pieces"
        );
        if let Outcome::Other(e) = &whole {
            panic!("an in-memory input gave an unexpected error for {params:?}: {e}");
        }
        if let Outcome::Plain(armor, plain) = &whole {
            verdict = Verdict::Accepted;
            if *armor == Armor::Binary {
                let again = reencrypt(data, params, plain);
                assert!(
                    again.as_deref() == Some(data),
                    "binary input decrypted with {params:?} but does not re-encrypt to itself"
                );
            }
        }
    }
    verdict
}

/// Whether two outcomes for the same input agree. A plaintext must match exactly. Binary errors
/// must match too. Base64 errors need not: when the armour is broken inside the header, whether
/// the decoded header is seen as "not `Salted__`" before the bad character is met depends on how
/// much the armour reader got per read (found by this smoke run; see README.md, "Findings").
fn consistent(data: &[u8], whole: &Outcome, short: &Outcome) -> bool {
    match (whole, short) {
        (Outcome::Plain(..), _) | (_, Outcome::Plain(..)) => whole == short,
        _ if data.starts_with(MAGIC) => whole == short,
        (Outcome::NotEncrypted | Outcome::Failed, Outcome::NotEncrypted | Outcome::Failed) => true,
        _ => whole == short,
    }
}

/// How to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// `read_to_end` over the whole input slice.
    Whole,
    /// Short reads from the input and small destination buffers, sizes from [`READ_SIZES`].
    Short,
}

/// Decrypts `data` with `params`, reading to the end as `reads` says.
pub fn decrypt(data: &[u8], params: &Params, reads: Reads) -> Outcome {
    let opened = match reads {
        Reads::Whole => Decryptor::new(Box::new(data) as Box<dyn Read + '_>, PASSPHRASE, params),
        Reads::Short => Decryptor::new(
            Box::new(ShortReads::new(data)) as Box<dyn Read + '_>,
            PASSPHRASE,
            params,
        ),
    };
    let mut dec = match opened {
        Ok(dec) => dec,
        Err(EncError::NotEncrypted) => return Outcome::NotEncrypted,
        Err(EncError::DecryptionFailed) => return Outcome::Failed,
        Err(e) => return Outcome::Other(e.to_string()),
    };
    let armor = dec.armor();
    let mut plain = Vec::new();
    let read = match reads {
        Reads::Whole => dec.read_to_end(&mut plain).map(|_| ()),
        Reads::Short => read_in_small_buffers(&mut dec, &mut plain),
    };
    match read {
        Ok(()) => Outcome::Plain(armor, plain),
        Err(e) if is_decryption_failure(&e) => Outcome::Failed,
        Err(e) => Outcome::Other(e.to_string()),
    }
}

/// Encrypts `plain` as a binary container with the salt found in `data`'s header.
fn reencrypt(data: &[u8], params: &Params, plain: &[u8]) -> Option<Vec<u8>> {
    let salt: [u8; SALT_LEN] = data
        .get(MAGIC.len()..MAGIC.len() + SALT_LEN)?
        .try_into()
        .ok()?;
    let mut enc = Encryptor::with_salt(Vec::new(), PASSPHRASE, params, Armor::Binary, salt).ok()?;
    io::Write::write_all(&mut enc, plain).ok()?;
    enc.finish().ok()
}

/// Reads `r` to its end into `out`, asking for a different small amount each time.
fn read_in_small_buffers(r: &mut impl Read, out: &mut Vec<u8>) -> io::Result<()> {
    let mut buf = vec![0u8; READ_SIZES[READ_SIZES.len() - 1]];
    let mut sizes = READ_SIZES.iter().cycle();
    loop {
        let size = sizes.next().copied().unwrap_or(1);
        match r.read(&mut buf[..size]) {
            Ok(0) => return Ok(()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A reader over a slice that returns at most a few bytes per call, and now and then an
/// `Interrupted` error (which every `Read` caller must retry), like a slow socket.
pub struct ShortReads<'a> {
    data: &'a [u8],
    calls: usize,
}

impl<'a> ShortReads<'a> {
    /// Reads `data` in pieces.
    pub fn new(data: &'a [u8]) -> Self {
        ShortReads { data, calls: 0 }
    }
}

/// Every this many calls, [`ShortReads`] returns `Interrupted` instead of data.
const INTERRUPT_EVERY: usize = 7;

impl Read for ShortReads<'_> {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(INTERRUPT_EVERY) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let size = READ_SIZES[self.calls % READ_SIZES.len()];
        let n = size.min(dst.len()).min(self.data.len());
        dst[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}
