//! The operator's path (issue 12, items 2, 3 and 8) and hole 15 of the hardening issue:
//! `bundle new DIR` names the personality after DIR, the module library is built into `bundle`,
//! a personality carries its settings (`[env]`), `bundle check` catches what would fail at boot,
//! and names from hand-made or tampered bundles are held to one rule and never forge a console
//! line.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use startup_bundle::personality::module_digest;

use crate::support::{
    ITER, Mode, PASS, Pass, boot, bundle, keygen, pack, pack_command, run, scratch, tool, write,
};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `bundle ARGS…` run in `cwd`, with no library from the environment.
fn bundle_in(cwd: &Path, args: &[&str]) -> crate::support::Ran {
    run(bundle().args(args).current_dir(cwd)).in_dir(cwd)
}

#[test]
fn bundle_new_names_the_personality_after_its_folder_so_the_published_pointer_is_its_own() {
    let tmp = scratch();
    let t = tmp.path();
    bundle_in(t, &["new", "my-broker", "--template", "message-broker"])
        .ok()
        .stdout_has("as the personality my-broker");
    let toml = fs::read_to_string(t.join("my-broker/bundle.toml")).unwrap();
    assert!(toml.starts_with("name = \"my-broker\"\n"), "{toml}");
    bundle_in(
        t,
        &[
            "new",
            "other",
            "--template",
            "hello",
            "--name",
            "other-hello",
        ],
    )
    .ok();
    assert!(
        fs::read_to_string(t.join("other/bundle.toml"))
            .unwrap()
            .contains("name = \"other-hello\"")
    );
    bundle_in(t, &["new", "bad name"])
        .code(1)
        .stderr_has("\"bad name\" cannot name a personality")
        .stderr_has("hint: ");
    assert!(!t.join("bad name").exists(), "nothing written");

    // The README's path: new, pack, sign, publish, boot from the pointer publish wrote.
    bundle_in(t, &["new", "my-hello", "--template", "hello"]).ok();
    let key = keygen(t, "team");
    let file = t.join("my-hello.bundle");
    let ran = run(pack_command(&t.join("my-hello"), &file)
        .arg("--sign")
        .arg(&key.secret)
        .current_dir(t));
    ran.ok();
    let www = t.join("www");
    run(bundle().arg("publish").arg(&file).arg("--to").arg(&www)).ok();
    let pointer = www.join("my-hello.latest");
    assert!(pointer.is_file(), "publish wrote {:?}", fs::read_dir(&www));
    boot(&pointer)
        .pass(Pass::Env(PASS))
        .pubkey(&key.b64)
        .state_dir(&t.join("state"))
        .run()
        .ok()
        .stdout_has("[hello] Hello from bundle my-hello 0.1.0");
}

#[test]
fn check_and_pack_find_the_built_in_library_far_from_the_repository() {
    let tmp = scratch();
    let t = tmp.path();
    bundle_in(t, &["new", "my-broker", "--template", "message-broker"]).ok();
    // The template's placeholders are the one thing left to do.
    bundle_in(t, &["check", "my-broker"]).code(1).stderr_has(
        "broker-secrets/users: lines 7, 8 still hold the template's placeholder CHANGE-ME",
    );
    let users = t.join("my-broker/broker-secrets/users");
    let text = fs::read_to_string(&users).unwrap();
    fs::write(
        &users,
        text.replace("CHANGE-ME", "3f9c0d1e7a5b2c4d6e8f0a1b"),
    )
    .unwrap();
    let checked = bundle_in(t, &["check", "my-broker"]);
    checked
        .ok()
        .stdout_has("my-broker 0.1.0: ok, 3 modules in run order: base, erlang, rabbitmq")
        .stdout_has("rabbitmq        built-in library (bundle ")
        .stdout_has("broker-secrets  data folder, local");
    assert!(checked.stderr.is_empty(), "no warning{checked}");

    // What is built in is the repository's library, byte for byte: the same digests.
    let file = t.join("b.bundle");
    run(pack_command(&t.join("my-broker"), &file).current_dir(t)).ok();
    let inspected = run(bundle()
        .arg("inspect")
        .arg(&file)
        .args(["--iter", ITER, "--pass", "env:SB_PASS", "--json"])
        .env("SB_PASS", PASS));
    inspected.ok();
    let json: serde_json::Value = serde_json::from_str(&inspected.stdout).unwrap();
    for (i, name) in ["base", "erlang", "rabbitmq"].iter().enumerate() {
        let m = &json["modules"][i];
        assert_eq!(m["name"], *name);
        assert_eq!(
            m["digest"],
            module_digest(&repo().join("modules").join(name))
                .unwrap()
                .digest
        );
        let origin = m["origin"].as_str().unwrap();
        assert!(origin.starts_with("built-in:"), "{origin}");
    }
    assert_eq!(
        json["env"]["RABBITMQ_USERS_FILE"], "broker-secrets/users",
        "the settings travel in the bundle"
    );

    // A local library wins, and a module it holds that differs from the built-in one is named.
    let erlang = t.join("modules/erlang");
    for f in ["start", "module.toml", "README.md"] {
        let from = repo().join("modules/erlang").join(f);
        write(
            &erlang,
            f,
            &fs::read_to_string(&from).unwrap(),
            if f == "start" {
                Mode::Exec
            } else {
                Mode::Plain
            },
        );
    }
    bundle_in(t, &["check", "my-broker"])
        .ok()
        .stdout_has("erlang          library ./modules");
    fs::write(erlang.join("README.md"), "# erlang, ours\n").unwrap();
    bundle_in(t, &["check", "my-broker"])
        .ok()
        .stderr_has("warning: ./modules/erlang: `erlang` of the library ./modules shadows a different `erlang` of the built-in library");
    // The personality's own folder shadowing a module bundle.toml lists is worth a warning too.
    write(
        &t.join("my-broker"),
        "base/start",
        "#!/bin/sh\n",
        Mode::Exec,
    );
    bundle_in(t, &["check", "my-broker"])
        .ok()
        .stdout_has("base            local")
        .stderr_has("my-broker/base: shadows `base` of the built-in library");
}

/// A module whose start script prints the three settings it sees.
pub(crate) fn settings_personality(root: &Path) -> PathBuf {
    let dir = root.join("conf");
    write(
        &dir,
        "m/start",
        "#!/bin/sh\necho \"A=$A B=$B C=$C name=$BUNDLE_NAME\"\n",
        Mode::Exec,
    );
    write(
        &dir,
        "m/module.toml",
        "[env]\nA = \"module\"\nB = \"module\"\nC = \"module\"\n",
        Mode::Plain,
    );
    write(
        &dir,
        "bundle.toml",
        "name = \"conf\"\n[env]\nB = \"bundle\"\nC = \"bundle\"\n",
        Mode::Plain,
    );
    dir
}

#[test]
fn settings_travel_in_the_bundle_module_defaults_then_bundle_then_env() {
    let tmp = scratch();
    let dir = settings_personality(tmp.path());
    let file = tmp.path().join("conf.bundle");
    pack(&dir, &file, &[]);
    let state = tmp.path().join("state");
    let booted = |extra: &[&str]| {
        boot(&file)
            .pass(Pass::Env(PASS))
            .iter(ITER)
            .state_dir(&state)
            .args(extra)
            .run()
    };
    booted(&[])
        .ok()
        .stdout_has("[m] A=module B=bundle C=bundle name=conf");
    booted(&["--env", "C=flag"])
        .ok()
        .stdout_has("[m] A=module B=bundle C=flag name=conf");
    // `bundle try` passes --env the same way.
    run(bundle()
        .arg("try")
        .arg(&dir)
        .args(["--iter", ITER, "--yes", "--env", "A=try"]))
    .ok()
    .stdout_has("[m] A=try B=bundle C=bundle");

    // The manifest says format 3, so an older bootstrap refuses it instead of running the
    // modules without their settings; without settings it stays format 1.
    let out = tmp.path().join("out");
    run(bundle()
        .arg("unpack")
        .arg(&file)
        .arg("-C")
        .arg(&out)
        .args(["--iter", ITER, "--pass", "env:SB_PASS"])
        .env("SB_PASS", PASS))
    .ok();
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("start-up-bundle/bundle.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["format"], 3);
    assert_eq!(manifest["env"]["B"], "bundle");
    assert_eq!(manifest["modules"][0]["env"]["A"], "module");
}

#[test]
fn check_catches_what_would_fail_at_boot_all_at_once() {
    let tmp = scratch();
    let d = tmp.path().join("p");
    let files = |files: &[(&str, &str, Mode)]| {
        for (rel, text, mode) in files {
            write(&d, rel, text, *mode);
        }
    };
    files(&[
        (
            "a/start",
            "#!/bin/bash\nif true; then\n  echo x\n",
            Mode::Exec,
        ),
        ("b/start", "#!/bin/sh\nf() {\n", Mode::Exec),
        ("b/lib/helper.sh", "x=$(\n", Mode::Plain),
        ("seq/start", "#!/bin/sh\necho ok\n", Mode::Exec),
        ("c/module.toml", "requires = [\"nowhere\"]\n", Mode::Plain),
        ("ok/start", "#!/bin/sh\necho ok\n", Mode::Exec),
        ("ok/app.conf", "password = CHANGE-ME\n", Mode::Plain),
        ("py/start", "#!/usr/bin/python3\nif (\n", Mode::Exec),
        (
            "bundle.toml",
            "[env]\nBUNDLE_ROOT = \"/\"\n\"1X\" = \"y\"\nDB_PASSWORD = \"hunter2\"\n",
            Mode::Plain,
        ),
    ]);
    let ran = bundle_in(tmp.path(), &["check", "p"]);
    ran.code(1).stderr_has("9 problems in p:");
    for (path, needle) in [
        ("p/a/start", "does not parse as a bash script"),
        ("p/b/start", "does not parse as a sh script"),
        ("p/b/lib/helper.sh", "does not parse as a bash script"),
        (
            "p/seq",
            "`seq` is the name of an entry of bundle-bootstrap's state folder",
        ),
        ("p/c", "no start script"),
        ("p/c/module.toml", "`c` requires `nowhere`, found nowhere"),
        (
            "p/ok/app.conf",
            "line 1 still holds the template's placeholder CHANGE-ME",
        ),
        (
            "p/bundle.toml",
            "[env]: `BUNDLE_ROOT`: variables starting with BUNDLE_ are set by",
        ),
        ("p/bundle.toml", "[env]: `1X` is not a variable name"),
    ] {
        ran.stderr_has(&format!("  - {path}: {needle}"));
    }
    assert!(
        !ran.stderr.contains("p/py/start"),
        "python is not parsed{ran}"
    );

    // Fixed, it checks: and the one setting that looks like a secret is a warning, not a problem.
    fs::rename(d.join("seq"), d.join("sequence")).unwrap();
    files(&[
        (
            "a/start",
            "#!/bin/bash\nif true; then\n  echo x\nfi\n",
            Mode::Exec,
        ),
        ("b/start", "#!/bin/sh\nf() { :; }\n", Mode::Exec),
        ("b/lib/helper.sh", "x=$(true)\n", Mode::Plain),
        ("c/start", "#!/bin/sh\n", Mode::Exec),
        ("c/module.toml", "requires = [\"ok\"]\n", Mode::Plain),
        ("ok/app.conf", "password = from-a-file\n", Mode::Plain),
        (
            "bundle.toml",
            "[env]\nDB_PASSWORD = \"hunter2\"\n",
            Mode::Plain,
        ),
    ]);
    bundle_in(tmp.path(), &["check", "p"])
        .ok()
        .stderr_has("warning: p/bundle.toml: [env]: `DB_PASSWORD` looks like a secret");

    // The bundle's name and version follow the one rule too, from bundle.toml or the folder.
    write(
        &d,
        "bundle.toml",
        "name = \"my shop\"\nversion = \"1\\t0\"\n",
        Mode::Plain,
    );
    bundle_in(tmp.path(), &["check", "p"])
        .code(1)
        .stderr_has("p/bundle.toml: `name`: the bundle name holds ' '")
        .stderr_has("p/bundle.toml: `version`: holds '\\t'; a version is printable ASCII");
    fs::remove_file(d.join("bundle.toml")).unwrap();
    let odd = tmp.path().join("_odd");
    fs::rename(&d, &odd).unwrap();
    bundle_in(tmp.path(), &["check", "_odd"])
        .code(1)
        .stderr_has("the folder's name \"_odd\" is the bundle's name when bundle.toml gives none");
}

/// One raw tar entry (a folder when `data` is `None`), written without any path check.
fn raw_entry(tar: &mut Vec<u8>, path: &[u8], data: Option<&[u8]>, mode: u32) {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..path.len()].copy_from_slice(path);
    h.set_entry_type(match data {
        Some(_) => tar::EntryType::Regular,
        None => tar::EntryType::Directory,
    });
    h.set_mode(mode);
    h.set_size(data.map_or(0, |d| d.len() as u64));
    h.set_cksum();
    tar.extend_from_slice(h.as_bytes());
    tar.extend_from_slice(data.unwrap_or_default());
    tar.resize(tar.len().div_ceil(512) * 512, 0);
}

/// A bundle made without `bundle pack`: `entries` as a raw tar, gzip'd, then encrypted by the
/// real `openssl enc` with the test passphrase and iteration count.
fn hostile_bundle(dir: &Path, name: &str, entries: &[(&[u8], Option<&[u8]>)]) -> PathBuf {
    let mut tar = Vec::new();
    for (path, data) in entries {
        raw_entry(&mut tar, path, *data, 0o755);
    }
    tar.resize(tar.len() + 1024, 0);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    let plain = dir.join(format!("{name}.tar.gz"));
    fs::write(&plain, gz.finish().unwrap()).unwrap();
    let file = dir.join(format!("{name}.bundle"));
    run(tool("openssl")
        .args([
            "enc",
            "-aes-256-cbc",
            "-pbkdf2",
            "-iter",
            ITER,
            "-md",
            "sha256",
        ])
        .arg("-in")
        .arg(&plain)
        .arg("-out")
        .arg(&file)
        .args(["-pass", "env:SB_PASS"])
        .env("SB_PASS", PASS))
    .ok();
    file
}

/// A start script that leaves a mark in the state folder if it ever runs.
const MARKING_START: &[u8] =
    b"#!/bin/sh\necho \"[ok] FORGED\"\ntouch \"$BUNDLE_STATE_DIR/ran-$BUNDLE_MODULE\"\n";

/// Boots `file` into a fresh state folder under `dir`, and `bundle inspect`s it: both must refuse
/// it as an archive (exit 4), run nothing, and print no raw control character.
#[track_caller]
fn refused_everywhere(dir: &Path, file: &Path, needle: &str) {
    let state = dir.join(format!(
        "state-{}",
        file.file_stem().unwrap().to_string_lossy()
    ));
    let ran = boot(file)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&state)
        .run();
    ran.code(4).stderr_has(needle);
    let inspected = run(bundle()
        .arg("inspect")
        .arg(file)
        .args(["--iter", ITER, "--pass", "env:SB_PASS"])
        .env("SB_PASS", PASS));
    inspected.code(4).stderr_has(needle);
    for out in [
        &ran.stdout,
        &ran.stderr,
        &inspected.stdout,
        &inspected.stderr,
    ] {
        assert!(
            !out.contains('\u{1b}') && !out.lines().any(|l| l.starts_with("[ok] FORGED")),
            "a forged line reached the console{ran}{inspected}"
        );
    }
    let marks: Vec<_> = fs::read_dir(&state)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        !marks
            .iter()
            .any(|m| m.to_string_lossy().starts_with("ran-")),
        "a module ran: {marks:?}"
    );
}

#[test]
fn hand_made_names_that_break_the_rule_refuse_the_bundle() {
    let tmp = scratch();
    let t = tmp.path();
    // A folder name with a newline and an escape sequence would forge console lines.
    let forged: &[u8] = b"start-up-bundle/ok\n\x1b[31m[ok] FORGED";
    let file = hostile_bundle(
        t,
        "forged",
        &[
            (b"start-up-bundle", None),
            (forged, None),
            (&[forged, b"/start"].concat(), Some(MARKING_START)),
        ],
    );
    refused_everywhere(t, &file, "is refused");
    // café and cafü would share one log file and one init record (`caf_`).
    let file = hostile_bundle(
        t,
        "cafe",
        &[
            (b"start-up-bundle", None),
            ("start-up-bundle/café".as_bytes(), None),
            ("start-up-bundle/café/start".as_bytes(), Some(MARKING_START)),
            ("start-up-bundle/cafü".as_bytes(), None),
            ("start-up-bundle/cafü/start".as_bytes(), Some(MARKING_START)),
        ],
    );
    refused_everywhere(t, &file, "module name \"café\"");
}

#[test]
fn a_manifest_whose_name_or_version_breaks_the_rule_refuses_the_bundle() {
    let tmp = scratch();
    let t = tmp.path();
    // The module's real digest, so nothing but the name or version can be what is refused.
    let module = t.join("m");
    write(
        &module,
        "start",
        std::str::from_utf8(MARKING_START).unwrap(),
        Mode::Exec,
    );
    let digest = module_digest(&module).unwrap().digest;
    let manifest = |name: &str, version: &str| {
        serde_json::to_vec(&serde_json::json!({
            "format": 1, "name": name, "version": version,
            "modules": [{"name": "m", "requires": [], "digest": digest, "files": 1,
                         "bytes": MARKING_START.len(), "start": "start", "init": null,
                         "origin": "local"}]
        }))
        .unwrap()
    };
    let cases = [
        ("name", manifest("shop\n[ok] FORGED", "1")),
        ("version", manifest("shop", "1\u{1b}[2J")),
        ("version", manifest("shop", "1.0 ünï")),
        ("name", manifest("../../seq/other", "1")),
    ];
    for (i, (what, json)) in cases.iter().enumerate() {
        let file = hostile_bundle(
            t,
            &format!("manifest-{i}"),
            &[
                (b"start-up-bundle", None),
                (b"start-up-bundle/bundle.json", Some(json)),
                (b"start-up-bundle/m", None),
                (b"start-up-bundle/m/start", Some(MARKING_START)),
            ],
        );
        refused_everywhere(t, &file, &format!("the bundle {what} \""));
    }
    // The same bundle with a good name and version runs: the refusals above are the names.
    let file = hostile_bundle(
        t,
        "good",
        &[
            (b"start-up-bundle", None),
            (
                b"start-up-bundle/bundle.json",
                Some(&manifest("shop", "1.0")),
            ),
            (b"start-up-bundle/m", None),
            (b"start-up-bundle/m/start", Some(MARKING_START)),
        ],
    );
    boot(&file)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&t.join("state-good"))
        .run()
        .ok()
        .stdout_has("[m] [ok] FORGED");
}

#[test]
fn a_hidden_folder_name_is_escaped_in_the_plan_and_bad_settings_are_refused() {
    let tmp = scratch();
    let t = tmp.path();
    let file = hostile_bundle(
        t,
        "hidden",
        &[
            (b"start-up-bundle", None),
            (b"start-up-bundle/.x\n\x1b[2Jskipped", None),
            (b"start-up-bundle/m", None),
            (b"start-up-bundle/m/start", Some(MARKING_START)),
        ],
    );
    let ran = boot(&file)
        .pass(Pass::Env(PASS))
        .iter(ITER)
        .state_dir(&t.join("state"))
        .arg("--dry-run")
        .run();
    ran.ok().stdout_has("skipped: .x\\n\\u{1b}[2Jskipped");
    assert!(!ran.stdout.contains('\u{1b}'), "{ran}");

    // A manifest setting that names one of ours, or holds a NUL, is refused like a bad name.
    let module = t.join("m");
    write(
        &module,
        "start",
        std::str::from_utf8(MARKING_START).unwrap(),
        Mode::Exec,
    );
    let digest = module_digest(&module).unwrap().digest;
    for (i, env) in [
        serde_json::json!({"BUNDLE_STATE_DIR": "/tmp"}),
        serde_json::json!({"A": "x\u{0}y"}),
        serde_json::json!({"A-B": "x"}),
    ]
    .into_iter()
    .enumerate()
    {
        let json = serde_json::to_vec(&serde_json::json!({
            "format": 3, "name": "shop", "version": "1", "env": env,
            "modules": [{"name": "m", "requires": [], "digest": digest, "files": 1,
                         "bytes": MARKING_START.len(), "start": "start", "init": null,
                         "origin": "local"}]
        }))
        .unwrap();
        let file = hostile_bundle(
            t,
            &format!("env-{i}"),
            &[
                (b"start-up-bundle", None),
                (b"start-up-bundle/bundle.json", Some(&json)),
                (b"start-up-bundle/m", None),
                (b"start-up-bundle/m/start", Some(MARKING_START)),
            ],
        );
        refused_everywhere(t, &file, "a setting of the bundle is refused");
    }
}
