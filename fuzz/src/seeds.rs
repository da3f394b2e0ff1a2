//! Inputs worth mutating, made with the real writers (`enc::Encryptor`, `archive::pack`) and, for
//! what those writers refuse to make, tar headers built byte by byte: the escapes the extractor
//! must refuse (tar-slip, symlink and hard-link tricks, devices, setuid, oversize). Used by the
//! stable smoke run; a fuzzer finds its own way from an empty corpus too, only slower.

use std::io::{self, Write};

use flate2::Compression as Level;
use flate2::write::GzEncoder;
use startup_bundle::archive::{Compression, PackEntry, PackOptions, Source, pack};
use startup_bundle::enc::{Armor, Encryptor, Params, SALT_LEN};
use startup_bundle::personality::{
    ARCHIVE_TOP, Content, EnvTable, MANIFEST_FORMAT, MANIFEST_FORMAT_V1, MANIFEST_FORMAT_V2,
    Manifest, ManifestData, ManifestModule, module_digest,
};

use crate::Verdict;
use crate::decrypt::{PARAMS, PASSPHRASE};
use crate::plan::{self, Input};
use crate::scratch::Scratch;

/// A fixed salt: the seeds are the same on every run.
const SALT: [u8; SALT_LEN] = *b"fuzzsalt";
/// Larger than the decryptor's 64 KiB batch, so a seed crosses a batch boundary.
const LONG_PLAINTEXT: usize = 70_000;
/// tar's block size (POSIX.1-1988 ustar).
pub const BLOCK: usize = 512;
/// Where the ustar magic sits in a header, and the checksum field (POSIX.1-1988 ustar).
const MAGIC_AT: std::ops::Range<usize> = 257..263;
const CHECKSUM_AT: std::ops::Range<usize> = 148..156;

/// A container made by the real writer, and what went into it.
#[derive(Debug, Clone)]
pub struct Container {
    /// The parameters it was made with.
    pub params: Params,
    /// Binary or base64.
    pub armor: Armor,
    /// The plaintext.
    pub plain: Vec<u8>,
    /// The container's bytes.
    pub bytes: Vec<u8>,
}

/// Containers of a few plaintext lengths (around the block size; past one batch for the first
/// parameter set), binary and base64, under every parameter set the target tries.
pub fn decrypt() -> io::Result<Vec<Container>> {
    let mut out = Vec::new();
    for (i, params) in PARAMS.iter().enumerate() {
        for armor in [Armor::Binary, Armor::Base64] {
            let mut lengths = vec![0, 1, 15, 16, 17, 48, 100];
            if i == 0 {
                lengths.push(LONG_PLAINTEXT);
            }
            for len in lengths {
                let plain: Vec<u8> = (0..len).map(|n| (n * 7 + i) as u8).collect();
                let mut enc = Encryptor::with_salt(Vec::new(), PASSPHRASE, params, armor, SALT)?;
                enc.write_all(&plain)?;
                out.push(Container {
                    params: *params,
                    armor,
                    plain,
                    bytes: enc.finish()?,
                });
            }
        }
    }
    Ok(out)
}

/// An archive, and whether the extractor must accept it.
#[derive(Debug, Clone)]
pub struct Archive {
    /// What it holds, for messages.
    pub name: String,
    /// [`Verdict::Accepted`] for the harmless ones.
    pub expected: Verdict,
    /// The archive's bytes.
    pub bytes: Vec<u8>,
}

/// Archives `pack` writes (every compression), and hostile tars it never would (plain, and a few
/// gzipped too).
pub fn unpack() -> io::Result<Vec<Archive>> {
    let mut out = Vec::new();
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let opts = PackOptions {
            compression,
            mtime: 0,
            threads: 1,
        };
        let bytes = pack(valid_entries(), &opts, Vec::new(), &|_| {}).map_err(io::Error::other)?;
        out.push(Archive {
            name: format!("packed, {compression}"),
            expected: Verdict::Accepted,
            bytes,
        });
    }
    let hostile = hostile_tars();
    for tar in hostile.iter().take(GZIPPED_HOSTILE) {
        out.push(Archive {
            name: format!("{}, gzip", tar.name),
            expected: tar.expected,
            bytes: gzip(&tar.bytes)?,
        });
    }
    out.extend(hostile);
    Ok(out)
}

/// How many of the hostile tars are also tried gzipped.
const GZIPPED_HOSTILE: usize = 4;

fn valid_entries() -> Vec<PackEntry> {
    let entry = |path: &str, mode, source| PackEntry {
        path: path.to_owned(),
        mode,
        source,
    };
    vec![
        entry(ARCHIVE_TOP, 0o755, Source::Dir),
        entry("start-up-bundle/a", 0o755, Source::Dir),
        entry(
            "start-up-bundle/a/start",
            0o755,
            Source::Bytes(b"#!/bin/sh\n".to_vec()),
        ),
        entry("start-up-bundle/a/lib", 0o700, Source::Dir),
        entry(
            "start-up-bundle/a/lib/x",
            0o644,
            Source::Bytes(vec![b'x'; 1500]),
        ),
        entry(
            "start-up-bundle/a/link",
            0o777,
            Source::Symlink("lib/x".into()),
        ),
        entry(
            "start-up-bundle/a/up",
            0o777,
            Source::Symlink("../b".into()),
        ),
        entry("start-up-bundle/b", 0o755, Source::Dir),
        entry(
            &format!("start-up-bundle/b/{}", "n".repeat(120)),
            0o600,
            Source::Bytes(Vec::new()),
        ),
    ]
}

/// Hand-made tar streams, each holding one trick (after a harmless entry where that helps). All
/// are refused but the first (plain entries of every kind) and `setuid` (the bits are dropped).
pub fn hostile_tars() -> Vec<Archive> {
    use Verdict::{Accepted, Refused};
    let file = |name: &str| RawEntry::new(name, b'0').data(b"data\n");
    let dir = |name: &str| RawEntry::new(name, b'5');
    let link = |name: &str, kind: u8, target: &str| RawEntry::new(name, kind).link(target);
    let cases: Vec<(&str, Verdict, Vec<RawEntry>)> = vec![
        (
            "every kind",
            Accepted,
            vec![
                dir("ok/"),
                file("ok/file"),
                link("ok/sym", b'2', "file"),
                link("ok/hard", b'1', "ok/file"),
            ],
        ),
        (
            "setuid",
            Accepted,
            vec![file("setuid").mode(0o4755), dir("sticky/").mode(0o1777)],
        ),
        ("dot-dot", Refused, vec![file("../escape")]),
        ("inner dot-dot", Refused, vec![file("a/../../escape")]),
        (
            "absolute",
            Refused,
            vec![file("/tmp/startup-bundle-fuzz-absolute")],
        ),
        (
            "through symlink to ..",
            Refused,
            vec![link("l", b'2', ".."), file("l/escape")],
        ),
        (
            "through absolute symlink",
            Refused,
            vec![link("l", b'2', "/etc"), file("l/escape")],
        ),
        (
            "symlink chain",
            Refused,
            vec![
                link("d", b'2', "."),
                link("e", b'2', "d/.."),
                file("e/escape"),
            ],
        ),
        (
            "symlink too high",
            Refused,
            vec![dir("x/"), link("x/l", b'2', "../.."), file("x/l/escape")],
        ),
        (
            "folder over symlink",
            Refused,
            vec![link("l", b'2', "sub"), dir("l/"), file("l/f")],
        ),
        (
            "hard link out",
            Refused,
            vec![link("h", b'1', "../../etc/passwd")],
        ),
        (
            "hard link to symlink",
            Refused,
            vec![link("s", b'2', "f"), link("h", b'1', "s")],
        ),
        (
            "hard link to folder",
            Refused,
            vec![dir("d/"), link("h", b'1', "d")],
        ),
        ("file twice", Refused, vec![file("same"), file("same")]),
        (
            "file then folder",
            Refused,
            vec![file("same"), dir("same/")],
        ),
        (
            "folder then file",
            Refused,
            vec![dir("same/"), file("same")],
        ),
        ("device", Refused, vec![RawEntry::new("dev", b'3')]),
        ("fifo", Refused, vec![RawEntry::new("fifo", b'6')]),
        (
            "sparse",
            Refused,
            vec![RawEntry::new("sparse", b'S').data(b"data")],
        ),
        (
            "unknown type",
            Refused,
            vec![RawEntry::new("unknown", b'Z')],
        ),
        (
            "pax path",
            Refused,
            vec![pax("path", "../escape"), file("innocent")],
        ),
        (
            "pax linkpath",
            Refused,
            vec![pax("linkpath", "/etc"), link("l", b'2', "innocent")],
        ),
        (
            "gnu long name",
            Refused,
            vec![gnu_long(b'L', "../long-escape"), file("innocent")],
        ),
        (
            "gnu long link",
            Refused,
            vec![gnu_long(b'K', "/etc/passwd"), link("l", b'2', "innocent")],
        ),
        (
            "over the size limit",
            Refused,
            vec![RawEntry::new("huge", b'0').size(9 << 20)],
        ),
        ("file at the root", Refused, vec![file(".")]),
        (
            "over the entry limit",
            Refused,
            (0..1001).map(|i| dir(&format!("d{i}/"))).collect(),
        ),
    ];
    cases
        .into_iter()
        .map(|(name, expected, entries)| Archive {
            name: name.to_owned(),
            expected,
            bytes: raw_tar(&entries),
        })
        .collect()
}

/// Valid manifests (with the fixture's real digests) and `module.toml` texts, each prefixed with
/// the byte that selects its mode in the `plan` target.
pub fn plan() -> io::Result<Vec<Vec<u8>>> {
    let scratch = Scratch::new("plan-seeds")?;
    let unpacked = scratch.path().join("unpacked");
    plan::write_fixture(&unpacked, Input::Manifest, b"")?;
    let top = unpacked.join(ARCHIVE_TOP);
    let module = |name: &str, requires: &[&str], start: &str, init: Option<&str>| {
        let Content {
            digest,
            files,
            bytes,
        } = module_digest(&top.join(name))?;
        Ok::<_, io::Error>(ManifestModule {
            name: name.to_owned(),
            requires: requires.iter().map(|r| (*r).to_owned()).collect(),
            digest,
            files,
            bytes,
            start: start.to_owned(),
            init: init.map(str::to_owned),
            origin: "local".to_owned(),
            env: EnvTable::new(),
        })
    };
    // The oldest format that holds what the manifest carries, as `bundle pack` writes it.
    let manifest = |modules: Vec<ManifestModule>, data: Vec<ManifestData>, env: EnvTable| {
        let format = if !env.is_empty() || modules.iter().any(|m| !m.env.is_empty()) {
            MANIFEST_FORMAT
        } else if !data.is_empty() {
            MANIFEST_FORMAT_V2
        } else {
            MANIFEST_FORMAT_V1
        };
        Manifest {
            format,
            name: "seed".to_owned(),
            version: "1".to_owned(),
            modules,
            data,
            env,
        }
    };
    let full = manifest(
        vec![
            module("alpha", &[], "start", Some("init"))?,
            module("beta", &["alpha"], "start.sh", None)?,
        ],
        Vec::new(),
        EnvTable::new(),
    );
    let only_alpha = manifest(
        vec![module("alpha", &[], "start", None)?],
        Vec::new(),
        EnvTable::new(),
    );
    // gamma, which has no start script, as a data folder that beta requires.
    let Content {
        digest,
        files,
        bytes,
    } = module_digest(&top.join("gamma"))?;
    let gamma = ManifestData {
        name: "gamma".to_owned(),
        digest,
        files,
        bytes,
        origin: "local".to_owned(),
    };
    let with_data = manifest(
        vec![
            module("alpha", &[], "start", Some("init"))?,
            module("beta", &["alpha", "gamma"], "start.sh", None)?,
        ],
        vec![gamma],
        EnvTable::new(),
    );
    // Settings for the bundle and for one module (format 3).
    let mut alpha = module("alpha", &[], "start", Some("init"))?;
    alpha.env = EnvTable::from([("ALPHA_PORT".to_owned(), "8080".to_owned())]);
    let with_env = manifest(
        vec![alpha, module("beta", &["alpha"], "start.sh", None)?],
        Vec::new(),
        EnvTable::from([("GREETING".to_owned(), "hello\nworld".to_owned())]),
    );
    let mut out = Vec::new();
    for m in [full, only_alpha, with_data, with_env] {
        out.push(with_selector(Input::Manifest, &m.to_json()));
    }
    for toml in [
        "requires = [\"alpha\"]\n",
        "name = \"beta\"\nversion = \"1\"\ndescription = \"b\"\nrequires = []\n",
        "requires = [\"alpha\"]\n[env]\nBETA_PORT = \"80\"\n",
        // Refused, the smoke run expects these two last: a cycle, and a data folder with a script.
        "requires = [\"beta\"]\n",
        "kind = \"data\"\n",
    ] {
        out.push(with_selector(Input::ModuleToml, toml.as_bytes()));
    }
    Ok(out)
}

fn with_selector(mode: Input, content: &[u8]) -> Vec<u8> {
    let mut out = vec![mode.selector()];
    out.extend_from_slice(content);
    out
}

fn gzip(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut gz = GzEncoder::new(Vec::new(), Level::fast());
    gz.write_all(data)?;
    gz.finish()
}

/// One tar entry, written as a ustar header and its data.
#[derive(Debug, Clone)]
pub struct RawEntry {
    name: Vec<u8>,
    kind: u8,
    mode: u32,
    link: Vec<u8>,
    data: Vec<u8>,
    /// The size field when it should not match the data (a claim the stream cannot back).
    size: Option<u64>,
}

impl RawEntry {
    /// An entry of type `kind` (the ustar typeflag: `0` file, `1` hard link, `2` symlink, `5`
    /// folder, `x` PAX, `L`/`K` GNU long name/link...), mode 0644, no data.
    pub fn new(name: &str, kind: u8) -> RawEntry {
        RawEntry {
            name: name.as_bytes().to_vec(),
            kind,
            mode: 0o644,
            link: Vec::new(),
            data: Vec::new(),
            size: None,
        }
    }

    /// With this content.
    pub fn data(mut self, data: &[u8]) -> RawEntry {
        self.data = data.to_vec();
        self
    }

    /// With this link target.
    pub fn link(mut self, target: &str) -> RawEntry {
        self.link = target.as_bytes().to_vec();
        self
    }

    /// With these mode bits.
    pub fn mode(mut self, mode: u32) -> RawEntry {
        self.mode = mode;
        self
    }

    /// Claiming this size whatever the data.
    pub fn size(mut self, size: u64) -> RawEntry {
        self.size = Some(size);
        self
    }

    fn header(&self) -> [u8; BLOCK] {
        let mut h = [0u8; BLOCK];
        let put = |h: &mut [u8; BLOCK], at: usize, len: usize, value: &[u8]| {
            let n = value.len().min(len);
            h[at..at + n].copy_from_slice(&value[..n]);
        };
        put(&mut h, 0, 100, &self.name);
        put(&mut h, 100, 8, format!("{:07o}\0", self.mode).as_bytes());
        put(&mut h, 108, 8, b"0000000\0");
        put(&mut h, 116, 8, b"0000000\0");
        let size = self.size.unwrap_or(self.data.len() as u64);
        put(&mut h, 124, 12, format!("{size:011o}\0").as_bytes());
        put(&mut h, 136, 12, b"00000000000\0");
        h[156] = self.kind;
        put(&mut h, 157, 100, &self.link);
        put(&mut h, MAGIC_AT.start, 6, b"ustar\0");
        put(&mut h, 263, 2, b"00");
        set_checksum(&mut h);
        h
    }
}

/// A PAX extended header setting `key` for the next entry.
fn pax(key: &str, value: &str) -> RawEntry {
    let body = format!("{key}={value}\n");
    // The record length counts its own digits: try lengths until it fits.
    let mut len = body.len() + 2;
    while format!("{len} {body}").len() != len {
        len += 1;
    }
    RawEntry::new("pax", b'x').data(format!("{len} {body}").as_bytes())
}

/// A GNU long name (`L`) or long link (`K`) record for the next entry.
fn gnu_long(kind: u8, value: &str) -> RawEntry {
    let mut data = value.as_bytes().to_vec();
    data.push(0);
    RawEntry::new("././@LongLink", kind).data(&data)
}

/// The entries as a tar stream ending in the two zero blocks of end-of-archive.
pub fn raw_tar(entries: &[RawEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&e.header());
        out.extend_from_slice(&e.data);
        out.resize(out.len().next_multiple_of(BLOCK), 0);
    }
    out.resize(out.len() + 2 * BLOCK, 0);
    out
}

/// Recomputes the checksum of every 512-byte block carrying the ustar magic, so a mutated header
/// reaches the extractor instead of dying at tar's checksum test.
pub fn fix_tar_checksums(tar: &mut [u8]) {
    for block in tar.chunks_exact_mut(BLOCK) {
        if block[MAGIC_AT].starts_with(b"ustar") {
            let header: &mut [u8; BLOCK] = match block.try_into() {
                Ok(h) => h,
                Err(_) => continue,
            };
            set_checksum(header);
        }
    }
}

/// POSIX: the checksum is the sum of the header's bytes with the checksum field taken as spaces,
/// written as six octal digits, NUL, space.
fn set_checksum(h: &mut [u8; BLOCK]) {
    h[CHECKSUM_AT].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[CHECKSUM_AT].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}
