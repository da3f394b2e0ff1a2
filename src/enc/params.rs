//! The knobs of an `openssl enc` container that the file itself does not record: cipher, digest and
//! key-derivation function. Owns their names (as `openssl enc` spells them) and the flag line that
//! reproduces them; knows nothing of keys, streams or files.

use std::fmt;
use std::str::FromStr;

/// PBKDF2 iterations used when none are given: OWASP's current figure for PBKDF2-HMAC-SHA256
/// (openssl's own default of 10,000 is too weak for a file anyone can download).
pub const DEFAULT_ITERATIONS: u32 = 600_000;

/// The block cipher, always AES in CBC mode as `openssl enc` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cipher {
    /// `aes-128-cbc`: 16-byte key.
    Aes128Cbc,
    /// `aes-192-cbc`: 24-byte key.
    Aes192Cbc,
    /// `aes-256-cbc`: 32-byte key; the default.
    #[default]
    Aes256Cbc,
}

impl Cipher {
    /// Every cipher, in the order the help text lists them.
    pub const ALL: [Cipher; 3] = [Cipher::Aes128Cbc, Cipher::Aes192Cbc, Cipher::Aes256Cbc];

    /// The name `openssl enc` uses, e.g. `aes-256-cbc`.
    pub fn name(self) -> &'static str {
        match self {
            Cipher::Aes128Cbc => "aes-128-cbc",
            Cipher::Aes192Cbc => "aes-192-cbc",
            Cipher::Aes256Cbc => "aes-256-cbc",
        }
    }

    /// Length of the AES key in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Cipher::Aes128Cbc => 16,
            Cipher::Aes192Cbc => 24,
            Cipher::Aes256Cbc => 32,
        }
    }
}

impl fmt::Display for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A cipher or digest name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {given:?}: expected one of {valid}")]
pub struct UnknownName {
    /// "cipher" or "digest".
    pub what: &'static str,
    /// What the user typed.
    pub given: String,
    /// The accepted names, comma-separated.
    pub valid: String,
}

impl FromStr for Cipher {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Accept openssl's own flag spelling too (`-aes-256-cbc`), and any letter case.
        let wanted = s.trim_start_matches('-').to_ascii_lowercase();
        Cipher::ALL
            .into_iter()
            .find(|c| c.name() == wanted)
            .ok_or_else(|| UnknownName {
                what: "cipher",
                given: s.to_owned(),
                valid: list(Cipher::ALL.iter().map(|c| c.name())),
            })
    }
}

/// The message digest behind the key derivation (`openssl enc -md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Digest {
    /// `md5`: what `openssl enc` used before 1.1.0, and the 2009 article's bundles.
    Md5,
    /// `sha1`.
    Sha1,
    /// `sha256`: openssl's default since 1.1.0; ours.
    #[default]
    Sha256,
    /// `sha512`.
    Sha512,
}

impl Digest {
    /// Every digest.
    pub const ALL: [Digest; 4] = [Digest::Md5, Digest::Sha1, Digest::Sha256, Digest::Sha512];

    /// The name `openssl enc -md` takes.
    pub fn name(self) -> &'static str {
        match self {
            Digest::Md5 => "md5",
            Digest::Sha1 => "sha1",
            Digest::Sha256 => "sha256",
            Digest::Sha512 => "sha512",
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Digest {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // openssl also spells them `sha-256`, `SHA256`: accept case and one optional dash.
        let wanted = s.to_ascii_lowercase().replace("sha-", "sha");
        Digest::ALL
            .into_iter()
            .find(|d| d.name() == wanted)
            .ok_or_else(|| UnknownName {
                what: "digest",
                given: s.to_owned(),
                valid: list(Digest::ALL.iter().map(|d| d.name())),
            })
    }
}

/// How the key and IV come from the passphrase and salt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kdf {
    /// PBKDF2-HMAC with the chosen digest: `openssl enc -pbkdf2 -iter N`. openssl refuses 0
    /// iterations; here 0 counts as 1, so callers should parse `--iter` as a non-zero number.
    Pbkdf2 {
        /// The PBKDF2 iteration count. The file does not record it.
        iterations: u32,
    },
    /// `EVP_BytesToKey` with one round: `openssl enc` without `-pbkdf2` (deprecated, fast to guess).
    Legacy,
}

impl Default for Kdf {
    fn default() -> Self {
        Kdf::Pbkdf2 {
            iterations: DEFAULT_ITERATIONS,
        }
    }
}

/// Everything needed, beyond the passphrase, to encrypt or decrypt a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params {
    /// The AES-CBC variant.
    pub cipher: Cipher,
    /// The digest for PBKDF2-HMAC or `EVP_BytesToKey`.
    pub digest: Digest,
    /// The key-derivation function.
    pub kdf: Kdf,
}

impl Params {
    /// The `openssl enc` flags that reproduce these parameters, e.g.
    /// `-aes-256-cbc -pbkdf2 -iter 600000 -md sha256`, or `-aes-256-cbc -md md5` for the legacy KDF.
    /// Add `-d`, `-a` and `-pass …` to decrypt.
    pub fn openssl_flags(&self) -> String {
        match self.kdf {
            Kdf::Pbkdf2 { iterations } => format!(
                "-{} -pbkdf2 -iter {} -md {}",
                self.cipher,
                iterations.max(1),
                self.digest
            ),
            Kdf::Legacy => format!("-{} -md {}", self.cipher, self.digest),
        }
    }
}

/// Whether the container is raw bytes or base64 text like `openssl enc -a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Armor {
    /// Raw bytes, starting with `Salted__`.
    #[default]
    Binary,
    /// Base64 in 64-column lines, each ending in a newline (`openssl enc -a`); starts `U2FsdGVkX1`.
    Base64,
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Cipher::ALL {
            assert_eq!(c.to_string().parse::<Cipher>(), Ok(c));
        }
        for d in Digest::ALL {
            assert_eq!(d.to_string().parse::<Digest>(), Ok(d));
        }
        assert_eq!("-AES-128-CBC".parse::<Cipher>(), Ok(Cipher::Aes128Cbc));
        assert_eq!("SHA-512".parse::<Digest>(), Ok(Digest::Sha512));
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let err = "aes-256-gcm".parse::<Cipher>().unwrap_err().to_string();
        assert!(
            err.contains("aes-128-cbc, aes-192-cbc, aes-256-cbc"),
            "{err}"
        );
        let err = "sha3".parse::<Digest>().unwrap_err().to_string();
        assert!(err.contains("md5, sha1, sha256, sha512"), "{err}");
    }

    #[test]
    fn defaults_are_pbkdf2_sha256_600000_aes256() {
        let p = Params::default();
        assert_eq!(
            p.openssl_flags(),
            "-aes-256-cbc -pbkdf2 -iter 600000 -md sha256"
        );
        let legacy = Params {
            kdf: Kdf::Legacy,
            digest: Digest::Md5,
            ..p
        };
        assert_eq!(legacy.openssl_flags(), "-aes-256-cbc -md md5");
    }
}
