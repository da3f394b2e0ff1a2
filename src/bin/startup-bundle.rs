//! `startup-bundle`: the `bundle` program under a name that Ruby's Bundler does not own. The same
//! source as `bundle` (`src/bin/bundle/`); it names itself in its messages.

#[path = "bundle/main.rs"]
mod bundle;

fn main() -> std::process::ExitCode {
    bundle::main()
}
