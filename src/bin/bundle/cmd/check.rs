//! `bundle check DIR`.

use std::path::PathBuf;
use std::process::ExitCode;

use startup_bundle::cli::Failure;
use startup_bundle::personality::{self, Libraries};

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
    /// Loads the personality and lists every problem, or its run order and where each module
    /// comes from; warnings go to stderr either way.
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode, Failure> {
        let libraries = Libraries::with_builtin(self.library.libraries());
        let found = personality::load(&self.dir, &libraries)?;
        for warning in &found.warnings {
            ctx.say(&format!("warning: {warning}"));
        }
        let names: Vec<&str> = found.modules.iter().map(|m| m.name.as_str()).collect();
        let mut out = format!(
            "{} {}: ok, {} modules in run order: {}",
            found.name,
            found.version,
            names.len(),
            names.join(", ")
        );
        let width = found
            .modules
            .iter()
            .map(|m| m.name.len())
            .chain(found.data.iter().map(|d| d.name.len()))
            .max()
            .unwrap_or(0);
        for m in &found.modules {
            out.push_str(&format!("\n  {:<width$}  {}", m.name, m.origin.describe()));
        }
        for d in &found.data {
            out.push_str(&format!(
                "\n  {:<width$}  data folder, {}",
                d.name,
                d.origin.describe()
            ));
        }
        let settings = found.env.len()
            + found
                .modules
                .iter()
                .map(|m| m.meta.env.len())
                .sum::<usize>();
        if settings > 0 {
            let noun = if settings == 1 { "setting" } else { "settings" };
            out.push_str(&format!(
                "\n{settings} {noun} ([env]); --env at boot overrides them"
            ));
        }
        println(&out)?;
        done()
    }
}
