//! One file per subcommand: its flags and its `run`.

pub mod run;
pub mod status;
pub mod watch;

/// Prints one line of the bootstrap's own log on stderr, prefixed with the program name.
pub fn log(line: &str) {
    eprintln!("{}: {line}", super::PROGRAM);
}
