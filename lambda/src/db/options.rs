//! Connection options for MariaDB/MySQL and PostgreSQL, built from a URL
//! (CLI) or from an RDS-format secret (Lambda), with their TLS settings
//! ([`super::tls`]). The password lives only in sqlx's options, never in a
//! string that could be logged.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use sqlx::mysql::{MySqlConnectOptions, MySqlSslMode};
use sqlx::postgres::{PgConnectOptions, PgSslMode};

use super::error::DbError;
use super::tls::{self, SslMode, Tls};
use crate::redact;

/// The URL schemes `from_url` reads.
const SCHEMES: [&str; 4] = ["mysql", "mariadb", "postgresql", "postgres"];

/// Which SQL dialect and protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// MariaDB or MySQL.
    MariaDb,
    Postgres,
}

impl Kind {
    /// The SQL dialect of the migrations this engine runs.
    pub fn dialect(self) -> crate::dialect::Dialect {
        match self {
            Kind::MariaDb => crate::dialect::Dialect::MariaDb,
            Kind::Postgres => crate::dialect::Dialect::Postgres,
        }
    }

    /// The port the engine listens on unless told otherwise.
    pub fn default_port(self) -> u16 {
        match self {
            Kind::MariaDb => 3306,
            Kind::Postgres => 5432,
        }
    }

    /// From an RDS secret's `engine` field (`mariadb`, `mysql`, `aurora-mysql`,
    /// `postgres`, `aurora-postgresql`).
    pub fn from_engine(engine: &str) -> Option<Kind> {
        let e = engine.to_ascii_lowercase();
        if e.contains("maria") || e.contains("mysql") {
            Some(Kind::MariaDb)
        } else if e.contains("postgres") {
            Some(Kind::Postgres)
        } else {
            None
        }
    }
}

/// Where to connect, with credentials, and how ([`Tls`]).
#[derive(Clone)]
pub struct ConnectOptions {
    server: Server,
    tls: Tls,
}

/// The engine's own options (sqlx's).
#[derive(Clone)]
pub enum Server {
    MariaDb(MySqlConnectOptions),
    Postgres(PgConnectOptions),
}

impl From<Server> for ConnectOptions {
    /// TLS as the options say (a URL's `ssl-mode`/`sslmode`), no bundle.
    fn from(server: Server) -> Self {
        let mode = match &server {
            Server::MariaDb(o) => match o.get_ssl_mode() {
                MySqlSslMode::Disabled => SslMode::Disabled,
                MySqlSslMode::Preferred => SslMode::Preferred,
                MySqlSslMode::Required => SslMode::Required,
                MySqlSslMode::VerifyCa => SslMode::VerifyCa,
                MySqlSslMode::VerifyIdentity => SslMode::VerifyFull,
            },
            Server::Postgres(o) => match o.get_ssl_mode() {
                PgSslMode::Disable => SslMode::Disabled,
                PgSslMode::Allow | PgSslMode::Prefer => SslMode::Preferred,
                PgSslMode::Require => SslMode::Required,
                PgSslMode::VerifyCa => SslMode::VerifyCa,
                PgSslMode::VerifyFull => SslMode::VerifyFull,
            },
        };
        ConnectOptions {
            server,
            tls: Tls { mode, ca: None },
        }
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the password.
        write!(f, "ConnectOptions({self})")
    }
}

impl fmt::Display for ConnectOptions {
    /// `mariadb://host:port/db` — no user, no password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.server {
            Server::MariaDb(o) => write!(
                f,
                "mariadb://{}:{}/{}",
                o.get_host(),
                o.get_port(),
                o.get_database().unwrap_or("")
            ),
            Server::Postgres(o) => write!(
                f,
                "postgres://{}:{}/{}",
                o.get_host(),
                o.get_port(),
                o.get_database().unwrap_or("")
            ),
        }
    }
}

/// The parts of an RDS secret (or of a URL) that make a connection.
pub struct Parts<'a> {
    pub kind: Kind,
    pub host: &'a str,
    pub port: u16,
    pub username: &'a str,
    pub password: &'a str,
    pub database: &'a str,
}

impl ConnectOptions {
    /// From `mysql://`, `mariadb://` or `postgres://` URLs. A malformed URL
    /// is refused with the URL shown without its password (however it is
    /// malformed) and the form to write it in.
    pub fn from_url(url: &str) -> Result<Self, DbError> {
        let shown = redact::value(url);
        let bad = |why: &str| DbError::Url(format!("`{shown}`: {why}"));
        let Some((scheme, rest)) = url.split_once("://") else {
            // `u:p@h/db`, `mysql:/u:p@h/db`, `mysql//u:p@h/db`.
            let known = SCHEMES.iter().find_map(|s| {
                let tail = url.strip_prefix(s)?;
                tail.starts_with([':', '/'])
                    .then(|| format!("{s}://{}", tail.trim_start_matches([':', '/'])))
            });
            let fixed = known.unwrap_or_else(|| format!("mysql://{url}"));
            return Err(bad(&format!(
                "it does not start with `mysql://`, `mariadb://` or `postgres://`; write it as `{}`",
                redact::value(&fixed)
            )));
        };
        if !SCHEMES.contains(&scheme) {
            return Err(bad("use mysql://, mariadb:// or postgres://"));
        }
        // `mysql:///u:p@h/db` (a slash too many) or a password holding `/` or
        // `#`: sqlx would read the credentials as the database name, and the
        // server would quote it back in its error.
        let after_host = rest.find(['/', '?', '#']).map_or("", |i| &rest[i..]);
        let path_and_fragment = match after_host.find('?') {
            Some(q) => {
                let (path, query) = after_host.split_at(q);
                format!("{path}{}", query.find('#').map_or("", |h| &query[h..]))
            }
            None => after_host.to_string(),
        };
        if path_and_fragment.contains('@') {
            return Err(bad(&format!(
                "the part after the host holds `@`: write two slashes after `{scheme}:`, and percent-encode a `/`, `?`, `#` or `@` in the password (`%2F`, `%3F`, `%23`, `%40`)"
            )));
        }
        let with_hint = |e: sqlx::Error| {
            if rest.contains('@') {
                bad(&format!("{e}; a `/`, `?`, `#`, `:` or `@` in the password must be percent-encoded (`%2F`, `%3F`, `%23`, `%3A`, `%40`)"))
            } else {
                bad(&e.to_string())
            }
        };
        match scheme {
            "mysql" | "mariadb" => MySqlConnectOptions::from_str(&format!("mysql://{rest}"))
                .map(|o| ConnectOptions::from(Server::MariaDb(o)).quiet())
                .map_err(with_hint),
            _ => PgConnectOptions::from_str(url)
                .map(|o| ConnectOptions::from(Server::Postgres(o)).quiet())
                .map_err(with_hint),
        }
    }

    /// sqlx's own statement logs off: the engine logs each migration with
    /// its timing, and a slow-statement warning would repeat a whole script.
    fn quiet(self) -> Self {
        use sqlx::ConnectOptions as _;
        self.map(
            |o| o.disable_statement_logging(),
            |o| o.disable_statement_logging(),
        )
    }

    /// The same options with the engine's changed by `my` or `pg`.
    fn map(
        self,
        my: impl FnOnce(MySqlConnectOptions) -> MySqlConnectOptions,
        pg: impl FnOnce(PgConnectOptions) -> PgConnectOptions,
    ) -> Self {
        let server = match self.server {
            Server::MariaDb(o) => Server::MariaDb(my(o)),
            Server::Postgres(o) => Server::Postgres(pg(o)),
        };
        ConnectOptions { server, ..self }
    }

    pub fn from_parts(p: &Parts<'_>) -> Self {
        // An empty password means none: sqlx would otherwise scramble "" and
        // the server would see a (wrong) password.
        match p.kind {
            Kind::MariaDb => {
                let o = MySqlConnectOptions::new()
                    .host(p.host)
                    .port(p.port)
                    .username(p.username)
                    .database(p.database);
                ConnectOptions::from(Server::MariaDb(if p.password.is_empty() {
                    o
                } else {
                    o.password(p.password)
                }))
                .quiet()
            }
            Kind::Postgres => {
                let o = PgConnectOptions::new_without_pgpass()
                    .host(p.host)
                    .port(p.port)
                    .username(p.username)
                    .database(p.database);
                ConnectOptions::from(Server::Postgres(if p.password.is_empty() {
                    o
                } else {
                    o.password(p.password)
                }))
                .quiet()
            }
        }
    }

    /// The engine's own options, to connect with.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The TLS settings the connection was given.
    pub fn tls(&self) -> &Tls {
        &self.tls
    }

    pub fn kind(&self) -> Kind {
        match self.server {
            Server::MariaDb(_) => Kind::MariaDb,
            Server::Postgres(_) => Kind::Postgres,
        }
    }

    pub fn database(&self) -> &str {
        match &self.server {
            Server::MariaDb(o) => o.get_database().unwrap_or(""),
            Server::Postgres(o) => o.get_database().unwrap_or(""),
        }
    }

    pub fn host(&self) -> &str {
        match &self.server {
            Server::MariaDb(o) => o.get_host(),
            Server::Postgres(o) => o.get_host(),
        }
    }

    pub fn port(&self) -> u16 {
        match &self.server {
            Server::MariaDb(o) => o.get_port(),
            Server::Postgres(o) => o.get_port(),
        }
    }

    /// Use another database on the same server.
    pub fn with_database(self, database: &str) -> Self {
        self.map(|o| o.database(database), |o| o.database(database))
    }

    /// TLS in `mode`, trusting the CA bundle `ca` (and the public roots)
    /// for `verify-ca`/`verify-full`. The bundle is read and checked now,
    /// whatever the mode: a wrong path is refused before connecting, not
    /// found out at each attempt.
    pub fn with_ssl(self, mode: SslMode, ca: Option<PathBuf>) -> Result<Self, DbError> {
        let pem = ca.as_deref().map(tls::load_ca).transpose()?;
        let server = match self.server {
            Server::MariaDb(o) => {
                let o = o.ssl_mode(match mode {
                    SslMode::Disabled => MySqlSslMode::Disabled,
                    SslMode::Preferred => MySqlSslMode::Preferred,
                    SslMode::Required => MySqlSslMode::Required,
                    SslMode::VerifyCa => MySqlSslMode::VerifyCa,
                    SslMode::VerifyFull => MySqlSslMode::VerifyIdentity,
                });
                Server::MariaDb(match pem {
                    Some(pem) => o.ssl_ca_from_pem(pem),
                    None => o,
                })
            }
            Server::Postgres(o) => {
                let o = o.ssl_mode(match mode {
                    SslMode::Disabled => PgSslMode::Disable,
                    SslMode::Preferred => PgSslMode::Prefer,
                    SslMode::Required => PgSslMode::Require,
                    SslMode::VerifyCa => PgSslMode::VerifyCa,
                    SslMode::VerifyFull => PgSslMode::VerifyFull,
                });
                Server::Postgres(match pem {
                    Some(pem) => o.ssl_root_cert_from_pem(pem),
                    None => o,
                })
            }
        };
        Ok(ConnectOptions {
            server,
            tls: Tls { mode, ca },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_debug_never_show_the_password() {
        let o = ConnectOptions::from_url("mysql://app:s3cr3t@db.example:3307/shop").unwrap();
        assert_eq!(o.to_string(), "mariadb://db.example:3307/shop");
        assert!(!format!("{o:?}").contains("s3cr3t"));
        assert_eq!(o.kind(), Kind::MariaDb);
        assert_eq!(o.database(), "shop");
    }

    #[test]
    fn url_errors_redact_the_password() {
        let err = ConnectOptions::from_url("oracle://u:hunter2@h/db")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("u:***@h/db"), "{err}");
    }

    #[test]
    fn malformed_urls_are_refused_without_the_password_and_with_the_form_to_use() {
        for (url, says) in [
            (
                "u:hunter2@127.0.0.1:3307/rt1",
                "write it as `mysql://u:***@127.0.0.1:3307/rt1`",
            ),
            (
                "mysql:/u:hunter2@127.0.0.1:3307/rt1",
                "write it as `mysql://u:***@127.0.0.1:3307/rt1`",
            ),
            (
                "mysql//u:hunter2@127.0.0.1:3307/rt1",
                "write it as `mysql://u:***@127.0.0.1:3307/rt1`",
            ),
            (
                "postgres:u:hunter2@h/db",
                "it does not start with `mysql://`, `mariadb://` or `postgres://`; write it as `postgres://u:***@h/db`",
            ),
            ("mysql:///u:hunter2@h/db", "write two slashes after `mysql:`"),
            ("mysql://u:hun/ter2@h/db", "percent-encode a `/`"),
            ("mysql://u:hun#ter2@h/db", "percent-encode a `/`"),
            ("mysql://u:hunter2@h:99999/db", "must be percent-encoded"),
            ("postgres://u:%68unter2@h:99999/db", "invalid port number"),
        ] {
            let err = ConnectOptions::from_url(url).unwrap_err();
            assert!(matches!(err, DbError::Url(_)));
            let err = err.to_string();
            for secret in ["hunter2", "hun/ter2", "hun#ter2", "%68unter2", "unter2", "ter2"] {
                assert!(!err.contains(secret), "{url}: {err}");
            }
            assert!(err.contains(says), "{url}: {err}");
        }
    }

    #[test]
    fn well_formed_urls_still_parse() {
        let o = ConnectOptions::from_url("mysql://u:p%40ss@h:3307/db").unwrap();
        assert_eq!((o.host(), o.port(), o.database()), ("h", 3307, "db"));
        // The userinfo ends at the last `@`, as in a browser.
        let o = ConnectOptions::from_url("mariadb://u:p@ss@h/db").unwrap();
        assert_eq!((o.host(), o.database()), ("h", "db"));
        let o =
            ConnectOptions::from_url("postgres:///db?host=/run/postgresql&application_name=a@b")
                .unwrap();
        assert_eq!(o.database(), "db");
    }

    #[test]
    fn the_tls_settings_stay_with_the_options() {
        let o = ConnectOptions::from_url("mysql://u:p@h/db?ssl-mode=REQUIRED").unwrap();
        assert_eq!(
            o.tls(),
            &Tls {
                mode: SslMode::Required,
                ca: None
            }
        );
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("ca.pem");
        let err = o
            .clone()
            .with_ssl(SslMode::VerifyFull, Some(missing.clone()))
            .expect_err("a missing bundle is refused");
        assert!(matches!(
            err,
            DbError::Tls(tls::TlsError::CaUnreadable { .. })
        ));
        let o = o.with_ssl(SslMode::Disabled, None).unwrap();
        assert_eq!(o.tls().mode, SslMode::Disabled);
        assert_eq!(o.to_string(), "mariadb://h:3306/db");
    }

    #[test]
    fn engines_from_rds_secrets() {
        assert_eq!(Kind::from_engine("mariadb"), Some(Kind::MariaDb));
        assert_eq!(Kind::from_engine("aurora-mysql"), Some(Kind::MariaDb));
        assert_eq!(Kind::from_engine("aurora-postgresql"), Some(Kind::Postgres));
        assert_eq!(Kind::from_engine("oracle-ee"), None);
    }
}
