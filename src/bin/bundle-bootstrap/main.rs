//! `bundle-bootstrap`: the instance's tool, started from EC2 user-data at boot. Parses flags, calls
//! the library (`startup_bundle::boot`), prints, exits with the contract's status.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use startup_bundle::cli;

/// The name in messages.
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
    Run(Box<cmd::run::RunArgs>),
    /// Poll URL and apply it again whenever it changes (like cfn-hup); runs until stopped
    Watch(Box<cmd::watch::WatchArgs>),
    /// Show the last run, module by module (exit 0 only when it succeeded)
    Status(cmd::status::StatusArgs),
}

fn main() -> ExitCode {
    let cli: Cli = match cli::parse(PROGRAM) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let result = match cli.command {
        Command::Run(args) => args.run(),
        Command::Watch(args) => args.run(),
        Command::Status(args) => args.run(),
    };
    result.unwrap_or_else(|failure| cli::report(PROGRAM, &failure))
}
