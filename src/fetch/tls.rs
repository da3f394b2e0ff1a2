//! The rustls client configuration: the `ring` provider, the Mozilla roots embedded by
//! webpki-roots, plus the PEM certificates of `--ca-file`.
//!
//! Built here rather than by reqwest because reqwest 0.13's own rustls setup reads the system
//! store, which a minimal boot image may not have. Never reads anything but `--ca-file`.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use rustls::{CertificateError, ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use super::error::FetchError;

/// ALPN for HTTP/1.1, the only protocol this client speaks.
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// The TLS client configuration of every HTTPS request this tool makes (fetch, the publisher's
/// S3 calls, IMDS): the embedded roots plus every certificate in `ca_file` (`--ca-file`).
pub fn client_config(ca_file: Option<&Path>) -> Result<ClientConfig, FetchError> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        for cert in read_ca_file(path)? {
            roots.add(cert).map_err(|e| FetchError::CaFileInvalid {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| FetchError::TlsSetup {
            reason: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(config)
}

fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, FetchError> {
    let pem = fs::read(path).map_err(|source| FetchError::CaFileUnreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let invalid = |reason: String| FetchError::CaFileInvalid {
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(e.to_string()))?;
    if certs.is_empty() {
        return Err(invalid("no BEGIN CERTIFICATE section found".into()));
    }
    Ok(certs)
}

/// What kind of TLS failure, so the hint fits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsProblem {
    /// The certificate chains to no trusted root (or to a CA of the right name but another key).
    Untrusted,
    /// The certificate is for another host name.
    WrongName,
    /// The certificate is expired or not valid yet (or this clock is off).
    Expired,
    /// Anything else: a failed handshake, a revoked certificate, a server not speaking TLS.
    Other,
}

impl TlsProblem {
    /// Sorts a rustls error.
    pub(crate) fn of(err: &rustls::Error) -> TlsProblem {
        use CertificateError as C;
        match err {
            rustls::Error::InvalidCertificate(cert) => match cert {
                C::UnknownIssuer | C::BadSignature => TlsProblem::Untrusted,
                C::NotValidForName | C::NotValidForNameContext { .. } => TlsProblem::WrongName,
                C::Expired
                | C::ExpiredContext { .. }
                | C::NotValidYet
                | C::NotValidYetContext { .. } => TlsProblem::Expired,
                _ => TlsProblem::Other,
            },
            _ => TlsProblem::Other,
        }
    }

    /// What to do about it; `ca_file` is the `--ca-file` given, if any.
    pub(crate) fn hint(self, ca_file: Option<&Path>) -> String {
        match (self, ca_file) {
            (TlsProblem::Untrusted, None) => {
                "the certificate is not signed by a public CA: add --ca-file with the private CA \
                 that signed it"
                    .into()
            }
            (TlsProblem::Untrusted, Some(ca)) => format!(
                "the certificate is signed neither by a public CA nor by a CA in {}: check that \
                 it holds the CA that signed the server's certificate",
                ca.display()
            ),
            (TlsProblem::WrongName, _) => {
                "the certificate does not name this host: use the host name it was issued for"
                    .into()
            }
            (TlsProblem::Expired, _) => {
                "the certificate is expired or not valid yet: renew it, or sync this machine's \
                 clock (chrony/NTP)"
                    .into()
            }
            (TlsProblem::Other, _) => {
                "check that the server speaks HTTPS on that port, with a current TLS version".into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_roots_alone_make_a_config() {
        let config = client_config(None).unwrap();
        assert_eq!(config.alpn_protocols, vec![ALPN_HTTP1.to_vec()]);
    }

    #[test]
    fn hints_fit_the_problem_and_the_flags_given() {
        let unknown = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let problem = TlsProblem::of(&unknown);
        assert!(problem.hint(None).contains("add --ca-file"));
        let given = problem.hint(Some(Path::new("/etc/ca.pem")));
        assert!(!given.contains("add --ca-file") && given.contains("/etc/ca.pem"));
        let expired = rustls::Error::InvalidCertificate(CertificateError::Expired);
        assert!(TlsProblem::of(&expired).hint(None).contains("clock"));
    }

    #[test]
    fn bad_ca_files_are_configuration_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        assert!(matches!(
            client_config(Some(&missing)),
            Err(FetchError::CaFileUnreadable { .. })
        ));
        let junk = dir.path().join("junk.pem");
        fs::write(&junk, "not a certificate\n").unwrap();
        assert!(matches!(
            client_config(Some(&junk)),
            Err(FetchError::CaFileInvalid { .. })
        ));
    }
}
