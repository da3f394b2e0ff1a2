//! The flags of `bundle-bootstrap run` (and `watch`), in the library so that `bundle userdata`
//! checks the flags it renders with the very parser the instance will use, and so that the saved
//! configuration ([`crate::boot::config`]) is read with it too.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::ArgAction;
use clap::parser::ValueSource;

use crate::archive::Limits;
use crate::aws::imds;
use crate::boot::config::{Saved, SavedConfig};
use crate::boot::{self, BootOptions, Mode, ParamsGiven, SignaturePolicy};
use crate::cli::{DecryptFlags, Dur, EnvVar, Failure, Sha256Hex, Size};
use crate::fetch::{self, FetchOptions, S3Options};
use crate::sign::{ExpiryPolicy, Rollback, TrustedKey};
use crate::state::{DEFAULT_KEEP_RUNS, DEFAULT_STATE_DIR};
use crate::{runner, secret};

/// `run`'s flags (also `watch`'s).
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// https://, http://, s3://bucket/key, file:// URL or a path [default: the saved
    /// configuration's, see --config]
    pub url: Option<String>,
    /// How to decrypt.
    #[command(flatten)]
    pub decrypt: DecryptFlags,
    /// Refuse the bundle unless its sha256 is this (hex)
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<Sha256Hex>,
    /// Minisign public key (base64, as `minisign -P` takes it) or .pub file: URL.minisig must verify
    /// before anything is decrypted; decryption parameters then come from it (repeatable, for rotation)
    #[arg(long = "pubkey", value_name = "KEY")]
    pub pubkey: Vec<String>,
    /// The bundle name the signature must vouch for [default: the URL's file name without its
    /// extension, or the pointer's name]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Apply a signed bundle whose seq is lower than one already applied here
    #[arg(long)]
    pub allow_downgrade: bool,
    /// Apply a bundle whose signature has expired
    #[arg(long)]
    pub allow_expired: bool,
    /// State folder: releases, logs, init records, status
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// PEM file of extra CA certificates to trust (a private CA)
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// KEY=VALUE for every module's environment (repeatable)
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<EnvVar>,
    /// Time one script may run before it is stopped
    #[arg(long, value_name = "DUR", default_value_t = Dur(runner::DEFAULT_MODULE_TIMEOUT))]
    pub module_timeout: Dur,
    /// Keep retrying the download for this long
    #[arg(long, value_name = "DUR", default_value_t = Dur(fetch::DEFAULT_RETRY_FOR))]
    pub retry_for: Dur,
    /// Give up on a connection after this long
    #[arg(long, value_name = "DUR", default_value_t = Dur(fetch::DEFAULT_CONNECT_TIMEOUT))]
    pub connect_timeout: Dur,
    /// Retry a download that sends nothing for this long
    #[arg(long, value_name = "DUR", default_value_t = Dur(fetch::DEFAULT_STALL_TIMEOUT))]
    pub stall_timeout: Dur,
    /// Refuse a bundle file larger than this
    #[arg(long, value_name = "SIZE", default_value_t = Size(fetch::DEFAULT_MAX_SIZE))]
    pub max_size: Size,
    /// Refuse a bundle that unpacks to more than this
    #[arg(long, value_name = "SIZE", default_value_t = Size(Limits::default().max_bytes))]
    pub max_unpacked: Size,
    /// Wait this long for another run on the same state folder
    #[arg(long, value_name = "DUR", default_value_t = Dur(boot::DEFAULT_LOCK_WAIT))]
    pub lock_wait: Dur,
    /// Shell command run after a successful run (BUNDLE_RESULT=success)
    #[arg(long, value_name = "CMD")]
    pub on_success: Option<String>,
    /// Shell command run after a failed run (BUNDLE_RESULT=failure, BUNDLE_FAILED_MODULE)
    #[arg(long, value_name = "CMD")]
    pub on_failure: Option<String>,
    /// When the fetch fails for good, fail (exit 2) instead of re-applying the last release verified
    /// here
    #[arg(long)]
    pub no_offline: bool,
    /// With a release verified here to fall back on, stop trying to fetch after this long
    /// [default: the whole --retry-for]
    #[arg(long, value_name = "DUR", conflicts_with = "no_offline")]
    pub offline_after: Option<Dur>,
    /// Run log folders kept in the state folder (STATE/logs/RUN-ID/): the newest N, this run's
    /// among them
    #[arg(long, value_name = "N", default_value_t = DEFAULT_KEEP_RUNS)]
    pub keep_runs: usize,
    /// Fetch, verify, decrypt, unpack and print the plan (and what changed since the applied
    /// release); run nothing, save nothing
    #[arg(long)]
    pub dry_run: bool,
    /// How s3:// URLs are reached.
    #[command(flatten)]
    pub s3: S3Flags,
}

/// How s3:// URLs are reached.
#[derive(Debug, clap::Args)]
pub struct S3Flags {
    /// The region of s3:// URLs and of --pass ssm:/secretsmanager: [default: $AWS_REGION,
    /// $AWS_DEFAULT_REGION, IMDS, us-east-1]
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// An S3-compatible endpoint for s3:// URLs, addressed path-style (http://127.0.0.1:9000)
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The instance metadata service (IMDSv2) for role credentials and region (s3:// URLs, --pass
    /// ssm:/secretsmanager:)
    #[arg(long, value_name = "URL", default_value = imds::DEFAULT_IMDS_ENDPOINT)]
    pub imds_endpoint: String,
}

impl RunArgs {
    /// Refuses the signature flags without a key to check signatures with. Checked here, not by
    /// clap: the keys may come from the saved configuration.
    pub fn check_signature_flags(&self) -> Result<(), String> {
        if self.pubkey.is_empty()
            && (self.allow_downgrade || self.allow_expired || self.name.is_some())
        {
            return Err(
                "--allow-downgrade, --allow-expired and --name are about signatures: give --pubkey too"
                    .into(),
            );
        }
        Ok(())
    }

    /// The library's options for these flags.
    pub fn options(self, log: &mut dyn FnMut(&str)) -> Result<BootOptions, Failure> {
        self.check_signature_flags().map_err(Failure::usage)?;
        let url = self.url.ok_or_else(|| {
            Failure::usage(
                "no URL: give the bundle's URL, or save a configuration with a first `run URL`",
            )
        })?;
        let params = self.decrypt.params()?;
        if self.keep_runs == 0 {
            return Err(Failure::usage(
                "--keep-runs must be at least 1: the log folder of the run that is going on is kept",
            ));
        }
        if let Some(warning) = self.decrypt.literal_warning() {
            log(warning);
        }
        // A passphrase in our environment or an inherited descriptor leaves this process before
        // any module can read it: this returns only when there was nothing to move.
        if let Err(e) = secret::handoff(self.decrypt.pass.as_ref()) {
            log(&format!(
                "warning: could not restart without the passphrase in the environment ({e}); \
                 modules may be able to read it from this process"
            ));
        }
        if matches!(self.decrypt.pass, Some(secret::PassSpec::Invalid)) {
            return Err(secret::SecretError::BadSpec.into());
        }
        let pass = secret::hold(self.decrypt.pass)?;
        let keys = self
            .pubkey
            .iter()
            .map(|given| TrustedKey::parse(given))
            .collect::<Result<Vec<_>, _>>()?;
        let signature = SignaturePolicy {
            keys,
            rollback: if self.allow_downgrade {
                Rollback::AllowDowngrade
            } else {
                Rollback::Refuse
            },
            expiry: if self.allow_expired {
                ExpiryPolicy::AllowExpired
            } else {
                ExpiryPolicy::Enforce
            },
            params_given: if self.decrypt.cipher.given() {
                ParamsGiven::Flags
            } else {
                ParamsGiven::Defaults
            },
        };
        let fetch = FetchOptions {
            retry_for: self.retry_for.0,
            connect_timeout: self.connect_timeout.0,
            stall_timeout: self.stall_timeout.0,
            max_size: self.max_size.0,
            ca_file: self.ca_file,
            s3: S3Options {
                region: self.s3.region,
                endpoint_url: self.s3.endpoint_url,
                imds_endpoint: self.s3.imds_endpoint,
            },
            ..FetchOptions::default()
        };
        Ok(BootOptions {
            url,
            name: self.name,
            pass,
            params,
            signature,
            sha256: self.sha256.map(|s| s.to_string()),
            state_dir: self.state_dir,
            fetch,
            limits: Limits {
                max_bytes: self.max_unpacked.0,
                ..Limits::default()
            },
            env: self.env.iter().map(EnvVar::pair).collect(),
            module_timeout: self.module_timeout.0,
            kill_grace: runner::DEFAULT_KILL_GRACE,
            lock_wait: self.lock_wait.0,
            mode: if self.dry_run {
                Mode::DryRun
            } else {
                Mode::Run
            },
            on_success: self.on_success,
            on_failure: self.on_failure,
            interrupt: crate::runner::Interrupt::new(),
            offline: boot::Offline {
                enabled: !self.no_offline,
                after: self.offline_after.map(|d| d.0),
            },
            keep_runs: self.keep_runs,
            // The binary turns the lines on: it knows where its log goes.
            progress: crate::progress::Progress::Quiet,
        })
    }
}

/// The flags of a `run URL …` worth saving ([`crate::boot::config`]): every flag given on the command
/// line (defaults are not: a newer version's defaults then apply), but not `--dry-run`, and not a
/// passphrase source that does not outlive this boot (`pass:`, `env:`, `fd:`, `stdin`). Returns the
/// configuration and, when the passphrase source was left out, why.
pub fn saved_config(
    command: &clap::Command,
    matches: &clap::ArgMatches,
) -> (SavedConfig, Option<String>) {
    let mut config = SavedConfig {
        url: matches.get_one::<String>("url").map(|url| {
            if url.contains("://") {
                url.clone()
            } else {
                absolute(url)
            }
        }),
        flags: Vec::new(),
    };
    let mut note = None;
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        let (Some(long), Some(ValueSource::CommandLine)) =
            (arg.get_long(), matches.value_source(id))
        else {
            continue;
        };
        if NOT_SAVED.contains(&long) {
            continue;
        }
        // Saved for a unit that runs from `/`: every path made absolute.
        let values: Vec<String> = matches
            .get_raw(id)
            .map(|raw| {
                raw.map(|v| v.to_string_lossy().into_owned())
                    .map(|v| absolute_paths(long, v))
                    .collect()
            })
            .unwrap_or_default();
        if long == PASS_FLAG && !values.first().is_some_and(|v| durable_pass(v)) {
            note = Some(
                "the passphrase source is not saved (it does not outlive this boot): a later boot \
                 needs `pass = \"file:PATH\"` or `pass = \"ssm:NAME\"` in the configuration"
                    .to_string(),
            );
            continue;
        }
        let saved = match arg.get_action() {
            ArgAction::SetTrue => Saved::Switch,
            ArgAction::Append => Saved::Many(values),
            _ => Saved::One(values.into_iter().next().unwrap_or_default()),
        };
        config.flags.push((long.to_string(), saved));
    }
    if !matches.contains_id(PASS_FLAG_ID)
        || matches.value_source(PASS_FLAG_ID) != Some(ValueSource::CommandLine)
    {
        note.get_or_insert_with(|| {
            "no passphrase source is saved ($BUNDLE_PASSPHRASE does not outlive this boot): a later \
             boot needs `pass = \"file:PATH\"` or `pass = \"ssm:NAME\"` in the configuration"
                .to_string()
        });
    }
    (config, note)
}

/// `value` of flag `long` with any path in it made absolute against the working folder.
fn absolute_paths(long: &str, value: String) -> String {
    match long {
        "state-dir" | "ca-file" => absolute(&value),
        "pass" => match value.strip_prefix("file:") {
            Some(path) => format!("file:{}", absolute(path)),
            None => value,
        },
        "pubkey" if std::path::Path::new(&value).is_file() => absolute(&value),
        _ => value,
    }
}

fn absolute(path: &str) -> String {
    std::path::absolute(path)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| path.to_string())
}

/// Flags that only make sense for the run that was given them (`--once-per-boot` is the boot
/// unit's, on its own command line).
const NOT_SAVED: &[&str] = &["dry-run", "once-per-boot"];
/// The passphrase flag, and its id.
const PASS_FLAG: &str = "pass";
const PASS_FLAG_ID: &str = "pass";

/// Whether a `--pass` source can be read again at a later boot.
fn durable_pass(spec: &str) -> bool {
    ["file:", "ssm:", "secretsmanager:"]
        .iter()
        .any(|prefix| spec.starts_with(prefix))
}

/// The command line with the saved configuration in front: `args` are the program's arguments
/// (without the program), `sub` the subcommand among them. The saved URL goes right after the
/// subcommand when none is given, then the saved flags, then the given ones — which therefore win.
pub fn with_saved(
    args: &[OsString],
    sub: &str,
    saved: &SavedConfig,
    has_url: bool,
) -> Vec<OsString> {
    let at = args
        .iter()
        .position(|a| a == sub)
        .map_or(args.len(), |i| i + 1);
    let mut out: Vec<OsString> = args[..at].to_vec();
    if !has_url && let Some(url) = &saved.url {
        out.push(OsString::from(url));
    }
    out.extend(saved.to_args());
    out.extend(args[at..].iter().cloned());
    out
}
