//! `bundle`: the publisher's tool (also built as `startup-bundle`). Parses flags, hands each
//! subcommand's `Args` to its `run`, reports an error once, exits with the contract's status.
//! Every decision lives in the library.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use startup_bundle::cli;

/// Make encrypted start-up bundles from personality folders, and open them again.
#[derive(Debug, Parser)]
#[command(name = "bundle", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a personality folder from a template (`--list` shows them)
    New(cmd::new::NewArgs),
    /// Check a personality folder and list every problem found
    Check(cmd::check::CheckArgs),
    /// Pack and encrypt a personality folder into one bundle file
    Pack(Box<cmd::pack::PackArgs>),
    /// Decrypt and unpack a bundle into DIR (as `tar -C DIR` would), running nothing
    Unpack(Box<cmd::unpack::UnpackArgs>),
    /// Show a bundle's name, version and modules in run order, running nothing
    Inspect(Box<cmd::inspect::InspectArgs>),
    /// Pack, serve on 127.0.0.1 and boot a personality with the real bundle-bootstrap, as an instance would
    Try(Box<cmd::trial::TryArgs>),
    /// Print the EC2 user-data script that boots a bundle
    Userdata(Box<cmd::userdata::UserdataArgs>),
    /// Make a minisign key pair for signing bundles (`--passphrase`: print a random passphrase instead)
    Keygen(cmd::keygen::KeygenArgs),
    /// Sign an existing bundle file: FILE.minisig, with the bundle's facts in its trusted comment
    Sign(Box<cmd::sign::SignArgs>),
    /// Publish a signed bundle to a folder or s3://bucket/prefix: release first, NAME.latest last
    Publish(Box<cmd::publish::PublishArgs>),
    /// List the releases published at a destination
    Releases(Box<cmd::publish::ReleasesArgs>),
    /// Check FILE.minisig with public keys and print what it vouches for (exit 0, or 3 when refused)
    Verify(cmd::verify::VerifyArgs),
}

/// Entry point (shared with the `startup-bundle` program).
pub fn main() -> ExitCode {
    let program = cli::program_name("bundle");
    let cli: Cli = match cli::parse(&program) {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let ctx = cmd::Ctx { program: &program };
    let result = match cli.command {
        Command::New(args) => args.run(&ctx),
        Command::Check(args) => args.run(&ctx),
        Command::Pack(args) => args.run(&ctx),
        Command::Unpack(args) => args.run(&ctx),
        Command::Inspect(args) => args.run(&ctx),
        Command::Try(args) => args.run(&ctx),
        Command::Userdata(args) => args.run(&ctx),
        Command::Keygen(args) => args.run(&ctx),
        Command::Sign(args) => args.run(&ctx),
        Command::Publish(args) => args.run(&ctx),
        Command::Releases(args) => args.run(&ctx),
        Command::Verify(args) => args.run(&ctx),
    };
    result.unwrap_or_else(|failure| cli::report(&program, &failure))
}
