//! `bundle try DIR`.

use std::path::PathBuf;
use std::process::ExitCode;

use startup_bundle::cli::{CipherFlags, Dur, EnvVar, Failure};
use startup_bundle::enc::{Cipher, Digest};
use startup_bundle::{runner, trial};

use super::{Ctx, LibraryFlags};

/// `try`'s flags.
#[derive(Debug, clap::Args)]
pub struct TryArgs {
    /// The personality folder
    pub dir: PathBuf,
    /// Keep the scratch state folder (logs, unpacked release) and print where it is
    #[arg(long)]
    pub keep: bool,
    /// KEY=VALUE for every module's environment (repeatable)
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<EnvVar>,
    /// PBKDF2 iterations of the throwaway bundle [default: 600000]
    #[arg(long, value_name = "N")]
    pub iter: Option<u32>,
    /// Time one script may run
    #[arg(long, value_name = "DUR", default_value_t = Dur(runner::DEFAULT_MODULE_TIMEOUT))]
    pub module_timeout: Dur,
    /// Where library modules come from.
    #[command(flatten)]
    pub library: LibraryFlags,
}

impl TryArgs {
    /// Packs, serves and boots the personality; ends with the bootstrap's own exit status.
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode, Failure> {
        let params = CipherFlags {
            cipher: Cipher::default(),
            iter: self.iter,
            md: Digest::default(),
            legacy_kdf: false,
        }
        .params()?;
        let opts = trial::TryOptions {
            libraries: self.library.libraries(),
            params,
            env: self.env.iter().map(EnvVar::pair).collect(),
            bootstrap_args: vec![
                "--module-timeout".to_string(),
                self.module_timeout.to_string(),
            ],
            keep: if self.keep {
                trial::Keep::Keep
            } else {
                trial::Keep::Remove
            },
            bootstrap: trial::find_bootstrap(),
            dir: self.dir,
        };
        let outcome =
            trial::try_personality(&opts, &mut |line| eprintln!("{} try: {line}", ctx.program))?;
        if let Some(kept) = &outcome.kept {
            eprintln!(
                "{} try: kept the scratch folder {} (state in state/)",
                ctx.program,
                kept.display()
            );
        }
        match outcome.code {
            Some(code) => Ok(ExitCode::from(u8::try_from(code).unwrap_or(1))),
            None => Err(Failure::usage("bundle-bootstrap was killed by a signal")),
        }
    }
}
