//! A stable-toolchain smoke run of the fuzz targets' bodies: the seeds (made with the real writers,
//! plus hand-made hostile tars) must give the expected outcomes, then a few thousand mutated and
//! random inputs per target must not panic. `SMOKE_ITERS` and `SMOKE_SEED` change the run; a
//! failure lists each distinct panic with the shortest input that caused it, in hex.

mod support;

use std::io::Cursor;

use startup_bundle::archive::unpack;
use startup_bundle_fuzz::decrypt::{self, Outcome, Reads};
use startup_bundle_fuzz::scratch::Scratch;
use startup_bundle_fuzz::{Verdict, plan, seeds, unpack as unpack_target};
use support::{Rng, iterations, mutate, run};

/// In one input in this many the smoke run tries plain random bytes instead of a mutation.
const RANDOM_EVERY: usize = 10;
/// Random inputs are at most this long.
const MAX_RANDOM_LEN: usize = 1200;

/// Mutations start from one of the favoured seeds (those accepted whole) this often in four, so
/// more of them get past the first checks into the deeper code.
const FAVOURED_IN_FOUR: usize = 2;

/// The seeds themselves, then mutated seeds with a random input now and then; `fix` may repair
/// each mutation afterwards.
fn inputs<'a>(
    rng: &'a mut Rng,
    seeds: &'a [Vec<u8>],
    favoured: &'a [Vec<u8>],
    fix: fn(&mut Rng, &mut Vec<u8>),
) -> impl Iterator<Item = Vec<u8>> + 'a {
    let count = iterations();
    seeds.iter().cloned().chain((0..count).map(move |i| {
        if i % RANDOM_EVERY == 0 {
            let len = rng.below(MAX_RANDOM_LEN);
            return rng.bytes(len);
        }
        let from = if !favoured.is_empty() && rng.below(4) < FAVOURED_IN_FOUR {
            favoured
        } else {
            seeds
        };
        let seed = &from[rng.below(from.len())];
        let mut data = mutate(rng, seed, seeds);
        fix(rng, &mut data);
        data
    }))
}

#[test]
fn decrypt_seeds_decrypt_and_mutations_never_panic() {
    let _serial = support::serial();
    let containers = seeds::decrypt().expect("encrypting the seeds");
    for c in &containers {
        for reads in [Reads::Whole, Reads::Short] {
            let got = decrypt::decrypt(&c.bytes, &c.params, reads);
            assert!(
                got == Outcome::Plain(c.armor, c.plain.clone()),
                "a {:?} seed of {} bytes with {:?} read {reads:?} gave {got:?}",
                c.armor,
                c.plain.len(),
                c.params
            );
        }
    }
    let seeds: Vec<Vec<u8>> = containers.into_iter().map(|c| c.bytes).collect();
    let mut rng = Rng::from_env(1);
    let ran = run(
        "decrypt",
        inputs(&mut rng, &seeds, &[], |_, _| {}),
        decrypt::check,
    );
    assert!(ran > seeds.len());
}

#[test]
fn unpack_seeds_behave_and_mutations_never_panic() {
    let _serial = support::serial();
    let archives = seeds::unpack().expect("packing the seeds");
    // Each seed must get its expected verdict (the harmless ones unpack, each trick is refused),
    // or the mutations below would only be testing tar's checksum.
    let mut wrong = Vec::new();
    for a in &archives {
        if unpack_target::check(&a.bytes) != a.expected {
            // Unpack it again outside the target to say why.
            let scratch = Scratch::new("smoke").expect("scratch folder");
            let dest = scratch.path().join("out");
            let got = unpack(
                Cursor::new(a.bytes.clone()),
                &dest,
                &unpack_target::LIMITS,
                &|_| {},
            );
            wrong.push(format!(
                "{}: expected {:?}, got {:?}",
                a.name,
                a.expected,
                got.map(|_| ()).map_err(|e| e.to_string())
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "seeds with the wrong verdict:\n{}",
        wrong.join("\n")
    );
    let favoured: Vec<Vec<u8>> = archives
        .iter()
        .filter(|a| a.expected == Verdict::Accepted)
        .map(|a| a.bytes.clone())
        .collect();
    let seeds: Vec<Vec<u8>> = archives.into_iter().map(|a| a.bytes).collect();
    let mut rng = Rng::from_env(2);
    let ran = run(
        "unpack",
        inputs(&mut rng, &seeds, &favoured, |rng, data| {
            // Mostly keep tar headers' checksums right, so mutations reach the extractor.
            if rng.below(4) != 0 {
                seeds::fix_tar_checksums(data);
            }
        }),
        unpack_target::check,
    );
    assert!(ran > seeds.len());
}

#[test]
fn plan_seeds_plan_and_mutations_never_panic() {
    let _serial = support::serial();
    let seeds = seeds::plan().expect("writing the plan seeds");
    // The seeds' last two module.toml make beta require itself (a cycle) and make it a data folder
    // that holds a script: both refused.
    for (i, seed) in seeds.iter().enumerate() {
        let expected = if i + 2 >= seeds.len() {
            Verdict::Refused
        } else {
            Verdict::Accepted
        };
        assert_eq!(plan::check(seed), expected, "plan seed {i}");
    }
    let mut rng = Rng::from_env(3);
    let ran = run(
        "plan",
        inputs(&mut rng, &seeds, &[], |_, _| {}),
        plan::check,
    );
    assert!(ran > seeds.len());
}

/// Writes the seeds into `corpus/<target>/` (ignored by git) for a coverage-guided fuzzer to
/// start from: `cargo test --test smoke -- --ignored write_seed_corpus`.
#[test]
#[ignore = "writes files for a fuzzer; run by hand"]
fn write_seed_corpus() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let sets: [(&str, Vec<Vec<u8>>); 3] = [
        (
            "decrypt",
            seeds::decrypt()
                .expect("encrypting the seeds")
                .into_iter()
                .map(|c| c.bytes)
                .collect(),
        ),
        (
            "unpack",
            seeds::unpack()
                .expect("packing the seeds")
                .into_iter()
                .map(|a| a.bytes)
                .collect(),
        ),
        ("plan", seeds::plan().expect("writing the plan seeds")),
    ];
    for (target, inputs) in sets {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).expect("corpus folder");
        for (i, input) in inputs.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:03}")), input).expect("corpus file");
        }
    }
}
