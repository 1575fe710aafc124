//! The migration engine: read the files ([`source`]), decide what to run
//! ([`plan`], pure), and run it ([`apply`]) under a lock ([`lock`]) with the
//! history kept in sqlx's `_sqlx_migrations` table ([`history`]).

pub mod apply;
pub mod history;
pub mod lock;
pub mod plan;
pub mod script;
pub mod source;

pub use apply::{
    resolve, run, run_with, ApplyError, Gate, Hooks, Interrupted, Options, Progress, Report,
    Signal, StepOutcome, Stop,
};
pub use history::{Applied, State};
pub use plan::{
    plan, plan_with, Direction, OnIrreversible, Plan, PlanError, Resolution, ResolveAs, Step,
    Stopped, Target,
};
pub use source::{MigrationFile, MigrationSet, Script, SourceError};
