//! The `openssl enc` container (DESIGN.md, "Bundle file format"), as streaming `Read`/`Write`
//! adapters: `Salted__` ‖ 8-byte salt ‖ AES-CBC ciphertext with PKCS#7 padding, optionally in
//! base64 armour (`openssl enc -a`). Key and IV come from PBKDF2-HMAC (`-pbkdf2 -iter N -md D`) or
//! the legacy one-round `EVP_BytesToKey`.
//!
//! This part knows no files, no environment, no passphrase sources and no tar: it turns a byte
//! stream into another. The container has no integrity check of its own (CBC is malleable; only
//! the last blocks' padding is checked), which is why fetch verifies the ciphertext first.

mod base64;
mod block;
mod decrypt;
mod encrypt;
mod error;
mod kdf;
mod params;

pub use decrypt::Decryptor;
pub use encrypt::Encryptor;
pub use error::{EncError, is_decryption_failure};
pub use kdf::derive_key_iv;
pub use params::{Armor, Cipher, DEFAULT_ITERATIONS, Digest, Kdf, Params, UnknownName};

/// The first eight bytes of every salted `openssl enc` file.
pub const MAGIC: &[u8; 8] = b"Salted__";
/// Length of the random salt that follows [`MAGIC`].
pub const SALT_LEN: usize = 8;
/// The first ten characters of `MAGIC` in base64 (`openssl enc -a`). The eleventh already mixes in
/// salt bits, so sniffing stops here.
pub const BASE64_MAGIC: &[u8; 10] = b"U2FsdGVkX1";
/// The AES block size, which is also the IV length.
pub const BLOCK_LEN: usize = 16;

/// Bytes handled per batch: large enough that AES runs on long runs of blocks, small enough to
/// stay in cache. A multiple of the block size and of the base64 line.
const BATCH: usize = 64 * 1024;
const _: () = assert!(BATCH.is_multiple_of(BLOCK_LEN));

#[cfg(test)]
mod tests;
