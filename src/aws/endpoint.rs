//! Where an AWS JSON API answers, and the names that go with a region: the service's own endpoint
//! variable, the global one, else the service's public endpoint; the partition an ARN names.
//!
//! The variables are the AWS SDKs' ("Service-specific endpoints", AWS SDKs and Tools Reference
//! Guide): `AWS_ENDPOINT_URL_<SERVICE>` — the service id upper-cased, spaces as `_`
//! (`AWS_ENDPOINT_URL_SSM`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`) — wins over `AWS_ENDPOINT_URL`,
//! and `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true` ignores both. Pure: the environment comes in
//! through a function, nothing is sent.

use reqwest::Url;

use super::is_region_name;

/// The variable naming an endpoint for every service.
pub const ENV_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
/// The variable that, set to `true`, makes both endpoint variables count for nothing.
pub const ENV_IGNORE_ENDPOINT_URLS: &str = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS";

/// One AWS service spoken with the JSON 1.1 protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// Its name in messages.
    pub shown: &'static str,
    /// The SigV4 signing name and the first label of its public host name.
    pub signing_name: &'static str,
    /// `X-Amz-Target`'s prefix, before `.Operation`.
    pub target_prefix: &'static str,
    /// `AWS_ENDPOINT_URL_<SERVICE>`.
    pub endpoint_var: &'static str,
}

/// AWS Systems Manager (Parameter Store).
pub const SSM: Service = Service {
    shown: "SSM",
    signing_name: "ssm",
    target_prefix: "AmazonSSM",
    endpoint_var: "AWS_ENDPOINT_URL_SSM",
};

/// AWS Secrets Manager.
pub const SECRETS_MANAGER: Service = Service {
    shown: "Secrets Manager",
    signing_name: "secretsmanager",
    target_prefix: "secretsmanager",
    endpoint_var: "AWS_ENDPOINT_URL_SECRETS_MANAGER",
};

/// Where requests go, and who said so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The URL requests are posted to.
    pub url: Url,
    /// The variable that named it; None for the service's public endpoint.
    pub from_var: Option<&'static str>,
}

/// An endpoint variable holds something that is not an http(s) URL, or the region is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// The variable's value is not `http(s)://host[:port][/path]`.
    #[error("{var} is not an http:// or https:// URL: {reason}")]
    BadVariable {
        /// The variable.
        var: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The region cannot go into a host name.
    #[error("`{0}` is not a region name (like eu-west-1)")]
    BadRegion(String),
}

/// The endpoint of `service` in `region`: `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`,
/// else `https://SERVICE.REGION.amazonaws.com` (`.amazonaws.com.cn` in China), looked up
/// through `env`.
pub fn resolve(
    service: &Service,
    region: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Endpoint, EndpointError> {
    let ignore = env(ENV_IGNORE_ENDPOINT_URLS).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let configured = [service.endpoint_var, ENV_ENDPOINT_URL]
        .into_iter()
        .find_map(|var| Some((var, env(var).filter(|v| !v.trim().is_empty())?)))
        .filter(|_| !ignore);
    if let Some((var, value)) = configured {
        let bad = |reason: String| EndpointError::BadVariable { var, reason };
        let url = Url::parse(value.trim()).map_err(|e| bad(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(bad("write http://host[:port] or https://host[:port]".into()));
        }
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
            return Err(bad(
                "no user, query or fragment: only scheme, host, port and path".into(),
            ));
        }
        return Ok(Endpoint {
            url,
            from_var: Some(var),
        });
    }
    if !is_region_name(region) {
        return Err(EndpointError::BadRegion(region.to_string()));
    }
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    let text = format!("https://{}.{region}.{suffix}/", service.signing_name);
    let url = Url::parse(&text).map_err(|_| EndpointError::BadRegion(region.to_string()))?;
    Ok(Endpoint {
        url,
        from_var: None,
    })
}

/// The ARN partition of `region`: `aws-cn` in China, `aws-us-gov` in GovCloud, else `aws`.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The region an ARN names (`arn:aws:ssm:eu-west-1:123456789012:parameter/x` → `eu-west-1`);
/// None for a plain name, or a region field that is empty or not a region name.
pub fn arn_region(id: &str) -> Option<&str> {
    let mut fields = id.strip_prefix("arn:")?.splitn(4, ':');
    let (_partition, _service, region) = (fields.next()?, fields.next()?, fields.next()?);
    is_region_name(region).then_some(region)
}

/// The 12-digit account id of the first ARN in `text` (`User: arn:aws:sts::123456789012:…` in
/// an access-denied message); None when there is none.
pub fn account_in(text: &str) -> Option<&str> {
    /// Digits in an AWS account id.
    const ACCOUNT_DIGITS: usize = 12;
    text.split("arn:").skip(1).find_map(|arn| {
        let account = arn.split(':').nth(3)?;
        (account.len() == ACCOUNT_DIGITS && account.bytes().all(|b| b.is_ascii_digit()))
            .then_some(account)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn public_endpoints_by_region() {
        let none = env_of(&[]);
        let ssm = resolve(&SSM, "eu-west-1", &none).unwrap();
        assert_eq!(ssm.url.as_str(), "https://ssm.eu-west-1.amazonaws.com/");
        assert_eq!(ssm.from_var, None);
        let china = resolve(&SECRETS_MANAGER, "cn-north-1", &none).unwrap();
        assert_eq!(
            china.url.as_str(),
            "https://secretsmanager.cn-north-1.amazonaws.com.cn/"
        );
        assert!(matches!(
            resolve(&SSM, "evil.com/x", &none),
            Err(EndpointError::BadRegion(_))
        ));
    }

    #[test]
    fn the_service_variable_wins_over_the_global_one_unless_ignored() {
        let both = env_of(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL_SSM", "http://127.0.0.1:2"),
        ]);
        let ssm = resolve(&SSM, "us-east-1", &both).unwrap();
        assert_eq!(ssm.url.as_str(), "http://127.0.0.1:2/");
        assert_eq!(ssm.from_var, Some("AWS_ENDPOINT_URL_SSM"));
        let secrets = resolve(&SECRETS_MANAGER, "us-east-1", &both).unwrap();
        assert_eq!(secrets.from_var, Some("AWS_ENDPOINT_URL"));
        let ignored = env_of(&[
            ("AWS_ENDPOINT_URL_SSM", "http://127.0.0.1:2"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
        ]);
        assert_eq!(resolve(&SSM, "us-east-1", &ignored).unwrap().from_var, None);
        for bad in ["ftp://h", "not a url", "http://h/?q=1", "http://u:p@h"] {
            let env = move |name: &str| (name == "AWS_ENDPOINT_URL_SSM").then(|| bad.to_string());
            assert!(
                matches!(
                    resolve(&SSM, "us-east-1", &env),
                    Err(EndpointError::BadVariable { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn names_from_arns_and_regions() {
        assert_eq!(
            arn_region("arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf"),
            Some("eu-west-1")
        );
        assert_eq!(arn_region("/team/pass"), None);
        assert_eq!(arn_region("arn:aws:ssm::1:parameter/x"), None);
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(
            account_in("User: arn:aws:sts::123456789012:assumed-role/r/i-1 is not authorized"),
            Some("123456789012")
        );
        assert_eq!(account_in("User: arn:aws:sts::12x:assumed-role/r"), None);
        assert_eq!(account_in("no arn here"), None);
    }
}
