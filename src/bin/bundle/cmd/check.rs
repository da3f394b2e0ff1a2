//! `bundle check DIR`.

use std::path::PathBuf;
use std::process::ExitCode;

use startup_bundle::cli::Failure;
use startup_bundle::personality;

use super::{Ctx, LibraryFlags, done, println};

/// `check`'s flags.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The personality folder
    pub dir: PathBuf,
    /// Where library modules come from.
    #[command(flatten)]
    pub library: LibraryFlags,
}

impl CheckArgs {
    /// Loads the personality and lists every problem, or its run order.
    pub fn run(self, _ctx: &Ctx) -> Result<ExitCode, Failure> {
        let found = personality::load(&self.dir, &self.library.libraries())?;
        let names: Vec<&str> = found.modules.iter().map(|m| m.name.as_str()).collect();
        println(&format!(
            "{} {}: ok, {} modules in run order: {}",
            found.name,
            found.version,
            names.len(),
            names.join(", ")
        ))?;
        done()
    }
}
