use super::*;

/// An imported history: `(version, revision, revises)`, and files without
/// a revision for `None`.
fn imported(revisions: &[(i64, Option<&str>, &[&str])]) -> (tempfile::TempDir, MigrationSet) {
    let dir = tempfile::tempdir().unwrap();
    for (v, rev, revises) in revisions {
        let sql = match rev {
            Some(r) => {
                let parents = match revises.is_empty() {
                    true => "(base)".to_string(),
                    false => revises.join(", "),
                };
                format!("-- alembic: {r} m\n-- alembic revises: {parents}\n\nSELECT 1;\n")
            }
            None => "SELECT 1;\n".to_string(),
        };
        std::fs::write(dir.path().join(format!("{v:04}_m.sql")), sql).unwrap();
    }
    let set = MigrationSet::load(dir.path()).unwrap();
    (dir, set)
}

/// a ← b ← (c | d) ← m (merge) ← e, then a file written by hand.
fn shop() -> (tempfile::TempDir, MigrationSet) {
    imported(&[
        (1, Some("a"), &[]),
        (2, Some("b"), &["a"]),
        (3, Some("c"), &["b"]),
        (4, Some("d"), &["b"]),
        (5, Some("m"), &["c", "d"]),
        (6, Some("e"), &["m"]),
        (7, None, &[]),
    ])
}

fn revs(r: &[&str]) -> Vec<String> {
    r.iter().map(|s| s.to_string()).collect()
}

fn adopt(set: &MigrationSet, r: &[&str], start: Start) -> Result<Begin, PlanError> {
    decide(set, Some(&revs(r)), start)
}

#[test]
fn the_revision_in_alembic_version_becomes_the_baseline() {
    let (_d, set) = shop();
    // c is version 3: a, b and c are there (d, on the other branch, is not
    // below it in the imported order)
    let begin = adopt(&set, &["c"], Start::default()).unwrap();
    assert_eq!(begin.baseline, Some(3));
    let begin = adopt(&set, &["b"], Start::default()).unwrap();
    assert_eq!(begin.baseline, Some(2));
    assert_eq!(
        begin.adopted,
        Some(Adopted {
            revisions: revs(&["b"]),
            version: 2,
            name: "0002_m".into()
        })
    );
    let begin = adopt(&set, &["e"], Start::default()).unwrap();
    assert_eq!(begin.baseline, Some(6));
}

#[test]
fn a_database_at_both_heads_of_a_merge_is_adopted_below_the_merge() {
    let (_d, set) = shop();
    let begin = adopt(&set, &["c", "d"], Start::default()).unwrap();
    assert_eq!(begin.baseline, Some(4));
}

#[test]
fn the_branch_imported_later_is_a_gap_when_the_database_has_only_the_other() {
    let (_d, set) = shop();
    let err = adopt(&set, &["d"], Start::default()).unwrap_err();
    assert_eq!(
        err,
        PlanError::AlembicGap {
            revisions: revs(&["d"]),
            revision: "c".into(),
            name: "0003_m".into()
        }
    );
    assert!(
        err.to_string()
            .contains("does not include revision `c` (`0003_m`)"),
        "{err}"
    );
}

#[test]
fn a_revision_no_file_carries_is_refused_naming_it_and_the_import_that_adds_it() {
    let (_d, set) = shop();
    let err = adopt(&set, &["f00dfeed"], Start::default()).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("the database's `alembic_version` holds revision `f00dfeed`, which no migration in the folder was imported from (the last imported is `e`, `0006_m`)"), "{text}");
    assert!(text.contains("--since e`"), "{text}");
}

#[test]
fn a_baseline_given_too_must_agree() {
    let (_d, set) = shop();
    let begin = adopt(&set, &["e"], Start::baseline(Some(6))).unwrap();
    assert_eq!(begin.baseline, Some(6));
    assert!(begin.adopted.is_some());
    let err = adopt(&set, &["e"], Start::baseline(Some(4))).unwrap_err();
    assert!(matches!(
        err,
        PlanError::BaselineDisagrees {
            baseline: 4,
            version: 6,
            ..
        }
    ));
    assert!(err.to_string().contains("--no-adopt-alembic"), "{err}");
}

#[test]
fn no_table_an_empty_table_or_a_history_leave_the_baseline_as_given() {
    let (_d, set) = shop();
    for start in [Start::default(), Start::baseline(Some(3))] {
        assert_eq!(decide(&set, None, start).unwrap().baseline, start.baseline);
        assert_eq!(
            decide(&set, Some(&[]), start).unwrap().baseline,
            start.baseline
        );
        assert_eq!(decide(&set, Some(&[]), start).unwrap().adopted, None);
    }
}

#[test]
fn adoption_off_or_a_folder_without_revisions_needs_a_baseline() {
    let (_d, set) = shop();
    let off = Start {
        baseline: None,
        adopt_alembic: false,
    };
    let err = adopt(&set, &["e"], off).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("the database has an `alembic_version` table at `e` and no schemagate history, and adoption is off"), "{text}");
    assert!(
        text.contains("`--baseline V` / `BaselineVersion`"),
        "{text}"
    );
    // a baseline given with adoption off is used as it is
    let given = Start {
        baseline: Some(4),
        adopt_alembic: false,
    };
    assert_eq!(adopt(&set, &["e"], given).unwrap().baseline, Some(4));
    // a folder without any Alembic revision
    let (_e, plain) = imported(&[(1, None, &[]), (2, None, &[])]);
    let err = adopt(&plain, &["e"], Start::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("no migration in the folder carries an Alembic revision"),
        "{err}"
    );
    assert_eq!(
        adopt(&plain, &["e"], Start::baseline(Some(0)))
            .unwrap()
            .baseline,
        Some(0)
    );
}
