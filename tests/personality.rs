//! Personalities built in scratch folders: `bundle check`'s problems (all at once), library
//! look-up, the manifest, digests across a GNU tar round trip, and the plan for unpacked bundles.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use startup_bundle::exit::{Classify, Exit};
use startup_bundle::personality::Content;
use startup_bundle::personality::{
    self, ARCHIVE_TOP, LayoutEntry, Libraries, MANIFEST_FORMAT, MANIFEST_FORMAT_V2, MANIFEST_NAME,
    OrderError, Origin, PlanError, Problems, library_paths, load, module_digest, plan_unpacked,
};

use crate::support::{
    ITER, Mode, PASS, bootstrap, bundle, child_test, only_as_child, run, scratch, tool, write,
};

const SCRIPT: &str = "#!/bin/bash\necho hello\n";

/// A module folder with an executable start script, and optionally a module.toml.
fn module(dir: &Path, name: &str, toml: Option<&str>) {
    write(dir, &format!("{name}/start"), SCRIPT, Mode::Exec);
    if let Some(t) = toml {
        write(dir, &format!("{name}/module.toml"), t, Mode::Plain);
    }
}

fn problems_of(dir: &Path, libs: &[PathBuf]) -> Problems {
    match load(dir, &Libraries::folders_only(libs.to_vec())) {
        Ok(p) => panic!("expected problems, loaded {p:?}"),
        Err(e) => e,
    }
}

/// Asserts that one problem is at `path` (relative to `dir`) and mentions `needle`.
#[track_caller]
fn has(problems: &Problems, dir: &Path, path: &str, needle: &str) {
    let want = if path.is_empty() {
        dir.to_path_buf()
    } else {
        dir.join(path)
    };
    assert!(
        problems
            .0
            .iter()
            .any(|p| p.path == want && p.message.contains(needle)),
        "no problem at {} mentioning {needle:?} in:\n{problems}",
        want.display()
    );
}

#[test]
fn check_reports_every_problem_in_one_run() {
    let s = scratch();
    let d = s.path().join("web");
    let lib = s.path().join("lib");
    module(&d, "10-java", None);
    write(&d, "20-nostart/init", SCRIPT, Mode::Exec);
    module(&d, "30-both", None);
    write(&d, "30-both/start.sh", SCRIPT, Mode::Plain);
    write(&d, "40-noshebang/start", "echo no shebang\n", Mode::Exec);
    write(&d, "50-crlf/start", "echo one\r\necho two\r\n", Mode::Plain);
    write(
        &d,
        "50-crlf/lib/helper.sh",
        "#!/bin/sh\r\ntrue\r\n",
        Mode::Plain,
    );
    module(&d, "bad name", None);
    module(&d, "60-toml", Some("requires = [erlang\n"));
    module(
        &d,
        "61-unknown",
        Some("name = \"other\"\ncolour = \"red\"\n"),
    );
    write(&d, "docs/README", "notes\n", Mode::Plain);
    module(&d, "70-req", Some("requires = [\"ghost\", \"erlang\"]\n"));
    module(&d, "80-a", Some("requires = [\"81-b\"]\n"));
    module(&d, "81-b", Some("requires = [\"80-a\"]\n"));
    module(&d, "90-links", None);
    symlink("/etc/passwd", d.join("90-links/abs")).unwrap();
    symlink("../../10-java/start", d.join("90-links/up")).unwrap();
    symlink("start", d.join("90-links/fine")).unwrap();
    module(&d, "91-special", None);
    let _socket = std::os::unix::net::UnixListener::bind(d.join("91-special/sock")).unwrap();
    run(tool("mkfifo").arg(d.join("91-special/fifo"))).ok();
    write(
        &d,
        "bundle.toml",
        "name = \"web\"\ncolour = \"blue\"\nmodules = [\"nowhere\"]\n",
        Mode::Plain,
    );
    module(&lib, "erlang", None);

    let p = problems_of(&d, std::slice::from_ref(&lib));
    has(&p, &d, "20-nostart", "no start script");
    has(&p, &d, "30-both", "ambiguous");
    has(&p, &d, "40-noshebang/start", "no `#!` first line");
    has(&p, &d, "50-crlf/start", "CRLF");
    has(&p, &d, "50-crlf/lib/helper.sh", "CRLF");
    has(&p, &d, "bad name", "module name holds ' '");
    has(&p, &d, "60-toml/module.toml", "not valid TOML");
    has(&p, &d, "60-toml/module.toml", "line 1");
    has(&p, &d, "61-unknown/module.toml", "unknown key `colour`");
    has(
        &p,
        &d,
        "61-unknown/module.toml",
        "folder is named \"61-unknown\"",
    );
    has(
        &p,
        &d,
        "docs",
        "not a module: add a start script, or a module.toml saying kind = \"data\"",
    );
    has(&p, &d, "bundle.toml", "unknown key `colour`");
    has(
        &p,
        &d,
        "bundle.toml",
        "`nowhere` is listed in modules but found nowhere",
    );
    has(&p, &d, "70-req/module.toml", "`ghost`, found nowhere");
    has(
        &p,
        &d,
        "70-req/module.toml",
        "add it to modules in bundle.toml",
    );
    has(
        &p,
        &d,
        "70-req/module.toml",
        "`erlang`, which is not in this bundle",
    );
    has(&p, &d, "", "requires cycle: 80-a → 81-b → 80-a");
    has(&p, &d, "90-links/abs", "absolute path /etc/passwd");
    has(&p, &d, "90-links/up", "outside the module folder");
    has(&p, &d, "91-special/sock", "a socket cannot be packed");
    has(&p, &d, "91-special/fifo", "a fifo cannot be packed");
    assert_eq!(p.0.len(), 19, "exactly the problems planted:\n{p}");

    let text = p.to_string();
    assert!(text.starts_with(&format!("19 problems in {}:\n  - ", d.display())));
    assert_eq!(p.exit(), Exit::Usage);
    assert!(p.hint().unwrap().contains("bundle check"));
}

#[test]
fn a_clean_personality_loads_in_run_order() {
    let s = scratch();
    let d = s.path().join("clean");
    module(&d, "20-rabbitmq", None);
    module(&d, "10-java", None);
    write(
        &d,
        "10-java/init.sh",
        "apt-get install -y openjdk\n",
        Mode::Plain,
    );
    write(&d, "README.md", "not a module, and fine\n", Mode::Plain);
    write(&d, ".git/config", "[core]\n", Mode::Plain);
    let p = load(&d, &Libraries::default()).unwrap();
    let names: Vec<&str> = p.modules.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["10-java", "20-rabbitmq"]);
    assert_eq!((p.name.as_str(), p.version.as_str()), ("clean", "0"));
    assert_eq!(p.modules[0].init.as_deref(), Some("init.sh"));
    assert_eq!(p.modules[1].init, None);
}

#[test]
fn local_module_wins_over_library_and_libraries_are_searched_in_order() {
    let s = scratch();
    let d = s.path().join("p");
    let (lib1, lib2) = (s.path().join("lib1"), s.path().join("lib2"));
    module(&d, "java", None);
    module(&lib1, "java", None);
    module(&lib1, "erlang", None);
    module(&lib2, "erlang", None);
    module(&lib2, "rabbitmq", Some("requires = [\"erlang\"]\n"));
    write(
        &d,
        "bundle.toml",
        "modules = [\"rabbitmq\", \"java\", \"erlang\"]\n",
        Mode::Plain,
    );
    let p = load(
        &d,
        &Libraries::folders_only(vec![lib1.clone(), lib2.clone()]),
    )
    .unwrap();
    let got: Vec<(&str, &Path, &Origin)> = p
        .modules
        .iter()
        .map(|m| (m.name.as_str(), m.dir.as_path(), &m.origin))
        .collect();
    assert_eq!(
        got,
        [
            (
                "erlang",
                lib1.join("erlang").as_path(),
                &Origin::Library(lib1.clone())
            ),
            ("java", d.join("java").as_path(), &Origin::Local),
            (
                "rabbitmq",
                lib2.join("rabbitmq").as_path(),
                &Origin::Library(lib2.clone())
            ),
        ]
    );
}

#[test]
fn a_requirement_is_never_pulled_in_implicitly() {
    let s = scratch();
    let d = s.path().join("p");
    let lib = s.path().join("lib");
    module(&lib, "erlang", None);
    module(&lib, "rabbitmq", Some("requires = [\"erlang\"]\n"));
    write(&d, "bundle.toml", "modules = [\"rabbitmq\"]\n", Mode::Plain);
    let p = problems_of(&d, std::slice::from_ref(&lib));
    assert_eq!(p.0.len(), 1, "{p}");
    assert_eq!(p.0[0].path, lib.join("rabbitmq/module.toml"));
    assert!(
        p.0[0]
            .message
            .contains(&lib.join("erlang").display().to_string())
    );
    assert!(p.0[0].message.contains("add it to modules in bundle.toml"));
}

#[test]
fn flag_beats_bundle_modules_path() {
    let flag = [PathBuf::from("/from/flag")];
    assert_eq!(library_paths(&flag), flag);
    // The environment is process-wide (and set_var is unsafe), so read it in a child process.
    run(child_test("personality::library_paths_child")
        .env("BUNDLE_MODULES_PATH", "/lib/one:/lib/two"))
    .ok()
    .stdout_has("1 passed");
}

/// Run by [`flag_beats_bundle_modules_path`] with `BUNDLE_MODULES_PATH=/lib/one:/lib/two`.
#[test]
#[ignore = "run as a child process with BUNDLE_MODULES_PATH set"]
fn library_paths_child() {
    only_as_child("personality::flag_beats_bundle_modules_path");
    assert_eq!(
        library_paths(&[]),
        [PathBuf::from("/lib/one"), PathBuf::from("/lib/two")]
    );
    assert_eq!(library_paths(&[PathBuf::from("/f")]), [PathBuf::from("/f")]);
}

/// A personality with a local module, a library module with init and requires, and bundle.toml.
fn sample(s: &Path) -> (PathBuf, PathBuf) {
    let d = s.join("web");
    let lib = s.join("modules");
    module(
        &d,
        "app",
        Some("requires = [\"java\"]\ndescription = \"the app\"\n"),
    );
    write(&d, "app/conf/app.properties", "port=8080\n", Mode::Plain);
    module(&lib, "java", Some("name = \"java\"\nversion = \"21\"\n"));
    write(&lib, "java/init", "#!/bin/sh\necho install\n", Mode::Exec);
    write(
        &d,
        "bundle.toml",
        "name = \"web-tier\"\nversion = \"2024.1\"\nmodules = [\"java\"]\n",
        Mode::Plain,
    );
    (d, lib)
}

#[test]
fn manifest_lists_modules_in_run_order_with_digests() {
    let s = scratch();
    let (d, lib) = sample(s.path());
    let p = load(&d, &Libraries::folders_only(vec![lib.clone()])).unwrap();
    let m = p.manifest();
    let json = m.to_json();
    assert_eq!(
        json,
        load(&d, &Libraries::folders_only(vec![lib.clone()]))
            .unwrap()
            .manifest()
            .to_json()
    );
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let Content {
        digest: java_digest,
        files: java_files,
        bytes: java_bytes,
    } = module_digest(&lib.join("java")).unwrap();
    let app_digest = module_digest(&d.join("app")).unwrap().digest;
    assert_eq!(
        v,
        serde_json::json!({
            "format": 1, "name": "web-tier", "version": "2024.1",
            "modules": [
                {"name": "java", "requires": [], "digest": java_digest, "files": java_files,
                 "bytes": java_bytes, "start": "start", "init": "init",
                 "origin": format!("library:{}", lib.display())},
                {"name": "app", "requires": ["java"], "digest": app_digest, "files": 3,
                 "bytes": SCRIPT.len() + "port=8080\n".len()
                     + "requires = [\"java\"]\ndescription = \"the app\"\n".len(),
                 "start": "start", "init": null, "origin": "local"},
            ]
        })
    );
    assert!(
        String::from_utf8(json)
            .unwrap()
            .contains("\n  \"modules\": [\n")
    );

    let layout = p.layout();
    let paths: Vec<String> = layout
        .iter()
        .map(|e| match e {
            LayoutEntry::Tree { prefix, dir } => format!("{prefix} <- {}", dir.display()),
            LayoutEntry::File { path, .. } => path.clone(),
        })
        .collect();
    assert_eq!(
        paths,
        [
            format!("{ARCHIVE_TOP}/app <- {}", d.join("app").display()),
            format!("{ARCHIVE_TOP}/{MANIFEST_NAME}"),
            format!("{ARCHIVE_TOP}/java <- {}", lib.join("java").display()),
        ]
    );
}

#[test]
fn digest_survives_a_gnu_tar_round_trip() {
    let s = scratch();
    let src = s.path().join("src");
    write(&src, "java/start", SCRIPT, Mode::Exec);
    write(&src, "java/lib/a.jar", "PK\u{3}\u{4}binary", Mode::Plain);
    write(&src, "java/lib/deep/b.txt", "b", Mode::Plain);
    std::fs::create_dir_all(src.join("java/empty")).unwrap();
    symlink("lib/a.jar", src.join("java/current.jar")).unwrap();
    let before = module_digest(&src.join("java")).unwrap();
    assert_eq!((before.files, before.bytes), (3, SCRIPT.len() as u64 + 11));

    let dst = s.path().join("dst");
    std::fs::create_dir(&dst).unwrap();
    // -p: keep modes exactly whatever the umask, as the bootstrap's extractor does.
    let pipeline = format!(
        "tar -C '{}' -cf - java | tar -C '{}' -xpf -",
        src.display(),
        dst.display()
    );
    run(tool("bash").args(["-euo", "pipefail", "-c", &pipeline])).ok();
    assert_eq!(module_digest(&dst.join("java")).unwrap(), before);

    // Touching changes only mtimes: same digest. A byte changed: a different one.
    run(tool("touch")
        .args(["-d", "2001-01-01"])
        .arg(dst.join("java/start")))
    .ok();
    assert_eq!(
        module_digest(&dst.join("java")).unwrap().digest,
        before.digest
    );
    write(&dst, "java/lib/deep/b.txt", "c", Mode::Plain);
    assert_ne!(
        module_digest(&dst.join("java")).unwrap().digest,
        before.digest
    );
}

/// Copies a loaded personality into `unpacked/start-up-bundle/` the way pack + unpack would.
fn unpack_like_pack(p: &personality::Personality, unpacked: &Path) {
    for entry in p.layout() {
        match entry {
            LayoutEntry::Tree { prefix, dir } => {
                let dest = unpacked.join(prefix);
                std::fs::create_dir_all(&dest).unwrap();
                let pipeline = format!(
                    "tar -C '{}' -cf - . | tar -C '{}' -xpf -",
                    dir.display(),
                    dest.display()
                );
                run(tool("bash").args(["-euo", "pipefail", "-c", &pipeline])).ok();
            }
            LayoutEntry::File { path, bytes } => {
                std::fs::write(unpacked.join(path), bytes).unwrap()
            }
        }
    }
}

#[test]
fn plan_follows_bundle_json_and_checks_digests() {
    let s = scratch();
    let (d, lib) = sample(s.path());
    let p = load(&d, &Libraries::folders_only(vec![lib.clone()])).unwrap();
    let unpacked = s.path().join("unpacked");
    unpack_like_pack(&p, &unpacked);
    let top = unpacked.join(ARCHIVE_TOP);

    let plan = plan_unpacked(&unpacked, "ignored", "ignored").unwrap();
    assert!(plan.from_manifest);
    assert_eq!(
        (plan.name.as_str(), plan.version.as_str()),
        ("web-tier", "2024.1")
    );
    assert_eq!(plan.root, top);
    let names: Vec<&str> = plan.modules.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["java", "app"]);
    assert_eq!(plan.modules[0].start, top.join("java/start"));
    assert_eq!(plan.modules[0].init, Some(top.join("java/init")));
    assert_eq!(plan.modules[1].requires, ["java"]);
    assert_eq!(plan.modules[1].digest, p.modules[1].digest);
    assert_eq!(
        (plan.modules[1].files, plan.modules[1].bytes),
        (p.modules[1].files, p.modules[1].bytes)
    );

    write(
        &unpacked,
        "start-up-bundle/app/conf/app.properties",
        "port=6666\n",
        Mode::Plain,
    );
    let err = plan_unpacked(&unpacked, "x", "0").unwrap_err();
    assert!(
        matches!(&err, PlanError::DigestMismatch { module, .. } if module == "app"),
        "{err}"
    );
    assert_eq!(err.exit(), Exit::Archive);

    std::fs::remove_dir_all(top.join("app")).unwrap();
    let err = plan_unpacked(&unpacked, "x", "0").unwrap_err();
    assert!(
        matches!(&err, PlanError::ModuleMissing { module, .. } if module == "app"),
        "{err}"
    );
    assert_eq!(err.exit(), Exit::Archive);
}

#[test]
fn plan_refuses_a_manifest_naming_a_path_outside() {
    let s = scratch();
    let u = s.path();
    write(u, "start-up-bundle/java/start", SCRIPT, Mode::Exec);
    write(
        u,
        "start-up-bundle/bundle.json",
        r#"{"format":1,"name":"x","version":"1","modules":[{"name":"../java","requires":[],
        "digest":"sha256:00","files":1,"bytes":1,"start":"start","init":null,"origin":"local"}]}"#,
        Mode::Plain,
    );
    let err = plan_unpacked(u, "x", "0").unwrap_err();
    assert!(matches!(err, PlanError::BadName { .. }), "{err}");
    assert_eq!(err.exit(), Exit::Archive);
}

#[test]
fn plan_without_manifest_uses_the_seed_layout() {
    let s = scratch();
    let u = s.path();
    write(
        u,
        "start-up-bundle/20-rabbitmq/start",
        "echo rabbit\n",
        Mode::Plain,
    );
    write(
        u,
        "start-up-bundle/10-java/start",
        "echo java\n",
        Mode::Plain,
    );
    write(
        u,
        "start-up-bundle/10-java/init.sh",
        "echo once\n",
        Mode::Plain,
    );
    write(
        u,
        "start-up-bundle/notes/README",
        "not a module\n",
        Mode::Plain,
    );
    let plan = plan_unpacked(u, "bundle.enc", "0123456789ab").unwrap();
    assert!(!plan.from_manifest);
    assert_eq!(plan.root, u.join(ARCHIVE_TOP));
    assert_eq!(
        (plan.name.as_str(), plan.version.as_str()),
        ("bundle.enc", "0123456789ab")
    );
    let names: Vec<&str> = plan.modules.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["10-java", "20-rabbitmq"]);
    assert_eq!(
        plan.modules[0].init,
        Some(u.join("start-up-bundle/10-java/init.sh"))
    );
    assert_eq!(plan.skipped, ["notes"]);
    assert_eq!(
        plan.modules[1].digest,
        module_digest(&u.join("start-up-bundle/20-rabbitmq"))
            .unwrap()
            .digest
    );
}

#[test]
fn single_top_folder_with_a_start_script_is_itself_the_module() {
    let s = scratch();
    write(s.path(), "java/start", "echo java\n", Mode::Plain);
    let plan = plan_unpacked(s.path(), "b", "v").unwrap();
    assert_eq!(plan.root, s.path());
    assert_eq!(plan.modules.len(), 1);
    assert_eq!(plan.modules[0].name, "java");

    // Two top-level folders: they are the modules, whatever their names.
    let s = scratch();
    write(s.path(), "b/start", "echo b\n", Mode::Plain);
    write(s.path(), "a/start", "echo a\n", Mode::Plain);
    let plan = plan_unpacked(s.path(), "b", "v").unwrap();
    let names: Vec<&str> = plan.modules.iter().map(|m| m.name.as_str()).collect();
    assert_eq!((plan.root.as_path(), names), (s.path(), vec!["a", "b"]));
}

#[test]
fn hand_made_bundle_orders_by_requires_and_refuses_cycles() {
    let s = scratch();
    let u = s.path();
    write(u, "top/10-app/start", "echo app\n", Mode::Plain);
    write(
        u,
        "top/10-app/module.toml",
        "requires = [\"20-db\"]\n",
        Mode::Plain,
    );
    write(u, "top/20-db/start", "echo db\n", Mode::Plain);
    let plan = plan_unpacked(u, "b", "v").unwrap();
    let names: Vec<&str> = plan.modules.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["20-db", "10-app"]);

    write(
        u,
        "top/20-db/module.toml",
        "requires = [\"10-app\"]\n",
        Mode::Plain,
    );
    let err = plan_unpacked(u, "b", "v").unwrap_err();
    assert_eq!(err.exit(), Exit::Archive);
    let PlanError::Order { source, .. } = &err else {
        panic!("expected an order error, got {err}");
    };
    assert_eq!(
        source.to_string(),
        "requires cycle: 10-app → 20-db → 10-app"
    );
    assert!(matches!(source, OrderError::Cycle(_)));
}

#[test]
fn hand_made_bundle_without_any_module_is_refused() {
    let s = scratch();
    write(s.path(), "stuff/README", "hello\n", Mode::Plain);
    let err = plan_unpacked(s.path(), "b", "v").unwrap_err();
    assert!(matches!(err, PlanError::NoModules { .. }), "{err}");
    assert_eq!(err.exit(), Exit::Archive);
}

const DATA_TOML: &str = "kind = \"data\"\n";

/// A data folder `name` holding one file, `users`.
fn data_folder(dir: &Path, name: &str) {
    write(dir, &format!("{name}/module.toml"), DATA_TOML, Mode::Plain);
    write(
        dir,
        &format!("{name}/users"),
        "orders:s3cret\n",
        Mode::Plain,
    );
}

#[test]
fn check_knows_data_folders_and_reports_a_folder_that_is_neither() {
    let s = scratch();
    let d = s.path().join("p");
    module(&d, "app", Some("requires = [\"secrets\"]\n"));
    data_folder(&d, "secrets");
    // A data folder with scripts and requires: every one is a problem.
    data_folder(&d, "bad-data");
    write(&d, "bad-data/start", SCRIPT, Mode::Exec);
    write(&d, "bad-data/init.sh", SCRIPT, Mode::Plain);
    write(
        &d,
        "bad-data/module.toml",
        "kind = \"data\"\nrequires = [\"app\"]\n",
        Mode::Plain,
    );
    // Neither a start script nor kind = "data": reported, never silently left out.
    write(&d, "notes/README", "notes\n", Mode::Plain);
    write(
        &d,
        "half/module.toml",
        "description = \"files\"\n",
        Mode::Plain,
    );
    write(&d, "typo/module.toml", "kind = \"dat\"\n", Mode::Plain);
    write(&d, "typo/users", "x\n", Mode::Plain);

    let p = problems_of(&d, &[]);
    has(&p, &d, "bad-data/start", "is in a data folder");
    has(
        &p,
        &d,
        "bad-data/init.sh",
        "remove `init.sh`, or remove kind = \"data\"",
    );
    has(
        &p,
        &d,
        "bad-data/module.toml",
        "cannot require anything (requires = [\"app\"])",
    );
    has(&p, &d, "notes", "or a module.toml saying kind = \"data\"");
    has(&p, &d, "half", "no start script");
    has(&p, &d, "half", "kind = \"data\" to its module.toml");
    has(&p, &d, "typo/module.toml", "unknown variant `dat`");
    assert_eq!(p.0.len(), 7, "exactly the problems planted:\n{p}");
    assert!(
        !p.to_string().contains("secrets") && !p.to_string().contains("/app"),
        "the good module and data folder are fine:\n{p}"
    );

    // The same personality without the bad folders loads: the data folder apart from the modules.
    for bad in ["bad-data", "notes", "half", "typo"] {
        std::fs::remove_dir_all(d.join(bad)).unwrap();
    }
    let loaded = load(&d, &Libraries::default()).unwrap();
    let modules: Vec<&str> = loaded.modules.iter().map(|m| m.name.as_str()).collect();
    let data: Vec<&str> = loaded.data.iter().map(|d| d.name.as_str()).collect();
    assert_eq!((modules, data), (vec!["app"], vec!["secrets"]));

    // Data alone runs nothing: still "no modules".
    std::fs::remove_dir_all(d.join("app")).unwrap();
    has(&problems_of(&d, &[]), &d, "", "no modules");
}

#[test]
fn a_library_data_folder_is_found_like_a_module() {
    let s = scratch();
    let (d, lib) = (s.path().join("p"), s.path().join("lib"));
    module(&d, "app", Some("requires = [\"certs\"]\n"));
    data_folder(&lib, "certs");
    write(&d, "bundle.toml", "modules = [\"certs\"]\n", Mode::Plain);
    let p = load(&d, &Libraries::folders_only(vec![lib.clone()])).unwrap();
    assert_eq!(p.data[0].origin, Origin::Library(lib.clone()));
    assert_eq!(p.data[0].dir, lib.join("certs"));
}

/// A personality with a module that requires a data folder, and a library module.
fn sample_with_data(s: &Path) -> (PathBuf, PathBuf) {
    let (d, lib) = sample(s);
    data_folder(&d, "secrets");
    write(
        &d,
        "app/module.toml",
        "requires = [\"java\", \"secrets\"]\n",
        Mode::Plain,
    );
    (d, lib)
}

#[test]
fn a_data_folder_is_packed_and_recorded_in_a_format_2_manifest() {
    let s = scratch();
    let (d, lib) = sample_with_data(s.path());
    let p = load(&d, &Libraries::folders_only(vec![lib.clone()])).unwrap();
    let names: Vec<&str> = p.modules.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["java", "app"]);
    let v: serde_json::Value = serde_json::from_slice(&p.manifest().to_json()).unwrap();
    let Content {
        digest,
        files,
        bytes,
    } = module_digest(&d.join("secrets")).unwrap();
    assert_eq!(v["format"], MANIFEST_FORMAT_V2);
    assert_eq!(
        v["modules"][1]["requires"],
        serde_json::json!(["java", "secrets"])
    );
    assert_eq!(
        v["data"],
        serde_json::json!([{"name": "secrets", "digest": digest, "files": files,
                            "bytes": bytes, "origin": "local"}])
    );
    assert_eq!(
        (files, bytes),
        (2, (DATA_TOML.len() + "orders:s3cret\n".len()) as u64)
    );

    let prefixes: Vec<String> = p
        .layout()
        .into_iter()
        .filter_map(|e| match e {
            LayoutEntry::Tree { prefix, .. } => Some(prefix),
            LayoutEntry::File { .. } => None,
        })
        .collect();
    assert_eq!(
        prefixes,
        [
            format!("{ARCHIVE_TOP}/app"),
            format!("{ARCHIVE_TOP}/java"),
            format!("{ARCHIVE_TOP}/secrets")
        ]
    );
}

#[test]
fn plan_keeps_data_folders_apart_checks_their_digest_and_never_skips_them() {
    let s = scratch();
    let (d, lib) = sample_with_data(s.path());
    let p = load(&d, &Libraries::folders_only(vec![lib.clone()])).unwrap();
    let unpacked = s.path().join("unpacked");
    unpack_like_pack(&p, &unpacked);
    let top = unpacked.join(ARCHIVE_TOP);

    let plan = plan_unpacked(&unpacked, "x", "0").unwrap();
    let names: Vec<&str> = plan.modules.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["java", "app"]);
    assert_eq!(plan.data.len(), 1);
    assert_eq!(plan.data[0].name, "secrets");
    assert_eq!(plan.data[0].dir, top.join("secrets"));
    assert_eq!(plan.data[0].digest, p.data[0].digest);
    assert!(plan.skipped.is_empty(), "{:?}", plan.skipped);

    write(&top, "secrets/users", "orders:changed\n", Mode::Plain);
    let err = plan_unpacked(&unpacked, "x", "0").unwrap_err();
    assert!(
        matches!(&err, PlanError::DigestMismatch { module, .. } if module == "secrets"),
        "{err}"
    );
    assert_eq!(err.exit(), Exit::Archive);
    std::fs::remove_dir_all(top.join("secrets")).unwrap();
    let err = plan_unpacked(&unpacked, "x", "0").unwrap_err();
    assert!(
        matches!(&err, PlanError::ModuleMissing { module, .. } if module == "secrets"),
        "{err}"
    );
}

#[test]
fn a_format_1_manifest_still_reads_and_a_newer_one_asks_for_an_update() {
    let s = scratch();
    let u = s.path();
    write(u, "start-up-bundle/java/start", SCRIPT, Mode::Exec);
    let digest = module_digest(&u.join("start-up-bundle/java"))
        .unwrap()
        .digest;
    let manifest = |format: u32| {
        format!(
            r#"{{"format":{format},"name":"x","version":"1","modules":[{{"name":"java",
            "requires":[],"digest":"{digest}","files":1,"bytes":{},"start":"start","init":null,
            "origin":"local"}}]}}"#,
            SCRIPT.len()
        )
    };
    write(u, "start-up-bundle/bundle.json", &manifest(1), Mode::Plain);
    let plan = plan_unpacked(u, "x", "0").unwrap();
    assert_eq!((plan.modules.len(), plan.data.len()), (1, 0));

    write(
        u,
        "start-up-bundle/bundle.json",
        &manifest(MANIFEST_FORMAT + 1),
        Mode::Plain,
    );
    let err = plan_unpacked(u, "x", "0").unwrap_err();
    assert!(matches!(err, PlanError::Format { .. }), "{err}");
    assert!(err.hint().unwrap().contains("update bundle-bootstrap"));
}

#[test]
fn hand_made_bundle_with_a_data_folder() {
    let s = scratch();
    let u = s.path();
    write(u, "top/20-app/start", "echo app\n", Mode::Plain);
    write(
        u,
        "top/20-app/module.toml",
        "requires = [\"secrets\"]\n",
        Mode::Plain,
    );
    write(u, "top/10-web/start", "echo web\n", Mode::Plain);
    write(
        u,
        "top/10-web/module.toml",
        "requires = [\"20-app\"]\n",
        Mode::Plain,
    );
    data_folder(&u.join("top"), "secrets");
    write(u, "top/notes/README", "not a module\n", Mode::Plain);
    let plan = plan_unpacked(u, "b", "v").unwrap();
    assert!(!plan.from_manifest);
    let names: Vec<&str> = plan.modules.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["20-app", "10-web"]);
    assert_eq!(plan.modules[0].requires, ["secrets"]);
    let data: Vec<&str> = plan.data.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(data, ["secrets"]);
    assert_eq!(
        plan.data[0].digest,
        module_digest(&u.join("top/secrets")).unwrap().digest
    );
    assert_eq!(plan.skipped, ["notes"]);

    // A script in a data folder would never run: the bundle is refused, not half understood.
    write(u, "top/secrets/start", "echo never\n", Mode::Plain);
    let err = plan_unpacked(u, "b", "v").unwrap_err();
    assert!(matches!(err, PlanError::DataScript { .. }), "{err}");
    assert_eq!(err.exit(), Exit::Archive);
}

/// `bundle pack`, `bundle inspect` and `bundle-bootstrap run` with a data folder: the module finds
/// its files under `$BUNDLE_ROOT/<name>`, nothing runs in the data folder, nothing is "skipped".
#[test]
fn a_data_folder_travels_in_the_bundle_and_is_never_run() {
    let s = scratch();
    let d = s.path().join("p");
    write(
        &d,
        "reader/start",
        "#!/bin/sh\nset -e\ncp \"$BUNDLE_ROOT/secrets/users\" \"$BUNDLE_MODULE_STATE_DIR/users\"\n",
        Mode::Exec,
    );
    write(
        &d,
        "reader/module.toml",
        "requires = [\"secrets\"]\n",
        Mode::Plain,
    );
    data_folder(&d, "secrets");
    run(bundle().arg("check").arg(&d))
        .ok()
        .stdout_has("1 modules in run order: reader");
    let file = s.path().join("p.bundle");
    let pass = ["--iter", ITER, "--pass", "env:SB_PASS"];
    run(bundle()
        .arg("pack")
        .arg(&d)
        .arg("-o")
        .arg(&file)
        .args(pass)
        .env("SB_PASS", PASS))
    .ok();

    let inspected = run(bundle()
        .arg("inspect")
        .arg(&file)
        .args(pass)
        .env("SB_PASS", PASS));
    inspected
        .ok()
        .stdout_has("1. reader requires secrets")
        .stdout_has("data folders (never run):\n  secrets — 2 files");
    assert!(!inspected.stdout.contains("skipped"), "{inspected}");
    let json = run(bundle()
        .arg("inspect")
        .arg(&file)
        .arg("--json")
        .args(pass)
        .env("SB_PASS", PASS));
    let v: serde_json::Value = serde_json::from_str(&json.ok().stdout).unwrap();
    assert_eq!(v["data"][0]["name"], "secrets");
    assert_eq!(v["skipped"], serde_json::json!([]));

    let state = s.path().join("state");
    let booted = run(bootstrap()
        .args(["run", &file.to_string_lossy()])
        .args(pass)
        .arg("--state-dir")
        .arg(&state)
        .env("SB_PASS", PASS));
    booted.ok().stderr_has("1 modules started");
    assert!(!booted.stdout.contains("skipped"), "{booted}");
    assert_eq!(
        std::fs::read_to_string(state.join("modules/reader/users")).unwrap(),
        "orders:s3cret\n"
    );
    assert!(
        !state.join("modules/secrets").exists(),
        "the data folder ran"
    );
}
