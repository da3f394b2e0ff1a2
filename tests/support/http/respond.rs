//! How the test server answers a request for a stored file: status, ranges, ETag, `If-Range` and
//! `If-None-Match` (304), and the deliberate mistakes a [`super::Behaviour`] asks for.

use std::io::{self, Write};

use super::Request;

/// Bytes written per call for normal responses.
const WRITE_CHUNK: usize = 16 * 1024;

/// How to answer a file request.
pub(super) struct Plan {
    /// `Accept-Ranges: bytes`, and `Range` honoured.
    pub ranges: bool,
    /// A Content-Length header.
    pub length: bool,
    /// A strong ETag header.
    pub etag: bool,
    /// `If-Range` honoured: a range of another ETag gets the whole file with 200.
    pub if_range: bool,
    /// A range request gets a 206 starting at 0.
    pub wrong_range: bool,
    /// A request without `Range` gets a 206 anyway.
    pub unasked_206: bool,
    /// `If-None-Match` honoured: the file's own ETag gets a 304 and no body.
    pub if_none_match: bool,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            ranges: true,
            length: true,
            etag: true,
            if_range: true,
            wrong_range: false,
            unasked_206: false,
            if_none_match: true,
        }
    }
}

/// The file's strong ETag: its content's hash, so a replaced file gets another one.
fn etag_of(file: &[u8]) -> String {
    format!("\"{}\"", &crate::support::sha256_hex(file)[..16])
}

impl Plan {
    /// The response head and the slice of the file to send.
    pub(super) fn response<'a>(&self, file: &'a [u8], request: &Request) -> (String, &'a [u8]) {
        let len = file.len();
        let etag = etag_of(file);
        // RFC 9110 §13.1.2: a listed ETag that matches (weakly) means "you have it": 304.
        let unchanged = self.etag
            && self.if_none_match
            && request.header("if-none-match").is_some_and(|listed| {
                listed
                    .split(',')
                    .any(|tag| tag.trim().trim_start_matches("W/") == etag || tag.trim() == "*")
            });
        if unchanged {
            let head =
                format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n");
            return (head, &[]);
        }
        // RFC 9110 §13.1.5: a range whose If-Range names another representation is ignored.
        let stale = self.if_range && request.header("if-range").is_some_and(|v| v != etag);
        let start = request
            .range
            .as_deref()
            .and_then(|r| r.trim().strip_prefix("bytes="))
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| self.ranges && !stale && n < len);
        let mut head = String::new();
        let whole = format!("Content-Range: bytes 0-{}/{len}\r\n", len.saturating_sub(1));
        let body = match start {
            Some(_) if self.wrong_range => {
                head.push_str("HTTP/1.1 206 Partial Content\r\n");
                head.push_str(&whole);
                file
            }
            Some(n) => {
                head.push_str("HTTP/1.1 206 Partial Content\r\n");
                head.push_str(&format!("Content-Range: bytes {n}-{}/{len}\r\n", len - 1));
                &file[n..]
            }
            None if self.unasked_206 => {
                head.push_str("HTTP/1.1 206 Partial Content\r\n");
                head.push_str(&whole);
                file
            }
            None => {
                head.push_str("HTTP/1.1 200 OK\r\n");
                file
            }
        };
        if self.ranges {
            head.push_str("Accept-Ranges: bytes\r\n");
        }
        if self.etag {
            head.push_str(&format!("ETag: {etag}\r\n"));
        }
        if self.length {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n");
        (head, body)
    }
}

/// Writes the head, then the body in chunks.
pub(super) fn write_all(stream: &mut impl Write, head: &[u8], body: &[u8]) -> io::Result<()> {
    stream.write_all(head)?;
    for piece in body.chunks(WRITE_CHUNK) {
        stream.write_all(piece)?;
    }
    stream.flush()
}
