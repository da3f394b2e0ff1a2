//! `bundle verify FILE --pubkey KEY`: the bootstrap's signature policy, on a local file.

use std::path::PathBuf;
use std::process::ExitCode;

use startup_bundle::cli::Failure;
use startup_bundle::sign::{self, Expected, ExpiryPolicy, Policy, Rollback, TrustedKey};

use super::{Ctx, done, print, println};

/// `verify`'s flags.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The bundle file
    pub file: PathBuf,
    /// Minisign public key (base64, or a .pub file); repeatable
    #[arg(long = "pubkey", value_name = "KEY", required = true)]
    pub pubkey: Vec<String>,
    /// The signature [default: FILE.minisig]
    #[arg(long, value_name = "FILE")]
    pub sig: Option<PathBuf>,
    /// Refuse a signature that does not vouch for this bundle name (as an instance booting it would)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Accept an expired signature
    #[arg(long)]
    pub allow_expired: bool,
}

impl VerifyArgs {
    /// Exit 0 with what the signature vouches for, or 3 when refused.
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode, Failure> {
        let keys = self
            .pubkey
            .iter()
            .map(|given| TrustedKey::parse(given))
            .collect::<Result<Vec<_>, _>>()?;
        let sig = self.sig.unwrap_or_else(|| sign::sig_path(&self.file));
        let policy = Policy {
            keys: &keys,
            expiry: if self.allow_expired {
                ExpiryPolicy::AllowExpired
            } else {
                ExpiryPolicy::Enforce
            },
            rollback: Rollback::Refuse,
            now: startup_bundle::date::now_unix(),
        };
        let expected = Expected {
            name: self.name.as_deref(),
            floor: None,
        };
        let checked = sign::verify::check_local(&self.file, &sig, &policy, &expected)?;
        let v = &checked.verified;
        println(&format!(
            "signature good: key {} ({})",
            v.key_id, v.key_source
        ))?;
        match &checked.facts {
            Some(facts) => print(&facts.describe())?,
            None => {
                println(&format!("trusted comment: {}", v.trusted_comment))?;
                ctx.say(
                    "warning: the trusted comment is not a startup-bundle one: bundle-bootstrap \
                     --pubkey refuses this signature; re-sign with `bundle sign`",
                );
            }
        }
        for note in &checked.allowed {
            ctx.say(&format!("warning: {note}"));
        }
        done()
    }
}
