//! The migration layer's errors: what stopped a run, with what it had done.
//! Messages are lowercase and quote offending values in backticks.

use std::fmt;

use super::plan::{resolve_hint, Direction, PlanError, Step};
use super::report::{list, Report};
use super::source::SourceError;
use super::stop::Interrupted;
use crate::db::{DbError, Left, StepError};
use crate::lint::Refusals;

/// Why a run (or `status`, `plan`, `resolve`) stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A migration failed while running (boxed: it carries the report).
    #[error(transparent)]
    Apply(Box<ApplyError>),
    #[error(transparent)]
    Db(#[from] DbError),
    /// An online change was refused, failed, or stopped at the deadline
    /// (`crate::online`).
    #[error(transparent)]
    Online(Box<crate::online::OnlineError>),
    #[error("timed out waiting for the migration lock `{name}` after {seconds} s: another schemagate run holds it; wait for it to finish or raise the lock timeout")]
    LockTimeout { name: String, seconds: u64 },
    #[error("the migration lock `{name}` was not taken: {detail}; nothing was changed")]
    LockNotTaken { name: String, detail: String },
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
    Interrupted(Box<Interrupted>),
    /// A history row was not as the engine had just read it under the lock:
    /// something other than schemagate wrote to `_sqlx_migrations`.
    #[error("the history row of version {version} changed while schemagate held the migration lock: {detail}; something other than schemagate writes to `_sqlx_migrations`: check it with `schemagate status`")]
    HistoryChanged { version: i64, detail: String },
    /// A planned script holds a statement that must never run under
    /// schemagate (it changes the run's database, transaction or session).
    #[error(transparent)]
    Refusals(#[from] Refusals),
    /// Stopped before anything ran by the run's [`super::Gate`] (the
    /// breaking-change gate, or a drain that failed).
    #[error("{0}")]
    Refused(String),
}

impl From<ApplyError> for Error {
    fn from(e: ApplyError) -> Self {
        Error::Apply(Box::new(e))
    }
}

impl From<crate::online::OnlineError> for Error {
    fn from(e: crate::online::OnlineError) -> Self {
        Error::Online(Box::new(e))
    }
}

impl From<Interrupted> for Error {
    fn from(e: Interrupted) -> Self {
        Error::Interrupted(Box::new(e))
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}

/// A `max_allowed_packet` that takes a batch of `bytes`: the next power of
/// two above it with room for the bookkeeping, at most MariaDB's 1 GB.
fn suggested(bytes: u64) -> u64 {
    (bytes + 64 * 1024).next_power_of_two().min(1 << 30)
}

/// A migration failed; `done` is what was applied before it (as refinery's
/// error carries its report), `failed` the step, `error` the failure with
/// the server's error as its source.
#[derive(Debug, thiserror::Error)]
pub struct ApplyError {
    pub done: Report,
    pub failed: Step,
    /// The script that failed: the `.down.sql` of a failed revert.
    pub file: String,
    #[source]
    pub error: StepError,
    pub left: Left,
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let done = self.done.count(Direction::Up) + self.done.count(Direction::Down);
        let d = self.failed.direction;
        let down = d == Direction::Down;
        if done > 0 {
            let names: Vec<String> = self
                .done
                .steps
                .iter()
                .map(|s| s.step.name.clone())
                .collect();
            write!(f, "{} {}; ", d.past(), list(&names))?;
        }
        let what = if down { "reverting" } else { "at" };
        write!(f, "failed {what} `{}`: {}", self.failed.name, self.error)?;
        let (v, name) = (self.failed.version, &self.failed.name);
        let hint = resolve_hint(v, &self.file, d);
        let was = if down { "was reverted" } else { "was applied" };
        match &self.left {
            Left::Nothing | Left::RolledBack if self.error.stopped_for_time() => write!(
                f,
                ". Nothing of `{name}` {was}; the schema is at version {}. It was stopped for lack of time before the run's deadline: allow more time (the function's timeout, or `schemagate up --timeout S`), or run this migration outside the deploy (`schemagate up`)",
                self.done.to
            ),
            Left::Nothing | Left::RolledBack => write!(
                f,
                ". Nothing of `{name}` {was}; the schema is at version {}. Fix `{}` and run again",
                self.done.to, self.file
            ),
            Left::Partly { statements } => write!(
                f,
                ". {} ({statements} statement{} ran before the failure) and recorded as failed (success = false); nothing more will run until it is resolved: {hint}",
                if down {
                    format!("The revert of `{name}` is PARTLY done")
                } else {
                    format!("`{name}` is PARTLY applied")
                },
                if *statements == 1 { "" } else { "s" },
            ),
            Left::Unknown => write!(
                f,
                ". Whether `{name}` {was} is not known: `schemagate status` shows its history row; if it is recorded as failed, {hint}",
            ),
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
