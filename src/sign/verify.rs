//! Checking a minisign signature over a bundle file: the bootstrap's side, on the ciphertext, before
//! any byte is decrypted.
//!
//! Uses only the small `minisign-verify` crate (never `minisign`, which brings key generation and
//! scrypt into the static `bundle-bootstrap`). Reads public keys (not secrets) and signature text;
//! judges nothing (that is [`super::policy`]). Formats are the minisign ones
//! (<https://jedisct1.github.io/minisign/>): a public key is base64 of `Ed` ‖ key id (8) ‖ Ed25519 key
//! (32); a signature line is base64 of `ED` (prehashed, BLAKE2b-512) ‖ key id ‖ signature (64).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::date as time;
use crate::exit::{Classify, Exit};
use crate::sign::comment::{CommentError, TrustedFacts};
use crate::sign::key_id_hex as id_hex;
use crate::sign::policy::{self, Expected, Policy};

/// Signature algorithm bytes of a public key and of a legacy (whole-file) signature.
const ALG_ED25519: [u8; 2] = *b"Ed";
/// Signature algorithm bytes of a prehashed signature (BLAKE2b-512 of the file, then Ed25519).
const ALG_PREHASHED: [u8; 2] = *b"ED";
/// Decoded length of a public key: algorithm (2) + key id (8) + Ed25519 key (32).
const PUBLIC_KEY_LEN: usize = 42;
/// Decoded length of a signature line: algorithm (2) + key id (8) + Ed25519 signature (64).
const SIGNATURE_LEN: usize = 74;
/// Where the key id sits in both.
const KEY_ID: std::ops::Range<usize> = 2..10;
/// Prefix of minisign's first, unauthenticated line.
const UNTRUSTED_PREFIX: &str = "untrusted comment:";
/// A public key file larger than this is not a minisign public key.
const MAX_KEY_FILE: u64 = 4096;
/// Read buffer while hashing the file.
const CHUNK: usize = 256 * 1024;

/// A public key given with `--pubkey`, ready to check signatures.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    id: [u8; 8],
    key: minisign_verify::PublicKey,
    source: String,
}

/// Whether an expired signature is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpiryPolicy {
    /// Refuse it (the default): a frozen mirror cannot serve an old bundle forever.
    #[default]
    Enforce,
    /// Accept it (`--allow-expired`).
    AllowExpired,
}

/// A signature that checked out with one of the keys.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The key id that signed, as minisign prints it (16 upper-case hex digits).
    pub key_id: String,
    /// Which `--pubkey` it was (inline key or file name).
    pub key_source: String,
    /// The trusted comment, as signed.
    pub trusted_comment: String,
    /// sha256 of the file that was checked, lower-case hex.
    pub sha256: String,
}

/// Why a signature was refused or could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// `--pubkey` is neither a minisign public key nor a file holding one.
    #[error("--pubkey {given}: {reason}")]
    PublicKey {
        /// What was given (a key is public: safe to print).
        given: String,
        /// What is wrong.
        reason: String,
    },
    /// A public key or signature file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// No signature exists for the file.
    #[error("{what} is not signed: no {sig} found")]
    NotSigned {
        /// The bundle (path or redacted URL).
        what: String,
        /// Where the signature was looked for.
        sig: String,
    },
    /// The signature text is not a minisign signature.
    #[error("the signature {origin} is malformed: {reason}")]
    Malformed {
        /// The signature file or URL.
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// Signed by a key that is none of the given ones.
    #[error("the signature {origin} was made with key {signed_by}, which is not a given --pubkey ({})", given.join(", "))]
    UnknownKey {
        /// The signature file or URL.
        origin: String,
        /// The signature's key id.
        signed_by: String,
        /// The ids of the given keys.
        given: Vec<String>,
    },
    /// The signature does not match the file, or its trusted comment was changed.
    #[error("bad signature: {file} or its signature {origin} was changed (key {key_id})")]
    BadSignature {
        /// The signed file.
        file: String,
        /// The signature file or URL.
        origin: String,
        /// The key id it claims.
        key_id: String,
    },
    /// The signature is good but its trusted comment is not one of ours, or is malformed.
    #[error("signature good (key {key_id}), but {source}")]
    Comment {
        /// The key that signed.
        key_id: String,
        /// What is wrong with the comment.
        #[source]
        source: CommentError,
    },
    /// The comment's sha256 is not the file's (a signer's mistake).
    #[error("the signed sha256 {signed} is not the file's sha256 {actual}")]
    Sha256Mismatch {
        /// What the comment says.
        signed: String,
        /// What the file has.
        actual: String,
    },
    /// The signature names another bundle than the one this instance asked for.
    #[error("the signature is for the bundle {signed:?}, but this instance boots {expected:?}")]
    NameMismatch {
        /// The name the signature vouches for.
        signed: String,
        /// The name the URL, the pointer or `--name` gives.
        expected: String,
    },
    /// The signed sequence number is lower than one this machine already applied.
    #[error(
        "refusing {name} seq {seq}: this machine already applied seq {highest} of {name} (an older bundle served again?)"
    )]
    Rollback {
        /// Bundle name (signed).
        name: String,
        /// Its sequence number (signed).
        seq: u64,
        /// The highest applied here.
        highest: u64,
    },
    /// The signature's expiry date has passed.
    #[error("the signature of {name} {version} expired at {}", time::format_rfc3339(*expires))]
    Expired {
        /// Bundle name.
        name: String,
        /// Bundle version.
        version: String,
        /// When it expired (UNIX time).
        expires: u64,
    },
}

impl Classify for VerifyError {
    fn exit(&self) -> Exit {
        match self {
            VerifyError::PublicKey { .. } | VerifyError::Read { .. } => Exit::Usage,
            _ => Exit::Verify,
        }
    }

    fn hint(&self) -> Option<String> {
        let text = match self {
            VerifyError::PublicKey { .. } => {
                "give the base64 line of the .pub file (like `minisign -P`), or the .pub file's path"
            }
            VerifyError::Read { .. } => "check the path",
            VerifyError::NotSigned { .. } => {
                "publish FILE.minisig beside the bundle (bundle pack --sign KEY, or bundle sign FILE)"
            }
            VerifyError::Malformed { .. } | VerifyError::BadSignature { .. } => {
                "do not use this bundle: re-download it, or re-publish the bundle and its .minisig together"
            }
            VerifyError::UnknownKey { .. } => {
                "pass the publisher's current public key with --pubkey (repeat --pubkey to accept two during a key rotation)"
            }
            VerifyError::Comment { .. } => {
                "sign with `bundle sign` or `bundle pack --sign`: the trusted comment must carry the bundle's facts"
            }
            VerifyError::Sha256Mismatch { .. } => "re-sign the file with `bundle sign`",
            VerifyError::Expired { .. } => {
                "publish a fresh signature (bundle sign --expires …), or pass --allow-expired on purpose"
            }
            VerifyError::NameMismatch { .. } => {
                "someone put another bundle signed by the same key at this URL: check who can write there (or pass --name if the bundle is published under another file name)"
            }
            VerifyError::Rollback { .. } => {
                "publish it again signed with a higher --seq, or pass --allow-downgrade to go back on purpose"
            }
        };
        Some(text.to_string())
    }
}

impl TrustedKey {
    /// Reads `--pubkey`: the base64 key (what `minisign -P` takes), or a `.pub` file's path.
    pub fn parse(given: &str) -> Result<TrustedKey, VerifyError> {
        let inline = given.trim();
        if looks_like_key(inline) {
            return TrustedKey::from_base64(inline, inline);
        }
        let path = Path::new(given);
        if !path.exists() {
            return Err(VerifyError::PublicKey {
                given: given.to_string(),
                reason: "neither a base64 public key nor an existing file".into(),
            });
        }
        let read_err = |source| VerifyError::Read {
            path: path.to_path_buf(),
            source,
        };
        let mut text = String::new();
        File::open(path)
            .map_err(read_err)?
            .take(MAX_KEY_FILE)
            .read_to_string(&mut text)
            .map_err(read_err)?;
        let mut lines = text.lines().skip_while(|l| l.starts_with(UNTRUSTED_PREFIX));
        let line = lines.next().unwrap_or_default().trim();
        TrustedKey::from_base64(line, &path.display().to_string())
    }

    /// A key from its base64 form; `source` names it in messages.
    pub fn from_base64(b64: &str, source: &str) -> Result<TrustedKey, VerifyError> {
        let bad = |reason: &str| VerifyError::PublicKey {
            given: source.to_string(),
            reason: reason.to_string(),
        };
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| bad("not base64"))?;
        if raw.len() != PUBLIC_KEY_LEN || raw[..2] != ALG_ED25519 {
            return Err(bad("not a minisign Ed25519 public key"));
        }
        let key = minisign_verify::PublicKey::from_base64(b64)
            .map_err(|e| bad(&e.to_string().to_lowercase()))?;
        Ok(TrustedKey {
            id: key_id(&raw),
            key,
            source: source.to_string(),
        })
    }

    /// The key id as minisign prints it.
    pub fn id(&self) -> String {
        id_hex(&self.id)
    }
}

fn looks_like_key(s: &str) -> bool {
    s.len() == 56
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

fn key_id(raw: &[u8]) -> [u8; 8] {
    let mut id = [0u8; 8];
    id.copy_from_slice(&raw[KEY_ID]);
    id
}

/// Checks `signature` (the text of a `.minisig`, from `origin`) over `file` with whichever of `keys`
/// made it. The key id is checked before any hashing; the file is read once. Messages name the
/// file `shown`: the URL it was downloaded from, never the download's private temp name.
pub fn verify_file(
    file: &Path,
    shown: &str,
    signature: &str,
    origin: &str,
    keys: &[TrustedKey],
) -> Result<Verified, VerifyError> {
    let malformed = |reason: &str| VerifyError::Malformed {
        origin: origin.to_string(),
        reason: reason.to_string(),
    };
    let sig_line = signature
        .lines()
        .nth(1)
        .ok_or_else(|| malformed("fewer than four lines"))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(sig_line.trim_end())
        .map_err(|_| malformed("the signature line is not base64"))?;
    if raw.len() != SIGNATURE_LEN {
        return Err(malformed("the signature line has the wrong length"));
    }
    if raw[..2] == ALG_ED25519 {
        // Legacy signatures sign the whole file, not its hash: they cannot be checked as a stream.
        return Err(malformed(
            "a legacy (not prehashed) signature; sign with minisign 0.8 or later, or bundle sign",
        ));
    }
    if raw[..2] != ALG_PREHASHED {
        return Err(malformed("unknown signature algorithm"));
    }
    let parsed = minisign_verify::Signature::decode(signature)
        .map_err(|e| malformed(&e.to_string().to_lowercase()))?;
    let signed_by = key_id(&raw);
    let candidates: Vec<&TrustedKey> = keys.iter().filter(|k| k.id == signed_by).collect();
    if candidates.is_empty() {
        return Err(VerifyError::UnknownKey {
            origin: origin.to_string(),
            signed_by: id_hex(&signed_by),
            given: keys.iter().map(TrustedKey::id).collect(),
        });
    }
    let mut verifiers = Vec::with_capacity(candidates.len());
    for key in &candidates {
        let v = key
            .key
            .verify_stream(&parsed)
            .map_err(|e| malformed(&e.to_string().to_lowercase()))?;
        verifiers.push(v);
    }
    let read_err = |source| VerifyError::Read {
        path: file.to_path_buf(),
        source,
    };
    let mut input = File::open(file).map_err(read_err)?;
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_err(e)),
        };
        sha.update(&buf[..n]);
        for v in &mut verifiers {
            v.update(&buf[..n]);
        }
    }
    let sha256 = crate::hashing::hex(&sha.finalize());
    for (key, v) in candidates.iter().zip(verifiers.iter_mut()) {
        if v.finalize().is_ok() {
            return Ok(Verified {
                key_id: key.id(),
                key_source: key.source.clone(),
                trusted_comment: parsed.trusted_comment().to_string(),
                sha256,
            });
        }
    }
    Err(VerifyError::BadSignature {
        file: shown.to_string(),
        origin: origin.to_string(),
        key_id: id_hex(&signed_by),
    })
}

/// What `bundle verify` found: a good signature, and its facts when the comment is one of ours.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The good signature.
    pub verified: Verified,
    /// The judged facts; `None` when the trusted comment is someone else's (`minisign -S`'s own
    /// `timestamp:… file:…`): good for minisign, refused by the bootstrap.
    pub facts: Option<TrustedFacts>,
    /// What was accepted only because a flag allowed it.
    pub allowed: Vec<String>,
}

/// Checks a local file against its `.minisig` (`bundle verify`) with the bootstrap's own policy,
/// minus the rollback floor (which belongs to each machine).
pub fn check_local(
    file: &Path,
    sig: &Path,
    policy: &Policy<'_>,
    expected: &Expected<'_>,
) -> Result<Checked, VerifyError> {
    let mut text = String::new();
    let read =
        File::open(sig).and_then(|f| f.take(super::MAX_SIGNATURE_SIZE).read_to_string(&mut text));
    match read {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(VerifyError::NotSigned {
                what: file.display().to_string(),
                sig: sig.display().to_string(),
            });
        }
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            return Err(VerifyError::Malformed {
                origin: sig.display().to_string(),
                reason: "not text".into(),
            });
        }
        Err(source) => {
            return Err(VerifyError::Read {
                path: sig.to_path_buf(),
                source,
            });
        }
    }
    let shown = file.display().to_string();
    let verified = verify_file(file, &shown, &text, &sig.display().to_string(), policy.keys)?;
    match policy::accept_verified(verified.clone(), policy, expected) {
        Ok(accepted) => Ok(Checked {
            verified,
            facts: Some(accepted.facts),
            allowed: accepted.allowed,
        }),
        Err(VerifyError::Comment {
            source: CommentError::NotOurs { .. },
            ..
        }) => Ok(Checked {
            verified,
            facts: None,
            allowed: Vec::new(),
        }),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The public key of minisign-verify's documented example.
    const PK: &str = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3";

    #[test]
    fn key_ids_print_as_minisign_prints_them() {
        let key = TrustedKey::parse(PK).unwrap();
        assert_eq!(key.id(), "E7620F1842B4E81F");
    }

    #[test]
    fn bad_keys_are_named() {
        for bad in ["RWQ", "/no/such/key.pub", &PK.replace('R', "!")] {
            let err = TrustedKey::parse(bad).unwrap_err();
            assert_eq!(err.exit(), Exit::Usage, "{err}");
        }
    }
}
