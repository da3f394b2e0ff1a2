//! Conditional GETs (RFC 9110 §13.1): what identified the bytes of the last full answer — its
//! `ETag`, else its `Last-Modified` — sent back as `If-None-Match` or `If-Modified-Since`, so a
//! server whose object has not changed answers 304 with no body.
//!
//! Pure header logic: no I/O. The caller keeps the validators of the bytes it already has and
//! decides what a 304 means.

use reqwest::header::LAST_MODIFIED;
use reqwest::header::{DATE, ETAG, HeaderMap, HeaderName, IF_MODIFIED_SINCE, IF_NONE_MATCH};

/// Longest ETag kept: S3's are 34 characters; a longer one is not worth trusting.
pub(crate) const MAX_ETAG: usize = 256;
/// The weak-validator prefix of an entity-tag (RFC 9110 §8.8.3).
const WEAK_PREFIX: &str = "W/";
/// How much older than the answer's `Date` a `Last-Modified` must be to tell two versions apart:
/// a file changed twice within one second keeps the same `Last-Modified` (RFC 9110 §8.8.2.2).
const LAST_MODIFIED_MARGIN_SECS: u64 = 1;

/// What a server said identifies the bytes it sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Validators {
    /// The answer's entity-tag, quotes (and a weak `W/`) included.
    pub etag: Option<String>,
    /// The answer's `Last-Modified`, as sent; kept only when it can tell two versions apart.
    pub last_modified: Option<String>,
}

impl Validators {
    /// The validators of a 200's headers; None when it carried none that can be used.
    pub(crate) fn of(headers: &HeaderMap) -> Option<Validators> {
        let etag = text(headers, &ETAG).filter(|v| is_entity_tag(v));
        let last_modified = text(headers, &LAST_MODIFIED).filter(|modified| {
            // RFC 9110 §8.8.2.2: a Last-Modified less than a second before the Date may be
            // followed by another change within the same second, invisible to If-Modified-Since.
            let (Some(modified), Some(date)) = (
                crate::date::parse_http_date(modified),
                text(headers, &DATE).and_then(|d| crate::date::parse_http_date(&d)),
            ) else {
                return false;
            };
            modified.saturating_add(LAST_MODIFIED_MARGIN_SECS) <= date
        });
        let found = Validators {
            etag,
            last_modified,
        };
        (found.etag.is_some() || found.last_modified.is_some()).then_some(found)
    }

    /// The one condition to send: `If-None-Match` when an ETag is known — a server that gets
    /// both must ignore `If-Modified-Since` (RFC 9110 §13.1.3) — else `If-Modified-Since`.
    pub(crate) fn condition(&self) -> Option<(HeaderName, &str)> {
        match (&self.etag, &self.last_modified) {
            (Some(etag), _) => Some((IF_NONE_MATCH, etag)),
            (None, Some(modified)) => Some((IF_MODIFIED_SINCE, modified)),
            (None, None) => None,
        }
    }
}

/// An entity-tag as RFC 9110 §8.8.3 writes it: an optional `W/`, then `"…"` of plain characters
/// (`etagc`, without obs-text), at most [`MAX_ETAG`] long.
pub(crate) fn is_entity_tag(value: &str) -> bool {
    let opaque = value.strip_prefix(WEAK_PREFIX).unwrap_or(value);
    let Some(inner) = opaque
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return false;
    };
    value.len() <= MAX_ETAG
        && inner
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b))
}

/// Whether an entity-tag is strong (no `W/`): only those may go in `If-Range`.
pub(crate) fn is_strong(value: &str) -> bool {
    !value.starts_with(WEAK_PREFIX) && is_entity_tag(value)
}

/// Header `name`'s value, trimmed, when it is there and text.
pub(crate) fn text(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
}

/// Headers from static pairs, for the tests of this folder.
#[cfg(test)]
pub(crate) fn test_headers(pairs: &[(HeaderName, &'static str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(n, v)| (n.clone(), reqwest::header::HeaderValue::from_static(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::test_headers as headers;
    use super::*;

    const DAY: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    const SECOND_LATER: &str = "Sun, 06 Nov 1994 08:49:38 GMT";

    #[test]
    fn prefers_the_etag_and_keeps_weak_ones() {
        let both = Validators::of(&headers(&[
            (ETAG, "W/\"abc\""),
            (LAST_MODIFIED, DAY),
            (DATE, SECOND_LATER),
        ]))
        .unwrap();
        assert_eq!(both.condition(), Some((IF_NONE_MATCH, "W/\"abc\"")));
        assert_eq!(both.last_modified.as_deref(), Some(DAY));
        assert!(!is_strong("W/\"abc\"") && is_strong("\"abc\""));
    }

    #[test]
    fn uses_last_modified_only_a_second_before_the_date() {
        let old = Validators::of(&headers(&[(LAST_MODIFIED, DAY), (DATE, SECOND_LATER)]));
        assert_eq!(
            old.unwrap().condition(),
            Some((IF_MODIFIED_SINCE, DAY)),
            "a second before the Date"
        );
        for unusable in [
            headers(&[(LAST_MODIFIED, DAY), (DATE, DAY)]),
            headers(&[(LAST_MODIFIED, DAY)]),
            headers(&[(LAST_MODIFIED, "yesterday"), (DATE, SECOND_LATER)]),
        ] {
            assert_eq!(Validators::of(&unusable), None, "{unusable:?}");
        }
    }

    #[test]
    fn refuses_odd_etags() {
        for bad in ["abc", "\"", "\"a\"b\"", "W/abc", "\"a b\""] {
            assert!(!is_entity_tag(bad), "{bad}");
        }
        let long = format!("\"{}\"", "a".repeat(MAX_ETAG));
        assert!(!is_entity_tag(&long));
        assert_eq!(Validators::of(&headers(&[(ETAG, "\"a b\"")])), None);
    }
}
