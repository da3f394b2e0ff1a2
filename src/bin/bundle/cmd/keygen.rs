//! `bundle keygen` (a minisign key pair) and `bundle keygen --passphrase`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use startup_bundle::cli::Failure;
use startup_bundle::fsutil::{NewFile, Overwrite, PRIVATE_FILE_MODE};
use startup_bundle::secret::{self, PassSpec, Prompt};
use startup_bundle::sign::{self, KeyFiles, KeyProtection};

use super::sign::DEFAULT_SECRET_KEY;
use super::{Ctx, done, println};

/// Where `bundle keygen` writes the public key, unless told.
const DEFAULT_PUBLIC_KEY: &str = "bundle.pub";

/// `keygen`'s flags.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// Print a new random 256-bit passphrase instead of making a key pair
    #[arg(long, conflicts_with_all = ["key_pass", "unencrypted"])]
    pub passphrase: bool,
    /// With --passphrase: write it to FILE (mode 0600) instead of stdout (`-`: stdout)
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The public key file to write
    #[arg(short = 'p', long, value_name = "FILE", default_value = DEFAULT_PUBLIC_KEY)]
    pub public_key: PathBuf,
    /// The secret key file to write (mode 0600)
    #[arg(short = 's', long, value_name = "FILE", default_value = DEFAULT_SECRET_KEY)]
    pub secret_key: PathBuf,
    /// Password source for the secret key: pass:TEXT, env:VAR, file:PATH, fd:N or stdin [default: ask twice]
    #[arg(long, value_name = "SPEC")]
    pub key_pass: Option<PassSpec>,
    /// Leave the secret key without a password (anyone who can read it can sign)
    #[arg(long, conflicts_with = "key_pass")]
    pub unencrypted: bool,
    /// Replace existing files
    #[arg(long)]
    pub force: bool,
}

impl KeygenArgs {
    /// Makes a key pair, or prints a passphrase.
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode, Failure> {
        if self.passphrase {
            let p = secret::generate_passphrase()
                .map_err(|e| Failure::usage(format!("the system's random source failed: {e}")))?;
            match self.output.filter(|o| o.as_os_str() != "-") {
                None => println(p.as_str())?,
                Some(path) => {
                    write_private(&path, p.as_bytes(), Overwrite::from_force(self.force))?;
                    ctx.say(&format!(
                        "wrote a new passphrase to {} (mode 0600): use --pass file:{0}",
                        path.display()
                    ));
                }
            }
            return done();
        }
        if self.output.is_some() {
            return Err(Failure::usage_hint(
                "-o is for --passphrase",
                "a key pair goes to -p FILE and -s FILE",
            ));
        }
        for (flag, path) in [("-p", &self.public_key), ("-s", &self.secret_key)] {
            if path.as_os_str() == "-" {
                return Err(Failure::usage(format!(
                    "{flag} - is refused: a key is written to a file"
                )));
            }
        }
        let files = KeyFiles {
            public: self.public_key,
            secret: self.secret_key,
        };
        let protection = if self.unencrypted {
            KeyProtection::Unencrypted
        } else {
            if self.key_pass.is_none() {
                ctx.say(&format!(
                    "choose a password for the new secret key {}:",
                    files.secret.display()
                ));
            }
            KeyProtection::Password(sign::create::key_password(
                self.key_pass.as_ref(),
                Prompt::Twice,
            )?)
        };
        let key = sign::create::keygen(&files, protection, Overwrite::from_force(self.force))?;
        println(&key.public_key)?;
        ctx.say(&format!(
            "wrote key {} to {} (secret: keep it) and {} (public)",
            key.key_id,
            files.secret.display(),
            files.public.display()
        ));
        ctx.say(&format!(
            "boot with: bundle-bootstrap run URL --pubkey {}",
            key.public_key
        ));
        done()
    }
}

/// Writes `bytes` and a newline to a new file only its owner reads, whole or not at all.
fn write_private(path: &Path, bytes: &[u8], overwrite: Overwrite) -> Result<(), Failure> {
    let failed = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Failure::usage_hint(
                format!("{} already exists", path.display()),
                "pass --force to replace it, or choose another -o",
            )
        } else {
            Failure::usage(format!("cannot write {}: {e}", path.display()))
        }
    };
    let mut file = NewFile::create(path, PRIVATE_FILE_MODE).map_err(failed)?;
    file.write_all(bytes)
        .and_then(|()| file.write_all(b"\n"))
        .map_err(failed)?;
    file.place(overwrite).map_err(failed)
}
