//! Crash safety: `bundle-bootstrap` killed with SIGKILL at any point of a run — during the fetch,
//! the unpack, a module, the state writes — leaves a state folder the next run accepts: `current`
//! never dangling, the rollback floor never lower than before, no half-unpacked release ever run.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::time::Instant;

use crate::support::http::{Behaviour, Server};
use crate::support::{
    Key, Mode, PASS, Pass, boot, keygen, pack_signed, scratch, sha256_hex, write,
};

/// Kill points spread over one run.
const KILLS: u32 = 16;

/// A personality `root/NAME` (version `v`) with 1 MiB of noise to decrypt and unpack, and a module
/// that writes `done-<v>` in its own state folder at the very end of a slow start.
fn heavy(root: &Path, v: &str) -> std::path::PathBuf {
    let dir = root.join(format!("src-{v}/crashy"));
    let mut noise = vec![0u8; 1 << 20];
    fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut noise)
        .unwrap();
    fs::create_dir_all(dir.join("10-app/data")).unwrap();
    fs::write(dir.join("10-app/data/noise"), &noise).unwrap();
    write(
        &dir,
        "10-app/start",
        &format!(
            "test \"$(wc -c < data/noise)\" = {}\nsleep 0.3\ntouch \"$BUNDLE_MODULE_STATE_DIR/done-{v}\"\n",
            1 << 20
        ),
        Mode::Plain,
    );
    write(
        &dir,
        "bundle.toml",
        &format!("name = \"crashy\"\nversion = \"{v}\"\n"),
        Mode::Plain,
    );
    dir
}

/// What must hold after any crash: `current`, when there, names a release folder with its record;
/// the floor is one number not lower than `floor`.
fn consistent(state: &Path, floor: u64) {
    if let Ok(target) = fs::read_link(state.join("current")) {
        let release = state.join(&target);
        assert!(
            release.join("start-up-bundle/bundle.json").is_file(),
            "current points at {}, which is not a whole release",
            target.display()
        );
        let sha = target.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            state.join(format!("releases/{sha}.json")).is_file(),
            "current's release has no record"
        );
    }
    if let Ok(text) = fs::read_to_string(state.join("seq/crashy")) {
        let seq: u64 = text.trim().parse().expect("the floor is one number");
        assert!(seq >= floor, "the floor went down to {seq} from {floor}");
    }
}

fn signed(tmp: &Path, key: &Key, v: &str, seq: &str) -> Vec<u8> {
    let out = tmp.join(format!("out-{v}/crashy.bundle"));
    fs::create_dir_all(out.parent().unwrap()).unwrap();
    pack_signed(&heavy(tmp, v), &out, key, &["--seq", seq, "--force"]).ok();
    fs::read(&out).unwrap()
}

#[test]
fn sigkill_at_any_point_leaves_a_state_the_next_run_accepts() {
    let tmp = scratch();
    let key = keygen(tmp.path(), "k");
    let server = Server::start();
    let url = server.url("/crashy.bundle");
    let state = tmp.path().join("state");
    let booting = |state: &Path| {
        boot(&url)
            .pass(Pass::Env(PASS))
            .state_dir(state)
            .pubkey(&key.b64)
    };
    // Each kill hits a new release (seq 2, 3, …), so every stage — download, unpack, module,
    // state writes — is somewhere in the middle of one of them.
    let serve = |seq: u32| {
        let v = seq.to_string();
        let bytes = signed(tmp.path(), &key, &v, &v);
        let sig = fs::read(tmp.path().join(format!("out-{v}/crashy.bundle.minisig"))).unwrap();
        server.put("/crashy.bundle", bytes.clone());
        server.put("/crashy.bundle.minisig", sig);
        server.script(
            "/crashy.bundle",
            vec![Behaviour::Slow {
                bytes_per_sec: 4 << 20,
            }],
        );
        bytes
    };
    let module_state = state.join("modules/10-app");

    serve(1);
    booting(&state).run().ok();
    assert!(module_state.join("done-1").is_file());
    // How long one whole run takes, slow download included, on a state folder of its own.
    serve(1);
    let started = Instant::now();
    booting(&tmp.path().join("timing")).run().ok();
    let whole = started.elapsed();

    let mut floor = 1;
    for k in 0..KILLS {
        let seq = k + 2;
        let bytes = serve(seq);
        let at = whole * k / KILLS;
        let mut running = booting(&state).spawn_child();
        std::thread::sleep(at);
        let _ = running.kill();
        let _ = running.wait();
        consistent(&state, floor);
        // The next run accepts the folder and applies this release completely.
        server.script("/crashy.bundle", vec![Behaviour::Ok]);
        let ran = booting(&state).run();
        ran.ok();
        assert!(
            module_state.join(format!("done-{seq}")).is_file(),
            "after a kill at {at:?} the next run did not finish seq {seq}{ran}"
        );
        floor = u64::from(seq);
        consistent(&state, floor);
        let current = fs::read_link(state.join("current")).unwrap();
        assert_eq!(
            current.file_name().unwrap().to_string_lossy(),
            sha256_hex(&bytes),
            "after a kill at {at:?}"
        );
    }
}
