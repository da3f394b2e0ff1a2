//! file:// URLs and plain paths: a streamed copy into the [`Part`], with the same hash and size
//! cap as a download. No retries: a missing local file will not appear by waiting.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use super::FetchOptions;
use super::error::{FetchError, Overrun};
use super::part::{AppendError, Part};

/// Bytes read per system call.
const CHUNK: usize = 64 * 1024;

/// Copies the file at `path` into `part`.
pub(crate) fn copy(path: &Path, part: &mut Part, opts: &FetchOptions) -> Result<(), FetchError> {
    let local = |source: io::Error| FetchError::Local {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(local)?;
    let meta = file.metadata().map_err(local)?;
    if meta.is_dir() {
        return Err(local(io::Error::new(
            io::ErrorKind::IsADirectory,
            "it is a folder, not a bundle file",
        )));
    }
    let shown = path.display().to_string();
    let too_large = |size, how| FetchError::TooLarge {
        url: shown.clone(),
        size,
        max: opts.max_size,
        how,
    };
    // Regular files announce their size; pipes and devices report 0 and are capped while copying.
    if meta.is_file() && meta.len() > opts.max_size {
        return Err(too_large(meta.len(), Overrun::Announced));
    }
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(local(e)),
        };
        part.append(&buf[..n]).map_err(|e| match e {
            AppendError::TooLarge(size) => too_large(size, Overrun::Streamed),
            AppendError::Io(source) => FetchError::write(part.path(), &shown, part.len(), source),
        })?;
    }
}
