//! `bundle-bootstrap watch URL`.

use std::process::ExitCode;

use startup_bundle::boot::watch::{self, WatchOptions};
use startup_bundle::cli::{Dur, Failure, RunArgs};

use super::{Ctx, resolve};

/// The default time between two polls.
const DEFAULT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// `watch`'s flags: `run`'s, and how often.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// Everything `run` takes.
    #[command(flatten)]
    pub run: RunArgs,
    /// Time between two polls
    #[arg(long, value_name = "DUR", default_value_t = Dur(DEFAULT_INTERVAL))]
    pub interval: Dur,
    /// Stop after this many polls (0: never)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub polls: u64,
}

impl WatchArgs {
    /// Polls until stopped (or `--polls` runs out); a configuration mistake stops it with exit 1.
    /// TERM or INT stop it: exit 0, or 143/130 when that cut a run short.
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode, Failure> {
        if self.run.dry_run {
            return Err(Failure::usage(
                "watch applies changes; use `run --dry-run` to see a plan",
            ));
        }
        let every = WatchOptions {
            interval: self.interval.0,
            polls: (self.polls > 0).then_some(self.polls),
        };
        let run = match resolve(self.run, "watch", ctx, |cli| match cli.command {
            crate::Command::Watch(args) => Some(args.run),
            _ => None,
        }) {
            Ok(run) => run,
            Err(ended) => return ended,
        };
        let opts = run.options(&mut super::log)?;
        super::run::handle_signals(&opts)?;
        let stopped = watch::watch(&opts, &every, &mut |line| {
            eprintln!("{} watch: {line}", crate::PROGRAM)
        })?;
        Ok(stopped.exit().into())
    }
}
