//! A real SSM and Secrets Manager server for the tests: moto's server mode (`moto_server`, pinned
//! and installed by `.ci/run`) on 127.0.0.1. `moto_setup.py` fills it through boto3 (IAM users
//! and a role with their policies, SecureString parameters, secrets), then turns authentication
//! on: from there every request must carry a valid SigV4 signature of one of those keys, and the
//! IAM policies are enforced (a wrong secret gets `SignatureDoesNotMatch`, a user without the
//! permission `AccessDenied`).
//!
//! Start-up takes seconds, so there is one server per test binary run ([`moto`]), shared by the
//! tests; each test reads the parameters and secrets it needs and changes nothing. The server is
//! started under a small shell loop that stops it within a second of this test process ending,
//! however it ends; its output goes to a log file under cargo's test scratch folder.

use std::fs::File;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use super::{PASS, free_port};

/// The server's name on PATH.
pub const PROGRAM: &str = "moto_server";
/// The account moto puts everything in.
pub const ACCOUNT: &str = "123456789012";
/// How long to wait for the port to open (a cold Python start on a busy CI machine).
const STARTUP: Duration = Duration::from_secs(90);
/// The setup script, next to this file.
const SETUP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/moto_setup.py");

/// A key pair moto knows (and, for the role, its session token).
#[derive(Debug, Clone)]
pub struct Key {
    /// The access key id.
    pub id: String,
    /// Its secret.
    pub secret: String,
    /// The session token of temporary (role) credentials.
    pub token: Option<String>,
}

/// The running server and the identities in it.
#[derive(Debug)]
pub struct Moto {
    port: u16,
    /// The shell loop that ends the server with this process (never waited for: it outlives us).
    _watcher: Child,
    /// IAM user allowed ssm:GetParameter and secretsmanager:GetSecretValue.
    pub booter: Key,
    /// IAM user allowed neither.
    pub stranger: Key,
    /// Temporary credentials of role `boot-role` (allowed both), as IMDS hands them out.
    pub role: Key,
}

static MOTO: OnceLock<Moto> = OnceLock::new();

/// The one server of this test run, started (and filled) on first use.
pub fn moto() -> &'static Moto {
    MOTO.get_or_init(Moto::start)
}

impl Moto {
    /// `http://127.0.0.1:PORT`, for the `AWS_ENDPOINT_URL*` variables.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn start() -> Moto {
        let program = on_path(PROGRAM).unwrap_or_else(|| {
            panic!(
                "these tests need `{PROGRAM}` (moto[server] 5.2.5) on PATH; .ci/run installs it in \
                 a virtualenv and appends its bin folder to PATH"
            )
        });
        let port = free_port();
        let log_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("moto-{}.log", std::process::id()));
        let log = File::create(&log_path).expect("create the moto log");
        // The loop ends the server once this test process is gone, whatever ended it.
        let watch = format!(
            "\"$0\" -H 127.0.0.1 -p {port} & m=$!; \
             while kill -0 {me} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 0.5; done; \
             kill $m 2>/dev/null",
            me = std::process::id()
        );
        let watcher = Command::new("sh")
            .arg("-c")
            .arg(watch)
            .arg(&program)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {PROGRAM}: {e}"));
        wait_until_listening(port, &log_path);
        let endpoint = format!("http://127.0.0.1:{port}");
        let out = Command::new(python_beside(&program))
            .arg(SETUP)
            .arg(&endpoint)
            .arg(PASS)
            .stdin(Stdio::null())
            .output()
            .expect("run moto_setup.py");
        assert!(
            out.status.success(),
            "moto_setup.py failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let keys: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("moto_setup.py prints JSON");
        let key = |name: &str| Key {
            id: keys[name]["id"].as_str().unwrap().to_string(),
            secret: keys[name]["secret"].as_str().unwrap().to_string(),
            token: keys[name]["token"].as_str().map(str::to_string),
        };
        Moto {
            port,
            _watcher: watcher,
            booter: key("booter"),
            stranger: key("stranger"),
            role: key("role"),
        }
    }
}

/// `name`'s path on PATH, if there.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The Python of the virtualenv `moto_server` lives in (it has boto3), else `python3`.
fn python_beside(program: &Path) -> PathBuf {
    let real = std::fs::canonicalize(program).unwrap_or_else(|_| program.to_path_buf());
    let beside = real.with_file_name("python3");
    if beside.is_file() {
        beside
    } else {
        PathBuf::from("python3")
    }
}

fn wait_until_listening(port: u16, log: &Path) {
    let deadline = Instant::now() + STARTUP;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{PROGRAM} did not listen on 127.0.0.1:{port} within {STARTUP:?}; its log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}
