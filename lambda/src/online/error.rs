//! What stopped an online change. Messages are lowercase, quote the
//! offending value in backticks and say what to do.

use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum OnlineError {
    /// Found before anything was changed.
    #[error("online change `{name}` refused before anything was changed: {reason}")]
    Refused { name: String, reason: String },
    /// The server writes a binary log and would refuse the triggers.
    #[error("online change `{name}` refused before anything was changed: the server writes a binary log (`log_bin` is ON) and `log_bin_trust_function_creators` is 0, so creating its triggers needs SUPER, which this user lacks; set `log_bin_trust_function_creators=1` in the DB parameter group (RDS: a custom parameter group on the instance; it applies without a reboot) or on the server, then deploy again")]
    Binlog { name: String },
    /// A statement of a phase failed.
    #[error("online change `{name}` failed at `{statement}` while {phase}{}", if *.reverted { "; its expand was reverted, the old shape is as it was and the running release keeps working" } else { "; run again to finish, or revert the migration" })]
    Failed {
        name: String,
        phase: &'static str,
        statement: String,
        reverted: bool,
        #[source]
        source: Box<DbError>,
    },
    /// The run's deadline came during the backfill.
    #[error("online change `{name}` stopped by the run's deadline while backfilling `{table}` ({rows} rows done, up to key `{after}`): the triggers keep both shapes in step and the running release keeps working; the next run continues where this one stopped")]
    Deadline {
        name: String,
        table: String,
        rows: u64,
        after: String,
    },
    /// The migration's bookkeeping of online changes is not what this run
    /// expects.
    #[error("online change `{name}` is {state} in `_schemagate_online`: {what}")]
    State {
        name: String,
        state: String,
        what: String,
    },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl OnlineError {
    /// The CLI's exit code (see `crate::Error::exit_code`).
    pub fn exit_code(&self) -> i32 {
        match self {
            OnlineError::Refused { .. }
            | OnlineError::Binlog { .. }
            | OnlineError::State { .. } => 4,
            OnlineError::Failed { .. } | OnlineError::Deadline { .. } => 1,
            OnlineError::Db(_) => 3,
        }
    }
}
