//! AES-CBC over whole batches of blocks, for whichever key size the parameters chose. One dispatch
//! per batch (not per block), so the AES-NI/VAES code `aes` picks at run time sees long runs of
//! blocks; decryption runs several blocks in parallel. Knows nothing of padding, headers or streams.

use std::io;

use aes::{Aes128, Aes192, Aes256};
use cbc::cipher::consts::U16;
use cbc::cipher::inout::InOutBuf;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};

use super::BLOCK_LEN;
use super::params::Cipher;

/// CBC encryption state: the key schedule and the chaining value.
pub(crate) enum CbcEncrypt {
    Aes128(cbc::Encryptor<Aes128>),
    Aes192(cbc::Encryptor<Aes192>),
    Aes256(cbc::Encryptor<Aes256>),
}

/// CBC decryption state: the key schedule and the chaining value.
pub(crate) enum CbcDecrypt {
    Aes128(cbc::Decryptor<Aes128>),
    Aes192(cbc::Decryptor<Aes192>),
    Aes256(cbc::Decryptor<Aes256>),
}

/// The key does not fit the cipher: a bug in the caller, reported rather than panicking.
fn bad_key(_: cbc::cipher::InvalidLength) -> io::Error {
    io::Error::other("internal error: derived key length does not match the cipher")
}

/// Splits a buffer whose length is a multiple of the block size into blocks, in place.
fn as_blocks(buf: &mut [u8]) -> InOutBuf<'_, '_, cbc::cipher::Block<Aes128>> {
    debug_assert_eq!(
        buf.len() % BLOCK_LEN,
        0,
        "only whole blocks reach the cipher"
    );
    let (blocks, _tail) = InOutBuf::from(buf).into_chunks::<U16>();
    blocks
}

impl CbcEncrypt {
    /// A fresh encryption state for `cipher` with the derived key and IV.
    pub(crate) fn new(cipher: Cipher, key: &[u8], iv: &[u8; BLOCK_LEN]) -> io::Result<Self> {
        Ok(match cipher {
            Cipher::Aes128Cbc => {
                Self::Aes128(KeyIvInit::new_from_slices(key, iv).map_err(bad_key)?)
            }
            Cipher::Aes192Cbc => {
                Self::Aes192(KeyIvInit::new_from_slices(key, iv).map_err(bad_key)?)
            }
            Cipher::Aes256Cbc => {
                Self::Aes256(KeyIvInit::new_from_slices(key, iv).map_err(bad_key)?)
            }
        })
    }

    /// Encrypts `buf` in place; its length must be a multiple of 16 (any tail is left untouched).
    pub(crate) fn encrypt(&mut self, buf: &mut [u8]) {
        let blocks = as_blocks(buf);
        match self {
            Self::Aes128(c) => c.encrypt_blocks_inout_mut(blocks),
            Self::Aes192(c) => c.encrypt_blocks_inout_mut(blocks),
            Self::Aes256(c) => c.encrypt_blocks_inout_mut(blocks),
        }
    }
}

impl CbcDecrypt {
    /// A fresh decryption state for `cipher` with the derived key and IV.
    pub(crate) fn new(cipher: Cipher, key: &[u8], iv: &[u8; BLOCK_LEN]) -> io::Result<Self> {
        Ok(match cipher {
            Cipher::Aes128Cbc => {
                Self::Aes128(KeyIvInit::new_from_slices(key, iv).map_err(bad_key)?)
            }
            Cipher::Aes192Cbc => {
                Self::Aes192(KeyIvInit::new_from_slices(key, iv).map_err(bad_key)?)
            }
            Cipher::Aes256Cbc => {
                Self::Aes256(KeyIvInit::new_from_slices(key, iv).map_err(bad_key)?)
            }
        })
    }

    /// Decrypts `buf` in place; its length must be a multiple of 16 (any tail is left untouched).
    pub(crate) fn decrypt(&mut self, buf: &mut [u8]) {
        let blocks = as_blocks(buf);
        match self {
            Self::Aes128(c) => c.decrypt_blocks_inout_mut(blocks),
            Self::Aes192(c) => c.decrypt_blocks_inout_mut(blocks),
            Self::Aes256(c) => c.decrypt_blocks_inout_mut(blocks),
        }
    }
}
