//! Migrations written to get past the gate or to break the run itself,
//! against the real servers: `USE` another database, `COMMIT` inside a
//! PostgreSQL migration, executable comments, an event that drops a table,
//! an engine that discards rows. Each is refused (by the engine, before
//! anything runs, whatever the deploy allows) or gated like a breaking
//! change; the tests look at what the user sees and at what the databases
//! hold afterwards.

pub mod kit;

use kit::{event, handler, last, reason, schemagate, server};
use serde_json::json;
use testkit::{text as out, Folder, TestDb};

fn up(db: &TestDb, folder: &Folder) -> std::process::Output {
    schemagate(&[
        "--database-url",
        &db.url(),
        "--migrations",
        folder.path().to_str().unwrap(),
        "up",
    ])
}

#[tokio::test]
async fn use_inside_a_migration_is_refused_before_anything_runs_and_the_other_database_is_untouched(
) {
    let db = TestDb::mariadb("huse").await;
    let other = TestDb::mariadb("huse_other").await;
    let folder = Folder::empty();
    folder.write(
        "0001_x.sql",
        &format!(
            "CREATE TABLE x (id INT);\nUSE {};\nCREATE TABLE y (id INT);\n",
            other.name
        ),
    );
    folder.write("0002_after.sql", "CREATE TABLE after_x (id INT);\n");
    folder.write("0003_after3.sql", "CREATE TABLE after_3 (id INT);\n");

    for attempt in 0..2 {
        let o = up(&db, &folder);
        let (stdout, stderr) = out(&o);
        assert_eq!(
            o.status.code(),
            Some(4),
            "attempt {attempt}: {stdout}{stderr}"
        );
        let line = format!(
            "{}:2: refused[change-database]: `USE {}`",
            folder.path().join("0001_x.sql").display(),
            other.name
        );
        assert!(
            stderr.contains(
                "refused before running anything: migration `0001_x` cannot run under schemagate"
            ),
            "{stderr}"
        );
        assert!(stderr.contains(&line), "{stderr}");
        assert!(
            stderr.contains("fix: name the database or schema in the statements instead"),
            "{stderr}"
        );
        assert!(
            stderr.contains("No marker, drain target or AllowBreaking lets such a statement run; nothing was applied"),
            "{stderr}"
        );
        assert!(!stdout.contains("applied"), "{stdout}");
        assert_eq!(db.history().await, vec![], "no history row");
        assert_eq!(db.tables().await, Vec::<String>::new(), "nothing ran here");
        assert_eq!(other.tables().await, Vec::<String>::new(), "nor there");
        assert_eq!(other.history().await, vec![]);
    }

    // `plan` says so (exit 4), and `lint` fails (exit 5) with the line.
    let m = folder.path();
    let o = schemagate(&[
        "--database-url",
        &db.url(),
        "--migrations",
        m.to_str().unwrap(),
        "plan",
    ]);
    assert_eq!(o.status.code(), Some(4), "{:?}", out(&o));
    assert!(
        out(&o).1.contains("refused[change-database]"),
        "{:?}",
        out(&o)
    );
    let o = schemagate(&["--migrations", m.to_str().unwrap(), "lint"]);
    let (stdout, stderr) = out(&o);
    assert_eq!(o.status.code(), Some(5), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "{}:2: refused[change-database]: `USE {}`",
            m.join("0001_x.sql").display(),
            other.name
        )),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.trim_start().starts_with("0001_x ")
            && l.ends_with(" refused — change-database (line 2)")),
        "{stdout}"
    );
    assert!(stderr.contains("1 migration is refused"), "{stderr}");
    // A marker does not change that.
    folder.write(
        "0001_x.sql",
        &format!("-- schemagate: contract\n/*M! USE {} */;\n", other.name),
    );
    let o = schemagate(&["--migrations", m.to_str().unwrap(), "lint"]);
    assert_eq!(o.status.code(), Some(5), "{:?}", out(&o));
    assert_eq!(up(&db, &folder).status.code(), Some(4));
    assert_eq!(db.history().await, vec![]);
}

#[tokio::test]
async fn a_session_setting_in_a_down_script_is_refused_before_the_revert_starts() {
    let db = TestDb::mariadb("hdown").await;
    let folder = Folder::empty();
    folder.write("0001_a.up.sql", "CREATE TABLE a (id INT);\n");
    folder.write("0001_a.down.sql", "SET autocommit = 1;\nDROP TABLE a;\n");
    assert_eq!(up(&db, &folder).status.code(), Some(0));
    for _ in 0..2 {
        let o = schemagate(&[
            "--database-url",
            &db.url(),
            "--migrations",
            folder.path().to_str().unwrap(),
            "down",
            "--to",
            "0",
        ]);
        let (stdout, stderr) = out(&o);
        assert_eq!(o.status.code(), Some(4), "{stdout}{stderr}");
        assert!(
            stderr.contains(&format!(
                "{}:1: refused[session-setting]: SET autocommit = 1",
                folder.path().join("0001_a.down.sql").display()
            )),
            "{stderr}"
        );
        assert_eq!(db.history().await, vec![(1, true)]);
        assert_eq!(db.tables().await, vec!["a"]);
    }
}

#[tokio::test]
async fn postgres_commit_inside_a_migration_is_refused_and_no_table_is_created() {
    let db = TestDb::postgres("hcommit").await;
    let folder = Folder::empty();
    folder.write("0001_base.sql", "CREATE TABLE base (id INT);\n");
    folder.write(
        "0003_commit.sql",
        "CREATE TABLE tx_a (id INT);\nCOMMIT;\nCREATE TABLE tx_b (id INT);\nSELECT 1/0;\n",
    );
    for attempt in 0..2 {
        let o = up(&db, &folder);
        let (stdout, stderr) = out(&o);
        assert_eq!(
            o.status.code(),
            Some(4),
            "attempt {attempt}: {stdout}{stderr}"
        );
        assert!(
            stderr.contains(&format!(
                "{}:2: refused[transaction-control]: `COMMIT` in a migration that runs in one transaction with its history row",
                folder.path().join("0003_commit.sql").display()
            )),
            "{stderr}"
        );
        assert!(
            stderr.contains("or split the file and start the part that manages its own transactions with `-- no-transaction` on its first line"),
            "{stderr}"
        );
        assert_eq!(db.history().await, vec![]);
        assert_eq!(
            db.tables().await,
            Vec::<String>::new(),
            "no tx_a, not even base"
        );
    }
    // Without its COMMIT the file is one transaction again, and its
    // failure leaves nothing behind.
    folder.write(
        "0003_commit.sql",
        "CREATE TABLE tx_a (id INT);\nCREATE TABLE tx_b (id INT);\nSELECT 1/0;\n",
    );
    let o = up(&db, &folder);
    assert_eq!(o.status.code(), Some(1), "{:?}", out(&o));
    assert_eq!(db.history().await, vec![(1, true)]);
    assert_eq!(db.tables().await, vec!["base"]);
}

#[tokio::test]
async fn a_file_ending_in_an_executable_comment_runs_it_and_records_the_migration() {
    let db = TestDb::mariadb("hexec").await;
    let folder = Folder::empty();
    folder.write(
        "0001_t.sql",
        "CREATE TABLE t (id INT, s TEXT);\nINSERT INTO t VALUES (1, 'a;b'), (2, '/*M! x */'), (3, 'it\\'s; \"q\"'), (4, \"d;q\");\n/*M!100100 INSERT INTO t VALUES (5, '--') */",
    );
    for attempt in 0..2 {
        let o = up(&db, &folder);
        assert_eq!(o.status.code(), Some(0), "attempt {attempt}: {:?}", out(&o));
        assert_eq!(db.history().await, vec![(1, true)]);
        assert_eq!(db.count("SELECT COUNT(*) FROM t").await, 5);
    }
}

/// The example history (users, orders, plans), deployed through the Lambda:
/// a release runs on it now.
async fn deployed(tag: &str) -> (TestDb, Folder) {
    let db = TestDb::mariadb(tag).await;
    let folder = Folder::with_example();
    let s = server().await;
    handler(&db, folder.path())
        .handle(event("create", &s, json!({})), None)
        .await
        .unwrap();
    assert_eq!(last(&s).await["Status"], "SUCCESS");
    (db, folder)
}

const USERS: &str = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'users' AND engine = 'InnoDB'";

#[tokio::test]
async fn statements_that_hide_a_breaking_change_are_gated_and_the_table_stays() {
    let (db, folder) = deployed("hgate").await;
    db.exec("INSERT INTO users (email) VALUES ('a@example.com')")
        .await;
    for (file, sql, finding) in [
        (
            "0007_exec_comment.sql",
            "/*M! DROP TABLE users */;\n",
            "`0007_exec_comment` line 1: breaking[drop-table]: DROP TABLE users",
        ),
        (
            "0007_versioned.sql",
            "SELECT 1;\n/*M!100100 DROP TABLE users */;\n",
            "`0007_versioned` line 2: breaking[drop-table]: DROP TABLE users",
        ),
        (
            "0007_event.sql",
            "CREATE EVENT e ON SCHEDULE AT CURRENT_TIMESTAMP DO DROP TABLE users;\n",
            "`0007_event` line 1: breaking[drop-table]: in event `e`: DROP TABLE users",
        ),
        (
            "0007_blackhole.sql",
            "ALTER TABLE users ENGINE=BLACKHOLE;\n",
            "`0007_blackhole` line 1: breaking[change-engine]: ALTER TABLE users ENGINE=BLACKHOLE",
        ),
        (
            "0007_prepared.sql",
            "PREPARE s FROM 'DROP TABLE users';\nEXECUTE s;\n",
            "`0007_prepared` line 1: breaking[drop-table]: DROP TABLE users",
        ),
    ] {
        folder.write(file, sql);
        // `schemagate lint` in CI says the same before the deploy.
        let o = schemagate(&[
            "--migrations",
            folder.path().to_str().unwrap(),
            "lint",
            "--since",
            "6",
        ]);
        assert_eq!(o.status.code(), Some(5), "{file}: {:?}", out(&o));
        let rule = finding
            .split(": ")
            .next()
            .unwrap()
            .rsplit(' ')
            .next()
            .unwrap();
        assert!(out(&o).0.contains(rule), "{file}: {rule}: {:?}", out(&o));
        let s = server().await;
        let h = handler(&db, folder.path());
        let ev = event("update", &s, json!({"TargetVersion": "7"}));
        for attempt in 0..2 {
            h.handle(ev.clone(), None).await.unwrap();
            let body = last(&s).await;
            assert_eq!(body["Status"], "FAILED", "{file} attempt {attempt}: {body}");
            let r = reason(&body);
            assert!(
                r.starts_with("refused before running anything"),
                "{file}: {r}"
            );
            assert!(r.contains(finding), "{file}: {r}");
            assert!(r.contains("Nothing was applied"), "{file}: {r}");
            assert_eq!(
                db.history().await,
                (1..=6).map(|v| (v, true)).collect::<Vec<_>>(),
                "{file}: no row for 0007"
            );
            assert_eq!(
                db.count(USERS).await,
                1,
                "{file}: users is still an InnoDB table"
            );
            assert_eq!(
                db.count("SELECT COUNT(*) FROM users").await,
                1,
                "{file}: with its row"
            );
            assert_eq!(
                db.count("SELECT COUNT(*) FROM information_schema.events WHERE event_schema = DATABASE()").await,
                0,
                "{file}: no event"
            );
        }
        folder.remove(file);
    }
}

#[tokio::test]
async fn the_lambda_refuses_a_use_even_with_allow_breaking_and_a_marker() {
    let (db, folder) = deployed("huselambda").await;
    let other = TestDb::mariadb("huselambda_other").await;
    folder.write(
        "0007_elsewhere.sql",
        &format!(
            "-- schemagate: contract\nCREATE TABLE x (id INT);\nUSE {};\nCREATE TABLE y (id INT);\n",
            other.name
        ),
    );
    let s = server().await;
    let h = handler(&db, folder.path());
    let ev = event(
        "update",
        &s,
        json!({"TargetVersion": "7", "AllowBreaking": "true"}),
    );
    for attempt in 0..2 {
        h.handle(ev.clone(), None).await.unwrap();
        let body = last(&s).await;
        assert_eq!(body["Status"], "FAILED", "attempt {attempt}: {body}");
        let r = reason(&body);
        assert!(r.starts_with("refused before running anything: migration `0007_elsewhere` cannot run under schemagate"), "{r}");
        assert!(r.contains(":3: refused[change-database]"), "{r}");
        assert_eq!(
            db.history().await,
            (1..=6).map(|v| (v, true)).collect::<Vec<_>>()
        );
        assert!(!db.tables().await.contains(&"x".to_string()));
        assert_eq!(other.tables().await, Vec::<String>::new());
    }
}
