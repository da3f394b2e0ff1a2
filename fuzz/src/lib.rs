//! The bodies of the fuzz targets in `fuzz_targets/`, as plain functions so the stable toolchain can
//! run them too (`tests/smoke.rs`), plus builders of valid and hostile inputs for that smoke run.
//!
//! Each `check` function takes arbitrary bytes and must return normally: the code under test may
//! refuse the input with an error, but a panic, or a broken invariant asserted here (a write outside
//! the unpack folder, a symlink leading out, a plaintext that does not re-encrypt to its input...),
//! is a finding. This crate only calls `startup_bundle`'s public API; it never changes `src/`.

#![forbid(unsafe_code)]

pub mod decrypt;
pub mod plan;
pub mod scratch;
pub mod seeds;
pub mod unpack;
mod walk;

/// What the code under test did with an input that broke no invariant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It accepted the input (unpacked it, planned it).
    Accepted,
    /// It refused the input with an error.
    Refused,
}
