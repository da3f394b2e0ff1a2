//! `bundle verify FILE|URL|POINTER --pubkey KEY`: the bootstrap's signature policy, on a local file
//! or on what an instance would download.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use startup_bundle::cli::{Dur, Failure, S3Flags};
use startup_bundle::fetch::{FetchOptions, S3Options};
use startup_bundle::remote::{self, Located, Signature};
use startup_bundle::sign::{self, Expected, ExpiryPolicy, Policy, Rollback, TrustedKey};

use super::{Ctx, done, print, println};

/// How long an interactive command keeps retrying a download by default.
const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(30);

/// How `verify` and `inspect` reach a URL.
#[derive(Debug, clap::Args)]
pub struct RemoteFlags {
    /// Extra CA certificates (PEM) for an https:// URL
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Keep retrying a download that fails this long
    #[arg(long, value_name = "DUR", default_value_t = Dur(DEFAULT_RETRY_FOR))]
    pub retry_for: Dur,
    /// How s3:// URLs are reached.
    #[command(flatten)]
    pub s3: S3Flags,
}

impl RemoteFlags {
    /// Fetches what `given` designates (a pointer's release, with the pointer) into a scratch
    /// folder, saying where it came from.
    pub fn locate(&self, ctx: &Ctx, given: &str, signature: Signature) -> Result<Located, Failure> {
        let opts = FetchOptions {
            retry_for: self.retry_for.0,
            ca_file: self.ca_file.clone(),
            s3: S3Options {
                region: self.s3.region.clone(),
                endpoint_url: self.s3.endpoint_url.clone(),
                imds_endpoint: self.s3.imds_endpoint.clone(),
            },
            ..FetchOptions::default()
        };
        let located = remote::locate(given, &opts, signature, &mut |line| ctx.say(line))?;
        if let Some(facts) = &located.pointer {
            ctx.say(&format!(
                "{} points at {} {} seq {}: {}",
                startup_bundle::fetch::redact(given),
                facts.name,
                facts.version,
                facts.seq,
                located.url
            ));
        } else {
            ctx.say(&format!("fetched {}", located.url));
        }
        Ok(located)
    }
}

/// `verify`'s flags.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The bundle: a file, an http(s)://, file:// or s3:// URL, or a release pointer (NAME.latest)
    pub file: String,
    /// Minisign public key (base64, or a .pub file); repeatable
    #[arg(long = "pubkey", value_name = "KEY", required = true)]
    pub pubkey: Vec<String>,
    /// The signature of a local FILE [default: FILE.minisig]
    #[arg(long, value_name = "FILE")]
    pub sig: Option<PathBuf>,
    /// Refuse a signature that does not vouch for this bundle name [default for a URL: the name an
    /// instance booting it expects]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Accept an expired signature
    #[arg(long)]
    pub allow_expired: bool,
    /// How to reach a URL.
    #[command(flatten)]
    pub remote: RemoteFlags,
}

impl VerifyArgs {
    /// Exit 0 with what the signature vouches for, or 3 when refused.
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode, Failure> {
        let keys = self
            .pubkey
            .iter()
            .map(|given| TrustedKey::parse(given))
            .collect::<Result<Vec<_>, _>>()?;
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
        if remote::is_remote(&self.file) {
            return self.verify_remote(ctx, &policy);
        }
        let file = PathBuf::from(&self.file);
        let sig = self.sig.unwrap_or_else(|| sign::sig_path(&file));
        let expected = Expected {
            name: self.name.as_deref(),
            floor: None,
        };
        let checked = sign::verify::check_local(&file, &sig, &policy, &expected)?;
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
        warn_allowed(ctx, &checked.allowed);
        done()
    }

    /// A URL or a pointer: fetched as an instance would, judged as an instance would (the name it
    /// expects included), minus the rollback floor, which belongs to each machine.
    fn verify_remote(&self, ctx: &Ctx, policy: &Policy<'_>) -> Result<ExitCode, Failure> {
        if self.sig.is_some() {
            return Err(Failure::usage_hint(
                "--sig is for a local FILE",
                "a URL's signature is URL.minisig, and a pointer is its own signature",
            ));
        }
        let located = self.remote.locate(ctx, &self.file, Signature::Fetch)?;
        let Some(signature) = &located.signature else {
            return Err(Failure::usage("no signature was fetched"));
        };
        let expected = Expected {
            name: Some(self.name.as_deref().unwrap_or(&located.expected_name)),
            floor: None,
        };
        let accepted = sign::policy::accept(
            policy,
            &signature.text,
            &signature.origin,
            (&located.file, &located.url),
            &expected,
        )?;
        let v = &accepted.verified;
        println(&format!(
            "signature good: key {} ({}) over {}",
            v.key_id, v.key_source, located.url
        ))?;
        print(&accepted.facts.describe())?;
        warn_allowed(ctx, &accepted.allowed);
        done()
    }
}

fn warn_allowed(ctx: &Ctx, allowed: &[String]) {
    for note in allowed {
        ctx.say(&format!("warning: {note}"));
    }
}
