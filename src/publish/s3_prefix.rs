//! A [`Destination`] under `s3://bucket/prefix`, over [`S3Destination`]'s signed calls.
//!
//! One S3 PUT replaces an object atomically for readers (a GET sees the old object or the new one),
//! which is what the pointer-last publish order needs.

use std::path::Path;

use super::s3::{S3Config, S3Destination};
use super::s3_error::S3Error;
use super::{Destination, PublishError};

/// Objects under one prefix of one bucket.
#[derive(Debug)]
pub struct S3Prefix {
    dest: S3Destination,
    bucket: String,
    prefix: String,
}

impl S3Prefix {
    /// Parses `s3://bucket[/prefix]` and opens the bucket with credentials from the environment or
    /// `~/.aws/credentials`.
    pub fn open(url: &str, config: &S3Config) -> Result<S3Prefix, PublishError> {
        let rest = url.strip_prefix("s3://").unwrap_or(url);
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = match prefix.trim_matches('/') {
            "" => String::new(),
            p => format!("{p}/"),
        };
        let dest = S3Destination::new(bucket, config)?;
        Ok(S3Prefix {
            dest,
            bucket: bucket.to_string(),
            prefix,
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

impl Destination for S3Prefix {
    fn put(&self, key: &str, local: &Path) -> Result<(), PublishError> {
        Ok(self.dest.put(&self.key(key), local)?)
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PublishError> {
        match self.dest.get(&self.key(key)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(S3Error::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, PublishError> {
        let full = self.key(prefix);
        let mut keys: Vec<String> = self
            .dest
            .list(&full)?
            .into_iter()
            .filter_map(|k| k.strip_prefix(&self.prefix).map(str::to_string))
            .filter(|k| {
                k.strip_prefix(prefix)
                    .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
            })
            .collect();
        keys.sort();
        Ok(keys)
    }

    fn fetch_to(&self, key: &str, to: &Path) -> Result<(), PublishError> {
        let bytes = self.dest.get(&self.key(key))?;
        std::fs::write(to, bytes).map_err(|source| PublishError::Io {
            op: "write",
            path: to.display().to_string(),
            source,
        })
    }

    fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    fn credentials(&self) -> Option<String> {
        Some(format!(
            "{} from {}",
            self.dest.shown_key_id(),
            self.dest.credential_source()
        ))
    }
}
