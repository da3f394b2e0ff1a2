//! Issue 12: the README is a test. The `sh` blocks of README.md's quick start, "The path to a
//! running instance", "Signatures" and the rollback block under `bundle publish` run line by line
//! through `sh`, with the built `bundle` and `bundle-bootstrap` first on PATH, in scratch folders
//! whose published files a real HTTP server on 127.0.0.1 serves. What the README cannot run here
//! (S3, SSM, a terminal asking for a key password, 600000 PBKDF2 rounds in a debug build) goes
//! through [`TABLE`], and README.md states the same table under "The path to a running instance".

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use crate::support::http::Server;
use crate::support::{Ran, bootstrap, run, scratch};

/// One rule of the substitution table, applied to a command after comments are cut off.
enum Rule {
    /// A command starting with this is not run (it needs AWS).
    Skip(&'static str),
    /// A command that is exactly this becomes the second string.
    Exact(&'static str, &'static str),
    /// Every occurrence of the first string becomes the second; `{url}` is the server's
    /// `http://127.0.0.1:PORT`.
    Replace(&'static str, &'static str),
}

use Rule::{Exact, Replace, Skip};

/// The substitution table, in the order it is applied (README.md lists the same).
const TABLE: &[Rule] = &[
    Skip("aws ssm put-parameter"),
    Replace(
        "cargo build --release --locked && target/release/bundle",
        "bundle",
    ),
    // The broker's template installs Erlang and RabbitMQ as root: the same path with `hello`.
    Replace("--template message-broker", "--template hello"),
    // The quick start's `try` has its `--yes`; the path's asks, and CI runs as root without a
    // terminal to answer.
    Replace("bundle try my-broker", "bundle try my-broker --yes"),
    Replace("bundle try ", "bundle try --iter 1000 "),
    Replace("bundle pack ", "bundle pack --iter 1000 "),
    Exact("bundle keygen", "bundle keygen --unencrypted"),
    Replace("s3://team-bundles/prod/", "{url}/prod/"),
    Replace("s3://team-bundles/prod", "prod"),
    Replace("ssm:/team/bundle-pass", "file:$PWD/pass.txt"),
    Replace("https://…/", "{url}/bin/"),
    Replace("https://example.com/", "{url}/sig/"),
    Replace(
        "--pass …",
        "--pass file:pass.txt --state-dir \"$PWD/state\"",
    ),
    Replace("RWQ…", "\"$(tail -n 1 bundle.pub)\""),
    Replace("--from 1.4.2 --name shop", "--from 0.1.0 --name my-broker"),
];

/// Where an ELF header keeps its machine (little-endian u16), and the two EC2 architectures' values.
const E_MACHINE: usize = 18;
const ELF_MACHINES: [(&str, u16); 2] = [("x86_64", 62), ("aarch64", 183)];

/// The blocks that run: a heading's start, which `sh` block under it, the scratch sub-folder.
const BLOCKS: &[(&str, usize, &str)] = &[
    ("Quick start", 0, "quick"),
    ("The path to a running instance", 0, "path"),
    ("Signatures", 0, "sig"),
    ("`bundle publish FILE --to DEST`", 0, "path"),
];

/// The `n`th ```` ```sh ```` block under the heading starting with `heading`, as commands:
/// continuation lines joined, comments cut off, empty lines dropped.
fn block(readme: &str, heading: &str, n: usize) -> Vec<String> {
    let mut lines = readme.lines().skip_while(|l| {
        !(l.starts_with('#') && l.trim_start_matches('#').trim_start().starts_with(heading))
    });
    assert!(
        lines.next().is_some(),
        "README.md has no heading {heading:?}"
    );
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in lines {
        if line.starts_with('#') && current.is_none() {
            break;
        }
        match (&mut current, line) {
            (None, "```sh") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(block), line) => block.push(line.to_string()),
            (None, _) => {}
        }
    }
    let block = blocks
        .into_iter()
        .nth(n)
        .unwrap_or_else(|| panic!("README.md has no sh block {n} under {heading:?}"));
    let mut commands = Vec::new();
    let mut pending = String::new();
    for line in block {
        match line.strip_suffix('\\') {
            Some(head) => pending.push_str(head),
            None => {
                pending.push_str(&line);
                let command = match pending.find(" #") {
                    Some(at) => &pending[..at],
                    None if pending.trim_start().starts_with('#') => "",
                    None => &pending,
                };
                let command = command.split_whitespace().collect::<Vec<_>>().join(" ");
                if !command.is_empty() {
                    commands.push(command);
                }
                pending.clear();
            }
        }
    }
    commands
}

/// The command after [`TABLE`], or None when the table skips it; marks the rules used.
fn substitute(command: &str, url: &str, used: &mut [bool]) -> Option<String> {
    let mut out = command.to_string();
    for (rule, used) in TABLE.iter().zip(used.iter_mut()) {
        match rule {
            Skip(prefix) if out.starts_with(prefix) => {
                *used = true;
                return None;
            }
            Exact(from, to) if out == *from => {
                *used = true;
                out = to.to_string();
            }
            Replace(from, to) if out.contains(from) => {
                *used = true;
                out = out.replace(from, &to.replace("{url}", url));
            }
            _ => {}
        }
    }
    Some(out)
}

/// Serves every file under `dir` at `prefix` + its relative path (the run states excluded).
fn mirror(server: &Server, dir: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path.is_dir() && name != "state" {
            mirror(server, &path, &format!("{prefix}{name}/"));
        } else if path.is_file() {
            server.put(&format!("{prefix}{name}"), fs::read(&path).expect("read"));
        }
    }
}

/// Runs one README command through `sh` in `dir`, the built binaries first on PATH.
fn sh(command: &str, dir: &Path) -> Ran {
    let bin = Path::new(env!("CARGO_BIN_EXE_bundle"))
        .parent()
        .expect("the binaries' folder");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin.to_path_buf()];
    paths.extend(std::env::split_paths(&path));
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(dir)
        .env("PATH", std::env::join_paths(paths).expect("PATH"))
        .env("NO_PROXY", "127.0.0.1")
        .env("BUNDLE_BOOTSTRAP_CONFIG", "none")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("BUNDLE_PASSPHRASE")
        .env_remove("BUNDLE_MODULES_PATH")
        .stdin(std::process::Stdio::null());
    run(&mut cmd).in_dir(dir)
}

#[test]
fn the_readme_commands_run_as_written() {
    let readme = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("read README.md");
    let root = scratch();
    let server = Server::start();
    let url = server.url("");
    let url = url.trim_end_matches('/');
    for sub in ["quick", "path", "sig"] {
        fs::create_dir(root.path().join(sub)).expect("mkdir");
    }
    // The quick start runs from a checkout; userdata pins the bootstraps `.ci/dist` makes.
    std::os::unix::fs::symlink(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("bundle-templates"),
        root.path().join("quick/bundle-templates"),
    )
    .expect("symlink bundle-templates");
    for (arch, machine) in ELF_MACHINES {
        let mut elf = fs::read(env!("CARGO_BIN_EXE_bundle-bootstrap")).expect("read bootstrap");
        // The other architecture's pin: this build with its ELF header's e_machine set to it
        // (the test boots only this host's; userdata reads e_machine to tell the two apart).
        elf[E_MACHINE..E_MACHINE + 2].copy_from_slice(&machine.to_le_bytes());
        let file = root.path().join(format!("path/bundle-bootstrap-{arch}"));
        fs::write(&file, elf).expect("write bundle-bootstrap");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let mut used = vec![false; TABLE.len()];
    for (heading, n, sub) in BLOCKS {
        let dir = root.path().join(sub);
        if *sub == "sig" {
            // The Signatures block signs the personality and passphrase the path made.
            let ran = sh("cp -R ../path/my-broker ../path/pass.txt .", &dir);
            ran.ok();
        }
        for command in block(&readme, heading, *n) {
            mirror(&server, &root.path().join("path/prod"), "/prod/");
            mirror(&server, &root.path().join("sig"), "/sig/");
            let Some(command) = substitute(&command, url, &mut used) else {
                continue;
            };
            sh(&command, &dir).ok();
        }
    }
    for (rule, used) in TABLE.iter().zip(&used) {
        let (Skip(text) | Exact(text, _) | Replace(text, _)) = rule;
        assert!(
            used,
            "the README no longer has {text:?}: update TABLE and the README"
        );
    }

    // What the path rendered boots from the pointer it published (after the rollback).
    let path = root.path().join("path");
    let user_data = fs::read_to_string(path.join("user-data.sh")).expect("user-data.sh");
    assert!(user_data.contains(&format!("{url}/prod/my-broker.latest")));
    mirror(&server, &path.join("prod"), "/prod/");
    let pubkey = fs::read_to_string(path.join("bundle.pub")).expect("bundle.pub");
    let pubkey = pubkey.lines().last().expect("a key line");
    let state = root.path().join("boot");
    let mut boot = bootstrap();
    boot.arg("run")
        .arg(format!("{url}/prod/my-broker.latest"))
        .arg("--pass")
        .arg(format!("file:{}", path.join("pass.txt").display()))
        .args(["--pubkey", pubkey, "--state-dir"])
        .arg(&state);
    run(&mut boot).ok();
    let mut status = bootstrap();
    status.args(["status", "--state-dir"]).arg(&state);
    run(&mut status)
        .ok()
        .stdout_has("my-broker")
        .stdout_has("0.1.0");
}
