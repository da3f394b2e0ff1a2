//! `bundle publish` and `bundle releases`.

use std::path::PathBuf;
use std::process::ExitCode;

use startup_bundle::cli::Failure;
use startup_bundle::publish::{self, s3::S3Config};

use super::sign::SigningFlags;
use super::{Ctx, done, print, println};

/// Where releases go, and how to reach an S3 destination.
#[derive(Debug, clap::Args)]
pub struct DestFlags {
    /// S3 region of the destination bucket [default: $AWS_REGION, the profile's, us-east-1]
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// An S3-compatible endpoint (path-style addressing)
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Profile of ~/.aws/credentials and ~/.aws/config: static keys, credential_process, or a
    /// role_arn to assume [default: $AWS_ACCESS_KEY_ID…, else $AWS_PROFILE, else default]
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// The instance metadata service, for a build host's instance role [default:
    /// $AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254]
    #[arg(long, value_name = "URL")]
    pub imds_endpoint: Option<String>,
    /// Extra CA certificates (PEM) for the endpoint
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
}

impl DestFlags {
    fn open(&self, ctx: &Ctx, spec: &str) -> Result<Box<dyn publish::Destination>, Failure> {
        let config = S3Config {
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            profile: self.profile.clone(),
            ca_file: self.ca_file.clone(),
            imds_endpoint: self.imds_endpoint.clone(),
        };
        let dest = publish::open(spec, &config)?;
        if let Some(credentials) = dest.credentials() {
            ctx.say(&format!("signing with {credentials}"));
        }
        Ok(dest)
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
    /// Roll back: republish the release with this seq, sha256 (or its first 8+ digits) or version
    /// under a new seq (needs --name and --key)
    #[arg(long, value_name = "SEQ|SHA256|VERSION", requires_all = ["name", "key"])]
    pub from: Option<String>,
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
        let dest = self.dest.open(ctx, &self.to)?;
        let done_ = match (&self.file, &self.from, &self.name, &self.key) {
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
                    "give the signed bundle FILE, or --from SEQ|SHA256|VERSION --name NAME --key KEY",
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
    /// Lists the releases, oldest first under a header, marking the one the pointer designates.
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode, Failure> {
        let dest = self.dest.open(ctx, &self.from)?;
        dest.check_exists()?;
        let names = match &self.name {
            Some(n) => vec![n.clone()],
            None => publish::release::list_names(dest.as_ref())?,
        };
        let now = startup_bundle::date::now_unix();
        let mut rows = vec![RELEASES_HEADER.map(str::to_string).to_vec()];
        for name in &names {
            for r in publish::list_releases(dest.as_ref(), name)? {
                rows.push(release_row(name, &r, now));
            }
        }
        if rows.len() == 1 {
            ctx.say(&format!(
                "nothing{} is published in {}",
                self.name
                    .as_deref()
                    .map(|n| format!(" named {n}"))
                    .unwrap_or_default(),
                dest.describe()
            ));
            return done();
        }
        print(&table(&rows))?;
        done()
    }
}

/// The columns of `bundle releases`.
const RELEASES_HEADER: [&str; 7] = [
    "NAME", "SEQ", "SIGNED", "VERSION", "SHA256", "EXPIRES", "LATEST",
];
/// A sequence number in this range is taken for the UNIX time it defaults to (2001 to 2286), and
/// shown as a date; others (a release counter) are shown as "-".
const SEQ_AS_TIME: std::ops::Range<u64> = 1_000_000_000..10_000_000_000;

/// One release as a row: dates in UTC to the minute, the short sha256 `--from` takes.
fn release_row(name: &str, r: &publish::Release, now: u64) -> Vec<String> {
    let signed = if SEQ_AS_TIME.contains(&r.facts.seq) {
        human_date(r.facts.seq)
    } else {
        "-".into()
    };
    let expires = match r.facts.expires {
        None => "never".into(),
        Some(t) if t <= now => format!("{} (expired)", human_date(t)),
        Some(t) => human_date(t),
    };
    vec![
        name.to_string(),
        r.facts.seq.to_string(),
        signed,
        r.facts.version.clone(),
        startup_bundle::hashing::short(&r.facts.sha256).to_string(),
        expires,
        if r.latest { "<- latest" } else { "" }.into(),
    ]
}

/// `2026-01-01 00:00 UTC`.
fn human_date(secs: u64) -> String {
    let c = startup_bundle::date::Civil::from_unix(secs);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        c.year, c.month, c.day, c.hour, c.minute
    )
}

/// Rows as left-aligned columns two spaces apart, without trailing spaces.
fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
