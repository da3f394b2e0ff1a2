//! Everything `bundle-bootstrap run` (and `watch`) was asked to do, as the library's types.

use std::path::PathBuf;
use std::time::Duration;

use crate::archive::Limits;
use crate::enc::Params;
use crate::fetch::FetchOptions;
use crate::progress::Progress;
use crate::runner::{Interrupt, RunOptions};
use crate::secret::{self, PassSpec};
use crate::sign::{ExpiryPolicy, Rollback, TrustedKey};

/// `--lock-wait`'s default.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(10 * 60);

/// Whether to run the modules or only show the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Fetch, verify, decrypt, unpack and run.
    Run,
    /// Everything up to the plan; run nothing, record nothing in the status.
    DryRun,
}

/// Everything `bundle-bootstrap run` was asked to do.
#[derive(Debug, Clone)]
pub struct BootOptions {
    /// Where the bundle is: https, http, s3, file URL or a path.
    pub url: String,
    /// The bundle name a signature must vouch for (`--name`); default: the URL's file stem.
    pub name: Option<String>,
    /// Where the passphrase comes from (`BUNDLE_PASSPHRASE` when absent).
    pub pass: Option<PassSpec>,
    /// How the bundle was encrypted (with `--pubkey`, the signed comment says instead).
    pub params: Params,
    /// Signature checks (`--pubkey`, `--allow-downgrade`, `--allow-expired`).
    pub signature: SignaturePolicy,
    /// The expected sha256 of the bundle file, lower-case hex.
    pub sha256: Option<String>,
    /// The state folder.
    pub state_dir: PathBuf,
    /// Download behaviour.
    pub fetch: FetchOptions,
    /// Unpack caps.
    pub limits: Limits,
    /// Extra `KEY=VALUE` pairs for the modules.
    pub env: Vec<(String, String)>,
    /// Time a script may run.
    pub module_timeout: Duration,
    /// Time between TERM and KILL.
    pub kill_grace: Duration,
    /// Time to wait for another run's lock.
    pub lock_wait: Duration,
    /// Run or only plan.
    pub mode: Mode,
    /// Command run after a successful run.
    pub on_success: Option<String>,
    /// Command run after a failed or interrupted run.
    pub on_failure: Option<String>,
    /// Raised by TERM or INT: the run stops at the next stage boundary, or passes it on to the
    /// running script ([`crate::runner`]).
    pub interrupt: Interrupt,
    /// Whether a boot whose fetch fails for good re-applies the last verified release.
    pub offline: Offline,
    /// Run log folders kept (`--keep-runs`), this run's among them.
    pub keep_runs: usize,
    /// Progress lines during the bundle's download and unpack (none by default).
    pub progress: Progress,
}

/// The offline fallback (`--no-offline`, `--offline-after DUR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offline {
    /// Fall back at all (default: yes).
    pub enabled: bool,
    /// Give up fetching this early when there is a release to fall back on (default: the whole
    /// `--retry-for`).
    pub after: Option<Duration>,
}

impl Default for Offline {
    fn default() -> Self {
        Offline {
            enabled: true,
            after: None,
        }
    }
}

/// What `--pubkey`, `--allow-downgrade` and `--allow-expired` ask for.
#[derive(Debug, Clone, Default)]
pub struct SignaturePolicy {
    /// Keys whose signatures are accepted (repeatable, for rotation); empty: no signature check.
    pub keys: Vec<TrustedKey>,
    /// Whether an older sequence number than the highest applied here is refused.
    pub rollback: Rollback,
    /// Whether an expired signature is refused.
    pub expiry: ExpiryPolicy,
    /// Whether decryption flags were given (a conflict with the signed ones is then logged).
    pub params_given: ParamsGiven,
}

/// Where the decryption flags came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParamsGiven {
    /// Nothing was given: the defaults.
    #[default]
    Defaults,
    /// `--cipher`, `--iter`, `--md` or `--legacy-kdf` was given.
    Flags,
}

impl BootOptions {
    /// The name a signature must carry: `--name`, else the URL's (a pointer's name, or the file
    /// name without its extension).
    pub fn expected_name(&self) -> &str {
        self.name
            .as_deref()
            .unwrap_or_else(|| crate::pointer::expected_name(&self.url))
    }

    /// How the modules run: environment (minus the passphrase's variable), timeouts.
    pub fn run_options(&self) -> RunOptions {
        RunOptions {
            env: self.env.clone(),
            strip_env: secret::secret_env_names(self.pass.as_ref()),
            module_timeout: self.module_timeout,
            kill_grace: self.kill_grace,
            interrupt: self.interrupt.clone(),
            ..RunOptions::default()
        }
    }
}
