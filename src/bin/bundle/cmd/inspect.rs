//! `bundle inspect FILE`.

use std::path::PathBuf;
use std::process::ExitCode;

use startup_bundle::cli::Failure;
use startup_bundle::inspect;

use super::unpack::OpenFlags;
use super::{Ctx, done, println};

/// `inspect`'s flags.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The bundle file
    pub file: PathBuf,
    /// How to open it.
    #[command(flatten)]
    pub open: OpenFlags,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

impl InspectArgs {
    /// Prints the bundle's manifest and run order.
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode, Failure> {
        let (params, passphrase, limits) = self.open.open(ctx)?;
        let report = inspect::inspect(&self.file, &passphrase, &params, &limits)?;
        println(&if self.json {
            report.to_json()
        } else {
            report.to_text()
        })?;
        done()
    }
}
