//! `--pass ssm:NAME` and `--pass secretsmanager:ID`: the passphrase read from AWS at the moment
//! it is needed — SSM Parameter Store's `GetParameter` (decrypted) or Secrets Manager's
//! `GetSecretValue` — so an instance needs no `aws` CLI and no passphrase in its environment.
//!
//! Who signs and where: the `AWS_*` variables, else the instance role through IMDSv2; the region
//! of an ARN, else `--region`, `AWS_REGION`, `AWS_DEFAULT_REGION`, IMDS, `us-east-1`; the endpoint
//! from `AWS_ENDPOINT_URL_SSM` / `AWS_ENDPOINT_URL_SECRETS_MANAGER` / `AWS_ENDPOINT_URL`, else
//! AWS's own (`crate::aws` builds and reads; this file sends). The calls go through fetch's HTTP
//! client (TLS roots, `--ca-file`, timeouts) and are retried on connection errors, throttling and
//! 5xx within `--retry-for`; a refusal is final. The value lives in zeroized memory (the answer
//! is read into a buffer reserved up front, so it is never copied by a reallocation) and never
//! reaches a log or an error; only its source does.

use std::io::Read as _;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::blocking::Client;
use reqwest::header::RETRY_AFTER;
use zeroize::Zeroizing;

use crate::aws::credentials::{CredentialSource, Credentials};
use crate::aws::endpoint::{self, Endpoint, SECRETS_MANAGER, SSM, Service};
use crate::aws::error::ERROR_BODY_MAX;
use crate::aws::json::{ApiError, BadHeader, JsonRequest, Meaning};
use crate::aws::{resolve, secrets, ssm};
use crate::errchain::{self, root_cause};
use crate::fetch::retry::{self, Backoff, Budget, Step};
use crate::fetch::{self, FetchError, FetchOptions, TlsProblem};

use super::cloud_error::CloudError;

/// How an attempt failed (the error boxed: it is large, and the `Ok` side small).
type Failed = Step<Box<CloudError>>;

/// The largest answer read: a secret is at most 64 KiB, and JSON escaping may grow it.
const ANSWER_MAX: usize = 256 * 1024;
/// The shortest time one attempt is given, however little of the budget is left.
const MIN_ATTEMPT: Duration = Duration::from_secs(1);
/// The label of this part's log lines.
const LABEL: &str = "passphrase";

/// Where in AWS a passphrase is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// SSM Parameter Store (`ssm:NAME`), a SecureString decrypted on the way.
    Ssm,
    /// Secrets Manager (`secretsmanager:ID`), a SecretString.
    SecretsManager,
}

impl Store {
    /// The `--pass` prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            Store::Ssm => "ssm",
            Store::SecretsManager => "secretsmanager",
        }
    }

    /// "SSM parameter NAME" / "Secrets Manager secret ID", for messages.
    pub fn thing(self, id: &str) -> String {
        match self {
            Store::Ssm => format!("SSM parameter {id}"),
            Store::SecretsManager => format!("Secrets Manager secret {id}"),
        }
    }

    /// "parameter" / "secret".
    fn noun(self) -> &'static str {
        match self {
            Store::Ssm => "parameter",
            Store::SecretsManager => "secret",
        }
    }

    fn service(self) -> &'static Service {
        match self {
            Store::Ssm => &SSM,
            Store::SecretsManager => &SECRETS_MANAGER,
        }
    }

    /// The IAM action a read needs.
    pub fn permission(self) -> &'static str {
        match self {
            Store::Ssm => ssm::PERMISSION,
            Store::SecretsManager => secrets::PERMISSION,
        }
    }

    /// The resource ARN the permission must cover.
    fn arn(self, id: &str, region: &str, account: Option<&str>) -> String {
        match self {
            Store::Ssm => ssm::parameter_arn(id, region, account),
            Store::SecretsManager => secrets::secret_arn(id, region, account),
        }
    }

    fn check(self, id: &str) -> Result<(), String> {
        match self {
            Store::Ssm => ssm::check_name(id),
            Store::SecretsManager => secrets::check_id(id),
        }
    }

    fn request(
        self,
        id: &str,
        endpoint: &Endpoint,
        region: &str,
        creds: &Credentials,
    ) -> Result<JsonRequest, BadHeader> {
        let now = SystemTime::now();
        match self {
            Store::Ssm => ssm::get_parameter(id, &endpoint.url, region, creds, now),
            Store::SecretsManager => {
                secrets::get_secret_value(id, &endpoint.url, region, creds, now)
            }
        }
    }

    fn meaning(self, err: &ApiError) -> Meaning {
        match self {
            Store::Ssm => err.meaning(ssm::NOT_FOUND, ssm::KMS),
            Store::SecretsManager => err.meaning(secrets::NOT_FOUND, secrets::KMS),
        }
    }
}

/// One read: what, where, and who signs.
struct Call<'a> {
    store: Store,
    id: &'a str,
    region: String,
    endpoint: Endpoint,
    creds: Credentials,
    signer: String,
    client: Client,
    budget: Budget,
}

/// Reads the passphrase kept at `id` in `store`, reaching AWS as `net` says (`s3.region`,
/// `s3.imds_endpoint`, `ca_file`, timeouts, `retry_for` and backoff; its shared deadline is not
/// used: this is another service, with a budget of its own), looking variables up through `env`.
/// Trailing line breaks are dropped, as `$(aws ssm get-parameter …)` dropped them.
pub(super) fn read(
    store: Store,
    id: &str,
    net: &FetchOptions,
    env: &dyn Fn(&str) -> Option<String>,
    log: &mut dyn FnMut(&str),
) -> Result<Zeroizing<Vec<u8>>, CloudError> {
    let thing = store.thing(id);
    store.check(id).map_err(|why| CloudError::BadId {
        thing: thing.clone(),
        why,
    })?;
    let net_err = |source| CloudError::Net {
        thing: thing.clone(),
        source,
    };
    let tls = fetch::tls_config(net.ca_file.as_deref()).map_err(net_err)?;
    let found = resolve::find(
        endpoint::arn_region(id).or(net.s3.region.as_deref()),
        &net.s3.imds_endpoint,
        env,
        tls.clone(),
        LABEL,
        log,
    );
    let Some((creds, source)) = found.signer else {
        return Err(CloudError::NoCredentials {
            thing,
            permission: store.permission(),
        });
    };
    let region = found.region.unwrap_or_else(|| {
        log(&format!(
            "{LABEL}: no region from --region, AWS_REGION, AWS_DEFAULT_REGION or IMDS: using {}",
            crate::aws::DEFAULT_REGION
        ));
        crate::aws::DEFAULT_REGION.to_string()
    });
    let endpoint = endpoint::resolve(store.service(), &region, env).map_err(|source| {
        CloudError::Endpoint {
            thing: thing.clone(),
            source,
        }
    })?;
    let signer = signer_text(&creds, &source);
    log(&format!(
        "{LABEL}: {thing} in {region} at {}{}, signed with {signer}",
        endpoint.url,
        endpoint
            .from_var
            .map(|v| format!(" ({v})"))
            .unwrap_or_default()
    ));
    let client = fetch::client(tls, net, fetch::Follow::Never).map_err(net_err)?;
    let read = Call {
        store,
        id,
        region,
        endpoint,
        creds,
        signer,
        client,
        budget: Budget::until(retry::deadline_after(net.retry_for)),
    };
    let backoff = Backoff {
        start: net.backoff_start,
        max: net.backoff_max,
    };
    let (mut text, kind) = retry::run(
        &read.budget,
        backoff,
        LABEL,
        log,
        || read.attempt(net),
        |attempts, last| {
            Box::new(CloudError::GaveUp {
                thing: thing.clone(),
                endpoint: read.endpoint.url.to_string(),
                attempts,
                retry_for: net.retry_for,
                last,
            })
        },
    )
    .map_err(|e| *e)?;
    if store == Store::Ssm && !kind.is_empty() && kind != ssm::SECURE_STRING {
        log(&format!(
            "{LABEL}: warning: SSM parameter {id} is a {kind}, not a SecureString: it is stored \
             unencrypted"
        ));
    }
    while text.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
        text.pop();
    }
    Ok(text)
}

/// A final failure.
fn fatal(e: CloudError) -> Failed {
    Step::Fatal(Box::new(e))
}

/// `AKIA… from SOURCE`: who signs, safe for messages.
fn signer_text(creds: &Credentials, source: &CredentialSource) -> String {
    format!("{} from {source}", creds.shown_key_id())
}

impl Call<'_> {
    /// One `POST`: the value (and an SSM parameter's type), a retryable failure, or a final
    /// refusal.
    fn attempt(&self, net: &FetchOptions) -> Result<(Zeroizing<Vec<u8>>, String), Failed> {
        let thing = self.store.thing(self.id);
        let request = self
            .store
            .request(self.id, &self.endpoint, &self.region, &self.creds)
            .map_err(|e| fatal(CloudError::Header { thing, source: e }))?;
        let shown = self.endpoint.url.to_string();
        let response = self
            .client
            .post(request.url)
            .headers(request.headers)
            .body(request.body)
            .timeout(net.stall_timeout.min(self.budget.left()).max(MIN_ATTEMPT))
            .send()
            .map_err(|e| self.send_failure(&e, net))?;
        let status = response.status();
        let headers = response.headers().clone();
        // Reserved up front: the answer holds the secret, and a growing Vec would leave copies.
        let mut body = Zeroizing::new(Vec::with_capacity(ANSWER_MAX + 1));
        response
            .take(ANSWER_MAX as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| Step::retry(format!("the answer from {shown} was cut: {e}")))?;
        if status == StatusCode::OK {
            return self.value(&body);
        }
        let err = ApiError::read(
            status,
            &headers,
            &body[..body.len().min(ERROR_BODY_MAX as usize)],
        );
        match self.store.meaning(&err) {
            Meaning::Throttled | Meaning::ServiceFailed => Err(Step::Retry {
                what: format!("{} from {shown}", err.shown()),
                retry_after: headers
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(retry::parse_retry_after),
            }),
            meaning => Err(fatal(self.refused(meaning, err))),
        }
    }

    /// The value in a 200 answer, and an SSM parameter's type (else empty).
    fn value(&self, body: &[u8]) -> Result<(Zeroizing<Vec<u8>>, String), Failed> {
        let bad = |why: String| {
            fatal(CloudError::BadAnswer {
                thing: self.store.thing(self.id),
                endpoint: self.endpoint.url.to_string(),
                why,
            })
        };
        if body.len() > ANSWER_MAX {
            return Err(bad(format!("more than {ANSWER_MAX} bytes")));
        }
        let (text, kind) = match self.store {
            Store::Ssm => {
                let value = ssm::value_of(body).map_err(bad)?;
                (value.text, value.kind)
            }
            Store::SecretsManager => {
                let text = secrets::value_of(body).map_err(|e| match e {
                    secrets::NoText::Binary => fatal(CloudError::Binary {
                        id: self.id.to_string(),
                    }),
                    secrets::NoText::Unreadable(why) => bad(why),
                })?;
                (text, String::new())
            }
        };
        let mut bytes = Zeroizing::new(Vec::with_capacity(text.len()));
        bytes.extend_from_slice(text.as_bytes());
        Ok((bytes, kind))
    }

    /// The error for a final refusal.
    fn refused(&self, meaning: Meaning, err: ApiError) -> CloudError {
        let thing = self.store.thing(self.id);
        match meaning {
            Meaning::NotFound => CloudError::NotFound {
                noun: self.store.noun(),
                id: self.id.to_string(),
                region: self.region.clone(),
                endpoint: self.endpoint.url.to_string(),
            },
            Meaning::Denied { kms } => {
                let arn = self
                    .store
                    .arn(self.id, &self.region, endpoint::account_in(&err.message));
                CloudError::Denied {
                    thing,
                    region: self.region.clone(),
                    signer: self.signer.clone(),
                    needs: if kms {
                        format!("kms:Decrypt on the KMS key that encrypts {arn}")
                    } else {
                        format!("{} on {arn}", self.store.permission())
                    },
                    kms,
                    store: self.store,
                    said: err.shown(),
                }
            }
            Meaning::Credentials(code) => CloudError::Credentials {
                thing,
                endpoint: self.endpoint.url.to_string(),
                signer: self.signer.clone(),
                code,
                said: err.shown(),
            },
            _ => CloudError::Refused {
                thing,
                endpoint: self.endpoint.url.to_string(),
                said: err.shown(),
            },
        }
    }

    /// A request that got no answer: a TLS failure is final, the rest is retried.
    fn send_failure(&self, err: &reqwest::Error, net: &FetchOptions) -> Failed {
        let shown = self.endpoint.url.to_string();
        if let Some(tls) = errchain::find::<rustls::Error>(err) {
            return fatal(CloudError::Net {
                thing: self.store.thing(self.id),
                source: FetchError::Tls {
                    url: shown,
                    reason: tls.to_string(),
                    problem: TlsProblem::of(tls),
                    ca_file: net.ca_file.clone(),
                },
            });
        }
        if err.is_timeout() {
            return Step::retry(format!("no answer from {shown} in time"));
        }
        Step::retry(format!("cannot reach {shown}: {}", root_cause(err)))
    }
}
