//! Resuming a cut download without splicing two objects together.
//!
//! A cut body is resumed with `Range: bytes=N-` only when the first answer carried a strong
//! ETag, sent back in `If-Range` (RFC 9110 §13.1.5): a server whose object changed answers 200
//! with the whole new one. The 206 that comes back must start at N, carry the same ETag, promise
//! the same total size and a Content-Length that matches its Content-Range (§14.4); otherwise
//! its bytes are not appended and the download starts again from zero. A spliced file would
//! fail to decrypt, and the passphrase would take the blame. Pure header logic: no I/O.

use reqwest::header::{ACCEPT_RANGES, CONTENT_RANGE, ETAG, HeaderMap, HeaderName};

/// Characters of a hostile header shown in a log line.
const SHOWN_MAX: usize = 100;

/// What the answers so far said about the object.
#[derive(Debug, Default)]
pub(crate) struct Resume {
    /// Its strong ETag.
    etag: Option<String>,
    /// Its full size.
    total: Option<u64>,
    /// Whether the server serves byte ranges.
    ranges: bool,
}

impl Resume {
    /// `Range` and `If-Range` for a part holding `have` bytes; None: start from zero (nothing
    /// held, no ranges, or no strong ETag to prove the rest is of the same object).
    pub(crate) fn ask(&self, have: u64) -> Option<(String, String)> {
        let etag = self.etag.as_ref().filter(|_| have > 0 && self.ranges)?;
        Some((format!("bytes={have}-"), etag.clone()))
    }

    /// Forgets the object: the next attempt starts from zero.
    pub(crate) fn forget(&mut self) {
        *self = Resume::default();
    }

    /// A 200, the whole object: remembers its ETag, size and whether it serves ranges.
    pub(crate) fn whole(&mut self, headers: &HeaderMap, length: Option<u64>) {
        self.etag = strong_etag(headers);
        self.total = length;
        self.ranges = header(headers, ACCEPT_RANGES)
            .split(',')
            .any(|unit| unit.trim().eq_ignore_ascii_case("bytes"));
    }

    /// A 206 to `Range: bytes={from}-`: the object's total size (None: unknown) when its bytes
    /// continue the part, else what is wrong with it, for a log line.
    pub(crate) fn partial(
        &mut self,
        from: u64,
        headers: &HeaderMap,
        length: Option<u64>,
    ) -> Result<Option<u64>, String> {
        let range = header(headers, CONTENT_RANGE);
        let shown: String = range.chars().take(SHOWN_MAX).collect();
        let (first, last, total) =
            content_range(&range).ok_or_else(|| format!("Content-Range `{shown}`"))?;
        if first != from {
            return Err(format!("Content-Range `{shown}`"));
        }
        if let Some(length) = length
            && Some(length) != last.checked_sub(first).and_then(|n| n.checked_add(1))
        {
            return Err(format!(
                "a Content-Length of {length} for Content-Range `{shown}`"
            ));
        }
        if strong_etag(headers) != self.etag {
            return Err(
                "no ETag, or another than the first answer's: the object may have changed".into(),
            );
        }
        if let (Some(was), Some(now)) = (self.total, total)
            && was != now
        {
            return Err(format!(
                "the object's size changed from {was} to {now} bytes"
            ));
        }
        let total = total.or_else(|| length.map(|len| from + len));
        self.total = total.or(self.total);
        self.ranges = true;
        Ok(total)
    }
}

/// `bytes FIRST-LAST/TOTAL` (TOTAL may be `*`: unknown).
fn content_range(value: &str) -> Option<(u64, u64, Option<u64>)> {
    let spec = value.trim().strip_prefix("bytes ")?;
    let (span, total) = spec.split_once('/')?;
    let (first, last) = span.split_once('-')?;
    let (first, last) = (first.trim().parse().ok()?, last.trim().parse().ok()?);
    let total = match total.trim() {
        "*" => None,
        n => Some(n.parse().ok()?),
    };
    (first <= last).then_some((first, last, total))
}

/// The answer's ETag when it is strong (`"…"`, not `W/"…"`: If-Range takes only strong ones)
/// and plain (RFC 9110 §8.8.3 characters, not too long).
fn strong_etag(headers: &HeaderMap) -> Option<String> {
    let value = header(headers, ETAG);
    super::validators::is_strong(&value).then_some(value)
}

fn header(headers: &HeaderMap, name: HeaderName) -> String {
    super::validators::text(headers, &name).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::validators::test_headers as headers;
    use super::*;
    use reqwest::header::{CONTENT_RANGE, ETAG};

    fn first_answer(etag: &'static str) -> Resume {
        let mut resume = Resume::default();
        resume.whole(
            &headers(&[(ACCEPT_RANGES, "bytes"), (ETAG, etag)]),
            Some(1000),
        );
        resume
    }

    #[test]
    fn resumes_only_with_a_strong_etag_and_ranges() {
        let resume = first_answer("\"abc\"");
        assert_eq!(
            resume.ask(100),
            Some(("bytes=100-".into(), "\"abc\"".into()))
        );
        assert_eq!(resume.ask(0), None);
        assert_eq!(first_answer("W/\"abc\"").ask(100), None);
        assert_eq!(first_answer("\"a\"b\"").ask(100), None);
        let mut no_ranges = Resume::default();
        no_ranges.whole(&headers(&[(ETAG, "\"abc\"")]), Some(1000));
        assert_eq!(no_ranges.ask(100), None);
    }

    #[test]
    fn appends_only_the_same_object_from_the_right_place() {
        let answer = |range: &'static str, etag: &'static str, len: u64| {
            let mut resume = first_answer("\"abc\"");
            resume.partial(
                100,
                &headers(&[(CONTENT_RANGE, range), (ETAG, etag)]),
                Some(len),
            )
        };
        assert_eq!(answer("bytes 100-999/1000", "\"abc\"", 900), Ok(Some(1000)));
        assert_eq!(answer("bytes 100-999/*", "\"abc\"", 900), Ok(Some(1000)));
        let wrong_start = answer("bytes 0-999/1000", "\"abc\"", 1000).unwrap_err();
        assert!(wrong_start.contains("bytes 0-999/1000"), "{wrong_start}");
        assert!(
            answer("bytes 100-999/1000", "\"new\"", 900)
                .unwrap_err()
                .contains("ETag")
        );
        assert!(
            answer("bytes 100-799/800", "\"abc\"", 700)
                .unwrap_err()
                .contains("from 1000 to 800")
        );
        assert!(
            answer("bytes 100-999/1000", "\"abc\"", 500)
                .unwrap_err()
                .contains("Content-Length")
        );
        assert!(answer("items 100-999/1000", "\"abc\"", 900).is_err());
        assert!(answer("bytes 100-50/1000", "\"abc\"", 900).is_err());
    }
}
