//! The verify and unpack stages: the `--sha256` pin and the signature policy on the downloaded
//! bytes, then the release folder those verified bytes unpack to — re-used when this machine
//! verified and unpacked the very same bytes before and nothing in it changed, else decrypted and
//! unpacked afresh.

use std::time::SystemTime;

use crate::enc::Params;
use crate::fetch;
use crate::hashing;
use crate::open;
use crate::personality::{self, MANIFEST_NAME, Plan};
use crate::secret::Passphrase;
use crate::sign::{self, Accepted, Expected, Policy};
use crate::state::{ReleaseRecord, Releases, SignedInfo, StateDir};

use super::error::BootError;
use super::options::{BootOptions, ParamsGiven};
use super::source::Source;

/// The verify stage: the pin, then — with `--pubkey` — the whole signature policy, bound to the
/// name this instance expects and to this machine's rollback floor. Returns the accepted
/// signature; its notes (what a flag allowed) are logged once here.
pub fn verify(
    opts: &BootOptions,
    state: &StateDir,
    source: &Source,
    log: &mut dyn FnMut(&str),
) -> Result<Option<Accepted>, BootError> {
    let sha256 = source.download.sha256();
    if let Some(expected) = &opts.sha256
        && !expected.eq_ignore_ascii_case(&sha256)
    {
        return Err(BootError::Checksum {
            url: fetch::redact(&source.url),
            expected: expected.clone(),
            actual: sha256,
        });
    }
    let Some(signature) = &source.signature else {
        return Ok(None);
    };
    let name = opts.expected_name();
    let floor = state.floor();
    let highest = floor
        .highest(name)
        .map_err(|e| crate::state::StateError::io("read", floor.path(name))(e))?;
    let policy = Policy {
        keys: &opts.signature.keys,
        expiry: opts.signature.expiry,
        rollback: opts.signature.rollback,
        now: crate::date::now_unix(),
    };
    let expected = Expected {
        name: Some(name),
        floor: highest,
    };
    let accepted = sign::policy::accept(
        &policy,
        &signature.text,
        &signature.origin,
        (source.download.path(), &crate::fetch::redact(&source.url)),
        &expected,
    )?;
    let facts = &accepted.facts;
    log(&format!(
        "signature good: key {} ({}), {} {} seq {}",
        accepted.verified.key_id,
        accepted.verified.key_source,
        facts.name,
        facts.version,
        facts.seq
    ));
    for note in &accepted.allowed {
        log(note);
    }
    if opts.signature.params_given == ParamsGiven::Flags && facts.params != opts.params {
        log(&format!(
            "decrypting with the signed parameters ({}), not the flags given ({})",
            facts.params.openssl_flags(),
            opts.params.openssl_flags()
        ));
    }
    Ok(Some(accepted))
}

/// The release and its plan, ready to run.
#[derive(Debug)]
pub struct Opened {
    /// The plan.
    pub plan: Plan,
    /// The record of what was verified and unpacked here.
    pub record: ReleaseRecord,
}

/// The unpack stage: the release folder of these verified bytes, and its plan. A folder is
/// re-used only when this machine's record of it exists and its manifest is byte for byte the one
/// unpacked then (and every module digest still matches it); anything else is unpacked afresh.
pub fn open(
    opts: &BootOptions,
    releases: &Releases,
    source: &Source,
    pass: &Passphrase,
    accepted: Option<&Accepted>,
    log: &mut dyn FnMut(&str),
) -> Result<Opened, BootError> {
    let sha256 = source.download.sha256();
    let fallback_name = &source.download.fetched.name;
    let fallback_version = hashing::short(&sha256);
    if let Some(opened) = reuse(releases, &sha256, fallback_name, fallback_version, log) {
        return Ok(opened);
    }
    // Whatever is there (a changed folder, a folder without our record) goes.
    releases.remove(&sha256)?;
    let params: Params = accepted.map_or(opts.params, |a| a.facts.params);
    let dir = releases.dir(&sha256);
    let meter = opts.progress.meter("unpacking");
    open::decrypt_unpack(
        source.download.path(),
        pass,
        &params,
        &dir,
        &opts.limits,
        &|written| meter.set(written),
    )
    // With signed parameters the flags are not to blame: say so.
    .map_err(|e| match accepted {
        Some(_) => e.with_signed_params(&params),
        None => e,
    })?;
    let plan = personality::plan_unpacked(&dir, fallback_name, fallback_version)?;
    let record = ReleaseRecord {
        sha256: sha256.clone(),
        manifest_sha256: manifest_sha256(&plan),
        name: plan.name.clone(),
        version: plan.version.clone(),
        source: fetch::redact(&opts.url),
        signed: accepted.map(|a| SignedInfo {
            key_id: a.verified.key_id.clone(),
            seq: a.facts.seq,
            expires: a.facts.expires,
        }),
        verified_at: crate::date::rfc3339(SystemTime::now()),
        applied_at: None,
        fetched_as: None,
    };
    releases.write_record(&record)?;
    Ok(Opened { plan, record })
}

fn reuse(
    releases: &Releases,
    sha256: &str,
    fallback_name: &str,
    fallback_version: &str,
    log: &mut dyn FnMut(&str),
) -> Option<Opened> {
    let record = releases.record(sha256)?;
    let dir = releases.dir(sha256);
    match personality::plan_unpacked(&dir, fallback_name, fallback_version) {
        // Without a manifest the digests come from the folders as they are now, which a module may
        // have written into: unpack afresh so init records keep meaning "this content".
        Ok(plan) if plan.from_manifest && record.manifest_sha256 == manifest_sha256(&plan) => {
            log(&format!("reusing the unpacked release {}", dir.display()));
            Some(Opened { plan, record })
        }
        Ok(_) => None,
        Err(e) => {
            log(&format!(
                "the unpacked release {} changed since it was unpacked ({e}); unpacking afresh",
                dir.display()
            ));
            None
        }
    }
}

/// The sha256 of the plan's `bundle.json`, when it came from one.
fn manifest_sha256(plan: &Plan) -> Option<String> {
    if !plan.from_manifest {
        return None;
    }
    hashing::file_sha256(&plan.root.join(MANIFEST_NAME))
        .ok()
        .map(|(hex, _)| hex)
}

/// A release this machine verified and unpacked earlier, re-opened without its bundle file: for
/// `rerun`, `rollback` and the offline fallback. Its folder must still match its record.
pub fn reopen(releases: &Releases, sha256: &str) -> Result<Opened, BootError> {
    let record = releases.record(sha256).ok_or_else(|| BootError::NotKept {
        what: format!("verified release {}", hashing::short(sha256)),
        kept: "see bundle-bootstrap status".into(),
    })?;
    let changed = || BootError::Changed {
        sha256: sha256.to_string(),
    };
    let plan =
        personality::plan_unpacked(&releases.dir(sha256), &record.name, hashing::short(sha256))
            .map_err(|_| changed())?;
    if record.manifest_sha256.is_none() || manifest_sha256(&plan) != record.manifest_sha256 {
        return Err(changed());
    }
    Ok(Opened { plan, record })
}
