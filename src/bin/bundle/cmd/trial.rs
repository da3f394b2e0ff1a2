//! `bundle try DIR`: asks before a run that changes this host, prints where a kept state is and
//! the command that runs the same try on it again.

use std::ffi::OsString;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use startup_bundle::cli::{CipherFlags, Dur, EnvVar, Failure};
use startup_bundle::enc::{Cipher, Digest};
use startup_bundle::secret::{PassSpec, Prompt};
use startup_bundle::sign::{self, SigningKey};
use startup_bundle::{pack, runner, shell, trial};

use super::{Ctx, LibraryFlags};

/// `try`'s flags.
#[derive(Debug, Clone, clap::Args)]
pub struct TryArgs {
    /// The personality folder
    pub dir: PathBuf,
    /// Go on without asking, even when the run changes this host (runs as root, runs library
    /// modules, installs packages or starts services)
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Keep the scratch folder (bundle, logs, unpacked release, state) after a run that succeeded;
    /// a failed run always keeps it
    #[arg(long)]
    pub keep: bool,
    /// Run into this state folder instead of a fresh one: a second try on a kept state shows what
    /// a later boot does (init records honoured, start run again)
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Sign the bundle with this minisign secret key, publish it behind a NAME.latest pointer and
    /// boot from the pointer with --pubkey, as an instance does
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
    /// Password source for the --sign key: pass:TEXT, env:VAR, file:PATH, fd:N or stdin [default: ask]
    #[arg(long, value_name = "SPEC", requires = "sign")]
    pub key_pass: Option<PassSpec>,
    /// KEY=VALUE for every module's environment (repeatable)
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<EnvVar>,
    /// PBKDF2 iterations of the throwaway bundle [default: 600000]
    #[arg(long, value_name = "N")]
    pub iter: Option<u32>,
    /// Time one script may run
    #[arg(long, value_name = "DUR", default_value_t = Dur(runner::DEFAULT_MODULE_TIMEOUT))]
    pub module_timeout: Dur,
    /// Where library modules come from.
    #[command(flatten)]
    pub library: LibraryFlags,
}

impl TryArgs {
    /// Packs, serves and boots the personality; ends with the bootstrap's own exit status.
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode, Failure> {
        let params = CipherFlags {
            cipher: Cipher::default(),
            iter: self.iter,
            md: Digest::default(),
            legacy_kdf: false,
        }
        .params()?;
        let key = match &self.sign {
            Some(path) => Some(self.open_key(ctx, path)?),
            None => None,
        };
        let signing = key.as_ref().map(|key| pack::SignWith {
            key,
            seq: startup_bundle::date::now_unix(),
            expires: None,
        });
        let opts = trial::TryOptions {
            libraries: self.library.libraries(),
            params,
            env: self.env.iter().map(EnvVar::pair).collect(),
            bootstrap_args: vec![
                "--module-timeout".to_string(),
                self.module_timeout.to_string(),
            ],
            keep: if self.keep {
                trial::Keep::Keep
            } else {
                trial::Keep::Remove
            },
            state_dir: self.state_dir.clone(),
            bootstrap: trial::find_bootstrap(),
            dir: self.dir.clone(),
        };
        let say = |line: &str| eprintln!("{} try: {line}", ctx.program);
        let outcome = trial::try_personality(
            &opts,
            signing.as_ref(),
            &mut |changes| self.consent(changes, ctx.program, &say),
            &mut |line| say(line),
        )?;
        if let Some(kept) = &outcome.kept {
            let why = if outcome.succeeded() {
                "kept"
            } else {
                "the run failed; kept"
            };
            say(&format!(
                "{why} the scratch folder {} (the bundle, the passphrase file, bootstrap.toml)",
                kept.display()
            ));
        }
        if outcome.kept.is_some() || self.state_dir.is_some() {
            let state = &outcome.state;
            say(&format!(
                "state folder {} (run logs in {})",
                state.display(),
                state.join("logs").display()
            ));
            say(&format!(
                "to try it again on this state: {}",
                self.again_on(state.clone())
            ));
        }
        match outcome.code {
            Some(code) => Ok(ExitCode::from(u8::try_from(code).unwrap_or(1))),
            None => Err(Failure::usage("bundle-bootstrap was killed by a signal")),
        }
    }

    /// Opens the `--sign` key, asking its password on the terminal only if it is sealed.
    fn open_key(&self, ctx: &Ctx, path: &std::path::Path) -> Result<SigningKey, Failure> {
        Ok(SigningKey::open(path, || {
            if self.key_pass.is_none() {
                ctx.say(&format!(
                    "the secret key {} is sealed; its password:",
                    path.display()
                ));
            }
            sign::create::key_password(self.key_pass.as_ref(), Prompt::Once)
        })?)
    }

    /// Prints what the run would do; decides whether to go on: without a reason to ask, or with
    /// --yes, at once; on a terminal, by asking; otherwise not.
    fn consent(
        &self,
        changes: &trial::HostChanges,
        program: &str,
        say: &dyn Fn(&str),
    ) -> trial::Consent {
        for line in changes.describe() {
            say(&line);
        }
        if !changes.needs_consent() || self.yes {
            return trial::Consent::Go;
        }
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return trial::Consent::NoTerminal;
        }
        eprint!("{} try: go on, on this host? [y/N] ", program);
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        if stdin.lock().read_line(&mut answer).is_err() {
            return trial::Consent::Declined;
        }
        match answer.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => trial::Consent::Go,
            _ => trial::Consent::Declined,
        }
    }

    /// The command line that runs this same try on `state`, as this program was started.
    fn again_on(&self, state: PathBuf) -> String {
        let program = std::env::current_exe()
            .map(PathBuf::into_os_string)
            .unwrap_or_else(|_| OsString::from("bundle"));
        let again = TryArgs {
            state_dir: Some(state),
            // The state stays where it is; the new scratch folder need not.
            keep: false,
            ..self.clone()
        };
        std::iter::once(program)
            .chain(again.to_args())
            .map(|w| shell::quote(&w.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The arguments that parse back into these flags (a `--key-pass pass:…` left out: it is
    /// never printed, and the key's password is then asked again).
    fn to_args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["try".into(), self.dir.clone().into()];
        let mut flag = |name: &str, value: Option<OsString>| {
            args.push(format!("--{name}").into());
            args.extend(value);
        };
        if self.yes {
            flag("yes", None);
        }
        if self.keep {
            flag("keep", None);
        }
        if let Some(dir) = &self.state_dir {
            flag("state-dir", Some(dir.clone().into()));
        }
        if let Some(key) = &self.sign {
            flag("sign", Some(key.clone().into()));
        }
        if let Some(spec) = self.key_pass.as_ref().and_then(PassSpec::openssl_arg) {
            flag("key-pass", Some(spec.into()));
        }
        for var in &self.env {
            flag("env", Some(var.to_string().into()));
        }
        if let Some(n) = self.iter {
            flag("iter", Some(n.to_string().into()));
        }
        if self.module_timeout.0 != runner::DEFAULT_MODULE_TIMEOUT {
            flag(
                "module-timeout",
                Some(self.module_timeout.to_string().into()),
            );
        }
        for dir in &self.library.modules_path {
            flag("modules-path", Some(dir.clone().into()));
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, clap::Parser)]
    struct Top {
        #[command(subcommand)]
        cmd: Sub,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Sub {
        Try(TryArgs),
    }

    fn parse(args: &[&str]) -> TryArgs {
        let Sub::Try(t) =
            Top::parse_from(std::iter::once("bundle").chain(args.iter().copied())).cmd;
        t
    }

    #[test]
    fn the_flags_print_back_as_they_parse() {
        let given = parse(&[
            "try",
            "my dir",
            "--yes",
            "--keep",
            "--state-dir",
            "/s",
            "--sign",
            "k.key",
            "--key-pass",
            "env:KP",
            "--env",
            "A=b c",
            "--env",
            "B=",
            "--iter",
            "7",
            "--module-timeout",
            "5m",
            "--modules-path",
            "/lib1",
            "--modules-path",
            "lib2",
        ]);
        let args: Vec<String> = given
            .to_args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let again = parse(&refs);
        assert_eq!(format!("{again:?}"), format!("{given:?}"));
    }

    #[test]
    fn a_literal_key_password_is_never_printed() {
        let given = parse(&["try", "d", "--sign", "k", "--key-pass", "pass:hunter2"]);
        let line = given.again_on(PathBuf::from("/s"));
        assert!(!line.contains("hunter2"), "{line}");
        assert!(line.contains("--state-dir /s"), "{line}");
    }
}
