//! TLS to the database: the settings a connection was given ([`Tls`]),
//! the CA bundle read and checked before any connection ([`load_ca`]), and
//! what a failed handshake means to the person who reads it
//! ([`TlsError`]).
//!
//! sqlx does the TLS (rustls, with the aws-lc-rs provider). Its modes, as
//! schemagate names them: `required` encrypts without looking at the
//! certificate; `verify-ca` checks that a CA of the bundle signed it;
//! `verify-full` also checks that it names the host connected to (the
//! subjectAltName: `DNS:` for a host name, `IP:` for an address). sqlx
//! trusts the bundle given *and* the public (webpki) roots it carries.
//!
//! A failed handshake comes back from sqlx as an I/O error holding the
//! typed `rustls::Error` (a certificate refused), or as `sqlx::Error::Tls`
//! (the server offers no TLS, the mode requires it). Both are
//! [`super::ErrorKind::Tls`]: not transient (waiting does not make a
//! certificate trusted), and decided on the type, never on the text.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, InvalidDnsNameError};
use rustls::{CertificateError, RootCertStore};

use crate::redact;

/// TLS use. `preferred` encrypts when the server offers it; `required`
/// insists on TLS without looking at the certificate; `verify-ca` checks
/// that a CA of the bundle signed the certificate; `verify-full` checks
/// that too and that it names the host connected to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    Disabled,
    #[default]
    Preferred,
    Required,
    VerifyCa,
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "disabled" | "disable" => SslMode::Disabled,
            "preferred" | "prefer" => SslMode::Preferred,
            "required" | "require" => SslMode::Required,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" | "verify-identity" => SslMode::VerifyFull,
            _ => {
                return Err(format!(
                    "unknown ssl mode `{}`; use disabled, preferred, required, verify-ca or verify-full",
                    redact::value(s)
                ))
            }
        })
    }
}

impl fmt::Display for SslMode {
    /// The name `FromStr` reads: `verify-full`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SslMode::Disabled => "disabled",
            SslMode::Preferred => "preferred",
            SslMode::Required => "required",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        })
    }
}

/// What a connection was told about TLS: kept with its options so that a
/// failure can say which bundle did not hold the server's CA.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    pub mode: SslMode,
    /// The CA bundle given (`--ssl-ca`, `SCHEMAGATE_SSL_CA`), if any.
    pub ca: Option<PathBuf>,
}

/// TLS could not be set up, or the server's side of it was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the CA bundle `{}`: {error}; give the path of a PEM file of CA certificates (CLI `--ssl-ca`, Lambda `SCHEMAGATE_SSL_CA`)", path.display())]
    CaUnreadable { path: PathBuf, error: String },
    #[error("the CA bundle `{}` holds no certificate (no `-----BEGIN CERTIFICATE-----` block); give a PEM file of CA certificates (CLI `--ssl-ca`, Lambda `SCHEMAGATE_SSL_CA`)", path.display())]
    CaEmpty { path: PathBuf },
    #[error("the CA bundle `{}`: certificate {number} cannot be used as a CA ({problem}); remove it from the bundle or give another bundle", path.display())]
    CaInvalid {
        path: PathBuf,
        /// 1 for the first certificate in the file.
        number: usize,
        problem: String,
    },
    /// The TLS handshake failed, so the password was not sent.
    #[error("cannot connect to {target}: {problem}")]
    Handshake { target: String, problem: Refused },
}

/// Why a handshake failed, as far as a person acts on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The server offers no TLS and the mode requires it.
    NoTls { mode: SslMode },
    /// No CA in the bundle (or in the public roots) signed the certificate.
    Untrusted { tls: Tls },
    /// The certificate does not name the host connected to.
    WrongName {
        host: String,
        /// The names the certificate holds, as rustls read them.
        presented: Vec<String>,
    },
    /// Expired, not yet valid, revoked, badly signed … in rustls' words.
    Certificate(String),
    /// Any other TLS failure, in rustls' (or sqlx's) words.
    Other { mode: SslMode, message: String },
}

const GIVE_CA: &str = "CLI `--ssl-ca`, Lambda `SCHEMAGATE_SSL_CA`, construct `caBundle`";

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::NoTls { mode } => write!(
                f,
                "the server does not offer TLS, and ssl mode `{mode}` requires it; check that this is the database's address (RDS always offers TLS), turn TLS on in the server, or use ssl mode `preferred` for a server without TLS"
            ),
            Refused::Untrusted { tls } => {
                let by = match &tls.ca {
                    Some(ca) => format!("the CA in `{}`", ca.display()),
                    None => "a public CA (no CA bundle was given)".into(),
                };
                write!(
                    f,
                    "the server's certificate is not signed by {by} (ssl mode `{}`): something other than the database may be answering on its address, or the bundle lacks the CA that signed it; check the host, and give the bundle that holds that CA ({GIVE_CA}); the password was not sent",
                    tls.mode
                )
            }
            Refused::WrongName { host, presented } => {
                let names = if presented.is_empty() {
                    "no name".to_string()
                } else {
                    presented
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                write!(
                    f,
                    "the server's certificate is not valid for `{host}` (it names {names}); ssl mode `verify-full` checks the name: connect by a name the certificate holds (for RDS, the endpoint's host name), or use ssl mode `verify-ca` to check the CA only; the password was not sent"
                )
            }
            Refused::Certificate(why) => write!(
                f,
                "the server's certificate cannot be trusted: {why}; renew the server's certificate, or check the machine's clock; the password was not sent"
            ),
            Refused::Other { mode, message } => write!(
                f,
                "the TLS handshake failed (ssl mode `{mode}`): {message}; check that the port is the database's and that the server's TLS is set up"
            ),
        }
    }
}

/// Reads the CA bundle at `path` and checks each certificate as a trust
/// anchor, so a wrong path or a broken file is refused before connecting
/// (sqlx would read it at each attempt, and a missing file would look like
/// a connection that may come back). Returns the PEM text.
pub fn load_ca(path: &Path) -> Result<Vec<u8>, TlsError> {
    let pem = std::fs::read(path).map_err(|e| TlsError::CaUnreadable {
        path: path.to_path_buf(),
        error: e.to_string(),
    })?;
    let mut store = RootCertStore::empty();
    let mut number = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        number += 1;
        let invalid = |problem: String| TlsError::CaInvalid {
            path: path.to_path_buf(),
            number,
            problem,
        };
        let cert = cert.map_err(|e| invalid(e.to_string()))?;
        store.add(cert).map_err(|e| invalid(e.to_string()))?;
    }
    if number == 0 {
        return Err(TlsError::CaEmpty {
            path: path.to_path_buf(),
        });
    }
    Ok(pem)
}

/// Whether a connection error is a TLS failure ([`super::ErrorKind::Tls`]).
pub fn is_tls(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Tls(_) => true,
        sqlx::Error::Io(io) => rustls_error(io).is_some(),
        _ => false,
    }
}

/// The rustls error an I/O error carries (rustls reports a refused
/// handshake as `InvalidData` wrapping its own error).
fn rustls_error(io: &std::io::Error) -> Option<&rustls::Error> {
    io.get_ref()?.downcast_ref::<rustls::Error>()
}

impl TlsError {
    /// The failed handshake `e` of a connection to `target` (`host` as
    /// connected to) with `tls`.
    pub fn handshake(target: &str, host: &str, tls: &Tls, e: &sqlx::Error) -> TlsError {
        let problem = match e {
            sqlx::Error::Io(io) => match rustls_error(io) {
                Some(rustls::Error::InvalidCertificate(c)) => certificate(c, host, tls),
                Some(other) => Refused::Other {
                    mode: tls.mode,
                    message: other.to_string(),
                },
                None => Refused::Other {
                    mode: tls.mode,
                    message: io.to_string(),
                },
            },
            // sqlx raises `Tls` with rustls' error (setting up the
            // session), with pki-types' (a host that is no DNS name), or
            // with a plain message in one case only, the CA bundle being
            // read by `load_ca` first: the server did not offer TLS and the
            // mode requires it (a message has no type to match).
            sqlx::Error::Tls(inner) => {
                if let Some(r) = inner.downcast_ref::<rustls::Error>() {
                    Refused::Other {
                        mode: tls.mode,
                        message: r.to_string(),
                    }
                } else if inner.is::<InvalidDnsNameError>() {
                    Refused::Other {
                        mode: tls.mode,
                        message: format!(
                            "`{host}` is not a valid host name to check a certificate against"
                        ),
                    }
                } else {
                    Refused::NoTls { mode: tls.mode }
                }
            }
            other => Refused::Other {
                mode: tls.mode,
                message: other.to_string(),
            },
        };
        TlsError::Handshake {
            target: target.to_string(),
            problem,
        }
    }
}

fn certificate(c: &CertificateError, host: &str, tls: &Tls) -> Refused {
    match c {
        CertificateError::UnknownIssuer => Refused::Untrusted { tls: tls.clone() },
        CertificateError::NotValidForNameContext { presented, .. } => Refused::WrongName {
            host: host.to_string(),
            presented: presented.iter().map(|n| subject_alt_name(n)).collect(),
        },
        CertificateError::NotValidForName => Refused::WrongName {
            host: host.to_string(),
            presented: Vec::new(),
        },
        other => Refused::Certificate(other.to_string()),
    }
}

/// A name the certificate holds, as webpki wrote it for rustls (its
/// `Debug`: `DnsName("db.example")`, `IpAddress(10.0.0.5)`), in the
/// subjectAltName notation people write certificates in (`DNS:db.example`,
/// `IP:10.0.0.5`). For the message only; anything else is kept as it is.
fn subject_alt_name(presented: &str) -> String {
    let inner = |prefix: &str| {
        presented
            .strip_prefix(prefix)
            .and_then(|r| r.strip_suffix(')'))
            .map(|r| r.trim_matches('"').to_string())
    };
    match (inner("DnsName("), inner("IpAddress(")) {
        (Some(dns), _) => format!("DNS:{dns}"),
        (_, Some(ip)) => format!("IP:{ip}"),
        _ => presented.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_ssl_mode_is_quoted_as_given_without_a_password() {
        let err = "mysql://u:HunTer2@h".parse::<SslMode>().unwrap_err();
        assert!(!err.to_ascii_lowercase().contains("hunter2"), "{err}");
        assert!(err.contains("`mysql://u:***@h`"), "{err}");
    }

    #[test]
    fn ssl_modes_parse() {
        assert_eq!("required".parse::<SslMode>().unwrap(), SslMode::Required);
        assert_eq!(
            "verify_full".parse::<SslMode>().unwrap(),
            SslMode::VerifyFull
        );
        assert!("maybe".parse::<SslMode>().is_err());
    }

    #[test]
    fn a_missing_or_empty_bundle_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let e = load_ca(&missing).unwrap_err();
        assert!(matches!(e, TlsError::CaUnreadable { .. }));
        assert!(
            e.to_string().starts_with(&format!(
                "cannot read the CA bundle `{}`",
                missing.display()
            )),
            "{e}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        assert_eq!(
            load_ca(&empty).unwrap_err(),
            TlsError::CaEmpty { path: empty }
        );
        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = load_ca(&broken).unwrap_err();
        assert!(matches!(e, TlsError::CaInvalid { number: 1, .. }), "{e:?}");
    }

    fn io(e: rustls::Error) -> sqlx::Error {
        sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    #[test]
    fn a_refused_certificate_is_a_tls_failure_that_waiting_does_not_cure() {
        let refused = io(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        let kind = super::super::ErrorKind::of(&refused, None, |_| unreachable!());
        assert_eq!(kind, super::super::ErrorKind::Tls);
        assert!(!kind.is_transient());
        let no_tls = sqlx::Error::Tls("server does not support TLS".into());
        assert!(is_tls(&no_tls));
        // A connection refused stays what it was: waiting may cure it.
        let refused_tcp = sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into());
        assert!(!is_tls(&refused_tcp));
    }

    #[test]
    fn each_handshake_failure_reads_as_what_to_do() {
        let tls = Tls {
            mode: SslMode::VerifyFull,
            ca: Some("/ca.pem".into()),
        };
        let problem = |e: sqlx::Error| match TlsError::handshake("t", "db.example", &tls, &e) {
            TlsError::Handshake { problem, .. } => problem,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            problem(io(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))),
            Refused::Untrusted { tls: tls.clone() }
        );
        assert_eq!(
            problem(io(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForNameContext {
                    expected: rustls::pki_types::ServerName::try_from("db.example")
                        .unwrap()
                        .to_owned(),
                    presented: vec!["DnsName(\"other.example\")".into()],
                }
            ))),
            Refused::WrongName {
                host: "db.example".into(),
                presented: vec!["DNS:other.example".into()],
            }
        );
        assert!(matches!(
            problem(io(rustls::Error::InvalidCertificate(
                CertificateError::Expired
            ))),
            Refused::Certificate(_)
        ));
        assert_eq!(
            problem(sqlx::Error::Tls("server does not support TLS".into())),
            Refused::NoTls {
                mode: SslMode::VerifyFull
            }
        );
        assert!(matches!(
            problem(sqlx::Error::Tls(Box::new(
                rustls::Error::NoCertificatesPresented
            ))),
            Refused::Other { .. }
        ));
    }

    #[test]
    fn the_names_a_certificate_holds_read_as_subject_alt_names() {
        assert_eq!(
            subject_alt_name("DnsName(\"db.example\")"),
            "DNS:db.example"
        );
        assert_eq!(subject_alt_name("IpAddress(127.0.0.1)"), "IP:127.0.0.1");
        assert_eq!(subject_alt_name("IpAddress(::1)"), "IP:::1");
        assert_eq!(subject_alt_name("DirectoryName"), "DirectoryName");
    }

    #[test]
    fn an_untrusted_certificate_names_the_bundle_and_the_way_out() {
        let tls = Tls {
            mode: SslMode::VerifyFull,
            ca: Some("/var/task/ca-bundle.pem".into()),
        };
        let e = TlsError::Handshake {
            target: "mariadb://db.example:3306/app".into(),
            problem: Refused::Untrusted { tls },
        };
        assert_eq!(
            e.to_string(),
            "cannot connect to mariadb://db.example:3306/app: the server's certificate is not signed by the CA in `/var/task/ca-bundle.pem` (ssl mode `verify-full`): something other than the database may be answering on its address, or the bundle lacks the CA that signed it; check the host, and give the bundle that holds that CA (CLI `--ssl-ca`, Lambda `SCHEMAGATE_SSL_CA`, construct `caBundle`); the password was not sent"
        );
    }
}
