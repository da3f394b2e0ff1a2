//! The publisher's S3 primitive: put a file, get an object, list a prefix, in one bucket,
//! signed with SigV4 (credentials from the `AWS_*` variables or a `~/.aws/credentials` profile).
//!
//! Uploads sign their payload's sha256, so S3 refuses a body that changed on the way. Each call is
//! one request: no retries, no multipart (a bundle is far below S3's 5 GiB single-PUT limit).
//! Secrets never reach logs or errors. What to upload, and when, is `publish.rs`'s business.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use reqwest::blocking::{Body, Client, RequestBuilder, Response};
use reqwest::{Method, Url};

pub use super::s3_error::S3Error;
use super::s3_list;
use crate::fetch::credentials::{self, CredentialSource, Credentials};
use crate::fetch::s3::{self as fetch_s3, Location, Signed};
use crate::fetch::{FetchError, sigv4, tls};

/// The credentials file when `AWS_SHARED_CREDENTIALS_FILE` is not set, under `$HOME`.
const DEFAULT_CREDENTIALS_FILE: &str = ".aws/credentials";
/// The config file (for the region) when `AWS_CONFIG_FILE` is not set, under `$HOME`.
const DEFAULT_CONFIG_FILE: &str = ".aws/config";
/// The profile used when neither the caller nor `AWS_PROFILE` names one.
const DEFAULT_PROFILE: &str = "default";
/// Connection timeout for every request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest time one request may take, upload included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// Largest object [`S3Destination::get`] returns: it is for small files (pointers, signatures).
pub const GET_MAX: u64 = 64 << 20;
/// Bytes of an error answer kept for its `<Code>`.
const ERROR_BODY_MAX: u64 = 4096;
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
}

/// One bucket, with the credentials that sign every call.
#[derive(Debug)]
pub struct S3Destination {
    bucket: String,
    region: String,
    endpoint_url: Option<String>,
    creds: Credentials,
    source: CredentialSource,
    client: Client,
}

impl S3Destination {
    /// The bucket, with credentials and region from this process's environment and files.
    pub fn new(bucket: &str, config: &S3Config) -> Result<S3Destination, S3Error> {
        S3Destination::from_env_with(bucket, config, &|name| std::env::var(name).ok())
    }

    /// As [`Self::new`], looking variables up through `env` (`HOME`, `AWS_*`).
    pub fn from_env_with(
        bucket: &str,
        config: &S3Config,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<S3Destination, S3Error> {
        let home = env("HOME").map(PathBuf::from).unwrap_or_default();
        let file_from = |var: &str, default: &str| {
            env(var)
                .filter(|v| !v.is_empty())
                .map_or_else(|| home.join(default), PathBuf::from)
        };
        let profile = config
            .profile
            .clone()
            .or_else(|| env("AWS_PROFILE").filter(|p| !p.is_empty()))
            .unwrap_or_else(|| DEFAULT_PROFILE.to_string());
        let creds_file = file_from("AWS_SHARED_CREDENTIALS_FILE", DEFAULT_CREDENTIALS_FILE);
        let (creds, source) = match credentials::from_env(env) {
            Some(creds) => (creds, CredentialSource::Environment),
            None => read_optional(&creds_file)?
                .and_then(|text| credentials::from_profile(&text, &profile, &creds_file))
                .ok_or_else(|| S3Error::NoCredentials {
                    bucket: bucket.to_string(),
                    profile: profile.clone(),
                    file: creds_file.display().to_string(),
                })?,
        };
        let region = match config.region.clone().or_else(|| {
            fetch_s3::ENV_REGIONS
                .iter()
                .find_map(|v| env(v).filter(|r| !r.is_empty()))
        }) {
            Some(region) => region,
            None => {
                let config_file = file_from("AWS_CONFIG_FILE", DEFAULT_CONFIG_FILE);
                read_optional(&config_file)?
                    .and_then(|text| profile_region(&text, &profile))
                    .unwrap_or_else(|| fetch_s3::DEFAULT_REGION.to_string())
            }
        };
        S3Destination::with_credentials(bucket, config, &region, creds, source)
    }

    /// The bucket, signed with `creds` in `region`.
    pub fn with_credentials(
        bucket: &str,
        config: &S3Config,
        region: &str,
        creds: Credentials,
        source: CredentialSource,
    ) -> Result<S3Destination, S3Error> {
        // Checks the bucket and region once, so every later URL builds.
        fetch_s3::bucket_url(bucket, region, config.endpoint_url.as_deref())?;
        let tls = tls::client_config(config.ca_file.as_deref())?;
        let client = Client::builder()
            .tls_backend_preconfigured(tls)
            .http1_only()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|source| FetchError::Client {
                source: source.without_url(),
            })?;
        Ok(S3Destination {
            bucket: bucket.to_string(),
            region: region.to_string(),
            endpoint_url: config.endpoint_url.clone(),
            creds,
            source,
            client,
        })
    }

    /// Where the credentials came from (for a log line; holds no secret).
    pub fn credential_source(&self) -> &CredentialSource {
        &self.source
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Uploads `file` as `key`, signing its sha256 so S3 refuses a body that differs.
    pub fn put(&self, key: &str, file: &Path) -> Result<(), S3Error> {
        let read_err = |source| S3Error::ReadFile {
            path: file.to_path_buf(),
            source,
        };
        let (hash, len) = sha256_file(file).map_err(read_err)?;
        let body = File::open(file).map_err(read_err)?;
        let url = self.object(key)?;
        let request = self.signed(Method::PUT, &url, &[], &hash)?;
        let response = self.send("PUT", key, request.body(Body::sized(body, len)))?;
        self.check("PUT", key, response).map(drop)
    }

    /// Downloads `key` (at most [`GET_MAX`] bytes).
    pub fn get(&self, key: &str) -> Result<Vec<u8>, S3Error> {
        let url = self.object(key)?;
        let request = self.signed(Method::GET, &url, &[], sigv4::UNSIGNED_PAYLOAD)?;
        let response = self.check("GET", key, self.send("GET", key, request)?)?;
        let mut bytes = Vec::new();
        response
            .take(GET_MAX + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| S3Error::Body {
                op: "GET",
                url: self.shown(key),
                source,
            })?;
        if bytes.len() as u64 > GET_MAX {
            return Err(S3Error::TooLarge {
                url: self.shown(key),
                max: GET_MAX,
            });
        }
        Ok(bytes)
    }

    /// Every key that starts with `prefix`, in S3's order (UTF-8 binary), following all pages.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, S3Error> {
        let base = fetch_s3::bucket_url(&self.bucket, &self.region, self.endpoint_url.as_deref())?;
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..LIST_MAX_PAGES {
            let mut query = vec![("list-type", "2"), ("prefix", prefix)];
            if let Some(token) = &token {
                query.push(("continuation-token", token));
            }
            let mut url = base.clone();
            let encoded: Vec<String> = query
                .iter()
                .map(|(k, v)| {
                    let v = sigv4::uri_encode(v, sigv4::Slash::Encode);
                    format!("{k}={v}")
                })
                .collect();
            url.set_query(Some(&encoded.join("&")));
            let request = self.signed(Method::GET, &url, &query, sigv4::UNSIGNED_PAYLOAD)?;
            let response = self.check("LIST", prefix, self.send("LIST", prefix, request)?)?;
            let text = response.text().map_err(|source| S3Error::Request {
                op: "LIST",
                url: self.shown(prefix),
                source: source.without_url(),
            })?;
            let page = s3_list::parse(&text).ok_or_else(|| S3Error::BadListing {
                url: self.shown(prefix),
            })?;
            keys.extend(page.keys);
            match page.next {
                Some(next) => token = Some(next),
                None => return Ok(keys),
            }
        }
        Ok(keys)
    }

    fn object(&self, key: &str) -> Result<Url, S3Error> {
        let text = format!("s3://{}/{key}", self.bucket);
        let location: Location = fetch_s3::parse_location(&text)?;
        Ok(fetch_s3::object_url(
            &location,
            &self.region,
            self.endpoint_url.as_deref(),
        )?)
    }

    fn signed(
        &self,
        method: Method,
        url: &Url,
        query: &[(&str, &str)],
        payload_hash: &str,
    ) -> Result<RequestBuilder, S3Error> {
        let signed = Signed {
            method: method.as_str(),
            url,
            query,
            payload_hash,
            extra: &[],
        };
        let headers = signed
            .headers(&self.creds, &self.region, SystemTime::now())
            .map_err(|name| FetchError::BadCredentials {
                url: format!("s3://{}", self.bucket),
                what: format!("the `{name}` header would hold characters HTTP does not allow"),
            })?;
        Ok(self.client.request(method, url.clone()).headers(headers))
    }

    fn send(
        &self,
        op: &'static str,
        key: &str,
        request: RequestBuilder,
    ) -> Result<Response, S3Error> {
        request.send().map_err(|source| S3Error::Request {
            op,
            url: self.shown(key),
            source: source.without_url(),
        })
    }

    fn check(&self, op: &'static str, key: &str, response: Response) -> Result<Response, S3Error> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let mut body = Vec::new();
        let _ = response.take(ERROR_BODY_MAX).read_to_end(&mut body);
        Err(S3Error::Status {
            op,
            url: self.shown(key),
            status: status.as_u16(),
            code: fetch_s3::error_code(&body),
        })
    }

    fn shown(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

/// The file's text, or None when it does not exist.
fn read_optional(path: &Path) -> Result<Option<String>, S3Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(S3Error::ReadFile {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The `region` of `profile` in an AWS config file (`[default]` or `[profile NAME]`).
fn profile_region(text: &str, profile: &str) -> Option<String> {
    let section = if profile == DEFAULT_PROFILE {
        DEFAULT_PROFILE.to_string()
    } else {
        format!("profile {profile}")
    };
    credentials::ini_section(text, &section)?
        .into_iter()
        .find(|(k, _)| k == "region")
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// The file's sha256 (hex) and length, streamed.
fn sha256_file(path: &Path) -> io::Result<(String, u64)> {
    crate::hashing::file_sha256(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::Classify;

    #[test]
    fn finds_the_profile_region() {
        let text = "[default]\nregion = eu-west-1\n[profile pub]\nregion=ap-south-1\n";
        assert_eq!(
            profile_region(text, "default").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(profile_region(text, "pub").as_deref(), Some("ap-south-1"));
        assert_eq!(profile_region(text, "other"), None);
    }

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
        assert_eq!(dest.region(), fetch_s3::DEFAULT_REGION);

        let from_env = env(vec![
            ("AWS_SHARED_CREDENTIALS_FILE", file.clone()),
            ("AWS_ACCESS_KEY_ID", "AKIAENV".into()),
            ("AWS_SECRET_ACCESS_KEY", "s".into()),
            ("AWS_REGION", "eu-north-1".into()),
        ]);
        let dest = S3Destination::from_env_with("b", &config, &from_env).unwrap();
        assert_eq!(dest.credential_source(), &CredentialSource::Environment);
        assert_eq!(dest.region(), "eu-north-1");

        let none = env(vec![("AWS_SHARED_CREDENTIALS_FILE", file)]);
        let err = S3Destination::from_env_with("b", &config, &none).unwrap_err();
        assert!(matches!(err, S3Error::NoCredentials { ref profile, .. } if profile == "default"));
        assert_eq!(err.exit(), crate::exit::Exit::Usage);
    }
}
