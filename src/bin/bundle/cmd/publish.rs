//! `bundle publish` and `bundle releases`.

use std::path::PathBuf;
use std::process::ExitCode;

use startup_bundle::cli::Failure;
use startup_bundle::publish::{self, s3::S3Config};

use super::sign::SigningFlags;
use super::{Ctx, done, println};

/// Where releases go, and how to reach an S3 destination.
#[derive(Debug, clap::Args)]
pub struct DestFlags {
    /// S3 region of the destination bucket [default: $AWS_REGION, the profile's, us-east-1]
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// An S3-compatible endpoint (path-style addressing)
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Profile of ~/.aws/credentials [default: $AWS_PROFILE, else default]
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Extra CA certificates (PEM) for the endpoint
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
}

impl DestFlags {
    fn open(&self, spec: &str) -> Result<Box<dyn publish::Destination>, Failure> {
        let config = S3Config {
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            profile: self.profile.clone(),
            ca_file: self.ca_file.clone(),
        };
        Ok(publish::open(spec, &config)?)
    }
}

/// `publish`'s flags.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The signed bundle file (its .minisig beside it)
    #[arg(required_unless_present = "from")]
    pub file: Option<PathBuf>,
    /// Destination: a folder, or s3://bucket/prefix
    #[arg(long, value_name = "DEST")]
    pub to: String,
    /// Roll back: republish the release with this seq under a new seq (needs --name and --key)
    #[arg(long, value_name = "SEQ", requires_all = ["name", "key"])]
    pub from: Option<u64>,
    /// The bundle name, with --from
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The minisign secret key that signs the republished release, with --from
    #[arg(short = 's', long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// How to sign, with --from.
    #[command(flatten)]
    pub signing: SigningFlags,
    /// How to reach the destination.
    #[command(flatten)]
    pub dest: DestFlags,
}

impl PublishArgs {
    /// Publishes a release (or republishes an old one), pointer last.
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode, Failure> {
        let dest = self.dest.open(&self.to)?;
        let done_ = match (&self.file, self.from, &self.name, &self.key) {
            (_, Some(from), Some(name), Some(key)) => {
                let signer = self.signing.open(ctx, key)?;
                publish::republish(
                    dest.as_ref(),
                    name,
                    from,
                    &signer.key,
                    signer.seq,
                    signer.expires,
                )?
            }
            (Some(file), None, _, _) => publish::publish(dest.as_ref(), file)?,
            _ => {
                return Err(Failure::usage(
                    "give the signed bundle FILE, or --from SEQ --name NAME --key KEY",
                ));
            }
        };
        println(&format!(
            "published {} {} seq {} to {}: {} then {}",
            done_.facts.name,
            done_.facts.version,
            done_.facts.seq,
            dest.describe(),
            done_.bundle_key,
            done_.pointer_key
        ))?;
        println(&format!(
            "boot it with: bundle-bootstrap run <URL of {}> --pubkey KEY",
            done_.pointer_key
        ))?;
        done()
    }
}

/// `releases`' flags.
#[derive(Debug, clap::Args)]
pub struct ReleasesArgs {
    /// Destination: a folder, or s3://bucket/prefix
    #[arg(long, value_name = "DEST")]
    pub from: String,
    /// Only this bundle name [default: every name published there]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// How to reach the destination.
    #[command(flatten)]
    pub dest: DestFlags,
}

impl ReleasesArgs {
    /// Lists the releases, newest first, marking the one the pointer designates.
    pub fn run(self, _ctx: &Ctx) -> Result<ExitCode, Failure> {
        let dest = self.dest.open(&self.from)?;
        let names = match &self.name {
            Some(n) => vec![n.clone()],
            None => publish::release::list_names(dest.as_ref())?,
        };
        for name in names {
            for r in publish::list_releases(dest.as_ref(), &name)? {
                let expires = r
                    .facts
                    .expires
                    .map(startup_bundle::date::format_rfc3339)
                    .unwrap_or_else(|| "never".into());
                println(&format!(
                    "{}\tseq {}\t{}\tsha256 {}\texpires {}{}",
                    name,
                    r.facts.seq,
                    r.facts.version,
                    startup_bundle::hashing::short(&r.facts.sha256),
                    expires,
                    if r.latest { "\t<- latest" } else { "" }
                ))?;
            }
        }
        done()
    }
}
