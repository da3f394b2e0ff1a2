//! `bundle-bootstrap watch URL`.

use std::process::ExitCode;

use startup_bundle::boot::watch::{self, WatchOptions};
use startup_bundle::cli::{Dur, Failure, Percent, RunArgs};

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
    /// Move each interval by a random amount within ± this percentage of it (0 to 50), so that
    /// a fleet started together does not poll in step
    #[arg(long, value_name = "PERCENT", default_value_t = Percent(watch::DEFAULT_JITTER_PERCENT))]
    pub jitter: Percent,
    /// A release that failed is tried again after 2, 4, 8… polls, at most this long apart (and
    /// at once when the URL designates other bytes)
    #[arg(long, value_name = "DUR", default_value_t = Dur(watch::DEFAULT_MAX_BACKOFF))]
    pub max_backoff: Dur,
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
        if self.jitter.0 > watch::MAX_JITTER_PERCENT {
            return Err(Failure::usage(format!(
                "--jitter {} is too much: at most {}%, so that two polls stay at least half an \
                 interval apart",
                self.jitter,
                watch::MAX_JITTER_PERCENT
            )));
        }
        let every = WatchOptions {
            interval: self.interval.0,
            jitter_percent: self.jitter.0,
            max_backoff: self.max_backoff.0,
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
        let name = format!("{} watch", crate::PROGRAM);
        let stopped = watch::watch(&opts, &every, &mut |line| super::log_as(&name, line))?;
        Ok(stopped.exit().into())
    }
}
