//! `bundle`: the publisher's tool. Parses flags, calls one library function, prints, exits with the
//! contract's status. Every decision lives in the library.

#[path = "cli_common.rs"]
mod cli_common;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cli_common::{DecryptFlags, Progress, fail, parse, usage};
use startup_bundle::archive::{Compression, Limits};
use startup_bundle::enc::{Armor, Cipher, Digest};
use startup_bundle::exit::Exit;
use startup_bundle::publish::{self, Overwrite, PackRequest};
use startup_bundle::secret::{self, Prompt};
use startup_bundle::{inspect, personality, size, trial};

const PROGRAM: &str = "bundle";

/// Make encrypted start-up bundles from personality folders, and open them again.
#[derive(Debug, Parser)]
#[command(name = "bundle", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a personality folder and list every problem found
    Check {
        /// The personality folder
        dir: PathBuf,
        /// Module library folders, searched in order [default: $BUNDLE_MODULES_PATH, else ./modules]
        #[arg(long = "modules-path", value_name = "DIR")]
        modules_path: Vec<PathBuf>,
    },
    /// Pack and encrypt a personality folder into one bundle file
    Pack {
        /// The personality folder
        dir: PathBuf,
        /// The bundle file to write
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Passphrase source: pass:TEXT, env:VAR, file:PATH, fd:N or stdin [default: $BUNDLE_PASSPHRASE, else ask]
        #[arg(long, value_name = "SPEC")]
        pass: Option<secret::PassSpec>,
        /// Cipher: aes-256-cbc, aes-192-cbc or aes-128-cbc
        #[arg(long, value_name = "CIPHER", default_value_t = Cipher::default())]
        cipher: Cipher,
        /// PBKDF2 iterations [default: 600000]
        #[arg(long, value_name = "N")]
        iter: Option<u32>,
        /// Digest of the key derivation: sha256, sha512, sha1 or md5
        #[arg(long, value_name = "DIGEST", default_value_t = Digest::default())]
        md: Digest,
        /// Legacy EVP_BytesToKey key derivation (only for old tooling; weak)
        #[arg(long)]
        legacy_kdf: bool,
        /// Payload compression: gzip, zstd or none
        #[arg(long, value_name = "C", default_value_t = Compression::default())]
        compression: Compression,
        /// Write base64 text (`openssl enc -a`) instead of binary
        #[arg(long)]
        base64: bool,
        /// Replace FILE if it exists
        #[arg(long)]
        force: bool,
        /// Compression threads [default: all cores]
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
        /// Module library folders, searched in order [default: $BUNDLE_MODULES_PATH, else ./modules]
        #[arg(long = "modules-path", value_name = "DIR")]
        modules_path: Vec<PathBuf>,
    },
    /// Decrypt and unpack a bundle into DIR (as `tar -C DIR` would), running nothing
    Unpack {
        /// The bundle file
        file: PathBuf,
        /// The folder to unpack into (created if missing)
        #[arg(short = 'C', long = "directory", value_name = "DIR")]
        dir: PathBuf,
        #[command(flatten)]
        decrypt: DecryptFlags,
        /// Refuse bundles that unpack to more than this
        #[arg(long, value_name = "SIZE", value_parser = size::parse, default_value = "4G")]
        max_unpacked: u64,
    },
    /// Show a bundle's name, version and modules in run order, running nothing
    Inspect {
        /// The bundle file
        file: PathBuf,
        #[command(flatten)]
        decrypt: DecryptFlags,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
        /// Refuse bundles that unpack to more than this
        #[arg(long, value_name = "SIZE", value_parser = size::parse, default_value = "4G")]
        max_unpacked: u64,
    },
    /// Pack, serve on 127.0.0.1 and boot a personality with the real bundle-bootstrap, as an instance would
    Try {
        /// The personality folder
        dir: PathBuf,
        /// Keep the scratch state folder (logs, unpacked release) and print where it is
        #[arg(long)]
        keep: bool,
        /// KEY=VALUE for every module's environment (repeatable)
        #[arg(long = "env", value_name = "KEY=VALUE")]
        env: Vec<String>,
        /// PBKDF2 iterations of the throwaway bundle [default: 600000]
        #[arg(long, value_name = "N")]
        iter: Option<u32>,
        /// Time one script may run
        #[arg(long, value_name = "DUR", default_value = "30m")]
        module_timeout: String,
        /// Module library folders, searched in order [default: $BUNDLE_MODULES_PATH, else ./modules]
        #[arg(long = "modules-path", value_name = "DIR")]
        modules_path: Vec<PathBuf>,
    },
    /// Generate secrets: `--passphrase` prints a random 256-bit passphrase
    Keygen {
        /// Print a new random passphrase
        #[arg(long)]
        passphrase: bool,
    },
}

/// Entry point (shared with the `startup-bundle` binary).
pub fn main() -> ExitCode {
    let cli: Cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match cli.command {
        Command::Check { dir, modules_path } => check(dir, &modules_path),
        Command::Pack {
            dir,
            output,
            pass,
            cipher,
            iter,
            md,
            legacy_kdf,
            compression,
            base64,
            force,
            threads,
            modules_path,
        } => {
            let params = match cli_common::params(cipher, md, iter, legacy_kdf) {
                Ok(p) => p,
                Err(msg) => return usage(PROGRAM, &msg),
            };
            let req = PackRequest {
                dir,
                libraries: personality::library_paths(&modules_path),
                output,
                params,
                armor: if base64 { Armor::Base64 } else { Armor::Binary },
                compression,
                overwrite: if force { Overwrite::Replace } else { Overwrite::Refuse },
                threads: threads.unwrap_or_else(default_threads).max(1),
            };
            pack(&req, pass)
        }
        Command::Unpack { file, dir, decrypt, max_unpacked } => unpack(file, dir, &decrypt, max_unpacked),
        Command::Inspect { file, decrypt, json, max_unpacked } => inspect_cmd(file, &decrypt, json, max_unpacked),
        Command::Keygen { passphrase } => keygen(passphrase),
        Command::Try { dir, keep, env, iter, module_timeout, modules_path } => {
            try_cmd(dir, keep, env, iter, module_timeout, &modules_path)
        }
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn check(dir: PathBuf, modules_path: &[PathBuf]) -> ExitCode {
    let libraries = personality::library_paths(modules_path);
    match personality::load(&dir, &libraries) {
        Ok(found) => {
            let names: Vec<&str> = found.modules.iter().map(|m| m.name.as_str()).collect();
            println!("{} {}: ok, {} modules in run order: {}", found.name, found.version, names.len(), names.join(", "));
            Exit::Ok.into()
        }
        Err(problems) => fail(PROGRAM, &problems, &problems),
    }
}

fn pack(req: &PackRequest, pass: Option<secret::PassSpec>) -> ExitCode {
    if pass.as_ref().is_some_and(secret::PassSpec::is_literal) {
        eprintln!("{PROGRAM}: warning: --pass pass:… shows the passphrase to every user of this machine; prefer env:, file: or fd:");
    }
    let passphrase = match secret::read_passphrase(pass.as_ref(), Prompt::Twice) {
        Ok(p) => p,
        Err(e) => return fail(PROGRAM, &e, &e),
    };
    let progress = Progress::start("packing");
    let result = publish::pack(req, &passphrase, &|n| progress.set(n));
    progress.done();
    match result {
        Ok(done) => {
            let names: Vec<&str> = done.manifest.modules.iter().map(|m| m.name.as_str()).collect();
            println!(
                "packed {} {} ({} modules: {}) into {}: {}, sha256 {}",
                done.manifest.name,
                done.manifest.version,
                names.len(),
                names.join(", "),
                done.output.display(),
                size::human(done.size),
                done.sha256
            );
            println!("open it with stock tools:\n  {}", done.open_command);
            Exit::Ok.into()
        }
        Err(e) => fail(PROGRAM, &e, &e),
    }
}

fn unpack(file: PathBuf, dir: PathBuf, decrypt: &DecryptFlags, max_bytes: u64) -> ExitCode {
    let params = match decrypt.params() {
        Ok(p) => p,
        Err(msg) => return usage(PROGRAM, &msg),
    };
    let passphrase = match secret::read_passphrase(decrypt.pass.as_ref(), Prompt::Once) {
        Ok(p) => p,
        Err(e) => return fail(PROGRAM, &e, &e),
    };
    let limits = Limits { max_bytes, ..Limits::default() };
    let progress = Progress::start("unpacking");
    let result = inspect::unpack_into(&file, &passphrase, &params, &dir, &limits, &|n| progress.set(n));
    progress.done();
    match result {
        Ok(placed) => {
            for path in placed {
                println!("{}", path.display());
            }
            Exit::Ok.into()
        }
        Err(e) => fail(PROGRAM, &e, &e),
    }
}

fn inspect_cmd(file: PathBuf, decrypt: &DecryptFlags, json: bool, max_bytes: u64) -> ExitCode {
    let params = match decrypt.params() {
        Ok(p) => p,
        Err(msg) => return usage(PROGRAM, &msg),
    };
    let passphrase = match secret::read_passphrase(decrypt.pass.as_ref(), Prompt::Once) {
        Ok(p) => p,
        Err(e) => return fail(PROGRAM, &e, &e),
    };
    let limits = Limits { max_bytes, ..Limits::default() };
    match inspect::inspect(&file, &passphrase, &params, &limits) {
        Ok(report) => {
            let text = if json { report.to_json() } else { report.to_text() };
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            Exit::Ok.into()
        }
        Err(e) => fail(PROGRAM, &e, &e),
    }
}

fn try_cmd(
    dir: PathBuf,
    keep: bool,
    env: Vec<String>,
    iter: Option<u32>,
    module_timeout: String,
    modules_path: &[PathBuf],
) -> ExitCode {
    let params = match cli_common::params(Cipher::default(), Digest::default(), iter, false) {
        Ok(p) => p,
        Err(msg) => return usage(PROGRAM, &msg),
    };
    let mut pairs = Vec::new();
    for item in env {
        match item.split_once('=') {
            Some((k, v)) if !k.is_empty() => pairs.push((k.to_string(), v.to_string())),
            _ => return usage(PROGRAM, &format!("--env {item}: write KEY=VALUE")),
        }
    }
    let opts = trial::TryOptions {
        dir,
        libraries: personality::library_paths(modules_path),
        params,
        env: pairs,
        bootstrap_args: vec!["--module-timeout".to_string(), module_timeout],
        keep: if keep { trial::Keep::Keep } else { trial::Keep::Remove },
        bootstrap: trial::find_bootstrap(),
    };
    match trial::try_personality(&opts, &mut |line| eprintln!("{PROGRAM} try: {line}")) {
        Ok(outcome) => {
            if let Some(kept) = &outcome.kept {
                eprintln!("{PROGRAM} try: kept the scratch folder {} (state in state/)", kept.display());
            }
            match outcome.code {
                Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
                None => {
                    eprintln!("{PROGRAM} try: bundle-bootstrap was killed by a signal");
                    Exit::Usage.into()
                }
            }
        }
        Err(e) => fail(PROGRAM, &e, &e),
    }
}

fn keygen(passphrase: bool) -> ExitCode {
    if !passphrase {
        return usage(PROGRAM, "say what to generate: `bundle keygen --passphrase` prints a random passphrase");
    }
    match secret::generate_passphrase() {
        Ok(p) => {
            println!("{}", p.as_str());
            Exit::Ok.into()
        }
        Err(e) => usage(PROGRAM, &format!("the system's random source failed: {e}")),
    }
}
