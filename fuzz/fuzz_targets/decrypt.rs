//! cargo-fuzz target `decrypt`: the body is `startup_bundle_fuzz::decrypt::check` (fuzz/src/decrypt.rs), which
//! the stable smoke test (fuzz/tests/smoke.rs) runs too. Run: `cargo +nightly fuzz run decrypt`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    startup_bundle_fuzz::decrypt::check(data);
});
