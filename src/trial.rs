//! `bundle try DIR`: what an instance would do, on a laptop. Packs the personality with a throwaway
//! passphrase, serves it on 127.0.0.1 with a real HTTP server, and runs the real `bundle-bootstrap`
//! against that URL into a scratch state folder, streaming its output and returning its exit status.

use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::process::Command;

use crate::archive::Compression;
use crate::enc::{Armor, Params};
use crate::exit::{Classify, Exit};
use crate::fsutil::Overwrite;
use crate::pack::{self, PackError, PackRequest};
use crate::scratch::ScratchDir;
use crate::secret::{self, PASSPHRASE_VAR, Passphrase};
use crate::serve::Server;

/// Whether the scratch folder survives the try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Remove it (the default).
    Remove,
    /// Keep it, to look at the state folder, logs and unpacked release (`--keep`).
    Keep,
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
    /// Keep the scratch folder.
    pub keep: Keep,
    /// The `bundle-bootstrap` program to run.
    pub bootstrap: PathBuf,
}

/// How a try ended (the bootstrap ran).
#[derive(Debug)]
pub struct TryOutcome {
    /// The bootstrap's exit status (None when killed by a signal).
    pub code: Option<i32>,
    /// The scratch folder, when kept.
    pub kept: Option<PathBuf>,
}

/// Why a try could not even start the bootstrap.
#[derive(Debug, thiserror::Error)]
pub enum TryError {
    /// Packing failed.
    #[error(transparent)]
    Pack(#[from] PackError),
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
            _ => Exit::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            TryError::Pack(e) => e.hint(),
            TryError::Setup { what, .. } if what.contains("bundle-bootstrap") => {
                Some("install bundle-bootstrap beside bundle, or put it on PATH".to_string())
            }
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

/// Packs, serves and boots the personality; log lines go through `log`.
pub fn try_personality(
    opts: &TryOptions,
    log: &mut dyn FnMut(&str),
) -> Result<TryOutcome, TryError> {
    let scratch = ScratchDir::create("bundle-try-").map_err(|source| TryError::Setup {
        what: "a scratch folder".into(),
        source,
    })?;
    let served = scratch.path().join("www");
    let state = scratch.path().join("state");
    for dir in [&served, &state] {
        fs::DirBuilder::new()
            .mode(crate::fsutil::PRIVATE_DIR_MODE)
            .create(dir)
            .map_err(|source| TryError::Setup {
                what: dir.display().to_string(),
                source,
            })?;
    }
    let generated = secret::generate_passphrase().map_err(|e| TryError::Random(e.to_string()))?;
    let pass = Passphrase::from_bytes(generated.as_bytes().to_vec());
    let name = opts
        .dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    let file = format!(
        "{}.bundle",
        name.unwrap_or_else(|| "personality".to_string())
    );
    let req = PackRequest {
        dir: opts.dir.clone(),
        libraries: opts.libraries.clone(),
        output: served.join(&file),
        params: opts.params,
        armor: Armor::Binary,
        compression: Compression::Gzip,
        overwrite: Overwrite::Refuse,
        threads: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        pass_arg: None,
    };
    let packed = pack::pack(&req, &pass, &|_| {})?;
    for warning in &packed.warnings {
        log(&format!("warning: {warning}"));
    }
    let server = Server::start(&served).map_err(|source| TryError::Setup {
        what: "the loopback server".into(),
        source,
    })?;
    let url = server.url(&file);
    log(&format!(
        "packed {} ({} bytes), serving it at {url}",
        packed.manifest.name, packed.size
    ));

    let mut cmd = Command::new(&opts.bootstrap);
    cmd.arg("run")
        .arg(&url)
        // The scratch folder's own configuration: never this machine's /etc/startup-bundle.
        .arg("--config")
        .arg(scratch.path().join("bootstrap.toml"))
        .arg("--state-dir")
        .arg(&state)
        .arg("--sha256")
        .arg(&packed.sha256);
    cmd.args(params_args(&opts.params));
    for (k, v) in &opts.env {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    cmd.args(&opts.bootstrap_args);
    // The passphrase goes through the environment, never the argument list; the bootstrap strips it
    // from every module's environment.
    cmd.env(PASSPHRASE_VAR, generated.as_str());
    // The server is on loopback: a proxy from the user's environment must not take the request.
    let no_proxy = std::env::var("NO_PROXY")
        .map(|v| format!("{v},127.0.0.1"))
        .unwrap_or_else(|_| "127.0.0.1".into());
    cmd.env("NO_PROXY", no_proxy);
    log(&format!(
        "running {} run {url} --state-dir {}",
        opts.bootstrap.display(),
        state.display()
    ));
    let status = cmd.status().map_err(|source| TryError::Setup {
        what: format!("{} (bundle-bootstrap)", opts.bootstrap.display()),
        source,
    })?;
    drop(server);
    let kept = match opts.keep {
        Keep::Keep => Some(scratch.keep()),
        Keep::Remove => None,
    };
    Ok(TryOutcome {
        code: status.code(),
        kept,
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
