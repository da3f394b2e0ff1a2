//! Passphrases: the only place that reads them (`--pass` specs, `BUNDLE_PASSPHRASE`, the terminal).
//!
//! The `--pass SPEC` syntax is openssl's `-pass` (see `openssl-passphrase-options(1)`): `pass:TEXT`,
//! `env:VAR`, `file:PATH` (first line), `fd:N` (first line), `stdin` (first line). A [`Passphrase`] is
//! zeroized when dropped and has no `Display`; its `Debug` prints nothing of it. Error messages name the
//! *source* of a passphrase, never its text. This file touches no bundle format; the one process it
//! starts is this program again, in [`handoff`], to leave an inherited passphrase behind.

use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::Command;
use std::str::FromStr;

use zeroize::Zeroizing;

use crate::exit::{Classify, Exit};

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
            PassSpec::Held(_) => "the passphrase handed over at start".to_string(),
            PassSpec::Invalid => "an invalid --pass".to_string(),
        }
    }

    /// True for `pass:TEXT`, which puts the passphrase in the process list.
    pub fn is_literal(&self) -> bool {
        matches!(self, PassSpec::Literal(_))
    }

    /// The same source as `openssl enc -pass` takes it, for a command line shown to the user;
    /// None for `pass:TEXT` (never printed) and for a source that is not one.
    pub fn openssl_arg(&self) -> Option<String> {
        match self {
            PassSpec::Env(var) => Some(format!("env:{var}")),
            PassSpec::File(path) => Some(format!("file:{}", path.display())),
            PassSpec::Fd(n) => Some(format!("fd:{n}")),
            PassSpec::Stdin => Some("stdin".to_string()),
            PassSpec::Literal(_) | PassSpec::Held(_) | PassSpec::Invalid => None,
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
        "--pass takes pass:TEXT, env:VAR, file:PATH, fd:N or stdin; the value given is none of these"
    )]
    BadSpec,
}

impl Classify for SecretError {
    fn exit(&self) -> Exit {
        Exit::Usage
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
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
/// and one is attached.
pub fn read_passphrase(spec: Option<&PassSpec>, prompt: Prompt) -> Result<Passphrase, SecretError> {
    let (name, bytes) = match spec {
        Some(spec) => (spec.describe(), read_spec(spec)?),
        None => match std::env::var_os(PASSPHRASE_VAR) {
            Some(v) => (
                PASSPHRASE_VAR.to_string(),
                Zeroizing::new(v.into_encoded_bytes()),
            ),
            None if prompt != Prompt::Never => ("the terminal".to_string(), ask(prompt)?),
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

/// Moves a passphrase out of this process's environment and inherited descriptors before anything
/// else runs (hole 9 of the hardening issue): a module is a child of this process, and could read
/// `/proc/$PPID/environ` or an inherited `fd:N`.
///
/// When the passphrase comes from `BUNDLE_PASSPHRASE`, `env:VAR` or `fd:N`, it is read, written
/// into a new pipe, and this process replaces itself (same pid: cloud-init and systemd track it)
/// with the same program and arguments, `--pass` rewritten to `stdin`, the variable removed from
/// the environment and — through `/bin/sh`'s `exec N<&-` — descriptor N closed. The new process
/// reads the pipe once ([`hold`]). Returns only when nothing had to move (`Ok`), or when the
/// passphrase cannot be read (the run then fails on it, recorded) or the exec failed (`Err`:
/// the caller warns and goes on as before).
pub fn handoff(spec: Option<&PassSpec>) -> Result<(), io::Error> {
    let var = match spec {
        None => Some(PASSPHRASE_VAR),
        Some(PassSpec::Env(var)) => Some(var.as_str()),
        Some(PassSpec::Fd(_)) => None,
        Some(_) => return Ok(()),
    };
    if var.is_some_and(|v| std::env::var_os(v).is_none()) {
        return Ok(());
    }
    let Ok(pass) = read_passphrase(spec, Prompt::Never) else {
        return Ok(());
    };
    let exe = std::env::current_exe()?;
    let (reader, mut writer) = io::pipe()?;
    writer.write_all(pass.expose())?;
    writer.write_all(b"\n")?;
    drop(writer);
    let mut args: Vec<OsString> = std::env::args_os().collect();
    rewrite_pass_arg(&mut args);
    let mut cmd = match spec {
        Some(PassSpec::Fd(n)) => {
            let mut sh = Command::new("/bin/sh");
            sh.arg("-c")
                .arg(format!("exec {n}<&- && exec \"$0\" \"$@\""))
                .arg(&exe);
            sh
        }
        _ => Command::new(&exe),
    };
    cmd.args(args.iter().skip(1))
        .env_remove(PASSPHRASE_VAR)
        .stdin(reader);
    if let Some(var) = var {
        cmd.env_remove(var);
    }
    Err(cmd.exec())
}

/// `--pass SPEC` (or `--pass=SPEC`) becomes `--pass=stdin`; without one, `--pass=stdin` goes right
/// after the subcommand.
fn rewrite_pass_arg(args: &mut Vec<OsString>) {
    let mut i = 1;
    while i < args.len() {
        if args[i] == "--" {
            break;
        }
        if args[i] == "--pass" && i + 1 < args.len() {
            args.splice(i..i + 2, [OsString::from("--pass=stdin")]);
            return;
        }
        if args[i].as_encoded_bytes().starts_with(b"--pass=") {
            args[i] = OsString::from("--pass=stdin");
            return;
        }
        i += 1;
    }
    let at = args.len().min(2);
    args.insert(at, OsString::from("--pass=stdin"));
}

/// After a hand-off (`--pass stdin`), reads the passphrase once and keeps it in memory, so a
/// long-running `watch` can use it at every poll. Other sources are left as they are.
pub fn hold(spec: Option<PassSpec>) -> Result<Option<PassSpec>, SecretError> {
    match spec {
        Some(PassSpec::Stdin) => {
            let pass = read_passphrase(Some(&PassSpec::Stdin), Prompt::Never)?;
            Ok(Some(PassSpec::Held(Zeroizing::new(pass.expose().to_vec()))))
        }
        other => Ok(other),
    }
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

fn read_spec(spec: &PassSpec) -> Result<Zeroizing<Vec<u8>>, SecretError> {
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

fn ask(prompt: Prompt) -> Result<Zeroizing<Vec<u8>>, SecretError> {
    let tty = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
    {
        Ok(tty) if rustix::termios::isatty(&tty) => tty,
        _ => return Err(SecretError::Missing),
    };
    let read_err = |source| SecretError::Read {
        source_name: "the terminal".to_string(),
        source,
    };
    let first = ask_line(&tty, "Passphrase: ").map_err(read_err)?;
    if prompt == Prompt::Twice {
        let second = ask_line(&tty, "Passphrase again: ").map_err(read_err)?;
        if first != second {
            return Err(SecretError::Mismatch);
        }
    }
    Ok(first)
}

/// Asks on the terminal with echo off, restoring the terminal whatever happens.
fn ask_line(tty: &File, prompt: &str) -> io::Result<Zeroizing<Vec<u8>>> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let saved = tcgetattr(tty)?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    (&*tty).write_all(prompt.as_bytes())?;
    tcsetattr(tty, OptionalActions::Flush, &quiet)?;
    let line = first_line(tty);
    let restored = tcsetattr(tty, OptionalActions::Flush, &saved);
    (&*tty).write_all(b"\n")?;
    restored?;
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pass_argument_is_rewritten_to_stdin() {
        let os = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        let mut a = os(&["bb", "run", "URL", "--pass", "fd:3", "--iter", "9"]);
        rewrite_pass_arg(&mut a);
        assert_eq!(a, os(&["bb", "run", "URL", "--pass=stdin", "--iter", "9"]));
        let mut a = os(&["bb", "run", "--pass=env:X", "URL"]);
        rewrite_pass_arg(&mut a);
        assert_eq!(a, os(&["bb", "run", "--pass=stdin", "URL"]));
        let mut a = os(&["bb", "watch", "URL"]);
        rewrite_pass_arg(&mut a);
        assert_eq!(a, os(&["bb", "watch", "--pass=stdin", "URL"]));
    }

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
        for bad in ["", "secret", "env:", "fd:x", "file:", "http:x"] {
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
