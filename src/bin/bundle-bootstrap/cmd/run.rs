//! `bundle-bootstrap run URL`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use startup_bundle::archive::Limits;
use startup_bundle::boot::{self, BootOptions, Mode, ParamsGiven, SignaturePolicy};
use startup_bundle::cli::{DecryptFlags, Dur, EnvVar, Failure, Sha256Hex, Size, report};
use startup_bundle::fetch::{self, FetchOptions, S3Options, imds};
use startup_bundle::runner::Interrupt;
use startup_bundle::sign::{ExpiryPolicy, Rollback, TrustedKey};
use startup_bundle::state::DEFAULT_STATE_DIR;
use startup_bundle::{runner, secret};

use super::log;
use crate::PROGRAM;

/// `run`'s flags (also `watch`'s).
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// https://, http://, s3://bucket/key, file:// URL or a path
    pub url: String,
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
    #[arg(long, value_name = "NAME", requires = "pubkey")]
    pub name: Option<String>,
    /// Apply a signed bundle whose seq is lower than one already applied here
    #[arg(long, requires = "pubkey")]
    pub allow_downgrade: bool,
    /// Apply a bundle whose signature has expired
    #[arg(long, requires = "pubkey")]
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
    /// Fetch, verify, decrypt, unpack and print the plan; run nothing
    #[arg(long)]
    pub dry_run: bool,
    /// How s3:// URLs are reached.
    #[command(flatten)]
    pub s3: S3Flags,
}

/// How s3:// URLs are reached.
#[derive(Debug, clap::Args)]
pub struct S3Flags {
    /// The bucket's region for s3:// URLs [default: $AWS_REGION, $AWS_DEFAULT_REGION, IMDS, us-east-1]
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// An S3-compatible endpoint for s3:// URLs, addressed path-style (http://127.0.0.1:9000)
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The instance metadata service (IMDSv2) for role credentials and region
    #[arg(long, value_name = "URL", default_value = imds::DEFAULT_IMDS_ENDPOINT)]
    pub imds_endpoint: String,
}

impl RunArgs {
    /// `bundle-bootstrap run`: the error report, then the one-line summary, last. TERM or INT
    /// stop the run (exit 143 or 130).
    pub fn run(self) -> Result<ExitCode, Failure> {
        let opts = self.options()?;
        handle_signals(&opts)?;
        let result = boot::boot(&opts, &mut log);
        let summary = boot::summary(&result, opts.mode);
        let code = match result {
            Ok(report) if opts.mode == Mode::DryRun => {
                let mut out = std::io::stdout().lock();
                out.write_all(report.plan_text().as_bytes())
                    .map_err(Failure::output)?;
                ExitCode::SUCCESS
            }
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => report(PROGRAM, &Failure::from(e)),
        };
        log(&summary);
        Ok(code)
    }

    /// The library's options for these flags.
    pub fn options(self) -> Result<BootOptions, Failure> {
        let params = self.decrypt.params()?;
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
            url: self.url,
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
            interrupt: Interrupt::new(),
        })
    }
}

/// From here on TERM and INT stop the run cleanly (`opts.interrupt`) instead of killing us mid-way.
pub fn handle_signals(opts: &BootOptions) -> Result<(), Failure> {
    opts.interrupt
        .on_signals()
        .map_err(|e| Failure::usage(format!("cannot handle SIGTERM and SIGINT: {e}")))
}
