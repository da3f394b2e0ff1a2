//! Flags and messages shared by `bundle` and `bundle-bootstrap`: decryption flags, error printing,
//! the clap exit-status remap (clap's 2 means "fetch failed" in our contract).

use std::process::ExitCode;

use clap::Args;
use startup_bundle::enc::{Cipher, DEFAULT_ITERATIONS, Digest, Kdf, Params};
use startup_bundle::exit::{Classify, Exit};
use startup_bundle::secret::PassSpec;

/// How a bundle is (or was) encrypted: the flags every command that makes, opens or describes one takes.
#[derive(Debug, Clone, Args)]
pub struct CipherFlags {
    /// Cipher: aes-256-cbc, aes-192-cbc or aes-128-cbc
    #[arg(long, value_name = "CIPHER", default_value_t = Cipher::default())]
    pub cipher: Cipher,
    /// PBKDF2 iterations (the file does not record them) [default: 600000]
    #[arg(long, value_name = "N")]
    pub iter: Option<u32>,
    /// Digest of the key derivation: sha256, sha512, sha1 or md5
    #[arg(long, value_name = "DIGEST", default_value_t = Digest::default())]
    pub md: Digest,
    /// Legacy EVP_BytesToKey key derivation (`openssl enc` without -pbkdf2; weak, for old bundles)
    #[arg(long)]
    pub legacy_kdf: bool,
}

impl CipherFlags {
    /// The container parameters these flags describe.
    pub fn params(&self) -> Result<Params, String> {
        params(self.cipher, self.md, self.iter, self.legacy_kdf)
    }

    /// True when any flag differs from the defaults (the signed parameters then override them).
    #[allow(dead_code)] // only bundle-bootstrap asks; this file is compiled into both programs
    pub fn given(&self) -> bool {
        self.cipher != Cipher::default()
            || self.iter.is_some()
            || self.md != Digest::default()
            || self.legacy_kdf
    }
}

/// The flags every command that opens a bundle takes.
#[derive(Debug, Clone, Args)]
pub struct DecryptFlags {
    /// Passphrase source: pass:TEXT, env:VAR, file:PATH, fd:N or stdin [default: $BUNDLE_PASSPHRASE]
    #[arg(long, value_name = "SPEC")]
    pub pass: Option<PassSpec>,
    #[command(flatten)]
    pub cipher: CipherFlags,
}

impl DecryptFlags {
    /// The container parameters these flags describe.
    pub fn params(&self) -> Result<Params, String> {
        self.cipher.params()
    }
}

/// Builds container parameters, refusing `--iter` with `--legacy-kdf` (it would be silently ignored).
pub fn params(
    cipher: Cipher,
    digest: Digest,
    iter: Option<u32>,
    legacy: bool,
) -> Result<Params, String> {
    let kdf = match (legacy, iter) {
        (true, Some(_)) => {
            return Err(
                "--iter has no effect with --legacy-kdf (EVP_BytesToKey uses one round)".into(),
            );
        }
        (true, None) => Kdf::Legacy,
        (false, Some(0)) => return Err("--iter must be at least 1".into()),
        (false, n) => Kdf::Pbkdf2 {
            iterations: n.unwrap_or(DEFAULT_ITERATIONS),
        },
    };
    Ok(Params {
        cipher,
        digest,
        kdf,
    })
}

/// Parses the command line, mapping clap's usage errors to exit 1 (our 2 means "fetch failed").
pub fn parse<T: clap::Parser>() -> Result<T, ExitCode> {
    match T::try_parse() {
        Ok(cli) => Ok(cli),
        Err(e) => {
            let usage = e.use_stderr();
            let _ = e.print();
            Err(if usage {
                Exit::Usage.into()
            } else {
                Exit::Ok.into()
            })
        }
    }
}

/// Prints an error the contract's way — `PROGRAM: error: …`, its causes, one `hint:` line — and
/// returns its exit status.
pub fn fail(
    program: &str,
    err: &(dyn std::error::Error + 'static),
    class: &dyn Classify,
) -> ExitCode {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    eprintln!("{program}: error: {text}");
    if let Some(hint) = class.hint() {
        eprintln!("hint: {hint}");
    }
    class.exit().into()
}

/// Prints a usage mistake found after parsing, and returns exit 1.
pub fn usage(program: &str, message: &str) -> ExitCode {
    eprintln!("{program}: error: {message}");
    Exit::Usage.into()
}
