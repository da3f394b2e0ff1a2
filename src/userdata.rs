//! EC2 user-data scripts, rendered from options: string in, string out. Runs nothing, reads nothing.
//!
//! Two variants. The default downloads `bundle-bootstrap`, refuses to run it unless its sha256 is the
//! pinned one, and runs it with every flag the bundle needs — the passphrase source included
//! (`--pass ssm:NAME`, `secretsmanager:ID`, `file:PATH`): `bundle-bootstrap` reads it itself, so no
//! `aws` CLI is needed and no passphrase sits in the script's environment. `--shell-only` needs no
//! binary, only `curl`, `openssl` and `tar` on a stock image (and the `aws` CLI for an `ssm:` or
//! `secretsmanager:` passphrase): the seed article's five lines done right (strict mode, retries,
//! pbkdf2, sha256 pin, order from `bundle.json`, init once, fail loudly).
//!
//! EC2 refuses user-data over 16 KiB, so a larger script is an error here rather than at launch.

use std::fmt::Write as _;
use std::path::PathBuf;

use zeroize::Zeroizing;

use crate::enc::{Kdf, Params};
use crate::exit::{Classify, Exit};
use crate::shell::quote as q;

mod units;
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
    /// Where `bundle-bootstrap` is downloaded from (Bootstrap variant).
    pub bootstrap_url: Option<String>,
    /// Its pinned sha256 (Bootstrap variant).
    pub bootstrap_sha256: Option<String>,
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
    /// Extra `bundle-bootstrap run` flags, passed as they are.
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
}

impl Classify for UserdataError {
    fn exit(&self) -> Exit {
        Exit::Usage
    }

    fn hint(&self) -> Option<String> {
        match self {
            UserdataError::Missing(_) => None,
            UserdataError::TooLarge(_) => {
                Some("move --env values into the bundle itself".to_string())
            }
        }
    }
}

/// Renders the user-data script.
pub fn render(o: &UserdataOptions) -> Result<String, UserdataError> {
    let mut s = String::new();
    header(&mut s, o);
    match o.variant {
        Variant::Bootstrap => bootstrap_body(&mut s, o)?,
        Variant::ShellOnly => shell_body(&mut s, o),
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
            "needs curl, openssl, tar and the aws CLI (for the passphrase)"
        }
        Variant::ShellOnly => "needs only curl, openssl and tar",
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
        summary_last(s);
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

/// `--pass SPEC` for bundle-bootstrap: every source it reads itself (not an inline passphrase,
/// which the script exports as `BUNDLE_PASSPHRASE`).
fn pass_args(pass_from: &PassFrom) -> Vec<String> {
    let spec = match pass_from {
        PassFrom::Ssm(name) => format!("ssm:{name}"),
        PassFrom::SecretsManager(id) => format!("secretsmanager:{id}"),
        PassFrom::File(path) => format!("file:{}", path.display()),
        PassFrom::Inline(_) => return Vec::new(),
    };
    vec!["--pass".to_string(), q(&spec)]
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

fn bootstrap_body(s: &mut String, o: &UserdataOptions) -> Result<(), UserdataError> {
    let url = o.bootstrap_url.as_deref().ok_or_else(|| {
        UserdataError::Missing("--bootstrap-url is required (or --shell-only)".into())
    })?;
    let sha = o.bootstrap_sha256.as_deref().ok_or_else(|| {
        UserdataError::Missing(
            "--bootstrap-sha256 is required: the instance must refuse a swapped binary".into(),
        )
    })?;
    let _ = writeln!(s, "INSTALL_DIR={}", q(&o.install_dir));
    let _ = writeln!(s, "mkdir -p \"$INSTALL_DIR\"");
    let _ = writeln!(s, "tmp=$(mktemp \"$INSTALL_DIR/.bundle-bootstrap.XXXXXX\")");
    let _ = writeln!(s, "say \"downloading bundle-bootstrap\"");
    let _ = writeln!(s, "fetch {} \"$tmp\"", q(url));
    let _ = writeln!(
        s,
        "sha256_is \"$tmp\" {} || {{ rm -f \"$tmp\"; exit 1; }}",
        q(sha)
    );
    let _ = writeln!(
        s,
        "chmod 0755 \"$tmp\" && mv -f \"$tmp\" \"$INSTALL_DIR/bundle-bootstrap\""
    );
    let mut args = vec![
        "run".to_string(),
        "\"$BUNDLE_URL\"".to_string(),
        "--state-dir".to_string(),
        "\"$STATE\"".to_string(),
    ];
    args.extend(pass_args(&o.pass_from));
    args.extend(decrypt_flags(&o.params).iter().map(|a| q(a)));
    if let Some(sha) = &o.sha256 {
        args.extend(["--sha256".to_string(), q(sha)]);
    }
    for (k, v) in &o.env {
        args.extend(["--env".to_string(), q(&format!("{k}={v}"))]);
    }
    args.extend(o.extra_args.iter().map(|a| q(a)));
    args.extend(units::pass_for_later_boots(s, o));
    let _ = writeln!(s, "say \"running bundle-bootstrap\"");
    let _ = writeln!(s, "BOOT_OUT=$(mktemp \"$STATE/.bootstrap-output.XXXXXX\")");
    let _ = writeln!(
        s,
        "\"$INSTALL_DIR/bundle-bootstrap\" {} 2>&1 | tee \"$BOOT_OUT\"",
        args.join(" ")
    );
    units::install_units(s, o);
    if o.units != Units::Skip {
        // Something was printed after the summary: print it again.
        let _ = writeln!(s, "tail -n 1 \"$BOOT_OUT\"");
    }
    Ok(())
}

/// The bootstrap variant ends the console with bundle-bootstrap's one-line summary, whatever
/// happens after it: its output (stdout and stderr, in order, through one pipe) is copied to a
/// root-only file in the state folder, and when the script fails after bundle-bootstrap ran —
/// bundle-bootstrap itself failed, or installing the units did — the ERR trap prints its own
/// `FAILED at line N` first, then that file's last line: the summary. The copy goes when the
/// script ends. (Re-reading the summary from `status.json` instead could show an older run's:
/// a run that stops on its flags or its lock records nothing.)
fn summary_last(s: &mut String) {
    let _ = writeln!(
        s,
        "# bundle-bootstrap's output is copied here, so that its last line, the boot's summary, can be printed last."
    );
    let _ = writeln!(s, "BOOT_OUT=\"\"");
    let _ = writeln!(
        s,
        "trap 'say \"FAILED at line $LINENO (exit $?); see $LOG\"; if [ -s \"$BOOT_OUT\" ]; then tail -n 1 \"$BOOT_OUT\"; fi' ERR"
    );
    let _ = writeln!(
        s,
        "trap 'if [ -n \"$BOOT_OUT\" ]; then rm -f \"$BOOT_OUT\"; fi' EXIT"
    );
}

fn shell_body(s: &mut String, o: &UserdataOptions) {
    let flags = match o.params.kdf {
        Kdf::Pbkdf2 { iterations } => format!(
            "-{} -pbkdf2 -iter {iterations} -md {}",
            o.params.cipher, o.params.digest
        ),
        Kdf::Legacy => format!("-{} -md {}", o.params.cipher, o.params.digest),
    };
    let _ = writeln!(s, "work=$(mktemp -d \"$STATE/boot.XXXXXX\")");
    let _ = writeln!(s, "trap 'rm -rf \"$work\"' EXIT");
    let _ = writeln!(s, "say \"downloading the bundle\"");
    let _ = writeln!(s, "fetch \"$BUNDLE_URL\" \"$work/bundle\"");
    if let Some(sha) = &o.sha256 {
        let _ = writeln!(s, "sha256_is \"$work/bundle\" {}", q(sha));
    }
    let _ = writeln!(
        s,
        "armour=\"\"; [ \"$(head -c 8 \"$work/bundle\")\" = Salted__ ] || armour=-a"
    );
    let _ = writeln!(
        s,
        "# shellcheck disable=SC2086 # $armour is empty or one flag"
    );
    let _ = writeln!(
        s,
        "openssl enc -d {flags} $armour -pass env:BUNDLE_PASSPHRASE -in \"$work/bundle\" -out \"$work/payload\" \\"
    );
    let _ = writeln!(
        s,
        "  || {{ say \"decryption failed: wrong passphrase or parameters, or a damaged file\"; exit 3; }}"
    );
    let _ = writeln!(s, "unset BUNDLE_PASSPHRASE");
    let _ = writeln!(s, "mkdir \"$work/x\"");
    let _ = writeln!(
        s,
        "# GNU tar detects gzip or zstd itself; no absolute names, no owners from the archive."
    );
    let _ = writeln!(
        s,
        "tar -C \"$work/x\" -xf \"$work/payload\" --no-same-owner --no-same-permissions || {{ say \"the bundle is not a readable archive\"; exit 4; }}"
    );
    let _ = writeln!(s, "rm -f \"$work/bundle\" \"$work/payload\"");
    let _ = writeln!(s, "root=\"$work/x/start-up-bundle\"");
    let _ = writeln!(s, "manifest=\"$root/bundle.json\"");
    let _ = writeln!(
        s,
        "[ -f \"$manifest\" ] || {{ say \"no start-up-bundle/bundle.json: pack the bundle with bundle pack\"; exit 4; }}"
    );
    let _ = writeln!(
        s,
        "# bundle.json is written by bundle pack, pretty-printed: module fields sit 6 spaces in."
    );
    let _ = writeln!(
        s,
        "mapfile -t modules < <(sed -n 's/^      \"name\": \"\\(.*\\)\",$/\\1/p' \"$manifest\")"
    );
    let _ = writeln!(
        s,
        "mapfile -t digests < <(sed -n 's/^      \"digest\": \"sha256:\\([0-9a-f]*\\)\",$/\\1/p' \"$manifest\")"
    );
    let _ = writeln!(
        s,
        "BUNDLE_NAME=$(sed -n 's/^  \"name\": \"\\(.*\\)\",$/\\1/p' \"$manifest\")"
    );
    let _ = writeln!(
        s,
        "BUNDLE_VERSION=$(sed -n 's/^  \"version\": \"\\(.*\\)\",$/\\1/p' \"$manifest\")"
    );
    let _ = writeln!(
        s,
        "export BUNDLE_NAME BUNDLE_VERSION BUNDLE_ROOT=\"$root\" BUNDLE_STATE_DIR=\"$STATE\""
    );
    for (k, v) in &o.env {
        let _ = writeln!(s, "export {k}={}", q(v));
    }
    let _ = writeln!(s, "mkdir -p \"$STATE/init\"");
    let _ = writeln!(s, "run_script() {{ # module phase");
    let _ = writeln!(s, "  local dir=\"$root/$1\" script=\"\" status=0");
    let _ = writeln!(
        s,
        "  for candidate in \"$2\" \"$2.sh\"; do [ -f \"$dir/$candidate\" ] && {{ script=$candidate; break; }}; done"
    );
    let _ = writeln!(s, "  [ -n \"$script\" ] || return 0");
    let _ = writeln!(s, "  say \"$1: $2\"");
    let _ = writeln!(s, "  if [ -x \"$dir/$script\" ]; then");
    let _ = writeln!(
        s,
        "    (cd \"$dir\" && BUNDLE_MODULE=$1 BUNDLE_PHASE=$2 \"./$script\") || status=$?"
    );
    let _ = writeln!(s, "  else");
    let _ = writeln!(
        s,
        "    (cd \"$dir\" && BUNDLE_MODULE=$1 BUNDLE_PHASE=$2 bash \"./$script\") || status=$?"
    );
    let _ = writeln!(s, "  fi");
    let _ = writeln!(
        s,
        "  [ \"$status\" = 0 ] || {{ say \"module $1 failed: $2 exited with status $status; later modules not run\"; exit 5; }}"
    );
    let _ = writeln!(s, "}}");
    let _ = writeln!(s, "for i in \"${{!modules[@]}}\"; do");
    let _ = writeln!(
        s,
        "  record=\"$STATE/init/${{modules[$i]}}@${{digests[$i]}}\""
    );
    let _ = writeln!(
        s,
        "  [ -e \"$record\" ] || {{ run_script \"${{modules[$i]}}\" init; : > \"$record\"; }}"
    );
    let _ = writeln!(s, "done");
    let _ = writeln!(
        s,
        "for m in \"${{modules[@]}}\"; do run_script \"$m\" start; done"
    );
    let _ = writeln!(
        s,
        "say \"ok: $BUNDLE_NAME $BUNDLE_VERSION: ${{#modules[@]}} modules started\""
    );
}
