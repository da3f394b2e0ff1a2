//! EC2 user-data scripts, rendered from options: string in, string out. Runs nothing, reads nothing.
//!
//! Two variants. The default ([`bootstrap`]) downloads `bundle-bootstrap` for the instance's
//! architecture, refuses to run it unless its sha256 is the pinned one, and runs it with every flag
//! the bundle needs — the passphrase source included (`--pass ssm:NAME`, `secretsmanager:ID`,
//! `file:PATH`): `bundle-bootstrap` reads it itself, so no `aws` CLI is needed and no passphrase
//! sits in the script's environment. `--shell-only` ([`shell_only`]) needs no binary, only `curl`,
//! `openssl`, `tar` and the Python cloud-init itself runs on (and the `aws` CLI for an `ssm:` or
//! `secretsmanager:` passphrase): the seed article's five lines done right (strict mode, retries,
//! pbkdf2, sha256 pin, order from `bundle.json`, init once, fail loudly).
//!
//! Renders only what will work: the `bundle-bootstrap run` line is checked with that program's own
//! parser ([`crate::cli::check_run_line`]), pins must be sha256s, and `--shell-only` refuses what it
//! cannot do. EC2 refuses user-data over 16 KiB, so a larger script is an error here rather than at
//! launch.

use std::fmt::Write as _;
use std::path::PathBuf;

use zeroize::Zeroizing;

use crate::enc::{Kdf, Params};
use crate::exit::{Classify, Exit};
use crate::shell::quote as q;

mod bootstrap;
mod pins;
mod shell_only;
mod units;
pub use pins::{ARCH_PLACEHOLDER, BootstrapPin};
pub use units::Units;

/// Where the user-data script logs on the instance (besides the console), unless told.
pub const DEFAULT_LOG_FILE: &str = "/var/log/startup-bundle.log";

/// EC2's limit on user-data, in bytes (before base64).
pub const EC2_USERDATA_LIMIT: usize = 16_384;

/// Where the instance gets the passphrase.
#[derive(Clone, PartialEq, Eq)]
pub enum PassFrom {
    /// An SSM SecureString parameter, fetched at boot with the instance role.
    Ssm(String),
    /// A Secrets Manager secret's SecretString, fetched at boot with the instance role.
    SecretsManager(String),
    /// A file baked into the image (first line).
    File(PathBuf),
    /// Written into the user-data itself (readable by every process through the metadata service).
    Inline(Zeroizing<String>),
}

impl std::fmt::Debug for PassFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PassFrom::Ssm(name) => write!(f, "ssm:{name}"),
            PassFrom::SecretsManager(id) => write!(f, "secretsmanager:{id}"),
            PassFrom::File(path) => write!(f, "file:{}", path.display()),
            PassFrom::Inline(_) => f.write_str("inline"),
        }
    }
}

/// Which script to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Download and run `bundle-bootstrap`.
    Bootstrap,
    /// Only curl, openssl and tar.
    ShellOnly,
}

/// Everything a user-data script needs.
#[derive(Debug, Clone)]
pub struct UserdataOptions {
    /// The bundle's URL.
    pub url: String,
    /// Which script.
    pub variant: Variant,
    /// Where `bundle-bootstrap` is downloaded from (Bootstrap variant); `{arch}` in it becomes the
    /// instance's architecture.
    pub bootstrap_url: Option<String>,
    /// Its pinned sha256s, one per architecture or one for all (Bootstrap variant).
    pub bootstrap_pins: Vec<BootstrapPin>,
    /// The passphrase source at boot.
    pub pass_from: PassFrom,
    /// How the bundle was encrypted.
    pub params: Params,
    /// The bundle file's sha256, pinned.
    pub sha256: Option<String>,
    /// The state folder on the instance.
    pub state_dir: String,
    /// Where `bundle-bootstrap` is installed.
    pub install_dir: String,
    /// The log file the script appends to (besides the console).
    pub log_file: String,
    /// `--env` pairs for the modules.
    pub env: Vec<(String, String)>,
    /// Extra `bundle-bootstrap run` flags, passed as they are once its parser accepts them.
    pub extra_args: Vec<String>,
    /// Whether the script installs the systemd units after the first successful run.
    pub units: Units,
}

/// Why no script was rendered.
#[derive(Debug, thiserror::Error)]
pub enum UserdataError {
    /// A required option is missing.
    #[error("{0}")]
    Missing(String),
    /// The script is larger than EC2 accepts.
    #[error("the user-data is {0} bytes; EC2 accepts at most {EC2_USERDATA_LIMIT}")]
    TooLarge(usize),
    /// No sha256 for the `bundle-bootstrap` the instance downloads.
    #[error("--bootstrap-sha256 is required: the instance must refuse a swapped bundle-bootstrap")]
    NoBootstrapPin,
    /// Pins that cannot work with the bootstrap URL.
    #[error("{0}")]
    Pins(String),
    /// A value that is not a sha256.
    #[error("{0}")]
    NotSha256(String),
    /// The `bundle-bootstrap run` line would not parse on the instance.
    #[error("{0}")]
    RunFlags(String),
    /// Something `--shell-only` cannot do.
    #[error("{0}")]
    ShellOnly(String),
}

impl Classify for UserdataError {
    fn exit(&self) -> Exit {
        Exit::Usage
    }

    fn hint(&self) -> Option<String> {
        match self {
            UserdataError::TooLarge(_) => Some(
                "move --env values into the bundle itself (the [env] table of bundle.toml)".into(),
            ),
            UserdataError::NoBootstrapPin => Some(
"pin the file you upload: --bootstrap-sha256 with the HEX `sha256sum bundle-bootstrap` \
                 prints, or --bootstrap-file PATH, which computes it (repeatable: one file per \
                 architecture, with {arch} in --bootstrap-url)"
                    .into(),
            ),
            UserdataError::RunFlags(_) => Some(
                "the flags after -- are bundle-bootstrap run's (bundle-bootstrap run --help lists them)"
                    .into(),
            ),
            UserdataError::ShellOnly(_) => Some(
                "drop --shell-only: the default user-data runs bundle-bootstrap, which does all of it"
                    .into(),
            ),
            UserdataError::Missing(_)
            | UserdataError::Pins(_)
            | UserdataError::NotSha256(_) => None,
        }
    }
}

/// Renders the user-data script, or refuses what would fail on the instance.
pub fn render(o: &UserdataOptions) -> Result<String, UserdataError> {
    if let Some(sha) = &o.sha256 {
        sha.parse::<crate::cli::Sha256Hex>()
            .map_err(|e| UserdataError::NotSha256(format!("--sha256: {e}")))?;
    }
    if o.variant == Variant::ShellOnly {
        shell_only::refuse_what_it_cannot_do(o)?;
    }
    let mut s = String::new();
    header(&mut s, o);
    match o.variant {
        Variant::Bootstrap => bootstrap::body(&mut s, o)?,
        Variant::ShellOnly => shell_only::body(&mut s, o),
    }
    if s.len() > EC2_USERDATA_LIMIT {
        return Err(UserdataError::TooLarge(s.len()));
    }
    Ok(s)
}

fn header(s: &mut String, o: &UserdataOptions) {
    let what = match o.variant {
        Variant::Bootstrap => {
            "downloads bundle-bootstrap (sha256-pinned) and runs the bundle with it"
        }
        Variant::ShellOnly if needs_aws_cli(o) => {
            "needs curl, openssl, tar, python and the aws CLI (for the passphrase)"
        }
        Variant::ShellOnly => "needs only curl, openssl, tar and python (cloud-init's)",
    };
    let _ = writeln!(s, "#!/bin/bash");
    let _ = writeln!(
        s,
        "# startup-bundle user-data, made by `bundle userdata`: {what}."
    );
    let _ = writeln!(s, "set -euo pipefail");
    let _ = writeln!(s, "umask 077");
    let _ = writeln!(s, "LOG={}", q(&o.log_file));
    let _ = writeln!(s, "mkdir -p \"$(dirname \"$LOG\")\"");
    let _ = writeln!(
        s,
        "# Everything to the console (cloud-init copies it to the EC2 console log) and to $LOG."
    );
    let _ = writeln!(s, "exec > >(tee -a \"$LOG\") 2>&1");
    let _ = writeln!(s, "say() {{ echo \"startup-bundle: $*\"; }}");
    if o.variant == Variant::Bootstrap {
        bootstrap::summary_last(s);
    } else {
        let _ = writeln!(
            s,
            "trap 'say \"FAILED at line $LINENO (exit $?); see $LOG\"' ERR"
        );
    }
    let _ = writeln!(s, "STATE={}", q(&o.state_dir));
    let _ = writeln!(s, "BUNDLE_URL={}", q(&o.url));
    let _ = writeln!(s, "mkdir -p \"$STATE\"");
    let _ = writeln!(
        s,
        "fetch() {{ curl -fsSL --connect-timeout 10 --retry 12 --retry-all-errors --retry-connrefused --retry-max-time 300 -o \"$2\" \"$1\"; }}"
    );
    let _ = writeln!(s, "sha256_is() {{");
    let _ = writeln!(s, "  local actual");
    let _ = writeln!(s, "  actual=$(sha256sum \"$1\" | cut -d' ' -f1)");
    let _ = writeln!(
        s,
        "  [ \"$actual\" = \"$2\" ] || {{ say \"$1 has sha256 $actual, not the pinned $2: refusing it\"; return 1; }}"
    );
    let _ = writeln!(s, "}}");
    // bundle-bootstrap reads every source but an inline passphrase itself (`--pass`).
    if o.variant == Variant::ShellOnly || matches!(o.pass_from, PassFrom::Inline(_)) {
        passphrase(s, o);
    }
}

/// True for a shell-only script that reads the passphrase with the `aws` CLI.
fn needs_aws_cli(o: &UserdataOptions) -> bool {
    o.variant == Variant::ShellOnly
        && matches!(o.pass_from, PassFrom::Ssm(_) | PassFrom::SecretsManager(_))
}

fn passphrase(s: &mut String, o: &UserdataOptions) {
    if needs_aws_cli(o) {
        let _ = writeln!(
            s,
            "command -v aws >/dev/null || {{ say {}; exit 1; }}",
            q(&format!(
                "--pass-from {:?} in a --shell-only script needs the aws CLI, and this image has \
                 none (Debian and Ubuntu images do not): install it first, or use the default \
                 user-data, where bundle-bootstrap reads the passphrase itself",
                o.pass_from
            ))
        );
    }
    match &o.pass_from {
        PassFrom::Ssm(_) | PassFrom::SecretsManager(_) => {
            let _ = writeln!(
                s,
                "# The passphrase: read with the aws CLI and the instance role (never in this script)."
            );
            let _ = writeln!(s, "if [ -z \"${{AWS_DEFAULT_REGION:-}}\" ]; then");
            let _ = writeln!(
                s,
                "  IMDS_TOKEN=$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)"
            );
            let _ = writeln!(
                s,
                "  AWS_DEFAULT_REGION=$(curl -fsS -H \"X-aws-ec2-metadata-token: $IMDS_TOKEN\" http://169.254.169.254/latest/meta-data/placement/region)"
            );
            let _ = writeln!(s, "  export AWS_DEFAULT_REGION");
            let _ = writeln!(s, "fi");
            let read = match &o.pass_from {
                PassFrom::Ssm(name) => format!(
                    "aws ssm get-parameter --name {} --with-decryption --query Parameter.Value --output text",
                    q(name)
                ),
                PassFrom::SecretsManager(id) => format!(
                    "aws secretsmanager get-secret-value --secret-id {} --query SecretString --output text",
                    q(id)
                ),
                _ => String::new(),
            };
            let _ = writeln!(s, "BUNDLE_PASSPHRASE=$({read})");
            let _ = writeln!(s, "export BUNDLE_PASSPHRASE");
        }
        PassFrom::File(path) => {
            let _ = writeln!(
                s,
                "# The passphrase: the first line of a file baked into the image."
            );
            let _ = writeln!(
                s,
                "IFS= read -r BUNDLE_PASSPHRASE < {} || true",
                q(&path.to_string_lossy())
            );
            let _ = writeln!(s, "export BUNDLE_PASSPHRASE");
        }
        PassFrom::Inline(text) => {
            let _ = writeln!(
                s,
                "# WARNING: an inline passphrase. User-data is readable by every process on this instance"
            );
            let _ = writeln!(
                s,
                "# through the metadata service (http://169.254.169.254/latest/user-data); prefer ssm: or file:."
            );
            let _ = writeln!(s, "export BUNDLE_PASSPHRASE={}", q(text));
        }
    }
    let missing = q(&format!("no passphrase from {:?}", o.pass_from));
    let _ = writeln!(
        s,
        "[ -n \"$BUNDLE_PASSPHRASE\" ] || {{ say {missing}; exit 1; }}"
    );
}

/// `bundle-bootstrap run`'s flags for `params`, unquoted.
fn decrypt_flags(params: &Params) -> Vec<String> {
    let mut flags = vec![
        "--cipher".to_string(),
        params.cipher.to_string(),
        "--md".to_string(),
        params.digest.to_string(),
    ];
    match params.kdf {
        Kdf::Pbkdf2 { iterations } => flags.extend(["--iter".to_string(), iterations.to_string()]),
        Kdf::Legacy => flags.push("--legacy-kdf".to_string()),
    }
    flags
}
