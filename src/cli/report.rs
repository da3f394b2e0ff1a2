//! How a program ends: one error report (`PROGRAM: error: …`, its causes, one `hint:` line), the
//! exit status of the contract, and a broken pipe treated as a normal end (`bundle new --list |
//! head -1` is not an error).

use std::error::Error;
use std::io;
use std::process::ExitCode;

use crate::exit::{Classify, Exit};

/// Why a command did not finish: what to print and which status to end with.
#[derive(Debug)]
pub struct Failure {
    message: String,
    hint: Option<String>,
    exit: Exit,
    quiet: bool,
}

impl Failure {
    /// A usage mistake found after parsing: exit 1.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            hint: None,
            exit: Exit::Usage,
            quiet: false,
        }
    }

    /// A usage mistake with what to do about it.
    pub fn usage_hint(message: impl Into<String>, hint: impl Into<String>) -> Failure {
        Failure {
            hint: Some(hint.into()),
            ..Failure::usage(message)
        }
    }

    /// Writing to stdout failed: a closed pipe ends quietly with 0, anything else is exit 1.
    pub fn output(e: io::Error) -> Failure {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Failure {
                message: String::new(),
                hint: None,
                exit: Exit::Ok,
                quiet: true,
            }
        } else {
            Failure::usage(format!("cannot write the output: {e}"))
        }
    }

    /// The exit status it ends with.
    pub fn exit(&self) -> Exit {
        self.exit
    }

    /// The message (first line of the report).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl<E: Error + Classify + 'static> From<E> for Failure {
    fn from(err: E) -> Failure {
        Failure {
            message: chain(&err),
            hint: err.hint(),
            exit: err.exit(),
            quiet: false,
        }
    }
}

/// An error's message followed by each cause that adds something.
pub fn chain(err: &(dyn Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// Prints `failure` the contract's way and returns its exit status.
pub fn report(program: &str, failure: &Failure) -> ExitCode {
    if !failure.quiet {
        eprintln!("{program}: error: {}", failure.message);
        if let Some(hint) = &failure.hint {
            eprintln!("hint: {hint}");
        }
    }
    failure.exit.into()
}

/// [`report`] through a program's own log, which prefixes each line (a time, the program's
/// name): `error: …`, then `hint: …`.
pub fn report_to(failure: &Failure, log: &mut dyn FnMut(&str)) -> ExitCode {
    if !failure.quiet {
        log(&format!("error: {}", failure.message));
        if let Some(hint) = &failure.hint {
            log(&format!("hint: {hint}"));
        }
    }
    failure.exit.into()
}

/// The name this program was started as (`bundle` or `startup-bundle`), for its messages.
pub fn program_name(default: &'static str) -> String {
    std::env::args_os()
        .next()
        .and_then(|arg0| {
            std::path::Path::new(&arg0)
                .file_name()
                .and_then(|n| n.to_str())
                .map(str::to_string)
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// Parses the command line, mapping clap's usage errors to exit 1 (our 2 means "fetch failed")
/// and keeping the `PROGRAM: error:` form. `--help` and `--version` end with 0.
pub fn parse<T: clap::Parser>(program: &str) -> Result<T, ExitCode> {
    parse_matches(program, std::env::args_os().collect(), false).map(|(t, _)| t)
}

/// [`parse`] of `args` (program first), also handing back clap's matches (which flags were given
/// on the command line). With `override_self`, a flag given twice takes its last value: how a
/// saved configuration's flags, put first, give way to the ones typed.
pub fn parse_matches<T: clap::Parser>(
    program: &str,
    args: Vec<std::ffi::OsString>,
    override_self: bool,
) -> Result<(T, clap::ArgMatches), ExitCode> {
    let command = T::command()
        .bin_name(program.to_string())
        // `--version` prints the display name: the name this program was started as.
        .display_name(program.to_string())
        .args_override_self(override_self);
    let parsed = command.try_get_matches_from(args).and_then(|matches| {
        let t = T::from_arg_matches(&matches)?;
        Ok((t, matches))
    });
    parsed.map_err(|e| {
        if !e.use_stderr() {
            let _ = e.print();
            return Exit::Ok.into();
        }
        let rendered = e.render().to_string();
        let text = rendered
            .strip_prefix("error: ")
            .unwrap_or(&rendered)
            .trim_end();
        eprintln!("{program}: error: {text}");
        Exit::Usage.into()
    })
}
