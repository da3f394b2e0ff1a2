//! Reading a container: sniff binary or base64, check the header, then AES-CBC over batches while
//! withholding the block that might be the last, whose PKCS#7 padding is checked only at end of
//! input. Every failure after the header is the one opaque [`EncError::DecryptionFailed`]: no
//! padding oracle. Does not know where the bytes come from or what the plaintext is.

use std::io::{self, Read};

use zeroize::Zeroizing;

use super::base64::ArmorReader;
use super::block::CbcDecrypt;
use super::error::{EncError, is_decryption_failure};
use super::kdf::derive_key_iv;
use super::params::{Armor, Params};
use super::{BASE64_MAGIC, BATCH, BLOCK_LEN, MAGIC, SALT_LEN};

/// Where ciphertext comes from: the reader itself, or base64 armour over it.
enum Source<R> {
    Binary(R),
    Base64(ArmorReader<R>),
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Binary(r) => r.read(dst),
            Source::Base64(a) => a.read(dst),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Reading,
    Done,
    Failed,
}

/// Decrypts an `openssl enc` container read from `inner`, binary or base64.
///
/// Plaintext is released as it is decrypted, before the end of input proves the padding right, as
/// `openssl enc -d` does; a consumer must not act on it until it has read to the end without error.
pub struct Decryptor<R: Read> {
    source: Source<R>,
    armor: Armor,
    cbc: CbcDecrypt,
    /// `buf[start..end]` is plaintext for the caller, `buf[end..len]` ciphertext not yet decrypted.
    /// Wiped on drop.
    buf: Zeroizing<Box<[u8]>>,
    start: usize,
    end: usize,
    len: usize,
    state: State,
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// An error while reading the header: damage stays opaque, anything else is I/O.
fn header_error(e: io::Error) -> EncError {
    if is_decryption_failure(&e) {
        EncError::DecryptionFailed
    } else {
        EncError::Io(e)
    }
}

/// Reads `Salted__` and the salt from `r`; a short header is a truncated file.
fn read_salt(r: &mut impl Read, magic: &[u8]) -> Result<[u8; SALT_LEN], EncError> {
    let mut header = [0u8; MAGIC.len() + SALT_LEN];
    let got = read_up_to(r, &mut header[magic.len()..]).map_err(header_error)?;
    header[..magic.len()].copy_from_slice(magic);
    if &header[..MAGIC.len()] != MAGIC {
        return Err(EncError::NotEncrypted);
    }
    if magic.len() + got < header.len() {
        return Err(EncError::DecryptionFailed);
    }
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&header[MAGIC.len()..]);
    Ok(salt)
}

impl<R: Read> Decryptor<R> {
    /// Reads and checks the header (detecting base64 armour) and derives the key.
    ///
    /// Binary input starts with `Salted__`, base64 with `U2FsdGVkX1`; anything else is
    /// [`EncError::NotEncrypted`]. A header cut short is [`EncError::DecryptionFailed`].
    pub fn new(mut inner: R, passphrase: &[u8], params: &Params) -> Result<Self, EncError> {
        let mut sniff = [0u8; BASE64_MAGIC.len()];
        let got = read_up_to(&mut inner, &mut sniff[..MAGIC.len()]).map_err(header_error)?;
        let (source, armor, salt) = if got == MAGIC.len() && &sniff[..got] == MAGIC {
            let salt = read_salt(&mut inner, MAGIC)?;
            (Source::Binary(inner), Armor::Binary, salt)
        } else if got == MAGIC.len() && sniff[..got] == BASE64_MAGIC[..got] {
            let more = read_up_to(&mut inner, &mut sniff[got..]).map_err(header_error)?;
            if &sniff != BASE64_MAGIC {
                return Err(if got + more < sniff.len() {
                    EncError::DecryptionFailed
                } else {
                    EncError::NotEncrypted
                });
            }
            let mut armored = ArmorReader::new(inner, &sniff);
            let salt = read_salt(&mut armored, b"")?;
            (Source::Base64(armored), Armor::Base64, salt)
        } else {
            return Err(EncError::NotEncrypted);
        };
        let (key, iv) = derive_key_iv(passphrase, &salt, params);
        let cbc = CbcDecrypt::new(params.cipher, &key, &iv).map_err(EncError::Io)?;
        Ok(Self {
            source,
            armor,
            cbc,
            buf: Zeroizing::new(vec![0; BATCH].into_boxed_slice()),
            start: 0,
            end: 0,
            len: 0,
            state: State::Reading,
        })
    }

    /// Whether the input was raw bytes or base64 text.
    pub fn armor(&self) -> Armor {
        self.armor
    }

    fn fail(&mut self) -> io::Error {
        self.state = State::Failed;
        self.start = 0;
        self.end = 0;
        EncError::failed()
    }

    /// End of input: the withheld block must exist, be whole, and end in valid PKCS#7 padding.
    fn finish_last(&mut self) -> io::Result<()> {
        if self.len == 0 || !self.len.is_multiple_of(BLOCK_LEN) {
            return Err(self.fail());
        }
        self.cbc.decrypt(&mut self.buf[..self.len]);
        let mut last = [0u8; BLOCK_LEN];
        last.copy_from_slice(&self.buf[self.len - BLOCK_LEN..self.len]);
        match padding_len(&last) {
            Some(pad) => {
                self.end = self.len - pad;
                self.state = State::Done;
                Ok(())
            }
            None => Err(self.fail()),
        }
    }
}

/// The PKCS#7 pad length of the last block (1..=16, every pad byte equal to it), or `None`.
/// Examines every byte whatever it finds, so the time taken does not say where the padding broke.
fn padding_len(block: &[u8; BLOCK_LEN]) -> Option<usize> {
    let pad = block[BLOCK_LEN - 1];
    let mut bad = u8::from(pad == 0) | u8::from(usize::from(pad) > BLOCK_LEN);
    for (i, &b) in block.iter().enumerate() {
        let in_pad = BLOCK_LEN - i <= usize::from(pad);
        bad |= u8::from(in_pad) & u8::from(b != pad);
    }
    (bad == 0).then_some(usize::from(pad))
}

impl<R: Read> Read for Decryptor<R> {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.start < self.end {
                let n = (self.end - self.start).min(dst.len());
                dst[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
                self.start += n;
                return Ok(n);
            }
            match self.state {
                State::Done => return Ok(0),
                State::Failed => return Err(EncError::failed()),
                State::Reading if dst.is_empty() => return Ok(0),
                State::Reading => {}
            }
            if self.end > 0 {
                self.buf.copy_within(self.end..self.len, 0);
                self.len -= self.end;
                self.start = 0;
                self.end = 0;
            }
            let n = match self.source.read(&mut self.buf[self.len..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_decryption_failure(&e) => return Err(self.fail()),
                // The underlying reader failed (network, disk): report it as it is.
                Err(e) => return Err(e),
            };
            if n == 0 {
                self.finish_last()?;
                continue;
            }
            self.len += n;
            // Withhold the block holding the last byte read: it may be the padded final block.
            let ready = (self.len - 1) / BLOCK_LEN * BLOCK_LEN;
            self.cbc.decrypt(&mut self.buf[..ready]);
            self.end = ready;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_rules() {
        assert_eq!(padding_len(&[7; BLOCK_LEN]), Some(7));
        let mut one = [9u8; BLOCK_LEN];
        one[BLOCK_LEN - 1] = 1;
        assert_eq!(padding_len(&one), Some(1));
        assert_eq!(padding_len(&[16; BLOCK_LEN]), Some(16));
        assert_eq!(padding_len(&[0; BLOCK_LEN]), None);
        assert_eq!(padding_len(&[17; BLOCK_LEN]), None);
        let mut two = [0u8; BLOCK_LEN];
        two[BLOCK_LEN - 2..].copy_from_slice(&[2, 2]);
        assert_eq!(padding_len(&two), Some(2));
        two[BLOCK_LEN - 2] = 3;
        assert_eq!(padding_len(&two), None);
    }
}
