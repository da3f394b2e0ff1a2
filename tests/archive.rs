//! The archive part against GNU tar and gzip: deterministic packing, both directions of
//! interoperability, hostile archives built byte by byte, and streams that break.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use startup_bundle::archive::{
    self, ArchiveError, Compression, Limits, PackEntry, PackOptions, Source, Unpacked,
};
use startup_bundle::exit::{Classify, Exit};

use crate::support::{Mode, child_test, only_as_child, run, scratch, tool, write};

const TOP: &str = "start-up-bundle";
const EPOCH: u64 = 1_700_000_000;

fn opts(compression: Compression, threads: usize) -> PackOptions {
    PackOptions {
        compression,
        mtime: 0,
        threads,
    }
}

/// A personality-like tree: scripts, a setuid file, a nested folder, a symlink, a big file of
/// `big` bytes (compressible but not trivially).
fn make_tree(dir: &Path, big: usize) {
    write(dir, "10-java/start", "#!/bin/sh\necho java\n", Mode::Exec);
    write(dir, "10-java/conf/java.conf", "heap=1g\n", Mode::Plain);
    write(dir, "20-rabbitmq/start.sh", "echo rabbit\n", Mode::Plain);
    fs::set_permissions(
        dir.join("20-rabbitmq/start.sh"),
        fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    std::os::unix::fs::symlink("../10-java/conf", dir.join("20-rabbitmq/conf")).unwrap();
    let mut state = 12345u64;
    let data: Vec<u8> = (0..big)
        .map(|i| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if i % 3 == 0 {
                (state >> 60) as u8 + b'a'
            } else {
                b"module "[i % 7]
            }
        })
        .collect();
    fs::write(dir.join("10-java/blob.bin"), data).unwrap();
}

fn pack_tree(dir: &Path, opts: &PackOptions) -> Vec<u8> {
    let entries = archive::collect_tree(dir, TOP).unwrap();
    archive::pack(entries, opts, Vec::new(), &|_| {}).unwrap()
}

fn unpack_bytes(bytes: Vec<u8>, dest: &Path, limits: &Limits) -> Result<Unpacked, ArchiveError> {
    archive::unpack(io::Cursor::new(bytes), dest, limits, &|_| {})
}

/// Every path below `dir` with its kind and content (or link target), sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for item in fs::read_dir(&d).unwrap() {
            let path = item.unwrap().path();
            let rel = path.strip_prefix(dir).unwrap().display().to_string();
            let meta = fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.file_type().is_symlink() {
                out.push(format!(
                    "{rel} -> {}",
                    fs::read_link(&path).unwrap().display()
                ));
            } else if meta.is_dir() {
                out.push(format!("{rel}/ {mode:o}"));
                pending.push(path);
            } else {
                let digest = fs::read(&path)
                    .unwrap()
                    .iter()
                    .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(*b)));
                out.push(format!("{rel} {mode:o} {} {digest:x}", meta.len()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn packing_is_deterministic_across_runs_threads_and_compressions() {
    let s = scratch();
    make_tree(s.path(), 3_500_000);
    let one = pack_tree(s.path(), &opts(Compression::Gzip, 1));
    assert_eq!(one, pack_tree(s.path(), &opts(Compression::Gzip, 1)));
    assert_eq!(one, pack_tree(s.path(), &opts(Compression::Gzip, 2)));
    assert_eq!(one, pack_tree(s.path(), &opts(Compression::Gzip, 7)));
    let zstd = pack_tree(s.path(), &opts(Compression::Zstd, 2));
    assert_eq!(zstd, pack_tree(s.path(), &opts(Compression::Zstd, 1)));
    let plain = pack_tree(s.path(), &opts(Compression::None, 2));
    assert_eq!(plain, pack_tree(s.path(), &opts(Compression::None, 1)));
    // The same tar stream under every compression.
    let mut gunzipped = Vec::new();
    flate2::read::MultiGzDecoder::new(&one[..])
        .read_to_end(&mut gunzipped)
        .unwrap();
    assert_eq!(gunzipped, plain);
    assert_eq!(zstd::decode_all(&zstd[..]).unwrap(), plain);
}

#[test]
fn gnu_tar_and_gzip_read_our_multi_member_output_with_fixed_owner_mtime_and_modes() {
    let s = scratch();
    let src = s.path().join("src");
    make_tree(&src, 3_500_000);
    let mut o = opts(Compression::Gzip, 2);
    o.mtime = EPOCH;
    let packed = pack_tree(&src, &o);
    // More than three independent members (one per MiB of tar stream).
    let member_header = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    let members = packed
        .windows(member_header.len())
        .filter(|w| *w == member_header)
        .count();
    assert!(members > 3, "{members} gzip members");
    let bundle = s.path().join("b.tar.gz");
    fs::write(&bundle, &packed).unwrap();
    run(tool("gzip").arg("-t").arg(&bundle)).ok();
    let listed = run(tool("tar").env("TZ", "UTC").arg("-tvzf").arg(&bundle));
    listed.ok();
    for line in listed.stdout.lines() {
        assert!(line.contains(" 0/0 "), "owner not 0/0: {line}");
        assert!(
            line.contains("2023-11-14 22:13"),
            "mtime not SOURCE_DATE_EPOCH: {line}"
        );
    }
    assert!(listed.stdout.contains("-rwxr-xr-x 0/0") && !listed.stdout.contains("rws"));
    let out = s.path().join("gnu");
    fs::create_dir(&out).unwrap();
    run(tool("tar").arg("-xzf").arg(&bundle).arg("-C").arg(&out)).ok();
    let ours = s.path().join("ours");
    unpack_bytes(packed, &ours, &Limits::default()).unwrap();
    assert_eq!(listing(&out.join(TOP)), listing(&ours.join(TOP)));
    let rabbit = fs::metadata(ours.join(TOP).join("20-rabbitmq/start.sh")).unwrap();
    assert_eq!(rabbit.permissions().mode() & 0o7777, 0o755, "setuid kept");
    assert_eq!(
        fs::read_link(ours.join(TOP).join("20-rabbitmq/conf")).unwrap(),
        Path::new("../10-java/conf")
    );
}

const PARENT: &str = "archive::source_date_epoch_is_read_from_the_environment";

#[test]
fn source_date_epoch_is_read_from_the_environment() {
    // Each child passes only when the library does what it checks: takes 1234, refuses
    // `yesterday` by name. A refusal taken silently as 0, or a panic, fails the child.
    run(child_test("archive::source_date_epoch_child").env("SOURCE_DATE_EPOCH", "1234"))
        .ok()
        .stdout_has("1 passed");
    run(child_test("archive::source_date_epoch_refused_child")
        .env("SOURCE_DATE_EPOCH", "yesterday"))
    .ok()
    .stdout_has("1 passed");
}

/// Run by [`source_date_epoch_is_read_from_the_environment`] with `SOURCE_DATE_EPOCH=1234`.
#[test]
#[ignore = "run as a child process with SOURCE_DATE_EPOCH set"]
fn source_date_epoch_child() {
    only_as_child(PARENT);
    assert_eq!(PackOptions::mtime_from_env().unwrap(), 1234);
}

/// Run by [`source_date_epoch_is_read_from_the_environment`] with `SOURCE_DATE_EPOCH=yesterday`.
#[test]
#[ignore = "run as a child process with SOURCE_DATE_EPOCH set"]
fn source_date_epoch_refused_child() {
    only_as_child(PARENT);
    let err = PackOptions::mtime_from_env().expect_err("`yesterday` is not a time: refused");
    assert!(
        matches!(&err, ArchiveError::SourceDateEpoch { value } if value == "yesterday"),
        "{err:?}"
    );
    assert_eq!(err.exit(), Exit::Usage, "{err}");
}

#[test]
fn we_unpack_what_gnu_tar_writes() {
    let s = scratch();
    let src = s.path().join("src");
    let long = format!("{}/{}/file.txt", "d".repeat(60), "e".repeat(60));
    write(&src, &format!("{TOP}/10-a/start"), "echo a\n", Mode::Exec);
    write(&src, &format!("{TOP}/10-a/{long}"), "long\n", Mode::Plain);
    std::os::unix::fs::symlink("start", src.join(TOP).join("10-a/run")).unwrap();
    // A folder that would lock out its own owner gets its mode only after its content.
    write(&src, &format!("{TOP}/10-a/ro/sealed/x"), "x\n", Mode::Plain);
    for ro in ["10-a/ro/sealed", "10-a/ro"] {
        fs::set_permissions(src.join(TOP).join(ro), fs::Permissions::from_mode(0o555)).unwrap();
    }
    fs::hard_link(
        src.join(TOP).join("10-a/start"),
        src.join(TOP).join("10-a/again"),
    )
    .unwrap();
    let expected = listing(&src.join(TOP));
    for format in ["gnu", "ustar", "pax"] {
        for (flags, compression) in [("-czf", Compression::Gzip), ("-cf", Compression::None)] {
            let file = s.path().join(format!("{format}{flags}.tar"));
            run(tool("tar")
                .arg(format!("--format={format}"))
                .arg("-C")
                .arg(&src)
                .arg(flags)
                .arg(&file)
                .arg("."))
            .ok();
            let dest = s.path().join(format!("out-{format}{flags}"));
            let got = unpack_bytes(fs::read(&file).unwrap(), &dest, &Limits::default())
                .unwrap_or_else(|e| panic!("{format} {flags}: {e:?}"));
            assert_eq!(got.compression, compression);
            assert_eq!(listing(&dest.join(TOP)), expected, "{format} {flags}");
            let a = fs::metadata(dest.join(TOP).join("10-a/start")).unwrap();
            let b = fs::metadata(dest.join(TOP).join("10-a/again")).unwrap();
            assert_eq!(a.ino(), b.ino(), "hard link kept");
            let root = fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
            assert_eq!(root, 0o700, "the unpacked root is private");
        }
    }
}

#[test]
fn zstd_round_trips_and_is_detected() {
    let s = scratch();
    let src = s.path().join("src");
    make_tree(&src, 200_000);
    let packed = pack_tree(&src, &opts(Compression::Zstd, 2));
    assert_eq!(&packed[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
    let dest = s.path().join("out");
    let got = unpack_bytes(packed, &dest, &Limits::default()).unwrap();
    assert_eq!(got.compression, Compression::Zstd);
    // The setuid bit is dropped on the way; everything else comes back as it was.
    fs::set_permissions(
        src.join("20-rabbitmq/start.sh"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    assert_eq!(listing(&dest.join(TOP)), listing(&src));
}

/// One raw tar entry, written without tar-rs's own path checks.
fn raw(out: &mut Vec<u8>, path: &[u8], kind: tar::EntryType, link: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..path.len()].copy_from_slice(path);
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

fn gzip(tar: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(tar).unwrap();
    enc.finish().unwrap()
}

/// A scratch layout: `work/` where unpack writes, `outside/canary` that must never change.
struct Stage {
    _dir: tempfile::TempDir,
    work: PathBuf,
    outside: PathBuf,
}

fn stage() -> Stage {
    let dir = scratch();
    let work = dir.path().join("work");
    let outside = dir.path().join("outside");
    fs::create_dir_all(&work).unwrap();
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("canary"), "original").unwrap();
    Stage {
        _dir: dir,
        work,
        outside,
    }
}

impl Stage {
    /// Unpacks into `work/dest` and checks that nothing at all was left behind or outside.
    #[track_caller]
    fn refuse(&self, what: &str, payload: Vec<u8>, limits: &Limits, exit: Exit) -> ArchiveError {
        let dest = self.work.join("dest");
        let err = unpack_bytes(payload, &dest, limits).expect_err(what);
        assert_eq!(err.exit(), exit, "{what}: {err:?}");
        let left: Vec<_> = fs::read_dir(&self.work)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(left.is_empty(), "{what}: left behind {left:?}");
        assert_eq!(
            fs::read_to_string(self.outside.join("canary")).unwrap(),
            "original"
        );
        assert_eq!(
            fs::read_dir(&self.outside).unwrap().count(),
            1,
            "{what}: wrote outside"
        );
        err
    }
}

#[test]
fn hostile_archives_are_refused_whole_and_leave_nothing_behind() {
    use tar::EntryType as T;
    let st = stage();
    let canary = st.outside.join("canary");
    let abs_canary = canary.to_str().unwrap().as_bytes().to_vec();
    let outside_abs = st.outside.to_str().unwrap().to_owned();
    type Entry<'a> = (&'a [u8], T, &'a str, &'a [u8]);
    let cases: Vec<(&str, Vec<Entry>)> = vec![
        (
            "absolute path",
            vec![
                (b"ok", T::Regular, "", b"x"),
                (&abs_canary, T::Regular, "", b"pwned"),
            ],
        ),
        (
            "dot-dot",
            vec![(b"a/../../../outside/canary", T::Regular, "", b"pwned")],
        ),
        (
            "escaping symlink then a file through it",
            vec![
                (b"esc", T::Symlink, "../../outside", b""),
                (b"esc/canary", T::Regular, "", b"pwned"),
            ],
        ),
        (
            "absolute symlink",
            vec![(b"esc", T::Symlink, &outside_abs, b"")],
        ),
        (
            "a file under a symlinked folder",
            vec![
                (b"sub/", T::Directory, "", b""),
                (b"inner", T::Symlink, "sub", b""),
                (b"inner/x", T::Regular, "", b"x"),
            ],
        ),
        (
            "hard link to /etc/passwd",
            vec![(b"pw", T::Link, "/etc/passwd", b"")],
        ),
        (
            "hard link outside",
            vec![(b"pw", T::Link, "../../outside/canary", b"")],
        ),
        (
            "hard link to a later entry",
            vec![
                (b"early", T::Link, "later", b""),
                (b"later", T::Regular, "", b"x"),
            ],
        ),
        (
            "hard link to a symlink",
            vec![(b"l", T::Symlink, "x", b""), (b"h", T::Link, "l", b"")],
        ),
        ("character device", vec![(b"null", T::Char, "", b"")]),
        ("block device", vec![(b"sda", T::Block, "", b"")]),
        ("fifo", vec![(b"pipe", T::Fifo, "", b"")]),
        ("non-UTF-8 name", vec![(b"caf\xe9", T::Regular, "", b"x")]),
        (
            "the same file twice",
            vec![(b"f", T::Regular, "", b"1"), (b"f", T::Regular, "", b"2")],
        ),
    ];
    for (what, entries) in cases {
        let mut tar = Vec::new();
        for (path, kind, link, data) in entries {
            raw(&mut tar, path, kind, link, data);
        }
        tar.extend_from_slice(&[0; 1024]);
        for payload in [tar.clone(), gzip(&tar)] {
            st.refuse(what, payload, &Limits::default(), Exit::Archive);
        }
    }

    let mut five = Vec::new();
    for i in 0..5 {
        raw(
            &mut five,
            format!("f{i}").as_bytes(),
            T::Regular,
            "",
            b"0123456789",
        );
    }
    five.extend_from_slice(&[0; 1024]);
    let few = Limits {
        max_bytes: 1 << 20,
        max_entries: 3,
    };
    let err = st.refuse("too many entries", gzip(&five), &few, Exit::Archive);
    assert!(
        matches!(err, ArchiveError::TooManyEntries { limit: 3 }),
        "{err:?}"
    );
    let small = Limits {
        max_bytes: 25,
        max_entries: 100,
    };
    let err = st.refuse("too many bytes", gzip(&five), &small, Exit::Archive);
    assert!(
        matches!(err, ArchiveError::TooBig { limit: 25, .. }),
        "{err:?}"
    );
    assert!(err.hint().unwrap().contains("--max-unpacked"));
}

/// GHSA-3pv8-6f4r-ffg2, fixed in tar 0.4.46 (our floor): a PAX `x` header belongs to the next
/// *file* entry (POSIX pax), not to a GNU long-name header in between. tar-rs up to 0.4.45 gave the
/// `size` to the long name, which then swallowed `file_a`'s header and data: our reading of the
/// stream and GNU tar's parted ways, the opening for smuggling files past a reviewer's `tar -t`.
/// The size covers `file_a` and `file_b` exactly, so GNU tar sees one clean 1536-byte file.
#[test]
fn a_pax_size_applies_to_the_file_after_a_long_name_as_in_gnu_tar() {
    use tar::EntryType as T;
    let s = scratch();
    let mut tar = Vec::new();
    raw(&mut tar, b"PaxHeaders/x", T::XHeader, "", b"13 size=1536\n");
    raw(
        &mut tar,
        b"././@LongLink",
        T::GNULongName,
        "",
        b"longname.txt\0",
    );
    raw(&mut tar, b"file_a", T::Regular, "", b"AAAA_file_a_body");
    raw(&mut tar, b"file_b", T::Regular, "", b"BBBB_file_b_body");
    tar.extend_from_slice(&[0; 1024]);
    let file = s.path().join("desync.tar");
    fs::write(&file, &tar).unwrap();
    let theirs = s.path().join("gnu");
    fs::create_dir(&theirs).unwrap();
    run(tool("tar").arg("-xf").arg(&file).arg("-C").arg(&theirs)).ok();
    let ours = s.path().join("ours");
    // We must see what GNU tar sees, or refuse the archive as an archive problem.
    match unpack_bytes(tar, &ours, &Limits::default()) {
        Ok(_) => assert_eq!(listing(&ours), listing(&theirs)),
        Err(err) => assert_eq!(err.exit(), Exit::Archive, "{err:?}"),
    }
}

/// A reader that gives a whole valid archive, then fails at the end, as a decrypting reader does
/// on bad padding.
struct FailsAtEof(io::Cursor<Vec<u8>>);

impl Read for FailsAtEof {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.read(buf)? {
            0 => Err(io::Error::new(io::ErrorKind::InvalidData, "bad decrypt")),
            n => Ok(n),
        }
    }
}

#[test]
fn broken_streams_are_verification_failures_and_leave_nothing_behind() {
    let st = stage();
    let src = st.outside.join("..").join("src");
    make_tree(&src, 100_000);
    let packed = pack_tree(&src, &opts(Compression::Gzip, 2));
    let plain = pack_tree(&src, &opts(Compression::None, 2));
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    // Before the first valid header every failure is the same `Unreadable`, without detail (no
    // padding oracle one layer up); after it, what went wrong is said.
    let cases = vec![
        ("garbage", garbage),
        ("empty", Vec::new()),
        (
            "gzip of something that is not tar",
            gzip(b"hello, not a tar archive"),
        ),
        ("truncated gzip", packed[..packed.len() / 2].to_vec()),
        (
            "gzip missing its trailer",
            packed[..packed.len() - 4].to_vec(),
        ),
        (
            "tar cut before its end marker",
            plain[..plain.len() - 1024].to_vec(),
        ),
        ("tar cut inside a file", plain[..1600].to_vec()),
        (
            "trailing junk after gzip",
            [packed.clone(), b"junk".to_vec()].concat(),
        ),
    ];
    for (i, (what, payload)) in cases.into_iter().enumerate() {
        let err = st.refuse(what, payload, &Limits::default(), Exit::Verify);
        if i < 3 {
            assert!(matches!(err, ArchiveError::Unreadable), "{what}: {err:?}");
        } else {
            assert!(
                matches!(err, ArchiveError::Stream { .. }),
                "{what}: {err:?}"
            );
        }
    }

    let dest = st.work.join("dest");
    let err = archive::unpack(
        FailsAtEof(io::Cursor::new(packed.clone())),
        &dest,
        &Limits::default(),
        &|_| {},
    )
    .expect_err("a failure at EOF must fail the unpack");
    assert_eq!(err.exit(), Exit::Verify, "{err:?}");
    let cause = std::error::Error::source(&err).map(|c| c.to_string());
    assert_eq!(
        cause.as_deref(),
        Some("bad decrypt"),
        "the reader's own error is the cause"
    );
    assert_eq!(
        fs::read_dir(&st.work).unwrap().count(),
        0,
        "left something behind"
    );

    // And the same bytes through a clean reader unpack fine.
    let ok = archive::unpack(io::Cursor::new(packed), &dest, &Limits::default(), &|_| {}).unwrap();
    assert!(ok.entries > 5 && ok.bytes > 100_000, "{ok:?}");
    let again = unpack_bytes(plain, &dest, &Limits::default()).unwrap_err();
    assert!(
        matches!(again, ArchiveError::DestinationExists { .. }),
        "{again:?}"
    );
    assert_eq!(again.exit(), Exit::Usage);
}

#[test]
fn pack_refuses_what_unpack_would_refuse_and_special_files() {
    let s = scratch();
    write(s.path(), "m/start", "echo\n", Mode::Exec);
    std::os::unix::fs::symlink("/etc/passwd", s.path().join("m/pw")).unwrap();
    let entries = archive::collect_tree(s.path(), TOP).unwrap();
    let err = archive::pack(entries, &opts(Compression::Gzip, 1), Vec::new(), &|_| {}).unwrap_err();
    assert_eq!(err.exit(), Exit::Usage);
    assert!(err.to_string().contains("m/pw"), "{err}");
    fs::remove_file(s.path().join("m/pw")).unwrap();
    run(tool("mkfifo").arg(s.path().join("m/pipe"))).ok();
    let err = archive::collect_tree(s.path(), TOP).unwrap_err();
    assert!(
        err.to_string().contains("m/pipe") && err.to_string().contains("fifo"),
        "{err}"
    );
    let manual = vec![PackEntry {
        path: "../x".into(),
        mode: 0o644,
        source: Source::Bytes(vec![]),
    }];
    assert!(archive::pack(manual, &opts(Compression::None, 1), Vec::new(), &|_| {}).is_err());
}
