//! Passphrases: the only place that reads them (`--pass` specs, `BUNDLE_PASSPHRASE`, the terminal,
//! SSM Parameter Store and Secrets Manager).
//!
//! The `--pass SPEC` syntax is openssl's `-pass` (see `openssl-passphrase-options(1)`): `pass:TEXT`,
//! `env:VAR`, `file:PATH` (first line), `fd:N` (first line), `stdin` (first line); plus this tool's
//! `ssm:NAME` and `secretsmanager:ID`, read from AWS when needed (`cloud.rs`). A [`Passphrase`] is
//! zeroized when dropped and has no `Display`; its `Debug` prints nothing of it. Error messages name the
//! *source* of a passphrase, never its text. This part touches no bundle format; the one process it
//! starts is this program again, in [`handoff`], to leave an inherited passphrase behind.

mod cloud;
mod cloud_error;
mod handoff;
mod terminal;

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::str::FromStr;

use zeroize::Zeroizing;

use crate::exit::{Classify, Exit};
use crate::fetch::FetchOptions;

pub use cloud::Store;
pub use cloud_error::CloudError;
pub use handoff::{handoff, hold};

/// The variable read when no `--pass` is given. Always removed from a module's environment.
pub const PASSPHRASE_VAR: &str = "BUNDLE_PASSPHRASE";

/// Bytes of randomness in a passphrase made by `bundle keygen --passphrase` (256 bits).
pub const GENERATED_BYTES: usize = 32;

/// A passphrase shorter than this earns a warning where a bundle is made: the encrypted file sits
/// on a public URL, where anyone may try passphrases offline (16 random characters of
/// `bundle keygen --passphrase`'s alphabet are 96 bits).
pub const SHORT_PASSPHRASE: usize = 16;

/// A line longer than this is not a passphrase but a mistake (`file:` pointing at a big file).
const MAX_PASSPHRASE_LEN: usize = 4096;

/// A passphrase held in memory that is wiped on drop.
pub struct Passphrase(Zeroizing<Vec<u8>>);

impl Passphrase {
    /// The passphrase bytes, for key derivation only.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// True when it has fewer than [`SHORT_PASSPHRASE`] characters.
    pub fn is_short(&self) -> bool {
        String::from_utf8_lossy(&self.0).chars().count() < SHORT_PASSPHRASE
    }

    /// Wraps bytes that are already a passphrase (a generated one).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Passphrase(Zeroizing::new(bytes))
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(…)")
    }
}

/// Where a passphrase comes from: openssl's `-pass` syntax.
#[derive(Clone, PartialEq, Eq)]
pub enum PassSpec {
    /// `pass:TEXT` — the passphrase itself (visible in the process list; prefer the others).
    Literal(Zeroizing<String>),
    /// `env:VAR` — the value of an environment variable.
    Env(String),
    /// `file:PATH` — the first line of a file.
    File(PathBuf),
    /// `fd:N` — the first line read from an inherited file descriptor.
    Fd(u32),
    /// `stdin` — the first line of standard input.
    Stdin,
    /// `ssm:NAME` — an SSM Parameter Store parameter (a SecureString, decrypted), read with the
    /// `AWS_*` credentials or the instance role.
    Ssm(String),
    /// `secretsmanager:ID` — a Secrets Manager secret's SecretString (ID: its name or ARN).
    SecretsManager(String),
    /// Already read, and held in memory: what a hand-off (see [`handoff`]) leaves behind. Never
    /// parsed from the command line.
    Held(Zeroizing<Vec<u8>>),
    /// Not a source at all — most often the passphrase itself, typed without `pass:`. Kept as a
    /// value instead of a parse error so that no parser echoes it back ("invalid value 'hunter2'"):
    /// reading it fails with a message that never repeats it.
    Invalid,
}

impl fmt::Debug for PassSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl PassSpec {
    /// A description safe to print: the source, never the text.
    pub fn describe(&self) -> String {
        match self {
            PassSpec::Literal(_) => "pass:…".to_string(),
            PassSpec::Env(var) => format!("env:{var}"),
            PassSpec::File(path) => format!("file:{}", path.display()),
            PassSpec::Fd(n) => format!("fd:{n}"),
            PassSpec::Stdin => "stdin".to_string(),
            PassSpec::Ssm(name) => format!("ssm:{name}"),
            PassSpec::SecretsManager(id) => format!("secretsmanager:{id}"),
            PassSpec::Held(_) => "the passphrase handed over at start".to_string(),
            PassSpec::Invalid => "an invalid --pass".to_string(),
        }
    }

    /// True for `pass:TEXT`, which puts the passphrase in the process list.
    pub fn is_literal(&self) -> bool {
        matches!(self, PassSpec::Literal(_))
    }

    /// The same source as `openssl enc -pass` takes it, for a command line shown to the user;
    /// None for `pass:TEXT` (never printed), for an AWS source (openssl has none) and for a
    /// source that is not one.
    pub fn openssl_arg(&self) -> Option<String> {
        match self {
            PassSpec::Env(var) => Some(format!("env:{var}")),
            PassSpec::File(path) => Some(format!("file:{}", path.display())),
            PassSpec::Fd(n) => Some(format!("fd:{n}")),
            PassSpec::Stdin => Some("stdin".to_string()),
            PassSpec::Literal(_)
            | PassSpec::Held(_)
            | PassSpec::Invalid
            | PassSpec::Ssm(_)
            | PassSpec::SecretsManager(_) => None,
        }
    }
}

impl FromStr for PassSpec {
    type Err = std::convert::Infallible;

    /// Never fails: a malformed spec becomes [`PassSpec::Invalid`], refused when read.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "stdin" {
            return Ok(PassSpec::Stdin);
        }
        let Some((kind, rest)) = s.split_once(':') else {
            return Ok(PassSpec::Invalid);
        };
        Ok(match kind {
            "pass" => PassSpec::Literal(Zeroizing::new(rest.to_string())),
            "env" if !rest.is_empty() => PassSpec::Env(rest.to_string()),
            "file" if !rest.is_empty() => PassSpec::File(PathBuf::from(rest)),
            "fd" => rest.parse().map(PassSpec::Fd).unwrap_or(PassSpec::Invalid),
            "ssm" if !rest.is_empty() => PassSpec::Ssm(rest.to_string()),
            "secretsmanager" if !rest.is_empty() => PassSpec::SecretsManager(rest.to_string()),
            _ => PassSpec::Invalid,
        })
    }
}

/// Whether a command may ask on the terminal when no source was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// Never ask (the bootstrap, scripts).
    Never,
    /// Ask once (opening a bundle).
    Once,
    /// Ask twice and compare (making a bundle: a typo would lock everyone out).
    Twice,
}

/// Why no passphrase could be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No `--pass`, no `BUNDLE_PASSPHRASE`, and no terminal to ask on.
    #[error("no passphrase: give --pass SPEC or set {PASSPHRASE_VAR}")]
    Missing,
    /// `env:VAR` names a variable that is not set.
    #[error("the passphrase variable {0} is not set")]
    EnvUnset(String),
    /// The source could not be read.
    #[error("cannot read the passphrase from {source_name}")]
    Read {
        /// The source, as `describe` prints it.
        source_name: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The source held an empty passphrase.
    #[error("the passphrase from {0} is empty")]
    Empty(String),
    /// The source held something far too long to be a passphrase.
    #[error(
        "the passphrase from {0} is longer than {MAX_PASSPHRASE_LEN} bytes: is that the right file?"
    )]
    TooLong(String),
    /// The two entries typed on the terminal differ.
    #[error("the two passphrases typed differ")]
    Mismatch,
    /// The `--pass` value is not a source (its text is never repeated: it may be the passphrase).
    #[error(
        "--pass takes pass:TEXT, env:VAR, file:PATH, fd:N, stdin, ssm:NAME or secretsmanager:ID; \
         the value given is none of these"
    )]
    BadSpec,
    /// SSM or Secrets Manager did not give it (boxed: it is large, and rare).
    #[error(transparent)]
    Cloud(Box<CloudError>),
}

impl From<CloudError> for SecretError {
    fn from(e: CloudError) -> SecretError {
        SecretError::Cloud(Box::new(e))
    }
}

impl Classify for SecretError {
    fn exit(&self) -> Exit {
        match self {
            SecretError::Cloud(e) => e.exit(),
            _ => Exit::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            SecretError::Cloud(e) => return e.hint(),
            SecretError::Missing | SecretError::EnvUnset(_) => {
                format!(
                    "pass --pass env:VAR, --pass file:PATH or --pass fd:N, or export {PASSPHRASE_VAR}"
                )
            }
            SecretError::Mismatch => "type the same passphrase twice".to_string(),
            _ => "check the --pass source".to_string(),
        })
    }
}

/// Reads the passphrase: from `spec`, else `BUNDLE_PASSPHRASE`, else the terminal when `prompt` allows
/// and one is attached. `ssm:` and `secretsmanager:` reach AWS with the default network settings
/// and log nothing: see [`read_passphrase_with`].
pub fn read_passphrase(spec: Option<&PassSpec>, prompt: Prompt) -> Result<Passphrase, SecretError> {
    read_passphrase_with(spec, prompt, &FetchOptions::default(), &mut |_| {})
}

/// [`read_passphrase`], reaching AWS for `ssm:` and `secretsmanager:` as `net` says (`--region`,
/// `--imds-endpoint`, `--ca-file`, timeouts, `--retry-for`), saying where through `log` (never
/// the passphrase).
pub fn read_passphrase_with(
    spec: Option<&PassSpec>,
    prompt: Prompt,
    net: &FetchOptions,
    log: &mut dyn FnMut(&str),
) -> Result<Passphrase, SecretError> {
    let (name, bytes) = match spec {
        Some(spec) => (spec.describe(), read_spec(spec, net, log)?),
        None => match std::env::var_os(PASSPHRASE_VAR) {
            Some(v) => (
                PASSPHRASE_VAR.to_string(),
                Zeroizing::new(v.into_encoded_bytes()),
            ),
            None if prompt != Prompt::Never => ("the terminal".to_string(), terminal::ask(prompt)?),
            None => return Err(SecretError::Missing),
        },
    };
    if bytes.is_empty() {
        return Err(SecretError::Empty(name));
    }
    if bytes.len() > MAX_PASSPHRASE_LEN {
        return Err(SecretError::TooLong(name));
    }
    Ok(Passphrase(bytes))
}

/// The environment variables a module must never see for this spec: `BUNDLE_PASSPHRASE` always, plus
/// the variable named by `env:VAR`.
pub fn secret_env_names(spec: Option<&PassSpec>) -> Vec<String> {
    let mut names = vec![PASSPHRASE_VAR.to_string()];
    if let Some(PassSpec::Env(var)) = spec
        && var != PASSPHRASE_VAR
    {
        names.push(var.clone());
    }
    names
}

/// A fresh random passphrase of [`GENERATED_BYTES`] bytes, as URL-safe base64 without padding.
pub fn generate_passphrase() -> Result<Zeroizing<String>, getrandom::Error> {
    use base64::Engine as _;
    let mut raw = Zeroizing::new([0u8; GENERATED_BYTES]);
    getrandom::fill(raw.as_mut())?;
    Ok(Zeroizing::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_ref()),
    ))
}

fn read_spec(
    spec: &PassSpec,
    net: &FetchOptions,
    log: &mut dyn FnMut(&str),
) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    let env = |name: &str| std::env::var(name).ok();
    let read_err = |source| SecretError::Read {
        source_name: spec.describe(),
        source,
    };
    match spec {
        PassSpec::Literal(text) => Ok(Zeroizing::new(text.as_bytes().to_vec())),
        PassSpec::Env(var) => std::env::var_os(var)
            .map(|v| Zeroizing::new(v.into_encoded_bytes()))
            .ok_or_else(|| SecretError::EnvUnset(var.clone())),
        PassSpec::File(path) => first_line(File::open(path).map_err(read_err)?).map_err(read_err),
        // /dev/fd/N opens a new description of the inherited descriptor without unsafe code.
        PassSpec::Fd(n) => {
            first_line(File::open(format!("/dev/fd/{n}")).map_err(read_err)?).map_err(read_err)
        }
        PassSpec::Stdin => first_line(io::stdin().lock()).map_err(read_err),
        PassSpec::Held(bytes) => Ok(bytes.clone()),
        PassSpec::Invalid => Err(SecretError::BadSpec),
        PassSpec::Ssm(name) => Ok(cloud::read(Store::Ssm, name, net, &env, log)?),
        PassSpec::SecretsManager(id) => Ok(cloud::read(Store::SecretsManager, id, net, &env, log)?),
    }
}

/// The first line of `r`, without its line ending, as openssl's `file:`/`fd:`/`stdin` read it.
fn first_line(r: impl Read) -> io::Result<Zeroizing<Vec<u8>>> {
    let mut line = Zeroizing::new(Vec::new());
    BufReader::new(r.take(MAX_PASSPHRASE_LEN as u64 + 2)).read_until(b'\n', &mut line)?;
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_openssl_form() {
        assert!(
            matches!("pass:x:y".parse::<PassSpec>(), Ok(PassSpec::Literal(t)) if t.as_str() == "x:y")
        );
        assert_eq!("env:K".parse::<PassSpec>(), Ok(PassSpec::Env("K".into())));
        assert_eq!(
            "file:/a/b".parse::<PassSpec>(),
            Ok(PassSpec::File("/a/b".into()))
        );
        assert_eq!("fd:3".parse::<PassSpec>(), Ok(PassSpec::Fd(3)));
        assert_eq!("stdin".parse::<PassSpec>(), Ok(PassSpec::Stdin));
        assert_eq!(
            "ssm:/team/pass".parse::<PassSpec>(),
            Ok(PassSpec::Ssm("/team/pass".into()))
        );
        let arn = "arn:aws:secretsmanager:eu-west-1:1:secret:p";
        assert_eq!(
            format!("secretsmanager:{arn}").parse::<PassSpec>(),
            Ok(PassSpec::SecretsManager(arn.into()))
        );
        for bad in [
            "",
            "secret",
            "env:",
            "fd:x",
            "file:",
            "http:x",
            "ssm:",
            "secretsmanager:",
        ] {
            assert_eq!(bad.parse::<PassSpec>(), Ok(PassSpec::Invalid), "{bad}");
        }
        let err = read_passphrase(Some(&"hunter2".parse().unwrap()), Prompt::Never).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn descriptions_never_hold_the_text() {
        let spec: PassSpec = "pass:hunter2".parse().unwrap();
        assert!(!spec.describe().contains("hunter2"));
        assert!(!format!("{spec:?}").contains("hunter2"));
        let p = Passphrase::from_bytes(b"hunter2".to_vec());
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn first_line_only() {
        let line = first_line(&b"s3cret\r\nsecond\n"[..]).unwrap();
        assert_eq!(line.as_slice(), b"s3cret");
        let line = first_line(&b"no-newline"[..]).unwrap();
        assert_eq!(line.as_slice(), b"no-newline");
    }

    #[test]
    fn file_source_and_errors() {
        let dir = std::env::temp_dir().join(format!("sb-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pass");
        std::fs::write(&path, "from-file\nignored\n").unwrap();
        let p = read_passphrase(Some(&PassSpec::File(path.clone())), Prompt::Never).unwrap();
        assert_eq!(p.expose(), b"from-file");
        std::fs::write(&path, "\n").unwrap();
        assert!(matches!(
            read_passphrase(Some(&PassSpec::File(path)), Prompt::Never),
            Err(SecretError::Empty(_))
        ));
        let missing = PassSpec::File(dir.join("absent"));
        let err = read_passphrase(Some(&missing), Prompt::Never).unwrap_err();
        assert!(err.to_string().contains("absent"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn names_to_strip() {
        assert_eq!(secret_env_names(None), vec![PASSPHRASE_VAR]);
        let spec = PassSpec::Env("TEAM_KEY".into());
        assert_eq!(
            secret_env_names(Some(&spec)),
            vec![PASSPHRASE_VAR, "TEAM_KEY"]
        );
    }

    #[test]
    fn generated_passphrases_are_long_and_differ() {
        let a = generate_passphrase().unwrap();
        let b = generate_passphrase().unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }
}
