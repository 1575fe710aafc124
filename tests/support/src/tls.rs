//! Throw-away certificate authorities for the TLS tests, made with the
//! `openssl` command line: a CA of the test's own, and server certificates
//! it signs for the names a test asks (`IP:127.0.0.1`, `DNS:localhost`).
//! Nothing here is trusted by anything but the test that made it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A certificate authority of the test's own: its key and self-signed
/// certificate in a temporary folder, removed when dropped.
pub struct TestCa {
    dir: tempfile::TempDir,
    /// The CA's certificate (PEM): what a client is given to trust.
    pub pem: PathBuf,
    key: PathBuf,
}

/// A server certificate and its key (PEM files).
pub struct ServerCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCa {
    /// A new CA named `name` (its common name), valid for two days.
    pub fn new(name: &str) -> TestCa {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("ca-key.pem");
        let pem = dir.path().join("ca.pem");
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            &key.to_string_lossy(),
            "-out",
            &pem.to_string_lossy(),
        ]);
        TestCa { dir, pem, key }
    }

    /// The CA certificate as text.
    pub fn pem_text(&self) -> String {
        std::fs::read_to_string(&self.pem).unwrap()
    }

    /// A server certificate for `names` (subjectAltName entries such as
    /// `IP:127.0.0.1`, `DNS:localhost`), signed by this CA, written as
    /// `server-cert.pem` and `server-key.pem` into `dir`.
    pub fn issue(&self, dir: &Path, names: &[&str]) -> ServerCert {
        let cert = dir.join("server-cert.pem");
        let key = dir.join("server-key.pem");
        let csr = dir.join("server.csr");
        let ext = dir.join("server.ext");
        std::fs::write(
            &ext,
            format!(
                "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName={}\n",
                names.join(",")
            ),
        )
        .unwrap();
        openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            "/CN=schemagate test server",
            "-keyout",
            &key.to_string_lossy(),
            "-out",
            &csr.to_string_lossy(),
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &csr.to_string_lossy(),
            "-CA",
            &self.pem.to_string_lossy(),
            "-CAkey",
            &self.key.to_string_lossy(),
            "-CAcreateserial",
            "-CAserial",
            &self.dir.path().join("ca.srl").to_string_lossy(),
            "-days",
            "2",
            "-extfile",
            &ext.to_string_lossy(),
            "-out",
            &cert.to_string_lossy(),
        ]);
        ServerCert { cert, key }
    }
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("the openssl command is missing ({e}); install it: `apt-get install openssl`")
        });
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}
