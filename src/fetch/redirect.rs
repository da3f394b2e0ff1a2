//! Which redirects a fetch follows, decided before anything connects to the target.
//!
//! Web URLs follow at most [`MAX_REDIRECTS`], never from https to http (that would drop TLS for a
//! secret-bearing bundle), never to another scheme, and never to a loopback or link-local address
//! (the instance metadata service at 169.254.169.254 hands out the instance role's credentials)
//! unless the URL given was itself one of those. reqwest sends no `Referer` (the client is built
//! with it off: a presigned URL's query holds a credential and a signature) and drops
//! `Authorization` and cookies on a cross-origin hop. S3 requests follow none: their `x-amz-*`
//! headers, the session token among them, are for one host only.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use reqwest::Url;
use reqwest::redirect::{Attempt, Policy};

/// Redirects followed before giving up: enough for a CDN hop or two, not for a loop.
pub(crate) const MAX_REDIRECTS: usize = 5;
/// The instance metadata service's IPv6 address on Nitro instances: not link-local, same secrets.
const IMDS_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

/// Whether a request follows redirects at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Follow {
    /// Web URLs: those [`check`] allows.
    Checked,
    /// Signed S3 requests: none; the 3xx is reported.
    Never,
}

/// Why a redirect is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectRefusal {
    /// More than [`MAX_REDIRECTS`] hops.
    #[error("more than {MAX_REDIRECTS} redirects in a row")]
    TooMany,
    /// Not http or https (`file:`, `ftp:`, …).
    #[error("`{0}:` is not http or https")]
    Scheme(String),
    /// From https to http.
    #[error("a redirect from https to http would drop TLS")]
    Downgrade,
    /// To this machine, from a URL that was not.
    #[error("it points at this machine (a loopback address), which the URL given did not")]
    Loopback,
    /// To a link-local address (the metadata service), from a URL that was not.
    #[error(
        "it points at a link-local address (the instance metadata service lives there), which \
         the URL given did not"
    )]
    LinkLocal,
    /// Any redirect of a signed S3 request.
    #[error(
        "a signed S3 request follows no redirect: its signature and session token are for one host"
    )]
    Signed,
}

impl RedirectRefusal {
    /// What to do about it.
    pub(crate) fn hint(&self) -> String {
        match self {
            RedirectRefusal::Signed => {
                "use the bucket's own region (--region) or endpoint (--endpoint-url)".into()
            }
            RedirectRefusal::TooMany => "check the URL: the server redirects in a loop".into(),
            _ => "use the URL of the bundle itself, if you trust where it led".into(),
        }
    }
}

/// A refused redirect, carried through reqwest's error to the caller.
#[derive(Debug)]
pub(crate) struct Refused {
    /// Where the redirect pointed.
    pub target: Url,
    /// Why it is refused.
    pub why: RedirectRefusal,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No URL here: reqwest's error chain ends up in messages, and the target may be presigned.
        write!(f, "redirect refused: {}", self.why)
    }
}

impl std::error::Error for Refused {}

/// reqwest's policy for `follow`.
pub(crate) fn policy(follow: Follow) -> Policy {
    match follow {
        Follow::Never => Policy::none(),
        Follow::Checked => {
            Policy::custom(
                |attempt: Attempt<'_>| match check(attempt.previous(), attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(why) => {
                        let target = attempt.url().clone();
                        attempt.error(Refused { target, why })
                    }
                },
            )
        }
    }
}

/// Whether a redirect to `target` may be followed after the URLs in `chain` (the URL given
/// first, then every hop so far).
pub(crate) fn check(chain: &[Url], target: &Url) -> Result<(), RedirectRefusal> {
    if chain.len() > MAX_REDIRECTS {
        return Err(RedirectRefusal::TooMany);
    }
    match target.scheme() {
        "https" => {}
        "http" if chain.iter().any(|u| u.scheme() == "https") => {
            return Err(RedirectRefusal::Downgrade);
        }
        "http" => {}
        other => return Err(RedirectRefusal::Scheme(other.to_string())),
    }
    let given = chain.first().map_or(Place::Elsewhere, place);
    match place(target) {
        Place::Loopback if given != Place::Loopback => Err(RedirectRefusal::Loopback),
        Place::LinkLocal if given != Place::LinkLocal => Err(RedirectRefusal::LinkLocal),
        _ => Ok(()),
    }
}

/// Where a URL's host is, as far as redirects care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// This machine: 127.0.0.0/8, ::1, 0.0.0.0, ::, `localhost`.
    Loopback,
    /// 169.254.0.0/16, fe80::/10, and the metadata service's fd00:ec2::254.
    LinkLocal,
    /// Anywhere else.
    Elsewhere,
}

/// The URL parser has already turned every spelling of an http(s) address (`2130706433`,
/// `0x7f.1`) into dotted or bracketed form, and lower-cased host names.
fn place(url: &Url) -> Place {
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => place_v4(ip),
        Ok(IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
            Some(v4) => place_v4(v4),
            None if ip.is_loopback() || ip.is_unspecified() => Place::Loopback,
            None if ip.is_unicast_link_local() || ip == IMDS_V6 => Place::LinkLocal,
            None => Place::Elsewhere,
        },
        Err(_) => {
            // A trailing dot names the same host.
            let name = host.trim_end_matches('.');
            if name == "localhost" || name.ends_with(".localhost") {
                Place::Loopback
            } else {
                Place::Elsewhere
            }
        }
    }
}

fn place_v4(ip: Ipv4Addr) -> Place {
    if ip.is_loopback() || ip.is_unspecified() {
        Place::Loopback
    } else if ip.is_link_local() {
        Place::LinkLocal
    } else {
        Place::Elsewhere
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(list: &[&str]) -> Vec<Url> {
        list.iter().map(|u| Url::parse(u).unwrap()).collect()
    }

    fn verdict(chain: &[&str], target: &str) -> Result<(), RedirectRefusal> {
        check(&urls(chain), &Url::parse(target).unwrap())
    }

    #[test]
    fn public_urls_may_not_reach_this_machine_or_the_metadata_service() {
        let from = ["https://cdn.example.com/b.enc"];
        for target in [
            "https://127.0.0.1/x",
            "https://127.9.9.9/x",
            "https://localhost/x",
            "https://a.localhost./x",
            "https://[::1]/x",
            "https://0.0.0.0/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://2130706433/x",
        ] {
            assert_eq!(
                verdict(&from, target),
                Err(RedirectRefusal::Loopback),
                "{target}"
            );
        }
        for target in [
            "https://169.254.169.254/latest/meta-data/",
            "https://[fe80::1]/x",
            "https://[fd00:ec2::254]/x",
            "https://[::ffff:169.254.169.254]/x",
            "https://0xa9fea9fe/x",
        ] {
            assert_eq!(
                verdict(&from, target),
                Err(RedirectRefusal::LinkLocal),
                "{target}"
            );
        }
        assert_eq!(verdict(&from, "https://other.example.net/b.enc"), Ok(()));
        assert_eq!(verdict(&from, "https://10.0.0.5/b.enc"), Ok(()));
    }

    #[test]
    fn a_url_given_on_this_machine_may_stay_there() {
        let local = ["http://127.0.0.1:8080/b.enc"];
        assert_eq!(verdict(&local, "http://127.0.0.1:9090/c.enc"), Ok(()));
        assert_eq!(verdict(&local, "http://localhost/c.enc"), Ok(()));
        assert_eq!(
            verdict(&local, "http://169.254.169.254/"),
            Err(RedirectRefusal::LinkLocal)
        );
        let imds = ["http://169.254.169.254/latest/user-data"];
        assert_eq!(verdict(&imds, "http://169.254.169.254/other"), Ok(()));
        assert_eq!(
            verdict(&imds, "http://127.0.0.1/"),
            Err(RedirectRefusal::Loopback)
        );
        // What counts is the URL given, not a hop on the way.
        let hop = ["https://example.com/a", "http://127.0.0.1/b"];
        assert_eq!(
            verdict(&hop, "https://127.0.0.1/c"),
            Err(RedirectRefusal::Loopback)
        );
    }

    #[test]
    fn no_downgrades_other_schemes_or_loops() {
        assert_eq!(
            verdict(&["https://a.example/b"], "http://a.example/b"),
            Err(RedirectRefusal::Downgrade)
        );
        assert_eq!(
            verdict(
                &["https://a.example/b", "https://c.example/"],
                "http://d.example/"
            ),
            Err(RedirectRefusal::Downgrade)
        );
        assert_eq!(
            verdict(&["http://a.example/b"], "https://a.example/b"),
            Ok(())
        );
        assert_eq!(
            verdict(&["http://a.example/b"], "ftp://a.example/b"),
            Err(RedirectRefusal::Scheme("ftp".into()))
        );
        let long = ["http://a.example/"; MAX_REDIRECTS + 1];
        assert_eq!(
            verdict(&long, "http://a.example/"),
            Err(RedirectRefusal::TooMany)
        );
        assert_eq!(verdict(&long[..MAX_REDIRECTS], "http://a.example/"), Ok(()));
    }
}
