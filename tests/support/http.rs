//! A small fault-injecting HTTP/1.1 (and HTTPS) server on 127.0.0.1 for the tests.
//!
//! `Server::start()` binds a free port; `put` stores a file in memory (served with a strong ETag,
//! honouring `If-Range` and `If-None-Match`, unless told otherwise); `script` queues one
//! [`Behaviour`] per coming request for a path (then plain `Ok`); `requests` is the log of what
//! clients asked for, headers included (so tests can see a `Range`, a `Referer` or a token), and
//! `answers` what each got (status, body bytes). One thread per connection, one request per
//! connection (`Connection: close`); everything stops when the server is dropped.
//! `make_certs` builds a CA and a server certificate with the real `openssl` for HTTPS tests.

mod certs;
mod respond;

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub use certs::make_certs;
use respond::{Plan, write_all};

/// Longest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// A connection that sends nothing for this long is dropped.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How often idle loops look at the stop flag.
const TICK: Duration = Duration::from_millis(5);

/// What the server does with one request for a path.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Serve the file (206 for a `Range: bytes=N-` request, unless ranges are off).
    Ok,
    /// Answer with this status and a short body.
    Status(u16),
    /// Answer with this status and `Retry-After: secs`.
    RetryAfter { status: u16, secs: u64 },
    /// Announce the full Content-Length, send only this many body bytes, then close.
    CutAfter(usize),
    /// Serve the file at this rate (at least one byte every 100 ms).
    Slow { bytes_per_sec: usize },
    /// Send the headers and half the body, then go silent for this long, then close.
    Stall(Duration),
    /// Serve the whole file with 200, ignoring `Range` and without `Accept-Ranges`.
    NoRanges,
    /// Serve the whole file with 200 and no Content-Length (the close ends the body).
    NoLength,
    /// Answer a range request with a 206 for the whole file (`bytes 0-…`), a wrong start.
    WrongRange,
    /// Answer a request without `Range` with a 206 for the whole file: a range never asked for.
    Unasked206,
    /// Replace the file with these bytes (a new ETag), then serve as `Ok`.
    Replace(Vec<u8>),
    /// Redirect (302) to this location.
    Redirect(String),
}

/// What the server answered to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answered {
    /// The status code.
    pub status: u16,
    /// Body bytes sent.
    pub body: usize,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The request target as sent, query included.
    pub target: String,
    /// The `Range` header, if any.
    pub range: Option<String>,
    /// Every header, names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The value of header `name` (any case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    files: HashMap<String, Arc<Vec<u8>>>,
    scripts: HashMap<String, VecDeque<Behaviour>>,
    no_ranges: HashSet<String>,
    no_etag: HashSet<String>,
    ignore_if_range: HashSet<String>,
    ignore_if_none_match: HashSet<String>,
    requests: Vec<Request>,
    answers: Vec<(String, Answered)>,
}

struct Shared {
    stop: AtomicBool,
    state: Mutex<State>,
    tls: Option<Arc<rustls::ServerConfig>>,
}

/// The running server; stops when dropped.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts a plain HTTP server on 127.0.0.1 and a free port.
    pub fn start() -> Server {
        Server::launch(None)
    }

    /// Starts an HTTPS server with this PEM certificate chain and key.
    pub fn start_tls(cert_pem: &Path, key_pem: &Path) -> Server {
        let certs = CertificateDer::pem_file_iter(cert_pem)
            .expect("read the server certificate")
            .collect::<Result<Vec<_>, _>>()
            .expect("parse the server certificate");
        let key = PrivateKeyDer::from_pem_file(key_pem).expect("read the server key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server certificate and key");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Server::launch(Some(Arc::new(config)))
    }

    fn launch(tls: Option<Arc<rustls::ServerConfig>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            state: Mutex::new(State::default()),
            tls,
        });
        let for_thread = Arc::clone(&shared);
        let accept = thread::spawn(move || accept_loop(listener, for_thread));
        Server {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// Stores `bytes` at `path` (e.g. `/b.enc`).
    pub fn put(&self, path: &str, bytes: impl Into<Vec<u8>>) {
        self.state()
            .files
            .insert(path.to_string(), Arc::new(bytes.into()));
    }

    /// Queues behaviours for the next requests of `path`; after them, `Ok`.
    pub fn script(&self, path: &str, behaviours: Vec<Behaviour>) {
        self.state()
            .scripts
            .insert(path.to_string(), behaviours.into());
    }

    /// Turns range support off for `path`: no `Accept-Ranges`, `Range` ignored.
    pub fn no_ranges(&self, path: &str) {
        self.state().no_ranges.insert(path.to_string());
    }

    /// Serves `path` without an ETag: nothing a client could send in `If-Range`.
    pub fn no_etag(&self, path: &str) {
        self.state().no_etag.insert(path.to_string());
    }

    /// Serves ranges of `path` whatever `If-Range` says, as a careless server would.
    pub fn ignore_if_range(&self, path: &str) {
        self.state().ignore_if_range.insert(path.to_string());
    }

    /// Answers `path` in full whatever `If-None-Match` says, as a server without conditional
    /// GETs would.
    pub fn ignore_if_none_match(&self, path: &str) {
        self.state().ignore_if_none_match.insert(path.to_string());
    }

    /// What each file request for `path` was answered so far, in order (scripted statuses and
    /// 404s are not counted).
    pub fn answers(&self, path: &str) -> Vec<Answered> {
        self.state()
            .answers
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, a)| *a)
            .collect()
    }

    /// The URL of `path` on this server (`http://127.0.0.1:PORT/path` or https).
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.shared.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}{path}", self.addr)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.state().requests.clone()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let shared = Arc::clone(&shared);
                // Connection threads end on their own: every wait is bounded by IO_TIMEOUT or
                // watches the stop flag.
                thread::spawn(move || handle(stream, &shared));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(TICK),
            Err(_) => thread::sleep(TICK),
        }
    }
}

fn handle(stream: TcpStream, shared: &Shared) {
    if stream.set_nonblocking(false).is_err()
        || stream.set_read_timeout(Some(IO_TIMEOUT)).is_err()
        || stream.set_write_timeout(Some(IO_TIMEOUT)).is_err()
    {
        return;
    }
    match &shared.tls {
        Some(config) => {
            let Ok(conn) = rustls::ServerConnection::new(Arc::clone(config)) else {
                return;
            };
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let _ = serve(&mut tls, shared);
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
        None => {
            let mut plain = stream;
            let _ = serve(&mut plain, shared);
        }
    }
}

/// Reads one request and answers it according to the script.
fn serve(stream: &mut (impl Read + Write), shared: &Shared) -> io::Result<()> {
    let head = read_head(stream)?;
    let request = parse_head(&head)?;
    let (behaviour, file, mut plan) = {
        let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        state.requests.push(request.clone());
        let behaviour = state
            .scripts
            .get_mut(&request.path)
            .and_then(VecDeque::pop_front)
            .unwrap_or(Behaviour::Ok);
        if let Behaviour::Replace(bytes) = &behaviour {
            state
                .files
                .insert(request.path.clone(), Arc::new(bytes.clone()));
        }
        let plan = Plan {
            ranges: !state.no_ranges.contains(&request.path),
            etag: !state.no_etag.contains(&request.path),
            if_range: !state.ignore_if_range.contains(&request.path),
            if_none_match: !state.ignore_if_none_match.contains(&request.path),
            ..Plan::default()
        };
        (behaviour, state.files.get(&request.path).cloned(), plan)
    };
    let simple = |stream: &mut _, status, extra: &str| {
        let body = format!("status {status}\n");
        let head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
            reason(status),
            body.len()
        );
        write_all(stream, head.as_bytes(), body.as_bytes())
    };
    match behaviour {
        Behaviour::Status(status) => return simple(stream, status, ""),
        Behaviour::RetryAfter { status, secs } => {
            return simple(stream, status, &format!("Retry-After: {secs}\r\n"));
        }
        Behaviour::Redirect(to) => return simple(stream, 302, &format!("Location: {to}\r\n")),
        _ => {}
    }
    let Some(file) = file else {
        return simple(stream, 404, "");
    };
    match behaviour {
        Behaviour::NoRanges => plan.ranges = false,
        Behaviour::NoLength => plan.length = false,
        Behaviour::WrongRange => plan.wrong_range = true,
        Behaviour::Unasked206 => plan.unasked_206 = true,
        _ => {}
    }
    let (head, body) = plan.response(&file, &request);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    shared
        .state
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .answers
        .push((
            request.path.clone(),
            Answered {
                status,
                body: body.len(),
            },
        ));
    match behaviour {
        Behaviour::CutAfter(n) => write_all(stream, head.as_bytes(), &body[..n.min(body.len())]),
        Behaviour::Slow { bytes_per_sec } => {
            stream.write_all(head.as_bytes())?;
            // Ten slices a second keep the rate smooth enough for a progress bar to notice.
            let slice = (bytes_per_sec / 10).max(1);
            for piece in body.chunks(slice) {
                stream.write_all(piece)?;
                stream.flush()?;
                if !pause(shared, Duration::from_millis(100)) {
                    break;
                }
            }
            Ok(())
        }
        Behaviour::Stall(quiet) => {
            write_all(stream, head.as_bytes(), &body[..body.len() / 2])?;
            pause(shared, quiet);
            Ok(())
        }
        _ => write_all(stream, head.as_bytes(), body),
    }
}

/// Sleeps up to `quiet`, returning false early when the server is stopping.
fn pause(shared: &Shared, quiet: Duration) -> bool {
    let until = Instant::now() + quiet;
    while Instant::now() < until {
        if shared.stop.load(Ordering::SeqCst) {
            return false;
        }
        thread::sleep(TICK);
    }
    true
}

fn read_head(stream: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_HEAD {
            return Err(io::Error::other("request head too long"));
        }
        let n = stream.read(&mut byte)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&byte[..n]);
    }
    Ok(head)
}

fn parse_head(head: &[u8]) -> io::Result<Request> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let mut parts = first.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(io::Error::other("bad request line"));
    };
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let range = headers
        .iter()
        .find(|(name, _)| name == "range")
        .map(|(_, value)| value.clone());
    let path = target.split('?').next().unwrap_or_default().to_string();
    Ok(Request {
        method: method.to_string(),
        path,
        target: target.to_string(),
        range,
        headers,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}
