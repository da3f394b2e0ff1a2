//! Reading the payload: choose the decompressor, walk the tar entries, read to the very end, and
//! say *why* reading stopped: the input failed, the stream broke, the archive is bad, or an entry
//! was refused (DESIGN.md: exit 3 for everything up to a readable archive, exit 4 after).
//!
//! Every failure before the first valid tar header is the one [`ArchiveError::Unreadable`], with no
//! detail: a wrong key yields garbage, and saying whether that garbage was "not gzip" or ended in
//! bad padding would be a padding oracle one layer above the decrypter's own (Vaudenay 2002;
//! issue 9). A failure of the input reader itself is [`ArchiveError::Input`], carrying the
//! reader's own error, so the caller that knows the reader (the decrypter) can classify it.
//!
//! Knows tar and compression only; the files are the extractor's.

use std::io::{self, Read};
use std::rc::Rc;
use std::sync::Arc;

use super::Compression;
use super::detect;
use super::error::ArchiveError;
use super::extract::{Extractor, Failure};
use super::readahead::ReadAhead;
use super::tripwire::{Budgeted, Gauge, StreamFault, Tripwire};
use crate::exit::Classify as _;

/// tar's block size (POSIX.1-1988 ustar).
const BLOCK: u64 = 512;
/// How far tar may read past the last entry's data before the next entry: room for GNU long
/// names and PAX records, which tar-rs holds in memory.
const MAX_HEADER_BYTES: u64 = 1 << 20;
/// How much may follow the end-of-archive marker (GNU tar pads to its record size, 10 KiB by
/// default; `-b` can raise that).
const MAX_TRAILING_BYTES: u64 = 16 << 20;

/// Reads the whole stream, extracting every entry, and drains it to the end.
pub(crate) fn extract_all<R: Read + Send + 'static>(
    input: R,
    extractor: &mut Extractor<'_>,
) -> Result<Compression, ArchiveError> {
    let faults = Faults {
        input: StreamFault::new(),
        below: StreamFault::new(),
    };
    let (compression, decoded) = detect::open(input, &faults.input).map_err(|e| {
        Stream {
            faults: &faults,
            gauge: Gauge::new(0),
            at: At::Start,
        }
        .fail(e)
    })?;
    let gauge = Gauge::new(MAX_HEADER_BYTES);
    let reader = Budgeted::new(
        Tripwire::new(ReadAhead::new(decoded), Arc::clone(&faults.below)),
        Rc::clone(&gauge),
    );
    let mut archive = tar::Archive::new(reader);
    let mut stream = Stream {
        faults: &faults,
        gauge: Rc::clone(&gauge),
        at: At::Start,
    };
    let mut last_end = 0u64;
    if let Err(e) = read_entries(&mut archive, extractor, &mut stream, &mut last_end) {
        return Err(damage_or_refusal(
            e,
            archive,
            &stream,
            extractor.max_bytes(),
        ));
    }
    // tar-rs ends quietly both at a zero block and at a plain end of stream; only the first is an
    // archive's real end (POSIX: "two consecutive blocks of zero bytes").
    if gauge.pos() == last_end {
        return Err(match stream.at {
            At::Start => ArchiveError::Unreadable,
            _ => ArchiveError::Stream {
                what: "it ends before the end-of-archive marker".to_owned(),
                source: None,
            },
        });
    }
    stream.at = At::Trailing {
        offset: gauge.pos(),
    };
    gauge.set_limit(gauge.pos().saturating_add(MAX_TRAILING_BYTES));
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| stream.fail(e))?;
    Ok(compression)
}

/// Extracts every entry of the archive in order.
fn read_entries<R: Read>(
    archive: &mut tar::Archive<R>,
    extractor: &mut Extractor<'_>,
    stream: &mut Stream<'_>,
    last_end: &mut u64,
) -> Result<(), ArchiveError> {
    let entries = archive.entries().map_err(|e| stream.fail(e))?;
    for item in entries {
        if !matches!(stream.at, At::Start) {
            // The next header (and any GNU long-name or PAX blocks before it) starts here.
            stream.at = At::Header { offset: *last_end };
        }
        let mut entry = item.map_err(|e| stream.fail(e))?;
        stream.at = At::Entry {
            name: String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
        };
        *last_end = entry
            .raw_file_position()
            .saturating_add(entry.size().div_ceil(BLOCK).saturating_mul(BLOCK));
        stream
            .gauge
            .set_limit(last_end.saturating_add(MAX_HEADER_BYTES));
        extractor.entry(&mut entry).map_err(|f| match f {
            Failure::Read(e) => stream.fail(e),
            Failure::Archive(a) => a,
        })?;
    }
    Ok(())
}

/// A malformed or refused entry may only be the first symptom of a damaged file: CBC turns a
/// flipped ciphertext byte into a garbage block that tar sees before gzip's CRC-32 or the padding
/// check at the very end can. So before calling an archive unsafe (exit 4), read the rest of the
/// stream (at most `cap` more bytes): if the input or decompressor then fails, the file is
/// damaged or the key wrong (exit 3), which is what the operator needs to hear.
fn damage_or_refusal<R: Read>(
    e: ArchiveError,
    archive: tar::Archive<R>,
    stream: &Stream<'_>,
    cap: u64,
) -> ArchiveError {
    if stream.faults.failed() || e.exit() != crate::exit::Exit::Archive {
        return e;
    }
    stream
        .gauge
        .set_limit(stream.gauge.pos().saturating_add(cap));
    let _ = io::copy(&mut archive.into_inner().take(cap), &mut io::sink());
    if stream.faults.failed() {
        return stream.broken(None);
    }
    e
}

/// Where a reader below tar failed: the input itself, or anything below tar (the decompressor,
/// which also sees the input's failures).
struct Faults {
    input: Arc<StreamFault>,
    below: Arc<StreamFault>,
}

impl Faults {
    fn failed(&self) -> bool {
        self.input.failed() || self.below.failed()
    }
}

/// Where in the stream reading was.
enum At {
    /// Before the first valid header.
    Start,
    /// At the header that starts at this offset of the tar stream.
    Header { offset: u64 },
    /// Inside the data of this entry.
    Entry { name: String },
    /// After the end-of-archive marker, which ends at this offset.
    Trailing { offset: u64 },
}

/// Turns a read failure into the right error: a broken stream (exit 3) or a bad archive (exit 4).
struct Stream<'a> {
    faults: &'a Faults,
    gauge: Rc<Gauge>,
    at: At,
}

impl Stream<'_> {
    fn fail(&self, e: io::Error) -> ArchiveError {
        if self.faults.failed() {
            return self.broken(Some(e));
        }
        if self.gauge.over() {
            return match &self.at {
                At::Trailing { offset } => ArchiveError::At {
                    offset: *offset,
                    reason: format!(
                        "more than {MAX_TRAILING_BYTES} bytes follow the end-of-archive marker"
                    ),
                    source: None,
                },
                // Checksummed headers took us here, so this is an archive, however long its
                // headers; a wrong key cannot get past the first checksum.
                At::Start => header_budget(0),
                At::Header { offset } => header_budget(*offset),
                At::Entry { name } => ArchiveError::malformed(name, "reading its data failed"),
            };
        }
        match &self.at {
            At::Start => ArchiveError::Unreadable,
            At::Header { offset } if self.gauge.at_eof() => ArchiveError::Stream {
                // The stream ended cleanly in the middle of a header: a plain tar cut short.
                what: format!("it ends inside the entry header at byte {offset}"),
                source: Some(e),
            },
            At::Header { offset } => ArchiveError::At {
                offset: *offset,
                reason: "the entry header is unreadable".to_owned(),
                source: Some(e),
            },
            At::Entry { name } => ArchiveError::Malformed {
                entry: name.clone(),
                reason: "reading its data failed".to_owned(),
                source: Some(e),
            },
            At::Trailing { .. } => ArchiveError::Stream {
                what: "reading past the end-of-archive marker failed".to_owned(),
                source: Some(e),
            },
        }
    }

    /// The error for a reader below tar that failed: the input's own error when it was the input,
    /// else the decompressor's; before the first header, nothing but that it is unreadable.
    fn broken(&self, e: Option<io::Error>) -> ArchiveError {
        if let Some(source) = self.faults.input.take() {
            return ArchiveError::Input { source };
        }
        match self.at {
            At::Start => ArchiveError::Unreadable,
            _ => ArchiveError::Stream {
                what: "reading or decompressing it failed".to_owned(),
                source: self.faults.below.take().or(e),
            },
        }
    }
}

fn header_budget(offset: u64) -> ArchiveError {
    ArchiveError::At {
        offset,
        reason: format!("more than {MAX_HEADER_BYTES} bytes of headers before the next entry"),
        source: None,
    }
}
