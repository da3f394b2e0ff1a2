//! Why a boot failed, by stage, with the exit status of the contract and what to do next.

use crate::archive::ArchiveError;
use crate::exit::{Classify, Exit};
use crate::fetch::FetchError;
use crate::open::OpenError;
use crate::personality::PlanError;
use crate::runner::{RunError, StopSignal};
use crate::secret::SecretError;
use crate::sign::VerifyError;
use crate::state::{Stage, StateError};

/// Why a boot failed, by stage.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    /// The state folder is unsafe, unwritable, or held by another run.
    #[error(transparent)]
    State(#[from] StateError),
    /// No passphrase.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The download failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// A release pointer (`NAME.latest`) was given without `--pubkey`: it is only a signature.
    #[error("{url} is a release pointer; it can only be followed with --pubkey")]
    UnsignedPointer {
        /// The (redacted) pointer URL.
        url: String,
    },
    /// The downloaded file is not the one pinned with `--sha256`.
    #[error("the bundle from {url} has sha256 {actual}, not the pinned {expected}")]
    Checksum {
        /// The (redacted) URL.
        url: String,
        /// What `--sha256` said.
        expected: String,
        /// What was downloaded.
        actual: String,
    },
    /// The signature is missing, bad, from an unknown key, expired, for another bundle, or older
    /// than the floor.
    #[error(transparent)]
    Signature(#[from] VerifyError),
    /// Decryption or unpacking failed.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The unpacked bundle has no runnable plan.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// `rerun`/`rollback` (or an offline boot) found no such release kept on this machine.
    #[error("no {what} is kept on this machine (kept: {kept})")]
    NotKept {
        /// What was looked for.
        what: String,
        /// The releases kept, one line.
        kept: String,
    },
    /// A kept release's folder no longer matches what was verified and unpacked.
    #[error("the kept release {sha256} changed since it was verified here; it is not applied")]
    Changed {
        /// Its sha256.
        sha256: String,
    },
    /// A module failed, or the run was interrupted while scripts ran (boxed: it carries the
    /// output tail).
    #[error(transparent)]
    Run(Box<RunError>),
    /// A TERM or INT arrived while no script ran (fetching, verifying, unpacking): the run stopped
    /// at the next stage boundary. Exit 143 or 130.
    #[error("stopped by {signal} before the {} stage", stage_name(*before))]
    Interrupted {
        /// The signal.
        signal: StopSignal,
        /// The stage that did not start.
        before: Stage,
    },
}

/// A stage as the interruption message names it.
fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Start => "start",
        Stage::Fetch => "fetch",
        Stage::Verify => "verify",
        Stage::Unpack => "decrypt and unpack",
        Stage::Plan => "plan",
        Stage::Run => "run",
        Stage::Done => "last",
    }
}

impl Classify for BootError {
    fn exit(&self) -> Exit {
        match self {
            BootError::State(e) => e.exit(),
            BootError::Secret(e) => e.exit(),
            BootError::Fetch(e) => e.exit(),
            BootError::Checksum { .. } => Exit::Verify,
            BootError::UnsignedPointer { .. } => Exit::Usage,
            BootError::Signature(e) => e.exit(),
            BootError::Open(e) => e.exit(),
            BootError::Plan(e) => e.exit(),
            BootError::Run(e) => e.exit(),
            BootError::NotKept { .. } => Exit::Usage,
            BootError::Changed { .. } => Exit::Archive,
            BootError::Interrupted { signal, .. } => signal.exit(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            BootError::State(e) => e.hint(),
            BootError::Secret(e) => e.hint(),
            BootError::Fetch(e) => e.hint(),
            BootError::UnsignedPointer { .. } => Some(
                "pass --pubkey with the publisher's public key (repeatable during a key rotation)"
                    .into(),
            ),
            BootError::Checksum { .. } => Some(
                "the file changed since it was pinned: republish and update --sha256, or check who can write to it"
                    .into(),
            ),
            BootError::Signature(e) => e.hint(),
            BootError::Open(e) => e.hint(),
            BootError::Plan(e) => e.hint(),
            BootError::Run(e) => e.hint(),
            BootError::NotKept { .. } => Some(
                "run bundle-bootstrap run URL to fetch it again (this machine keeps the last 3 releases)"
                    .into(),
            ),
            BootError::Changed { .. } => Some(
                "something wrote into the release folder: run bundle-bootstrap run URL to fetch it again"
                    .into(),
            ),
            BootError::Interrupted { .. } => {
                Some("nothing ran: run bundle-bootstrap again to apply the bundle".into())
            }
        }
    }
}

impl BootError {
    /// The module that failed, when a module failed.
    pub fn failed_module(&self) -> Option<&str> {
        match self {
            BootError::Run(e) => e.failed_module(),
            _ => None,
        }
    }

    /// The signal that stopped the run, when one did (exit 143 or 130, recorded as interrupted).
    pub fn interrupted(&self) -> Option<StopSignal> {
        match self {
            BootError::Interrupted { signal, .. } => Some(*signal),
            BootError::Run(e) => e.interrupted(),
            _ => None,
        }
    }

    /// Whether another run holds the state folder: that run's result is what hooks and status
    /// report, not this one's.
    pub fn is_locked(&self) -> bool {
        matches!(self, BootError::State(e) if e.is_locked())
    }
}

impl From<RunError> for BootError {
    fn from(e: RunError) -> Self {
        match e {
            RunError::State(e) => BootError::State(e),
            e => BootError::Run(Box::new(e)),
        }
    }
}

impl From<ArchiveError> for BootError {
    fn from(e: ArchiveError) -> Self {
        BootError::Open(OpenError::Archive(e))
    }
}
