//! `bundle-bootstrap run [URL]`.

use std::io::Write as _;
use std::process::ExitCode;

use startup_bundle::boot::{self, BootOptions, Booted, Mode};
use startup_bundle::cli::{Failure, RunArgs, report_to};
use startup_bundle::hashing;

use super::{Ctx, log, log_version, progress, resolve};

/// `run`'s flags: everything a boot takes, and whether to skip a boot that already applied.
#[derive(Debug, clap::Args)]
pub struct RunCmd {
    /// Everything a boot takes.
    #[command(flatten)]
    pub run: RunArgs,
    /// Do nothing (exit 0) when a run already succeeded in this boot — user-data's, on the first
    /// boot of an instance whose image has the units enabled. What the boot unit runs
    #[arg(long, conflicts_with = "dry_run")]
    pub once_per_boot: bool,
}

/// `bundle-bootstrap run`: the error report, then the one-line summary, last. TERM or INT stop
/// the run (exit 143 or 130).
pub fn run(cmd: RunCmd, ctx: &Ctx) -> Result<ExitCode, Failure> {
    log_version("run", &cmd.run);
    let once = cmd.once_per_boot;
    let args = match resolve(cmd.run, "run", ctx, |cli| match cli.command {
        crate::Command::Run(cmd) => Some(cmd.run),
        _ => None,
    }) {
        Ok(args) => args,
        Err(ended) => return ended,
    };
    let mut opts = args.options(&mut log)?;
    opts.progress = progress()?;
    handle_signals(&opts)?;
    let result = if once {
        match boot::boot_once_per_boot(&opts, &mut log) {
            Booted::Ran(result) => *result,
            Booted::AlreadyApplied(last) => {
                log(&already_applied(&last));
                return Ok(ExitCode::SUCCESS);
            }
        }
    } else {
        boot::boot(&opts, &mut log)
    };
    let summary = boot::summary(&result, opts.mode);
    let code = match result {
        Ok(report) if opts.mode == Mode::DryRun => {
            let mut out = std::io::stdout().lock();
            out.write_all(report.plan_text().as_bytes())
                .map_err(Failure::output)?;
            ExitCode::SUCCESS
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => report_to(&Failure::from(e), &mut log),
    };
    // Last, after the error report: the line cloud-init's log and the journal end with.
    log(&summary);
    Ok(code)
}

/// The line `--once-per-boot` ends with when there was nothing to do.
fn already_applied(last: &startup_bundle::state::Status) -> String {
    let what = last.bundle.as_ref().map_or_else(
        || "the bundle".to_string(),
        |b| {
            format!(
                "{} {} (sha256 {})",
                b.name,
                b.version,
                hashing::short(&b.sha256)
            )
        },
    );
    format!(
        "nothing to do (--once-per-boot): {what} was already applied in this boot, by run {} \
         (finished {})",
        last.run_id,
        last.finished.as_deref().unwrap_or("-")
    )
}

/// From here on TERM and INT stop the run cleanly (`opts.interrupt`) instead of killing us mid-way.
pub fn handle_signals(opts: &BootOptions) -> Result<(), Failure> {
    opts.interrupt
        .on_signals()
        .map_err(|e| Failure::usage(format!("cannot handle SIGTERM and SIGINT: {e}")))
}
