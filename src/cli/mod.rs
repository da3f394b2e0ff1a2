//! The command line, shared by `bundle` and `bundle-bootstrap`: flag groups both take
//! ([`flags`]), the value types every flag is parsed into once ([`values`]), and how a program
//! reports an error and ends ([`report`]). The binaries in `src/bin/` hold one `Args` struct per
//! subcommand with a `run` method that calls the library; nothing here decides what a command does.

pub mod flags;
pub mod report;
pub mod run_args;
pub mod run_check;
pub mod values;

pub use flags::{CipherFlags, DecryptFlags, LITERAL_PASS_WARNING};
pub use report::{Failure, parse, parse_matches, program_name, report, report_to};
pub use run_args::{RunArgs, S3Flags};
pub use run_check::check_run_line;
pub use values::{Dur, EnvVar, Expiry, Percent, Sha256Hex, Size};
