//! Emptying the Auto Scaling groups of the running release before a
//! breaking migration, and giving their capacity back when the schema is
//! back where that release can run ([`groups`]); when that is
//! ([`gate`]: before a run, the breaking-change gate both the Lambda and
//! the CLI run; [`restore`]: after a failure, after a revert, or still
//! drained after a rollback that keeps the schema). The capacity taken away
//! is written on each group first ([`capacity`]), so a run that dies half
//! way loses nothing. While they are drained, a maintenance page answers
//! on the app's load balancer ([`page`]).

pub mod capacity;
pub mod gate;
pub mod groups;
pub mod page;
pub mod restore;

pub use capacity::{Capacity, SAVED_TAG};
pub use groups::{
    restored_names, DrainError, Drained, Drainer, GroupDrain, PageTakenDown, Restored, PERMISSIONS,
};
pub use page::{PageDown, PageError, PageUp, Pages, PAGE_TAG};
pub use restore::{AfterFailure, AfterRevert, LeftApplied, StillDrained};
