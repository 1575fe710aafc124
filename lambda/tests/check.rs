//! `schemagate check`, as an instance of release V runs it at boot and from
//! its health check, against real servers: the migrations are applied by
//! `schemagate up`, and their classes are written into
//! `_schemagate_history` as the table's contract says (version, name,
//! down_sql, class, rules, since). Exit codes, the one-line reason, `--json`,
//! a read-only user, the env file `gate()` writes, a database behind V.

pub mod kit;

use std::process::Output;

use kit::schemagate;
use testkit::{text, Folder, TestDb};

/// `_schemagate_history` as its contract has it (the engine creates it;
/// made here so these tests stand on the contract alone).
async fn history_table(db: &TestDb) {
    db.exec("CREATE TABLE IF NOT EXISTS _schemagate_history (version BIGINT PRIMARY KEY, name TEXT, down_sql TEXT NULL, class VARCHAR(16), rules TEXT, since BIGINT)").await;
}

/// Record `version`'s class, replacing a row the engine may have written.
async fn record(db: &TestDb, version: i64, name: &str, class: &str, rules: &str, since: i64) {
    history_table(db).await;
    db.exec(&format!(
        "DELETE FROM _schemagate_history WHERE version = {version}"
    ))
    .await;
    db.exec(&format!(
        "INSERT INTO _schemagate_history (version, name, down_sql, class, rules, since) VALUES ({version}, '{name}', NULL, '{class}', '{rules}', {since})"
    ))
    .await;
}

fn cli(url: &str, folder: &Folder, args: &[&str]) -> Output {
    let m = folder.path();
    let mut all = vec!["--database-url", url, "--migrations", m.to_str().unwrap()];
    all.extend_from_slice(args);
    schemagate(&all)
}

fn check(url: &str, release: i64, extra: &[&str]) -> Output {
    let v = release.to_string();
    let mut all = vec!["--database-url", url, "check", "--release-version", &v];
    all.extend_from_slice(extra);
    schemagate(&all)
}

/// Release 6 applied: six migrations both engines read (a first deploy).
async fn example_at_six(db: &TestDb) -> Folder {
    let folder = Folder::empty();
    folder.write(
        "0001_create_users.up.sql",
        "CREATE TABLE users (id BIGINT PRIMARY KEY, email VARCHAR(255) NOT NULL);\n",
    );
    folder.write("0001_create_users.down.sql", "DROP TABLE users;\n");
    for v in 2..=6 {
        folder.write(
            &format!("000{v}_create_t{v}.up.sql"),
            &format!("CREATE TABLE t{v} (id BIGINT PRIMARY KEY);\n"),
        );
        folder.write(
            &format!("000{v}_create_t{v}.down.sql"),
            &format!("DROP TABLE t{v};\n"),
        );
    }
    let o = cli(&db.url(), &folder, &["up"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    folder
}

/// 0007 adds a column (expand), 0008 drops it (breaking for release 7).
fn expand_then_break(folder: &Folder) {
    folder.write(
        "0007_add_nickname.up.sql",
        "ALTER TABLE users ADD COLUMN nickname VARCHAR(40) NULL;\n",
    );
    folder.write(
        "0007_add_nickname.down.sql",
        "ALTER TABLE users DROP COLUMN nickname;\n",
    );
    folder.write(
        "0008_drop_nickname.up.sql",
        "ALTER TABLE users DROP COLUMN nickname;\n",
    );
    folder.write(
        "0008_drop_nickname.down.sql",
        "ALTER TABLE users ADD COLUMN nickname VARCHAR(40) NULL;\n",
    );
}

#[tokio::test]
async fn release_v_passes_after_an_expand_and_fails_after_a_breaking_migration_naming_it() {
    for db in [
        TestDb::mariadb("check").await,
        TestDb::postgres("check").await,
    ] {
        let url = db.url();
        let folder = example_at_six(&db).await;
        let o = check(&url, 6, &[]);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{out}{err}");
        assert_eq!(
            out,
            "schemagate check: release 6 can run on this schema (at version 6)\n"
        );

        // v+1, expand-only: release 6 keeps serving.
        expand_then_break(&folder);
        let o = cli(&url, &folder, &["up", "--to", "7"]);
        assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
        record(&db, 7, "0007_add_nickname", "expand", "", 6).await;
        for _ in 0..2 {
            let o = check(&url, 6, &[]);
            assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
            assert!(text(&o).0.contains("(at version 7)"));
        }

        // v+2, breaking: release 6 must leave, with one line naming it.
        let o = cli(&url, &folder, &["up", "--allow-breaking"]);
        assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
        record(&db, 8, "0008_drop_nickname", "breaking", "drop-column", 7).await;
        let o = check(&url, 6, &[]);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(6), "{out}{err}");
        assert_eq!(out, "");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("schemagate check: `0008_drop_nickname` is applied and breaks release 6 (breaking: drop-column); this instance must not serve: replace it with a release built for version 8 or later"), "{err}");
        // Release 7 does not run on it either; release 8 does.
        assert_eq!(check(&url, 7, &[]).status.code(), Some(6));
        assert_eq!(check(&url, 8, &[]).status.code(), Some(0));
    }
}

#[tokio::test]
async fn a_contract_is_safe_for_the_release_it_finishes_and_newer_ones_not_older_ones() {
    let db = TestDb::mariadb("checkc").await;
    let url = db.url();
    let folder = example_at_six(&db).await;
    expand_then_break(&folder);
    let o = cli(&url, &folder, &["up", "--to", "7"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    folder.write(
        "0009_more.up.sql",
        "CREATE TABLE more_things (id INT PRIMARY KEY);\n",
    );
    folder.write("0009_more.down.sql", "DROP TABLE more_things;\n");
    let o = cli(&url, &folder, &["up", "--allow-breaking"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    record(&db, 7, "0007_add_nickname", "expand", "", 6).await;
    // 0008 ran as the contract of the release at 7 (it stopped using it).
    record(&db, 8, "0008_drop_nickname", "contract", "drop-column", 7).await;
    record(&db, 9, "0009_more", "expand", "", 7).await;

    assert_eq!(
        check(&url, 7, &[]).status.code(),
        Some(0),
        "the release it was made for"
    );
    assert_eq!(
        check(&url, 8, &[]).status.code(),
        Some(0),
        "a newer release"
    );
    let o = check(&url, 6, &[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(6), "{err}");
    assert!(err.contains("`0008_drop_nickname` is applied and breaks release 6: it is a contract for the release at version 7 (it removes what that release no longer used), and release 6 is older and may still use it"), "{err}");
}

#[tokio::test]
async fn json_output_and_exit_codes() {
    let db = TestDb::mariadb("checkj").await;
    let url = db.url();
    let folder = example_at_six(&db).await;
    expand_then_break(&folder);
    let o = cli(&url, &folder, &["up", "--allow-breaking"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    record(&db, 7, "0007_add_nickname", "expand", "", 6).await;
    record(&db, 8, "0008_drop_nickname", "breaking", "drop-column", 6).await;

    let o = check(&url, 6, &["--json"]);
    assert_eq!(o.status.code(), Some(6));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["exit_code"], 6);
    assert_eq!(doc["release"], 6);
    assert_eq!(doc["schema_version"], 8);
    assert_eq!(
        doc["database"],
        format!("mariadb://127.0.0.1:3306/{}", db.name)
    );
    assert!(doc["reason"]
        .as_str()
        .unwrap()
        .starts_with("`0008_drop_nickname` is applied and breaks release 6"));
    let m = doc["migrations"].as_array().unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0]["name"], "0007_add_nickname");
    assert_eq!(m[0]["class"], "expand");
    assert_eq!(m[0]["safe"], true);
    assert_eq!(m[1]["class"], "breaking");
    assert_eq!(m[1]["rules"], serde_json::json!(["drop-column"]));
    assert_eq!(m[1]["since"], 6);
    assert_eq!(m[1]["safe"], false);

    let o = check(&url, 8, &["--json"]);
    assert_eq!(o.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["migrations"], serde_json::json!([]));

    // 7: behind; 2: no version to check for; 3: no database to be had.
    let o = check(&url, 9, &["--json"]);
    assert_eq!(o.status.code(), Some(7));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["reason"], "the database is behind release 9: its schema is at version 8, and release 9 needs version 9; run the migrations first (the deploy, or `schemagate up --to 9`)");
    let missing = folder.path().join("no-such.env");
    let o = schemagate(&[
        "--database-url",
        &url,
        "check",
        "--env-file",
        missing.to_str().unwrap(),
    ]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no-such.env`: No such file") && err.contains("--release-version V"),
        "{err}"
    );
    let o = check("mysql://root@127.0.0.1:3306/no_such_database_here", 6, &[]);
    assert_eq!(o.status.code(), Some(3), "{:?}", text(&o));
}

#[tokio::test]
async fn the_version_comes_from_the_env_file_gate_writes() {
    let db = TestDb::mariadb("checke").await;
    let url = db.url();
    let folder = example_at_six(&db).await;
    expand_then_break(&folder);
    let o = cli(&url, &folder, &["up", "--allow-breaking"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    record(&db, 7, "0007_add_nickname", "expand", "", 6).await;
    record(&db, 8, "0008_drop_nickname", "breaking", "drop-column", 7).await;
    let env = folder.path().join("schema.env");
    for (file, code) in [
        ("SCHEMAGATE_SCHEMA_VERSION=6\n", 6),
        ("# written by gate()\nSCHEMAGATE_SCHEMA_VERSION=8\n", 0),
        ("SCHEMAGATE_SCHEMA_VERSION=latest\n", 2),
    ] {
        std::fs::write(&env, file).unwrap();
        let o = schemagate(&[
            "--database-url",
            &url,
            "check",
            "--env-file",
            env.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(code), "{file}: {:?}", text(&o));
    }
    // --release-version wins over the file.
    let o = check(&url, 8, &["--env-file", env.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
}

#[tokio::test]
async fn a_read_only_user_is_enough() {
    let db = TestDb::mariadb("checkro").await;
    let folder = example_at_six(&db).await;
    expand_then_break(&folder);
    let o = cli(&db.url(), &folder, &["up", "--allow-breaking"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    record(&db, 7, "0007_add_nickname", "expand", "", 6).await;
    record(&db, 8, "0008_drop_nickname", "breaking", "drop-column", 7).await;
    let user = format!("ro_{}", &db.name[db.name.len().saturating_sub(20)..]);
    db.exec(&format!("DROP USER IF EXISTS '{user}'@'127.0.0.1'"))
        .await;
    db.exec(&format!(
        "CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 'ro-pass-1'"
    ))
    .await;
    db.exec(&format!(
        "GRANT SELECT ON `{}`.* TO '{user}'@'127.0.0.1'",
        db.name
    ))
    .await;
    let ro = format!("mysql://{user}:ro-pass-1@127.0.0.1:3306/{}", db.name);

    // It can read, not write …
    let o = cli(&ro, &folder, &["down", "--to", "6"]);
    assert_ne!(o.status.code(), Some(0), "{:?}", text(&o));
    // … and that is all the check needs.
    let o = check(&ro, 8, &[]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let o = check(&ro, 6, &[]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(6), "{out}{err}");
    assert!(
        err.contains("`0008_drop_nickname` is applied and breaks release 6"),
        "{err}"
    );
    assert!(!format!("{out}{err}").contains("ro-pass-1"));
    db.exec(&format!("DROP USER '{user}'@'127.0.0.1'")).await;
}

#[tokio::test]
async fn migrations_without_a_recorded_class_are_not_safe() {
    let db = TestDb::postgres("checkun").await;
    let url = db.url();
    let folder = example_at_six(&db).await;
    expand_then_break(&folder);
    let o = cli(&url, &folder, &["up", "--to", "7"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    // No `_schemagate_history` at all (an older schemagate applied 0007) …
    db.exec("DROP TABLE IF EXISTS _schemagate_history").await;
    let o = check(&url, 6, &[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(6), "{err}");
    assert!(err.contains("version 7 (`add nickname`) is applied above release 6 but has no class in `_schemagate_history` (applied by an older schemagate or another tool)"), "{err}");
    assert!(err.contains("INSERT INTO _schemagate_history"), "{err}");
    // … nothing above 6 for release 7 …
    assert_eq!(check(&url, 7, &[]).status.code(), Some(0));
    // … and the table without 0007's row says the same.
    history_table(&db).await;
    assert_eq!(check(&url, 6, &[]).status.code(), Some(6));
    // A database with no history at all is behind any release but 0.
    let empty = TestDb::postgres("checkun0").await;
    let o = check(&empty.url(), 1, &[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(7), "{err}");
    assert!(
        err.contains("the database is behind release 1: no migration is applied"),
        "{err}"
    );
    assert_eq!(check(&empty.url(), 0, &[]).status.code(), Some(0));
}
