//! A gzip reader for the payload: every member in order (RFC 1952 §2.2: "a gzip file consists of
//! a series of members"), then, as `gzip -d` does, zero bytes up to the end are padding rather
//! than another member. Tape blocking and `tar -b` pad the compressed stream with zeros to a whole
//! record; `gzip -d` and `tar -xz` accept that quietly, so a bundle made the seed's way (`tar -cz |
//! openssl enc`) may carry it (issue 9: it was exit 3, "wrong passphrase"). Anything else after a
//! member is an error. Knows nothing of tar or of where the bytes come from.

use std::io::{self, BufRead, Read};

use flate2::bufread::GzDecoder;

/// Reads every gzip member of `source`, then accepts only zero bytes to its end.
pub(crate) struct GzipMembers<R> {
    /// The member being read; `None` once the stream has ended.
    member: Option<GzDecoder<R>>,
    /// The first failure's kind and text, repeated by any later read (never a quiet end).
    failed: Option<(io::ErrorKind, String)>,
}

impl<R: BufRead> GzipMembers<R> {
    /// Reads gzip members from `source`; the first must start at once.
    pub(crate) fn new(source: R) -> Self {
        GzipMembers {
            member: Some(GzDecoder::new(source)),
            failed: None,
        }
    }

    /// Remembers `e` for later reads and hands it on unchanged.
    fn fail(&mut self, e: io::Error) -> io::Error {
        self.failed = Some((e.kind(), e.to_string()));
        self.member = None;
        e
    }
}

/// What follows a complete member: nothing, another member, or zero padding to the end.
fn after_member<R: BufRead>(mut source: R) -> io::Result<Option<GzDecoder<R>>> {
    let next = source.fill_buf()?;
    match next.first() {
        None => return Ok(None),
        // A member starts with 1f 8b, never with 0; a bad header fails on the member's first read.
        Some(&first) if first != 0 => return Ok(Some(GzDecoder::new(source))),
        Some(_) => {}
    }
    loop {
        let chunk = source.fill_buf()?;
        if chunk.is_empty() {
            return Ok(None);
        }
        if chunk.iter().any(|&b| b != 0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "bytes other than zeros follow the zero padding after the gzip data",
            ));
        }
        let n = chunk.len();
        source.consume(n);
    }
}

impl<R: BufRead> Read for GzipMembers<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some((kind, text)) = &self.failed {
            return Err(io::Error::new(*kind, text.clone()));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let Some(member) = self.member.as_mut() else {
                return Ok(0);
            };
            match member.read(buf) {
                Ok(0) => {
                    let Some(done) = self.member.take() else {
                        return Ok(0);
                    };
                    match after_member(done.into_inner()) {
                        Ok(next) => self.member = next,
                        Err(e) => return Err(self.fail(e)),
                    }
                }
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
                Err(e) => return Err(self.fail(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::pipeline::gzip_member;

    fn read_all(data: Vec<u8>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        GzipMembers::new(io::BufReader::with_capacity(7, &data[..])).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn members_are_read_in_order_and_zero_padding_is_the_end() {
        let mut two = gzip_member(b"one ").unwrap();
        two.extend(gzip_member(b"two").unwrap());
        assert_eq!(read_all(two.clone()).unwrap(), b"one two");
        let mut padded = two.clone();
        padded.resize(10240, 0);
        assert_eq!(read_all(padded.clone()).unwrap(), b"one two");
        padded.push(1);
        assert!(read_all(padded).is_err(), "garbage after the zeros");
        let mut junk = two;
        junk.extend_from_slice(b"junk");
        assert!(read_all(junk).is_err(), "junk where a member should start");
    }

    #[test]
    fn a_failure_is_repeated_never_a_quiet_end() {
        let mut cut = gzip_member(&[5; 4096]).unwrap();
        cut.truncate(cut.len() - 3);
        let mut r = GzipMembers::new(&cut[..]);
        let mut out = Vec::new();
        assert!(r.read_to_end(&mut out).is_err());
        assert!(r.read(&mut [0; 8]).is_err());
        assert!(
            GzipMembers::new(&b""[..]).read(&mut [0; 8]).is_err(),
            "no member at all"
        );
    }
}
