//! Stopping a run on SIGTERM or SIGINT (a shutdown, `systemctl stop`, Ctrl-C) without leaving a
//! script orphaned or the status saying "running".
//!
//! The signal only raises a flag ([`Interrupt`]); the code that polls anyway looks at it: the
//! script's supervisor passes the signal on to the script's process group (scripts run in groups
//! of their own, so a terminal's Ctrl-C never reaches them by itself), the runner stops before the
//! next script, boot stops at the next stage boundary, and `watch` between two polls. A second
//! signal, when stopping cleanly hangs, ends the process at once.
//!
//! No `unsafe` here: signal-hook's flag actions do the async-signal-safe part (atomic stores, and
//! `_exit` for the second signal).

use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;

use crate::exit::Exit;

/// How often [`Interrupt::sleep`] looks at the flag.
const SLEEP_STEP: Duration = Duration::from_millis(100);

/// A signal that stops a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGTERM: a shutdown, `systemctl stop`, `kill`.
    Term,
    /// SIGINT: Ctrl-C.
    Int,
}

impl StopSignal {
    /// Both, in the order handlers are installed.
    const ALL: [StopSignal; 2] = [StopSignal::Term, StopSignal::Int];

    /// Its number (signal(7)).
    pub fn number(self) -> i32 {
        match self {
            StopSignal::Term => SIGTERM,
            StopSignal::Int => SIGINT,
        }
    }

    /// `SIGTERM` or `SIGINT`.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Term => "SIGTERM",
            StopSignal::Int => "SIGINT",
        }
    }

    /// The exit status of a run it stopped: 128 + its number, as a shell reports it (143, 130).
    pub fn exit(self) -> Exit {
        match self {
            StopSignal::Term => Exit::Terminated,
            StopSignal::Int => Exit::Interrupted,
        }
    }

    fn from_number(n: usize) -> Option<StopSignal> {
        StopSignal::ALL
            .into_iter()
            .find(|s| usize::try_from(s.number()).is_ok_and(|m| m == n))
    }
}

impl fmt::Display for StopSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The flag a TERM or INT raises. Clones share it. A fresh one is never raised until
/// [`Interrupt::on_signals`] makes signals raise it (or [`Interrupt::raise`] does).
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    /// The number of the last stop signal that arrived; 0: none.
    which: Arc<AtomicUsize>,
    /// Set by the first one: arms the immediate exit on the second.
    armed: Arc<AtomicBool>,
}

impl Interrupt {
    /// A flag nothing has raised.
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// From now on TERM and INT raise this flag instead of ending the process. A second one, while
    /// the run is still stopping, ends the process at once with 128 + its number.
    pub fn on_signals(&self) -> io::Result<()> {
        for signal in StopSignal::ALL {
            let n = signal.number();
            // First, so it sees the flag as it was before this very signal (signal-hook's
            // `register_conditional_shutdown` docs): only a second signal exits.
            flag::register_conditional_shutdown(
                n,
                i32::from(signal.exit().code()),
                Arc::clone(&self.armed),
            )?;
            flag::register_usize(n, Arc::clone(&self.which), n.unsigned_abs() as usize)?;
            flag::register(n, Arc::clone(&self.armed))?;
        }
        Ok(())
    }

    /// Raises the flag as `signal` would.
    pub fn raise(&self, signal: StopSignal) {
        self.which
            .store(signal.number().unsigned_abs() as usize, Ordering::SeqCst);
        self.armed.store(true, Ordering::SeqCst);
    }

    /// The signal that asked the run to stop (the last, when several did), if one did.
    pub fn raised(&self) -> Option<StopSignal> {
        StopSignal::from_number(self.which.load(Ordering::SeqCst))
    }

    /// Sleeps for `period`, or less when the flag is raised; returns [`Interrupt::raised`].
    pub fn sleep(&self, period: Duration) -> Option<StopSignal> {
        let until = Instant::now() + period;
        loop {
            if let Some(signal) = self.raised() {
                return Some(signal);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            std::thread::sleep(left.min(SLEEP_STEP));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raised_says_which_and_wakes_a_sleeper() {
        let flag = Interrupt::new();
        assert_eq!(flag.raised(), None);
        assert_eq!(flag.sleep(Duration::from_millis(10)), None);
        let other = flag.clone();
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            other.raise(StopSignal::Int);
        });
        let started = Instant::now();
        assert_eq!(flag.sleep(Duration::from_secs(30)), Some(StopSignal::Int));
        assert!(started.elapsed() < Duration::from_secs(5));
        waker.join().unwrap();
        flag.raise(StopSignal::Term);
        assert_eq!(flag.raised(), Some(StopSignal::Term));
        assert_eq!(
            (
                StopSignal::Term.exit().code(),
                StopSignal::Int.exit().code()
            ),
            (143, 130)
        );
    }
}
