use super::*;
use crate::migrate::resolve::{decide as resolve, ResolveAs};
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
            kept: None,
        })
        .collect()
}

/// A migration applied by a newer release, which this folder lacks, with
/// what the database keeps of it (`reversible`: a down script is kept).
fn newer(version: i64, reversible: Option<bool>) -> Applied {
    Applied {
        version,
        description: "newer".into(),
        success: true,
        checksum: vec![7; 48],
        execution_time_ns: 1,
        kept: reversible.map(|reversible| crate::migrate::history::Kept {
            name: format!("{version:04}_newer"),
            reversible,
            class: "expand".into(),
            rules: String::new(),
            since: version - 1,
        }),
    }
}

fn names(p: &Plan) -> Vec<(String, bool)> {
    p.steps
        .iter()
        .map(|s| (s.name.clone(), s.stored_down))
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
        msg.contains("finish its statements by hand and run `schemagate resolve 2 --as applied`"),
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
        msg.contains("finish its statements by hand and run `schemagate resolve 2 --as undone`"),
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
        kept: None,
    });
    let err = plan(&s, &h, Target::Latest, None).unwrap_err();
    assert!(matches!(err, PlanError::MissingFile { version: 7, .. }));
}

#[test]
fn an_older_folder_reverts_the_newer_migrations_with_the_stored_down_scripts() {
    let s = set(&[1, 2, 3]);
    let mut h = applied(&s, &[1, 2, 3]);
    h.extend([newer(4, Some(true)), newer(5, Some(true))]);
    for on in [OnIrreversible::Refuse, OnIrreversible::Stop] {
        let p = plan_with(&s, &h, Target::Version(3), None, on).unwrap();
        assert_eq!(
            names(&p),
            vec![("0005_newer".into(), true), ("0004_newer".into(), true)]
        );
        assert_eq!(versions(&p, Direction::Down), vec![5, 4]);
        assert_eq!((p.current, p.target, p.stopped), (Some(5), 3, None));
    }
    // To a version only the database knows: the ones above it.
    let p = plan(&s, &h, Target::Version(4), None).unwrap();
    assert_eq!(names(&p), vec![("0005_newer".into(), true)]);
    // Past the folder's own: their files' down scripts, then.
    let p = plan(&s, &h, Target::Version(1), None).unwrap();
    assert_eq!(
        names(&p),
        vec![
            ("0005_newer".into(), true),
            ("0004_newer".into(), true),
            ("0003_m".into(), false),
            ("0002_m".into(), false)
        ]
    );
}

#[test]
fn the_files_an_older_folder_holds_are_still_verified() {
    let s = set(&[1, 2, 3]);
    let mut h = applied(&s, &[1, 2, 3]);
    h.push(newer(4, Some(true)));
    h[1].checksum = vec![0; 48];
    for target in [Target::Version(3), Target::Version(4)] {
        let err = plan(&s, &h, target, None).unwrap_err();
        assert!(
            matches!(err, PlanError::ChecksumMismatch { version: 2, .. }),
            "{err}"
        );
    }
}

#[test]
fn a_target_at_the_database_version_needs_no_file() {
    // The folder lacks 4 and 5, whatever the database keeps of them.
    let s = set(&[1, 2, 3]);
    for kept in [None, Some(false), Some(true)] {
        let mut h = applied(&s, &[1, 2, 3]);
        h.extend([newer(4, kept), newer(5, kept)]);
        let p = plan(&s, &h, Target::Version(5), None).unwrap();
        assert!(p.is_empty());
        assert_eq!((p.current, p.target, p.stopped), (Some(5), 5, None));
        // Without a target, the folder is behind the database: said so.
        let err = plan(&s, &h, Target::Latest, None).unwrap_err();
        assert!(
            matches!(err, PlanError::MissingFile { version: 4, .. }),
            "{err}"
        );
    }
    // A gap in the folder does not matter either when nothing changes.
    let gap = set(&[1, 3]);
    let mut h = applied(&gap, &[1, 3]);
    h.insert(1, newer(2, None));
    assert!(plan(&gap, &h, Target::Version(3), None).unwrap().is_empty());
    // To go up, the folder holds the whole history (the lint reads it).
    let more = set(&[1, 3, 4]);
    let mut h = applied(&more, &[1, 3]);
    h.insert(1, newer(2, Some(true)));
    let err = plan(&more, &h, Target::Version(4), None).unwrap_err();
    assert!(
        matches!(err, PlanError::MissingFile { version: 2, .. }),
        "{err}"
    );
}

#[test]
fn a_missing_migration_kept_as_irreversible_is_refused_naming_it() {
    let s = set(&[1, 2, 3]);
    let mut h = applied(&s, &[1, 2, 3]);
    h.extend([newer(4, Some(false)), newer(5, Some(true))]);
    let err = plan(&s, &h, Target::Version(3), None).unwrap_err();
    assert_eq!(
        err,
        PlanError::Irreversible {
            target: 3,
            name: "0004_newer".into(),
            reachable: 4
        }
    );
    assert!(
        err.to_string().contains("`0004_newer` is irreversible"),
        "{err}"
    );
    // A CloudFormation rollback reverts what it can and stops there.
    let p = plan_with(&s, &h, Target::Version(3), None, OnIrreversible::Stop).unwrap();
    assert_eq!(names(&p), vec![("0005_newer".into(), true)]);
    assert_eq!(p.stopped.unwrap().name, "0004_newer");
}

#[test]
fn a_missing_migration_applied_before_the_kept_table_needs_its_file() {
    let s = set(&[1, 2, 3]);
    let mut h = applied(&s, &[1, 2, 3]);
    h.extend([newer(4, None), newer(5, Some(true))]);
    for on in [OnIrreversible::Refuse, OnIrreversible::Stop] {
        let err = plan_with(&s, &h, Target::Version(3), None, on).unwrap_err();
        assert!(
            matches!(err, PlanError::MissingFile { version: 4, .. }),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("version 4 (`newer`) is applied but its file is missing"),
            "{err}"
        );
    }
}

#[test]
fn a_failed_stored_revert_can_be_resolved_as_applied_without_the_file() {
    let s = set(&[1, 2, 3]);
    let mut h = applied(&s, &[1, 2, 3]);
    h.push(newer(4, Some(true)));
    h[3].success = false;
    h[3].execution_time_ns = crate::migrate::history::DOWN_STARTED;
    let r = resolve(&s, &h, 4, ResolveAs::Applied).unwrap();
    assert_eq!(r.failed, Direction::Down);
    assert_eq!(r.record, Some(("newer".into(), vec![7; 48])));
    // A failed up without its file still needs it.
    h[3].execution_time_ns = crate::migrate::history::UP_STARTED;
    assert_eq!(
        resolve(&s, &h, 4, ResolveAs::Applied),
        Err(PlanError::ResolveWithoutFile { version: 4 })
    );
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
fn a_baseline_between_two_files_records_every_file_below_it() {
    // GIVEN files 10, 20, 30 and a database that has everything up to 25
    let s = set(&[10, 20, 30]);
    // WHEN it is adopted at 25
    let p = plan(&s, &[], Target::Latest, Some(25)).unwrap();
    // THEN 10 and 20 are recorded, 30 runs, and the database ends at 30
    assert_eq!(versions(&p, Direction::Baseline), vec![10, 20]);
    assert_eq!(versions(&p, Direction::Up), vec![30]);
    assert_eq!(p.target, 30);
    // AND below the first file nothing is recorded: every file runs
    let p = plan(&s, &[], Target::Latest, Some(5)).unwrap();
    assert_eq!(versions(&p, Direction::Baseline), Vec::<i64>::new());
    assert_eq!(versions(&p, Direction::Up), vec![10, 20, 30]);
}

#[test]
fn a_baseline_above_the_newest_file_is_refused() {
    let s = set(&[1, 2]);
    let err = plan(&s, &[], Target::Latest, Some(5)).unwrap_err();
    assert_eq!(
        err,
        PlanError::BaselineAboveLatest {
            baseline: 5,
            latest: Some(2)
        }
    );
    assert!(
        err.to_string()
            .starts_with("baseline version 5 is above the newest migration in the folder (2)"),
        "{err}"
    );
    // AND at the newest file it is fine: everything is recorded, nothing runs
    let p = plan(&s, &[], Target::Latest, Some(2)).unwrap();
    assert_eq!(versions(&p, Direction::Baseline), vec![1, 2]);
    assert_eq!(versions(&p, Direction::Up), Vec::<i64>::new());
    // AND an empty folder takes only 0
    let empty = set(&[]);
    assert!(plan(&empty, &[], Target::Latest, Some(1)).is_err());
    assert!(plan(&empty, &[], Target::Latest, Some(0))
        .unwrap()
        .is_empty());
}
