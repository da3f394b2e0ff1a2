//! `bundle unpack FILE -C DIR`, and what every command that opens a bundle shares.

use std::path::PathBuf;
use std::process::ExitCode;

use startup_bundle::archive::Limits;
use startup_bundle::cli::{DecryptFlags, Failure, Size};
use startup_bundle::enc::Params;
use startup_bundle::secret::{self, Passphrase, Prompt};

use super::{Ctx, Progress, done, println};

/// What every command that opens a bundle takes.
#[derive(Debug, clap::Args)]
pub struct OpenFlags {
    /// How to decrypt.
    #[command(flatten)]
    pub decrypt: DecryptFlags,
    /// Refuse bundles that unpack to more than this
    #[arg(long, value_name = "SIZE", default_value_t = Size(Limits::default().max_bytes))]
    pub max_unpacked: Size,
}

impl OpenFlags {
    /// Parameters, the passphrase and the unpack caps; warns on `--pass pass:`.
    pub fn open(&self, ctx: &Ctx) -> Result<(Params, Passphrase, Limits), Failure> {
        let params = self.decrypt.params()?;
        if let Some(warning) = self.decrypt.literal_warning() {
            ctx.say(warning);
        }
        let passphrase = secret::read_passphrase(self.decrypt.pass.as_ref(), Prompt::Once)?;
        let limits = Limits {
            max_bytes: self.max_unpacked.0,
            ..Limits::default()
        };
        Ok((params, passphrase, limits))
    }
}

/// `unpack`'s flags.
#[derive(Debug, clap::Args)]
pub struct UnpackArgs {
    /// The bundle file
    pub file: PathBuf,
    /// The folder to unpack into (created if missing)
    #[arg(short = 'C', long = "directory", value_name = "DIR")]
    pub dir: PathBuf,
    /// How to open it.
    #[command(flatten)]
    pub open: OpenFlags,
}

impl UnpackArgs {
    /// Unpacks into DIR and lists what was placed there.
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode, Failure> {
        let (params, passphrase, limits) = self.open.open(ctx)?;
        let progress = Progress::start("unpacking");
        let result = startup_bundle::unpack::unpack_into(
            &self.file,
            &passphrase,
            &params,
            &self.dir,
            &limits,
            &|n| progress.set(n),
        );
        progress.done();
        for path in result? {
            println(&path.display().to_string())?;
        }
        done()
    }
}
