//! Faults: servers killed, frozen or silent, clients killed. Every test
//! here that stops a server runs its own `mariadbd` ([`PrivateMariaDb`]),
//! never the shared one. Each asserts what the user sees (exit code,
//! message) and what the database holds afterwards (history rows, tables).
//! `docs/reliability.md` is the table of these cases.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{text, Folder, PrivateMariaDb};
use sqlx::{Connection, MySqlConnection};

fn cli(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_schemagate"));
    c.args(args)
        .env_remove("DATABASE_URL")
        .env_remove("SCHEMAGATE_SECRET_ARN")
        .env_remove("SCHEMAGATE_MIGRATIONS_DIR");
    c
}

async fn rows(url: &str, sql: &str) -> Vec<(i64, bool)> {
    let mut c = MySqlConnection::connect(url).await.unwrap();
    sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(&mut c)
        .await
        .unwrap()
}

async fn tables(url: &str) -> Vec<String> {
    let mut c = MySqlConnection::connect(url).await.unwrap();
    let mut t: Vec<String> = sqlx::query_scalar(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    t.sort();
    t
}

#[tokio::test]
async fn a_server_killed_mid_migration_leaves_the_migration_on_record_as_failed() {
    let mut server = PrivateMariaDb::start(&[]);
    let url = server.url("app");
    let folder = Folder::empty();
    folder
        .write("0001_a.sql", "CREATE TABLE a (id INT);")
        .write(
            "0002_slow.sql",
            "CREATE TABLE b (id INT);\nSELECT SLEEP(30);\nCREATE TABLE c (id INT);",
        );
    let dir = folder.path();
    let child = cli(&[
        "--database-url",
        &url,
        "--migrations",
        dir.to_str().unwrap(),
        "up",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill9();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_ne!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    server.restart();
    assert_eq!(
        rows(
            &url,
            "SELECT version, success FROM _sqlx_migrations ORDER BY version"
        )
        .await,
        vec![(1, true), (2, false)]
    );
    assert_eq!(tables(&url).await, vec!["a", "b"]);
    let again = cli(&[
        "--database-url",
        &url,
        "--migrations",
        dir.to_str().unwrap(),
        "up",
    ])
    .output()
    .unwrap();
    let (_, stderr) = text(&again);
    assert_eq!(again.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("`0002_slow` is recorded as failed"),
        "{stderr}"
    );
}
