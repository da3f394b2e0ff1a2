//! Flag groups both programs take, defined once: how a bundle is encrypted, and how it is opened.

use clap::Args;

use crate::enc::{Cipher, DEFAULT_ITERATIONS, Digest, Kdf, Params};
use crate::secret::PassSpec;

use super::report::Failure;

/// How a bundle is (or was) encrypted: the flags every command that makes, opens or describes one
/// takes.
#[derive(Debug, Clone, Args)]
pub struct CipherFlags {
    /// Cipher: aes-256-cbc, aes-192-cbc or aes-128-cbc
    #[arg(long, value_name = "CIPHER", default_value_t = Cipher::default())]
    pub cipher: Cipher,
    /// PBKDF2 iterations (the file does not record them) [default: 600000]
    #[arg(long, value_name = "N")]
    pub iter: Option<u32>,
    /// Digest of the key derivation: sha256, sha512, sha1 or md5
    #[arg(long, value_name = "DIGEST", default_value_t = Digest::default())]
    pub md: Digest,
    /// Legacy EVP_BytesToKey key derivation (`openssl enc` without -pbkdf2; weak, for old bundles)
    #[arg(long)]
    pub legacy_kdf: bool,
}

impl CipherFlags {
    /// The container parameters these flags describe; `--iter` with `--legacy-kdf` (silently
    /// ignored by openssl) and `--iter 0` are refused.
    pub fn params(&self) -> Result<Params, Failure> {
        let kdf = match (self.legacy_kdf, self.iter) {
            (true, Some(_)) => {
                return Err(Failure::usage(
                    "--iter has no effect with --legacy-kdf (EVP_BytesToKey uses one round)",
                ));
            }
            (true, None) => Kdf::Legacy,
            (false, Some(0)) => return Err(Failure::usage("--iter must be at least 1")),
            (false, n) => Kdf::Pbkdf2 {
                iterations: n.unwrap_or(DEFAULT_ITERATIONS),
            },
        };
        Ok(Params {
            cipher: self.cipher,
            digest: self.md,
            kdf,
        })
    }

    /// True when any flag differs from the defaults (the signed parameters then override them).
    pub fn given(&self) -> bool {
        self.cipher != Cipher::default()
            || self.iter.is_some()
            || self.md != Digest::default()
            || self.legacy_kdf
    }
}

/// The flags every command that opens a bundle takes.
#[derive(Debug, Clone, Args)]
pub struct DecryptFlags {
    /// Passphrase source: pass:TEXT, env:VAR, file:PATH, fd:N, stdin, ssm:NAME (SSM Parameter
    /// Store) or secretsmanager:ID (Secrets Manager) [default: $BUNDLE_PASSPHRASE]
    #[arg(long, value_name = "SPEC")]
    pub pass: Option<PassSpec>,
    /// How the bundle was encrypted.
    #[command(flatten)]
    pub cipher: CipherFlags,
}

impl DecryptFlags {
    /// The container parameters these flags describe.
    pub fn params(&self) -> Result<Params, Failure> {
        self.cipher.params()
    }

    /// The warning `pass:TEXT` earns wherever it is given: the passphrase is then in the process
    /// list (`ps`, `/proc/PID/cmdline`) for every user of the machine.
    pub fn literal_warning(&self) -> Option<&'static str> {
        self.pass
            .as_ref()
            .is_some_and(PassSpec::is_literal)
            .then_some(LITERAL_PASS_WARNING)
    }
}

/// What `--pass pass:…` costs, said by every command that takes it.
pub const LITERAL_PASS_WARNING: &str = "warning: --pass pass:… shows the passphrase to every user of this machine (ps, /proc); prefer env:, file: or fd:";
