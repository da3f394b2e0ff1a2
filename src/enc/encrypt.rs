//! Writing a container: header, then AES-CBC over 64 KiB batches, then the PKCS#7-padded last block,
//! optionally through the base64 armour. Does not choose the passphrase or where the bytes go.

use std::io::{self, Write};

use zeroize::Zeroizing;

use super::base64::ArmorWriter;
use super::block::CbcEncrypt;
use super::kdf::derive_key_iv;
use super::params::{Armor, Params};
use super::{BATCH, BLOCK_LEN, MAGIC, SALT_LEN};

/// Where ciphertext goes: straight to the writer, or through base64 armour.
enum Sink<W> {
    Binary(W),
    Base64(ArmorWriter<W>),
}

impl<W: Write> Sink<W> {
    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Sink::Binary(w) => w.write_all(data),
            Sink::Base64(a) => a.write_all(data),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Binary(w) => w.flush(),
            Sink::Base64(a) => a.flush(),
        }
    }

    fn finish(self) -> io::Result<W> {
        match self {
            Sink::Binary(mut w) => w.flush().map(|()| w),
            Sink::Base64(a) => a.finish(),
        }
    }
}

/// Encrypts everything written to it into an `openssl enc` container on `inner`.
///
/// Call [`finish`](Self::finish): dropping it instead leaves the output without its last block,
/// which no one can decrypt. After a write to `inner` fails, every later call fails too (part of a
/// batch may already be out, so the output is unusable).
pub struct Encryptor<W: Write> {
    sink: Sink<W>,
    cbc: CbcEncrypt,
    /// Plaintext not yet encrypted; wiped on drop.
    buf: Zeroizing<Box<[u8]>>,
    len: usize,
    poisoned: bool,
}

impl<W: Write> Encryptor<W> {
    /// Starts a container on `inner` with a fresh random salt, writing the header at once.
    pub fn new(inner: W, passphrase: &[u8], params: &Params, armor: Armor) -> io::Result<Self> {
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt).map_err(|e| {
            io::Error::other(format!("the operating system gave no random salt: {e}"))
        })?;
        Self::with_salt(inner, passphrase, params, armor, salt)
    }

    /// Like [`new`](Self::new) with a chosen salt, for reproducible output (tests, `openssl -S`).
    /// Never reuse a salt with the same passphrase for different data.
    pub fn with_salt(
        inner: W,
        passphrase: &[u8],
        params: &Params,
        armor: Armor,
        salt: [u8; SALT_LEN],
    ) -> io::Result<Self> {
        let (key, iv) = derive_key_iv(passphrase, &salt, params);
        let cbc = CbcEncrypt::new(params.cipher, &key, &iv)?;
        let mut sink = match armor {
            Armor::Binary => Sink::Binary(inner),
            Armor::Base64 => Sink::Base64(ArmorWriter::new(inner)),
        };
        sink.write_all(MAGIC)?;
        sink.write_all(&salt)?;
        Ok(Self {
            sink,
            cbc,
            buf: Zeroizing::new(vec![0; BATCH].into_boxed_slice()),
            len: 0,
            poisoned: false,
        })
    }

    fn check(&self) -> io::Result<()> {
        if self.poisoned {
            return Err(io::Error::other(
                "an earlier write of the encrypted output failed; the output is incomplete",
            ));
        }
        Ok(())
    }

    /// Encrypts the first `n` buffered bytes (whole blocks) and hands them to the sink.
    fn seal(&mut self, n: usize) -> io::Result<()> {
        self.cbc.encrypt(&mut self.buf[..n]);
        let written = self.sink.write_all(&self.buf[..n]);
        if written.is_err() {
            self.poisoned = true;
        }
        written
    }

    /// Pads the last block (PKCS#7: 1 to 16 bytes, each the pad length, so a whole block when the
    /// data already ends on a boundary), encrypts it, closes the armour and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.check()?;
        // `write` seals a full buffer at once, so there is always room for the padding.
        let pad = BLOCK_LEN - self.len % BLOCK_LEN;
        let end = self.len + pad;
        // pad is 1..=16, so it fits in a byte.
        self.buf[self.len..end].fill(pad as u8);
        self.seal(end)?;
        self.sink.finish()
    }
}

impl<W: Write> Write for Encryptor<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.check()?;
        let n = data.len().min(BATCH - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&data[..n]);
        self.len += n;
        if self.len == BATCH {
            self.len = 0;
            self.seal(BATCH)?;
        }
        Ok(n)
    }

    /// Encrypts and passes on every whole block so far; a partial block waits for more data.
    fn flush(&mut self) -> io::Result<()> {
        self.check()?;
        let whole = self.len / BLOCK_LEN * BLOCK_LEN;
        if whole > 0 {
            self.seal(whole)?;
            self.buf.copy_within(whole..self.len, 0);
            self.len -= whole;
        }
        let flushed = self.sink.flush();
        if flushed.is_err() {
            self.poisoned = true;
        }
        flushed
    }
}
