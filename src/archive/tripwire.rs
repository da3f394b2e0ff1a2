//! Reader adapters that let the extractor say *why* reading stopped, because the tar parser
//! re-wraps every `io::Error` it sees and a message cannot be trusted to tell them apart:
//!
//! - [`Tripwire`] marks a shared [`StreamFault`] when the reader under it fails. Placed on the
//!   input (the decrypting reader, whose bad-padding error only appears at EOF) and on the
//!   decompressor's output, it tells "the stream broke" (exit 3) from "the archive is bad" (exit 4).
//! - [`Budgeted`] counts the bytes the tar parser consumes and caps how far it may read past the
//!   last entry's data, so a hostile GNU long-name or PAX header cannot make it buffer gigabytes.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Shared record that a stream under a [`Tripwire`] failed, with the first failure kept whole.
#[derive(Debug, Default)]
pub(crate) struct StreamFault {
    failed: AtomicBool,
    first: Mutex<Option<io::Error>>,
}

impl StreamFault {
    /// A fresh, untripped record.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(StreamFault::default())
    }

    /// Whether any reader under a tripwire has failed.
    pub(crate) fn failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    /// The first failure, taken out (later calls get `None`).
    pub(crate) fn take(&self) -> Option<io::Error> {
        self.first.lock().ok().and_then(|mut slot| slot.take())
    }

    /// Records `e`; keeps it when it is the first, and returns what to pass up instead.
    fn record(&self, e: io::Error) -> io::Error {
        self.failed.store(true, Ordering::SeqCst);
        if let Ok(mut slot) = self.first.lock()
            && slot.is_none()
        {
            let passed = io::Error::new(e.kind(), e.to_string());
            *slot = Some(e);
            return passed;
        }
        e
    }
}

/// A reader that trips its [`StreamFault`] when the inner reader fails.
pub(crate) struct Tripwire<R> {
    inner: R,
    fault: Arc<StreamFault>,
}

impl<R: Read> Tripwire<R> {
    /// Watches `inner`, reporting to `fault`.
    pub(crate) fn new(inner: R, fault: Arc<StreamFault>) -> Self {
        Tripwire { inner, fault }
    }
}

impl<R: Read> Read for Tripwire<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Err(e) if e.kind() != io::ErrorKind::Interrupted => Err(self.fault.record(e)),
            other => other,
        }
    }
}

/// Position and read limit of a [`Budgeted`] reader, shared with the extractor.
#[derive(Debug, Default)]
pub(crate) struct Gauge {
    pos: Cell<u64>,
    limit: Cell<u64>,
    over: Cell<bool>,
    eof: Cell<bool>,
}

impl Gauge {
    /// A gauge allowing `limit` bytes from the start.
    pub(crate) fn new(limit: u64) -> Rc<Self> {
        let gauge = Gauge::default();
        gauge.limit.set(limit);
        Rc::new(gauge)
    }

    /// Bytes consumed so far.
    pub(crate) fn pos(&self) -> u64 {
        self.pos.get()
    }

    /// Moves the limit (an absolute position).
    pub(crate) fn set_limit(&self, limit: u64) {
        self.limit.set(limit);
    }

    /// Whether a read was stopped by the limit.
    pub(crate) fn over(&self) -> bool {
        self.over.get()
    }

    /// Whether the stream underneath has ended (a clean end of file).
    pub(crate) fn at_eof(&self) -> bool {
        self.eof.get()
    }
}

/// A reader that stops with an error at its [`Gauge`]'s limit.
pub(crate) struct Budgeted<R> {
    inner: R,
    gauge: Rc<Gauge>,
}

impl<R: Read> Budgeted<R> {
    /// Counts and limits reads from `inner`.
    pub(crate) fn new(inner: R, gauge: Rc<Gauge>) -> Self {
        Budgeted { inner, gauge }
    }
}

impl<R: Read> Read for Budgeted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let pos = self.gauge.pos.get();
        let room = self.gauge.limit.get().saturating_sub(pos);
        if room == 0 {
            self.gauge.over.set(true);
            return Err(io::Error::other("read limit reached"));
        }
        let max = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            self.gauge.eof.set(true);
        }
        self.gauge.pos.set(pos + n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::InvalidData, "bad decrypt"))
        }
    }

    #[test]
    fn a_tripwire_keeps_the_first_error_whole() {
        let fault = StreamFault::new();
        let mut r = Tripwire::new(Failing, Arc::clone(&fault));
        let passed = r.read(&mut [0; 4]).unwrap_err();
        assert_eq!(passed.kind(), io::ErrorKind::InvalidData);
        assert!(fault.failed());
        assert_eq!(fault.take().unwrap().to_string(), "bad decrypt");
        let fine = StreamFault::new();
        let mut ok = Tripwire::new(&b"abc"[..], Arc::clone(&fine));
        assert_eq!(ok.read(&mut [0; 4]).unwrap(), 3);
        assert!(!fine.failed());
    }

    #[test]
    fn a_budget_stops_reads_at_the_limit() {
        let gauge = Gauge::new(5);
        let mut r = Budgeted::new(&[1u8; 10][..], Rc::clone(&gauge));
        let mut buf = [0; 8];
        assert_eq!(r.read(&mut buf).unwrap(), 5);
        assert!(r.read(&mut buf).is_err());
        assert!(gauge.over());
        gauge.set_limit(20);
        assert_eq!(r.read(&mut buf).unwrap(), 5);
        assert_eq!(gauge.pos(), 10);
    }
}
