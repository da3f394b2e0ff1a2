//! startup-bundle: encrypted start-up bundles that give cloud instances their personality at boot.
//!
//! The library holds every decision; the binaries in `src/bin/` parse flags, call one function here,
//! print, and map the error to the exit status of the contract ([`exit::Exit`]).
//!
//! Data flows one way, as `Read`/`Write` streams: fetch → verify → decrypt → decompress → unpack → run.
//! Only [`boot`] knows the order of those stages on the instance, and only [`pack`] on the
//! publisher's side.

pub mod arch;
pub mod archive;
pub mod aws;
pub mod boot;
pub mod cli;
pub mod date;
pub mod duration;
pub mod enc;
pub mod errchain;
pub mod exit;
pub mod fetch;
pub mod fsutil;
pub mod hashing;
#[cfg(feature = "publisher")]
pub mod inspect;
pub mod names;
pub mod open;
#[cfg(feature = "publisher")]
pub mod pack;
pub mod personality;
pub mod pointer;
pub mod progress;
#[cfg(feature = "publisher")]
pub mod publish;
#[cfg(feature = "publisher")]
pub mod remote;
pub mod runner;
pub mod scratch;
pub mod secret;
#[cfg(feature = "publisher")]
pub mod serve;
pub mod shell;
pub mod sign;
pub mod size;
pub mod state;
#[cfg(feature = "publisher")]
pub mod templates;
#[cfg(feature = "publisher")]
pub mod trial;
pub mod unpack;
#[cfg(feature = "publisher")]
pub mod userdata;
