//! `bundle sign FILE`: a signature over a bundle that already exists, vouching only for what the
//! bundle itself says.
//!
//! A signature's trusted comment tells every instance how to decrypt the bundle and which name and
//! version it is. Guessing those (a name from the file name, version 0, the default iteration
//! count) signs facts an instance then acts on: it decrypts with the wrong signed parameters and
//! blames the flags the operator got right. So the bundle is opened first, exactly as an instance
//! would (decrypt, decompress, strict unpack into a private scratch folder), with the passphrase
//! and the parameters that are about to be signed; its `bundle.json` gives the name and version.
//! Anything that does not open refuses the signature (exit 3) and writes nothing.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::{PackError, SignWith, Signed, write_signature};
use crate::archive::Limits;
use crate::enc::Params;
use crate::fsutil::Overwrite;
use crate::inspect;
use crate::secret::Passphrase;
use crate::sign::{self, TrustedFacts};

/// What the operator claims besides what the bundle says (`--name`, `--version`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Claimed<'a> {
    /// The bundle name: must agree with a `bundle.json`; names a hand-made bundle.
    pub name: Option<&'a str>,
    /// The version: must agree with a `bundle.json`; versions a hand-made bundle.
    pub version: Option<&'a str>,
}

/// Where the signed name and version came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactsOrigin {
    /// The bundle's own `bundle.json`.
    Manifest,
    /// A bundle made by hand, without `bundle.json`: the name is the file's name without its
    /// extension (what an instance booting it by that name expects) and the version the file's
    /// short sha256, unless `--name`/`--version` said otherwise.
    FileName,
}

/// A signature written for an existing bundle, and where its facts came from.
#[derive(Debug, Clone)]
pub struct SignedExisting {
    /// The signature.
    pub signed: Signed,
    /// Where the name and version came from.
    pub origin: FactsOrigin,
}

/// Signs the bundle `file` with `with`: opens it with `pass` and `params` into a private scratch
/// folder (refusing, exit 3, when it does not open), takes name and version from its `bundle.json`
/// and writes `FILE.minisig` vouching for them, the file's sha256 and `params`. The file is signed
/// as it was read: if it changes meanwhile, nothing is written.
pub fn sign_existing(
    file: &Path,
    pass: &Passphrase,
    params: &Params,
    limits: &Limits,
    claimed: Claimed<'_>,
    with: &SignWith<'_>,
    overwrite: Overwrite,
) -> Result<SignedExisting, PackError> {
    let sig_path = signature_free(file, overwrite)?;
    let shown = file.to_string_lossy();
    let by_file_name = crate::pointer::expected_name(&shown);
    let opened = inspect::inspect_named(file, pass, params, limits, by_file_name)?;
    let (name, version, origin) = if opened.manifest {
        agree("name", claimed.name, &opened.name)?;
        agree("version", claimed.version, &opened.version)?;
        (opened.name, opened.version, FactsOrigin::Manifest)
    } else {
        (
            claimed.name.map_or(opened.name, str::to_string),
            claimed.version.map_or(opened.version, str::to_string),
            FactsOrigin::FileName,
        )
    };
    let facts = TrustedFacts {
        name,
        version,
        seq: with.seq,
        sha256: opened.sha256,
        params: *params,
        expires: with.expires,
    };
    let read_err = |source| PackError::Io {
        path: file.to_path_buf(),
        source,
    };
    let mut reader = HashingReader::new(File::open(file).map_err(read_err)?);
    let text = with.key.sign(&mut reader, &facts)?;
    if reader.sha256() != facts.sha256 {
        return Err(PackError::Changed(file.to_path_buf()));
    }
    write_signature(&sig_path, &text, overwrite)?;
    Ok(SignedExisting {
        signed: Signed {
            path: sig_path,
            key_id: with.key.key_id().to_string(),
            facts,
        },
        origin,
    })
}

/// `FILE.minisig`, when it may be written: refused when it exists and `overwrite` says so.
/// Checked before the slow work, and again when the signature is placed.
pub fn signature_free(file: &Path, overwrite: Overwrite) -> Result<PathBuf, PackError> {
    let sig_path = sign::sig_path(file);
    if overwrite == Overwrite::Refuse && fs::symlink_metadata(&sig_path).is_ok() {
        return Err(PackError::Exists(sig_path));
    }
    Ok(sig_path)
}

/// A flag that restates what `bundle.json` says is fine; one that contradicts it is refused.
fn agree(what: &'static str, claimed: Option<&str>, read: &str) -> Result<(), PackError> {
    match claimed {
        Some(claimed) if claimed != read => Err(PackError::Claim {
            what,
            claimed: claimed.to_string(),
            read: read.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Hashes what is read through it: the bytes signed are the bytes whose sha256 is checked.
struct HashingReader<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hash: Sha256::new(),
        }
    }

    fn sha256(&self) -> String {
        crate::hashing::hex(&self.hash.clone().finalize())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}
