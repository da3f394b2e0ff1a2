//! Asking for a passphrase on the terminal, echo off, once or twice.

use std::fs::File;
use std::io::{self, Write};

use zeroize::Zeroizing;

use super::{Prompt, SecretError, first_line};

/// Asks on `/dev/tty` (twice for [`Prompt::Twice`]); [`SecretError::Missing`] without a terminal.
pub(super) fn ask(prompt: Prompt) -> Result<Zeroizing<Vec<u8>>, SecretError> {
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
