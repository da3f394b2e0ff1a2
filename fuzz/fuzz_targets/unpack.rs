//! cargo-fuzz target `unpack`: the body is `startup_bundle_fuzz::unpack::check` (fuzz/src/unpack.rs), which
//! the stable smoke test (fuzz/tests/smoke.rs) runs too. Run: `cargo +nightly fuzz run unpack`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    startup_bundle_fuzz::unpack::check(data);
});
