//! `bundle userdata URL`.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use startup_bundle::arch::{Arch, ELF_HEADER_NEEDED};
use startup_bundle::cli::{CipherFlags, Dur, EnvVar, Failure, Sha256Hex};
use startup_bundle::secret::{self, PassSpec, Prompt};
use startup_bundle::state::DEFAULT_STATE_DIR;
use startup_bundle::userdata::{self, BootstrapPin, PassFrom, Units};

use super::{Ctx, done, print};

/// Where `bundle-bootstrap` is installed on the instance, unless told.
const DEFAULT_INSTALL_DIR: &str = "/usr/local/bin";

/// `userdata`'s flags.
#[derive(Debug, clap::Args)]
pub struct UserdataArgs {
    /// The bundle's URL
    pub url: String,
    /// Where the instance gets the passphrase: ssm:NAME (SSM Parameter Store), secretsmanager:ID
    /// (Secrets Manager), file:PATH (baked into the image) or inline
    #[arg(long, value_name = "SOURCE")]
    pub pass_from: String,
    /// Allow --pass-from inline (user-data is readable by every process on the instance)
    #[arg(long)]
    pub allow_inline_passphrase: bool,
    /// With --pass-from inline: where to read the passphrase now [default: $BUNDLE_PASSPHRASE]
    #[arg(long, value_name = "SPEC")]
    pub pass: Option<PassSpec>,
    /// Where the instance downloads bundle-bootstrap from; {arch} in it becomes the instance's
    /// architecture, x86_64 or aarch64 (…/bundle-bootstrap-{arch})
    #[arg(long, value_name = "URL", conflicts_with = "shell_only")]
    pub bootstrap_url: Option<String>,
    /// The sha256 bundle-bootstrap must have, or the script stops before running anything:
    /// ARCH=HEX once per architecture with {arch} in the URL, else HEX (repeatable)
    #[arg(long, value_name = "[ARCH=]HEX", conflicts_with = "shell_only")]
    pub bootstrap_sha256: Vec<BootstrapPin>,
    /// The bundle-bootstrap build the instance will download: its sha256 is pinned for the
    /// architecture its ELF header names (repeatable, one per architecture)
    #[arg(long, value_name = "PATH", conflicts_with = "shell_only")]
    pub bootstrap_file: Vec<PathBuf>,
    /// Render a script that needs only curl, openssl, tar and python (no bundle-bootstrap)
    #[arg(long)]
    pub shell_only: bool,
    /// Pin the bundle file's sha256
    #[arg(long, value_name = "HEX", conflicts_with = "bundle")]
    pub sha256: Option<Sha256Hex>,
    /// Pin the sha256 of this bundle file (computed now)
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
    /// How the bundle was encrypted.
    #[command(flatten)]
    pub cipher: CipherFlags,
    /// State folder on the instance
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: String,
    /// Where bundle-bootstrap is installed on the instance
    #[arg(long, value_name = "DIR", default_value = DEFAULT_INSTALL_DIR)]
    pub install_dir: String,
    /// Log file on the instance (besides the console)
    #[arg(long, value_name = "PATH", default_value = userdata::DEFAULT_LOG_FILE)]
    pub log_file: String,
    /// KEY=VALUE for every module's environment (repeatable)
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<EnvVar>,
    /// Do not install the systemd units after the first successful run (then nothing applies
    /// the bundle at later boots)
    #[arg(long, conflicts_with = "watch")]
    pub no_units: bool,
    /// Also install startup-bundle-watch.service, which polls this often (e.g. 5m) and applies a new
    /// release
    #[arg(long, value_name = "DUR", conflicts_with = "shell_only")]
    pub watch: Option<Dur>,
    /// Extra flags for `bundle-bootstrap run` (e.g. --module-timeout 1h), after `--`
    #[arg(last = true, value_name = "FLAGS")]
    pub extra: Vec<String>,
}

impl UserdataArgs {
    /// Prints the script.
    pub fn run(self, _ctx: &Ctx) -> Result<ExitCode, Failure> {
        let params = self.cipher.params()?;
        let pass_from = match self.pass_from.split_once(':') {
            Some(("ssm", name)) if !name.is_empty() => PassFrom::Ssm(name.to_string()),
            Some(("secretsmanager", id)) if !id.is_empty() => {
                PassFrom::SecretsManager(id.to_string())
            }
            Some(("file", path)) if !path.is_empty() => PassFrom::File(PathBuf::from(path)),
            None if self.pass_from == "inline" => {
                if !self.allow_inline_passphrase {
                    return Err(Failure::usage(
                        "--pass-from inline writes the passphrase into user-data, which every process on the instance can read \
                         through the metadata service; use ssm:NAME, secretsmanager:ID or file:PATH, or add --allow-inline-passphrase",
                    ));
                }
                let p = secret::read_passphrase(self.pass.as_ref(), Prompt::Once)?;
                PassFrom::Inline(zeroize::Zeroizing::new(
                    String::from_utf8_lossy(p.expose()).into_owned(),
                ))
            }
            _ => {
                return Err(Failure::usage(
                    "--pass-from takes ssm:NAME, secretsmanager:ID, file:PATH or inline",
                ));
            }
        };
        let sha256 = match (self.sha256, &self.bundle) {
            (Some(hex), _) => Some(hex.to_string()),
            (None, Some(file)) => Some(
                startup_bundle::hashing::file_sha256(file)
                    .map_err(|e| Failure::usage(format!("cannot read {}: {e}", file.display())))?
                    .0,
            ),
            (None, None) => None,
        };
        let mut bootstrap_pins = self.bootstrap_sha256;
        for file in &self.bootstrap_file {
            bootstrap_pins.push(file_pin(file)?);
        }
        let opts = userdata::UserdataOptions {
            url: self.url,
            variant: if self.shell_only {
                userdata::Variant::ShellOnly
            } else {
                userdata::Variant::Bootstrap
            },
            bootstrap_url: self.bootstrap_url,
            bootstrap_pins,
            pass_from,
            params,
            sha256,
            state_dir: self.state_dir,
            install_dir: self.install_dir,
            log_file: self.log_file,
            env: self.env.iter().map(EnvVar::pair).collect(),
            extra_args: self.extra,
            units: match (self.no_units || self.shell_only, self.watch) {
                (true, _) => Units::Skip,
                (false, None) => Units::Boot,
                (false, Some(every)) => Units::BootAndWatch(every.0),
            },
        };
        print(&userdata::render(&opts)?)?;
        done()
    }
}

/// The pin for a `--bootstrap-file`: its architecture from its ELF header, and its sha256.
fn file_pin(path: &Path) -> Result<BootstrapPin, Failure> {
    let cannot = |e: std::io::Error| {
        Failure::usage(format!(
            "--bootstrap-file {}: cannot read it: {e}",
            path.display()
        ))
    };
    let mut header = Vec::with_capacity(ELF_HEADER_NEEDED);
    std::fs::File::open(path)
        .map_err(cannot)?
        .take(ELF_HEADER_NEEDED as u64)
        .read_to_end(&mut header)
        .map_err(cannot)?;
    let arch = Arch::from_elf_header(&header).map_err(|why| {
        Failure::usage(format!(
            "--bootstrap-file {}: {why}; give a bundle-bootstrap build for x86_64 or aarch64",
            path.display()
        ))
    })?;
    let (hex, _) = startup_bundle::hashing::file_sha256(path).map_err(cannot)?;
    let sha256 = hex
        .parse()
        .map_err(|e: String| Failure::usage(format!("--bootstrap-file {}: {e}", path.display())))?;
    Ok(BootstrapPin {
        arch: Some(arch),
        sha256,
    })
}
