//! The runner's own lines about each script, for the boot log: one when it begins, one when it
//! ends with its exit status and how long it ran. Wording only; the caller's `log` adds the time
//! and the program's name.

use std::time::Duration;

use crate::duration::human;

use super::Phase;
use super::error::{RunError, ScriptOutcome, signal_text};
use super::hooks::Outcome;

/// `begin 10-java init (step 1 of 4)`.
pub fn begin(module: &str, phase: Phase, step: usize, steps: usize) -> String {
    format!("begin {module} {phase} (step {step} of {steps})")
}

/// `end 10-java init: exit 0 after 3.1s`.
pub fn end(module: &str, phase: Phase, outcome: ScriptOutcome, ran: Duration) -> String {
    format!(
        "end {module} {phase}: {} after {}",
        short(outcome),
        human(ran)
    )
}

/// `end 10-java init: not started`: the script could not be run at all (the error says why).
pub fn not_started(module: &str, phase: Phase) -> String {
    format!("end {module} {phase}: not started")
}

/// `begin hook (failure)`: the after-run hook, named by the outcome it reports (its command may
/// hold a token, so it is not shown).
pub fn hook_begin(outcome: Outcome) -> String {
    format!("begin hook ({})", outcome.as_str())
}

/// `end hook: exit 0 after 0.1s`, from what [`super::run_hook`] returned after `ran`.
pub fn hook_end(result: &Result<(), RunError>, ran: Duration) -> String {
    match result {
        Ok(()) => format!(
            "end hook: {} after {}",
            short(ScriptOutcome::Exited(0)),
            human(ran)
        ),
        Err(RunError::HookFailed { ended, .. }) => format!(
            "end hook: {} after {}",
            short(ended.outcome),
            human(ended.duration)
        ),
        Err(_) => "end hook: not started".to_string(),
    }
}

/// How a script ended, in a few words: `exit 3`, `killed by signal 9 (SIGKILL)`,
/// `timed out (limit 30m00s), stopped with signal 15 (SIGTERM)`.
fn short(outcome: ScriptOutcome) -> String {
    match outcome {
        ScriptOutcome::Exited(code) => format!("exit {code}"),
        ScriptOutcome::Signaled(sig) => format!("killed by {}", signal_text(sig)),
        ScriptOutcome::TimedOut { after, signal } => format!(
            "timed out (limit {}), stopped with {}",
            human(after),
            signal_text(signal)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_the_script_its_status_and_its_time() {
        assert_eq!(
            begin("10-java", Phase::Init, 1, 4),
            "begin 10-java init (step 1 of 4)"
        );
        let ran = Duration::from_millis(3100);
        assert_eq!(
            end("10-java", Phase::Start, ScriptOutcome::Exited(0), ran),
            "end 10-java start: exit 0 after 3.1s"
        );
        assert_eq!(
            end("x", Phase::Start, ScriptOutcome::Signaled(9), ran),
            "end x start: killed by signal 9 (SIGKILL) after 3.1s"
        );
        let timed_out = ScriptOutcome::TimedOut {
            after: Duration::from_secs(60),
            signal: 15,
        };
        let failed = Err(RunError::HookFailed {
            cmd: "notify".into(),
            ended: Box::new(crate::runner::Ended {
                outcome: timed_out,
                duration: Duration::from_secs(61),
                tail: Vec::new(),
                log: "hook.log".into(),
            }),
        });
        assert_eq!(
            hook_end(&failed, Duration::ZERO),
            "end hook: timed out (limit 1m00s), stopped with signal 15 (SIGTERM) after 1m01s"
        );
        assert_eq!(hook_begin(Outcome::Failure), "begin hook (failure)");
        assert_eq!(hook_end(&Ok(()), ran), "end hook: exit 0 after 3.1s");
    }
}
