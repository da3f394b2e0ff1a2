//! `bundle-bootstrap status`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use super::Ctx;
use startup_bundle::boot::status;
use startup_bundle::cli::{Dur, Failure};

/// `status`'s flags.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The state folder [default: the saved configuration's, else /var/lib/startup-bundle]
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
    /// Wait until the run in progress ends (like `cloud-init status --wait`), then show it
    #[arg(long)]
    pub wait: bool,
    /// Give up waiting after this long (exit 6: still running) [default: no limit]
    #[arg(long, value_name = "DUR", requires = "wait")]
    pub timeout: Option<Dur>,
}

impl StatusArgs {
    /// Prints the last run; exits 0 only when it succeeded (see `boot::status` for the codes).
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode, Failure> {
        let state_dir = match self.state_dir {
            Some(dir) => dir,
            None => ctx.state_dir()?,
        };
        let last = if self.wait {
            status::wait(&state_dir, self.timeout.map(|d| d.0))?
        } else {
            status::read(&state_dir)?
        };
        let text = if self.json {
            let mut json = serde_json::to_string_pretty(&last)
                .map_err(|e| Failure::usage(format!("cannot print the status: {e}")))?;
            json.push('\n');
            json
        } else {
            status::render(&last)
        };
        std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(Failure::output)?;
        Ok(ExitCode::from(status::exit_code(&last)))
    }
}
