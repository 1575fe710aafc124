//! The database layer's errors: failing to connect or to run a statement
//! ([`DbError`]), and what kind of failure the server reported
//! ([`ErrorKind`]), which is what the engine decides on — never the text
//! of a message. Each engine maps its own error numbers (MariaDB) or
//! SQLSTATEs (PostgreSQL) to a kind, in its own file.

use std::fmt;
use std::time::Duration;

use super::probe::Found;
use super::tls::TlsError;

/// A failure talking to the database outside of a migration script.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to {target}: {message}")]
    Connect { target: String, message: String },
    #[error("database `{target}` rejected the credentials: {message}; check the user and password in the secret")]
    Auth { target: String, message: String },
    #[error("{context}: {source}")]
    Query {
        context: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("invalid database url: {0}")]
    Url(String),
    /// The CA bundle could not be used, or the TLS handshake failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

impl DbError {
    pub fn query(context: impl Into<String>, source: sqlx::Error) -> Self {
        DbError::Query {
            context: context.into(),
            source,
        }
    }
}

/// What went wrong, as far as the engine acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The server stopped the statement at the run's time limit (MariaDB
    /// `max_statement_time`, 1969; PostgreSQL `statement_timeout`, 57014).
    StoppedForTime,
    /// A wait for a metadata or row lock timed out (MariaDB 1205,
    /// PostgreSQL 55P03): the statement did not run, so it may be retried.
    LockWaitTimeout,
    /// The connection broke (an I/O error, or no connection to be had).
    ConnectionLost,
    /// MariaDB refused a query larger than its `max_allowed_packet` (1153).
    PacketTooLarge,
    /// The server cannot take a session now: too many connections, or it
    /// is starting up or shutting down (1040, 1053, 57P03, 53300).
    Busy,
    /// The credentials were refused (1045, 28P01, 28000).
    Auth,
    /// TLS failed: the server offers none and the mode requires it, or its
    /// certificate was refused (`db/tls.rs`). Not transient.
    Tls,
    /// The database named in the connection does not exist (1049, 3D000).
    UnknownDatabase,
    /// The table does not exist (1146, 42P01): no history table yet.
    UndefinedTable,
    /// PostgreSQL: a migration changed the session's `search_path`
    /// (schemagate's own SQLSTATE, [`SESSION_CHANGED`]).
    SessionChanged,
    /// Anything else: the server's words are shown as they are.
    Other,
}

impl ErrorKind {
    /// A failure that waiting may cure (a server still starting, a
    /// connection refused): a connection attempt is tried again.
    pub fn is_transient(self) -> bool {
        matches!(self, ErrorKind::ConnectionLost | ErrorKind::Busy)
    }

    /// The kind of a failure, given the engine's reading of its code.
    pub fn of(e: &sqlx::Error, code: Option<&str>, by_code: fn(&str) -> ErrorKind) -> ErrorKind {
        match e {
            e if super::tls::is_tls(e) => ErrorKind::Tls,
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => ErrorKind::ConnectionLost,
            sqlx::Error::Database(_) => code.map_or(ErrorKind::Other, by_code),
            _ => ErrorKind::Other,
        }
    }
}

/// The SQLSTATE schemagate raises when a PostgreSQL migration changed the
/// session's `search_path` ([`ErrorKind::SessionChanged`]).
pub const SESSION_CHANGED: &str = "SGSES";

/// A statement the server refused or stopped: its own words with its error
/// number (`Table 'app.t' doesn't exist (1146)`), and the kind the engine
/// read from the number.
#[derive(Debug, thiserror::Error)]
pub struct ServerError {
    pub kind: ErrorKind,
    /// The error number (MariaDB) or SQLSTATE (PostgreSQL).
    pub code: Option<String>,
    #[source]
    pub source: sqlx::Error,
}

impl ServerError {
    /// `code`: the engine's reading of the error (its number or SQLSTATE);
    /// `by_code`: the engine's table from codes to kinds.
    pub fn new(source: sqlx::Error, code: Option<String>, by_code: fn(&str) -> ErrorKind) -> Self {
        let code = code.or_else(|| {
            source
                .as_database_error()
                .and_then(|db| db.code())
                .map(|c| c.into_owned())
        });
        ServerError {
            kind: ErrorKind::of(&source, code.as_deref(), by_code),
            code,
            source,
        }
    }
}

impl fmt::Display for ServerError {
    /// The server's own words, with its error number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.source.as_database_error(), &self.code) {
            (Some(db), Some(code)) => write!(f, "{} ({code})", db.message()),
            (Some(db), None) => f.write_str(db.message()),
            (None, _) => write!(f, "{}", self.source),
        }
    }
}

/// Why one connection attempt failed.
#[derive(Debug)]
pub(super) enum Attempt {
    Db(ServerError),
    /// Accepted, but the handshake did not finish within the limit: a
    /// frozen or overloaded server, or no database at all.
    Silent(Duration),
    /// Another protocol answers on the port.
    Wrong(Found),
}

impl Attempt {
    /// Whether the next attempt may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Attempt::Db(e) => e.kind.is_transient(),
            // A server still starting (or thawing) may answer the next try.
            Attempt::Silent(_) => true,
            Attempt::Wrong(_) => false,
        }
    }
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Attempt::Db(e) => write!(f, "{}", e.source),
            Attempt::Silent(d) => write!(f, "no answer within {:.1} s", d.as_secs_f64()),
            Attempt::Wrong(found) => write!(f, "{found:?}"),
        }
    }
}
