//! The publisher's S3 primitive: put a file, get an object, list a prefix, in one bucket,
//! signed with SigV4 (credentials found as the AWS tools find them: `crate::aws::chain`).
//!
//! Uploads sign their payload's sha256, so S3 refuses a body that changed on the way. Each call is
//! one request: no retries, no multipart (a bundle is far below S3's 5 GiB single-PUT limit).
//! Secrets never reach logs or errors. What to upload, and when, is `publish.rs`'s business.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use reqwest::blocking::{Body, Client, Response};
use reqwest::redirect;

pub use super::s3_error::S3Error;
use super::s3_list;
use crate::aws::chain;
use crate::aws::credentials::{CredentialSource, Credentials};
use crate::aws::error::{ERROR_BODY_MAX, code_of};
use crate::aws::profile::SharedFiles;
use crate::aws::s3::{Bucket, S3Request};
use crate::fetch::{self, FetchError};

/// Connection timeout for every request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest time one request may take, upload included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// Largest object [`S3Destination::get`] returns: it is for small files (pointers, signatures).
pub const GET_MAX: u64 = 64 << 20;
/// Pages of a listing followed at most (1000 keys each).
const LIST_MAX_PAGES: usize = 1000;

/// Where the destination is and how to reach it.
#[derive(Debug, Clone, Default)]
pub struct S3Config {
    /// The bucket's region; else `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region` in
    /// `~/.aws/config`, then `us-east-1`.
    pub region: Option<String>,
    /// An S3-compatible endpoint, addressed path-style.
    pub endpoint_url: Option<String>,
    /// The profile; else `AWS_PROFILE`, else `default`.
    pub profile: Option<String>,
    /// Extra CA certificates (PEM) for the endpoint.
    pub ca_file: Option<PathBuf>,
    /// IMDS, for a build host's instance role; else `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else
    /// 169.254.169.254.
    pub imds_endpoint: Option<String>,
}

/// One bucket, with the credentials that sign every call.
#[derive(Debug)]
pub struct S3Destination {
    bucket: Bucket,
    creds: Credentials,
    source: CredentialSource,
    client: Client,
}

impl S3Destination {
    /// The bucket, with credentials and region from this process's environment and files.
    pub fn new(bucket: &str, config: &S3Config) -> Result<S3Destination, S3Error> {
        S3Destination::from_env_with(bucket, config, &|name| std::env::var(name).ok())
    }

    /// As [`Self::new`], looking variables up through `env` (`HOME`, `AWS_*`): credentials as
    /// [`crate::aws::chain`] finds them; the region from `--region`, the environment, the profile,
    /// then `us-east-1`.
    pub fn from_env_with(
        bucket: &str,
        config: &S3Config,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<S3Destination, S3Error> {
        let lookup = chain::Lookup {
            profile: config.profile.as_deref(),
            env,
            imds_endpoint: config.imds_endpoint.as_deref(),
            tls: fetch::tls_config(config.ca_file.as_deref())?,
            now: SystemTime::now(),
        };
        let found = chain::find(&lookup)?;
        let region = match config
            .region
            .clone()
            .or_else(|| crate::aws::env_region(env))
            .or(found.region)
        {
            Some(region) => region,
            None => {
                let files = SharedFiles::locate(config.profile.as_deref(), env);
                files
                    .region()
                    .map_err(|source| S3Error::ReadFile {
                        path: files.config.clone(),
                        source,
                    })?
                    .unwrap_or_else(|| crate::aws::DEFAULT_REGION.to_string())
            }
        };
        S3Destination::with_credentials(bucket, config, &region, found.creds, found.source)
    }

    /// The bucket, signed with `creds` in `region`.
    pub fn with_credentials(
        bucket: &str,
        config: &S3Config,
        region: &str,
        creds: Credentials,
        source: CredentialSource,
    ) -> Result<S3Destination, S3Error> {
        let bucket = Bucket::new(bucket, region, config.endpoint_url.as_deref())?;
        let tls = fetch::tls_config(config.ca_file.as_deref())?;
        let client = Client::builder()
            .tls_backend_preconfigured(tls)
            .http1_only()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // A signed request's `x-amz-*` headers (the session token among them) must never be
            // sent on to another host: an S3 redirect is reported, not followed.
            .redirect(redirect::Policy::none())
            .referer(false)
            .build()
            .map_err(|source| FetchError::Client {
                source: source.without_url(),
            })?;
        Ok(S3Destination {
            bucket,
            creds,
            source,
            client,
        })
    }

    /// Where the credentials came from (for a log line; holds no secret).
    pub fn credential_source(&self) -> &CredentialSource {
        &self.source
    }

    /// The access key id's first characters (`AKIA…`), for a log line.
    pub fn shown_key_id(&self) -> String {
        self.creds.shown_key_id()
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        self.bucket.region()
    }

    /// Uploads `file` as `key`, signing its sha256 so S3 refuses a body that differs.
    pub fn put(&self, key: &str, file: &Path) -> Result<(), S3Error> {
        let read_err = |source| S3Error::ReadFile {
            path: file.to_path_buf(),
            source,
        };
        let (hash, len) = crate::hashing::file_sha256(file).map_err(read_err)?;
        let body = File::open(file).map_err(read_err)?;
        let request = self
            .bucket
            .put_object(key, &self.creds, &hash, SystemTime::now())?;
        self.send("PUT", key, request, Some(Body::sized(body, len)))
            .map(drop)
    }

    /// Downloads `key` (at most [`GET_MAX`] bytes).
    pub fn get(&self, key: &str) -> Result<Vec<u8>, S3Error> {
        let request = self
            .bucket
            .get_object(key, Some(&self.creds), &[], SystemTime::now())?;
        let response = self.send("GET", key, request, None)?;
        let mut bytes = Vec::new();
        response
            .take(GET_MAX + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| S3Error::Body {
                op: "GET",
                url: self.bucket.shown(key),
                source,
            })?;
        if bytes.len() as u64 > GET_MAX {
            return Err(S3Error::TooLarge {
                url: self.bucket.shown(key),
                max: GET_MAX,
            });
        }
        Ok(bytes)
    }

    /// Every key that starts with `prefix`, in S3's order (UTF-8 binary), following all pages.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, S3Error> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..LIST_MAX_PAGES {
            let request = self.bucket.list_objects(
                prefix,
                token.as_deref(),
                &self.creds,
                SystemTime::now(),
            )?;
            let response = self.send("LIST", prefix, request, None)?;
            let text = response.text().map_err(|source| S3Error::Request {
                op: "LIST",
                url: self.bucket.shown(prefix),
                source: source.without_url(),
            })?;
            let page = s3_list::parse(&text).ok_or_else(|| S3Error::BadListing {
                url: self.bucket.shown(prefix),
            })?;
            keys.extend(page.keys);
            match page.next {
                Some(next) => token = Some(next),
                None => return Ok(keys),
            }
        }
        Ok(keys)
    }

    /// Sends one request (no retries: the publisher runs it again) and turns an error answer
    /// into [`S3Error::Status`] with S3's code.
    fn send(
        &self,
        op: &'static str,
        key: &str,
        request: S3Request,
        body: Option<Body>,
    ) -> Result<Response, S3Error> {
        let mut builder = self
            .client
            .request(request.method, request.url)
            .headers(request.headers);
        if let Some(body) = body {
            builder = builder.body(body);
        }
        let response = builder.send().map_err(|source| S3Error::Request {
            op,
            url: self.bucket.shown(key),
            source: source.without_url(),
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let mut body = Vec::new();
        let _ = response.take(ERROR_BODY_MAX).read_to_end(&mut body);
        Err(S3Error::Status {
            op,
            url: self.bucket.shown(key),
            status: status.as_u16(),
            code: code_of(&body),
            signer: self.source.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::chain::CredentialError;
    use crate::exit::Classify;

    #[test]
    fn credentials_come_from_env_then_the_profile() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("credentials");
        std::fs::write(
            &creds,
            "[pub]\naws_access_key_id=AKIAPUB\naws_secret_access_key=s\n",
        )
        .unwrap();
        let config = S3Config {
            endpoint_url: Some("http://127.0.0.1:1".into()),
            ..S3Config::default()
        };
        let file = creds.display().to_string();
        let env = |pairs: Vec<(&'static str, String)>| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.clone())
            }
        };
        let from_profile = env(vec![
            ("AWS_SHARED_CREDENTIALS_FILE", file.clone()),
            ("AWS_PROFILE", "pub".into()),
        ]);
        let dest = S3Destination::from_env_with("b", &config, &from_profile).unwrap();
        assert!(
            matches!(dest.credential_source(), CredentialSource::Profile { profile, .. } if profile == "pub")
        );
        assert_eq!(dest.region(), crate::aws::DEFAULT_REGION);

        let from_env = env(vec![
            ("AWS_SHARED_CREDENTIALS_FILE", file.clone()),
            ("AWS_ACCESS_KEY_ID", "AKIAENV".into()),
            ("AWS_SECRET_ACCESS_KEY", "s".into()),
            ("AWS_REGION", "eu-north-1".into()),
        ]);
        let dest = S3Destination::from_env_with("b", &config, &from_env).unwrap();
        assert_eq!(dest.credential_source(), &CredentialSource::Environment);
        assert_eq!(dest.region(), "eu-north-1");

        let none = env(vec![
            ("AWS_SHARED_CREDENTIALS_FILE", file.clone()),
            ("AWS_CONFIG_FILE", file.clone()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]);
        let err = S3Destination::from_env_with("b", &config, &none).unwrap_err();
        assert!(
            matches!(err, S3Error::Credentials(CredentialError::Nothing { ref profile, .. }) if profile == "default")
        );
        assert_eq!(err.exit(), crate::exit::Exit::Usage);
        // A profile named on purpose must exist: no falling through to another source.
        let named = env(vec![
            ("AWS_SHARED_CREDENTIALS_FILE", file),
            ("AWS_PROFILE", "typo".into()),
            ("AWS_ACCESS_KEY_ID", "AKIAENV".into()),
            ("AWS_SECRET_ACCESS_KEY", "s".into()),
        ]);
        let config = S3Config {
            profile: Some("typo".into()),
            ..config
        };
        let err = S3Destination::from_env_with("b", &config, &named).unwrap_err();
        assert!(err.to_string().contains("no profile `typo`"), "{err}");
    }
}
