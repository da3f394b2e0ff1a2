//! `bundle publish` and `bundle releases`: flags in, one library call, messages out. Every decision
//! lives in `startup_bundle::publish`.

use super::*;
use startup_bundle::publish::{self, s3::S3Config};

/// Where releases go, and how to reach an S3 destination.
#[derive(Debug, clap::Args)]
pub struct DestFlags {
    /// S3 region of the destination bucket [default: $AWS_REGION, the profile's, us-east-1]
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// An S3-compatible endpoint (path-style addressing)
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// Profile of ~/.aws/credentials [default: $AWS_PROFILE, else default]
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Extra CA certificates (PEM) for the endpoint
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
}

impl DestFlags {
    fn open(&self, spec: &str) -> Result<Box<dyn publish::Destination>, ExitCode> {
        let config = S3Config {
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            profile: self.profile.clone(),
            ca_file: self.ca_file.clone(),
        };
        publish::open(spec, &config).map_err(|e| fail(PROGRAM, &e, &e))
    }
}

/// `bundle publish`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The signed bundle file (its .minisig beside it)
    #[arg(required_unless_present = "from")]
    file: Option<PathBuf>,
    /// Destination: a folder, or s3://bucket/prefix
    #[arg(long, value_name = "DEST")]
    to: String,
    /// Roll back: republish the release with this seq under a new seq (needs --name and --key)
    #[arg(long, value_name = "SEQ", requires_all = ["name", "key"])]
    from: Option<u64>,
    /// The bundle name, with --from
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// The minisign secret key that signs the republished release, with --from
    #[arg(short = 's', long, value_name = "FILE")]
    key: Option<PathBuf>,
    #[command(flatten)]
    signing: SigningFlags,
    #[command(flatten)]
    dest: DestFlags,
}

/// `bundle releases`.
#[derive(Debug, clap::Args)]
pub struct ReleasesArgs {
    /// Destination: a folder, or s3://bucket/prefix
    #[arg(long, value_name = "DEST")]
    from: String,
    /// Only this bundle name [default: every name published there]
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    #[command(flatten)]
    dest: DestFlags,
}

pub fn publish_cmd(a: PublishArgs) -> ExitCode {
    let dest = match a.dest.open(&a.to) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let result = match (&a.file, a.from, &a.name, &a.key) {
        (_, Some(from), Some(name), Some(key)) => {
            let (signer, seq, expires) = match open_signer(key, &a.signing) {
                Ok(s) => s,
                Err(code) => return code,
            };
            publish::republish(dest.as_ref(), name, from, &signer, seq, expires)
        }
        (Some(file), None, _, _) => publish::publish(dest.as_ref(), file),
        _ => {
            return usage(
                PROGRAM,
                "give the signed bundle FILE, or --from SEQ --name NAME --key KEY",
            );
        }
    };
    match result {
        Ok(done) => {
            println!(
                "published {} {} seq {} to {}: {} then {}",
                done.facts.name,
                done.facts.version,
                done.facts.seq,
                dest.describe(),
                done.bundle_key,
                done.pointer_key
            );
            println!(
                "boot it with: bundle-bootstrap run <URL of {}> --pubkey KEY",
                done.pointer_key
            );
            Exit::Ok.into()
        }
        Err(e) => fail(PROGRAM, &e, &e),
    }
}

pub fn releases_cmd(a: ReleasesArgs) -> ExitCode {
    let dest = match a.dest.open(&a.from) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let names = match &a.name {
        Some(n) => vec![n.clone()],
        None => match publish::release::list_names(dest.as_ref()) {
            Ok(names) => names,
            Err(e) => return fail(PROGRAM, &e, &e),
        },
    };
    for name in names {
        match publish::list_releases(dest.as_ref(), &name) {
            Ok(releases) => {
                for r in releases {
                    let expires = r
                        .facts
                        .expires
                        .map(startup_bundle::date::format_rfc3339)
                        .unwrap_or_else(|| "never".into());
                    println!(
                        "{}\tseq {}\t{}\tsha256 {}\texpires {}{}",
                        name,
                        r.facts.seq,
                        r.facts.version,
                        startup_bundle::hashing::short(&r.facts.sha256),
                        expires,
                        if r.latest { "\t<- latest" } else { "" }
                    );
                }
            }
            Err(e) => return fail(PROGRAM, &e, &e),
        }
    }
    Exit::Ok.into()
}
