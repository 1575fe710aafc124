//! How a run behaves: what the CLI's flags and the Lambda's properties
//! set, with the defaults of [`crate::defaults`].

use std::time::Duration;

use super::adopt::Start;
use crate::deadline::Deadline;
use crate::defaults;

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// Statements run on the session first (`InitSql`).
    pub init_sql: Vec<String>,
    /// Adopt an existing database: record versions up to this as applied.
    pub baseline: Option<i64>,
    /// Adopt a database Alembic made from its `alembic_version`
    /// ([`super::adopt`]; on by default).
    pub adopt_alembic: bool,
    /// How long to wait for another run's migration lock.
    pub lock_timeout: Duration,
    /// Session `lock_wait_timeout` (PostgreSQL `lock_timeout`): how long one
    /// DDL may wait for a metadata lock before it gives way (and is retried,
    /// with backoff, while time remains). Every app query on the table queues
    /// behind a waiting DDL, so this is how long the app may stall per try.
    /// MariaDB waits whole seconds: a fraction is rounded up.
    pub lock_wait: Duration,
    /// When the run must be over (the Lambda's deadline less a margin).
    /// Statements are cut by the server before it; lock waits are retried
    /// only until it.
    pub deadline: Option<Deadline>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            init_sql: Vec::new(),
            baseline: None,
            adopt_alembic: true,
            lock_timeout: defaults::LOCK_TIMEOUT,
            lock_wait: defaults::LOCK_WAIT,
            deadline: None,
        }
    }
}

impl Options {
    /// How a database with no history starts.
    pub fn start(&self) -> Start {
        Start {
            baseline: self.baseline,
            adopt_alembic: self.adopt_alembic,
        }
    }
}
