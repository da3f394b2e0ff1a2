//! `bundle pack DIR -o FILE`.

use std::path::PathBuf;
use std::process::ExitCode;

use startup_bundle::archive::Compression;
use startup_bundle::cli::{CipherFlags, Failure, LITERAL_PASS_WARNING};
use startup_bundle::enc::Armor;
use startup_bundle::fsutil::Overwrite;
use startup_bundle::pack::{self, PackRequest};
use startup_bundle::secret::{self, PASSPHRASE_VAR, PassSpec, Prompt, SHORT_PASSPHRASE};
use startup_bundle::size;

use super::sign::{SigningFlags, print_signed};
use super::{Ctx, LibraryFlags, Progress, done, println};

/// `pack`'s flags.
#[derive(Debug, clap::Args)]
pub struct PackArgs {
    /// The personality folder
    pub dir: PathBuf,
    /// The bundle file to write (not `-`: the file appears whole, and is signed)
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Passphrase source: pass:TEXT, env:VAR, file:PATH, fd:N or stdin [default: $BUNDLE_PASSPHRASE, else ask]
    #[arg(long, value_name = "SPEC")]
    pub pass: Option<PassSpec>,
    /// How to encrypt.
    #[command(flatten)]
    pub cipher: CipherFlags,
    /// Payload compression: gzip, zstd or none
    #[arg(long, value_name = "C", default_value_t = Compression::default())]
    pub compression: Compression,
    /// Write base64 text (`openssl enc -a`) instead of binary
    #[arg(long)]
    pub base64: bool,
    /// Replace FILE if it exists
    #[arg(long)]
    pub force: bool,
    /// Compression threads [default: all cores]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Where library modules come from.
    #[command(flatten)]
    pub library: LibraryFlags,
    /// Sign FILE with this minisign secret key: writes FILE.minisig
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// How to sign.
    #[command(flatten)]
    pub signing: SigningFlags,
}

impl PackArgs {
    /// Packs, encrypts and (with `--sign`) signs.
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode, Failure> {
        if self.output.as_os_str() == "-" {
            return Err(Failure::usage_hint(
                "-o - is refused: pack writes a file, whole or not at all, that can be signed",
                "give a file name, then `cat FILE` where a stream is needed",
            ));
        }
        let pass_arg = match &self.pass {
            // pass:TEXT is never printed: the line says where the passphrase had better come from.
            Some(spec) => Some(
                spec.openssl_arg()
                    .unwrap_or_else(|| format!("env:{PASSPHRASE_VAR}")),
            ),
            None if std::env::var_os(PASSPHRASE_VAR).is_some() => {
                Some(format!("env:{PASSPHRASE_VAR}"))
            }
            // Typed at the prompt: openssl asks too.
            None => None,
        };
        let req = PackRequest {
            pass_arg,
            libraries: self.library.libraries(),
            params: self.cipher.params()?,
            armor: if self.base64 {
                Armor::Base64
            } else {
                Armor::Binary
            },
            compression: self.compression,
            overwrite: Overwrite::from_force(self.force),
            threads: self.threads.unwrap_or_else(default_threads).max(1),
            dir: self.dir,
            output: self.output,
        };
        let signer = match &self.sign {
            Some(key) => Some(self.signing.open(ctx, key)?),
            None => None,
        };
        if self.pass.as_ref().is_some_and(PassSpec::is_literal) {
            ctx.say(LITERAL_PASS_WARNING);
        }
        let passphrase = secret::read_passphrase(self.pass.as_ref(), Prompt::Twice)?;
        if passphrase.is_short() {
            ctx.say(&format!(
                "warning: the passphrase is shorter than {SHORT_PASSPHRASE} characters; anyone who \
                 downloads the bundle can try passphrases offline: `bundle keygen --passphrase` \
                 makes a strong one"
            ));
        }
        let progress = Progress::start("packing");
        let with = signer.as_ref().map(|s| s.with());
        let result = pack::pack_signed_sized(
            &req,
            &passphrase,
            with.as_ref(),
            &|total| progress.set_total(total),
            &|n| progress.set(n),
        );
        progress.done();
        let packed = result?;
        for warning in &packed.warnings {
            ctx.say(&format!("warning: {warning}"));
        }
        let names: Vec<&str> = packed
            .manifest
            .modules
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        println(&format!(
            "packed {} {} ({} modules: {}) into {}: {}, sha256 {}",
            packed.manifest.name,
            packed.manifest.version,
            names.len(),
            names.join(", "),
            packed.output.display(),
            size::human(packed.size),
            packed.sha256
        ))?;
        println(&format!(
            "open it with stock tools:\n  {}",
            packed.open_command
        ))?;
        if let Some(signed) = &packed.signature {
            print_signed(signed)?;
        }
        done()
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
