//! The error a person reads at the edges: the CLI's message and exit code,
//! the Lambda's Reason. Each layer keeps its own error in its layer —
//! [`crate::db::DbError`] (connecting, a statement outside a migration),
//! [`crate::secrets::SecretError`], [`crate::migrate::Error`] (a run, with
//! what it had done) — and this one wraps them, adding what only an edge
//! knows (a usage error, a client that gave up, a drain). Messages are
//! lowercase and quote offending values in backticks.

use crate::db::DbError;
use crate::migrate::{self, PlanError, SourceError};
use crate::secrets::SecretError;

/// Any failure of a command or a deploy.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Migrate(#[from] migrate::Error),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// `schemagate import`: nothing was written.
    #[error(transparent)]
    Import(#[from] crate::import::ImportError),
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
    /// The command line asks for something that cannot be done as given
    /// (no database, an unknown dialect): nothing was tried.
    #[error("{0}")]
    Usage(String),
}

impl From<SourceError> for Error {
    fn from(e: SourceError) -> Self {
        Error::Migrate(e.into())
    }
}

impl From<PlanError> for Error {
    fn from(e: PlanError) -> Self {
        Error::Migrate(e.into())
    }
}

impl From<crate::lint::Refusals> for Error {
    fn from(e: crate::lint::Refusals) -> Self {
        Error::Migrate(e.into())
    }
}

impl Error {
    /// Exit code for the CLI: 1 = a migration failed while running,
    /// 2 = bad usage,
    /// 3 = the database or the secret could not be reached (or did not
    /// answer before `--timeout`),
    /// 4 = refused before running anything (history, files or target wrong,
    ///     or a statement that can never run under schemagate),
    /// 5 = refused: breaking migrations that are not marked (see `lint`;
    ///     `up`/`down` behind the gate),
    /// 130/143 = stopped by SIGINT/SIGTERM between migrations. An online
    /// change: 4 when refused before anything changed, 1 when it failed or
    /// stopped at the deadline.
    pub fn exit_code(&self) -> i32 {
        use migrate::Error as M;
        match self {
            Error::Migrate(e) => match e {
                M::Interrupted(i) => i.signal.exit_code,
                M::Apply(_) => 1,
                M::Db(_) | M::LockTimeout { .. } | M::LockNotTaken { .. } => 3,
                M::Source(_)
                | M::Plan(_)
                | M::TooLarge { .. }
                | M::HistoryChanged { .. }
                | M::Refusals(_) => 4,
                M::Refused(_) => 5,
                M::Online(o) => o.exit_code(),
            },
            Error::Import(e) => e.exit_code(),
            Error::Usage(_) => 2,
            Error::Db(_) | Error::Secret(_) | Error::TimedOut { .. } => 3,
        }
    }
}
