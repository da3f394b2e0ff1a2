//! Publishing, listing and rolling back releases on a [`Destination`] (layout: see the parent).

use std::fs;
use std::path::Path;

use super::{BUNDLE_SUFFIX, Destination, PublishError, bundle_key, pointer_key, trusted_facts};
use crate::hashing::file_sha256;
use crate::scratch::ScratchDir;
use crate::sign::comment::TrustedFacts;
use crate::sign::create::SigningKey;
use crate::sign::{SIG_SUFFIX, sig_path};

/// What a publish wrote.
#[derive(Debug, Clone)]
pub struct Published {
    /// The facts of the release the pointer now designates.
    pub facts: TrustedFacts,
    /// Key of the release's bundle.
    pub bundle_key: String,
    /// Key of the pointer.
    pub pointer_key: String,
}

/// One published release.
#[derive(Debug, Clone)]
pub struct Release {
    /// Its signed facts.
    pub facts: TrustedFacts,
    /// Whether the pointer designates it.
    pub latest: bool,
}

/// Publishes a signed bundle file (its `.minisig` beside it): the release first, the pointer last.
pub fn publish(dest: &dyn Destination, file: &Path) -> Result<Published, PublishError> {
    let sig_file = sig_path(file);
    let sig =
        fs::read_to_string(&sig_file).map_err(|_| PublishError::NotSigned(file.to_path_buf()))?;
    let facts = trusted_facts(&sig).map_err(|source| PublishError::Comment {
        what: sig_file.display().to_string(),
        source,
    })?;
    let (actual, _) = file_sha256(file).map_err(|source| PublishError::Io {
        op: "read",
        path: file.display().to_string(),
        source,
    })?;
    if actual != facts.sha256 {
        return Err(PublishError::Mismatch {
            path: file.to_path_buf(),
            signed: facts.sha256,
            actual,
        });
    }
    if let Some(current) = current(dest, &facts.name)?
        && facts.seq < current.seq
    {
        return Err(PublishError::Older {
            name: facts.name,
            seq: facts.seq,
            current: current.seq,
        });
    }
    let key = bundle_key(&facts.name, &facts.sha256);
    dest.put(&key, file)?;
    dest.put(&format!("{key}{SIG_SUFFIX}"), &sig_file)?;
    let pointer = pointer_key(&facts.name);
    dest.put(&pointer, &sig_file)?;
    Ok(Published {
        facts,
        bundle_key: key,
        pointer_key: pointer,
    })
}

/// The facts of the release `NAME.latest` designates, if any.
fn current(dest: &dyn Destination, name: &str) -> Result<Option<TrustedFacts>, PublishError> {
    let Some(bytes) = dest.get(&pointer_key(name))? else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&bytes);
    trusted_facts(&text)
        .map(Some)
        .map_err(|source| PublishError::Comment {
            what: format!("{}/{}", dest.describe(), pointer_key(name)),
            source,
        })
}

/// Every release of `name`, oldest sequence first, the current one marked.
pub fn list_releases(dest: &dyn Destination, name: &str) -> Result<Vec<Release>, PublishError> {
    let latest = current(dest, name)?;
    let mut found = Vec::new();
    for key in dest.list(&format!("{name}/"))? {
        if !key.ends_with(&format!("{BUNDLE_SUFFIX}{SIG_SUFFIX}")) {
            continue;
        }
        let Some(bytes) = dest.get(&key)? else {
            continue;
        };
        let facts = trusted_facts(&String::from_utf8_lossy(&bytes)).map_err(|source| {
            PublishError::Comment {
                what: key.clone(),
                source,
            }
        })?;
        let is_latest = latest.as_ref().is_some_and(|l| l.sha256 == facts.sha256);
        found.push(Release {
            facts,
            latest: is_latest,
        });
    }
    found.sort_by_key(|r| r.facts.seq);
    Ok(found)
}

/// Why no single release matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// None did.
    None,
    /// Several did: their sequence numbers.
    Many(Vec<u64>),
}

/// Shortest sha256 prefix taken as one (shorter hex strings are versions or sequence numbers).
const MIN_SHA_PREFIX: usize = 8;

/// The release `from` names, as `bundle releases` lists them: a sequence number, else a sha256 (or
/// a prefix of at least 8 hex digits), else a version. Several releases of one version (the same
/// personality packed twice) are ambiguous: the caller names them.
pub fn find_release(releases: Vec<Release>, from: &str) -> Result<Release, Found> {
    let from = from.trim();
    let is_seq = |r: &Release| from.parse::<u64>().is_ok_and(|n| r.facts.seq == n);
    let is_sha = |r: &Release| {
        from.len() >= MIN_SHA_PREFIX
            && from.bytes().all(|b| b.is_ascii_hexdigit())
            && r.facts.sha256.starts_with(&from.to_ascii_lowercase())
    };
    let is_version = |r: &Release| r.facts.version == from;
    for matches in [&is_seq as &dyn Fn(&Release) -> bool, &is_sha, &is_version] {
        let mut hits: Vec<&Release> = releases.iter().filter(|r| matches(r)).collect();
        match hits.len() {
            0 => continue,
            1 => return Ok(hits.remove(0).clone()),
            _ => return Err(Found::Many(hits.iter().map(|r| r.facts.seq).collect())),
        }
    }
    Err(Found::None)
}

/// The names published at a destination (every `NAME.latest`).
pub fn list_names(dest: &dyn Destination) -> Result<Vec<String>, PublishError> {
    Ok(dest
        .list("")?
        .into_iter()
        .filter_map(|k| k.strip_suffix(super::POINTER_SUFFIX).map(str::to_string))
        .collect())
}

/// Rolls `name` back (or forward) to the release `from` names (see [`find_release`]), by signing
/// that same bundle again under the new sequence number `seq` and publishing it: instances never
/// see a sequence number go down, yet run the old bytes.
pub fn republish(
    dest: &dyn Destination,
    name: &str,
    from: &str,
    key: &SigningKey,
    seq: u64,
    expires: Option<u64>,
) -> Result<Published, PublishError> {
    dest.check_exists()?;
    let releases = list_releases(dest, name)?;
    if releases.is_empty() {
        return Err(PublishError::NothingPublished {
            name: name.into(),
            dest: dest.describe(),
        });
    }
    let old = find_release(releases, from).map_err(|found| match found {
        Found::None => PublishError::NoSuchRelease {
            name: name.into(),
            from: from.into(),
            dest: dest.describe(),
        },
        Found::Many(seqs) => PublishError::Ambiguous {
            name: name.into(),
            from: from.into(),
            seqs,
        },
    })?;
    let scratch = ScratchDir::create("bundle-republish-").map_err(|source| PublishError::Io {
        op: "create",
        path: "a scratch folder".into(),
        source,
    })?;
    let local = scratch
        .path()
        .join(format!("{}{BUNDLE_SUFFIX}", old.facts.sha256));
    dest.fetch_to(&bundle_key(name, &old.facts.sha256), &local)?;
    let facts = TrustedFacts {
        seq,
        expires,
        ..old.facts
    };
    let open = fs::File::open(&local).map_err(|source| PublishError::Io {
        op: "read",
        path: local.display().to_string(),
        source,
    })?;
    let text = key.sign(open, &facts)?;
    fs::write(sig_path(&local), text).map_err(|source| PublishError::Io {
        op: "write",
        path: local.display().to_string(),
        source,
    })?;
    publish(dest, &local)
}
