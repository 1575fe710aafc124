use super::*;
use std::fs;

fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, sql) in files {
        fs::write(dir.path().join(name), sql).unwrap();
    }
    dir
}

#[test]
fn reads_reversible_and_irreversible_files_in_version_order() {
    let dir = folder(&[
        ("2_add_email.up.sql", "ALTER TABLE u ADD email TEXT;"),
        ("2_add_email.down.sql", "ALTER TABLE u DROP email;"),
        ("1_create_users.sql", "CREATE TABLE u (id INT);"),
        ("README.md", "not a migration"),
    ]);
    let set = MigrationSet::load(dir.path()).unwrap();
    assert_eq!(
        set.files.iter().map(|f| f.version).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(!set.files[0].reversible());
    assert!(set.files[1].reversible());
    assert_eq!(set.files[1].name(), "2_add_email");
    assert_eq!(set.files[1].description, "add email");
    assert_eq!(set.latest(), Some(2));
}

#[test]
fn checksum_is_sqlx_sha384_of_the_file() {
    let dir = folder(&[("1_a.sql", "SELECT 1;\n")]);
    let set = MigrationSet::load(dir.path()).unwrap();
    assert_eq!(
        set.files[0].up.checksum,
        sqlx::migrate::Migration::new(
            1,
            "a".into(),
            MigrationType::Simple,
            sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe("SELECT 1;\n".to_string())),
            false
        )
        .checksum
        .to_vec()
    );
    assert_eq!(set.files[0].up.checksum.len(), 48);
}

#[test]
fn up_without_down_names_the_file_and_the_fix() {
    let dir = folder(&[("3_x.up.sql", "SELECT 1;")]);
    let err = MigrationSet::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("3_x.up.sql"), "{err}");
    assert!(err.contains("no matching `.down.sql`"), "{err}");
}

#[test]
fn duplicate_version_is_refused() {
    let dir = folder(&[("3_x.sql", "SELECT 1;"), ("3_y.sql", "SELECT 2;")]);
    let err = MigrationSet::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("version 3 is used by"), "{err}");
}

#[test]
fn orphan_down_and_missing_folder_are_errors() {
    let dir = folder(&[("4_x.down.sql", "SELECT 1;")]);
    assert!(matches!(
        MigrationSet::load(dir.path()),
        Err(SourceError::OrphanDown { .. })
    ));
    assert!(matches!(
        MigrationSet::load(&dir.path().join("nope")),
        Err(SourceError::NotAFolder { .. })
    ));
}

fn problem(name: &str) -> NameProblem {
    parse_name(name).expect_err(name)
}

fn rename(to: &str) -> String {
    to.to_string()
}

#[test]
fn valid_names_parse_as_sqlx_reads_them() {
    let p = parse_name("0001_create_users.up.sql").unwrap();
    assert_eq!(
        (p.version, p.description.as_str(), p.kind),
        (1, "create users", MigrationType::ReversibleUp)
    );
    let p = parse_name("20240101120000_add.v2.sql").unwrap();
    assert_eq!(
        (p.version, p.description.as_str(), p.kind),
        (20240101120000, "add.v2", MigrationType::Simple)
    );
    assert_eq!(
        parse_name("7_x.down.sql").unwrap().kind,
        MigrationType::ReversibleDown
    );
}

#[test]
fn each_misnamed_file_of_the_issue_is_refused_with_its_fix() {
    assert_eq!(problem("abc.sql"), NameProblem::NoVersion);
    assert_eq!(problem("abc_x.sql"), NameProblem::NoVersion);
    assert_eq!(
        problem("1.sql"),
        NameProblem::NoDescription {
            version: "1".into()
        }
    );
    assert_eq!(
        problem("0001_.sql"),
        NameProblem::NoDescription {
            version: "0001".into()
        }
    );
    assert_eq!(
        problem("0001add.sql"),
        NameProblem::NoSeparator {
            rename: rename("0001_add.sql")
        }
    );
    assert_eq!(
        problem("0001_x.SQL"),
        NameProblem::SuffixCase {
            rename: rename("0001_x.sql")
        }
    );
    assert_eq!(problem("0001_x.sql.bak"), NameProblem::NotSql);
    assert_eq!(problem("0001_x.sql~"), NameProblem::NotSql);
    assert_eq!(
        problem("0001_x.sql "),
        NameProblem::Whitespace {
            rename: rename("0001_x.sql")
        }
    );
    assert_eq!(
        problem(" 0001_x.sql"),
        NameProblem::Whitespace {
            rename: rename("0001_x.sql")
        }
    );
    assert_eq!(
        problem("0001_x.UP.sql"),
        NameProblem::SuffixCase {
            rename: rename("0001_x.up.sql")
        }
    );
    assert_eq!(
        problem("0001_x.Down.sql"),
        NameProblem::SuffixCase {
            rename: rename("0001_x.down.sql")
        }
    );
    assert_eq!(
        problem("0001_x.up.SQL"),
        NameProblem::SuffixCase {
            rename: rename("0001_x.up.sql")
        }
    );
    assert_eq!(
        problem("0001_x.sql.sql"),
        NameProblem::DoubledSuffix {
            rename: rename("0001_x.sql")
        }
    );
    assert_eq!(
        problem("0001_x.up.up.sql"),
        NameProblem::DoubledSuffix {
            rename: rename("0001_x.up.sql")
        }
    );
    for v in ["-1", "0", "0000", "-0"] {
        assert_eq!(
            problem(&format!("{v}_x.sql")),
            NameProblem::VersionNotPositive { version: v.into() },
            "{v}"
        );
    }
    assert_eq!(
        problem("99999999999999999999_x.sql"),
        NameProblem::VersionTooLarge {
            version: "99999999999999999999".into()
        }
    );
    assert_eq!(problem("+1_x.sql"), NameProblem::NoVersion);
}

#[test]
fn the_message_names_every_misnamed_file_and_the_rename() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["0001_x.UP.sql", "0002_y.sql", "-1_z.sql", "notes.txt"] {
        fs::write(dir.path().join(name), "SELECT 1;").unwrap();
    }
    let err = MigrationSet::load(dir.path()).unwrap_err();
    assert!(matches!(&err, SourceError::Misnamed { files, .. } if files.len() == 3));
    let msg = err.to_string();
    assert!(msg.contains("0001_x.UP.sql` is not a migration file name: the suffix must be lowercase; rename it to `0001_x.up.sql`"), "{msg}");
    assert!(
        msg.contains("-1_z.sql` is not a migration file name: version `-1` is not positive"),
        "{msg}"
    );
    assert!(
        msg.contains("notes.txt` is not a migration file name"),
        "{msg}"
    );
    assert!(msg.contains(".schemagateignore`"), "{msg}");
    assert!(!msg.contains("0002_y.sql"), "{msg}");
}

#[test]
fn readmes_dotfiles_subfolders_and_listed_names_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("0001_a.sql"), "SELECT 1;").unwrap();
    fs::write(d.join("README"), "").unwrap();
    fs::write(d.join("readme.txt"), "").unwrap();
    fs::write(d.join("CHANGES.MD"), "").unwrap();
    fs::write(d.join(".gitkeep"), "").unwrap();
    fs::write(d.join(".0002_b.sql.swp"), "").unwrap();
    // An editor's lock file: a dangling link with a dot name.
    std::os::unix::fs::symlink("nowhere", d.join(".#0001_a.sql")).unwrap();
    fs::create_dir(d.join("drafts")).unwrap();
    fs::write(d.join("drafts").join("0003_c.SQL"), "").unwrap();
    fs::create_dir(d.join("0004_dir.sql")).unwrap();
    fs::write(d.join("0001_a.sql.bak"), "").unwrap();
    fs::write(d.join("schema.sql"), "").unwrap();
    fs::write(d.join("seed_data.sql"), "").unwrap();
    let set = MigrationSet::load(d).unwrap_err();
    assert!(
        matches!(&set, SourceError::Misnamed { files, .. } if files.len() == 3),
        "{set}"
    );

    fs::write(
        d.join(IGNORE_FILE),
        "# not migrations\n*.bak\n\n  schema.sql  \nseed_????.sql\n",
    )
    .unwrap();
    let set = MigrationSet::load(d).unwrap();
    assert_eq!(
        set.files.iter().map(|f| f.name()).collect::<Vec<_>>(),
        ["0001_a"]
    );
}

#[test]
fn an_ignore_pattern_never_hides_a_migration() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("0001_a.sql"), "SELECT 1;").unwrap();
    fs::write(dir.path().join("README_0002_b.sql"), "").unwrap();
    fs::write(dir.path().join(IGNORE_FILE), "*.sql\n").unwrap();
    let set = MigrationSet::load(dir.path()).unwrap();
    assert_eq!(set.latest(), Some(1));
}

#[test]
fn an_unreadable_or_non_utf8_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("0001_a.sql"), b"SELECT '\xff';").unwrap();
    let err = MigrationSet::load(dir.path()).unwrap_err();
    assert!(matches!(err, SourceError::Unreadable { .. }));
    assert!(err.to_string().contains("0001_a.sql"), "{err}");
    std::os::unix::fs::symlink("0002_b.sql", dir.path().join("0002_b.sql")).unwrap();
    fs::remove_file(dir.path().join("0001_a.sql")).unwrap();
    let err = MigrationSet::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("0002_b.sql"), "{err}");
}

#[test]
fn wildcards_match_whole_names() {
    assert!(wildcard_match("*.bak", "0001_x.sql.bak"));
    assert!(!wildcard_match("*.bak", "0001_x.bak.sql"));
    assert!(wildcard_match("seed_????.sql", "seed_data.sql"));
    assert!(!wildcard_match("seed_????.sql", "seed_dat.sql"));
    assert!(wildcard_match("*", "anything"));
    assert!(wildcard_match("a*b*c", "axxbyyc"));
    assert!(!wildcard_match("a*b*c", "axxbyy"));
    assert!(wildcard_match("notes.txt", "notes.txt"));
    assert!(!wildcard_match("Notes.txt", "notes.txt"));
    assert!(wildcard_match("**x", "x"));
    assert!(wildcard_match("é?", "éa"));
}

#[test]
fn the_example_history_reads_as_sqlx_reads_it() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let ours = MigrationSet::load(&dir).unwrap();
    let theirs = sqlx::migrate::resolve_blocking(&dir).unwrap();
    let mut scripts: Vec<(i64, String, Vec<u8>, bool)> = ours
        .files
        .iter()
        .flat_map(|f| {
            std::iter::once(&f.up).chain(f.down.as_ref()).map(|s| {
                (
                    f.version,
                    f.description.clone(),
                    s.checksum.clone(),
                    s.no_tx,
                )
            })
        })
        .collect();
    let mut sqlx_scripts: Vec<(i64, String, Vec<u8>, bool)> = theirs
        .iter()
        .map(|(m, _)| {
            // The history keeps the up script's checksum only: a down
            // script is not hashed.
            let checksum = match m.migration_type {
                MigrationType::ReversibleDown => Vec::new(),
                _ => m.checksum.to_vec(),
            };
            (m.version, m.description.to_string(), checksum, m.no_tx)
        })
        .collect();
    scripts.sort();
    sqlx_scripts.sort();
    assert_eq!(scripts.len(), 12);
    assert_eq!(scripts, sqlx_scripts);
}

#[test]
fn a_large_folder_is_read_in_order_with_every_up_hashed() {
    // Above the size read on every core: the same set as one by one.
    let n = READ_IN_PARALLEL as i64 + 7;
    let dir = tempfile::tempdir().unwrap();
    for v in 1..=n {
        fs::write(
            dir.path().join(format!("{v:04}_m.up.sql")),
            format!("SELECT {v};"),
        )
        .unwrap();
        fs::write(dir.path().join(format!("{v:04}_m.down.sql")), "SELECT 0;").unwrap();
    }
    let set = MigrationSet::load(dir.path()).unwrap();
    assert_eq!(set.files.len(), n as usize);
    for (f, v) in set.files.iter().zip(1..) {
        assert_eq!(f.version, v);
        assert_eq!(f.up.sql, format!("SELECT {v};"));
        let sqlx = sqlx::migrate::Migration::new(
            v,
            "m".into(),
            MigrationType::ReversibleUp,
            sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(f.up.sql.clone())),
            false,
        );
        assert_eq!(f.up.checksum, sqlx.checksum.to_vec());
        assert!(f.down.as_ref().unwrap().checksum.is_empty());
    }
    // A file that cannot be read is named, wherever it falls.
    let bad = dir.path().join(format!("{:04}_m.up.sql", n / 2));
    fs::write(&bad, [0xff, 0xfe]).unwrap();
    let err = MigrationSet::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains(&format!("{:04}_m.up.sql", n / 2)), "{err}");
}
