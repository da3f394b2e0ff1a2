//! The one signature acceptance policy, used by `bundle-bootstrap run`, `watch` and `bundle verify`
//! alike: which keys, whether it expired, which bundle it must name, and the rollback floor.
//!
//! [`verify::verify_file`](super::verify::verify_file) says whether the bytes are what a key
//! signed; this file says whether *this* machine should take them. In order: the trusted comment
//! must be ours and name the file's sha256; it must not have expired (unless allowed); it must
//! name the bundle the instance asked for (TUF's mix-and-match attack: one key signs `db` and
//! `web`, and a bucket writer copies `db` over `web`); and its sequence number must not be below
//! the floor recorded here (a frozen or replayed mirror). Raising the floor is the caller's job,
//! once the release decrypted and unpacked.

use std::path::Path;

use crate::date;
use crate::sign::comment::TrustedFacts;
use crate::sign::verify::{self, ExpiryPolicy, TrustedKey, Verified, VerifyError};

/// Whether a signed bundle older than one already applied may be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rollback {
    /// Refuse it (the default): nobody can serve last month's bundle to this machine.
    #[default]
    Refuse,
    /// Apply it (`--allow-downgrade`); the recorded highest number stays.
    AllowDowngrade,
}

/// What this machine accepts.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// The publisher's keys (more than one during a rotation).
    pub keys: &'a [TrustedKey],
    /// Whether an expired signature is refused.
    pub expiry: ExpiryPolicy,
    /// Whether a sequence number below the floor is refused.
    pub rollback: Rollback,
    /// The time to judge expiry at (UNIX seconds).
    pub now: u64,
}

/// What the signature must be about.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expected<'a> {
    /// The bundle name the instance expects: the URL's file stem, a pointer's name, or `--name`.
    /// `None` only for `bundle verify` without `--name`.
    pub name: Option<&'a str>,
    /// The highest sequence number applied here for that name, if any.
    pub floor: Option<u64>,
}

/// A signature this machine accepts.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The good signature (key, comment, the file's sha256).
    pub verified: Verified,
    /// What it vouches for.
    pub facts: TrustedFacts,
    /// What was accepted only because a flag allowed it, for the log and the status (each said
    /// once, by the caller).
    pub allowed: Vec<String>,
}

/// Checks `signature` (text from `origin`) over `file` (named `shown` in messages: its URL) and
/// judges it: the whole policy.
pub fn accept(
    policy: &Policy<'_>,
    signature: &str,
    origin: &str,
    (file, shown): (&Path, &str),
    expected: &Expected<'_>,
) -> Result<Accepted, VerifyError> {
    let verified = verify::verify_file(file, shown, signature, origin, policy.keys)?;
    accept_verified(verified, policy, expected)
}

/// The policy on a signature already checked with [`verify::verify_file`].
pub fn accept_verified(
    verified: Verified,
    policy: &Policy<'_>,
    expected: &Expected<'_>,
) -> Result<Accepted, VerifyError> {
    let facts =
        TrustedFacts::parse(&verified.trusted_comment).map_err(|source| VerifyError::Comment {
            key_id: verified.key_id.clone(),
            source,
        })?;
    if facts.sha256 != verified.sha256 {
        return Err(VerifyError::Sha256Mismatch {
            signed: facts.sha256,
            actual: verified.sha256,
        });
    }
    let mut allowed = Vec::new();
    if let Some(expires) = facts.expires.filter(|t| *t <= policy.now) {
        if policy.expiry == ExpiryPolicy::Enforce {
            return Err(VerifyError::Expired {
                name: facts.name,
                version: facts.version,
                expires,
            });
        }
        allowed.push(format!(
            "the signature expired at {}; accepted because of --allow-expired",
            date::format_rfc3339(expires)
        ));
    }
    if let Some(name) = expected.name
        && name != facts.name
    {
        return Err(VerifyError::NameMismatch {
            signed: facts.name,
            expected: name.to_string(),
        });
    }
    if let Some(highest) = expected.floor
        && facts.seq < highest
    {
        if policy.rollback == Rollback::Refuse {
            return Err(VerifyError::Rollback {
                name: facts.name,
                seq: facts.seq,
                highest,
            });
        }
        allowed.push(format!(
            "seq {} is older than seq {highest} applied here; accepted because of --allow-downgrade",
            facts.seq
        ));
    }
    Ok(Accepted {
        verified,
        facts,
        allowed,
    })
}

/// True when the facts carry an expiry that is not after `now`.
pub fn is_expired(facts: &TrustedFacts, now: u64) -> bool {
    facts.expires.is_some_and(|t| t <= now)
}
