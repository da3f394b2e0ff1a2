//! The rustls client configuration: the `ring` provider, the Mozilla roots embedded by
//! webpki-roots, plus the PEM certificates of `--ca-file`.
//!
//! Built here rather than by reqwest because reqwest 0.13's own rustls setup reads the system
//! store, which a minimal boot image may not have. Never reads anything but `--ca-file`.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_roots_alone_make_a_config() {
        let config = client_config(None).unwrap();
        assert_eq!(config.alpn_protocols, vec![ALPN_HTTP1.to_vec()]);
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
