//! A step that did not finish: what failed ([`StepError`], keeping the
//! server's error), what it left in the database ([`Left`], read back from
//! its history row), and whether it may be tried again. Both engines end a
//! failed script the same way (`settle`).

use std::fmt;

use super::driver::Wire;
use super::error::{DbError, ErrorKind, ServerError};
use super::history::Home;
use super::rows::{self, Literals, Mark};

/// Where a failed migration left the database, as read back from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Left {
    /// Nothing of the migration stays: its first statement failed, or its
    /// transaction (MariaDB DML without DDL) was rolled back whole; its
    /// history row is gone (a revert's row says applied again). Safe to fix
    /// the file and run again.
    Nothing,
    /// `statements` statements ran before the failure and some of them
    /// committed (MariaDB DDL commits as it goes; a PostgreSQL
    /// `-- no-transaction` script commits each statement); the history row
    /// says the script started (`success = false`).
    Partly { statements: usize },
    /// PostgreSQL rolled the whole migration back.
    RolledBack,
    /// The connection failed before the outcome could be read back: the
    /// history row, if any, says the script started.
    Unknown,
}

/// What failed in a step.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// A statement of the script, or the bookkeeping in its batch, failed
    /// on the server.
    #[error("{0}")]
    Server(#[source] ServerError),
    /// A statement failed, and then so did ending the step cleanly.
    #[error("{error}{then}")]
    Then {
        #[source]
        error: ServerError,
        then: Box<Then>,
    },
    /// The start of the step could not be recorded: the script did not run.
    #[error("{0} (while recording the migration; the script did not run)")]
    Recording(#[source] ServerError),
    /// The history row was not as the step had just written it (the script
    /// changed it, or moved the session elsewhere): the engine's account.
    #[error("{0}")]
    Bookkeeping(String),
}

/// What failed after a statement of the script did.
#[derive(Debug)]
pub enum Then {
    /// Ending the failed batch failed: the connection is gone.
    ConnectionFailed(DbError),
    /// Reading the history row back failed.
    ReadBackFailed(DbError),
    /// None of the script ran, but giving its row back failed.
    RestoreFailed(DbError),
    /// The history row said something this step did not write.
    UnexpectedRow(i64),
}

impl fmt::Display for Then {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Then::ConnectionFailed(e) => write!(f, "; then the connection failed: {e}"),
            Then::ReadBackFailed(e) => write!(f, "; then reading its history row failed: {e}"),
            Then::RestoreFailed(e) => write!(
                f,
                "; none of its statements ran, but then restoring its history row failed: {e}"
            ),
            Then::UnexpectedRow(other) => write!(
                f,
                "; its history row then said {other}, which this step did not write"
            ),
        }
    }
}

impl StepError {
    /// The kind of the server's error, when a statement failed.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            StepError::Server(e) | StepError::Then { error: e, .. } | StepError::Recording(e) => {
                Some(e.kind)
            }
            StepError::Bookkeeping(_) => None,
        }
    }

    /// The server stopped the script's statement for lack of time (and
    /// nothing else went wrong).
    pub fn stopped_for_time(&self) -> bool {
        matches!(self, StepError::Server(e) if e.kind == ErrorKind::StoppedForTime)
    }
}

/// A step that did not finish.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct StepFailed {
    #[source]
    pub error: StepError,
    pub left: Left,
    /// Nothing of it stays and its statement waited for a lock: the
    /// engine's word that trying again is safe.
    retry: bool,
}

impl StepFailed {
    pub fn new(error: StepError, left: Left) -> StepFailed {
        StepFailed {
            error,
            left,
            retry: false,
        }
    }

    /// A failure that may be tried again when `retry` (a lock wait that
    /// timed out before anything of the step stayed).
    pub fn retryable(error: StepError, left: Left, retry: bool) -> StepFailed {
        StepFailed { error, left, retry }
    }

    pub fn may_retry(&self) -> bool {
        self.retry
    }
}

/// After a failed script: read its row back and say what the database
/// holds. `ran`: statements of the script that completed before the
/// failure; `retry`: the failure was a lock wait of its first statement.
pub(super) async fn settle<L: Literals, W: Wire>(
    conn: &mut W,
    home: &Home,
    this: &Mark<'_>,
    ran: usize,
    error: ServerError,
    retry: bool,
) -> Result<(), StepFailed> {
    let state = match conn
        .scalar(&rows::row_state::<L>(home, this.version()))
        .await
    {
        Ok(s) => s,
        Err(e) => {
            let then = Box::new(Then::ReadBackFailed(e));
            return Err(StepFailed::new(
                StepError::Then { error, then },
                Left::Unknown,
            ));
        }
    };
    let up = matches!(this, Mark::Up(_));
    let nothing = |error| {
        Err(StepFailed::retryable(
            StepError::Server(error),
            Left::Nothing,
            retry,
        ))
    };
    match state {
        // The row that says "started" committed: something of the script
        // may have (a DDL commits what came before it, then itself).
        Some(s) if s == this.started() => {
            if ran > 0 {
                let left = Left::Partly { statements: ran };
                return Err(StepFailed::new(StepError::Server(error), left));
            }
            // Its first statement failed, and a failed statement changes
            // nothing: give the record back.
            if let Err(e) = conn.execute(&rows::unmark(home, this)).await {
                let then = Box::new(Then::RestoreFailed(e));
                return Err(StepFailed::new(
                    StepError::Then { error, then },
                    Left::Unknown,
                ));
            }
            nothing(error)
        }
        // Rolled back with the script's transaction: no row (up), or the
        // row still says applied (down). (Writes to non-transactional
        // tables — MyISAM, Aria — are not undone by a rollback; the engine
        // cannot see them.)
        None if up => nothing(error),
        Some(1) if !up => nothing(error),
        // The finish committed before the failure: the step is done.
        Some(1) | None => Ok(()),
        Some(other) => {
            let then = Box::new(Then::UnexpectedRow(other));
            Err(StepFailed::new(
                StepError::Then { error, then },
                Left::Unknown,
            ))
        }
    }
}
