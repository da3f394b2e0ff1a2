//! What more than one test file builds: the test passphrase and iteration count, a two-module
//! personality, `bundle pack` with them, the 2009 seed's `tar | openssl enc` bundle, and minisign
//! key pairs made by `bundle keygen`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::boot::PASS_VAR;
use super::process::{Ran, run};
use super::{Mode, bundle, tool, write};

/// Passphrase used by these tests; passed through the environment, as users should.
pub const PASS: &str = "stirring dull roots";
/// Small PBKDF2 count: these tests are about formats, not key stretching.
pub const ITER: &str = "1000";

/// A two-module personality in `root/shop`: `20-web` requires `10-db`, so requires and name order
/// agree.
pub fn personality(root: &Path) -> PathBuf {
    let dir = root.join("shop");
    write(
        &dir,
        "10-db/start",
        "#!/bin/sh\necho db started\n",
        Mode::Exec,
    );
    write(&dir, "10-db/init", "echo db init\n", Mode::Plain);
    write(
        &dir,
        "20-web/start",
        "#!/bin/sh\necho web started\n",
        Mode::Exec,
    );
    write(
        &dir,
        "20-web/module.toml",
        "requires = [\"10-db\"]\n",
        Mode::Plain,
    );
    write(
        &dir,
        "20-web/public/index.html",
        "<h1>hello</h1>\n",
        Mode::Plain,
    );
    write(
        &dir,
        "bundle.toml",
        "name = \"shop\"\nversion = \"1.2.3\"\n",
        Mode::Plain,
    );
    dir
}

/// [`personality`] packed into `root/shop.bundle`.
pub fn packed_shop(root: &Path) -> PathBuf {
    let file = root.join("shop.bundle");
    pack(&personality(root), &file, &[]);
    file
}

/// `bundle pack DIR -o OUT` with the test passphrase (`--pass env:SB_PASS`) and iteration count;
/// add flags, then [`run`] it.
pub fn pack_command(dir: &Path, out: &Path) -> Command {
    let mut cmd = bundle();
    cmd.arg("pack")
        .arg(dir)
        .arg("-o")
        .arg(out)
        .args(["--iter", ITER, "--pass", &format!("env:{PASS_VAR}")])
        .env(PASS_VAR, PASS);
    cmd
}

/// Packs `dir` into `out` with the test passphrase and iteration count, plus `extra` flags.
pub fn pack(dir: &Path, out: &Path, extra: &[&str]) {
    let ran = run(pack_command(dir, out).args(extra));
    in_parent(ran, out).ok();
}

/// Makes a bundle the 2009 seed's way from `src/start-up-bundle`: `tar -cz | openssl enc -md md5`
/// (legacy key derivation, no manifest).
pub fn seed_bundle(src: &Path, file: &Path) -> PathBuf {
    let line = format!(
        "set -o pipefail; tar -C {} -cz start-up-bundle | openssl enc -aes-256-cbc -md md5 -pass env:{PASS_VAR} -out {}",
        src.display(),
        file.display()
    );
    run(tool("bash").arg("-c").arg(line).env(PASS_VAR, PASS))
        .in_dir(src)
        .ok();
    file.to_path_buf()
}

/// A key pair made by `bundle keygen`.
pub struct Key {
    /// The `.pub` file.
    pub public: PathBuf,
    /// The unencrypted secret key file.
    pub secret: PathBuf,
    /// The base64 line, as `--pubkey` and `minisign -P` take it.
    pub b64: String,
}

/// `bundle keygen --unencrypted` into `dir/NAME.pub` and `dir/NAME.key`.
pub fn keygen(dir: &Path, name: &str) -> Key {
    let public = dir.join(format!("{name}.pub"));
    let secret = dir.join(format!("{name}.key"));
    let ran = run(bundle()
        .args(["keygen", "--unencrypted", "-p"])
        .arg(&public)
        .arg("-s")
        .arg(&secret))
    .in_dir(dir);
    ran.ok();
    Key {
        public,
        secret,
        b64: ran.stdout.trim().to_string(),
    }
}

/// `bundle pack DIR -o OUT --sign KEY` with the test passphrase and small iteration count.
pub fn pack_signed(dir: &Path, out: &Path, key: &Key, extra: &[&str]) -> Ran {
    let ran = run(pack_command(dir, out)
        .arg("--sign")
        .arg(&key.secret)
        .args(extra));
    in_parent(ran, out)
}

/// `ran`, set to list the folder that holds `file` when it fails.
fn in_parent(ran: Ran, file: &Path) -> Ran {
    match file.parent() {
        Some(parent) => ran.in_dir(parent),
        None => ran,
    }
}
