//! A tiny static HTTP/1.1 file server bound to 127.0.0.1, for `bundle try`: it serves one folder's
//! files to the real `bundle-bootstrap`, the way a bucket would, and nothing else.
//!
//! Loopback only, GET and HEAD, `Content-Length`, `Accept-Ranges` and single `Range: bytes=N-` requests
//! (so the bootstrap's resume path is the one used in production). It knows no bundle format.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// A request line or header longer than this is refused.
const MAX_LINE: usize = 8 * 1024;
/// At most this many header lines per request.
const MAX_HEADERS: usize = 64;
/// A client that sends nothing for this long is dropped.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the accept loop looks at the stop flag.
const POLL: Duration = Duration::from_millis(50);

/// A running server; stops when dropped.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves the files under `root` on 127.0.0.1 at a free port.
    pub fn start(root: &Path) -> io::Result<Server> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let root = root.to_path_buf();
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || accept_loop(&listener, &root, &flag));
        Ok(Server {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The URL of `name` (a file under the root).
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{}", self.addr, name)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, root: &Path, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let root = root.to_path_buf();
                std::thread::spawn(move || {
                    let _ = serve_client(stream, &root);
                });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

fn serve_client(stream: TcpStream, root: &Path) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    loop {
        let Some(request) = read_request(&mut reader)? else {
            return Ok(());
        };
        respond(&mut out, root, &request)?;
        if request.close {
            return Ok(());
        }
    }
}

struct Request {
    method: String,
    path: String,
    range_start: Option<u64>,
    close: bool,
}

fn read_line(r: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let n = r.take(MAX_LINE as u64).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(String::from_utf8_lossy(&line).trim_end().to_string()))
}

fn read_request(r: &mut impl BufRead) -> io::Result<Option<Request>> {
    let Some(first) = read_line(r)? else {
        return Ok(None);
    };
    let mut parts = first.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bad request line",
        ));
    };
    let mut req = Request {
        method: method.to_string(),
        path: path.to_string(),
        range_start: None,
        close: false,
    };
    for _ in 0..MAX_HEADERS {
        let Some(line) = read_line(r)? else { break };
        if line.is_empty() {
            return Ok(Some(req));
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "range" => {
                req.range_start = value
                    .strip_prefix("bytes=")
                    .and_then(|v| v.strip_suffix('-')?.parse().ok())
            }
            "connection" => req.close = value.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "too many headers",
    ))
}

/// Maps a request path onto a file under root; `..`, absolute tricks and hidden files are refused.
fn resolve(root: &Path, url_path: &str) -> Option<PathBuf> {
    let path = url_path.split(['?', '#']).next()?.trim_start_matches('/');
    let rel = Path::new(path);
    let plain = rel
        .components()
        .all(|c| matches!(c, Component::Normal(n) if !n.to_string_lossy().starts_with('.')));
    (plain && !path.is_empty()).then(|| root.join(rel))
}

fn respond(out: &mut TcpStream, root: &Path, req: &Request) -> io::Result<()> {
    if req.method != "GET" && req.method != "HEAD" {
        return status_only(out, 405, "Method Not Allowed");
    }
    let Some(path) = resolve(root, &req.path) else {
        return status_only(out, 404, "Not Found");
    };
    let Ok(mut file) = File::open(&path) else {
        return status_only(out, 404, "Not Found");
    };
    let size = file.metadata()?.len();
    let start = req.range_start.filter(|&s| s < size);
    let (status, length) = match start {
        Some(s) => ("206 Partial Content", size - s),
        None => ("200 OK", size),
    };
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {length}\r\nAccept-Ranges: bytes\r\nContent-Type: application/octet-stream\r\n"
    );
    if let Some(s) = start {
        head.push_str(&format!(
            "Content-Range: bytes {s}-{}/{size}\r\n",
            size.saturating_sub(1)
        ));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    if req.method == "GET" {
        file.seek(SeekFrom::Start(start.unwrap_or(0)))?;
        io::copy(&mut file, out)?;
    }
    out.flush()
}

fn status_only(out: &mut TcpStream, code: u16, reason: &str) -> io::Result<()> {
    write!(out, "HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\n\r\n")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_under_the_root() {
        let root = Path::new("/srv");
        assert_eq!(resolve(root, "/b.enc"), Some(PathBuf::from("/srv/b.enc")));
        assert_eq!(
            resolve(root, "/b.enc?x=1"),
            Some(PathBuf::from("/srv/b.enc"))
        );
        for bad in [
            "/",
            "/../etc/passwd",
            "/a/../../x",
            "/.hidden",
            "//etc/passwd/..",
        ] {
            assert_eq!(resolve(root, bad), None, "{bad}");
        }
    }

    #[test]
    fn serves_files_and_ranges_over_loopback() {
        let dir = std::env::temp_dir().join(format!("sb-serve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("f"), b"0123456789").unwrap();
        let server = Server::start(&dir).unwrap();
        let get = |extra: &str| {
            let mut s = TcpStream::connect(server.addr).unwrap();
            write!(
                s,
                "GET /f HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n"
            )
            .unwrap();
            let mut text = String::new();
            s.read_to_string(&mut text).unwrap();
            text
        };
        let full = get("");
        assert!(full.starts_with("HTTP/1.1 200"), "{full}");
        assert!(full.ends_with("\r\n\r\n0123456789"), "{full}");
        let part = get("Range: bytes=4-\r\n");
        assert!(part.starts_with("HTTP/1.1 206"), "{part}");
        assert!(part.contains("Content-Range: bytes 4-9/10"), "{part}");
        assert!(part.ends_with("456789"), "{part}");
        drop(server);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
