//! Exit statuses: the contract shared by `bundle` and `bundle-bootstrap` (DESIGN.md, "Exit status").
//!
//! Each stage's error type says which of these it maps to; the binaries only translate.

use std::process::ExitCode;

/// One exit status of the contract. The numbers are documented in README.md and never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: done.
    Ok = 0,
    /// 1: bad usage or configuration (clap's own 2 is remapped to this).
    Usage = 1,
    /// 2: the bundle could not be fetched.
    Fetch = 2,
    /// 3: verification or decryption failed: wrong passphrase, bad signature, corrupt or truncated file.
    Verify = 3,
    /// 4: the archive was refused: an unsafe or malformed entry.
    Archive = 4,
    /// 5: a module's script failed.
    Module = 5,
    /// 130: stopped by SIGINT (128 + its number, as a shell reports a process the signal ended).
    Interrupted = 130,
    /// 143: stopped by SIGTERM (128 + its number).
    Terminated = 143,
}

impl Exit {
    /// The numeric status handed to the operating system.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

/// An error that knows which exit status it stands for, and what the user can do about it.
pub trait Classify {
    /// The exit status this error maps to.
    fn exit(&self) -> Exit;
    /// One line telling the user what to do next, when there is something to do.
    fn hint(&self) -> Option<String> {
        None
    }
}
