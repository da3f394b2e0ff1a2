//! What a fetch argument points at (web URL, S3 object, local file, or something unsupported), its display
//! name, and the redacted form that is safe to log.
//!
//! Pure string work: no I/O, no network.

use std::path::{Path, PathBuf};

use reqwest::Url;

use super::error::FetchError;
use crate::aws::s3::{Location, parse_location};

/// The name used when a URL or path has no last segment (`https://host/`).
pub const DEFAULT_NAME: &str = "bundle";

/// Shown instead of a query string or userinfo: presigned URLs carry credentials there.
const HIDDEN: &str = "…";

/// Where the bytes come from.
#[derive(Debug)]
pub(crate) enum Source {
    /// An http:// or https:// URL.
    Web(Url),
    /// A file:// URL or a plain path.
    Local(PathBuf),
    /// An s3://bucket/key URL.
    S3(Location),
}

/// Sorts `text` into a [`Source`], refusing schemes this tool does not speak.
pub(crate) fn parse(text: &str) -> Result<Source, FetchError> {
    let Some(scheme) = scheme_of(text) else {
        if text.is_empty() {
            return Err(FetchError::BadUrl {
                url: String::new(),
                reason: "the URL is empty".into(),
            });
        }
        return Ok(Source::Local(PathBuf::from(text)));
    };
    let bad = |reason: String| FetchError::BadUrl {
        url: redact(text),
        reason,
    };
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "https" => {
            let url = Url::parse(text).map_err(|e| bad(e.to_string()))?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err(bad("it has no host".into()));
            }
            Ok(Source::Web(url))
        }
        "file" => {
            let url = Url::parse(text).map_err(|e| bad(e.to_string()))?;
            // RFC 8089: only an empty host or `localhost` means this machine.
            if url
                .host_str()
                .is_some_and(|h| !h.is_empty() && h != "localhost")
            {
                return Err(bad(
                    "file:// URLs must name this machine (file:///path)".into()
                ));
            }
            let path = url
                .to_file_path()
                .map_err(|()| bad("not a usable local path".into()))?;
            Ok(Source::Local(path))
        }
        "s3" => Ok(Source::S3(parse_location(text)?)),
        other => Err(FetchError::UnsupportedScheme {
            url: redact(text),
            scheme: other.to_string(),
        }),
    }
}

/// The scheme when `text` starts with `scheme://` (RFC 3986 §3.1 characters), else None: a path.
fn scheme_of(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    let valid = first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

/// `url` with its query string and userinfo hidden, safe for logs and errors.
///
/// `https://u:p@host/b.enc?X-Amz-Signature=…` becomes `https://…@host/b.enc?…`. Plain paths are
/// returned unchanged (a `?` is a legal file-name character there).
pub fn redact(url: &str) -> String {
    let Some(scheme) = scheme_of(url) else {
        return url.to_string();
    };
    let rest = &url[scheme.len() + "://".len()..];
    let (before_query, had_query) = match rest.find('?') {
        Some(i) => (&rest[..i], true),
        None => (rest, false),
    };
    let authority_end = before_query.find('/').unwrap_or(before_query.len());
    let (authority, path) = before_query.split_at(authority_end);
    let mut out = format!("{scheme}://");
    match authority.rfind('@') {
        Some(at) => {
            out.push_str(HIDDEN);
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    out.push_str(path);
    if had_query {
        out.push('?');
        out.push_str(HIDDEN);
    }
    out
}

/// The last path segment of a web URL, without its query; [`DEFAULT_NAME`] when empty.
pub(crate) fn web_name(url: &Url) -> String {
    let last = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or_default();
    usable_name(last)
}

/// The file name of a local path; [`DEFAULT_NAME`] when it has none.
pub(crate) fn local_name(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    usable_name(name.as_deref().unwrap_or_default())
}

/// `name`, or [`DEFAULT_NAME`] when it is empty, `.` or `..`.
pub(crate) fn usable_name(name: &str) -> String {
    if name.is_empty() || name == "." || name == ".." {
        DEFAULT_NAME.to_string()
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_queries_and_userinfo() {
        assert_eq!(
            redact("https://b.s3.amazonaws.com/x/b.enc?X-Amz-Signature=abc&X-Amz-Credential=k"),
            "https://b.s3.amazonaws.com/x/b.enc?…"
        );
        assert_eq!(
            redact("http://user:secret@host:8080/b.enc"),
            "http://…@host:8080/b.enc"
        );
        assert_eq!(redact("https://host?token=1"), "https://host?…");
        assert_eq!(redact("https://host/b.enc"), "https://host/b.enc");
        assert_eq!(redact("/srv/odd?name"), "/srv/odd?name");
    }

    #[test]
    fn names_come_from_the_last_segment() {
        let url = Url::parse("https://h/a/b.enc?X-Amz-Signature=1").unwrap();
        assert_eq!(web_name(&url), "b.enc");
        assert_eq!(web_name(&Url::parse("https://h/").unwrap()), DEFAULT_NAME);
        assert_eq!(web_name(&Url::parse("https://h").unwrap()), DEFAULT_NAME);
        assert_eq!(local_name(Path::new("/tmp/x.enc")), "x.enc");
        assert_eq!(local_name(Path::new("/")), DEFAULT_NAME);
    }

    #[test]
    fn sorts_sources() {
        assert!(matches!(parse("https://h/b"), Ok(Source::Web(_))));
        assert!(matches!(parse("HTTP://h/b"), Ok(Source::Web(_))));
        assert!(matches!(parse("file:///tmp/b"), Ok(Source::Local(p)) if p == Path::new("/tmp/b")));
        assert!(matches!(parse("rel/b.enc"), Ok(Source::Local(_))));
        assert!(matches!(parse("s3://bucket/k"), Ok(Source::S3(_))));
        assert!(matches!(
            parse("S3://bucket"),
            Err(FetchError::S3Address(_))
        ));
        assert!(matches!(
            parse("ftp://h/b"),
            Err(FetchError::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            parse("file://other/b"),
            Err(FetchError::BadUrl { .. })
        ));
        assert!(matches!(parse("https://"), Err(FetchError::BadUrl { .. })));
        assert!(matches!(parse(""), Err(FetchError::BadUrl { .. })));
    }
}
