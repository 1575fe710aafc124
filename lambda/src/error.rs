//! Typed errors. Messages are lowercase and quote offending values in backticks.

use std::path::PathBuf;

/// Any failure of the engine, as a person should read it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Source(#[from] crate::migrate::SourceError),
    #[error(transparent)]
    Plan(#[from] crate::migrate::PlanError),
    #[error(transparent)]
    Apply(#[from] crate::migrate::ApplyError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
    #[error("timed out waiting for the migration lock `{name}` after {seconds} s: another schemagate run holds it; wait for it to finish or raise the lock timeout")]
    LockTimeout { name: String, seconds: u64 },
    #[error("the migration lock `{name}` was not taken: {detail}; nothing was changed")]
    LockNotTaken { name: String, detail: String },
    #[error("cannot read `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The CLI's `--timeout` passed and the server did not end the run by
    /// itself (a frozen or unreachable server): the client gave up.
    #[error("timed out after {:.1} s (`--timeout {}`) while {during}: the server did not answer in time (frozen, overloaded or unreachable?). {outcome}", after.as_secs_f64(), limit.as_secs_f64())]
    TimedOut {
        after: std::time::Duration,
        limit: std::time::Duration,
        /// `applying `0002_slow` (running for 4.1 s)`, `connecting to …`
        during: String,
        /// What the database holds, as far as the client knows.
        outcome: String,
    },
    /// Stopped before anything ran by a pre-apply check (the breaking-change
    /// gate, or a drain that failed).
    #[error("{0}")]
    Refused(String),
    /// A migration's batch cannot reach a MariaDB server whose
    /// `max_allowed_packet` is smaller; found before anything ran.
    #[error("`{file}` is {} ({bytes} bytes) and does not fit in the server's `max_allowed_packet` of {} ({limit} bytes): schemagate sends each migration to the server in one packet, so nothing was run and nothing recorded. Raise `max_allowed_packet` to at least {} (on RDS: the `max_allowed_packet` parameter of the DB parameter group; on a server of your own: `max_allowed_packet` in its configuration, or `SET GLOBAL max_allowed_packet = {}` before connecting again), or split the file into smaller migrations", mb(*bytes), mb(*limit), suggested(*bytes), suggested(*bytes))]
    TooLarge {
        file: String,
        bytes: u64,
        limit: u64,
    },
    /// A SIGTERM/SIGINT stopped the run between two migrations.
    #[error(transparent)]
    Interrupted(#[from] crate::migrate::apply::Interrupted),
    /// A history row was not as the engine had just read it under the lock:
    /// something other than schemagate wrote to `_sqlx_migrations`.
    #[error("the history row of version {version} changed while schemagate held the migration lock: {detail}; something other than schemagate writes to `_sqlx_migrations`: check it with `schemagate status`")]
    HistoryChanged { version: i64, detail: String },
    /// A planned script holds a statement that must never run under
    /// schemagate (it changes the run's database, transaction or session).
    #[error(transparent)]
    Refusals(#[from] crate::lint::Refusals),
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}

/// A `max_allowed_packet` that takes a batch of `bytes`: the next power of
/// two above it with room for the bookkeeping, at most MariaDB's 1 GB.
fn suggested(bytes: u64) -> u64 {
    (bytes + 64 * 1024).next_power_of_two().min(1 << 30)
}

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
}

impl DbError {
    pub fn query(context: impl Into<String>, source: sqlx::Error) -> Self {
        DbError::Query {
            context: context.into(),
            source,
        }
    }
}

impl Error {
    /// Exit code for the CLI: 1 = a migration failed while running,
    /// 3 = the database or the secret could not be reached (or did not
    /// answer before `--timeout`),
    /// 4 = refused before running anything (history, files or target wrong,
    ///     or a statement that can never run under schemagate),
    /// 5 = refused: breaking migrations that are not marked (see `lint`),
    /// 130/143 = stopped by SIGINT/SIGTERM between migrations.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Interrupted(i) => i.signal.exit_code,
            Error::Apply(_) => 1,
            Error::Db(_)
            | Error::Secret(_)
            | Error::LockTimeout { .. }
            | Error::LockNotTaken { .. }
            | Error::TimedOut { .. } => 3,
            Error::Source(_)
            | Error::Plan(_)
            | Error::Io { .. }
            | Error::TooLarge { .. }
            | Error::HistoryChanged { .. }
            | Error::Refusals(_) => 4,
            Error::Refused(_) => 5,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_suggested_packet_size_holds_the_file() {
        assert_eq!(super::suggested(2 * 1024 * 1024), 4 * 1024 * 1024);
        assert_eq!(super::suggested(20_000_000), 32 * 1024 * 1024);
        assert_eq!(super::suggested(5 << 30), 1 << 30);
    }
}
