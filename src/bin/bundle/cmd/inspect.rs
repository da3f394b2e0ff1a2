//! `bundle inspect FILE|URL|POINTER`.

use std::path::Path;
use std::process::ExitCode;

use startup_bundle::cli::Failure;
use startup_bundle::inspect;
use startup_bundle::remote::{self, Signature};

use super::unpack::OpenFlags;
use super::verify::RemoteFlags;
use super::{Ctx, done, println};

/// `inspect`'s flags.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The bundle: a file, an http(s)://, file:// or s3:// URL, or a release pointer (NAME.latest)
    pub file: String,
    /// How to open it.
    #[command(flatten)]
    pub open: OpenFlags,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
    /// How to reach a URL.
    #[command(flatten)]
    pub remote: RemoteFlags,
}

impl InspectArgs {
    /// Prints the bundle's manifest and run order.
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode, Failure> {
        let (mut params, passphrase, limits) = self.open.open(ctx)?;
        let report = if remote::is_remote(&self.file) {
            let located = self.remote.locate(ctx, &self.file, Signature::Skip)?;
            if let Some(facts) = &located.pointer {
                // A pointer carries the parameters it was signed with: flags given win.
                if !self.open.decrypt.cipher.given() {
                    params = facts.params;
                }
                ctx.say(&format!(
                    "the pointer is not verified here: `bundle verify {} --pubkey KEY` checks it",
                    startup_bundle::fetch::redact(&self.file)
                ));
            }
            inspect::inspect_named(
                &located.file,
                &passphrase,
                &params,
                &limits,
                &located.file_name,
            )?
        } else {
            inspect::inspect(Path::new(&self.file), &passphrase, &params, &limits)?
        };
        println(&if self.json {
            report.to_json()
        } else {
            report.to_text()
        })?;
        done()
    }
}
