//! The trusted comment of a bundle's signature: the facts the bootstrap needs to open the bundle and to
//! judge it, on one signed line.
//!
//! ```text
//! startup-bundle v1 name=shop version=1.2.3 seq=1767225600 sha256=<64 hex> cipher=aes-256-cbc kdf=pbkdf2 md=sha256 iter=600000 expires=2026-12-31T00:00:00Z
//! ```
//!
//! minisign signs the trusted comment together with the file's signature (the "global signature" of
//! the minisign format), so none of these words can be changed or moved to another file. Words are
//! `key=value`, separated by single spaces; values are percent-encoded (RFC 3986 §2.1) where they hold
//! a byte that is not printable ASCII, or a `%`. Parsing is strict: every key known, none twice, every
//! required one present, an unknown format version refused. Pure: no files, no clock.

use std::fmt::Write as _;

use crate::date as time;
use crate::enc::{Cipher, Digest, Kdf, Params};

/// First word of every trusted comment we write.
pub const MAGIC: &str = "startup-bundle";
/// The format version we write and read.
pub const FORMAT_VERSION: &str = "v1";
/// The `kdf=` value for PBKDF2 (`openssl enc -pbkdf2`).
const KDF_PBKDF2: &str = "pbkdf2";
/// The `kdf=` value for the legacy `EVP_BytesToKey` (`openssl enc` without `-pbkdf2`).
const KDF_LEGACY: &str = "evp-bytestokey";
/// Hex digits of a sha256.
const SHA256_HEX_LEN: usize = 64;
/// minisign keeps a trusted comment within 1024 bytes with its `trusted comment: ` prefix
/// (`COMMENTMAXBYTES` in minisign.h); we stay under it so the reference tool reads every comment.
pub const MAX_COMMENT_LEN: usize = 1000;

/// What a signature vouches for, besides the file's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedFacts {
    /// Bundle name (the rollback counter is kept per name).
    pub name: String,
    /// Bundle version, for people.
    pub version: String,
    /// Sequence number: a bootstrap refuses one lower than the highest it applied for this name.
    pub seq: u64,
    /// sha256 of the signed file, lower-case hex.
    pub sha256: String,
    /// How to decrypt the file.
    pub params: Params,
    /// UNIX time after which the signature is refused, if any.
    pub expires: Option<u64>,
}

/// Why a trusted comment is not one we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommentError {
    /// A valid minisign comment that was not written by `bundle` (e.g. `timestamp:… file:…`).
    #[error("the trusted comment is not a startup-bundle one: {comment:?}")]
    NotOurs {
        /// The comment as signed.
        comment: String,
    },
    /// A startup-bundle comment of a format this program does not read.
    #[error(
        "the trusted comment has startup-bundle format {version:?}; this program reads {FORMAT_VERSION}"
    )]
    UnknownVersion {
        /// The version word found.
        version: String,
    },
    /// A startup-bundle comment that breaks the format.
    #[error("the trusted comment is malformed: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
}

impl TrustedFacts {
    /// The one-line comment, in a fixed word order.
    pub fn to_comment(&self) -> String {
        let mut out = format!(
            "{MAGIC} {FORMAT_VERSION} name={} version={} seq={} sha256={} cipher={}",
            encode(&self.name),
            encode(&self.version),
            self.seq,
            self.sha256,
            self.params.cipher
        );
        match self.params.kdf {
            Kdf::Pbkdf2 { iterations } => {
                let _ = write!(
                    out,
                    " kdf={KDF_PBKDF2} md={} iter={iterations}",
                    self.params.digest
                );
            }
            Kdf::Legacy => {
                let _ = write!(out, " kdf={KDF_LEGACY} md={}", self.params.digest);
            }
        }
        if let Some(expires) = self.expires {
            let _ = write!(out, " expires={}", time::format_rfc3339(expires));
        }
        out
    }

    /// Reads a trusted comment written by [`TrustedFacts::to_comment`], refusing anything else.
    pub fn parse(comment: &str) -> Result<TrustedFacts, CommentError> {
        let mut words = comment.split(' ');
        if words.next() != Some(MAGIC) {
            return Err(CommentError::NotOurs {
                comment: comment.to_string(),
            });
        }
        match words.next() {
            Some(FORMAT_VERSION) => {}
            other => {
                return Err(CommentError::UnknownVersion {
                    version: other.unwrap_or_default().to_string(),
                });
            }
        }
        let mut fields = Fields::default();
        for word in words {
            fields.take(word)?;
        }
        fields.finish()
    }

    /// The facts for people, one per line, as `bundle verify` prints them.
    pub fn describe(&self) -> String {
        let expires = match self.expires {
            Some(t) => time::format_rfc3339(t),
            None => "never".to_string(),
        };
        format!(
            "name:     {}\nversion:  {}\nseq:      {}\nsha256:   {}\ndecrypt:  {}\nexpires:  {expires}\n",
            self.name,
            self.version,
            self.seq,
            self.sha256,
            self.params.openssl_flags()
        )
    }
}

/// The words of a comment as they are read, each at most once.
#[derive(Default)]
struct Fields {
    name: Option<String>,
    version: Option<String>,
    seq: Option<u64>,
    sha256: Option<String>,
    cipher: Option<Cipher>,
    kdf: Option<String>,
    md: Option<Digest>,
    iter: Option<u32>,
    expires: Option<u64>,
}

fn malformed(reason: impl Into<String>) -> CommentError {
    CommentError::Malformed {
        reason: reason.into(),
    }
}

/// A bundle name safe as a file name and an object key: the one name rule ([`crate::names`]).
pub fn valid_name(name: &str) -> bool {
    crate::names::validate_name(name).is_ok()
}

fn set<T>(slot: &mut Option<T>, key: &str, value: T) -> Result<(), CommentError> {
    if slot.replace(value).is_some() {
        return Err(malformed(format!("{key}= appears twice")));
    }
    Ok(())
}

impl Fields {
    fn take(&mut self, word: &str) -> Result<(), CommentError> {
        let (key, raw) = word
            .split_once('=')
            .ok_or_else(|| malformed(format!("{word:?} is not key=value")))?;
        let value = decode(raw).ok_or_else(|| malformed(format!("bad encoding in {key}=")))?;
        let number = |what: &str| {
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(malformed(format!("{what}={value:?} is not a number")));
            }
            value
                .parse::<u64>()
                .map_err(|_| malformed(format!("{what}={value} is too large")))
        };
        match key {
            // The name becomes a file name in STATE/seq/ and a key in release layouts; both reach
            // the console and BUNDLE_NAME/BUNDLE_VERSION.
            "name" => match crate::names::validate_name(&value) {
                Ok(()) => set(&mut self.name, key, value.clone()),
                Err(e) => Err(malformed(format!(
                    "name={:?}: {e}",
                    crate::names::printable(&value)
                ))),
            },
            "version" => match crate::names::validate_version(&value) {
                Ok(()) => set(&mut self.version, key, value.clone()),
                Err(e) => Err(malformed(format!(
                    "version={:?}: {e}",
                    crate::names::printable(&value)
                ))),
            },
            "seq" => set(&mut self.seq, key, number(key)?),
            "sha256" => {
                let hex = value.len() == SHA256_HEX_LEN
                    && value
                        .bytes()
                        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
                if !hex {
                    return Err(malformed("sha256= is not 64 lower-case hex digits"));
                }
                set(&mut self.sha256, key, value.clone())
            }
            "cipher" => set(
                &mut self.cipher,
                key,
                value.parse().map_err(|e| malformed(format!("{e}")))?,
            ),
            "kdf" => set(&mut self.kdf, key, value.clone()),
            "md" => set(
                &mut self.md,
                key,
                value.parse().map_err(|e| malformed(format!("{e}")))?,
            ),
            "iter" => {
                let n = u32::try_from(number(key)?)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| malformed("iter= must be 1 to 4294967295"))?;
                set(&mut self.iter, key, n)
            }
            "expires" => set(
                &mut self.expires,
                key,
                time::parse_rfc3339(&value).map_err(malformed)?,
            ),
            _ => Err(malformed(format!("unknown key {key:?}"))),
        }
    }

    fn finish(self) -> Result<TrustedFacts, CommentError> {
        let missing = |key: &str| malformed(format!("{key}= is missing"));
        let kdf = match (self.kdf.as_deref(), self.iter) {
            (Some(KDF_PBKDF2), Some(iterations)) => Kdf::Pbkdf2 { iterations },
            (Some(KDF_PBKDF2), None) => return Err(missing("iter")),
            (Some(KDF_LEGACY), None) => Kdf::Legacy,
            (Some(KDF_LEGACY), Some(_)) => {
                return Err(malformed("iter= has no meaning with kdf=evp-bytestokey"));
            }
            (Some(other), _) => return Err(malformed(format!("unknown kdf {other:?}"))),
            (None, _) => return Err(missing("kdf")),
        };
        Ok(TrustedFacts {
            name: self.name.ok_or_else(|| missing("name"))?,
            version: self.version.ok_or_else(|| missing("version"))?,
            seq: self.seq.ok_or_else(|| missing("seq"))?,
            sha256: self.sha256.ok_or_else(|| missing("sha256"))?,
            params: Params {
                cipher: self.cipher.ok_or_else(|| missing("cipher"))?,
                digest: self.md.ok_or_else(|| missing("md"))?,
                kdf,
            },
            expires: self.expires,
        })
    }
}

/// Percent-encodes every byte that is not printable ASCII, and `%` itself.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_graphic() && b != b'%' {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Reverses [`encode`]; `None` for a raw byte that should have been encoded, a broken escape, or
/// bytes that are not UTF-8.
fn decode(raw: &str) -> Option<String> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            c if c.is_ascii_graphic() => {
                out.push(c);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> TrustedFacts {
        TrustedFacts {
            name: "shop".into(),
            version: "1.2.3".into(),
            seq: 7,
            sha256: "ab".repeat(32),
            params: Params {
                kdf: Kdf::Pbkdf2 { iterations: 1000 },
                ..Params::default()
            },
            expires: Some(1_798_675_200),
        }
    }

    #[test]
    fn writes_the_documented_line_and_reads_it_back() {
        let line = facts().to_comment();
        assert_eq!(
            line,
            format!(
                "startup-bundle v1 name=shop version=1.2.3 seq=7 sha256={} cipher=aes-256-cbc kdf=pbkdf2 md=sha256 iter=1000 expires=2026-12-31T00:00:00Z",
                "ab".repeat(32)
            )
        );
        assert_eq!(TrustedFacts::parse(&line), Ok(facts()));
    }

    #[test]
    fn legacy_kdf_and_odd_names_round_trip() {
        let mut f = facts();
        f.params = Params {
            kdf: Kdf::Legacy,
            digest: Digest::Md5,
            cipher: Cipher::Aes128Cbc,
        };
        f.version = "1.0+build.7~rc".into();
        f.expires = None;
        let line = f.to_comment();
        assert!(line.contains("version=1.0+build.7~rc "), "{line}");
        assert!(!line.contains("iter="), "{line}");
        assert_eq!(TrustedFacts::parse(&line), Ok(f.clone()));
        // Versions reach the console and BUNDLE_VERSION: printable ASCII only, even encoded.
        for bad in ["1.0 ünï 100%", "1\n\u{1b}[2J"] {
            let mut g = f.clone();
            g.version = bad.into();
            assert!(TrustedFacts::parse(&g.to_comment()).is_err(), "{bad}");
        }
        // Names become file names and object keys: only a safe alphabet is accepted.
        for bad in ["my shop", "../x", ".hidden", "a/b", "-x", "caf\u{e9}"] {
            f.name = bad.into();
            assert!(TrustedFacts::parse(&f.to_comment()).is_err(), "{bad}");
        }
    }

    #[test]
    fn other_comments_and_versions_are_named() {
        assert!(matches!(
            TrustedFacts::parse("timestamp:1555779966\tfile:test"),
            Err(CommentError::NotOurs { .. })
        ));
        assert_eq!(
            TrustedFacts::parse("startup-bundle v2 name=x"),
            Err(CommentError::UnknownVersion {
                version: "v2".into()
            })
        );
    }

    #[test]
    fn strict_about_every_word() {
        let good = facts().to_comment();
        let bad = [
            good.replace("seq=7", "seq=7 seq=8"),
            good.replace("seq=7", "seq=-7"),
            good.replace(" seq=7", ""),
            good.replace("iter=1000", "iter=0"),
            good.replace(" iter=1000", ""),
            good.replace("kdf=pbkdf2", "kdf=scrypt"),
            good.replace("cipher=aes-256-cbc", "cipher=aes-256-gcm"),
            good.replace("name=shop", "name="),
            good.replace("name=shop", "name=sh%4"),
            good.replace("name=shop", "name=sh\top"),
            good.replace("sha256=ab", "sha256=AB"),
            good.replace("expires=2026-12-31T00:00:00Z", "expires=soon"),
            format!("{good} colour=blue"),
            format!("{good}  "),
            good.replace(" name=", " name "),
        ];
        for line in bad {
            assert!(
                matches!(
                    TrustedFacts::parse(&line),
                    Err(CommentError::Malformed { .. })
                ),
                "{line}"
            );
        }
    }
}
