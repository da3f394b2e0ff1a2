//! `bundle`: the publisher's tool. Parses flags, calls one library function, prints, exits with the
//! contract's status. Every decision lives in the library.

#[path = "cli_common.rs"]
mod cli_common;

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cli_common::{CipherFlags, DecryptFlags, fail, parse, usage};
use startup_bundle::archive::{Compression, Limits};
use startup_bundle::enc::{Armor, Cipher, Digest, Params};
use startup_bundle::exit::Exit;
use startup_bundle::fsutil::Overwrite;
use startup_bundle::pack::{self, PackRequest};
use startup_bundle::secret::{self, Passphrase, Prompt};
use startup_bundle::sign::{self, ExpiryPolicy, KeyFiles, KeyProtection, SigningKey, TrustedKey};
use startup_bundle::{inspect, personality, size, templates, trial, userdata};

const PROGRAM: &str = "bundle";
/// Where `bundle keygen` writes the public key, unless told.
const DEFAULT_PUBLIC_KEY: &str = "bundle.pub";
/// Where `bundle keygen` writes the secret key (and `bundle sign` reads it), unless told.
const DEFAULT_SECRET_KEY: &str = "bundle.key";

/// Make encrypted start-up bundles from personality folders, and open them again.
#[derive(Debug, Parser)]
#[command(name = "bundle", version, about, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a personality folder from a template (`--list` shows them)
    New {
        /// The folder to create
        #[arg(required_unless_present = "list")]
        dir: Option<PathBuf>,
        /// The template
        #[arg(long, value_name = "NAME", default_value = templates::DEFAULT_TEMPLATE)]
        template: String,
        /// List the templates
        #[arg(long)]
        list: bool,
    },
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
        #[command(flatten)]
        cipher: CipherFlags,
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
        /// Sign FILE with this minisign secret key: writes FILE.minisig
        #[arg(long, value_name = "KEY")]
        sign: Option<PathBuf>,
        #[command(flatten)]
        signing: SigningFlags,
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
    /// Print the EC2 user-data script that boots a bundle
    Userdata(Box<UserdataArgs>),
    /// Make a minisign key pair for signing bundles (`--passphrase`: print a random passphrase instead)
    Keygen {
        /// Print a new random 256-bit passphrase instead of making a key pair
        #[arg(long, conflicts_with_all = ["key_pass", "unencrypted", "force"])]
        passphrase: bool,
        /// The public key file to write
        #[arg(short = 'p', long, value_name = "FILE", default_value = DEFAULT_PUBLIC_KEY)]
        public_key: PathBuf,
        /// The secret key file to write (mode 0600)
        #[arg(short = 's', long, value_name = "FILE", default_value = DEFAULT_SECRET_KEY)]
        secret_key: PathBuf,
        /// Password source for the secret key: pass:TEXT, env:VAR, file:PATH, fd:N or stdin [default: ask twice]
        #[arg(long, value_name = "SPEC")]
        key_pass: Option<secret::PassSpec>,
        /// Leave the secret key without a password (anyone who can read it can sign)
        #[arg(long, conflicts_with = "key_pass")]
        unencrypted: bool,
        /// Replace existing key files
        #[arg(long)]
        force: bool,
    },
    /// Sign an existing bundle file: FILE.minisig, with the bundle's facts in its trusted comment
    Sign(Box<SignArgs>),
    /// Publish a signed bundle to a folder or s3://bucket/prefix: release first, NAME.latest last
    Publish(Box<publishing::PublishArgs>),
    /// List the releases published at a destination
    Releases(Box<publishing::ReleasesArgs>),
    /// Check FILE.minisig with public keys and print what it vouches for (exit 0, or 3 when refused)
    Verify {
        /// The bundle file
        file: PathBuf,
        /// Minisign public key (base64, or a .pub file); repeatable
        #[arg(long = "pubkey", value_name = "KEY", required = true)]
        pubkey: Vec<String>,
        /// The signature [default: FILE.minisig]
        #[arg(long, value_name = "FILE")]
        sig: Option<PathBuf>,
        /// Accept an expired signature
        #[arg(long)]
        allow_expired: bool,
    },
}

/// How a signature is made: shared by `pack --sign` and `sign`.
#[derive(Debug, clap::Args)]
struct SigningFlags {
    /// Password source for the secret key: pass:TEXT, env:VAR, file:PATH, fd:N or stdin [default: ask]
    #[arg(long, value_name = "SPEC")]
    key_pass: Option<secret::PassSpec>,
    /// Sequence number; bootstraps refuse a lower one than they applied [default: UNIX time now]
    #[arg(long, value_name = "N")]
    seq: Option<u64>,
    /// Signature expiry: a duration from now (720h) or an RFC 3339 date (2026-12-31) [default: never]
    #[arg(long, value_name = "WHEN")]
    expires: Option<String>,
}

#[derive(Debug, clap::Args)]
struct SignArgs {
    /// The bundle file
    file: PathBuf,
    /// The minisign secret key
    #[arg(short = 's', long, value_name = "FILE", default_value = DEFAULT_SECRET_KEY)]
    key: PathBuf,
    #[command(flatten)]
    signing: SigningFlags,
    /// Bundle name for the trusted comment (the rollback counter is per name) [default: FILE's stem]
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Bundle version for the trusted comment
    #[arg(long, value_name = "VERSION", default_value = "0")]
    version: String,
    #[command(flatten)]
    cipher: CipherFlags,
    /// Replace FILE.minisig
    #[arg(long)]
    force: bool,
}

#[derive(Debug, clap::Args)]
struct UserdataArgs {
    /// The bundle's URL
    url: String,
    /// Where the instance gets the passphrase: ssm:NAME, file:PATH (baked into the image) or inline
    #[arg(long, value_name = "SOURCE")]
    pass_from: String,
    /// Allow --pass-from inline (user-data is readable by every process on the instance)
    #[arg(long)]
    allow_inline_passphrase: bool,
    /// With --pass-from inline: where to read the passphrase now [default: $BUNDLE_PASSPHRASE]
    #[arg(long, value_name = "SPEC")]
    pass: Option<secret::PassSpec>,
    /// Where the instance downloads bundle-bootstrap from
    #[arg(long, value_name = "URL")]
    bootstrap_url: Option<String>,
    /// The sha256 bundle-bootstrap must have, or the script stops before running anything
    #[arg(long, value_name = "HEX")]
    bootstrap_sha256: Option<String>,
    /// Render a script that needs only curl, openssl and tar (no bundle-bootstrap)
    #[arg(long)]
    shell_only: bool,
    /// Pin the bundle file's sha256
    #[arg(long, value_name = "HEX", conflicts_with = "bundle")]
    sha256: Option<String>,
    /// Pin the sha256 of this bundle file (computed now)
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
    #[command(flatten)]
    cipher: CipherFlags,
    /// State folder on the instance
    #[arg(long, value_name = "DIR", default_value = "/var/lib/startup-bundle")]
    state_dir: String,
    /// Where bundle-bootstrap is installed on the instance
    #[arg(long, value_name = "DIR", default_value = "/usr/local/bin")]
    install_dir: String,
    /// Log file on the instance (besides the console)
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/var/log/startup-bundle.log"
    )]
    log_file: String,
    /// KEY=VALUE for every module's environment (repeatable)
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Extra flags for `bundle-bootstrap run` (e.g. --module-timeout 1h), after `--`
    #[arg(last = true, value_name = "FLAGS")]
    extra: Vec<String>,
}

/// Entry point (shared with the `startup-bundle` binary).
pub fn main() -> ExitCode {
    let cli: Cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match cli.command {
        Command::New {
            dir,
            template,
            list,
        } => new(dir, &template, list),
        Command::Userdata(args) => userdata_cmd(*args),
        Command::Check { dir, modules_path } => check(dir, &modules_path),
        Command::Pack {
            dir,
            output,
            pass,
            cipher,
            compression,
            base64,
            force,
            threads,
            modules_path,
            sign,
            signing,
        } => {
            let params = match cipher.params() {
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
                overwrite: if force {
                    Overwrite::Replace
                } else {
                    Overwrite::Refuse
                },
                threads: threads.unwrap_or_else(default_threads).max(1),
            };
            pack(&req, pass, sign.as_deref(), &signing)
        }
        Command::Unpack {
            file,
            dir,
            decrypt,
            max_unpacked,
        } => unpack(file, dir, &decrypt, max_unpacked),
        Command::Inspect {
            file,
            decrypt,
            json,
            max_unpacked,
        } => inspect_cmd(file, &decrypt, json, max_unpacked),
        Command::Publish(args) => publishing::publish_cmd(*args),
        Command::Releases(args) => publishing::releases_cmd(*args),
        Command::Keygen {
            passphrase,
            public_key,
            secret_key,
            key_pass,
            unencrypted,
            force,
        } => {
            if passphrase {
                return keygen(passphrase);
            }
            let files = KeyFiles {
                public: public_key,
                secret: secret_key,
            };
            let seal = if unencrypted {
                signing::Seal::Unencrypted
            } else {
                signing::Seal::Password(key_pass)
            };
            keygen_pair(&files, seal, overwrite_from(force))
        }
        Command::Sign(args) => sign_cmd(*args),
        Command::Verify {
            file,
            pubkey,
            sig,
            allow_expired,
        } => {
            let expiry = if allow_expired {
                ExpiryPolicy::AllowExpired
            } else {
                ExpiryPolicy::Enforce
            };
            verify_cmd(&file, &pubkey, sig, expiry)
        }
        Command::Try {
            dir,
            keep,
            env,
            iter,
            module_timeout,
            modules_path,
        } => try_cmd(dir, keep, env, iter, module_timeout, &modules_path),
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn new(dir: Option<PathBuf>, template: &str, list: bool) -> ExitCode {
    if list {
        for name in templates::names() {
            println!("{name:<16} {}", templates::summary(name));
        }
        return Exit::Ok.into();
    }
    let Some(dir) = dir else {
        return usage(PROGRAM, "name the folder to create: bundle new DIR");
    };
    match templates::write(template, &dir) {
        Ok(files) => {
            println!(
                "wrote the {template} template into {} ({files} files)",
                dir.display()
            );
            println!("next: bundle check {0}, then bundle try {0}", dir.display());
            Exit::Ok.into()
        }
        Err(e) => fail(PROGRAM, &e, &e),
    }
}

fn parse_pairs(items: Vec<String>) -> Result<Vec<(String, String)>, String> {
    items
        .into_iter()
        .map(|item| match item.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("--env {item}: write KEY=VALUE")),
        })
        .collect()
}

fn userdata_cmd(a: UserdataArgs) -> ExitCode {
    let params = match a.cipher.params() {
        Ok(p) => p,
        Err(msg) => return usage(PROGRAM, &msg),
    };
    let env = match parse_pairs(a.env) {
        Ok(env) => env,
        Err(msg) => return usage(PROGRAM, &msg),
    };
    let pass_from = match a.pass_from.split_once(':') {
        Some(("ssm", name)) if !name.is_empty() => userdata::PassFrom::Ssm(name.to_string()),
        Some(("file", path)) if !path.is_empty() => userdata::PassFrom::File(PathBuf::from(path)),
        None if a.pass_from == "inline" => {
            if !a.allow_inline_passphrase {
                return usage(
                    PROGRAM,
                    "--pass-from inline writes the passphrase into user-data, which every process on the instance can read \
                     through the metadata service; use ssm:NAME or file:PATH, or add --allow-inline-passphrase",
                );
            }
            match secret::read_passphrase(a.pass.as_ref(), Prompt::Once) {
                Ok(p) => userdata::PassFrom::Inline(zeroize::Zeroizing::new(
                    String::from_utf8_lossy(p.expose()).into_owned(),
                )),
                Err(e) => return fail(PROGRAM, &e, &e),
            }
        }
        _ => return usage(PROGRAM, "--pass-from takes ssm:NAME, file:PATH or inline"),
    };
    let sha256 = match (a.sha256, a.bundle) {
        (Some(hex), _) => Some(hex),
        (None, Some(file)) => match startup_bundle::hashing::file_sha256(&file) {
            Ok((hex, _)) => Some(hex),
            Err(e) => return usage(PROGRAM, &format!("cannot read {}: {e}", file.display())),
        },
        (None, None) => None,
    };
    let opts = userdata::UserdataOptions {
        url: a.url,
        variant: if a.shell_only {
            userdata::Variant::ShellOnly
        } else {
            userdata::Variant::Bootstrap
        },
        bootstrap_url: a.bootstrap_url,
        bootstrap_sha256: a.bootstrap_sha256,
        pass_from,
        params,
        sha256,
        state_dir: a.state_dir,
        install_dir: a.install_dir,
        log_file: a.log_file,
        env,
        extra_args: a.extra,
    };
    match userdata::render(&opts) {
        Ok(script) => {
            print!("{script}");
            Exit::Ok.into()
        }
        Err(e) => fail(PROGRAM, &e, &e),
    }
}

fn check(dir: PathBuf, modules_path: &[PathBuf]) -> ExitCode {
    let libraries = personality::library_paths(modules_path);
    match personality::load(&dir, &libraries) {
        Ok(found) => {
            let names: Vec<&str> = found.modules.iter().map(|m| m.name.as_str()).collect();
            println!(
                "{} {}: ok, {} modules in run order: {}",
                found.name,
                found.version,
                names.len(),
                names.join(", ")
            );
            Exit::Ok.into()
        }
        Err(problems) => fail(PROGRAM, &problems, &problems),
    }
}

fn pack(
    req: &PackRequest,
    pass: Option<secret::PassSpec>,
    sign_key: Option<&std::path::Path>,
    signing: &SigningFlags,
) -> ExitCode {
    let signer = match sign_key.map(|key| open_signer(key, signing)).transpose() {
        Ok(signer) => signer,
        Err(code) => return code,
    };
    if pass.as_ref().is_some_and(secret::PassSpec::is_literal) {
        eprintln!(
            "{PROGRAM}: warning: --pass pass:… shows the passphrase to every user of this machine; prefer env:, file: or fd:"
        );
    }
    let passphrase = match secret::read_passphrase(pass.as_ref(), Prompt::Twice) {
        Ok(p) => p,
        Err(e) => return fail(PROGRAM, &e, &e),
    };
    let progress = Progress::start("packing");
    let sign_with = signer.as_ref().map(|(key, seq, expires)| pack::SignWith {
        key,
        seq: *seq,
        expires: *expires,
    });
    let result = pack::pack_signed(req, &passphrase, sign_with.as_ref(), &|n| progress.set(n));
    progress.done();
    match result {
        Ok(done) => {
            let names: Vec<&str> = done
                .manifest
                .modules
                .iter()
                .map(|m| m.name.as_str())
                .collect();
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
            if let Some(signed) = &done.signature {
                print_signed(signed);
            }
            Exit::Ok.into()
        }
        Err(e) => fail(PROGRAM, &e, &e),
    }
}

/// What every command that opens a bundle needs: parameters, the passphrase, the unpack caps.
fn opening(
    decrypt: &DecryptFlags,
    max_bytes: u64,
) -> Result<(Params, Passphrase, Limits), ExitCode> {
    let params = decrypt.params().map_err(|msg| usage(PROGRAM, &msg))?;
    let passphrase = secret::read_passphrase(decrypt.pass.as_ref(), Prompt::Once)
        .map_err(|e| fail(PROGRAM, &e, &e))?;
    Ok((
        params,
        passphrase,
        Limits {
            max_bytes,
            ..Limits::default()
        },
    ))
}

fn unpack(file: PathBuf, dir: PathBuf, decrypt: &DecryptFlags, max_bytes: u64) -> ExitCode {
    let (params, passphrase, limits) = match opening(decrypt, max_bytes) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let progress = Progress::start("unpacking");
    let result =
        startup_bundle::unpack::unpack_into(&file, &passphrase, &params, &dir, &limits, &|n| {
            progress.set(n)
        });
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
    let (params, passphrase, limits) = match opening(decrypt, max_bytes) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    match inspect::inspect(&file, &passphrase, &params, &limits) {
        Ok(report) => {
            let text = if json {
                report.to_json()
            } else {
                report.to_text()
            };
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
    let pairs = match parse_pairs(env) {
        Ok(pairs) => pairs,
        Err(msg) => return usage(PROGRAM, &msg),
    };
    let opts = trial::TryOptions {
        dir,
        libraries: personality::library_paths(modules_path),
        params,
        env: pairs,
        bootstrap_args: vec!["--module-timeout".to_string(), module_timeout],
        keep: if keep {
            trial::Keep::Keep
        } else {
            trial::Keep::Remove
        },
        bootstrap: trial::find_bootstrap(),
    };
    match trial::try_personality(&opts, &mut |line| eprintln!("{PROGRAM} try: {line}")) {
        Ok(outcome) => {
            if let Some(kept) = &outcome.kept {
                eprintln!(
                    "{PROGRAM} try: kept the scratch folder {} (state in state/)",
                    kept.display()
                );
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
        return usage(
            PROGRAM,
            "say what to generate: `bundle keygen --passphrase` prints a random passphrase",
        );
    }
    match secret::generate_passphrase() {
        Ok(p) => {
            println!("{}", p.as_str());
            Exit::Ok.into()
        }
        Err(e) => usage(PROGRAM, &format!("the system's random source failed: {e}")),
    }
}

/// A byte counter on a terminal; nothing when stderr is piped.
pub struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    /// Starts a counter labelled `what` when stderr is a terminal.
    pub fn start(what: &str) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} {msg} {bytes} ({binary_bytes_per_sec})",
        ) {
            bar.set_style(style);
        }
        bar.set_message(what.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Progress(Some(bar))
    }

    /// Reports bytes done so far.
    pub fn set(&self, bytes: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(bytes);
        }
    }

    /// Removes the counter from the terminal.
    pub fn done(self) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
        }
    }
}

#[path = "bundle_publish.rs"]
mod publishing;
#[path = "bundle_sign.rs"]
mod signing;
use signing::{keygen_pair, open_signer, overwrite_from, print_signed, sign_cmd, verify_cmd};
