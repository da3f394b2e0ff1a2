//! The one error type of the container stage, its exit status, and how to recognise it again once it
//! has travelled through an `io::Error` (decompressors and tar only ever see `io::Error`).

use std::error::Error as StdError;
use std::io;

use crate::exit::{Classify, Exit};

use super::params::DEFAULT_ITERATIONS;

/// Why an `openssl enc` container could not be opened or read.
///
/// Wrong passphrase, wrong parameters and damage are deliberately one variant: telling bad padding
/// apart from a bad length would hand an attacker a padding oracle (Vaudenay 2002).
#[derive(Debug, thiserror::Error)]
pub enum EncError {
    /// The input does not start with `Salted__` (nor its base64 form).
    #[error("not an openssl enc file: it does not start with Salted__ (nor its base64 form)")]
    NotEncrypted,
    /// Wrong passphrase, wrong parameters, truncated or damaged.
    #[error("cannot decrypt: wrong passphrase, wrong --iter/--md/--cipher, or a damaged file")]
    DecryptionFailed,
    /// Reading the input failed for another reason.
    #[error("reading the encrypted input failed")]
    Io(#[source] io::Error),
}

impl Classify for EncError {
    fn exit(&self) -> Exit {
        Exit::Verify
    }

    fn hint(&self) -> Option<String> {
        let flags = format!(
            "--pass, --iter, --md, --legacy-kdf and --cipher must match how the file was made \
             (defaults: pbkdf2 sha256 {DEFAULT_ITERATIONS} iterations, aes-256-cbc)"
        );
        match self {
            EncError::NotEncrypted => Some(format!(
                "expected a file from `bundle pack` or `openssl enc -salt` (binary or -a); {flags}"
            )),
            EncError::DecryptionFailed => Some(format!("check the passphrase; {flags}")),
            EncError::Io(_) => None,
        }
    }
}

impl EncError {
    /// The opaque failure as the `io::Error` a `Read` implementation returns.
    pub(crate) fn failed() -> io::Error {
        io::Error::other(EncError::DecryptionFailed)
    }
}

/// How deep to follow wrapped errors before giving up (a guard against cycles, not a real limit).
const MAX_ERROR_DEPTH: usize = 16;

/// True when `e` carries [`EncError::DecryptionFailed`], however deeply wrapped (a decompressor or
/// tar reader may wrap the `io::Error` our `Decryptor` returned).
pub fn is_decryption_failure(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| carries_failure(inner, MAX_ERROR_DEPTH))
}

fn carries_failure(e: &(dyn StdError + 'static), depth: usize) -> bool {
    if depth == 0 {
        return false;
    }
    if let Some(enc) = e.downcast_ref::<EncError>() {
        return match enc {
            EncError::DecryptionFailed => true,
            EncError::NotEncrypted => false,
            EncError::Io(inner) => is_decryption_failure(inner),
        };
    }
    // io::Error's own `source()` skips the custom payload, so open it by hand.
    if let Some(io) = e.downcast_ref::<io::Error>()
        && let Some(inner) = io.get_ref()
        && carries_failure(inner, depth - 1)
    {
        return true;
    }
    e.source().is_some_and(|s| carries_failure(s, depth - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("gzip stream failed")]
    struct Wrapper(#[source] io::Error);

    #[test]
    fn recognises_the_failure_through_wrappers() {
        assert!(is_decryption_failure(&EncError::failed()));
        let wrapped = io::Error::other(Wrapper(EncError::failed()));
        assert!(is_decryption_failure(&wrapped));
        let twice = io::Error::new(io::ErrorKind::InvalidData, io::Error::other(wrapped));
        assert!(is_decryption_failure(&twice));
    }

    #[test]
    fn other_errors_are_not_the_failure() {
        assert!(!is_decryption_failure(&io::Error::other("disk on fire")));
        assert!(!is_decryption_failure(&io::ErrorKind::UnexpectedEof.into()));
        assert!(!is_decryption_failure(&io::Error::other(
            EncError::NotEncrypted
        )));
    }

    #[test]
    fn every_variant_is_exit_3_and_the_hint_names_the_flags() {
        for e in [
            EncError::NotEncrypted,
            EncError::DecryptionFailed,
            EncError::Io(io::Error::other("x")),
        ] {
            assert_eq!(e.exit(), Exit::Verify);
        }
        let hint = EncError::DecryptionFailed.hint().unwrap_or_default();
        for flag in [
            "--pass",
            "--iter",
            "--md",
            "--legacy-kdf",
            "--cipher",
            "600000",
            "sha256",
        ] {
            assert!(hint.contains(flag), "{hint}");
        }
    }
}
