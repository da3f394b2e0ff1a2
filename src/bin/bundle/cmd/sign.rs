//! `bundle sign FILE` (which opens the bundle and signs what it says), and the signing flags
//! `pack --sign` and `publish --from` share.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use startup_bundle::cli::{Expiry, Failure};
use startup_bundle::fsutil::Overwrite;
use startup_bundle::pack;
use startup_bundle::secret::{PassSpec, Prompt};
use startup_bundle::sign::{self, SigningKey};

use super::unpack::OpenFlags;
use super::{Ctx, Progress, done, println};

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
    /// How to open the bundle: the parameters that open it are the ones signed.
    #[command(flatten)]
    pub open: OpenFlags,
    /// Bundle name for a bundle without bundle.json [default: FILE's name without its extension];
    /// with bundle.json it must agree
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Version for a bundle without bundle.json [default: FILE's short sha256]; with bundle.json
    /// it must agree
    #[arg(long, value_name = "VERSION")]
    pub version: Option<String>,
    /// Replace FILE.minisig
    #[arg(long)]
    pub force: bool,
}

impl SignArgs {
    /// Opens FILE with the decryption flags, then signs what it says: `FILE.minisig`.
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode, Failure> {
        if self.name.as_deref() == Some("") || self.version.as_deref() == Some("") {
            return Err(Failure::usage("--name and --version must not be empty"));
        }
        let overwrite = Overwrite::from_force(self.force);
        pack::signature_free(&self.file, overwrite)?;
        let signer = self.signing.open(ctx, &self.key)?;
        let (params, passphrase, limits) = self.open.open(ctx)?;
        let claimed = pack::Claimed {
            name: self.name.as_deref(),
            version: self.version.as_deref(),
        };
        let progress = Progress::start("opening the bundle to sign");
        let result = pack::sign_existing(
            &self.file,
            &passphrase,
            &params,
            &limits,
            claimed,
            &signer.with(),
            overwrite,
        );
        progress.done();
        let signed = result?;
        if signed.origin == pack::FactsOrigin::FileName {
            let facts = &signed.signed.facts;
            let name_from = if self.name.is_some() {
                "--name"
            } else {
                "the file's name"
            };
            let version_from = if self.version.is_some() {
                "--version"
            } else {
                "the file's short sha256"
            };
            ctx.say(&format!(
                "note: {} has no bundle.json (made by hand): signed as name {} ({name_from}), \
                 version {} ({version_from})",
                self.file.display(),
                facts.name,
                facts.version
            ));
        }
        print_signed(&signed.signed)?;
        done()
    }
}
