//! The publisher's pipeline: personality → deterministic archive → openssl-enc file → optional
//! minisign signature (`FILE.minisig`), each written whole or not at all.
//!
//! Only this file knows the order of the stages on the publisher's side. The output appears under its
//! final name only when it is complete: it is written to a private temp file beside it and then linked
//! (refusing to replace an existing file) or renamed (`--force`) into place. `bundle sign` of an
//! existing bundle, which reads the facts it signs from the bundle, is [`existing`].

mod existing;

pub use existing::{Claimed, FactsOrigin, SignedExisting, sign_existing, signature_free};

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::archive::{self, ArchiveError, Compression, PackEntry, PackOptions, Source};
use crate::enc::{self, Armor, Params};
use crate::exit::{Classify, Exit};
use crate::fsutil::{NewFile, Overwrite};
use crate::inspect::InspectError;
use crate::personality::{self, LayoutEntry, Libraries, Manifest, Problem, Problems};
use crate::secret::Passphrase;
use crate::sign::{self, SignError, SigningKey, TrustedFacts};

/// Mode of the bundle file: it is encrypted and meant to sit on a public URL.
const BUNDLE_MODE: u32 = 0o644;
/// Mode of the generated manifest inside the archive.
const MANIFEST_MODE: u32 = 0o644;
/// Mode of the archive's top folder.
const TOP_MODE: u32 = 0o755;
/// Output buffer in front of the file.
const WRITE_BUFFER: usize = 256 * 1024;

/// Everything `bundle pack` needs besides the passphrase.
#[derive(Debug, Clone)]
pub struct PackRequest {
    /// The personality folder.
    pub dir: PathBuf,
    /// Module library folders, searched in order; the library built into `bundle` comes last.
    pub libraries: Vec<PathBuf>,
    /// The bundle file to write.
    pub output: PathBuf,
    /// Cipher and key derivation.
    pub params: Params,
    /// Binary or base64 (`openssl enc -a`).
    pub armor: Armor,
    /// Compression of the tar payload.
    pub compression: Compression,
    /// Whether an existing output may be replaced.
    pub overwrite: Overwrite,
    /// Compression threads.
    pub threads: usize,
    /// How the printed `openssl enc -d` line reads the passphrase: openssl's `-pass` argument
    /// (the `--pass` given, e.g. `env:VAR` or `file:PATH`), or None to let openssl ask.
    pub pass_arg: Option<String>,
}

/// What `bundle pack` made.
#[derive(Debug, Clone)]
pub struct Packed {
    /// The bundle file written.
    pub output: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// sha256 of the file, hex: what `bundle-bootstrap run --sha256` pins.
    pub sha256: String,
    /// The manifest packed as `start-up-bundle/bundle.json`.
    pub manifest: Manifest,
    /// The shell line that opens the bundle with stock tools.
    pub open_command: String,
    /// The signature written beside it (`pack --sign`).
    pub signature: Option<Signed>,
    /// What `bundle check` would warn about (a shadowed module, a setting that looks secret).
    pub warnings: Vec<Problem>,
}

/// How `bundle pack --sign` and `bundle sign` sign.
#[derive(Debug)]
pub struct SignWith<'a> {
    /// The opened secret key.
    pub key: &'a SigningKey,
    /// Sequence number for the trusted comment (default: UNIX time now).
    pub seq: u64,
    /// When the signature expires (UNIX time), if ever.
    pub expires: Option<u64>,
}

/// A signature written beside a bundle.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The `.minisig` file.
    pub path: PathBuf,
    /// The key id that signed.
    pub key_id: String,
    /// What the trusted comment vouches for.
    pub facts: TrustedFacts,
}

/// Why a bundle could not be packed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// The personality has problems (all of them listed).
    #[error(transparent)]
    Problems(#[from] Problems),
    /// Walking or archiving the module folders failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The output exists and `--force` was not given.
    #[error("{0} already exists")]
    Exists(PathBuf),
    /// The signature could not be made.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The bundle to sign does not open with the passphrase and parameters given, or holds no
    /// runnable plan: nothing is signed.
    #[error(transparent)]
    Open(#[from] InspectError),
    /// `--name` or `--version` disagrees with the bundle's own `bundle.json`.
    #[error(
        "--{what} {claimed:?} is not what the bundle says: its bundle.json has {what} {read:?}"
    )]
    Claim {
        /// `name` or `version`.
        what: &'static str,
        /// What the flag said.
        claimed: String,
        /// What the bundle says.
        read: String,
    },
    /// The file changed between the moment it was opened and the moment it was signed.
    #[error("{0} changed while it was being signed")]
    Changed(PathBuf),
    /// Writing the output failed.
    #[error("cannot write {path}")]
    Io {
        /// The file being written.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl Classify for PackError {
    fn exit(&self) -> Exit {
        match self {
            PackError::Problems(p) => p.exit(),
            PackError::Archive(e) => e.exit(),
            PackError::Sign(e) => e.exit(),
            PackError::Open(e) => e.exit(),
            PackError::Exists(_)
            | PackError::Io { .. }
            | PackError::Claim { .. }
            | PackError::Changed(_) => Exit::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            PackError::Problems(p) => p.hint(),
            PackError::Archive(e) => e.hint(),
            PackError::Sign(e) => e.hint(),
            PackError::Open(e) => e.hint(),
            PackError::Claim { what, .. } => Some(format!(
                "leave --{what} out: the signature vouches for what the bundle says (set it in bundle.toml and pack again)"
            )),
            PackError::Changed(_) => {
                Some("wait until nothing writes the file, then sign it again".to_string())
            }
            PackError::Exists(_) => {
                Some("pass --force to replace it, or choose another -o".to_string())
            }
            PackError::Io { .. } => {
                Some("check that the output folder exists and is writable".to_string())
            }
        }
    }
}

/// Packs and encrypts a personality into one bundle file.
pub fn pack(
    req: &PackRequest,
    pass: &Passphrase,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Packed, PackError> {
    pack_signed(req, pass, None, progress)
}

/// Packs, encrypts and, with `sign`, signs: `FILE.minisig` appears right after FILE, and neither is
/// left behind when the other cannot be written.
pub fn pack_signed(
    req: &PackRequest,
    pass: &Passphrase,
    sign: Option<&SignWith<'_>>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Packed, PackError> {
    pack_signed_sized(req, pass, sign, &|_| {}, progress)
}

/// [`pack_signed`], telling `total` the content bytes to pack (what `progress` counts up to)
/// before it starts, for a progress bar with a percentage and an ETA.
pub fn pack_signed_sized(
    req: &PackRequest,
    pass: &Passphrase,
    sign: Option<&SignWith<'_>>,
    total: &dyn Fn(u64),
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Packed, PackError> {
    let sig_path = sign::sig_path(&req.output);
    if req.overwrite == Overwrite::Refuse {
        let outputs = [Some(&req.output), sign.map(|_| &sig_path)];
        if let Some(taken) = outputs
            .into_iter()
            .flatten()
            .find(|p| fs::symlink_metadata(p).is_ok())
        {
            return Err(PackError::Exists(taken.clone()));
        }
    }
    // Lives until the archive is written: the built-in library's modules are read from it.
    let libraries = Libraries::with_builtin(req.libraries.clone());
    let found = personality::load(&req.dir, &libraries)?;
    let manifest = found.manifest();
    let entries = archive_entries(&found.layout())?;
    total(archive::content_bytes(&entries)?);
    let opts = PackOptions {
        compression: req.compression,
        mtime: PackOptions::mtime_from_env()?,
        threads: req.threads,
    };

    let io_err = |source| PackError::Io {
        path: req.output.clone(),
        source,
    };
    let partial = NewFile::create(&req.output, BUNDLE_MODE).map_err(io_err)?;
    let file = partial.file().try_clone().map_err(io_err)?;
    let sink = HashingWriter::new(BufWriter::with_capacity(WRITE_BUFFER, file));
    let sealed =
        enc::Encryptor::new(sink, pass.expose(), &req.params, req.armor).map_err(io_err)?;
    let sealed = archive::pack(entries, &opts, sealed, progress)?;
    let (buffered, sha256, size) = sealed.finish().map_err(io_err)?.finish();
    buffered
        .into_inner()
        .map_err(|e| io_err(e.into_error()))?
        .sync_all()
        .map_err(io_err)?;
    let signature = match sign {
        Some(with) => {
            let facts = TrustedFacts {
                name: manifest.name.clone(),
                version: manifest.version.clone(),
                seq: with.seq,
                sha256: sha256.clone(),
                params: req.params,
                expires: with.expires,
            };
            let text = with
                .key
                .sign(File::open(partial.temp_path()).map_err(io_err)?, &facts)?;
            Some((facts, text, with.key.key_id().to_string()))
        }
        None => None,
    };
    place(partial, req.overwrite)?;
    let signature = match signature {
        Some((facts, text, key_id)) => match write_signature(&sig_path, &text, req.overwrite) {
            Ok(()) => Some(Signed {
                path: sig_path,
                key_id,
                facts,
            }),
            Err(e) => {
                // A bundle we just linked into place must not stay without its signature.
                if req.overwrite == Overwrite::Refuse {
                    let _ = fs::remove_file(&req.output);
                }
                return Err(e);
            }
        },
        None => None,
    };

    Ok(Packed {
        output: req.output.clone(),
        size,
        sha256,
        manifest,
        open_command: open_command(
            &req.output,
            &req.params,
            req.armor,
            req.compression,
            req.pass_arg.as_deref(),
        ),
        signature,
        warnings: found.warnings,
    })
}

/// Writes `.minisig` text whole: a temp file beside it, then linked or renamed into place.
pub(crate) fn write_signature(
    path: &Path,
    text: &str,
    overwrite: Overwrite,
) -> Result<(), PackError> {
    let io_err = |source| PackError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut partial = NewFile::create(path, BUNDLE_MODE).map_err(io_err)?;
    partial.write_all(text.as_bytes()).map_err(io_err)?;
    place(partial, overwrite)
}

/// The archive entries of a personality's layout: the top folder, each module tree, the manifest.
fn archive_entries(layout: &[LayoutEntry]) -> Result<Vec<PackEntry>, ArchiveError> {
    let mut entries = vec![PackEntry {
        path: personality::ARCHIVE_TOP.to_string(),
        mode: TOP_MODE,
        source: Source::Dir,
    }];
    for item in layout {
        match item {
            LayoutEntry::Tree { prefix, dir } => {
                entries.extend(archive::collect_tree(dir, prefix)?)
            }
            LayoutEntry::File { path, bytes } => entries.push(PackEntry {
                path: path.clone(),
                mode: MANIFEST_MODE,
                source: Source::Bytes(bytes.clone()),
            }),
        }
    }
    Ok(entries)
}

/// The stock-tools line that opens a bundle: `openssl enc -d … | tar -x…`, reading the passphrase
/// from `pass` (openssl's `-pass` argument), or asking for it when None.
pub fn open_command(
    file: &Path,
    params: &Params,
    armor: Armor,
    compression: Compression,
    pass: Option<&str>,
) -> String {
    let armor_flag = if armor == Armor::Base64 { " -a" } else { "" };
    let tar = match compression {
        Compression::Gzip => "tar -xz",
        Compression::Zstd => "tar --zstd -x",
        Compression::None => "tar -x",
    };
    let pass = pass
        .map(|p| format!(" -pass {}", crate::shell::quote(p)))
        .unwrap_or_default();
    format!(
        "openssl enc -d {}{armor_flag} -in {}{pass} | {tar}",
        params.openssl_flags(),
        crate::shell::quote(&file.to_string_lossy())
    )
}

/// Places a finished output file, naming an existing one in the error.
pub(crate) fn place(file: NewFile, overwrite: Overwrite) -> Result<(), PackError> {
    let target = file.target().to_path_buf();
    file.place(overwrite).map_err(|source| {
        if source.kind() == io::ErrorKind::AlreadyExists {
            PackError::Exists(target)
        } else {
            PackError::Io {
                path: target,
                source,
            }
        }
    })
}

/// Counts and hashes what passes through, so the file need not be read back.
struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
    size: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hash: Sha256::new(),
            size: 0,
        }
    }

    fn finish(self) -> (W, String, u64) {
        let digest = self.hash.finalize();
        (self.inner, crate::hashing::hex(&digest), self.size)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
