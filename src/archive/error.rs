//! The archive stage's one error enum and its exit statuses (DESIGN.md, "Exit status").
//!
//! The split that matters on the instance: anything up to a readable archive (the input failing,
//! the decompressor failing, a payload that is not gzip/zstd/tar, a truncated stream) is
//! [`ArchiveError::Unreadable`], [`ArchiveError::Input`] or [`ArchiveError::Stream`] → exit 3; a
//! readable archive holding a refused or malformed entry is exit 4; local I/O and the publisher's
//! own mistakes are exit 1.

use std::io;
use std::path::PathBuf;

use crate::exit::{Classify, Exit};

/// Everything that can go wrong while packing or unpacking a bundle's payload.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Anything before the first valid tar header: not gzip, zstd or tar, a decompressor failure,
    /// empty. Deliberately without detail: with a wrong key, the detail would tell valid padding
    /// from bad (a padding oracle).
    #[error("the payload is not a gzip, zstd or tar archive")]
    Unreadable,
    /// The input reader itself failed (for a decrypted bundle: bad padding, or the file could not
    /// be read); its own error is the source, for the caller that knows what that reader is.
    #[error("reading the payload failed")]
    Input {
        /// The input reader's own error, whole.
        #[source]
        source: io::Error,
    },
    /// The payload stopped being readable after a valid header: the decompressor failed, or it
    /// ends early.
    #[error(
        "the decrypted payload is not a readable archive: {what}; wrong passphrase or parameters, or a damaged file"
    )]
    Stream {
        /// What was seen, in a few words.
        what: String,
        /// The failure of the reader underneath, when there was one.
        #[source]
        source: Option<io::Error>,
    },
    /// An entry breaks a safety rule; the whole archive is refused.
    #[error("archive entry {entry:?} refused: {reason}")]
    Refused {
        /// The entry's path as written in the archive.
        entry: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// The archive is readable but broken past its first header.
    #[error("malformed archive at {entry:?}: {reason}")]
    Malformed {
        /// The last entry read, or `(start)`.
        entry: String,
        /// What is wrong.
        reason: String,
        /// The parser's own error, when there is one.
        #[source]
        source: Option<io::Error>,
    },
    /// The archive is readable but broken at this place of the tar stream, where no entry name
    /// can be trusted (an unreadable header is not the entry before it).
    #[error("malformed archive at byte {offset} of the tar stream: {reason}")]
    At {
        /// Offset in the (decompressed) tar stream.
        offset: u64,
        /// What is wrong.
        reason: String,
        /// The parser's own error, when there is one.
        #[source]
        source: Option<io::Error>,
    },
    /// What the archive would put on disk (file bytes, a block per folder, symlink targets) adds
    /// up to more than the limit.
    #[error(
        "archive needs more than {} on disk (files, folders and link targets; at {entry:?})",
        crate::size::human(*limit)
    )]
    TooBig {
        /// The entry that went over.
        entry: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The archive holds more entries than the limit; every folder it makes counts, listed or not.
    #[error(
        "archive holds more than {limit} entries (files, links and folders, listed or implied)"
    )]
    TooManyEntries {
        /// The limit.
        limit: u64,
    },
    /// The destination already exists; unpack only ever creates a new folder.
    #[error("{path} already exists; unpack never replaces anything")]
    DestinationExists {
        /// The destination asked for.
        path: PathBuf,
    },
    /// The private folder being unpacked into was moved or replaced by someone else: another
    /// user can write to its parent. Nothing was placed, and what was unpacked is removed.
    #[error("{path} was moved or replaced while unpacking into it; nothing was placed")]
    Moved {
        /// The private folder's path when it was made.
        path: PathBuf,
    },
    /// A local file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Writing the packed stream to its output failed.
    #[error("could not write the packed archive: {source}")]
    Output {
        /// The writer's error.
        #[source]
        source: io::Error,
    },
    /// An entry given to `pack` (or found by `collect_tree`) cannot go into a bundle.
    #[error("{entry}: cannot be packed: {reason}")]
    BadEntry {
        /// The archive path or local path of the entry.
        entry: String,
        /// Why not.
        reason: String,
    },
    /// A file changed size while it was being packed.
    #[error("{path} changed while it was being packed")]
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// `SOURCE_DATE_EPOCH` is set but is not a number of seconds.
    #[error("SOURCE_DATE_EPOCH={value:?} is not a whole number of seconds")]
    SourceDateEpoch {
        /// What the variable holds.
        value: String,
    },
    /// `--compression` names something other than gzip, zstd or none.
    #[error("unknown compression {given:?}: use gzip, zstd or none")]
    UnknownCompression {
        /// What was given.
        given: String,
    },
    /// One of the packing threads stopped without an answer (it panicked).
    #[error("the {stage} thread stopped unexpectedly")]
    Thread {
        /// Which thread.
        stage: &'static str,
    },
}

impl ArchiveError {
    /// A local I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        ArchiveError::Io {
            path: path.into(),
            source,
        }
    }

    /// A refusal of `entry` for `reason`.
    pub(crate) fn refused(entry: &str, reason: impl Into<String>) -> Self {
        ArchiveError::Refused {
            entry: entry.to_owned(),
            reason: reason.into(),
        }
    }

    /// A malformed `entry`, without a parser error underneath.
    pub(crate) fn malformed(entry: &str, reason: impl Into<String>) -> Self {
        ArchiveError::Malformed {
            entry: entry.to_owned(),
            reason: reason.into(),
            source: None,
        }
    }
}

impl Classify for ArchiveError {
    fn exit(&self) -> Exit {
        match self {
            ArchiveError::Unreadable | ArchiveError::Input { .. } | ArchiveError::Stream { .. } => {
                Exit::Verify
            }
            ArchiveError::Refused { .. }
            | ArchiveError::Malformed { .. }
            | ArchiveError::At { .. }
            | ArchiveError::TooBig { .. }
            | ArchiveError::TooManyEntries { .. } => Exit::Archive,
            ArchiveError::DestinationExists { .. }
            | ArchiveError::Moved { .. }
            | ArchiveError::Io { .. }
            | ArchiveError::Output { .. }
            | ArchiveError::BadEntry { .. }
            | ArchiveError::Changed { .. }
            | ArchiveError::SourceDateEpoch { .. }
            | ArchiveError::UnknownCompression { .. }
            | ArchiveError::Thread { .. } => Exit::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        let hint = match self {
            ArchiveError::Unreadable | ArchiveError::Input { .. } | ArchiveError::Stream { .. } => {
                "check the passphrase and --cipher/--iter/--md (or --legacy-kdf), then fetch the file again"
            }
            ArchiveError::Refused { .. }
            | ArchiveError::Malformed { .. }
            | ArchiveError::At { .. } => {
                "the bundle is unsafe or damaged; rebuild it with `bundle pack` from the personality folder"
            }
            ArchiveError::TooBig { .. } => {
                "raise --max-unpacked if the bundle really is this large"
            }
            ArchiveError::TooManyEntries { .. } => {
                "no start-up bundle needs this many files and folders: check how it was made"
            }
            ArchiveError::DestinationExists { .. } => {
                "choose a new folder, or remove the old one first"
            }
            ArchiveError::Moved { .. } => {
                "another user can write to that folder: unpack into a folder only you can write to"
            }
            ArchiveError::BadEntry { .. } => {
                "remove or replace that entry in the personality folder, then pack again"
            }
            ArchiveError::Changed { .. } => "pack again once nothing is writing to the folder",
            ArchiveError::SourceDateEpoch { .. } => {
                "set SOURCE_DATE_EPOCH to seconds since 1970 (e.g. `git log -1 --format=%ct`), or unset it"
            }
            _ => return None,
        };
        Some(hint.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_failures_are_verification_failures_and_entries_are_archive_failures() {
        let stream = ArchiveError::Stream {
            what: "bad".into(),
            source: None,
        };
        assert_eq!(stream.exit(), Exit::Verify);
        assert_eq!(ArchiveError::Unreadable.exit(), Exit::Verify);
        let input = ArchiveError::Input {
            source: io::Error::other("bad decrypt"),
        };
        assert_eq!(input.exit(), Exit::Verify);
        let at = ArchiveError::At {
            offset: 1024,
            reason: "the entry header is unreadable".into(),
            source: None,
        };
        assert_eq!(at.exit(), Exit::Archive);
        assert!(at.to_string().contains("byte 1024"), "{at}");
        assert_eq!(ArchiveError::refused("a", "b").exit(), Exit::Archive);
        assert_eq!(ArchiveError::malformed("a", "b").exit(), Exit::Archive);
        assert_eq!(
            ArchiveError::io("/x", io::Error::other("disk")).exit(),
            Exit::Usage
        );
        assert!(ArchiveError::refused("a", "b").hint().is_some());
    }
}
