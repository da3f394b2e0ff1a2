//! `bundle keygen`, `bundle sign`, `bundle verify` and the signing half of `bundle pack --sign`:
//! flags in, one library call, messages out. Every decision lives in `startup_bundle::sign`.

use super::*;

/// Opens the secret key for `--sign`/`sign`, asking its password only if it is sealed; with the
/// sequence number and expiry the flags give.
pub fn open_signer(
    key: &std::path::Path,
    flags: &SigningFlags,
) -> Result<(SigningKey, u64, Option<u64>), ExitCode> {
    let now = startup_bundle::date::now_unix();
    let expires = match flags
        .expires
        .as_deref()
        .map(|t| startup_bundle::date::parse_expiry(t, now))
    {
        Some(Err(msg)) => return Err(usage(PROGRAM, &msg)),
        Some(Ok(t)) if t <= now => {
            return Err(usage(PROGRAM, "--expires is in the past"));
        }
        Some(Ok(t)) => Some(t),
        None => None,
    };
    let opened = SigningKey::open(key, || {
        if flags.key_pass.is_none() {
            eprintln!(
                "{PROGRAM}: the secret key {} is sealed; its password:",
                key.display()
            );
        }
        sign::create::key_password(flags.key_pass.as_ref(), Prompt::Once)
    });
    match opened {
        Ok(signer) => Ok((signer, flags.seq.unwrap_or(now), expires)),
        Err(e) => Err(fail(PROGRAM, &e, &e)),
    }
}

/// Prints where a signature went and what it vouches for.
pub fn print_signed(signed: &pack::Signed) {
    println!(
        "signed {} with key {} ({} {} seq {}) into {}",
        signed.facts.sha256,
        signed.key_id,
        signed.facts.name,
        signed.facts.version,
        signed.facts.seq,
        signed.path.display()
    );
}

/// How `bundle keygen` was asked to keep the secret key.
pub enum Seal {
    /// With a password from this source (or the terminal).
    Password(Option<secret::PassSpec>),
    /// Without one (`--unencrypted`).
    Unencrypted,
}

/// `--force` as the library's enum.
pub fn overwrite_from(force: bool) -> Overwrite {
    if force {
        Overwrite::Replace
    } else {
        Overwrite::Refuse
    }
}

/// `bundle keygen` (a key pair).
pub fn keygen_pair(files: &KeyFiles, seal: Seal, overwrite: Overwrite) -> ExitCode {
    let protection = match seal {
        Seal::Unencrypted => KeyProtection::Unencrypted,
        Seal::Password(key_pass) => {
            if key_pass.is_none() {
                eprintln!(
                    "{PROGRAM}: choose a password for the new secret key {}:",
                    files.secret.display()
                );
            }
            match sign::create::key_password(key_pass.as_ref(), Prompt::Twice) {
                Ok(pw) => KeyProtection::Password(pw),
                Err(e) => return fail(PROGRAM, &e, &e),
            }
        }
    };
    match sign::create::keygen(files, protection, overwrite) {
        Ok(key) => {
            println!("{}", key.public_key);
            eprintln!(
                "{PROGRAM}: wrote key {} to {} (secret: keep it) and {} (public)",
                key.key_id,
                files.secret.display(),
                files.public.display()
            );
            eprintln!(
                "{PROGRAM}: boot with: bundle-bootstrap run URL --pubkey {}",
                key.public_key
            );
            Exit::Ok.into()
        }
        Err(e) => fail(PROGRAM, &e, &e),
    }
}

/// `bundle sign`.
pub fn sign_cmd(a: SignArgs) -> ExitCode {
    let params = match a.cipher.params() {
        Ok(p) => p,
        Err(msg) => return usage(PROGRAM, &msg),
    };
    let name = a.name.clone().unwrap_or_else(|| {
        a.file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    if name.is_empty() || a.version.is_empty() {
        return usage(PROGRAM, "--name and --version must not be empty");
    }
    let (key, seq, expires) = match open_signer(&a.key, &a.signing) {
        Ok(signer) => signer,
        Err(code) => return code,
    };
    let with = pack::SignWith {
        key: &key,
        seq,
        expires,
    };
    let overwrite = overwrite_from(a.force);
    match pack::sign_existing(&a.file, &with, &name, &a.version, &params, overwrite) {
        Ok(signed) => {
            print_signed(&signed);
            Exit::Ok.into()
        }
        Err(e) => fail(PROGRAM, &e, &e),
    }
}

/// `bundle verify`: exit 0, or 3 when refused.
pub fn verify_cmd(
    file: &std::path::Path,
    pubkeys: &[String],
    sig: Option<PathBuf>,
    expiry: ExpiryPolicy,
) -> ExitCode {
    let mut keys = Vec::new();
    for given in pubkeys {
        match TrustedKey::parse(given) {
            Ok(key) => keys.push(key),
            Err(e) => return fail(PROGRAM, &e, &e),
        }
    }
    let sig = sig.unwrap_or_else(|| sign::sig_path(file));
    let now = startup_bundle::date::now_unix();
    match sign::verify::check_local(file, &sig, &keys, now, expiry) {
        Ok(checked) => {
            let v = &checked.verified;
            println!("signature good: key {} ({})", v.key_id, v.key_source);
            match &checked.facts {
                Some(facts) => {
                    print!("{}", facts.describe());
                    if sign::verify::is_expired(facts, now) {
                        eprintln!(
                            "{PROGRAM}: warning: the signature has expired (accepted: --allow-expired)"
                        );
                    }
                }
                None => {
                    println!("trusted comment: {}", v.trusted_comment);
                    eprintln!(
                        "{PROGRAM}: warning: the trusted comment is not a startup-bundle one: \
                         bundle-bootstrap --pubkey refuses this signature; re-sign with `bundle sign`"
                    );
                }
            }
            Exit::Ok.into()
        }
        Err(e) => fail(PROGRAM, &e, &e),
    }
}
