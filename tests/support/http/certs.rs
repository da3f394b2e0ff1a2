//! A test CA and a server certificate made by the real `openssl`, for the HTTPS tests.

use std::path::{Path, PathBuf};

/// A test CA and a server certificate for 127.0.0.1 and localhost, made by the real `openssl`.
pub struct Certs {
    /// The CA certificate (PEM): what `--ca-file` takes.
    pub ca: PathBuf,
    /// The server certificate (PEM), signed by the CA.
    pub cert: PathBuf,
    /// The server's private key (PEM).
    pub key: PathBuf,
}

/// Writes a fresh CA and server certificate into `dir` with `openssl` (P-256 keys: fast).
pub fn make_certs(dir: &Path) -> Certs {
    let at = |name: &str| dir.join(name);
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    super::super::run(
        super::super::tool("openssl")
            .args(["req", "-x509"])
            .args(ec)
            .args([
                "-days",
                "2",
                "-subj",
                "/CN=startup-bundle test CA",
                "-keyout",
            ])
            .arg(at("ca.key"))
            .arg("-out")
            .arg(at("ca.pem")),
    )
    .ok();
    super::super::run(
        super::super::tool("openssl")
            .args(["req", "-new"])
            .args(ec)
            .args(["-subj", "/CN=localhost", "-keyout"])
            .arg(at("server.key"))
            .arg("-out")
            .arg(at("server.csr")),
    )
    .ok();
    std::fs::write(
        at("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write the extension file");
    super::super::run(
        super::super::tool("openssl")
            .args(["x509", "-req", "-days", "2", "-set_serial", "2", "-in"])
            .arg(at("server.csr"))
            .arg("-CA")
            .arg(at("ca.pem"))
            .arg("-CAkey")
            .arg(at("ca.key"))
            .arg("-extfile")
            .arg(at("server.ext"))
            .arg("-out")
            .arg(at("server.pem")),
    )
    .ok();
    Certs {
        ca: at("ca.pem"),
        cert: at("server.pem"),
        key: at("server.key"),
    }
}
