//! What a Create or Update came to: the [`Outcome`] of a run that reached
//! its end, or the [`DeployError`] of one that did not. [`super::deploy`]
//! makes them, [`super::reason`] writes the Reason from them.

use std::collections::HashMap;

use crate::db::ConnectOptions;
use crate::drain::{AfterFailure, AfterRevert, Drained, PageTakenDown, StillDrained};
use crate::migrate::{self, Direction};
use crate::props::PropsError;

/// A run that reached its end.
#[derive(Debug)]
pub struct Outcome {
    pub target: ConnectOptions,
    pub report: migrate::Report,
    pub done: Done,
}

#[derive(Debug)]
pub enum Done {
    /// `OnRollback=keep`: a rollback left the schema at `at`, ahead of the
    /// `requested` target; with a drain target, the groups still drained.
    Kept {
        at: i64,
        requested: i64,
        still_drained: Option<StillDrained>,
    },
    /// The plan ran (or there was nothing to do).
    Migrated {
        /// Drained before the breaking migrations; they stay at 0.
        drained: Option<Drained>,
        /// A revert with a drain target: what became of the groups.
        after_revert: Option<AfterRevert>,
        /// The capacity came back after a revert: the maintenance page
        /// was taken down.
        page_down: Option<Box<PageTakenDown>>,
        /// `AllowBreaking=true` let these through.
        allowed: Option<String>,
    },
}

impl Outcome {
    /// The response's `Data`.
    pub fn data(&self) -> HashMap<String, String> {
        HashMap::from([
            ("SchemaVersion".to_string(), self.report.to.to_string()),
            (
                "Applied".to_string(),
                self.report.count(Direction::Up).to_string(),
            ),
            (
                "Reverted".to_string(),
                self.report.count(Direction::Down).to_string(),
            ),
        ])
    }
}

/// A run that failed, with what is known of where.
#[derive(Debug)]
pub enum DeployError {
    Properties(PropsError),
    /// The migrations in the function's package.
    Bundle(crate::Error),
    /// Reading the secret, or the connection options in it.
    Secret(crate::Error),
    Connect {
        target: ConnectOptions,
        error: crate::Error,
    },
    Run {
        target: ConnectOptions,
        error: crate::Error,
    },
    /// The run failed after groups were drained; `groups` says what became
    /// of them.
    AfterDrain {
        target: ConnectOptions,
        error: crate::Error,
        drained: Drained,
        groups: AfterFailure,
        /// The capacity came back: the maintenance page was taken down.
        page_down: Option<Box<PageTakenDown>>,
    },
}

impl DeployError {
    /// The database, once it is known.
    pub fn target(&self) -> Option<&ConnectOptions> {
        match self {
            DeployError::Properties(_) | DeployError::Bundle(_) | DeployError::Secret(_) => None,
            DeployError::Connect { target, .. }
            | DeployError::Run { target, .. }
            | DeployError::AfterDrain { target, .. } => Some(target),
        }
    }
}
