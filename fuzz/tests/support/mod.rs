//! The smoke run's machinery: a seeded pseudo-random generator, a mutator in the spirit of
//! libFuzzer's (bit flips, interesting bytes, inserts, deletes, splices, dictionary words), and a
//! runner that catches every panic (on any thread) and reports each distinct one with the
//! shortest input that caused it, as hex.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};

/// Inputs per target unless `SMOKE_ITERS` says otherwise.
pub const DEFAULT_ITERS: usize = 3000;
/// The generator's seed unless `SMOKE_SEED` says otherwise.
const DEFAULT_SEED: u64 = 0x5eed_b0a7;
/// Bytes a mutator likes: boundaries, tar's octal digits and type flags, path and base64 syntax.
const INTERESTING: &[u8] = b"\x00\xff\x7f\x80/.0157\n= xLKSg2";
/// Words a mutator splices in: path tricks, magic strings, manifest and module.toml keys.
const DICTIONARY: &[&[u8]] = &[
    b"..",
    b"../",
    b"/",
    b"./",
    b"ustar\0",
    b"ustar  \0",
    b"Salted__",
    b"U2FsdGVkX1",
    b"====",
    b"\n",
    b"\r\n",
    b"start-up-bundle/",
    b"\"format\":",
    b"\"modules\":[",
    b"\"name\":\"",
    b"requires",
    b"alpha",
    b"beta",
    b"start.sh",
    b"init",
    b"0000777\0",
    b"77777777777\0",
    b"\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00",
    b"path=",
    b"linkpath=",
    b"GNU.sparse.",
    b"\x1f\x8b\x08\x00",
    b"\x28\xb5\x2f\xfd",
];

/// splitmix64: small, seedable, good enough to pick mutations.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `SMOKE_SEED` (decimal) when set, else a fixed seed, mixed with `salt`.
    pub fn from_env(salt: u64) -> Rng {
        let seed = std::env::var("SMOKE_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(DEFAULT_SEED);
        Rng(seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Inputs per target: `SMOKE_ITERS` when set.
pub fn iterations() -> usize {
    std::env::var("SMOKE_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_ITERS)
}

/// One to four mutations of `seed`, sometimes spliced with another seed.
pub fn mutate(rng: &mut Rng, seed: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(9) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] = rng.next() as u8;
            }
            2 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            3 => {
                let n = 1 + rng.below(16);
                let bytes = rng.bytes(n);
                data.splice(at..at, bytes);
            }
            4 => {
                let end = (at + 1 + rng.below(64)).min(data.len());
                data.drain(at.min(end)..end);
            }
            5 if !data.is_empty() => {
                let from = rng.below(data.len());
                let end = (from + 1 + rng.below(64)).min(data.len());
                let piece = data[from..end].to_vec();
                data.splice(at..at, piece);
            }
            6 => data.truncate(at),
            7 if !others.is_empty() => {
                let other = &others[rng.below(others.len())];
                let cut = rng.below(other.len() + 1);
                data.truncate(at);
                data.extend_from_slice(&other[cut..]);
            }
            _ => {
                let word = DICTIONARY[rng.below(DICTIONARY.len())];
                // Overwrite or insert, both common in practice.
                if rng.below(2) == 0 && at + word.len() <= data.len() {
                    data[at..at + word.len()].copy_from_slice(word);
                } else {
                    data.splice(at..at, word.iter().copied());
                }
            }
        }
    }
    data
}

/// Panic messages from any thread, while a smoke run is capturing.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// One smoke run at a time, so every panic logged belongs to the input being run.
static SERIAL: Mutex<()> = Mutex::new(());
static HOOK: Once = Once::new();
/// Whether panics are being captured (else they are printed as usual).
static CAPTURING: AtomicBool = AtomicBool::new(false);

/// Logs panics into [`PANICS`] while capturing; prints them as Rust does otherwise.
fn install_hook() {
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !CAPTURING.load(Ordering::SeqCst) {
                return default(info);
            }
            let thread = std::thread::current().name().unwrap_or("?").to_owned();
            let location = info.location().map(|l| l.to_string()).unwrap_or_default();
            let message = info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| {
                    info.payload()
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                })
                .unwrap_or_default();
            let mut log = PANICS.lock().unwrap_or_else(|e| e.into_inner());
            log.push(format!("thread {thread} panicked at {location}: {message}"));
        }));
    });
}

/// A panic seen while running `target`: its message (digits and scratch names vary, so the key
/// drops digits), how often, and the shortest input that caused it.
struct Finding {
    message: String,
    count: usize,
    input: Vec<u8>,
}

/// Holds every other smoke test off: the panic log is global, so one runs at a time.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `check` on every input and fails listing each distinct panic with its shortest input.
/// Returns how many inputs ran. The caller holds [`serial`].
pub fn run<R: std::fmt::Debug>(
    target: &str,
    inputs: impl Iterator<Item = Vec<u8>>,
    check: fn(&[u8]) -> R,
) -> usize {
    install_hook();
    CAPTURING.store(true, Ordering::SeqCst);
    let mut findings: BTreeMap<String, Finding> = BTreeMap::new();
    let mut ran = 0;
    let mut verdicts = BTreeMap::new();
    for input in inputs {
        ran += 1;
        PANICS.lock().unwrap_or_else(|e| e.into_inner()).clear();
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| check(&input)));
        let log = std::mem::take(&mut *PANICS.lock().unwrap_or_else(|e| e.into_inner()));
        if let (Ok(verdict), true) = (&outcome, log.is_empty()) {
            *verdicts.entry(format!("{verdict:?}")).or_insert(0usize) += 1;
            continue;
        }
        let message = if log.is_empty() {
            "a panic without a message".to_owned()
        } else {
            log.join("\n  then ")
        };
        let key: String = message
            .chars()
            .filter(|c| !c.is_ascii_digit())
            .take(200)
            .collect();
        let f = findings.entry(key).or_insert_with(|| Finding {
            message: message.clone(),
            count: 0,
            input: input.clone(),
        });
        f.count += 1;
        if input.len() < f.input.len() {
            f.input = input;
            f.message = message;
        }
    }
    CAPTURING.store(false, Ordering::SeqCst);
    if !findings.is_empty() {
        let mut report = format!(
            "{target}: {} distinct panics in {ran} inputs\n",
            findings.len()
        );
        for f in findings.values() {
            let _ = writeln!(
                report,
                "- {} (x{})\n  input ({} bytes): {}",
                f.message,
                f.count,
                f.input.len(),
                hex(&f.input)
            );
        }
        panic!("{report}");
    }
    eprintln!("{target}: {ran} inputs, no panic: {verdicts:?}");
    ran
}

/// Lower-case hex, two digits a byte.
pub fn hex(data: &[u8]) -> String {
    data.iter()
        .fold(String::with_capacity(data.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
