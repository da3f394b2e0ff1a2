//! Shared test helpers: the built binaries, scratch folders, outside tools, files written into them,
//! the one way to run a command (and see everything when it fails), the one `bundle-bootstrap run`
//! builder, and the fixtures more than one test file packs.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};

use sha2::{Digest as _, Sha256};

/// Our test servers live here: never through a proxy a CI machine may set.
const LOOPBACK: &str = "127.0.0.1,localhost";

/// `bundle`, as built by cargo for this test run.
pub fn bundle() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bundle"));
    cmd.env_remove("BUNDLE_PASSPHRASE")
        .env_remove("BUNDLE_MODULES_PATH");
    cmd.stdin(Stdio::null());
    cmd
}

/// `bundle-bootstrap`, as built by cargo for this test run. For `run` and `watch`, [`boot`] and
/// [`watch`] add the flags every boot needs.
///
/// `$BUNDLE_BOOTSTRAP_UNDER_TEST` names another build to run instead (the static aarch64 one, say),
/// and `$BUNDLE_BOOTSTRAP_RUNNER` a program to run it with (`qemu-aarch64-static`): how
/// `.ci/bootstrap-size` runs the boot cases with the binaries instances download.
pub fn bootstrap() -> Command {
    let bin = std::env::var_os("BUNDLE_BOOTSTRAP_UNDER_TEST")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_bundle-bootstrap").into());
    let mut cmd = match std::env::var_os("BUNDLE_BOOTSTRAP_RUNNER") {
        Some(runner) => {
            let mut cmd = Command::new(runner);
            cmd.arg(bin);
            cmd
        }
        None => Command::new(bin),
    };
    cmd.env_remove("BUNDLE_PASSPHRASE")
        .env("NO_PROXY", LOOPBACK)
        // Never the machine's own /etc/startup-bundle (a `run URL` saves its configuration), and
        // never another test's: a test about the configuration passes its own --config.
        .env("BUNDLE_BOOTSTRAP_CONFIG", "none")
        // Never the real instance metadata service at 169.254.169.254.
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd.stdin(Stdio::null());
    cmd
}

/// A scratch folder removed when dropped.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("sb-test-")
        .tempdir()
        .expect("create a scratch folder")
}

/// An outside tool the test needs. Fails loudly when missing: `.ci/run` installs it.
pub fn tool(name: &str) -> Command {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "this test needs `{name}` on PATH; .ci/run installs it (apt-get install …)"
    );
    let mut cmd = Command::new(name);
    cmd.stdin(Stdio::null());
    cmd
}

/// How [`write`] leaves a file's permission bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 0644: data, or a script the runner must hand to `bash`.
    Plain,
    /// 0755: a script the kernel runs through its `#!` line.
    Exec,
}

/// Writes `text` to `dir/rel`, creating parents, with `mode`'s permission bits.
pub fn write(dir: &Path, rel: &str, text: &str, mode: Mode) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    let bits = match mode {
        Mode::Plain => 0o644,
        Mode::Exec => 0o755,
    };
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(bits)).unwrap();
}

/// The sha256 of `bytes` as 64 lower-case hex digits, as `sha256sum` and `--sha256` write it.
/// Computed here, not with the library's own helper, so a test checks the product against
/// something it did not write.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `bin_dir/systemctl`: a stand-in that appends its arguments to `calls` and fails (exit 1,
/// a message on stderr) when they equal `$FAIL_ON`. The CI machine runs no systemd, and a machine
/// that does must not have its units changed by a test: the one stand-in of the suite, for
/// `bundle-bootstrap install` (tests/units.rs says more).
pub fn systemctl_stand_in(bin_dir: &Path, calls: &Path) {
    write(
        bin_dir,
        "systemctl",
        &format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nif [ -n \"${{FAIL_ON:-}}\" ] && [ \"$*\" = \"$FAIL_ON\" ]; then\n  echo \"Failed to $1 unit: Access denied\" >&2\n  exit 1\nfi\n",
            calls.display()
        ),
        Mode::Exec,
    );
}

/// Running commands: [`run`], [`start`], [`run_with_stdin`], [`child_test`], and [`Ran`]'s dump.
mod process;
pub use process::{Ran, child_test, only_as_child, run, run_with_stdin, start};

/// `bundle-bootstrap run|watch URL …`: the one builder.
mod boot;
pub use boot::{Boot, Pass, boot, watch};

/// What more than one test file packs: the test passphrase, a personality, `bundle pack`, the
/// seed's `tar | openssl enc`, minisign key pairs.
mod fixtures;
pub use fixtures::{
    ITER, Key, PASS, keygen, pack, pack_command, pack_signed, packed_shop, personality, seed_bundle,
};

/// The fault-injecting HTTP(S) server on 127.0.0.1.
pub mod http;

/// An IMDSv2 server on 127.0.0.1 (token, role credentials, region).
pub mod imds;

/// `s3s-fs` on 127.0.0.1: a real S3-compatible server that checks SigV4 signatures.
pub mod s3_server;

/// moto's server on 127.0.0.1: real SSM and Secrets Manager APIs that check SigV4 and IAM.
pub mod moto;

/// Every variable that could point a test at real AWS credentials, a region, an endpoint or IMDS:
/// removed from a boot that talks to a test server.
pub const AWS_VARS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SSM",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
];

/// A port that was free a moment ago on 127.0.0.1 (for a server started in another process).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    listener.local_addr().unwrap().port()
}
/// `moto_server` on 127.0.0.1: a real IAM, STS and S3 that check signatures and policies once
/// a test has set up its users and roles.
pub mod moto_iam;
