//! `moto_server` on 127.0.0.1: a real IAM, STS (AssumeRole) and S3 for the tests of the publisher's
//! credential look-up. A test creates its users, keys, roles, policies and buckets while moto still
//! accepts anything, then [`Moto::enforce`]s authentication: from there every request needs a valid
//! SigV4 signature of a key IAM knows, and IAM policies decide (`AccessDenied`).
//!
//! `.ci/run` installs it (`moto[server]` 5.2.5 in a virtualenv); a test fails loudly when it is
//! missing. Each server gets a free port, runs under `timeout` so it cannot outlive a killed test
//! run, and is stopped when its guard drops.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process};

/// The server's name on PATH.
pub const PROGRAM: &str = "moto_server";
/// The longest a server may live, whatever happens to the test process.
const LIFETIME_SECS: &str = "300";
/// How long to wait for the port to open (moto imports a lot at start-up).
const STARTUP: Duration = Duration::from_secs(60);

/// A key pair IAM knows.
pub struct IamKey {
    /// The access key id.
    pub id: String,
    /// Its secret.
    pub secret: String,
}

/// A running `moto_server`, killed on drop.
pub struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// Starts a server.
    pub fn start() -> Moto {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(PROGRAM).is_file()))
            .unwrap_or(false);
        assert!(
            found,
            "this test needs `{PROGRAM}` on PATH; .ci/run installs it (moto[server] 5.2.5, in a virtualenv)"
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port on 127.0.0.1")
            .port();
        let mut cmd = Command::new("timeout");
        cmd.arg(LIFETIME_SECS)
            .arg(PROGRAM)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {PROGRAM}: {e}"));
        let mut moto = Moto { child, port };
        let deadline = Instant::now() + STARTUP;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("{PROGRAM} exited at start-up with {status}");
            }
            assert!(
                Instant::now() < deadline,
                "{PROGRAM} did not listen within {STARTUP:?}"
            );
            thread::sleep(Duration::from_millis(50));
        }
        moto
    }

    /// `http://127.0.0.1:PORT`: the endpoint of every service.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An IAM Query API call (moto routes it by the service its credential scope names); the
    /// answer's XML.
    fn iam(&self, params: &[(&str, &str)]) -> String {
        let body: Vec<String> = params
            .iter()
            .chain(&[("Version", "2010-05-08")])
            .map(|(k, v)| format!("{k}={}", form_encode(v)))
            .collect();
        self.setup_call("POST", "/", "iam", body.join("&"))
    }

    /// A request made while moto still accepts any signature.
    fn setup_call(&self, method: &str, path: &str, service: &str, body: String) -> String {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=setup/20260101/us-east-1/{service}/aws4_request, \
             SignedHeaders=host, Signature=0"
        );
        let response = client()
            .request(
                method.parse().unwrap(),
                format!("{}{path}", self.endpoint()),
            )
            .header("authorization", auth)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .expect("a moto setup call");
        let status = response.status();
        let text = response.text().unwrap_or_default();
        assert!(status.is_success(), "moto setup {path}: {status}: {text}");
        text
    }

    /// User `name` with an access key, allowed `actions` (on every resource), if any.
    pub fn user(&self, name: &str, actions: &[&str]) -> IamKey {
        self.iam(&[("Action", "CreateUser"), ("UserName", name)]);
        if !actions.is_empty() {
            let policy = allow(actions);
            self.iam(&[
                ("Action", "PutUserPolicy"),
                ("UserName", name),
                ("PolicyName", "allowed"),
                ("PolicyDocument", &policy),
            ]);
        }
        let xml = self.iam(&[("Action", "CreateAccessKey"), ("UserName", name)]);
        IamKey {
            id: element(&xml, "AccessKeyId"),
            secret: element(&xml, "SecretAccessKey"),
        }
    }

    /// Role `name`, allowed `actions`; its ARN. Its trust policy names any principal: moto
    /// compares a principal with the caller's ARN literally (the account root does not stand for
    /// the account's users there), so who may assume it is decided by the callers' own policies.
    pub fn role(&self, name: &str, actions: &[&str]) -> String {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
        let xml = self.iam(&[
            ("Action", "CreateRole"),
            ("RoleName", name),
            ("AssumeRolePolicyDocument", trust),
        ]);
        self.iam(&[
            ("Action", "PutRolePolicy"),
            ("RoleName", name),
            ("PolicyName", "allowed"),
            ("PolicyDocument", &allow(actions)),
        ]);
        element(&xml, "Arn")
    }

    /// An S3 bucket.
    pub fn bucket(&self, name: &str) {
        self.setup_call("PUT", &format!("/{name}"), "s3", String::new());
    }

    /// Turns authentication on: every later request needs a valid signature of a known key, and
    /// IAM policies are enforced (moto's `/moto-api/reset-auth`).
    pub fn enforce(&self) {
        let response = client()
            .post(format!("{}/moto-api/reset-auth", self.endpoint()))
            .header("content-type", "text/plain")
            .body("0")
            .send()
            .expect("moto reset-auth");
        assert!(
            response.status().is_success(),
            "moto reset-auth: {response:?}"
        );
    }
}

/// An HTTP client (reqwest is built without a TLS provider of its own; moto is plain HTTP).
fn client() -> reqwest::blocking::Client {
    let tls = startup_bundle::fetch::tls_config(None).expect("a TLS configuration");
    reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        .build()
        .expect("an HTTP client")
}

/// An IAM policy allowing `actions` on every resource.
fn allow(actions: &[&str]) -> String {
    let actions: Vec<String> = actions.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":[{}],"Resource":"*"}}]}}"#,
        actions.join(",")
    )
}

/// The text of the first `<tag>…</tag>`.
fn element(xml: &str, tag: &str) -> String {
    xml.split_once(&format!("<{tag}>"))
        .and_then(|(_, rest)| rest.split_once(&format!("</{tag}>")))
        .map(|(v, _)| v.to_string())
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
}

/// `application/x-www-form-urlencoded` of one value: unreserved bytes kept, the rest `%XX`.
fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(pid) = Pid::from_raw(self.child.id() as i32) {
            let _ = kill_process(pid, Signal::TERM);
        }
        let _ = self.child.wait();
    }
}
