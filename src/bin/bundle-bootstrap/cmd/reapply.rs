//! `bundle-bootstrap rerun` and `bundle-bootstrap rollback [--to SHA|SEQ]`: apply a release kept on
//! this machine again, with the saved configuration (flags given win), without fetching.

use std::process::ExitCode;

use startup_bundle::boot::{self, Mode, Reapply};
use startup_bundle::cli::{Failure, RunArgs, report_to};

use super::{Ctx, log, log_version};

/// `rerun`'s flags: `run`'s (the saved configuration's), without a URL.
#[derive(Debug, clap::Args)]
pub struct RerunArgs {
    /// The flags of `run`, on top of the saved configuration.
    #[command(flatten)]
    pub run: RunArgs,
}

/// `rollback`'s flags.
#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// The release to go back to: a sha256 prefix (6+ hex digits) or a signed seq [default: the
    /// one applied before the current one]
    #[arg(long, value_name = "SHA|SEQ")]
    pub to: Option<String>,
    /// The flags of `run`, on top of the saved configuration.
    #[command(flatten)]
    pub run: RunArgs,
}

impl RerunArgs {
    /// Re-applies `current`.
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode, Failure> {
        apply(self.run, "rerun", ctx, &Reapply::Current)
    }
}

impl RollbackArgs {
    /// Applies an earlier kept release.
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode, Failure> {
        let which = Reapply::Rollback { to: self.to };
        apply(self.run, "rollback", ctx, &which)
    }
}

fn apply(args: RunArgs, sub: &str, ctx: &Ctx, which: &Reapply) -> Result<ExitCode, Failure> {
    log_version(sub, &args);
    if args.url.is_some() {
        return Err(Failure::usage(format!(
            "{sub} applies a release kept on this machine; to fetch one, use run URL"
        )));
    }
    if args.dry_run {
        return Err(Failure::usage(format!(
            "{sub} has no dry run: bundle-bootstrap status shows the kept releases"
        )));
    }
    let mut args = match ctx.saved()? {
        Some(_) => match ctx.with_saved(sub, false) {
            Ok(cli) => match cli.command {
                crate::Command::Rerun(a) => a.run,
                crate::Command::Rollback(a) => a.run,
                _ => return Err(Failure::usage("internal: unexpected subcommand")),
            },
            Err(ended) => return ended,
        },
        None => args,
    };
    // Nothing is fetched: the URL only names where the release came from in the status.
    args.url.get_or_insert_with(|| "(kept release)".to_string());
    let opts = args.options(&mut log)?;
    super::run::handle_signals(&opts)?;
    let result = boot::reapply(&opts, which, &mut log);
    let summary = boot::summary(&result, Mode::Run);
    let code = match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => report_to(&Failure::from(e), &mut log),
    };
    log(&summary);
    Ok(code)
}
