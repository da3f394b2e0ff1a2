//! Progress for logs: one line every few seconds while a long download or unpack goes on, for
//! output that is not a terminal (cloud-init's console log, the journal), where a bar would be
//! noise. A terminal gets no lines from here (`bundle`'s own bars live in its binary).
//!
//! Counts and prints; knows nothing of what is counted. The lines go to a plain function, so a
//! meter can be shared by the threads of an unpack.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::size::human;

/// How often a progress line is printed unless told otherwise (`BUNDLE_PROGRESS_EVERY`).
pub const DEFAULT_EVERY: Duration = Duration::from_secs(5);

/// The variable that sets the interval between progress lines (`0` turns them off).
pub const EVERY_VAR: &str = "BUNDLE_PROGRESS_EVERY";

/// Whether, and where, progress lines are printed.
#[derive(Debug, Clone, Copy, Default)]
pub enum Progress {
    /// No lines (a terminal, a dry library call, or turned off).
    #[default]
    Quiet,
    /// A line through `say` at most once every `every`.
    Lines {
        /// The least time between two lines (and before the first).
        every: Duration,
        /// Prints one line.
        say: fn(&str),
    },
}

impl Progress {
    /// Lines through `say` every `every`; a zero interval means none.
    pub fn lines(every: Duration, say: fn(&str)) -> Progress {
        if every.is_zero() {
            Progress::Quiet
        } else {
            Progress::Lines { every, say }
        }
    }

    /// A meter for one job, named `what` in its lines (`downloading b.enc`, `unpacking`).
    pub fn meter(&self, what: impl Into<String>) -> Meter {
        Meter {
            what: what.into(),
            progress: *self,
            state: Mutex::new(Tick {
                started: Instant::now(),
                last: Instant::now(),
                total: None,
            }),
        }
    }
}

/// The progress of one job: told the bytes done so far, it prints a line when one is due.
#[derive(Debug)]
pub struct Meter {
    what: String,
    progress: Progress,
    state: Mutex<Tick>,
}

#[derive(Debug)]
struct Tick {
    started: Instant,
    last: Instant,
    total: Option<u64>,
}

impl Meter {
    /// A meter that never prints.
    pub fn quiet() -> Meter {
        Progress::Quiet.meter("")
    }

    /// The size the job will reach, when known (a Content-Length).
    pub fn set_total(&self, total: Option<u64>) {
        if let Ok(mut tick) = self.state.lock() {
            tick.total = total;
        }
    }

    /// `done` bytes so far: prints a line when the interval has passed since the last one.
    pub fn set(&self, done: u64) {
        let Progress::Lines { every, say } = self.progress else {
            return;
        };
        let Ok(mut tick) = self.state.lock() else {
            return;
        };
        let now = Instant::now();
        if now.duration_since(tick.last) < every {
            return;
        }
        tick.last = now;
        say(&line(&self.what, done, tick.total, now - tick.started));
    }
}

/// `downloading b.enc: 12.3 MiB of 40.0 MiB (30%), 2.1 MiB/s`.
fn line(what: &str, done: u64, total: Option<u64>, elapsed: Duration) -> String {
    let rate = match elapsed.as_secs_f64() {
        secs if secs > 0.0 => format!(", {}/s", human((done as f64 / secs) as u64)),
        _ => String::new(),
    };
    match total {
        Some(total) if total > 0 => format!(
            "{what}: {} of {} ({}%){rate}",
            human(done),
            human(total),
            done.saturating_mul(100) / total
        ),
        _ => format!("{what}: {} so far{rate}", human(done)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static SAID: Mutex<Vec<String>> = Mutex::new(Vec::new());

    fn say(line: &str) {
        SAID.lock().unwrap().push(line.to_string());
    }

    #[test]
    fn a_line_only_once_the_interval_passed() {
        let meter = Progress::lines(Duration::from_millis(30), say).meter("downloading b.enc");
        meter.set_total(Some(4 << 20));
        meter.set(1 << 20);
        assert!(
            SAID.lock().unwrap().is_empty(),
            "nothing before the interval"
        );
        std::thread::sleep(Duration::from_millis(40));
        meter.set(2 << 20);
        meter.set(3 << 20);
        let said = SAID.lock().unwrap().clone();
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(
            said[0].starts_with("downloading b.enc: 2.0 MiB of 4.0 MiB (50%), "),
            "{said:?}"
        );
        assert!(said[0].ends_with("/s"), "{said:?}");
    }

    #[test]
    fn quiet_and_zero_print_nothing_and_an_unknown_total_says_so_far() {
        assert!(matches!(
            Progress::lines(Duration::ZERO, say),
            Progress::Quiet
        ));
        Meter::quiet().set(1);
        assert_eq!(
            line("unpacking", 1536, None, Duration::ZERO),
            "unpacking: 1.5 KiB so far"
        );
    }
}
