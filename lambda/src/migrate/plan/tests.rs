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
