//! `bundle-bootstrap run [URL]`.

use std::io::Write as _;
use std::process::ExitCode;

use startup_bundle::boot::{self, BootOptions, Mode};
use startup_bundle::cli::{Failure, RunArgs, report};

use super::{Ctx, log, resolve};
use crate::PROGRAM;

/// `bundle-bootstrap run`: the error report, then the one-line summary, last. TERM or INT stop
/// the run (exit 143 or 130).
pub fn run(args: RunArgs, ctx: &Ctx) -> Result<ExitCode, Failure> {
    let args = match resolve(args, "run", ctx, |cli| match cli.command {
        crate::Command::Run(args) => Some(*args),
        _ => None,
    }) {
        Ok(args) => args,
        Err(ended) => return ended,
    };
    let opts = args.options(&mut log)?;
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

/// From here on TERM and INT stop the run cleanly (`opts.interrupt`) instead of killing us mid-way.
pub fn handle_signals(opts: &BootOptions) -> Result<(), Failure> {
    opts.interrupt
        .on_signals()
        .map_err(|e| Failure::usage(format!("cannot handle SIGTERM and SIGINT: {e}")))
}
