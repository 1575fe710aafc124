//! Deciding what to run: applied history + files + target → plan.
//!
//! Pure: no I/O, so every rule here has a unit test. Applying a plan is a
//! small loop in [`super::apply`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::history::{Applied, State};
use super::source::MigrationSet;

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub version: i64,
    /// `0043_drop_legacy_email`
    pub name: String,
    pub direction: Direction,
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
    #[error("baseline version {baseline} is not in the migrations folder; use the version of the last migration the database already has")]
    UnknownBaseline { baseline: i64 },
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

/// `schemagate resolve V --as …`: what the person says the database holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolveAs {
    /// All of the migration is in the database (finished by hand, or the
    /// revert undone by hand): record it as applied.
    Applied,
    /// None of it is (undone by hand, or the revert finished by hand):
    /// delete its row; `up` runs it again from its first statement.
    Undone,
}

/// The decision [`resolve`] made, for the engine to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub version: i64,
    /// `0002_add_email`, or the history's description when the file is gone.
    pub name: String,
    /// Which script had failed: [`Direction::Up`] or [`Direction::Down`].
    pub failed: Direction,
    pub how: ResolveAs,
    /// For [`ResolveAs::Applied`]: the current file's description and
    /// checksum, recorded in the row.
    pub record: Option<(String, Vec<u8>)>,
    /// The up script's file name, for the message.
    pub file: Option<String>,
}

/// Decide `schemagate resolve`: only a row recorded as failed can be
/// resolved; `applied` needs the file (its checksum is recorded).
pub fn resolve(
    set: &MigrationSet,
    applied: &[Applied],
    version: i64,
    how: ResolveAs,
) -> Result<Resolution, PlanError> {
    let file = set.get(version);
    let name = file.map(|f| f.name());
    let row = applied.iter().find(|a| a.version == version);
    let failed = match row.map(Applied::state) {
        Some(State::UpFailed) => Direction::Up,
        Some(State::DownFailed) => Direction::Down,
        Some(State::Applied) => {
            return Err(PlanError::NotFailed {
                version,
                name,
                state: "applied (recorded as successful)".into(),
            })
        }
        None => {
            return Err(PlanError::NotFailed {
                version,
                name,
                state: "not in the history (not applied, or reverted)".into(),
            })
        }
    };
    let row = row.expect("found above");
    let record = match how {
        ResolveAs::Applied => {
            let f = file.ok_or(PlanError::ResolveWithoutFile { version })?;
            Some((f.description.clone(), f.up.checksum.clone()))
        }
        ResolveAs::Undone => None,
    };
    Ok(Resolution {
        version,
        name: name.unwrap_or_else(|| format!("{version} {}", row.description)),
        failed,
        how,
        record,
        file: file.map(|f| f.up.file_name()),
    })
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
        return Err(match set.get(dirty.version) {
            Some(f) => {
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
            None => PlanError::DirtyMissing {
                version: dirty.version,
            },
        });
    }

    let mut steps = Vec::new();
    let mut done: BTreeMap<i64, ()> = BTreeMap::new();
    for a in applied {
        let file = set.get(a.version).ok_or_else(|| PlanError::MissingFile {
            version: a.version,
            description: a.description.clone(),
        })?;
        if file.up.checksum != a.checksum {
            return Err(PlanError::ChecksumMismatch {
                version: a.version,
                file: file.up.path.clone(),
            });
        }
        done.insert(a.version, ());
    }
    let current = done.keys().next_back().copied();

    if let (true, Some(b)) = (applied.is_empty(), baseline) {
        if b != 0 && set.get(b).is_none() {
            return Err(PlanError::UnknownBaseline { baseline: b });
        }
        for f in set.files.iter().filter(|f| f.version <= b) {
            steps.push(Step {
                version: f.version,
                name: f.name(),
                direction: Direction::Baseline,
            });
            done.insert(f.version, ());
        }
    }
    let reached = done.keys().next_back().copied();

    if let Some(cur) = reached {
        let late: Vec<String> = set
            .files
            .iter()
            .filter(|f| f.version < cur && !done.contains_key(&f.version))
            .map(|f| f.name())
            .collect();
        if !late.is_empty() {
            return Err(PlanError::OutOfOrder {
                current: cur,
                pending: late,
            });
        }
    }

    let target = match target {
        Target::Latest => set.latest().unwrap_or(0).max(reached.unwrap_or(0)),
        Target::Version(0) => 0,
        Target::Version(v) if set.get(v).is_some() => v,
        Target::Version(v) => {
            return Err(PlanError::UnknownTarget {
                target: v,
                latest: set.latest().map_or("none".into(), |l| l.to_string()),
            })
        }
    };

    let mut stopped = None;
    let mut target = target;
    if target >= reached.unwrap_or(0) {
        for f in set
            .files
            .iter()
            .filter(|f| f.version <= target && !done.contains_key(&f.version))
        {
            steps.push(Step {
                version: f.version,
                name: f.name(),
                direction: Direction::Up,
            });
        }
    } else {
        for (&v, _) in done.range(target + 1..).rev() {
            let f = set
                .get(v)
                .expect("applied versions were checked against the folder");
            if !f.reversible() {
                match on_irreversible {
                    OnIrreversible::Refuse => {
                        return Err(PlanError::Irreversible {
                            target,
                            name: f.name(),
                            reachable: v,
                        })
                    }
                    OnIrreversible::Stop => {
                        stopped = Some(Stopped {
                            requested: target,
                            name: f.name(),
                            version: v,
                        });
                        target = v;
                        break;
                    }
                }
            }
            steps.push(Step {
                version: v,
                name: f.name(),
                direction: Direction::Down,
            });
        }
    }
    Ok(Plan {
        current,
        target,
        steps,
        stopped,
    })
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
mod tests {
    use super::*;
    use crate::migrate::source::{MigrationFile, Script};

    fn script(name: &str, sql: &str) -> Script {
        Script {
            path: PathBuf::from(format!("migrations/{name}")),
            sql: sql.into(),
            checksum: sqlx::migrate::Migration::new(
                0,
                "".into(),
                sqlx::migrate::MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(sql.to_string())),
                false,
            )
            .checksum
            .to_vec(),
            no_tx: false,
        }
    }

    /// Versions; a negative number is an irreversible migration.
    fn set(versions: &[i64]) -> MigrationSet {
        MigrationSet {
            dir: PathBuf::from("migrations"),
            files: versions
                .iter()
                .map(|&v| {
                    let n = v.abs();
                    let (up, down) = if v < 0 {
                        (script(&format!("{n:04}_m.sql"), &format!("-- {n}")), None)
                    } else {
                        (
                            script(&format!("{n:04}_m.up.sql"), &format!("-- {n}")),
                            Some(script(&format!("{n:04}_m.down.sql"), "")),
                        )
                    };
                    MigrationFile {
                        version: n,
                        description: "m".into(),
                        up,
                        down,
                    }
                })
                .collect(),
        }
    }

    fn applied(set: &MigrationSet, versions: &[i64]) -> Vec<Applied> {
        versions
            .iter()
            .map(|&v| Applied {
                version: v,
                description: "m".into(),
                success: true,
                checksum: set.get(v).unwrap().up.checksum.clone(),
                execution_time_ns: 1,
            })
            .collect()
    }

    fn versions(p: &Plan, d: Direction) -> Vec<i64> {
        p.steps
            .iter()
            .filter(|s| s.direction == d)
            .map(|s| s.version)
            .collect()
    }

    #[test]
    fn empty_history_applies_everything_in_order() {
        let s = set(&[1, 2, 3]);
        let p = plan(&s, &[], Target::Latest, None).unwrap();
        assert_eq!(versions(&p, Direction::Up), vec![1, 2, 3]);
        assert_eq!((p.current, p.target), (None, 3));
        assert_eq!(p.steps[0].name, "0001_m");
    }

    #[test]
    fn at_head_is_an_empty_plan() {
        let s = set(&[1, 2]);
        let p = plan(&s, &applied(&s, &[1, 2]), Target::Latest, None).unwrap();
        assert!(p.is_empty());
        assert_eq!((p.current, p.target), (Some(2), 2));
    }

    #[test]
    fn up_to_a_target_stops_there() {
        let s = set(&[1, 2, 3, 4]);
        let p = plan(&s, &applied(&s, &[1]), Target::Version(3), None).unwrap();
        assert_eq!(versions(&p, Direction::Up), vec![2, 3]);
    }

    #[test]
    fn down_reverts_newest_first() {
        let s = set(&[1, 2, 3, 4]);
        let p = plan(&s, &applied(&s, &[1, 2, 3, 4]), Target::Version(2), None).unwrap();
        assert_eq!(versions(&p, Direction::Down), vec![4, 3]);
        assert_eq!(p.target, 2);
    }

    #[test]
    fn down_to_zero_reverts_all() {
        let s = set(&[1, 2]);
        let p = plan(&s, &applied(&s, &[1, 2]), Target::Version(0), None).unwrap();
        assert_eq!(versions(&p, Direction::Down), vec![2, 1]);
    }

    #[test]
    fn down_past_an_irreversible_migration_is_refused_naming_it() {
        let s = set(&[1, -2, 3]);
        let err = plan(&s, &applied(&s, &[1, 2, 3]), Target::Version(1), None).unwrap_err();
        assert_eq!(
            err,
            PlanError::Irreversible {
                target: 1,
                name: "0002_m".into(),
                reachable: 2
            }
        );
        assert!(err.to_string().contains("`0002_m` is irreversible"));
    }

    #[test]
    fn a_rollback_reverts_down_to_an_irreversible_migration_and_stops_there() {
        let s = set(&[1, -2, 3, 4]);
        let p = plan_with(
            &s,
            &applied(&s, &[1, 2, 3, 4]),
            Target::Version(1),
            None,
            OnIrreversible::Stop,
        )
        .unwrap();
        assert_eq!(versions(&p, Direction::Down), vec![4, 3]);
        assert_eq!(p.target, 2, "the irreversible one stays applied");
        assert_eq!(
            p.stopped,
            Some(Stopped {
                requested: 1,
                name: "0002_m".into(),
                version: 2
            })
        );
    }

    #[test]
    fn a_rollback_stopped_by_the_newest_migration_reverts_nothing() {
        let s = set(&[1, 2, -3]);
        let p = plan_with(
            &s,
            &applied(&s, &[1, 2, 3]),
            Target::Version(1),
            None,
            OnIrreversible::Stop,
        )
        .unwrap();
        assert!(p.is_empty());
        assert_eq!((p.current, p.target), (Some(3), 3));
        assert_eq!(p.stopped.unwrap().name, "0003_m");
    }

    #[test]
    fn stop_changes_nothing_when_the_way_down_is_clear_or_the_plan_goes_up() {
        let s = set(&[-1, 2, 3]);
        let h = applied(&s, &[1, 2, 3]);
        let stop = plan_with(&s, &h, Target::Version(1), None, OnIrreversible::Stop).unwrap();
        assert_eq!(stop, plan(&s, &h, Target::Version(1), None).unwrap());
        assert_eq!(stop.stopped, None);
        let up = plan_with(
            &s,
            &applied(&s, &[1]),
            Target::Latest,
            None,
            OnIrreversible::Stop,
        )
        .unwrap();
        assert_eq!(versions(&up, Direction::Up), vec![2, 3]);
    }

    #[test]
    fn a_failed_migration_blocks_everything_with_a_hint_naming_resolve() {
        let s = set(&[1, 2]);
        let mut h = applied(&s, &[1, 2]);
        h[1].success = false;
        h[1].execution_time_ns = -1;
        let err = plan(&s, &h, Target::Latest, None).unwrap_err();
        assert!(matches!(
            err,
            PlanError::Dirty {
                version: 2,
                direction: Direction::Up,
                ..
            }
        ));
        let msg = err.to_string();
        assert!(msg.contains("may be partly applied"), "{msg}");
        assert!(msg.contains("`migrations/0002_m.up.sql`"), "{msg}");
        assert!(
            msg.contains(
                "finish its statements by hand and run `schemagate resolve 2 --as applied`"
            ),
            "{msg}"
        );
        assert!(
            msg.contains("undo the ones that ran and run `schemagate resolve 2 --as undone`"),
            "{msg}"
        );
    }

    #[test]
    fn a_failed_revert_names_the_down_script() {
        let s = set(&[1, 2]);
        let mut h = applied(&s, &[1, 2]);
        h[1].success = false;
        h[1].execution_time_ns = crate::migrate::history::DOWN_STARTED;
        let err = plan(&s, &h, Target::Version(1), None).unwrap_err();
        assert!(matches!(
            err,
            PlanError::Dirty {
                direction: Direction::Down,
                ..
            }
        ));
        let msg = err.to_string();
        assert!(msg.contains("`migrations/0002_m.down.sql`"), "{msg}");
        assert!(msg.contains("may be partly reverted"), "{msg}");
        assert!(
            msg.contains(
                "finish its statements by hand and run `schemagate resolve 2 --as undone`"
            ),
            "{msg}"
        );
    }

    #[test]
    fn resolve_acts_only_on_a_failed_row_and_records_the_current_checksum() {
        let s = set(&[1, 2, 3]);
        let mut h = applied(&s, &[1, 2]);
        h[1].success = false;
        h[1].checksum = vec![9; 48];
        let r = resolve(&s, &h, 2, ResolveAs::Applied).unwrap();
        assert_eq!(r.failed, Direction::Up);
        assert_eq!(
            r.record,
            Some(("m".into(), s.get(2).unwrap().up.checksum.clone()))
        );
        assert_eq!(resolve(&s, &h, 2, ResolveAs::Undone).unwrap().record, None);

        let applied_err = resolve(&s, &h, 1, ResolveAs::Undone).unwrap_err();
        assert!(
            applied_err
                .to_string()
                .contains("version 1 (`0001_m`) is applied (recorded as successful)"),
            "{applied_err}"
        );
        let pending = resolve(&s, &h, 3, ResolveAs::Applied).unwrap_err();
        assert!(
            pending.to_string().contains("is not in the history"),
            "{pending}"
        );

        let gone = set(&[1]);
        assert_eq!(
            resolve(&gone, &h, 2, ResolveAs::Applied),
            Err(PlanError::ResolveWithoutFile { version: 2 })
        );
        let r = resolve(&gone, &h, 2, ResolveAs::Undone).unwrap();
        assert_eq!(r.name, "2 m");
    }

    #[test]
    fn an_edited_applied_file_is_named() {
        let s = set(&[1, 2]);
        let mut h = applied(&s, &[1, 2]);
        h[0].checksum = vec![0; 48];
        let err = plan(&s, &h, Target::Latest, None).unwrap_err();
        assert!(
            err.to_string().contains("migrations/0001_m.up.sql"),
            "{err}"
        );
        assert!(err.to_string().contains("edited after it ran"), "{err}");
    }

    #[test]
    fn an_applied_version_without_its_file_is_reported() {
        let s = set(&[1, 2]);
        let mut h = applied(&s, &[1, 2]);
        h.push(Applied {
            version: 7,
            description: "gone".into(),
            success: true,
            checksum: vec![],
            execution_time_ns: 0,
        });
        let err = plan(&s, &h, Target::Latest, None).unwrap_err();
        assert!(matches!(err, PlanError::MissingFile { version: 7, .. }));
    }

    #[test]
    fn a_file_older_than_the_applied_head_is_out_of_order_not_applied() {
        let s = set(&[1, 2, 3, 4]);
        let err = plan(&s, &applied(&s, &[1, 3]), Target::Latest, None).unwrap_err();
        assert_eq!(
            err,
            PlanError::OutOfOrder {
                current: 3,
                pending: vec!["0002_m".into()]
            }
        );
        assert!(err.to_string().contains("0002_m"));
    }

    #[test]
    fn gaps_in_numbering_are_fine_when_in_order() {
        let s = set(&[1, 5, 10]);
        let p = plan(&s, &applied(&s, &[1, 5]), Target::Latest, None).unwrap();
        assert_eq!(versions(&p, Direction::Up), vec![10]);
    }

    #[test]
    fn unknown_target_is_refused() {
        let s = set(&[1, 2]);
        let err = plan(&s, &[], Target::Version(9), None).unwrap_err();
        assert!(err.to_string().contains("target version 9"), "{err}");
    }

    #[test]
    fn baseline_records_old_versions_on_an_empty_history_then_applies_the_rest() {
        let s = set(&[1, 2, 3, 4]);
        let p = plan(&s, &[], Target::Latest, Some(2)).unwrap();
        assert_eq!(versions(&p, Direction::Baseline), vec![1, 2]);
        assert_eq!(versions(&p, Direction::Up), vec![3, 4]);
    }

    #[test]
    fn baseline_is_ignored_once_a_history_exists() {
        let s = set(&[1, 2, 3]);
        let p = plan(&s, &applied(&s, &[1]), Target::Latest, Some(2)).unwrap();
        assert_eq!(versions(&p, Direction::Baseline), Vec::<i64>::new());
        assert_eq!(versions(&p, Direction::Up), vec![2, 3]);
    }

    #[test]
    fn unknown_baseline_is_refused() {
        let s = set(&[1, 2]);
        assert_eq!(
            plan(&s, &[], Target::Latest, Some(5)),
            Err(PlanError::UnknownBaseline { baseline: 5 })
        );
    }
}
