//! A small IMDSv2 server on 127.0.0.1 for the tests: `PUT /latest/api/token` (requires the TTL
//! header) hands out a token; the role, credentials and region GETs require it (401 without, as
//! an instance with IMDSv1 switched off answers). Stops when dropped.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

const TOKEN: &str = "test-imds-token-0123456789";
/// The instance id every test instance has.
pub const INSTANCE_ID: &str = "i-0feedc0ffee123456";
const TICK: Duration = Duration::from_millis(5);
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// What the instance "has".
#[derive(Debug, Clone)]
pub struct Instance {
    /// The role's name; None: no role attached (404).
    pub role: Option<String>,
    /// The role's key pair and session token.
    pub access_key_id: String,
    /// The role's secret.
    pub secret_access_key: String,
    /// The role's session token.
    pub token: String,
    /// The instance's region.
    pub region: String,
}

/// The running server.
pub struct Imds {
    port: u16,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl Imds {
    /// Starts serving `instance` on a free port of 127.0.0.1.
    pub fn start(instance: Instance) -> Imds {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, seen) = (stop.clone(), seen.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => serve(stream, &instance, &seen),
                        Err(_) => thread::sleep(TICK),
                    }
                }
            })
        };
        Imds {
            port,
            stop,
            seen,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`, for `--imds-endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request as `METHOD PATH STATUS`.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Imds {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, instance: &Instance, seen: &Mutex<Vec<String>>) {
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or_default().to_string(),
        parts.next().unwrap_or_default().to_string(),
    );
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let roles = "/latest/meta-data/iam/security-credentials/";
    let (status, body) = if method == "PUT" && path == "/latest/api/token" {
        match header("x-aws-ec2-metadata-token-ttl-seconds") {
            Some(_) => (200, TOKEN.to_string()),
            None => (400, String::new()),
        }
    } else if method != "GET" {
        (405, String::new())
    } else if header("x-aws-ec2-metadata-token") != Some(TOKEN) {
        (401, String::new())
    } else if path == roles {
        match &instance.role {
            Some(role) => (200, role.clone()),
            None => (404, String::new()),
        }
    } else if let Some(role) = path.strip_prefix(roles) {
        if instance.role.as_deref() == Some(role) {
            let doc = format!(
                r#"{{"Code":"Success","LastUpdated":"2024-01-01T00:00:00Z","Type":"AWS-HMAC","AccessKeyId":"{}","SecretAccessKey":"{}","Token":"{}","Expiration":"2099-01-01T00:00:00Z"}}"#,
                instance.access_key_id, instance.secret_access_key, instance.token
            );
            (200, doc)
        } else {
            (404, String::new())
        }
    } else if path == "/latest/meta-data/placement/region" {
        (200, instance.region.clone())
    } else if path == "/latest/meta-data/instance-id" {
        (200, INSTANCE_ID.to_string())
    } else {
        (404, String::new())
    };
    seen.lock()
        .unwrap()
        .push(format!("{method} {path} {status}"));
    let mut stream = reader.into_inner();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}
