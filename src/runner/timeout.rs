//! Stopping a script's whole process group: SIGTERM when its `--module-timeout` is up (or the
//! TERM or INT that interrupts the run, passed on), SIGKILL a grace period later.
//!
//! Signals go to the group (`kill(-pgid, sig)`, kill(2)), not the script alone, so that a child it
//! started (`sleep 1000 & sleep 1000`) dies with it. Only groups we created (`process_group(0)`) are
//! ever signalled.

use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process_group, test_kill_process_group};

use super::interrupt::StopSignal;

/// Why we are stopping the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// It passed its timeout.
    Timeout,
    /// The run was interrupted by this signal, which we passed on.
    Interrupt(StopSignal),
}

/// Where a script stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Within its time, not interrupted.
    Running,
    /// Its first signal (SIGTERM, or the interrupting one) sent at this instant.
    Signalled(Why, Instant),
    /// SIGKILL sent.
    Killed(Why),
}

/// Watches one process group's deadline and signals it when due, or when the run is interrupted.
#[derive(Debug)]
pub struct Stopper {
    group: Option<Pid>,
    deadline: Instant,
    grace: Duration,
    stage: Stage,
}

impl Stopper {
    /// Starts the clock for the group led by `leader` (its pid is the group id).
    pub fn new(leader: u32, started: Instant, timeout: Duration, grace: Duration) -> Self {
        Stopper {
            group: i32::try_from(leader).ok().and_then(Pid::from_raw),
            // A timeout too large to add is as good as none.
            deadline: started
                .checked_add(timeout)
                .unwrap_or_else(|| started + Duration::from_secs(u32::MAX.into())),
            grace,
            stage: Stage::Running,
        }
    }

    /// Sends SIGTERM when the deadline has passed, SIGKILL when the grace period after the first
    /// signal (ours or a passed-on interrupt) has too. Call often while the script runs.
    pub fn tick(&mut self, now: Instant) {
        match self.stage {
            Stage::Running if now >= self.deadline => {
                self.signal(Signal::TERM);
                self.stage = Stage::Signalled(Why::Timeout, now);
            }
            Stage::Signalled(why, at) if now >= at + self.grace => {
                self.signal(Signal::KILL);
                self.stage = Stage::Killed(why);
            }
            _ => {}
        }
    }

    /// Passes `signal` on to the group, unless we are already stopping it; says whether it did.
    /// The grace period runs from now, as for a timeout.
    pub fn interrupt(&mut self, signal: StopSignal, now: Instant) -> bool {
        if self.stage != Stage::Running {
            return false;
        }
        let sig = match signal {
            StopSignal::Term => Signal::TERM,
            StopSignal::Int => Signal::INT,
        };
        self.signal(sig);
        self.stage = Stage::Signalled(Why::Interrupt(signal), now);
        true
    }

    /// Whether the script passed its timeout, and with which signal we stopped it last.
    pub fn stopped_with(&self) -> Option<i32> {
        match self.stage {
            Stage::Signalled(Why::Timeout, _) => Some(Signal::TERM.as_raw()),
            Stage::Killed(Why::Timeout) => Some(Signal::KILL.as_raw()),
            _ => None,
        }
    }

    /// The interrupting signal we passed on to the script, if we did.
    pub fn interrupted_by(&self) -> Option<StopSignal> {
        match self.stage {
            Stage::Signalled(Why::Interrupt(s), _) | Stage::Killed(Why::Interrupt(s)) => Some(s),
            _ => None,
        }
    }

    /// After the script itself has exited from our first signal: waits (polling every `poll`) for
    /// the rest of its group to go too, and SIGKILLs what is left when the grace period ends.
    ///
    /// That last SIGKILL does not change [`Stopper::stopped_with`], which describes the script itself.
    /// It may find only zombies waiting for init to reap them (kill(2) still "finds" those), so it is
    /// sent without asking whether anything was really left.
    pub fn finish(&self, poll: Duration) {
        let Stage::Signalled(_, at) = self.stage else {
            return;
        };
        while self.group_alive() && Instant::now() < at + self.grace {
            std::thread::sleep(poll);
        }
        if self.group_alive() {
            self.signal(Signal::KILL);
        }
    }

    fn group_alive(&self) -> bool {
        self.group
            .is_some_and(|group| test_kill_process_group(group).is_ok())
    }

    fn signal(&self, sig: Signal) {
        if let Some(group) = self.group {
            // ESRCH means the group is already gone, which is what we want.
            let _ = kill_process_group(group, sig);
        }
    }
}
