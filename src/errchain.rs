//! Walking error chains: the innermost cause, and a typed error found somewhere inside.
//!
//! hyper and rustls wrap their errors in `io::Error`, whose `source()` skips the wrapped error
//! itself, so every `io::Error` on the way is opened with `get_ref` as well. Pure: no I/O.

use std::error::Error as StdError;
use std::io;

/// The next link of `err`'s chain: the error an `io::Error` wraps, else `source()`.
fn next<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    err.downcast_ref::<io::Error>()
        .and_then(|io| io.get_ref().map(|e| e as &(dyn StdError + 'static)))
        .or_else(|| err.source())
}

/// The innermost message of an error chain ("Connection refused (os error 111)"), which says
/// more than reqwest's "error sending request" and carries no URL.
pub fn root_cause(err: &(dyn StdError + 'static)) -> String {
    let mut last = err;
    while let Some(inner) = next(last) {
        last = inner;
    }
    last.to_string()
}

/// The first error of type `T` in `err`'s chain, `err` included.
pub fn find<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut at = Some(err);
    while let Some(e) = at {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        at = next(e);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digs_through_io_errors() {
        let inner = io::Error::new(io::ErrorKind::ConnectionRefused, "refused");
        let outer = io::Error::other(inner);
        assert_eq!(root_cause(&outer), "refused");
    }

    #[test]
    fn finds_a_typed_error_inside_io_errors() {
        let inner = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = io::Error::other(inner);
        assert!(find::<rustls::Error>(&io).is_some());
        assert!(find::<rustls::Error>(&io::Error::other("plain")).is_none());
    }
}
