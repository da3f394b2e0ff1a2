//! `startup-bundle`: the `bundle` program under a name that Ruby's Bundler does not own.
//!
//! The same source as `bundle`; see `src/bin/bundle.rs`.

#[path = "bundle.rs"]
mod bundle;

fn main() -> std::process::ExitCode {
    bundle::main()
}
