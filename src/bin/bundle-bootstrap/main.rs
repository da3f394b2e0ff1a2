//! `bundle-bootstrap`: the instance's tool, started from EC2 user-data at boot and by its systemd
//! units at every later boot. Parses flags, calls the library (`startup_bundle::boot`), prints,
//! exits with the contract's status.

mod cmd;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use startup_bundle::cli;

/// The name in messages.
const PROGRAM: &str = "bundle-bootstrap";

/// Fetch, verify, decrypt and unpack a start-up bundle, then run its modules in order — or fail loudly.
#[derive(Debug, Parser)]
#[command(name = "bundle-bootstrap", version, about, max_term_width = 100)]
pub struct Cli {
    /// The saved configuration: written by `run URL`, read by `run` without a URL and every other
    /// subcommand [default: $BUNDLE_BOOTSTRAP_CONFIG, else /etc/startup-bundle/bootstrap.toml as
    /// root, else ~/.config/startup-bundle/bootstrap.toml; `none`: neither read nor write one]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch the bundle at URL (or the saved configuration's) and run every module's scripts in order
    Run(Box<cmd::run::RunCmd>),
    /// Poll URL and apply it again whenever it changes (like cfn-hup); runs until stopped
    Watch(Box<cmd::watch::WatchArgs>),
    /// Apply the current release again, with the saved configuration, fetching nothing
    Rerun(Box<cmd::reapply::RerunArgs>),
    /// Apply an earlier release kept on this machine (the rollback floor stays where it is)
    Rollback(Box<cmd::reapply::RollbackArgs>),
    /// Show the last run, module by module (exit 0 only when it succeeded)
    Status(cmd::status::StatusArgs),
    /// Install and enable the systemd units that apply the saved configuration at every later boot
    /// (and, with --watch, whenever the bundle changes)
    Install(cmd::install::InstallArgs),
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let (cli, matches) = match cli::parse_matches::<Cli>(PROGRAM, args.clone(), false) {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let ctx = cmd::Ctx {
        config: cli
            .config
            .clone()
            .unwrap_or_else(startup_bundle::boot::config::default_path),
        args,
        matches,
    };
    let result = match cli.command {
        Command::Run(args) => cmd::run::run(*args, &ctx),
        Command::Watch(args) => args.run(&ctx),
        Command::Rerun(args) => args.run(&ctx),
        Command::Rollback(args) => args.run(&ctx),
        Command::Status(args) => args.run(&ctx),
        Command::Install(args) => args.run(&ctx),
    };
    // Through the log, as every line the bootstrap prints about itself: timed.
    result.unwrap_or_else(|failure| cli::report_to(&failure, &mut cmd::log))
}
