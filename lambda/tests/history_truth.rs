//! The history says what the database holds, and every report matches it:
//! bookkeeping that names its database, a migration that leaves the
//! session elsewhere, DML rolled back whole, failed reverts, PostgreSQL
//! `-- no-transaction` scripts run statement by statement, and `resolve`
//! (clients killed mid-run: `faults.rs`). Each test asserts the exit
//! code or the error, the message, the history rows and the tables, and
//! runs the engine again. `docs/reliability.md` ("History and reports") is
//! the table of these cases.

pub mod kit;

use kit::{schemagate, Connect, Load};
use schemagate::migrate::Error;
use schemagate::migrate::{self, apply::Left, Direction, PlanError, Target};
use testkit::{text, Folder, TestDb};

async fn up(db: &TestDb, folder: &Folder) -> Result<migrate::Report, Error> {
    up_to(db, folder, Target::Latest).await
}

async fn up_to(db: &TestDb, folder: &Folder, target: Target) -> Result<migrate::Report, Error> {
    let mut conn = db.conn().await;
    let r = migrate::run(&mut conn, &folder.set(), target, &Default::default(), &()).await;
    conn.close().await;
    r
}

fn cli(db: &TestDb, folder: &Folder, args: &[&str]) -> (Option<i32>, String, String) {
    let dir = folder.path();
    let url = db.url();
    let mut all = vec![
        "--database-url",
        &url,
        "--migrations",
        dir.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let o = schemagate(&all);
    let (out, err) = text(&o);
    (o.status.code(), out, err)
}

/// `(version, success, execution_time)` of the history.
async fn rows(db: &TestDb) -> Vec<(i64, bool, i64)> {
    let sql = "SELECT version, success, execution_time FROM _sqlx_migrations ORDER BY version";
    match db.kind {
        testkit::Kind::MariaDb => sqlx::query_as(sql)
            .fetch_all(&mut db.my().await)
            .await
            .unwrap(),
        testkit::Kind::Postgres => sqlx::query_as(sql)
            .fetch_all(&mut db.pg().await)
            .await
            .unwrap(),
    }
}

// ------------------------------------------------------------------ MariaDB

/// sqlx's history table, as another managed database has it.
const HISTORY_DDL: &str = "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)";

/// Issue #8.1: `USE` inside a migration sent the bookkeeping and the next
/// migrations to the other database and reported success.
#[tokio::test]
async fn a_migration_that_leaves_the_session_in_another_database_is_not_reported_applied() {
    let db = TestDb::mariadb("use").await;
    // Another database schemagate manages: it has a history of its own.
    let other = TestDb::mariadb("use_other").await;
    other.exec(HISTORY_DDL).await;
    let folder = Folder::empty();
    folder
        .write(
            "0001_x.sql",
            &format!(
                "CREATE TABLE x (id INT);\nUSE {};\nCREATE TABLE y (id INT);\n",
                other.name
            ),
        )
        .write("0002_after.sql", "CREATE TABLE after_x (id INT);")
        .write("0003_after3.sql", "CREATE TABLE after_3 (id INT);");

    for run in 0..2 {
        let (code, out, err) = cli(&db, &folder, &["up"]);
        assert_ne!(code, Some(0), "run {run}: {out}{err}");
        assert!(!out.contains("schema at version"), "run {run}: {out}");
        // Nothing of the bookkeeping, and no later migration, went there.
        assert_eq!(
            other.tables().await,
            if db.tables().await.contains(&"x".to_string()) {
                vec!["y".to_string()]
            } else {
                vec![]
            },
            "run {run}: only the statement after the USE ran in the other database"
        );
        assert_eq!(
            other.count("SELECT COUNT(*) FROM _sqlx_migrations").await,
            0,
            "run {run}: no history row in the other database"
        );
        let h = db.history().await;
        if h.is_empty() {
            // Refused before it ran (the lint's check on `USE`).
            assert!(db.tables().await.is_empty(), "run {run}");
            continue;
        }
        // It ran: it is on record in the target as started, not applied.
        assert_eq!(h, vec![(1, false)], "run {run}");
        assert_eq!(db.tables().await, vec!["x"], "run {run}");
        if run == 0 {
            assert_eq!(code, Some(1), "{err}");
            assert!(
                err.contains(&format!(
                    "the migration left the session in database `{}` instead of `{}`",
                    other.name, db.name
                )),
                "{err}"
            );
            assert!(err.contains("`0001_x` is PARTLY applied"), "{err}");
            assert!(err.contains("schemagate resolve 1 --as"), "{err}");
        } else {
            assert_eq!(code, Some(4), "{err}");
            assert!(err.contains("`0001_x` is recorded as failed"), "{err}");
        }
    }
}

/// A DML-only migration runs in one transaction on MariaDB: its failure
/// rolls all of it back, so it is "nothing applied", not "partly".
#[tokio::test]
async fn a_dml_migration_that_fails_part_way_is_rolled_back_whole_and_says_so() {
    let db = TestDb::mariadb("dml").await;
    let folder = Folder::empty();
    folder
        .write("0001_t.sql", "CREATE TABLE t (id INT PRIMARY KEY);")
        .write(
            "0002_fill.sql",
            "INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);\nINSERT INTO t VALUES (1);\n",
        );
    for _ in 0..2 {
        let err = up(&db, &folder).await.unwrap_err();
        let Error::Apply(e) = &err else {
            panic!("{err}")
        };
        assert_eq!(e.left, Left::Nothing, "{err}");
        assert!(err.to_string().contains("Duplicate entry"), "{err}");
        assert!(
            err.to_string()
                .contains("Nothing of `0002_fill` was applied; the schema is at version 1"),
            "{err}"
        );
        assert_eq!(db.count("SELECT COUNT(*) FROM t").await, 0);
        assert_eq!(db.history().await, vec![(1, true)]);
    }
    folder.write(
        "0002_fill.sql",
        "INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);\n",
    );
    assert_eq!(up(&db, &folder).await.unwrap().to, 2);
    assert_eq!(db.count("SELECT COUNT(*) FROM t").await, 2);
}

/// The finish's affected-row count is checked: a migration that removes
/// its own row is not reported as applied. (Written plainly, the lint
/// refuses such a migration before it runs; hidden in dynamic SQL, which
/// the lint can only call `unknown`, it reaches the engine's own check.)
#[tokio::test]
async fn a_migration_whose_history_row_is_gone_is_not_reported_applied() {
    let db = TestDb::mariadb("rowgone").await;
    let folder = Folder::empty();
    folder
        .write("0001_t.sql", "CREATE TABLE t (id INT);")
        .write(
            "0002_wipe.sql",
            "CREATE TABLE u (id INT);\nDELETE FROM _sqlx_migrations WHERE version = 2;\n",
        );
    let plain = up(&db, &folder).await.unwrap_err();
    assert!(
        plain.to_string().contains("refused[history-table]"),
        "{plain}"
    );
    assert!(db.history().await.is_empty(), "refused before anything ran");
    assert!(db.tables().await.is_empty());
    folder.write(
        "0002_wipe.sql",
        "CREATE TABLE u (id INT);\nSET @wipe = CONCAT('DELETE FROM _sqlx', '_migrations WHERE version = 2');\nPREPARE wipe FROM @wipe;\nEXECUTE wipe;\n",
    );
    let err = up(&db, &folder).await.unwrap_err();
    let Error::Apply(e) = &err else {
        panic!("{err}")
    };
    assert_eq!(e.left, Left::Partly { statements: 4 }, "{err}");
    assert!(
        err.to_string()
            .contains("was not there to be marked as applied"),
        "{err}"
    );
    assert_eq!(db.history().await, vec![(1, true)]);
    assert_eq!(e.done.to, 1);
}

/// Issue #8(d): a failed revert points at its `.down.sql`, is on record as
/// a failed revert, and `resolve` settles it.
#[tokio::test]
async fn a_failed_revert_names_the_down_script_and_is_resolved_with_resolve() {
    let db = TestDb::mariadb("downfail").await;
    let folder = Folder::empty();
    folder
        .write("0001_a.up.sql", "CREATE TABLE a (id INT);")
        .write("0001_a.down.sql", "DROP TABLE a;")
        .write(
            "0002_b.up.sql",
            "CREATE TABLE b (id INT);\nCREATE TABLE c (id INT);",
        )
        .write("0002_b.down.sql", "DROP TABLE c;\nDROP TABLE nope;\n");
    let (code, _, err) = cli(&db, &folder, &["up"]);
    assert_eq!(code, Some(0), "{err}");

    let (code, _, err) = cli(&db, &folder, &["down", "--to", "0"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("failed reverting `0002_b`"), "{err}");
    assert!(
        err.contains("The revert of `0002_b` is PARTLY done (1 statement ran"),
        "{err}"
    );
    assert!(err.contains("`0002_b.down.sql`"), "{err}");
    assert!(!err.contains("0002_b.up.sql"), "{err}");
    assert_eq!(db.history().await, vec![(1, true), (2, false)]);
    assert_eq!(db.tables().await, vec!["a", "b"]);

    for args in [&["down", "--to", "0"][..], &["up"][..]] {
        let (code, _, err) = cli(&db, &folder, args);
        assert_eq!(code, Some(4), "{err}");
        assert!(
            err.contains("its revert started and did not finish"),
            "{err}"
        );
        assert!(err.contains("0002_b.down.sql"), "{err}");
        assert!(!err.contains("0002_b.up.sql"), "{err}");
        assert!(
            err.contains(
                "finish its statements by hand and run `schemagate resolve 2 --as undone`"
            ),
            "{err}"
        );
    }
    let (code, out, _) = cli(&db, &folder, &["status"]);
    assert_eq!(code, Some(4));
    assert!(
        out.lines().any(|l| l.contains("FAILED")
            && l.contains("0002_b")
            && l.contains("revert started and did not finish: 0002_b.down.sql")),
        "{out}"
    );

    // The person finishes the revert by hand and records it.
    db.exec("DROP TABLE b").await;
    let (code, out, err) = cli(&db, &folder, &["resolve", "2", "--as", "undone"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("`0002_b` was recorded as failed (its revert had started and not finished); recorded it as reverted"), "{out}");
    assert_eq!(db.history().await, vec![(1, true)]);
    let (code, _, err) = cli(&db, &folder, &["down", "--to", "0"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(db.history().await.is_empty());
    assert!(db.tables().await.is_empty());
}

/// Issue #8.7: the hint's "finish by hand" half used to re-run the whole
/// file. `resolve --as applied` records the decision with the current
/// checksum; `up` then goes on after it and never runs it again.
#[tokio::test]
async fn resolve_as_applied_records_the_decision_and_up_never_reruns_the_file() {
    let db = TestDb::mariadb("resolve").await;
    let folder = Folder::empty();
    folder
        .write("0001_t.sql", "CREATE TABLE t (id INT PRIMARY KEY);")
        .write(
            "0002_fill.sql",
            "CREATE INDEX t_id ON t (id);\nINSERT INTO t VALUES (1);\nALTER TABLE nope ADD COLUMN c INT;\n",
        )
        .write("0003_more.sql", "CREATE TABLE u (id INT);");
    let (code, _, err) = cli(&db, &folder, &["up"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("`0002_fill` is PARTLY applied (2 statements ran"),
        "{err}"
    );
    assert!(
        err.contains("finish its statements by hand and run `schemagate resolve 2 --as applied`"),
        "{err}"
    );
    assert_eq!(db.history().await, vec![(1, true), (2, false)]);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM t").await,
        1,
        "the INSERT committed with the DDL after it"
    );

    // Refusals name what the version is, and change nothing.
    for (v, says) in [
        (
            "1",
            "version 1 (`0001_t`) is applied (recorded as successful)",
        ),
        ("3", "version 3 (`0003_more`) is not in the history"),
    ] {
        let (code, _, err) = cli(&db, &folder, &["resolve", v, "--as", "applied"]);
        assert_eq!(code, Some(4), "{err}");
        assert!(err.contains(says), "{err}");
    }
    let (code, _, err) = cli(&db, &folder, &["resolve", "2", "--as", "maybe"]);
    assert_eq!(code, Some(2), "{err}");

    // Finish it by hand (the file fixed to what now stands), record it.
    db.exec("ALTER TABLE t ADD COLUMN c INT").await;
    folder.write(
        "0002_fill.sql",
        "CREATE INDEX t_id ON t (id);\nINSERT INTO t VALUES (1);\nALTER TABLE t ADD COLUMN c INT;\n",
    );
    let (code, out, err) = cli(&db, &folder, &["--json", "resolve", "2", "--as", "applied"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (
            v["ok"].as_bool(),
            v["version"].as_i64(),
            v["as"].as_str(),
            v["failed"].as_str()
        ),
        (Some(true), Some(2), Some("applied"), Some("up")),
        "{v}"
    );
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("checksum of `0002_fill.sql`"),
        "{v}"
    );
    assert_eq!(db.history().await, vec![(1, true), (2, true)]);

    for _ in 0..2 {
        let (code, out, err) = cli(&db, &folder, &["up"]);
        assert_eq!(code, Some(0), "{out}{err}");
        assert!(!out.contains("0002_fill"), "{out}");
    }
    assert_eq!(
        db.count("SELECT COUNT(*) FROM t").await,
        1,
        "the INSERT ran once"
    );
    assert_eq!(db.history().await, vec![(1, true), (2, true), (3, true)]);
    let (code, _, err) = cli(&db, &folder, &["resolve", "2", "--as", "undone"]);
    assert_eq!(code, Some(4), "{err}");
}

/// Issue #8.7, the DDL-only variant: "Nothing … was applied" must never be
/// said of a migration whose DDL committed; after `resolve --as undone`
/// the next run applies it from its first statement.
#[tokio::test]
async fn resolve_as_undone_lets_the_next_run_apply_the_migration_from_the_start() {
    let db = TestDb::mariadb("undone").await;
    let folder = Folder::empty();
    folder.write(
        "0001_ddl.sql",
        "CREATE TABLE a (id INT);\nCREATE TABLE b (id INT);\nCREATE TABLE a (id INT);\n",
    );
    let err = up(&db, &folder).await.unwrap_err();
    assert!(
        !err.to_string().contains("Nothing of"),
        "DDL committed: {err}"
    );
    assert!(
        matches!(&err, Error::Apply(e) if e.left == Left::Partly { statements: 2 }),
        "{err}"
    );
    let again = up(&db, &folder).await.unwrap_err();
    assert!(
        matches!(
            again,
            Error::Plan(PlanError::Dirty {
                version: 1,
                direction: Direction::Up,
                ..
            })
        ),
        "{again}"
    );
    db.exec("DROP TABLE a; DROP TABLE b").await;
    folder.write(
        "0001_ddl.sql",
        "CREATE TABLE a (id INT);\nCREATE TABLE b (id INT);\n",
    );
    let (code, out, err) = cli(&db, &folder, &["resolve", "1", "--as", "undone"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("runs it again from its first statement"),
        "{out}"
    );
    assert!(db.history().await.is_empty());
    assert_eq!(up(&db, &folder).await.unwrap().to, 1);
    assert_eq!(db.tables().await, vec!["a", "b"]);
    assert!(up(&db, &folder).await.unwrap().steps.is_empty());
}

/// A row written by the release before this one, which claimed the next
/// migration's row ahead (`success = false, execution_time = -1`) before
/// it started, is not cleared blindly: it is refused with the `resolve`
/// hint, and `resolve --as undone` lets the migration run.
#[tokio::test]
async fn a_claim_left_by_an_older_release_is_refused_until_resolved() {
    let db = TestDb::mariadb("oldclaim").await;
    let folder = Folder::empty();
    folder
        .write("0001_t.sql", "CREATE TABLE t (id INT);")
        .write("0002_fill.sql", "INSERT INTO t VALUES (2);");
    up_to(&db, &folder, Target::Version(1)).await.unwrap();
    db.exec("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (2, 'fill', FALSE, X'00', -1)").await;
    let (code, _, err) = cli(&db, &folder, &["up"]);
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("`0002_fill` is recorded as failed"), "{err}");
    assert!(err.contains("schemagate resolve 2 --as undone"), "{err}");
    let (code, _, err) = cli(&db, &folder, &["resolve", "2", "--as", "undone"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = cli(&db, &folder, &["up"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(db.count("SELECT COUNT(*) FROM t").await, 1);
    assert_eq!(rows(&db).await.iter().filter(|r| r.2 < 0).count(), 0);
}

// --------------------------------------------------------------- PostgreSQL

/// Issue #8(c): a `-- no-transaction` script ran as one implicit
/// transaction, so a failure of its second statement rolled the first back
/// while the report said "partly applied". Each statement now commits on
/// its own and the report counts what committed.
#[tokio::test]
async fn postgres_no_transaction_reports_what_committed_statement_by_statement() {
    let db = TestDb::postgres("pgnotx").await;
    let folder = Folder::empty();
    folder.write("1_t.sql", "CREATE TABLE t (id INT);").write(
        "2_two.sql",
        "-- no-transaction\nCREATE TABLE first (id INT);\nSELECT * FROM nope;\n",
    );
    let err = up(&db, &folder).await.unwrap_err();
    let Error::Apply(e) = &err else {
        panic!("{err}")
    };
    assert_eq!(e.left, Left::Partly { statements: 1 }, "{err}");
    assert!(
        err.to_string()
            .contains("`2_two` is PARTLY applied (1 statement ran"),
        "{err}"
    );
    assert!(
        err.to_string().contains("relation \"nope\" does not exist"),
        "{err}"
    );
    assert_eq!(
        db.tables().await,
        vec!["first", "t"],
        "the first statement committed"
    );
    assert_eq!(rows(&db).await.last(), Some(&(2, false, -1)));
    let again = up(&db, &folder).await.unwrap_err();
    assert!(
        matches!(again, Error::Plan(PlanError::Dirty { version: 2, .. })),
        "{again}"
    );
}

#[tokio::test]
async fn postgres_no_transaction_whose_first_statement_fails_leaves_nothing() {
    let db = TestDb::postgres("pgnotx1").await;
    let folder = Folder::empty();
    folder.write(
        "1_two.sql",
        "-- no-transaction\nSELECT * FROM nope;\nCREATE TABLE never (id INT);\n",
    );
    for _ in 0..2 {
        let err = up(&db, &folder).await.unwrap_err();
        assert!(
            matches!(&err, Error::Apply(e) if e.left == Left::Nothing),
            "{err}"
        );
        assert!(
            err.to_string().contains("Nothing of `1_two` was applied"),
            "{err}"
        );
        assert!(db.history().await.is_empty(), "the row is removed");
        assert!(db.tables().await.is_empty());
    }
}

#[tokio::test]
async fn postgres_no_transaction_runs_several_concurrent_index_builds() {
    let db = TestDb::postgres("pgcic").await;
    let folder = Folder::empty();
    folder
        .write("1_t.up.sql", "CREATE TABLE t (id INT, email TEXT);")
        .write("1_t.down.sql", "DROP TABLE t;")
        .write(
            "2_idx.up.sql",
            "-- no-transaction\nCREATE INDEX CONCURRENTLY t_id ON t (id);\nCREATE INDEX CONCURRENTLY t_email ON t (email);\n",
        )
        .write(
            "2_idx.down.sql",
            "-- no-transaction\nDROP INDEX CONCURRENTLY t_email;\nDROP INDEX CONCURRENTLY t_id;\n",
        );
    for _ in 0..2 {
        assert_eq!(up(&db, &folder).await.unwrap().to, 2);
        assert_eq!(
            db.count("SELECT COUNT(*) FROM pg_indexes WHERE tablename = 't'")
                .await,
            2
        );
    }
    let back = up_to(&db, &folder, Target::Version(1)).await.unwrap();
    assert_eq!(back.count(Direction::Down), 1);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM pg_indexes WHERE tablename = 't'")
            .await,
        0
    );
    assert_eq!(db.history().await, vec![(1, true)]);
}

/// PostgreSQL's counterpart of `USE`: a migration that changes the
/// session's `search_path` would send the next migration's names
/// elsewhere; it is rolled back and nothing later runs.
#[tokio::test]
async fn postgres_a_migration_that_changes_search_path_is_rolled_back() {
    let db = TestDb::postgres("pgpath").await;
    db.exec("CREATE SCHEMA other; CREATE TABLE other._sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL, checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL)").await;
    let folder = Folder::empty();
    folder
        .write("1_a.sql", "CREATE TABLE a (id INT);")
        .write(
            "2_path.sql",
            "SET search_path = other;\nCREATE TABLE y (id INT);\n",
        )
        .write("3_after.sql", "CREATE TABLE after_2 (id INT);");
    for _ in 0..2 {
        let err = up(&db, &folder).await.unwrap_err();
        assert!(
            !matches!(err, Error::Apply(ref e) if e.left != Left::RolledBack),
            "{err}"
        );
        if let Error::Apply(e) = &err {
            assert!(
                e.error
                    .to_string()
                    .contains("changed the session's search_path"),
                "{err}"
            );
            assert_eq!(e.done.to, 1);
        }
        assert_eq!(db.history().await.iter().filter(|r| r.0 > 1).count(), 0);
        assert_eq!(
            db.count("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'other' AND table_name <> '_sqlx_migrations'")
                .await,
            0
        );
        assert_eq!(
            db.count("SELECT COUNT(*) FROM other._sqlx_migrations")
                .await,
            0
        );
        assert!(!db.tables().await.contains(&"after_2".to_string()));
    }
}
