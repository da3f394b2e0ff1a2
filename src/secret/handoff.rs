//! Leaving an inherited passphrase behind: the re-exec that takes a passphrase out of this
//! process's environment and descriptors before any module runs, and the in-memory copy a
//! long-running `watch` keeps afterwards.

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::process::CommandExt as _;
use std::process::Command;

use zeroize::Zeroizing;

use super::{PASSPHRASE_VAR, PassSpec, Prompt, SecretError, read_passphrase};

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
}
