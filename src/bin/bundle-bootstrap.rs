//! `bundle-bootstrap`: the instance's tool, started from EC2 user-data at boot. Parses flags, calls
//! [`startup_bundle::bootstrap::boot`], prints, exits with the contract's status.

#[path = "cli_common.rs"]
mod cli_common;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use cli_common::{DecryptFlags, fail, parse, usage};
use startup_bundle::archive::Limits;
use startup_bundle::bootstrap::{self, BootOptions, Mode, ParamsGiven, Rollback, SignaturePolicy};
use startup_bundle::exit::Exit;
use startup_bundle::fetch::{FetchOptions, S3Options, imds};
use startup_bundle::sign::{ExpiryPolicy, TrustedKey};
use startup_bundle::watch::WatchOptions;
use startup_bundle::{duration, runner, size};

const PROGRAM: &str = "bundle-bootstrap";

/// Fetch, verify, decrypt and unpack a start-up bundle, then run its modules in order — or fail loudly.
#[derive(Debug, Parser)]
#[command(name = "bundle-bootstrap", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fetch the bundle at URL and run every module's scripts in order
    Run(Box<RunArgs>),
    /// Poll URL and apply it again whenever it changes (like cfn-hup); runs until stopped
    Watch(Box<WatchArgs>),
    /// Show the last run, module by module
    Status {
        /// The state folder
        #[arg(long, value_name = "DIR", default_value = bootstrap::DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
struct WatchArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Time between two polls
    #[arg(long, value_name = "DUR", value_parser = duration::parse, default_value = "5m")]
    interval: Duration,
    /// Stop after this many polls (0: never)
    #[arg(long, value_name = "N", default_value_t = 0)]
    polls: u64,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// https://, http://, s3://bucket/key, file:// URL or a path
    url: String,
    #[command(flatten)]
    decrypt: DecryptFlags,
    /// Refuse the bundle unless its sha256 is this (hex)
    #[arg(long, value_name = "HEX")]
    sha256: Option<String>,
    /// Minisign public key (base64, as `minisign -P` takes it) or .pub file: URL.minisig must verify
    /// before anything is decrypted; decryption parameters then come from it (repeatable, for rotation)
    #[arg(long = "pubkey", value_name = "KEY")]
    pubkey: Vec<String>,
    /// Apply a signed bundle whose seq is lower than one already applied here
    #[arg(long, requires = "pubkey")]
    allow_downgrade: bool,
    /// Apply a bundle whose signature has expired
    #[arg(long, requires = "pubkey")]
    allow_expired: bool,
    /// State folder: releases, logs, init records, status
    #[arg(long, value_name = "DIR", default_value = bootstrap::DEFAULT_STATE_DIR)]
    state_dir: PathBuf,
    /// PEM file of extra CA certificates to trust (a private CA)
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// KEY=VALUE for every module's environment (repeatable)
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Time one script may run before it is stopped
    #[arg(long, value_name = "DUR", value_parser = duration::parse, default_value = "30m")]
    module_timeout: Duration,
    /// Keep retrying the download for this long
    #[arg(long, value_name = "DUR", value_parser = duration::parse, default_value = "5m")]
    retry_for: Duration,
    /// Give up on a connection after this long
    #[arg(long, value_name = "DUR", value_parser = duration::parse, default_value = "10s")]
    connect_timeout: Duration,
    /// Retry a download that sends nothing for this long
    #[arg(long, value_name = "DUR", value_parser = duration::parse, default_value = "30s")]
    stall_timeout: Duration,
    /// Refuse a bundle file larger than this
    #[arg(long, value_name = "SIZE", value_parser = size::parse, default_value = "2G")]
    max_size: u64,
    /// Refuse a bundle that unpacks to more than this
    #[arg(long, value_name = "SIZE", value_parser = size::parse, default_value = "4G")]
    max_unpacked: u64,
    /// Wait this long for another run on the same state folder
    #[arg(long, value_name = "DUR", value_parser = duration::parse, default_value = "10m")]
    lock_wait: Duration,
    /// Shell command run after a successful run (BUNDLE_RESULT=success)
    #[arg(long, value_name = "CMD")]
    on_success: Option<String>,
    /// Shell command run after a failed run (BUNDLE_RESULT=failure, BUNDLE_FAILED_MODULE)
    #[arg(long, value_name = "CMD")]
    on_failure: Option<String>,
    /// Fetch, verify, decrypt, unpack and print the plan; run nothing
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    s3: S3Flags,
}

/// How s3:// URLs are reached.
#[derive(Debug, clap::Args)]
struct S3Flags {
    /// The bucket's region for s3:// URLs [default: $AWS_REGION, $AWS_DEFAULT_REGION, IMDS, us-east-1]
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// An S3-compatible endpoint for s3:// URLs, addressed path-style (http://127.0.0.1:9000)
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// The instance metadata service (IMDSv2) for role credentials and region
    #[arg(long, value_name = "URL", default_value = imds::DEFAULT_IMDS_ENDPOINT)]
    imds_endpoint: String,
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("--env {text}: write KEY=VALUE"))?;
    let valid = !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid {
        return Err(format!(
            "--env {key}=…: {key:?} is not a variable name (letters, digits, _)"
        ));
    }
    Ok((key.to_string(), value.to_string()))
}

fn main() -> ExitCode {
    let cli: Cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match cli.command {
        Command::Run(args) => run(*args),
        Command::Watch(args) => watch(*args),
        Command::Status { state_dir, json } => status(&state_dir, json),
    }
}

fn run(args: RunArgs) -> ExitCode {
    let (opts, mode) = match boot_options(args) {
        Ok(built) => built,
        Err(code) => return code,
    };
    let result = bootstrap::boot(&opts, &mut |line| eprintln!("{PROGRAM}: {line}"));
    let summary = bootstrap::summary(&result, mode);
    let code = match &result {
        Ok(report) => {
            if mode == Mode::DryRun {
                print!("{}", report.plan_text());
            }
            Exit::Ok.into()
        }
        Err(e) => fail(PROGRAM, e, e),
    };
    eprintln!("{PROGRAM}: {summary}");
    code
}

fn watch(args: WatchArgs) -> ExitCode {
    if args.run.dry_run {
        return usage(
            PROGRAM,
            "watch applies changes; use `run --dry-run` to see a plan",
        );
    }
    let every = WatchOptions {
        interval: args.interval,
        polls: (args.polls > 0).then_some(args.polls),
    };
    let (opts, _) = match boot_options(args.run) {
        Ok(built) => built,
        Err(code) => return code,
    };
    match startup_bundle::watch::watch(&opts, &every, &mut |line| {
        eprintln!("{PROGRAM} watch: {line}")
    }) {
        Ok(()) => Exit::Ok.into(),
        Err(e) => fail(PROGRAM, &e, &e),
    }
}

/// Turns the flags of `run` (and `watch`) into the library's options.
fn boot_options(args: RunArgs) -> Result<(BootOptions, Mode), ExitCode> {
    let params = match args.decrypt.params() {
        Ok(p) => p,
        Err(msg) => return Err(usage(PROGRAM, &msg)),
    };
    if let Some(hex) = &args.sha256
        && (hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(usage(
            PROGRAM,
            "--sha256 takes the 64 hex digits that `bundle pack` printed",
        ));
    }
    let mut keys = Vec::new();
    for given in &args.pubkey {
        match TrustedKey::parse(given) {
            Ok(key) => keys.push(key),
            Err(e) => return Err(fail(PROGRAM, &e, &e)),
        }
    }
    let flags_given = args.decrypt.cipher.given();
    let signature = SignaturePolicy {
        keys,
        rollback: if args.allow_downgrade {
            Rollback::AllowDowngrade
        } else {
            Rollback::Refuse
        },
        expiry: if args.allow_expired {
            ExpiryPolicy::AllowExpired
        } else {
            ExpiryPolicy::Enforce
        },
        params_given: if flags_given {
            ParamsGiven::Flags
        } else {
            ParamsGiven::Defaults
        },
    };
    let fetch = FetchOptions {
        retry_for: args.retry_for,
        connect_timeout: args.connect_timeout,
        stall_timeout: args.stall_timeout,
        max_size: args.max_size,
        ca_file: args.ca_file,
        s3: S3Options {
            region: args.s3.region,
            endpoint_url: args.s3.endpoint_url,
            imds_endpoint: args.s3.imds_endpoint,
        },
        ..FetchOptions::default()
    };
    let mode = if args.dry_run {
        Mode::DryRun
    } else {
        Mode::Run
    };
    let opts = BootOptions {
        url: args.url,
        pass: args.decrypt.pass,
        params,
        signature,
        sha256: args.sha256,
        state_dir: args.state_dir,
        fetch,
        limits: Limits {
            max_bytes: args.max_unpacked,
            ..Limits::default()
        },
        env: args.env,
        module_timeout: args.module_timeout,
        kill_grace: Duration::from_secs(10),
        lock_wait: args.lock_wait,
        mode,
        on_success: args.on_success,
        on_failure: args.on_failure,
    };
    Ok((opts, mode))
}

fn status(state_dir: &std::path::Path, json: bool) -> ExitCode {
    match runner::read_status(state_dir) {
        Ok(status) => {
            if json {
                match serde_json::to_string_pretty(&status) {
                    Ok(text) => println!("{text}"),
                    Err(e) => return usage(PROGRAM, &format!("cannot print the status: {e}")),
                }
            } else {
                print!("{}", runner::render_status(&status));
            }
            Exit::Ok.into()
        }
        Err(e) => fail(PROGRAM, &e, &e),
    }
}
