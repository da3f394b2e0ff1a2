//! `bundle publish` / `bundle releases` and pointer-based boots: the release first, `NAME.latest`
//! last, so an instance booting mid-publish sees the old release or the new one — never a mix.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use startup_bundle::serve::Server;

use crate::support::{
    Key, Mode, PASS, Pass, Ran, boot, bundle, keygen, pack_signed, run, scratch, write,
};

/// A one-module personality whose module prints its version.
pub(crate) fn versioned(root: &Path, version: &str) -> std::path::PathBuf {
    let dir = root.join(format!("shop-{version}"));
    write(
        &dir,
        "bundle.toml",
        &format!("name = \"shop\"\nversion = \"{version}\"\n"),
        Mode::Plain,
    );
    write(
        &dir,
        "web/start",
        &format!("echo \"running {version}\" >> \"$BUNDLE_STATE_DIR/trace\"\n"),
        Mode::Plain,
    );
    dir
}

/// Packs and signs version `version` with sequence number `seq`; returns the bundle file.
fn release(root: &Path, key: &Key, version: &str, seq: u64) -> std::path::PathBuf {
    let out = root.join(format!("shop-{version}.bundle"));
    pack_signed(
        &versioned(root, version),
        &out,
        key,
        &["--seq", &seq.to_string()],
    )
    .ok();
    out
}

fn publish(file: &Path, dest: &Path) -> Ran {
    run(bundle().arg("publish").arg(file).arg("--to").arg(dest))
}

/// `bundle-bootstrap run URL` with the test passphrase and `key`: no --iter, the signature says.
fn signed_boot(url: &str, state: &Path, key: &Key) -> Ran {
    boot(url)
        .pass(Pass::Env(PASS))
        .pubkey(&key.b64)
        .state_dir(state)
        .run()
}

#[test]
fn publish_boot_from_the_pointer_refuse_older_and_roll_back_under_a_new_seq() {
    let tmp = scratch();
    let key = keygen(tmp.path(), "team");
    let dest = tmp.path().join("www");
    let v1 = release(tmp.path(), &key, "1.0", 10);
    let v2 = release(tmp.path(), &key, "2.0", 20);
    publish(&v1, &dest).ok().stdout_has("shop.latest");
    publish(&v2, &dest).ok();
    // Publishing an older sequence number would be refused by every instance: refused here first.
    publish(&v1, &dest).code(1).stderr_has("--from");

    let server = Server::start(&dest).unwrap();
    let state = tmp.path().join("state");
    signed_boot(&server.url("shop.latest"), &state, &key)
        .ok()
        .stderr_has("seq 20");
    assert_eq!(
        fs::read_to_string(state.join("trace")).unwrap(),
        "running 2.0\n"
    );

    // A pointer needs a key: it is nothing but a signature.
    boot(server.url("shop.latest"))
        .pass(Pass::Spec("pass:x"))
        .state_dir(&state)
        .run()
        .code(1)
        .stderr_has("--pubkey");

    let listed = run(bundle().arg("releases").arg("--from").arg(&dest));
    listed.ok();
    let words = |seq: &str| -> Vec<String> {
        listed
            .stdout
            .lines()
            .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .find(|w| w.get(1).map(String::as_str) == Some(seq))
            .unwrap_or_else(|| panic!("no seq {seq} row{listed}"))
    };
    assert_eq!(words("10")[..4], ["shop", "10", "-", "1.0"], "{listed}");
    assert_eq!(words("20")[..4], ["shop", "20", "-", "2.0"], "{listed}");
    assert!(
        words("20").ends_with(&["<-".into(), "latest".into()]),
        "{listed}"
    );

    // Roll back to 1.0 under seq 30: the machine that ran seq 20 accepts it and runs the old bytes.
    run(bundle()
        .args([
            "publish", "--from", "10", "--name", "shop", "--seq", "30", "--key",
        ])
        .arg(&key.secret)
        .arg("--to")
        .arg(&dest))
    .ok()
    .stdout_has("seq 30");
    signed_boot(&server.url("shop.latest"), &state, &key)
        .ok()
        .stderr_has("seq 30");
    assert_eq!(
        fs::read_to_string(state.join("trace")).unwrap(),
        "running 2.0\nrunning 1.0\n"
    );
}

#[test]
fn two_hundred_boots_during_twenty_publishes_never_see_a_mix() {
    let tmp = scratch();
    let key = keygen(tmp.path(), "team");
    let dest = tmp.path().join("www");
    let files: Vec<_> = (1..=20)
        .map(|i| release(tmp.path(), &key, &format!("1.{i}"), i))
        .collect();
    publish(&files[0], &dest).ok();
    let server = Server::start(&dest).unwrap();
    let url = server.url("shop.latest");

    let publishing = Arc::new(AtomicBool::new(true));
    let publisher = {
        let (files, dest, publishing) = (files.clone(), dest.clone(), Arc::clone(&publishing));
        std::thread::spawn(move || {
            for file in &files[1..] {
                publish(file, &dest).ok();
            }
            publishing.store(false, Ordering::SeqCst);
        })
    };
    const BOOTS: usize = 200;
    const WORKERS: usize = 4;
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (next, failures, seen, url) = (
                Arc::clone(&next),
                Arc::clone(&failures),
                Arc::clone(&seen),
                url.clone(),
            );
            let (root, b64) = (tmp.path().to_path_buf(), key.b64.clone());
            std::thread::spawn(move || {
                loop {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    if n >= BOOTS {
                        return;
                    }
                    let state = root.join(format!("boot{n}"));
                    let ran = boot(&url)
                        .pass(Pass::Env(PASS))
                        .pubkey(&b64)
                        .arg("--dry-run")
                        .state_dir(&state)
                        .run();
                    // The plan names the version the manifest inside the bytes says; the pointer line
                    // names the version the signature says: the two must agree.
                    let planned = ran.stdout.lines().next().unwrap_or_default().to_string();
                    let pointed = ran
                        .stderr
                        .lines()
                        .find(|l| l.contains("points at"))
                        .unwrap_or_default()
                        .to_string();
                    let version = planned.split_whitespace().nth(3).unwrap_or("?").to_string();
                    if ran.code != Some(0) || !pointed.contains(&format!("shop {version} seq")) {
                        failures.lock().unwrap().push(ran.to_string());
                    }
                    seen.lock().unwrap().insert(version);
                    let _ = fs::remove_dir_all(&state);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    publisher.join().unwrap();
    assert!(!publishing.load(Ordering::SeqCst));
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {BOOTS} boots failed or saw a mix; first:{}",
        failures.len(),
        failures[0]
    );
    assert!(
        seen.lock().unwrap().len() > 1,
        "the boots never overlapped a publish: {:?}",
        seen.lock().unwrap()
    );
}

#[test]
fn a_pointer_swapped_for_another_bundle_signed_by_the_same_key_is_refused() {
    let tmp = scratch();
    let key = keygen(tmp.path(), "team");
    let dest = tmp.path().join("www");
    for name in ["web", "db"] {
        let dir = tmp.path().join(name);
        write(
            &dir,
            "bundle.toml",
            &format!("name = \"{name}\"\nversion = \"1\"\n"),
            Mode::Plain,
        );
        write(
            &dir,
            "m/start",
            &format!("echo {name} >> \"$BUNDLE_STATE_DIR/trace\"\n"),
            Mode::Plain,
        );
        let file = tmp.path().join(format!("{name}.bundle"));
        pack_signed(&dir, &file, &key, &[]).ok();
        publish(&file, &dest).ok();
    }
    // Whoever can write to the bucket copies db's pointer over web's: both are validly signed.
    fs::copy(dest.join("db.latest"), dest.join("web.latest")).unwrap();
    let server = Server::start(&dest).unwrap();
    let state = tmp.path().join("state");
    signed_boot(&server.url("web.latest"), &state, &key)
        .code(3)
        .stderr_has("the signature is for the bundle \"db\"");
    assert!(!state.join("trace").exists(), "a swapped bundle ran");
}
