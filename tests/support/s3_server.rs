//! A real S3-compatible server for the tests: `s3s-fs` 0.14.1 on 127.0.0.1, which checks every
//! request's SigV4 signature against the one key pair it is started with (a wrong secret gets 403).
//!
//! `.ci/run` installs it (`cargo install s3s-fs --version 0.14.1 --locked --features binary`);
//! a test fails loudly when it is missing. Each server gets a free port and a scratch root (a
//! bucket is a folder in it), runs under `timeout` so it cannot outlive a killed test run, and is
//! stopped when its guard drops.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

/// The server's name on PATH.
pub const PROGRAM: &str = "s3s-fs";
/// The access key the server accepts.
pub const ACCESS_KEY: &str = "AKIATESTSTARTUPBUNDLE";
/// Its secret.
pub const SECRET_KEY: &str = "test/secret+key/0123456789abcdefghijklmn";
/// The longest a server may live, whatever happens to the test process.
const LIFETIME_SECS: &str = "300";
/// How long to wait for the port to open.
const STARTUP: Duration = Duration::from_secs(20);

/// A running `s3s-fs`, killed on drop.
pub struct S3Server {
    child: Child,
    port: u16,
    _root: tempfile::TempDir,
}

impl S3Server {
    /// Starts a server whose root holds the (empty) `buckets`.
    pub fn start(buckets: &[&str]) -> S3Server {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(PROGRAM).is_file()))
            .unwrap_or(false);
        assert!(
            found,
            "this test needs `{PROGRAM}` 0.14.1 on PATH; .ci/run installs it \
             (cargo install {PROGRAM} --version 0.14.1 --locked --features binary)"
        );
        let root = super::scratch();
        for bucket in buckets {
            std::fs::create_dir(root.path().join(bucket)).unwrap();
        }
        let port = super::free_port();
        let child = Command::new("timeout")
            .arg(LIFETIME_SECS)
            .arg(PROGRAM)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {PROGRAM}: {e}"));
        let mut server = S3Server {
            child,
            port,
            _root: root,
        };
        server.wait_until_listening();
        server
    }

    /// `http://127.0.0.1:PORT`, for `--endpoint-url`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The folder holding the buckets.
    pub fn root(&self) -> &Path {
        self._root.path()
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + STARTUP;
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{PROGRAM} exited at start-up with {status}");
            }
            thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "{PROGRAM} did not listen on 127.0.0.1:{} within {STARTUP:?}",
            self.port
        );
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        // TERM to `timeout`, which passes it on to the server and exits.
        if let Some(pid) = Pid::from_raw(self.child.id() as i32) {
            let _ = kill_process(pid, Signal::TERM);
        }
        let _ = self.child.wait();
    }
}
