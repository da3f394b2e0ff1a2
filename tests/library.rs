//! The shared module library and the templates: shellcheck-clean, every template checks, `bundle new`
//! writes them, and `base` + `perl` really run on this (Debian) machine — twice, the second a no-op.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::{
    ITER, Mode, PASS, Pass, boot, bundle, pack_command, run, scratch, tool, write,
};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every shell script under `dir`: start/init scripts, `*.sh`, and files with a shell shebang.
fn scripts(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            scripts(&path, out);
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let head = fs::read(&path).unwrap_or_default();
        let shebang = head.starts_with(b"#!/bin/sh")
            || head.starts_with(b"#!/bin/bash")
            || head.starts_with(b"#!/usr/bin/env bash");
        if shebang || name.ends_with(".sh") || ["start", "init"].contains(&name.as_str()) {
            out.push(path);
        }
    }
}

#[test]
fn every_module_and_template_script_passes_shellcheck() {
    let mut found = Vec::new();
    scripts(&repo().join("modules"), &mut found);
    scripts(&repo().join("bundle-templates"), &mut found);
    assert!(
        found.len() >= 12,
        "expected the library's scripts, found {found:?}"
    );
    let ran = run(tool("shellcheck")
        .arg("-x")
        .args(&found)
        .current_dir(repo()));
    ran.ok();
}

/// The packed files of the personality in `dir` (its folders' files and `bundle.toml`; not a
/// README beside them) that hold the templates' placeholder.
fn placeholder_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, top: bool, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, false, out);
            } else if (!top || path.ends_with("bundle.toml"))
                && fs::read_to_string(&path).is_ok_and(|t| t.contains("CHANGE-ME"))
            {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, true, &mut out);
    out
}

#[test]
fn every_template_checks_and_bundle_new_writes_it() {
    let tmp = scratch();
    let listed = run(bundle().args(["new", "--list"]));
    listed.ok();
    for name in ["hello", "message-broker", "dns", "jvm-app", "lisp-worker"] {
        assert!(
            listed.stdout.contains(name),
            "new --list lacks {name}{listed}"
        );
        let check = |dir: &Path| {
            run(bundle()
                .arg("check")
                .arg(dir)
                .arg("--modules-path")
                .arg(repo().join("modules")))
        };
        let dir = tmp.path().join(name);
        run(bundle().arg("new").arg(&dir).args(["--template", name])).ok();
        // A template's placeholders are for the operator to fill in: `check` names each one.
        let placeholders = placeholder_files(&dir);
        if placeholders.is_empty() {
            check(&repo().join("bundle-templates").join(name)).ok();
        } else {
            let ran = check(&dir);
            ran.code(1);
            for file in &placeholders {
                ran.stderr_has(&format!("{}: line", file.display()));
                let text = fs::read_to_string(file).unwrap();
                fs::write(file, text.replace("CHANGE-ME", "0123456789abcdef")).unwrap();
            }
        }
        check(&dir).ok();
    }
    run(bundle()
        .arg("new")
        .arg(tmp.path().join("x"))
        .args(["--template", "nope"]))
    .code(1)
    .stderr_has("hello");
    run(bundle().arg("new").arg(tmp.path().join("hello")))
        .code(1)
        .stderr_has("not empty");
}

#[test]
fn base_and_perl_run_for_real_twice_and_the_second_run_changes_nothing() {
    // These modules install packages: they need root, as on an instance. Not a skip: a suite run
    // without root has not tested the library, and says so (.ci/run runs it as root).
    let uid = run(tool("id").arg("-u"));
    assert_eq!(
        uid.ok().stdout.trim(),
        "0",
        "base and perl install packages and need root: run the suite as root, as .ci/run does"
    );
    let tmp = scratch();
    let dir = tmp.path().join("p");
    write(
        &dir,
        "bundle.toml",
        "name = \"perl-box\"\nversion = \"1\"\nmodules = [\"base\", \"perl\"]\n",
        Mode::Plain,
    );
    let file = tmp.path().join("p.bundle");
    run(pack_command(&dir, &file)
        .arg("--modules-path")
        .arg(repo().join("modules")))
    .in_dir(tmp.path())
    .ok();
    let state = tmp.path().join("state");
    let apply = || {
        boot(&file)
            .iter(ITER)
            .pass(Pass::Env(PASS))
            .state_dir(&state)
            .args(["--env", "PERL_PACKAGES=libjson-perl"])
            .run()
    };
    apply().ok();
    let dpkg_before = fs::read("/var/lib/dpkg/status").unwrap();
    let second = apply();
    second
        .ok()
        .stdout_has("[base] base: no changes")
        .stdout_has("[perl] perl: no changes");
    assert_eq!(
        fs::read("/var/lib/dpkg/status").unwrap(),
        dpkg_before,
        "the second run changed the package set"
    );
    run(tool("perl").args(["-MJSON", "-e", "print encode_json([1])"]))
        .ok()
        .stdout_has("[1]");
}

/// Every module (library or template) whose scripts source `base/lib/pkg.sh` lists `base` in its
/// `requires`, so `bundle check` refuses a personality that would run it without `base`.
#[test]
fn every_module_that_sources_pkg_sh_requires_base() {
    let mut found = Vec::new();
    scripts(&repo().join("modules"), &mut found);
    scripts(&repo().join("bundle-templates"), &mut found);
    let mut checked = 0;
    for script in found {
        let text = fs::read_to_string(&script).unwrap();
        let sources_pkg = text
            .lines()
            .any(|l| l.trim_start().starts_with(". ") && l.contains("/base/lib/pkg.sh"));
        let module = script.parent().unwrap();
        if !sources_pkg || module.ends_with("base") || module.ends_with("base/lib") {
            continue;
        }
        let toml_path = module.join("module.toml");
        let meta: toml::Table = fs::read_to_string(&toml_path)
            .unwrap_or_else(|e| panic!("{}: {e}", toml_path.display()))
            .parse()
            .unwrap();
        let requires: Vec<&str> = meta
            .get("requires")
            .and_then(|r| r.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        assert!(
            requires.contains(&"base"),
            "{} sources base/lib/pkg.sh but {} does not require base",
            script.display(),
            toml_path.display()
        );
        checked += 1;
    }
    assert!(
        checked >= 9,
        "expected the library and templates, checked {checked}"
    );
}

/// Runs `snippet` under bash with `base/lib/pkg.sh` sourced and `BUNDLE_ROOT` set to `root`.
fn with_pkg_sh(root: &Path, snippet: &str) -> crate::support::Ran {
    let pkg = repo().join("modules/base/lib/pkg.sh");
    run(tool("bash")
        .args(["-euo", "pipefail", "-c"])
        .arg(format!(". '{}'\n{snippet}", pkg.display()))
        .env("BUNDLE_ROOT", root)
        .current_dir(root))
}

#[test]
fn bundle_file_resolves_inside_the_bundle_and_refuses_dot_dot_and_absolute_paths() {
    let tmp = scratch();
    let root = tmp.path().join("start-up-bundle");
    write(&root, "secrets/users", "orders:s3cret\n", Mode::Plain);
    write(tmp.path(), "outside", "not in the bundle\n", Mode::Plain);

    with_pkg_sh(&root, "bundle_file MY_FILE secrets/users")
        .ok()
        .stdout_has(&format!("{}/secrets/users", root.display()));
    for (path, why) in [
        ("../outside", "has a '..' component"),
        ("secrets/../../outside", "has a '..' component"),
        ("secrets/..", "has a '..' component"),
        ("..", "has a '..' component"),
        ("/etc/passwd", "is an absolute path"),
        ("", "MY_FILE is empty"),
        ("secrets/nope", "no readable file"),
    ] {
        let ran = with_pkg_sh(
            &root,
            &format!("bundle_file MY_FILE '{path}'\necho reached"),
        );
        ran.code(1).stderr_has(why);
        if !path.is_empty() {
            ran.stderr_has(&format!("MY_FILE='{path}'"));
        }
        assert!(!ran.stdout.contains("reached"), "{ran}");
    }
}

#[test]
fn words_splits_on_whitespace_and_commas_or_keeps_commas() {
    let tmp = scratch();
    let ran = with_pkg_sh(
        tmp.path(),
        "words ' a,b  c\n*\td,' | tr '\\n' '|'; echo\n\
         words --keep-commas 'x:pw:t1,t2 y\r\n' | tr '\\n' '|'; echo\n\
         n=$(words '  , ' | wc -l); echo \"empty:$n\"",
    );
    ran.ok()
        .stdout_has("a|b|c|*|d|\n")
        .stdout_has("x:pw:t1,t2|y|\n")
        .stdout_has("empty:0");
}

/// tinydns and rabbitmq take their *_FILE settings through bundle_file: a `..` stops them before
/// they install anything. They need root, as on an instance.
#[test]
fn modules_refuse_a_file_setting_that_leaves_the_bundle() {
    if !run(tool("id").arg("-u")).stdout.trim().eq("0") {
        eprintln!("skipped: the modules check for root first; run the suite as root (CI does)");
        return;
    }
    let tmp = scratch();
    for (module, variable) in [
        ("tinydns", "TINYDNS_DATA_FILE"),
        ("rabbitmq", "RABBITMQ_USERS_FILE"),
    ] {
        let ran = run(tool("bash")
            .arg(repo().join("modules").join(module).join("start"))
            .current_dir(repo().join("modules").join(module))
            .env("BUNDLE_ROOT", repo().join("modules"))
            .env("BUNDLE_STATE_DIR", tmp.path())
            .env("BUNDLE_MODULE", module)
            .env(variable, "../../etc/passwd"));
        ran.code(1).stderr_has(&format!(
            "{variable}='../../etc/passwd' has a '..' component"
        ));
        assert!(!ran.stdout.contains("install"), "{ran}");
    }
}
