//! `bundle sign FILE`, and the signing flags `pack --sign` and `publish --from` share.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use startup_bundle::cli::{CipherFlags, Expiry, Failure};
use startup_bundle::fsutil::Overwrite;
use startup_bundle::pack;
use startup_bundle::secret::{PassSpec, Prompt};
use startup_bundle::sign::{self, SigningKey};

use super::{Ctx, done, println};

/// Where `bundle keygen` writes the secret key (and `bundle sign` reads it), unless told.
pub const DEFAULT_SECRET_KEY: &str = "bundle.key";

/// How a signature is made: shared by `pack --sign`, `sign` and `publish --from`.
#[derive(Debug, clap::Args)]
pub struct SigningFlags {
    /// Password source for the secret key: pass:TEXT, env:VAR, file:PATH, fd:N or stdin [default: ask]
    #[arg(long, value_name = "SPEC")]
    pub key_pass: Option<PassSpec>,
    /// Sequence number; bootstraps refuse a lower one than they applied [default: UNIX time now]
    #[arg(long, value_name = "N")]
    pub seq: Option<u64>,
    /// Signature expiry: a duration from now (720h) or an RFC 3339 date (2026-12-31) [default: never]
    #[arg(long, value_name = "WHEN")]
    pub expires: Option<Expiry>,
}

/// An opened secret key with the sequence number and expiry to sign with.
pub struct Signer {
    /// The key.
    pub key: SigningKey,
    /// The sequence number.
    pub seq: u64,
    /// The expiry (UNIX time), if any.
    pub expires: Option<u64>,
}

impl Signer {
    /// The library's view of it.
    pub fn with(&self) -> pack::SignWith<'_> {
        pack::SignWith {
            key: &self.key,
            seq: self.seq,
            expires: self.expires,
        }
    }
}

impl SigningFlags {
    /// Opens the secret key, asking its password only if it is sealed.
    pub fn open(&self, ctx: &Ctx, key: &Path) -> Result<Signer, Failure> {
        let now = startup_bundle::date::now_unix();
        let expires = self.expires.map(|e| e.at(now));
        if expires.is_some_and(|t| t <= now) {
            return Err(Failure::usage("--expires is in the past"));
        }
        let key = SigningKey::open(key, || {
            if self.key_pass.is_none() {
                ctx.say(&format!(
                    "the secret key {} is sealed; its password:",
                    key.display()
                ));
            }
            sign::create::key_password(self.key_pass.as_ref(), Prompt::Once)
        })?;
        Ok(Signer {
            key,
            seq: self.seq.unwrap_or(now),
            expires,
        })
    }
}

/// Prints where a signature went and what it vouches for.
pub fn print_signed(signed: &pack::Signed) -> Result<(), Failure> {
    println(&format!(
        "signed {} with key {} ({} {} seq {}) into {}",
        signed.facts.sha256,
        signed.key_id,
        signed.facts.name,
        signed.facts.version,
        signed.facts.seq,
        signed.path.display()
    ))
}

/// `sign`'s flags.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The bundle file
    pub file: PathBuf,
    /// The minisign secret key
    #[arg(short = 's', long, value_name = "FILE", default_value = DEFAULT_SECRET_KEY)]
    pub key: PathBuf,
    /// Sequence number, expiry, key password.
    #[command(flatten)]
    pub signing: SigningFlags,
    /// Bundle name for the trusted comment (the rollback counter is per name) [default: FILE's stem]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Bundle version for the trusted comment
    #[arg(long, value_name = "VERSION", default_value = "0")]
    pub version: String,
    /// How the bundle was encrypted.
    #[command(flatten)]
    pub cipher: CipherFlags,
    /// Replace FILE.minisig
    #[arg(long)]
    pub force: bool,
}

impl SignArgs {
    /// Signs FILE: `FILE.minisig`.
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode, Failure> {
        let params = self.cipher.params()?;
        let name = self.name.clone().unwrap_or_else(|| {
            self.file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        if name.is_empty() || self.version.is_empty() {
            return Err(Failure::usage("--name and --version must not be empty"));
        }
        let signer = self.signing.open(ctx, &self.key)?;
        let signed = pack::sign_existing(
            &self.file,
            &signer.with(),
            &name,
            &self.version,
            &params,
            Overwrite::from_force(self.force),
        )?;
        print_signed(&signed)?;
        done()
    }
}
