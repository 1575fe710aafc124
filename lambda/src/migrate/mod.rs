//! The migration engine: read the files ([`source`]), decide what to run
//! ([`plan`], pure), and run it ([`apply`]) under a lock ([`lock`]) with the
//! history kept in sqlx's `_sqlx_migrations` table ([`history`]). The
//! database-specific part of each of those is the connection's
//! [`crate::db::Engine`]; [`Error`] is this layer's error.

pub mod adopt;
pub mod apply;
pub mod error;
pub mod history;
pub mod keep;
pub mod lock;
pub mod online;
pub mod options;
pub mod plan;
pub mod report;
pub mod resolve;
mod retry;
pub mod script;
mod session;
pub mod source;
pub mod stop;

pub use adopt::{Begin, Start};
pub use apply::{run, run_with, Gate, Hooks};
pub use error::{ApplyError, Error};
pub use history::{Applied, State};
pub use options::Options;
pub use plan::{
    plan, plan_with, Adopted, Direction, OnIrreversible, Plan, PlanError, Step, Stopped, Target,
};
pub use report::{Progress, Report, StepOutcome};
pub use resolve::{resolve, Resolution, ResolveAs};
pub use source::{MigrationFile, MigrationSet, Script, SourceError};
pub use stop::{Interrupted, Signal, Stop};
