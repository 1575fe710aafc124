//! Deciding what to run: applied history + files + target → plan.
//!
//! Pure: no I/O, so every rule here has a unit test. Applying a plan is a
//! small loop in [`super::apply`].
//!
//! # What the folder must hold
//!
//! Every file the folder holds is checked against the history (an edited
//! applied file is refused). A file the folder lacks is needed only when
//! the plan uses it:
//! - to go up, the folder holds every applied migration (the lint reads
//!   them to know the schema the pending ones change);
//! - to go down, a migration whose file is missing is reverted with the
//!   down script the database keeps for it (`_schemagate_history`): an
//!   older release's package reverts the newer migrations it never had.
//!   One kept as irreversible stops the revert as a file without a
//!   `.down.sql` does; one applied before that table existed needs its file;
//! - a target that is already the database's version changes nothing, so
//!   nothing is needed: whatever the folder lacks, the run succeeds
//!   ("already at version N") once the files it holds are verified. A
//!   CloudFormation rollback to the version the database is at never fails
//!   for lack of files.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::history::{Applied, State};
use super::source::{MigrationFile, MigrationSet};

/// The version to reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The highest version in the folder.
    Latest,
    /// A version from the folder, or 0 for "nothing applied".
    Version(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Run the up script and record the version.
    Up,
    /// Run the down script and delete the record.
    Down,
    /// Record the version as applied without running it (`BaselineVersion`).
    Baseline,
}

impl Direction {
    /// `up`, `down`, `baseline`: the name in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Baseline => "baseline",
        }
    }

    /// `apply`, `revert`, `baseline`: a planned step.
    pub fn verb(self) -> &'static str {
        match self {
            Direction::Up => "apply",
            Direction::Down => "revert",
            Direction::Baseline => "baseline",
        }
    }

    /// `applied`, `reverted`, `baselined`: a step done.
    pub fn past(self) -> &'static str {
        match self {
            Direction::Up => "applied",
            Direction::Down => "reverted",
            Direction::Baseline => "baselined",
        }
    }

    /// `applying`, `reverting`, `baselining`: a step in progress.
    pub fn ing(self) -> &'static str {
        match self {
            Direction::Up => "applying",
            Direction::Down => "reverting",
            Direction::Baseline => "baselining",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub version: i64,
    /// `0043_drop_legacy_email`
    pub name: String,
    pub direction: Direction,
    /// A revert whose down script comes from the database
    /// (`_schemagate_history`): the folder does not hold the migration.
    pub stored_down: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Highest applied version before the run; `None` for an empty history.
    pub current: Option<i64>,
    /// Version after the run; 0 when nothing will be applied.
    pub target: i64,
    pub steps: Vec<Step>,
    /// A revert that stops at an irreversible migration
    /// ([`OnIrreversible::Stop`]); `target` is then the version it stays at.
    pub stopped: Option<Stopped>,
    /// The database was made by Alembic and is adopted from its
    /// `alembic_version` ([`super::adopt`]): the baseline steps come from it.
    pub adopted: Option<Adopted>,
}

/// A database adopted from Alembic's `alembic_version`: the revisions it
/// holds, and the imported migration they map to (the baseline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adopted {
    /// The revisions `alembic_version` holds (several when the database is
    /// at more than one head).
    pub revisions: Vec<String>,
    /// The version they map to: everything up to it is baselined.
    pub version: i64,
    /// `0007_7e2f4c0d6a16_add_plan_active`
    pub name: String,
}

/// What a revert does when an irreversible migration is in its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnIrreversible {
    /// Refuse the whole plan (`schemagate down`).
    #[default]
    Refuse,
    /// Revert the migrations above it and stop there: a CloudFormation
    /// rollback must end, and must say where the schema stands.
    Stop,
}

/// A revert stopped short of the version asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    /// The version the revert was asked to reach.
    pub requested: i64,
    /// The irreversible migration that stays applied (`0043_drop_legacy_email`).
    pub name: String,
    pub version: i64,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
    pub fn count(&self, direction: Direction) -> usize {
        self.steps
            .iter()
            .filter(|s| s.direction == direction)
            .count()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{}", dirty(*version, name, file, *direction))]
    Dirty {
        version: i64,
        name: String,
        /// The script that started and did not finish: the `.down.sql` of a
        /// failed revert.
        file: PathBuf,
        /// [`Direction::Up`] or [`Direction::Down`]: which script failed.
        direction: Direction,
    },
    #[error("version {version} is recorded as failed and its file is gone from the migrations folder; restore the file, or check the database and run `schemagate resolve {version} --as undone` to delete its history row")]
    DirtyMissing { version: i64 },
    #[error("applied migration `{}` was edited after it ran (checksum differs from the history); restore the file as it was applied and put the change in a new migration", file.display())]
    ChecksumMismatch { version: i64, file: PathBuf },
    #[error("version {version} (`{description}`) is applied but its file is missing from the migrations folder; restore it (the folder must hold the whole history, including the down scripts a rollback needs)")]
    MissingFile { version: i64, description: String },
    #[error("{} not applied but older than the applied version {current}: {}; give {} a version above {current}", if pending.len() == 1 { "a migration is" } else { "migrations are" }, pending.join(", "), if pending.len() == 1 { "it" } else { "them" })]
    OutOfOrder { current: i64, pending: Vec<String> },
    #[error("target version {target} is not in the migrations folder (latest there: {latest}); use one of its versions, or 0 to revert everything")]
    UnknownTarget { target: i64, latest: String },
    #[error("cannot go down to version {target}: `{name}` is irreversible (no `.down.sql`); the lowest reachable version is {reachable}")]
    Irreversible {
        target: i64,
        name: String,
        reachable: i64,
    },
    #[error("baseline version {baseline} is above the newest migration in the folder ({}): a baseline says which migrations the database already has, so it can be at most {}; use the version of the last migration the database already has, or add the migrations up to {baseline} to the folder", latest.map_or("none".to_string(), |l| l.to_string()), latest.unwrap_or(0))]
    BaselineAboveLatest { baseline: i64, latest: Option<i64> },
    #[error("the database's `alembic_version` holds revision `{revision}`, which no migration in the folder was imported from ({}); import the revisions up to it: `schemagate import alembic --config alembic.ini --out migrations/ --since {}`", last.as_ref().map_or("none carries an `-- alembic:` comment".to_string(), |(r, n)| format!("the last imported is `{r}`, `{n}`")), last.as_ref().map_or("<last imported revision>", |(r, _)| r.as_str()))]
    UnknownAlembicRevision {
        revision: String,
        /// The last imported revision and its migration.
        last: Option<(String, String)>,
    },
    #[error("the database's `alembic_version` ({}) does not include revision `{revision}` (`{name}`), which the imported order puts before it: a baseline cannot skip it; bring the database to a head that includes it (`alembic upgrade {revision}`, then `alembic upgrade heads`), or give the baseline by hand with adoption off", revisions.join(", "))]
    AlembicGap {
        revisions: Vec<String>,
        revision: String,
        name: String,
    },
    #[error("baseline version {baseline} disagrees with the database's `alembic_version` ({}), which is version {version} (`{name}`); leave the baseline out (adoption sets it), or turn adoption off (`--no-adopt-alembic` / `AdoptAlembic: false`) to baseline at {baseline}", revisions.join(", "))]
    BaselineDisagrees {
        baseline: i64,
        revisions: Vec<String>,
        version: i64,
        name: String,
    },
    #[error("the database has an `alembic_version` table at {} and no schemagate history, and {why}: running every migration from the first would fail on the tables Alembic made; {fix}", revisions.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", "))]
    NotAdopted {
        revisions: Vec<String>,
        /// Why it is not adopted.
        why: String,
        /// What to do.
        fix: String,
    },
    #[error("nothing to resolve: version {version}{} is {state}; `resolve` only records the outcome of a migration recorded as failed (`schemagate status` shows them)", name.as_ref().map(|n| format!(" (`{n}`)")).unwrap_or_default())]
    NotFailed {
        version: i64,
        name: Option<String>,
        /// `applied (recorded as successful)`, `not in the history …`
        state: String,
    },
    #[error("cannot record version {version} as applied: its file is not in the migrations folder, so there is no checksum to record; restore the file, or use `--as undone` if none of it is in the database")]
    ResolveWithoutFile { version: i64 },
}

/// What a person can do about a migration that started and did not finish.
/// Both halves name `schemagate resolve`, which records the decision, so
/// following the hint never runs a finished script a second time.
pub fn resolve_hint(version: i64, file: &str, direction: Direction) -> String {
    match direction {
        Direction::Down => format!(
            "compare the database with `{file}`, then either finish its statements by hand and run `schemagate resolve {version} --as undone` (the migration is reverted), or put back what it removed and run `schemagate resolve {version} --as applied` (the migration stays applied)"
        ),
        _ => format!(
            "compare the database with `{file}`, then either finish its statements by hand and run `schemagate resolve {version} --as applied` (records it as applied with the file's current checksum), or undo the ones that ran and run `schemagate resolve {version} --as undone` (the next run applies it from its first statement)"
        ),
    }
}

fn dirty(version: i64, name: &str, file: &std::path::Path, direction: Direction) -> String {
    let what = match direction {
        Direction::Down => "its revert started and did not finish, so it may be partly reverted",
        _ => "it started and did not finish, so it may be partly applied",
    };
    format!(
        "migration `{name}` is recorded as failed: {what}; nothing will run until it is resolved: {}",
        resolve_hint(version, &file.display().to_string(), direction)
    )
}

/// What to do to bring `applied` to `target` with the files in `set`.
///
/// `baseline` only acts on an empty history: versions up to it are recorded
/// as applied without running (adopting a database made by other tools).
pub fn plan(
    set: &MigrationSet,
    applied: &[Applied],
    target: Target,
    baseline: Option<i64>,
) -> Result<Plan, PlanError> {
    plan_with(set, applied, target, baseline, OnIrreversible::Refuse)
}

/// [`plan`], choosing what a revert does at an irreversible migration.
pub fn plan_with(
    set: &MigrationSet,
    applied: &[Applied],
    target: Target,
    baseline: Option<i64>,
    on_irreversible: OnIrreversible,
) -> Result<Plan, PlanError> {
    if let Some(dirty) = applied.iter().find(|a| !a.success) {
        return Err(dirty_error(set, dirty));
    }
    let (mut done, missing) = checked(set, applied)?;
    let current = done.last().copied();
    let mut steps = Vec::new();
    if let (true, Some(b)) = (applied.is_empty(), baseline) {
        steps = baselined(set, b)?;
        done.extend(steps.iter().map(|s| s.version));
    }
    let reached = done.last().copied();
    if let Some(cur) = reached {
        in_order(set, &done, cur)?;
    }
    let asked = target;
    let target = target_version(set, target, &done)?;
    let here = reached.unwrap_or(0);
    let (more, target, stopped) = if target == here && matches!(asked, Target::Version(_)) {
        // Nothing has to change: no file is needed.
        (Vec::new(), target, None)
    } else if target >= here {
        if let Some(a) = missing.first() {
            return Err(missing_file(a));
        }
        (ups(set, &done, target), target, None)
    } else {
        downs(set, applied, &done, target, on_irreversible)?
    };
    steps.extend(more);
    Ok(Plan {
        current,
        target,
        steps,
        stopped,
        adopted: None,
    })
}

fn step(f: &MigrationFile, direction: Direction) -> Step {
    Step {
        version: f.version,
        name: f.name(),
        direction,
        stored_down: false,
    }
}

fn missing_file(a: &Applied) -> PlanError {
    PlanError::MissingFile {
        version: a.version,
        description: a.description.clone(),
    }
}

/// A failed row blocks everything: which script failed, and its file.
fn dirty_error(set: &MigrationSet, dirty: &Applied) -> PlanError {
    let Some(f) = set.get(dirty.version) else {
        return PlanError::DirtyMissing {
            version: dirty.version,
        };
    };
    let direction = match dirty.state() {
        State::DownFailed => Direction::Down,
        _ => Direction::Up,
    };
    let file = match (direction, &f.down) {
        (Direction::Down, Some(down)) => down.path.clone(),
        _ => f.up.path.clone(),
    };
    PlanError::Dirty {
        version: dirty.version,
        name: f.name(),
        file,
        direction,
    }
}

/// The applied versions, each file the folder holds unedited; and the
/// applied migrations whose files it lacks.
fn checked<'a>(
    set: &MigrationSet,
    applied: &'a [Applied],
) -> Result<(BTreeSet<i64>, Vec<&'a Applied>), PlanError> {
    let mut done = BTreeSet::new();
    let mut missing = Vec::new();
    for a in applied {
        done.insert(a.version);
        let Some(file) = set.get(a.version) else {
            missing.push(a);
            continue;
        };
        if file.up.checksum != a.checksum {
            return Err(PlanError::ChecksumMismatch {
                version: a.version,
                file: file.up.path.clone(),
            });
        }
    }
    Ok((done, missing))
}

/// An empty history adopting a database: the versions up to `b`, which
/// need not be one of the folder's (a baseline between two files means
/// everything up to it is there), but not above the newest one: the
/// database would hold migrations the folder does not know.
fn baselined(set: &MigrationSet, b: i64) -> Result<Vec<Step>, PlanError> {
    let latest = set.latest();
    if b > latest.unwrap_or(0) {
        return Err(PlanError::BaselineAboveLatest {
            baseline: b,
            latest,
        });
    }
    Ok(set
        .files
        .iter()
        .filter(|f| f.version <= b)
        .map(|f| step(f, Direction::Baseline))
        .collect())
}

/// No file older than the applied head may be left unapplied.
fn in_order(set: &MigrationSet, done: &BTreeSet<i64>, cur: i64) -> Result<(), PlanError> {
    let late: Vec<String> = set
        .files
        .iter()
        .filter(|f| f.version < cur && !done.contains(&f.version))
        .map(|f| f.name())
        .collect();
    if late.is_empty() {
        return Ok(());
    }
    Err(PlanError::OutOfOrder {
        current: cur,
        pending: late,
    })
}

/// The version to reach: one of the folder's, or one the database has
/// applied (the folder may lack it), or 0.
fn target_version(
    set: &MigrationSet,
    target: Target,
    done: &BTreeSet<i64>,
) -> Result<i64, PlanError> {
    let reached = done.last().copied();
    match target {
        Target::Latest => Ok(set.latest().unwrap_or(0).max(reached.unwrap_or(0))),
        Target::Version(0) => Ok(0),
        Target::Version(v) if set.get(v).is_some() || done.contains(&v) => Ok(v),
        Target::Version(v) => Err(PlanError::UnknownTarget {
            target: v,
            latest: set.latest().map_or("none".into(), |l| l.to_string()),
        }),
    }
}

/// Going up: every file not applied, up to `target`.
fn ups(set: &MigrationSet, done: &BTreeSet<i64>, target: i64) -> Vec<Step> {
    set.files
        .iter()
        .filter(|f| f.version <= target && !done.contains(&f.version))
        .map(|f| step(f, Direction::Up))
        .collect()
}

/// How a migration is reverted: with its file's down script, with the one
/// the database keeps (the folder lacks the file), or not at all.
enum Revert {
    Reversible(Step),
    Irreversible(String),
}

fn revert(set: &MigrationSet, applied: &[Applied], v: i64) -> Result<Revert, PlanError> {
    if let Some(f) = set.get(v) {
        return Ok(match f.reversible() {
            true => Revert::Reversible(step(f, Direction::Down)),
            false => Revert::Irreversible(f.name()),
        });
    }
    let a = applied
        .iter()
        .find(|a| a.version == v)
        .expect("planned from the history");
    match &a.kept {
        Some(k) if k.reversible => Ok(Revert::Reversible(Step {
            version: v,
            name: k.name.clone(),
            direction: Direction::Down,
            stored_down: true,
        })),
        Some(k) => Ok(Revert::Irreversible(k.name.clone())),
        // Applied before the database kept down scripts: the file holds it.
        None => Err(missing_file(a)),
    }
}

/// Going down: the applied versions above `target`, newest first, up to an
/// irreversible one (refused, or the revert stops there).
fn downs(
    set: &MigrationSet,
    applied: &[Applied],
    done: &BTreeSet<i64>,
    target: i64,
    on_irreversible: OnIrreversible,
) -> Result<(Vec<Step>, i64, Option<Stopped>), PlanError> {
    let mut steps = Vec::new();
    for &v in done.range(target + 1..).rev() {
        let step = match revert(set, applied, v)? {
            Revert::Reversible(step) => step,
            Revert::Irreversible(name) => {
                return match on_irreversible {
                    OnIrreversible::Refuse => Err(PlanError::Irreversible {
                        target,
                        name,
                        reachable: v,
                    }),
                    OnIrreversible::Stop => {
                        let stopped = Stopped {
                            requested: target,
                            name,
                            version: v,
                        };
                        Ok((steps, v, Some(stopped)))
                    }
                }
            }
        };
        steps.push(step);
    }
    Ok((steps, target, None))
}

/// Which script the lint reads for a step (it depends on no engine type).
impl crate::lint::Planned for Step {
    fn version(&self) -> i64 {
        self.version
    }

    fn side(&self) -> Option<crate::lint::Side> {
        match self.direction {
            Direction::Up => Some(crate::lint::Side::Up),
            Direction::Down => Some(crate::lint::Side::Down),
            Direction::Baseline => None,
        }
    }
}

#[cfg(test)]
mod tests;
