//! Breaking changes with both releases serving (MariaDB): a migration
//! marked `-- schemagate: online` whose one statement is the breaking
//! change ([`change`], arguments from the marker: [`marker`]) becomes an
//! *expand* both releases can use — the new shape beside the old, triggers
//! keeping them in step, a batched resumable [`backfill`] — and a
//! *contract* that runs once the old release is gone. The SQL of each
//! phase is decided from the table's [`facts`] ([`read`] from the
//! database) by [`plan`] (pure); [`run`] runs the phases and [`state`]
//! records how far each got. See `docs/online-changes.md`.

pub mod backfill;
pub mod change;
pub mod error;
pub mod facts;
pub mod marker;
pub mod plan;
pub mod read;
pub mod run;
pub mod state;

pub use change::{Change, Op};
pub use error::OnlineError;
pub use marker::Args;
pub use plan::Plan;
