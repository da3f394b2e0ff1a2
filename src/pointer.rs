//! The published layout both sides agree on — `bundle publish` writes it, `bundle-bootstrap` reads
//! it — and the name an instance expects a signature to carry.
//!
//! For a bundle named NAME, a destination holds `NAME/<sha256>.bundle` (+ `.minisig`), the
//! content-addressed releases, and `NAME.latest`, the pointer: the `.minisig` of the current
//! release, whose signed trusted comment names its sha256, sequence number and parameters.

use crate::sign::comment::{CommentError, TrustedFacts};

/// File name suffix of a release pointer.
pub const POINTER_SUFFIX: &str = ".latest";
/// File name suffix of a release in its name's folder.
pub const BUNDLE_SUFFIX: &str = ".bundle";

/// The key of a release's bundle file.
pub fn bundle_key(name: &str, sha256: &str) -> String {
    format!("{name}/{sha256}{BUNDLE_SUFFIX}")
}

/// The key of a name's pointer.
pub fn pointer_key(name: &str) -> String {
    format!("{name}{POINTER_SUFFIX}")
}

/// True when `url` names a pointer (`…/NAME.latest`, query ignored).
pub fn is_pointer(url: &str) -> bool {
    strip_query(url).ends_with(POINTER_SUFFIX)
}

/// The bundle name a pointer URL stands for: `…/web.latest?…` → `web`.
pub fn pointer_name(pointer_url: &str) -> &str {
    let plain = strip_query(pointer_url);
    let file = plain.rsplit('/').next().unwrap_or(plain);
    file.strip_suffix(POINTER_SUFFIX).unwrap_or(file)
}

/// The URL of the release a pointer at `pointer_url` designates, by its signed facts.
pub fn release_url(pointer_url: &str, facts: &TrustedFacts) -> String {
    let plain = strip_query(pointer_url);
    let base = match plain.rsplit_once('/') {
        Some((base, _)) => format!("{base}/"),
        None => String::new(),
    };
    format!("{base}{}", bundle_key(&facts.name, &facts.sha256))
}

fn strip_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// The trusted comment of a `.minisig` text (unverified: the caller verifies it with the bundle).
pub fn trusted_facts(minisig: &str) -> Result<TrustedFacts, CommentError> {
    let comment = minisig
        .lines()
        .find_map(|l| l.strip_prefix("trusted comment: "))
        .ok_or_else(|| CommentError::Malformed {
            reason: "no trusted comment line".into(),
        })?;
    TrustedFacts::parse(comment.trim_end())
}

/// The bundle name an instance booting `url` expects a signature to vouch for: a pointer's name
/// (`…/web.latest` → `web`), else the URL's file name without its last extension (`…/web.bundle`
/// → `web`, `…/web` → `web`), query and fragment ignored.
pub fn expected_name(url: &str) -> &str {
    if is_pointer(url) {
        return pointer_name(url);
    }
    let plain = strip_query(url);
    let file = plain.rsplit('/').next().unwrap_or(plain);
    match file.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => file,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_name_their_release_beside_them() {
        let facts = TrustedFacts {
            name: "shop".into(),
            version: "1".into(),
            seq: 3,
            sha256: "ab".repeat(32),
            params: crate::enc::Params::default(),
            expires: None,
        };
        let sha = "ab".repeat(32);
        assert!(is_pointer("http://h/x/shop.latest?sig=1"));
        assert!(!is_pointer("http://h/x/shop.bundle"));
        assert_eq!(
            release_url("http://h/x/shop.latest?q", &facts),
            format!("http://h/x/shop/{sha}.bundle")
        );
        assert_eq!(
            release_url("s3://b/p/shop.latest", &facts),
            format!("s3://b/p/shop/{sha}.bundle")
        );
        assert_eq!(
            release_url("/srv/shop.latest", &facts),
            format!("/srv/shop/{sha}.bundle")
        );
        assert_eq!(
            release_url("shop.latest", &facts),
            format!("shop/{sha}.bundle")
        );
    }

    #[test]
    fn the_name_an_instance_expects() {
        assert_eq!(
            expected_name("https://h/b/web.bundle?X-Amz-Signature=1"),
            "web"
        );
        assert_eq!(expected_name("s3://b/prod/web.latest"), "web");
        assert_eq!(expected_name("/srv/my.app.bundle"), "my.app");
        assert_eq!(expected_name("file:///srv/web"), "web");
        assert_eq!(expected_name("https://h/.hidden"), ".hidden");
    }
}
