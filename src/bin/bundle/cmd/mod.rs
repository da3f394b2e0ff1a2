//! One file per subcommand (its flags and its `run`), and what several of them share.

pub mod check;
pub mod inspect;
pub mod keygen;
pub mod new;
pub mod pack;
pub mod publish;
pub mod sign;
pub mod trial;
pub mod unpack;
pub mod userdata;
pub mod verify;

use std::io::{IsTerminal as _, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use startup_bundle::cli::Failure;
use startup_bundle::personality;

/// What every command gets besides its flags.
pub struct Ctx<'a> {
    /// The name this program was started as, for its messages.
    pub program: &'a str,
}

impl Ctx<'_> {
    /// A message on stderr, prefixed with the program's name.
    pub fn say(&self, line: &str) {
        eprintln!("{}: {line}", self.program);
    }
}

/// What a command that finished prints on stdout; a closed pipe ends quietly.
pub fn print(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(Failure::output)
}

/// [`print`] with a newline.
pub fn println(line: &str) -> Result<(), Failure> {
    print(&format!("{line}\n"))
}

/// Success.
pub fn done() -> Result<ExitCode, Failure> {
    Ok(ExitCode::SUCCESS)
}

/// `--modules-path`, for the commands that read a personality.
#[derive(Debug, Clone, clap::Args)]
pub struct LibraryFlags {
    /// Module library folders, searched in order before the built-in one [default: $BUNDLE_MODULES_PATH, else ./modules]
    #[arg(long = "modules-path", value_name = "DIR")]
    pub modules_path: Vec<PathBuf>,
}

impl LibraryFlags {
    /// The library folders to search, in order (the built-in library comes after them).
    pub fn libraries(&self) -> Vec<PathBuf> {
        personality::library_paths(&self.modules_path)
    }
}

/// A byte counter on a terminal; nothing when stderr is piped. Once the total is known
/// ([`Progress::set_total`]) it becomes a bar with a percentage and an ETA.
pub struct Progress(Option<indicatif::ProgressBar>);

/// The counter while the total is unknown.
const SPINNER: &str = "{spinner} {msg} {bytes} ({binary_bytes_per_sec})";
/// The bar once it is known.
const BAR: &str =
    "{msg} [{bar:30}] {percent:>3}% {bytes}/{total_bytes} ({binary_bytes_per_sec}, {eta} left)";

impl Progress {
    /// Starts a counter labelled `what` when stderr is a terminal.
    pub fn start(what: &str) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        if let Ok(style) = indicatif::ProgressStyle::with_template(SPINNER) {
            bar.set_style(style);
        }
        bar.set_message(what.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Progress(Some(bar))
    }

    /// The total the counter counts up to: from now on a bar with a percentage and an ETA.
    pub fn set_total(&self, total: u64) {
        if let Some(bar) = &self.0 {
            if let Ok(style) = indicatif::ProgressStyle::with_template(BAR) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_length(total);
        }
    }

    /// Reports bytes done so far.
    pub fn set(&self, bytes: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(bytes);
        }
    }

    /// Removes the counter from the terminal.
    pub fn done(self) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
        }
    }
}
