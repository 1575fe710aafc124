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
    /// Stopped before anything ran by a pre-apply check (the breaking-change
    /// gate, or a drain that failed).
    #[error("{0}")]
    Refused(String),
    /// A planned script holds a statement that must never run under
    /// schemagate (it changes the run's database, transaction or session).
    #[error(transparent)]
    Refusals(#[from] crate::lint::Refusals),
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
    /// 3 = the database or the secret could not be reached,
    /// 4 = refused before running anything (history, files or target wrong,
    ///     or a statement that can never run under schemagate),
    /// 5 = refused: breaking migrations that are not marked (see `lint`).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Apply(_) => 1,
            Error::Db(_)
            | Error::Secret(_)
            | Error::LockTimeout { .. }
            | Error::LockNotTaken { .. } => 3,
            Error::Source(_) | Error::Plan(_) | Error::Io { .. } | Error::Refusals(_) => 4,
            Error::Refused(_) => 5,
        }
    }
}
