//! Minisign signatures over the encrypted bundle file (issue 5): who published it, and whether it
//! may be applied here.
//!
//! `openssl enc` has no authentication, so the bootstrap checks `URL.minisig` on the ciphertext
//! before any byte is decrypted. The signature's trusted comment ([`comment`]) carries what the
//! bootstrap needs to open and judge the bundle: name, version, sequence number, sha256, decryption
//! parameters, expiry. Files interoperate with the reference `minisign` tool both ways.
//!
//! Two halves that must stay apart: [`verify`] (bootstrap; only the small `minisign-verify` crate)
//! and [`create`] (publisher; the `minisign` crate with scrypt). [`policy`] judges a good signature
//! (keys, expiry, name, rollback floor); `crate::state` keeps the floor, `crate::date` the dates. This part reads no passphrase itself (key passwords come through
//! `crate::secret`), fetches nothing, and decrypts nothing.

pub mod comment;
#[cfg(feature = "publisher")]
pub mod create;
pub mod policy;
pub mod verify;

pub use comment::{CommentError, TrustedFacts};
#[cfg(feature = "publisher")]
pub use create::{KeyFiles, KeyProtection, NewKey, SignError, SigningKey};
pub use policy::{Accepted, Expected, Policy, Rollback};
pub use verify::{ExpiryPolicy, TrustedKey, Verified, VerifyError};

/// A `.minisig` (or a release pointer, which is one) is under 1 KiB; anything larger is not one.
pub const MAX_SIGNATURE_SIZE: u64 = 16 * 1024;

/// What minisign appends to a file's name for its signature.
pub const SIG_SUFFIX: &str = ".minisig";

/// The signature file beside `path`: `path.minisig`.
pub fn sig_path(path: &std::path::Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(SIG_SUFFIX);
    std::path::PathBuf::from(name)
}

/// The signature URL of a bundle URL: `.minisig` appended to its path, before any `?query` or
/// `#fragment` of a web URL.
pub fn sig_url(url: &str) -> String {
    let split = if url.contains("://") && !url.starts_with("file://") {
        url.find(['?', '#']).unwrap_or(url.len())
    } else {
        url.len()
    };
    format!("{}{SIG_SUFFIX}{}", &url[..split], &url[split..])
}

/// minisign prints a key id as its little-endian 64-bit number in upper-case hex.
pub(crate) fn key_id_hex(id: &[u8; 8]) -> String {
    format!("{:016X}", u64::from_le_bytes(*id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_beside_the_bundle() {
        assert_eq!(sig_url("https://h/b.enc"), "https://h/b.enc.minisig");
        assert_eq!(
            sig_url("https://h/b.enc?x=1#f"),
            "https://h/b.enc.minisig?x=1#f"
        );
        assert_eq!(sig_url("/srv/b?.enc"), "/srv/b?.enc.minisig");
        assert_eq!(
            sig_path(std::path::Path::new("out/b.enc")),
            std::path::Path::new("out/b.enc.minisig")
        );
    }
}
