//! One implementation per database behind one trait, in the manner of
//! sqlx's `Migrate` (`sqlx-core/src/migrate/migrate.rs`, implemented in
//! `sqlx-mysql/src/migrate.rs` and `sqlx-postgres/src/migrate.rs`): what a
//! run asks of the database, and nothing about how the run goes. The loop
//! that runs a plan ([`crate::migrate::apply`]) talks to a `dyn Engine`
//! and never asks which database it is.
//!
//! The engines: [`super::mariadb::MariaDb`] (MariaDB and MySQL) and
//! [`super::postgres::Postgres`]. Adding one is adding a file that
//! implements this trait (with its [`Literals`](super::rows::Literals) for
//! the shared bookkeeping SQL and its error codes), a [`Kind`], and its
//! line in `db/conn.rs`, where an engine is chosen.
//!
//! Dynamic dispatch (boxed futures, as sqlx's `Migrate`): the loop is
//! compiled once, [`super::Conn`] stays one type for the CLI and the
//! Lambda, and a boxed future per call costs nothing next to the round
//! trip it waits for.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::error::{DbError, ServerError};
use super::history::{History, Home, StoredDowns};
use super::options::Kind;
use super::rows::{Entry, Mark, Row};
use super::step::StepFailed;
use crate::deadline::Deadline;
use crate::dialect::Dialect;

/// The session limits a run sets first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long one DDL may wait for a metadata lock before it gives way
    /// (MariaDB `lock_wait_timeout`, PostgreSQL `lock_timeout`).
    pub lock_wait: Duration,
    /// How long one statement may run; `None`: no limit.
    pub statement: Option<Duration>,
}

/// The migration lock of a database: its name (MariaDB `GET_LOCK`) and its
/// key (PostgreSQL advisory lock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockId {
    pub name: String,
    pub key: i64,
}

/// The migration lock was not had.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another run held it for the whole wait.
    #[error("timed out after {seconds} s")]
    Timeout { seconds: u64 },
    /// The server answered without taking it.
    #[error("{detail}")]
    NotTaken { detail: String },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// One step as the engine runs it: its script and its history row.
pub struct StepRun<'a> {
    /// The row: a new one (up) or the applied one (down).
    pub mark: Mark<'a>,
    /// The script as written.
    pub sql: &'a str,
    /// The script as sent in a batch, ending with `;` so bookkeeping can
    /// follow it; `None` when it holds no statement (a deliberate no-op).
    pub body: Option<&'a str>,
    /// `-- no-transaction`: the script must not run in one transaction.
    pub no_tx: bool,
    /// The next step of the run opens with a statement that commits
    /// implicitly before it runs (MariaDB DDL,
    /// [`crate::migrate::script::opens_with_commit`]): this step's finish
    /// may ride in that commit instead of one of its own
    /// ([`super::mariadb`]).
    pub next_commits: bool,
}

/// Tests: called before each round trip an engine makes (a place to kill
/// the connection between two of them).
#[cfg(test)]
pub type Seam = Box<dyn FnMut() -> BoxFuture<'static, ()> + Send>;

/// What a migration run asks of a database.
pub trait Engine: Send {
    /// Which database this is (for the CLI and the Lambda, which say so;
    /// the loop never asks).
    fn kind(&self) -> Kind;

    /// The dialect its migrations are read in.
    fn dialect(&self) -> Dialect {
        self.kind().dialect()
    }

    /// Set the session's limits: how long DDL waits for a metadata lock
    /// (so a long app transaction delays the deploy instead of freezing
    /// every query queued behind the DDL), and how long one statement may
    /// run (so the server stops it before the run's deadline).
    fn set_up(&mut self, limits: Limits) -> BoxFuture<'_, Result<(), DbError>>;

    /// Run statements whose results do not matter (`InitSql`).
    fn execute<'a>(&'a mut self, sql: &'a str) -> BoxFuture<'a, Result<(), DbError>>;

    /// Where the bookkeeping goes, read from the session (after `InitSql`).
    fn home(&mut self) -> BoxFuture<'_, Result<Home, DbError>>;

    /// The history with what is kept of each row, or `None` when its
    /// table does not exist yet.
    fn history<'a>(&'a mut self, home: &'a Home)
        -> BoxFuture<'a, Result<Option<History>, DbError>>;

    /// Create the history table (sqlx's columns) and the kept table beside
    /// it ([`super::history::KEPT_TABLE`]) where they do not exist.
    fn create_history<'a>(&'a mut self, home: &'a Home) -> BoxFuture<'a, Result<(), DbError>>;

    /// The revisions in Alembic's `alembic_version` table beside the
    /// history (read only), or `None` when there is no such table.
    fn alembic_version<'a>(
        &'a mut self,
        home: &'a Home,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, DbError>>;

    /// Record versions as applied without running them, with what is kept
    /// of them; the history rows written.
    fn baseline<'a>(
        &'a mut self,
        home: &'a Home,
        entries: &'a [Entry<'a>],
    ) -> BoxFuture<'a, Result<u64, DbError>>;

    /// The down scripts the kept table holds for `versions` (`None`:
    /// irreversible); a version without a kept row is left out.
    fn stored_downs<'a>(
        &'a mut self,
        home: &'a Home,
        versions: &'a [i64],
    ) -> BoxFuture<'a, Result<StoredDowns, DbError>>;

    /// Record how a failed migration was resolved: applied (with `row`) or
    /// undone (its row deleted); the rows changed.
    fn resolve<'a>(
        &'a mut self,
        home: &'a Home,
        version: i64,
        row: Option<Row<'a>>,
    ) -> BoxFuture<'a, Result<u64, DbError>>;

    /// Wait up to `timeout` for the migration lock, and check it was taken.
    fn lock<'a>(
        &'a mut self,
        lock: &'a LockId,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<(), LockError>>;

    /// Release the lock.
    fn unlock<'a>(&'a mut self, lock: &'a LockId) -> BoxFuture<'a, Result<(), DbError>>;

    /// Apply (an up mark) or revert (a down mark) one step with its
    /// bookkeeping; after a failure, read back what the database holds.
    /// `deadline`: statements started now must end before it.
    fn run_step<'a>(
        &'a mut self,
        home: &'a Home,
        step: &'a StepRun<'a>,
        deadline: Option<Deadline>,
    ) -> BoxFuture<'a, Result<(), StepFailed>>;

    /// The server's limit on one batch (MariaDB `max_allowed_packet`),
    /// when this step's batch would not fit in it.
    fn too_large(&self, home: &Home, step: &StepRun<'_>) -> Option<u64>;

    /// Read rows, each column as text (`NULL` as `None`; the SQL casts),
    /// outside a run: for readers that write their SQL per dialect
    /// (`schemagate check`). The error carries the engine's kind.
    fn read_text<'a>(
        &'a mut self,
        sql: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Vec<Option<String>>>, ServerError>>;

    /// End the session.
    fn close(self: Box<Self>) -> BoxFuture<'static, ()>;

    /// Tests: call `seam` before each round trip (engines without one
    /// ignore it).
    #[cfg(test)]
    fn set_seam(&mut self, _seam: Seam) {}
}
