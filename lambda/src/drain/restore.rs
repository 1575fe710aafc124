//! When the drained groups get their capacity back: the old release may run
//! again once the schema holds nothing that breaks it. Decided here for the
//! three moments it is asked (after a failed run, after a revert, after a
//! rollback that keeps the schema); the handler only says what happened.

use aws_sdk_autoscaling::types::AutoScalingGroup;

use super::capacity::SAVED_TAG;
use super::groups::{DrainError, Drainer, Restored};
use crate::lint::MigrationLint;
use crate::migrate::{apply, Direction};
use crate::props::Drain;

/// The groups that still carry [`SAVED_TAG`] (drained, not given back),
/// by name; or why they could not be listed.
pub type StillDrained = Result<Vec<String>, DrainError>;

/// What a failed run left applied, as far as a drain cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeftApplied {
    /// Migrations applied whole before the failure.
    pub done: Vec<String>,
    /// The failed migration and how many of its statements may have
    /// committed (`usize::MAX`: not known, count all of it).
    pub partly: Option<(String, usize)>,
}

impl LeftApplied {
    /// What the engine's report of a failed migration says it left: the
    /// migrations applied before it, and how much of it may have committed
    /// (a connection lost mid-script counts as all of it).
    pub fn of(e: &apply::ApplyError) -> LeftApplied {
        LeftApplied {
            done: e
                .done
                .steps
                .iter()
                .filter(|s| s.step.direction == Direction::Up)
                .map(|s| s.step.name.clone())
                .collect(),
            partly: match e.left {
                apply::Left::Partly { statements } => Some((e.failed.name.clone(), statements)),
                apply::Left::Unknown => Some((e.failed.name.clone(), usize::MAX)),
                _ => None,
            },
        }
    }
}

/// The drained groups after a failed run.
#[derive(Debug)]
pub enum AfterFailure {
    /// Nothing that needs the old release stopped was applied: it got its
    /// capacity back.
    Restored(Vec<Restored>),
    /// Nothing breaking was applied, but giving the capacity back failed.
    NotRestored(DrainError),
    /// These breaking migrations were applied (`name (partly)` for one cut
    /// part way): the groups stay at 0.
    Kept { applied: Vec<String> },
}

/// The drained groups after a revert.
#[derive(Debug)]
pub enum AfterRevert {
    /// The revert stopped above the target with these migrations, which
    /// break the old release, still applied: the groups stay as they are.
    Kept {
        blocking: Vec<String>,
        still: StillDrained,
    },
    /// The old schema is back: so is the capacity (empty when no group was
    /// drained).
    Restored(Vec<Restored>),
    NotRestored(DrainError),
}

/// After a failed run that drained: give the capacity back when nothing
/// that needs a drain was applied (the old release runs on this schema),
/// else keep the groups at 0.
pub async fn after_failure(
    drainer: &Drainer,
    sel: &Drain,
    lints: &[MigrationLint],
    left: &LeftApplied,
) -> AfterFailure {
    let needs = |name: &str| lints.iter().any(|l| l.name == name && l.needs_drain());
    let mut applied: Vec<String> = left.done.iter().filter(|n| needs(n)).cloned().collect();
    if let Some((name, statements)) = &left.partly {
        if lints
            .iter()
            .any(|l| &l.name == name && l.needs_drain_within(*statements))
        {
            applied.push(format!("{name} (partly)"));
        }
    }
    if !applied.is_empty() {
        return AfterFailure::Kept { applied };
    }
    match drainer.restore(sel).await {
        Ok(r) => AfterFailure::Restored(r),
        Err(e) => {
            tracing::error!(error = %e, "could not give the drained groups their capacity back");
            AfterFailure::NotRestored(e)
        }
    }
}

/// After a revert: give the capacity back unless the revert stopped short
/// of the target with a migration that breaks the old release still
/// applied (`still_applied`: the migrations left above the target).
pub async fn after_revert(
    drainer: &Drainer,
    sel: &Drain,
    still_applied: &[MigrationLint],
) -> AfterRevert {
    let blocking: Vec<String> = still_applied
        .iter()
        .filter(|l| l.needs_drain())
        .map(|l| l.name.clone())
        .collect();
    if !blocking.is_empty() {
        return AfterRevert::Kept {
            blocking,
            still: still_drained(drainer, sel).await,
        };
    }
    match drainer.restore(sel).await {
        Ok(r) => AfterRevert::Restored(r),
        Err(e) => {
            tracing::error!(error = %e, "could not give the drained groups their capacity back");
            AfterRevert::NotRestored(e)
        }
    }
}

/// The groups still drained (a rollback that keeps the schema leaves them).
pub async fn still_drained(drainer: &Drainer, sel: &Drain) -> StillDrained {
    let groups = drainer.groups(sel).await?;
    Ok(groups.iter().filter(|g| saved(g)).map(name).collect())
}

fn saved(g: &AutoScalingGroup) -> bool {
    g.tags().iter().any(|t| t.key() == Some(SAVED_TAG))
}

fn name(g: &AutoScalingGroup) -> String {
    g.auto_scaling_group_name().unwrap_or("?").to_string()
}
