//! `--module-timeout`: SIGTERM to a script's whole process group when its time is up, SIGKILL a grace
//! period later.
//!
//! Signals go to the group (`kill(-pgid, sig)`, kill(2)), not the script alone, so that a child it
//! started (`sleep 1000 & sleep 1000`) dies with it. Only groups we created (`process_group(0)`) are
//! ever signalled.

use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process_group, test_kill_process_group};

/// Where a script stands against its timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Still within its time.
    Running,
    /// SIGTERM sent at this instant.
    Terminated(Instant),
    /// SIGKILL sent.
    Killed,
}

/// Watches one process group's deadline and signals it when due.
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

    /// Sends SIGTERM when the deadline has passed, SIGKILL when the grace period after it has too.
    /// Call often while the script runs.
    pub fn tick(&mut self, now: Instant) {
        match self.stage {
            Stage::Running if now >= self.deadline => {
                self.signal(Signal::TERM);
                self.stage = Stage::Terminated(now);
            }
            Stage::Terminated(at) if now >= at + self.grace => {
                self.signal(Signal::KILL);
                self.stage = Stage::Killed;
            }
            _ => {}
        }
    }

    /// Whether we had to stop the script, and with which signal last.
    pub fn stopped_with(&self) -> Option<i32> {
        match self.stage {
            Stage::Running => None,
            Stage::Terminated(_) => Some(Signal::TERM.as_raw()),
            Stage::Killed => Some(Signal::KILL.as_raw()),
        }
    }

    /// After the script itself has exited from our SIGTERM: waits (polling every `poll`) for the rest of
    /// its group to go too, and SIGKILLs what is left when the grace period ends.
    ///
    /// That last SIGKILL does not change [`Stopper::stopped_with`], which describes the script itself.
    /// It may find only zombies waiting for init to reap them (kill(2) still "finds" those), so it is
    /// sent without asking whether anything was really left.
    pub fn finish(&self, poll: Duration) {
        let Stage::Terminated(at) = self.stage else {
            return;
        };
        while self.group_alive() && Instant::now() < at + self.grace {
            std::thread::sleep(poll);
        }
        if self.group_alive() {
            self.signal(Signal::KILL);
        }
    }

    /// Whether anything is left in the group (kill(2) with signal 0 also finds zombies).
    pub fn group_alive(&self) -> bool {
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
