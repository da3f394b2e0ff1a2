//! `bundle-bootstrap status`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use startup_bundle::boot::status;
use startup_bundle::cli::Failure;
use startup_bundle::state::DEFAULT_STATE_DIR;

/// `status`'s flags.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The state folder
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

impl StatusArgs {
    /// Prints the last run; exits 0 only when it succeeded (see `boot::status` for the codes).
    pub fn run(self) -> Result<ExitCode, Failure> {
        let last = status::read(&self.state_dir)?;
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
