//! cargo-fuzz target `plan`: the body is `startup_bundle_fuzz::plan::check` (fuzz/src/plan.rs), which
//! the stable smoke test (fuzz/tests/smoke.rs) runs too. Run: `cargo +nightly fuzz run plan`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    startup_bundle_fuzz::plan::check(data);
});
