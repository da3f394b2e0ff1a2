//! `bundle try DIR`: what an instance would do, on a laptop. Reads the personality and says what
//! the run is about to do to this host ([`host`]), and goes on only when the caller agrees; then
//! packs it with a throwaway passphrase (signed and published behind a `NAME.latest` pointer with
//! `--sign`), serves it on 127.0.0.1 with a real HTTP server, and runs the real `bundle-bootstrap`
//! against that URL into a scratch state folder (or a given one), streaming its output and
//! returning its exit status.
//!
//! The bootstrap's command line is built once ([`command`]) and both printed and run, so the line
//! shown is the command run: the passphrase goes through a private file named by `--pass file:`,
//! never the argument list or a hidden variable. The scratch folder is removed after a run that
//! succeeded, unless kept; after a failure it stays, logs and all.

pub mod command;
pub mod host;

use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::archive::Compression;
use crate::enc::{Armor, Params};
use crate::exit::{Classify, Exit};
use crate::fsutil::{self, Overwrite, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE};
use crate::pack::{self, PackError, PackRequest, SignWith};
use crate::personality::{self, Libraries};
use crate::publish::{self, Folder, PublishError};
use crate::scratch::ScratchDir;
use crate::secret::{self, Passphrase};
use crate::serve::Server;

pub use command::BootCommand;
pub use host::{HostChanges, RunAs};

/// The scratch folder's file that holds the throwaway passphrase (mode 0600).
pub const PASSPHRASE_FILE: &str = "passphrase";
/// The scratch folder's state folder, when no `--state-dir` is given.
pub const STATE_FOLDER: &str = "state";

/// How a failure to make the scratch folder names it.
const SCRATCH: &str = "a scratch folder";

/// Whether the scratch folder survives a run that succeeded (after a failure it always does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Remove it (the default).
    Remove,
    /// Keep it, to look at the state folder, logs and unpacked release (`--keep`).
    Keep,
}

/// What the caller decided after reading the announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// Go on.
    Go,
    /// The user said no.
    Declined,
    /// Nobody could be asked (no terminal) and nothing said yes beforehand.
    NoTerminal,
}

/// What `bundle try` was asked to do.
#[derive(Debug, Clone)]
pub struct TryOptions {
    /// The personality folder.
    pub dir: PathBuf,
    /// Module library folders; the library built into `bundle` comes last.
    pub libraries: Vec<PathBuf>,
    /// Container parameters of the throwaway bundle.
    pub params: Params,
    /// `KEY=VALUE` pairs passed to the modules.
    pub env: Vec<(String, String)>,
    /// Extra flags handed to `bundle-bootstrap run` as they are (`--module-timeout 5m`, …).
    pub bootstrap_args: Vec<String>,
    /// Keep the scratch folder after a run that succeeded.
    pub keep: Keep,
    /// The state folder to run into (a second try on the same state); None: a fresh one in the
    /// scratch folder.
    pub state_dir: Option<PathBuf>,
    /// The `bundle-bootstrap` program to run.
    pub bootstrap: PathBuf,
}

/// How a try ended (the bootstrap ran).
#[derive(Debug)]
pub struct TryOutcome {
    /// The bootstrap's exit status (None when killed by a signal).
    pub code: Option<i32>,
    /// The scratch folder, when kept (asked for, or the run failed).
    pub kept: Option<PathBuf>,
    /// The state folder the bootstrap ran into (gone with the scratch folder unless kept or given).
    pub state: PathBuf,
}

impl TryOutcome {
    /// Whether the bootstrap exited 0.
    pub fn succeeded(&self) -> bool {
        self.code == Some(0)
    }
}

/// Why a try could not even start the bootstrap.
#[derive(Debug, thiserror::Error)]
pub enum TryError {
    /// Packing failed.
    #[error(transparent)]
    Pack(#[from] PackError),
    /// Publishing the signed bundle behind its pointer (`--sign`) failed.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// The run would change this host and nobody could agree to it.
    #[error("not running: this try would change this host ({}) and there is no terminal to ask", .0.join("; "))]
    NoConsent(Vec<String>),
    /// The user said no.
    #[error("not running: nothing was changed")]
    Declined,
    /// No throwaway passphrase could be made.
    #[error("cannot make a throwaway passphrase: {0}")]
    Random(String),
    /// The scratch folder or the server could not be set up.
    #[error("cannot set up {what}")]
    Setup {
        /// What failed.
        what: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl Classify for TryError {
    fn exit(&self) -> Exit {
        match self {
            TryError::Pack(e) => e.exit(),
            TryError::Publish(e) => e.exit(),
            _ => Exit::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            TryError::Pack(e) => e.hint(),
            TryError::Publish(e) => e.hint(),
            TryError::NoConsent(_) => Some(
                "read what it would do above, then pass --yes to go on (or try it in a throwaway VM or container)"
                    .to_string(),
            ),
            TryError::Setup { what, .. } if what.contains("bundle-bootstrap") => {
                Some("install bundle-bootstrap beside bundle, or put it on PATH".to_string())
            }
            TryError::Setup { what, .. } if what == SCRATCH => Some(
                "check that the temp folder ($TMPDIR, else /tmp) is writable and not full"
                    .to_string(),
            ),
            _ => None,
        }
    }
}

/// Finds `bundle-bootstrap` beside the running program, else on PATH.
pub fn find_bootstrap() -> PathBuf {
    const NAME: &str = "bundle-bootstrap";
    if let Ok(me) = std::env::current_exe() {
        let beside = me.with_file_name(NAME);
        if beside.is_file() {
            return beside;
        }
    }
    PathBuf::from(NAME)
}

/// Says what the run would do to this host and asks `confirm`; then packs (and with `sign`, signs
/// and publishes behind a pointer), serves and boots the personality. Log lines go through `log`.
pub fn try_personality(
    opts: &TryOptions,
    sign: Option<&SignWith<'_>>,
    confirm: &mut dyn FnMut(&HostChanges) -> Consent,
    log: &mut dyn FnMut(&str),
) -> Result<TryOutcome, TryError> {
    let name = {
        // Lives while the scripts are read: the built-in library's modules are read from it.
        let libraries = Libraries::with_builtin(opts.libraries.clone());
        let found = personality::load(&opts.dir, &libraries).map_err(PackError::from)?;
        let changes = HostChanges::scan(&found.modules, RunAs::current());
        match confirm(&changes) {
            Consent::Go => {}
            Consent::Declined => return Err(TryError::Declined),
            Consent::NoTerminal => return Err(TryError::NoConsent(changes.reasons())),
        }
        found.name
    };

    let setup = |what: &Path| {
        let what = what.display().to_string();
        move |source| TryError::Setup { what, source }
    };
    let scratch = ScratchDir::create("bundle-try-").map_err(|source| TryError::Setup {
        what: SCRATCH.into(),
        source,
    })?;
    let served = scratch.path().join("www");
    let state = match &opts.state_dir {
        // Absolute: the modules run in their own folders and read it from BUNDLE_STATE_DIR.
        Some(dir) => std::path::absolute(dir).map_err(setup(dir))?,
        None => scratch.path().join(STATE_FOLDER),
    };
    let mut folders = vec![&served];
    if opts.state_dir.is_none() {
        folders.push(&state);
    }
    for dir in folders {
        fs::DirBuilder::new()
            .mode(PRIVATE_DIR_MODE)
            .create(dir)
            .map_err(setup(dir))?;
    }
    let generated = secret::generate_passphrase().map_err(|e| TryError::Random(e.to_string()))?;
    let pass_file = scratch.path().join(PASSPHRASE_FILE);
    fsutil::atomic_write(
        &pass_file,
        format!("{}\n", generated.as_str()).as_bytes(),
        PRIVATE_FILE_MODE,
    )
    .map_err(setup(&pass_file))?;
    let pass = Passphrase::from_bytes(generated.as_bytes().to_vec());

    let file = format!("{name}.bundle");
    let output = match sign {
        // Signed: built aside, then published into the served folder as a release and a pointer.
        Some(_) => scratch.path().join(&file),
        None => served.join(&file),
    };
    let req = PackRequest {
        dir: opts.dir.clone(),
        libraries: opts.libraries.clone(),
        output,
        params: opts.params,
        armor: Armor::Binary,
        compression: Compression::Gzip,
        overwrite: Overwrite::Refuse,
        threads: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        pass_arg: None,
    };
    let packed = pack::pack_signed(&req, &pass, sign, &|_| {})?;
    for warning in &packed.warnings {
        log(&format!("warning: {warning}"));
    }
    let server = Server::start(&served).map_err(|source| TryError::Setup {
        what: "the loopback server".into(),
        source,
    })?;

    let mut boot = BootCommand::new(opts.bootstrap.clone());
    boot.arg("run");
    match (sign, &packed.signature) {
        (Some(with), Some(signed)) => {
            let published = publish::publish(&Folder::new(&served), &packed.output)?;
            let url = server.url(&published.pointer_key);
            log(&format!(
                "packed {} and signed it with key {} (seq {}), published it at {url}",
                packed.manifest.name, signed.key_id, signed.facts.seq
            ));
            // As an instance boots from its user-data: the pointer and the public key; the
            // signed pointer names the release and the parameters that open it.
            boot.arg(url).arg("--pubkey").arg(with.key.public_key());
        }
        _ => {
            let url = server.url(&file);
            log(&format!(
                "packed {} ({} bytes), serving it at {url}",
                packed.manifest.name, packed.size
            ));
            boot.arg(url).arg("--sha256").arg(&packed.sha256);
            for arg in params_args(&opts.params) {
                boot.arg(arg);
            }
        }
    }
    let mut pass_arg = std::ffi::OsString::from("file:");
    pass_arg.push(&pass_file);
    boot.arg("--pass").arg(pass_arg);
    // The scratch folder's own configuration: never this machine's /etc/startup-bundle.
    boot.arg("--config")
        .arg(scratch.path().join("bootstrap.toml"))
        .arg("--state-dir")
        .arg(&state);
    for (k, v) in &opts.env {
        boot.arg("--env").arg(format!("{k}={v}"));
    }
    for arg in &opts.bootstrap_args {
        boot.arg(arg);
    }
    boot.bypass_proxy();
    log(&format!("running: {}", boot.shell_line()));
    let status = boot.command().status().map_err(|source| TryError::Setup {
        what: format!("{} (bundle-bootstrap)", opts.bootstrap.display()),
        source,
    })?;
    drop(server);
    let kept = (opts.keep == Keep::Keep || !status.success()).then(|| scratch.keep());
    Ok(TryOutcome {
        code: status.code(),
        kept,
        state,
    })
}

/// The decryption flags that describe `params` to the bootstrap.
fn params_args(params: &Params) -> Vec<String> {
    let mut args = vec![
        "--cipher".to_string(),
        params.cipher.to_string(),
        "--md".to_string(),
        params.digest.to_string(),
    ];
    match params.kdf {
        crate::enc::Kdf::Pbkdf2 { iterations } => {
            args.extend(["--iter".to_string(), iterations.to_string()])
        }
        crate::enc::Kdf::Legacy => args.push("--legacy-kdf".to_string()),
    }
    args
}
