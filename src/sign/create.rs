//! The publisher's side of signatures: minisign key pairs (`bundle keygen`) and prehashed signatures
//! with our trusted comment (`bundle sign`, `bundle pack --sign`).
//!
//! Uses the `minisign` crate, whose files the reference `minisign` tool reads and writes: the secret
//! key is sealed with scrypt and the password as minisign does it, or left unencrypted on request.
//! Never reached from the bootstrap (it would pull scrypt into the static binary). Key passwords come
//! through `crate::secret`; this file never prints or logs one. Where the output files go and when
//! they appear is `publish.rs`'s job, except for the key pair written here.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use zeroize::Zeroizing;

use crate::exit::{Classify, Exit};
use crate::fsutil::{NewFile, Overwrite};
use crate::secret::{self, PASSPHRASE_VAR, PassSpec, Prompt, SecretError};
use crate::sign::comment::{MAX_COMMENT_LEN, TrustedFacts};
use crate::sign::key_id_hex;

/// Mode of a secret key file: only its owner reads it.
const SECRET_KEY_MODE: u32 = crate::fsutil::PRIVATE_FILE_MODE;
/// Mode of a public key file.
const PUBLIC_KEY_MODE: u32 = 0o644;
/// A secret key file larger than this is not a minisign secret key.
const MAX_KEY_FILE: u64 = 4096;
/// The KDF bytes of a secret key sealed with scrypt, and of an unencrypted one (minisign format).
const KDF_SCRYPT: [u8; 2] = *b"Sc";
const KDF_NONE: [u8; 2] = [0, 0];
/// Where the KDF bytes sit in a decoded secret key (after the 2 signature-algorithm bytes).
const KDF_BYTES: std::ops::Range<usize> = 2..4;
/// Untrusted comments of the files we write (minisign shows them; nothing trusts them).
const SECRET_KEY_COMMENT: &str = "minisign encrypted secret key";
const UNENCRYPTED_KEY_COMMENT: &str = "minisign unencrypted secret key";

/// How a new secret key is kept on disk.
pub enum KeyProtection {
    /// Sealed with scrypt and this password (the default).
    Password(Zeroizing<String>),
    /// Not sealed (`--unencrypted`): anyone who reads the file can sign.
    Unencrypted,
}

/// Where `bundle keygen` writes.
#[derive(Debug, Clone)]
pub struct KeyFiles {
    /// The public key (`.pub`), given to every bootstrap.
    pub public: PathBuf,
    /// The secret key, kept by the publisher.
    pub secret: PathBuf,
}

/// A key pair just made.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// Key id as minisign prints it.
    pub key_id: String,
    /// The public key's base64 line: what `--pubkey` and `minisign -P` take.
    pub public_key: String,
}

/// A secret key opened for signing. Its `Debug` shows the key id only.
pub struct SigningKey {
    sk: minisign::SecretKey,
    pk: minisign::PublicKey,
    id: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.id)
    }
}

/// Why a key could not be made or opened, or a signature made.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// A key file could not be read or written.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// "read" or "write".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A key file exists and `--force` was not given.
    #[error("{} already exists", .0.display())]
    Exists(PathBuf),
    /// The file is not a minisign secret key.
    #[error("{} is not a minisign secret key: {reason}", path.display())]
    NotAKey {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The password does not open the secret key.
    #[error("wrong password for the secret key {}", .0.display())]
    WrongPassword(PathBuf),
    /// No password source for the secret key.
    #[error(
        "no password for the secret key: give --key-pass SPEC ({PASSPHRASE_VAR} is the bundle's passphrase, never the key's)"
    )]
    NoPassword,
    /// The password could not be read.
    #[error("cannot read the secret key's password")]
    Password(#[source] SecretError),
    /// minisign keeps passwords as text.
    #[error("the secret key's password is not UTF-8 text")]
    PasswordNotText,
    /// The trusted comment would be longer than minisign reads.
    #[error(
        "the trusted comment is {len} bytes, more than {MAX_COMMENT_LEN}: shorten the bundle's name or version"
    )]
    CommentTooLong {
        /// Its length.
        len: usize,
    },
    /// The bundle name cannot be signed: it becomes a file name and an object key.
    #[error("the bundle {0} cannot be signed: {1}")]
    BadName(String, crate::names::NameError),
    /// Key generation or signing failed inside minisign (random source, …).
    #[error("cannot {action}")]
    Minisign {
        /// What was being done.
        action: &'static str,
        /// What minisign said.
        #[source]
        source: minisign::PError,
    },
}

impl Classify for SignError {
    fn exit(&self) -> Exit {
        Exit::Usage
    }

    fn hint(&self) -> Option<String> {
        let text = match self {
            SignError::Exists(_) => "pass --force to replace it, or choose another path",
            SignError::WrongPassword(_) | SignError::Password(_) => "check the --key-pass source",
            SignError::NoPassword => {
                "pass --key-pass env:VAR, file:PATH or fd:N, or run on a terminal"
            }
            SignError::NotAKey { .. } => {
                "give the secret key file `bundle keygen` or `minisign -G` wrote"
            }
            SignError::BadName(..) => "pass --name and --version that follow the rule",
            _ => return None,
        };
        Some(text.to_string())
    }
}

/// Reads a secret key's password from `spec`, else the terminal when `prompt` allows. Unlike a
/// bundle passphrase it never falls back to `BUNDLE_PASSPHRASE`: one secret must not open the other.
pub fn key_password(
    spec: Option<&PassSpec>,
    prompt: Prompt,
) -> Result<Zeroizing<String>, SignError> {
    if spec.is_none() && (prompt == Prompt::Never || std::env::var_os(PASSPHRASE_VAR).is_some()) {
        return Err(SignError::NoPassword);
    }
    let pass = secret::read_passphrase(spec, prompt).map_err(|e| match e {
        SecretError::Missing => SignError::NoPassword,
        other => SignError::Password(other),
    })?;
    let text = std::str::from_utf8(pass.expose()).map_err(|_| SignError::PasswordNotText)?;
    Ok(Zeroizing::new(text.to_string()))
}

/// Makes a key pair and writes both files: the secret key (mode 0600) first, then the public key.
/// With [`Overwrite::Refuse`] neither file is written when either exists.
pub fn keygen(
    files: &KeyFiles,
    protection: KeyProtection,
    overwrite: Overwrite,
) -> Result<NewKey, SignError> {
    if overwrite == Overwrite::Refuse {
        for path in [&files.secret, &files.public] {
            if fs::symlink_metadata(path).is_ok() {
                return Err(SignError::Exists(path.clone()));
            }
        }
    }
    let failed = |source| SignError::Minisign {
        action: "generate a key pair",
        source,
    };
    let (pair, comment) = match protection {
        // minisign takes the password as a plain String and drops it unwiped; ours stays zeroized.
        KeyProtection::Password(pw) => (
            minisign::KeyPair::generate_encrypted_keypair(Some(pw.as_str().to_string()))
                .map_err(failed)?,
            SECRET_KEY_COMMENT,
        ),
        KeyProtection::Unencrypted => (
            minisign::KeyPair::generate_unencrypted_keypair().map_err(failed)?,
            UNENCRYPTED_KEY_COMMENT,
        ),
    };
    let secret_box = Zeroizing::new(pair.sk.to_box(Some(comment)).map_err(failed)?.into_string());
    let public_box = pair.pk.to_box().map_err(failed)?.into_string();
    write_file(
        &files.secret,
        secret_box.as_bytes(),
        SECRET_KEY_MODE,
        overwrite,
    )?;
    if let Err(e) = write_file(
        &files.public,
        public_box.as_bytes(),
        PUBLIC_KEY_MODE,
        overwrite,
    ) {
        if overwrite == Overwrite::Refuse {
            let _ = fs::remove_file(&files.secret);
        }
        return Err(e);
    }
    Ok(NewKey {
        key_id: id_of(&pair.pk),
        public_key: pair.pk.to_base64(),
    })
}

impl SigningKey {
    /// Opens a secret key file (ours or `minisign -G`'s). `password` is asked only when the key is
    /// sealed.
    pub fn open(
        path: &Path,
        password: impl FnOnce() -> Result<Zeroizing<String>, SignError>,
    ) -> Result<SigningKey, SignError> {
        let read_err = |source| SignError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        };
        let not_a_key = |reason: &str| SignError::NotAKey {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let mut text = Zeroizing::new(String::new());
        File::open(path)
            .map_err(read_err)?
            .take(MAX_KEY_FILE)
            .read_to_string(&mut text)
            .map_err(read_err)?;
        let line = text
            .lines()
            .nth(1)
            .ok_or_else(|| not_a_key("no key line"))?;
        let raw = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(line.trim())
                .map_err(|_| not_a_key("the key line is not base64"))?,
        );
        let kdf = raw.get(KDF_BYTES).ok_or_else(|| not_a_key("too short"))?;
        let boxed =
            minisign::SecretKeyBox::from_string(&text).map_err(|e| not_a_key(&e.to_string()))?;
        let sk = if kdf == KDF_SCRYPT {
            let pw = password()?;
            minisign::SecretKey::from_box(boxed, Some(pw.as_str().to_string())).map_err(|e| {
                if matches!(e.kind(), minisign::ErrorKind::Verify) {
                    SignError::WrongPassword(path.to_path_buf())
                } else {
                    not_a_key(&e.to_string())
                }
            })?
        } else if kdf == KDF_NONE {
            minisign::SecretKey::from_unencrypted_box(boxed)
                .map_err(|e| not_a_key(&e.to_string().to_lowercase()))?
        } else {
            return Err(not_a_key("unknown key protection"));
        };
        let pk =
            minisign::PublicKey::from_secret_key(&sk).map_err(|e| not_a_key(&e.to_string()))?;
        Ok(SigningKey {
            id: id_of(&pk),
            sk,
            pk,
        })
    }

    /// The key id, as minisign prints it.
    pub fn key_id(&self) -> &str {
        &self.id
    }

    /// The public half, base64 (what `--pubkey` and `minisign -P` take).
    pub fn public_key(&self) -> String {
        self.pk.to_base64()
    }

    /// Signs `data` (prehashed, as minisign ≥ 0.8 does by default) with `facts` as the trusted
    /// comment, and returns the `.minisig` text.
    pub fn sign(&self, data: impl Read, facts: &TrustedFacts) -> Result<String, SignError> {
        let shown =
            |what: &str, value: &str| format!("{what} {:?}", crate::names::printable(value));
        crate::names::validate_name(&facts.name)
            .map_err(|e| SignError::BadName(shown("name", &facts.name), e))?;
        crate::names::validate_version(&facts.version)
            .map_err(|e| SignError::BadName(shown("version", &facts.version), e))?;
        let comment = facts.to_comment();
        if comment.len() > MAX_COMMENT_LEN {
            return Err(SignError::CommentTooLong { len: comment.len() });
        }
        let untrusted = format!("signature from startup-bundle secret key {}", self.id);
        let signed = minisign::sign(
            Some(&self.pk),
            &self.sk,
            data,
            Some(&comment),
            Some(&untrusted),
        )
        .map_err(|source| SignError::Minisign {
            action: "sign",
            source,
        })?;
        Ok(signed.into_string())
    }
}

fn id_of(pk: &minisign::PublicKey) -> String {
    let mut id = [0u8; 8];
    id.copy_from_slice(pk.keynum());
    key_id_hex(&id)
}

/// Writes a small file whole: staged beside it, synced, then linked (refusing an existing one) or
/// renamed over it.
fn write_file(path: &Path, bytes: &[u8], mode: u32, overwrite: Overwrite) -> Result<(), SignError> {
    let write_err = |source| SignError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    };
    let mut file = NewFile::create(path, mode).map_err(write_err)?;
    file.write_all(bytes).map_err(write_err)?;
    file.place(overwrite).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            SignError::Exists(path.to_path_buf())
        } else {
            write_err(e)
        }
    })
}
