//! What the lint reads of the migrations: each one's version, name and
//! scripts, and which script a planned step runs. The engine's
//! `MigrationSet` and plan `Step` offer it (`migrate/source.rs`,
//! `migrate/plan.rs`), so the lint depends on no module of the crate but
//! the dialect, and the engine may ask it for refusals.

use std::path::Path;

/// One script of a migration, as read from its file.
#[derive(Debug, Clone, Copy)]
pub struct Text<'a> {
    pub path: &'a Path,
    pub sql: &'a str,
}

/// One migration.
#[derive(Debug, Clone)]
pub struct Migration<'a> {
    pub version: i64,
    /// `0043_drop_legacy_email`
    pub name: String,
    pub up: Text<'a>,
    /// `None` for an irreversible migration.
    pub down: Option<Text<'a>>,
}

/// The migrations of a folder.
pub trait Migrations {
    /// Every migration, in version order.
    fn migrations(&self) -> Vec<Migration<'_>>;
}

/// The script of a migration a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Up,
    Down,
}

/// A planned step.
pub trait Planned {
    fn version(&self) -> i64;
    /// `None`: the step runs no script (a baseline only records it).
    fn side(&self) -> Option<Side>;
}
