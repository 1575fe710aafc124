//! Online changes on the real MariaDB: expand with both releases writing
//! and reading each other's rows, contract at the next release, revert,
//! failures part way, and the binary-log check. Each scenario runs the
//! engine more than once to show idempotence.

pub mod kit;

use kit::{Connect, Load};
use schemagate::migrate::{self, apply, Error, Report, Target};
use schemagate::online::OnlineError;
use testkit::{Folder, TestDb};

async fn up_to(db: &TestDb, folder: &Folder, target: Target) -> Result<Report, Error> {
    let mut conn = db.conn().await;
    let r = migrate::run(
        &mut conn,
        &folder.set(),
        target,
        &apply::Options::default(),
        &(),
    )
    .await;
    conn.close().await;
    r
}

async fn up(db: &TestDb, folder: &Folder) -> Result<Report, Error> {
    up_to(db, folder, Target::Latest).await
}

async fn text(db: &TestDb, sql: &str) -> Vec<String> {
    use sqlx::Row;
    let mut c = db.my().await;
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(&mut c)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.try_get::<Option<String>, _>(0)
                .unwrap()
                .unwrap_or_else(|| "NULL".into())
        })
        .collect()
}

async fn state(db: &TestDb, version: i64) -> Vec<String> {
    text(
        db,
        &format!("SELECT state FROM _schemagate_online WHERE version = {version}"),
    )
    .await
}

async fn triggers(db: &TestDb) -> Vec<String> {
    text(db, "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY 1").await
}

/// `users` with `n` rows (`u<i>@x`), applied as version 1.
async fn users(tag: &str, n: usize) -> (TestDb, Folder) {
    let db = TestDb::mariadb(tag).await;
    let folder = Folder::empty();
    folder.write(
        "0001_users.up.sql",
        "CREATE TABLE users (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(50) NOT NULL, nick VARCHAR(20) NULL, UNIQUE KEY u_email (email));",
    );
    folder.write("0001_users.down.sql", "DROP TABLE users;");
    up(&db, &folder).await.unwrap();
    db.exec(&format!(
        "INSERT INTO users (email) SELECT CONCAT('u', seq, '@x') FROM seq_1_to_{n}"
    ))
    .await;
    (db, folder)
}

const RENAME: &str =
    "-- schemagate: online\nALTER TABLE users RENAME COLUMN email TO email_address;";

fn rename(folder: &Folder) {
    folder.write("0002_rename_email.up.sql", RENAME);
    folder.write(
        "0002_rename_email.down.sql",
        "ALTER TABLE users RENAME COLUMN email_address TO email;",
    );
}

/// The release before the change and the one that brings it write, and
/// each reads the other's rows.
async fn both_releases_write_and_read_each_other(db: &TestDb) {
    db.exec("INSERT INTO users (email) VALUES ('old@x')").await;
    db.exec("INSERT INTO users (email_address) VALUES ('new@x')")
        .await;
    db.exec("UPDATE users SET email = 'old1@x' WHERE id = 1")
        .await;
    db.exec("UPDATE users SET email_address = 'new2@x' WHERE id = 2")
        .await;
    assert_eq!(
        text(
            db,
            "SELECT email_address FROM users WHERE email IN ('old@x', 'old1@x') ORDER BY 1"
        )
        .await,
        ["old1@x", "old@x"]
    );
    assert_eq!(
        text(
            db,
            "SELECT email FROM users WHERE email_address IN ('new@x', 'new2@x') ORDER BY 1"
        )
        .await,
        ["new2@x", "new@x"]
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM users WHERE NOT (email <=> email_address)")
            .await,
        0
    );
}

#[tokio::test]
async fn rename_column_expands_serves_both_releases_and_contracts_at_the_next_release() {
    let (db, folder) = users("online_rename", 2500).await;
    rename(&folder);
    up(&db, &folder).await.unwrap();
    assert_eq!(
        db.columns("users").await,
        ["id", "email", "email_address", "nick"]
    );
    assert_eq!(state(&db, 2).await, ["expanded"]);
    assert_eq!(triggers(&db).await, ["_sg_2_ins", "_sg_2_upd"]);
    assert_eq!(db.history().await, [(1, true), (2, true)]);
    both_releases_write_and_read_each_other(&db).await;

    // The same deploy again (a retry, a redeploy of the same build): the
    // release before the change may still run, so nothing is contracted.
    up(&db, &folder).await.unwrap();
    assert_eq!(state(&db, 2).await, ["expanded"]);
    assert_eq!(
        db.columns("users").await,
        ["id", "email", "email_address", "nick"]
    );

    // The next release: the contract runs first.
    folder.write(
        "0003_cities.up.sql",
        "CREATE TABLE cities (id INT PRIMARY KEY);",
    );
    folder.write("0003_cities.down.sql", "DROP TABLE cities;");
    up(&db, &folder).await.unwrap();
    assert_eq!(db.columns("users").await, ["id", "email_address", "nick"]);
    assert_eq!(state(&db, 2).await, ["contracted"]);
    assert!(triggers(&db).await.is_empty());
    assert_eq!(
        text(&db, "SELECT CONCAT(INDEX_NAME, ':', COLUMN_NAME) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND INDEX_NAME <> 'PRIMARY'").await,
        ["u_email:email_address"]
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM users").await, 2502);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM users WHERE email_address LIKE 'u%@x'")
            .await,
        2498
    );
    up(&db, &folder).await.unwrap();
    assert_eq!(state(&db, 2).await, ["contracted"]);
    assert_eq!(db.history().await, [(1, true), (2, true), (3, true)]);
}

#[tokio::test]
async fn reverting_the_expand_keeps_what_both_releases_wrote_in_the_old_shape() {
    let (db, folder) = users("online_revert", 300).await;
    rename(&folder);
    up(&db, &folder).await.unwrap();
    both_releases_write_and_read_each_other(&db).await;

    up_to(&db, &folder, Target::Version(1)).await.unwrap();
    assert_eq!(db.columns("users").await, ["id", "email", "nick"]);
    assert!(triggers(&db).await.is_empty());
    assert_eq!(state(&db, 2).await, ["reverted"]);
    assert_eq!(db.history().await, [(1, true)]);
    assert_eq!(
        text(&db, "SELECT email FROM users WHERE email IN ('old1@x', 'new2@x', 'old@x', 'new@x') ORDER BY 1").await,
        ["new2@x", "new@x", "old1@x", "old@x"]
    );

    // Deployed again: it expands again.
    up(&db, &folder).await.unwrap();
    assert_eq!(state(&db, 2).await, ["expanded"]);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM users WHERE NOT (email <=> email_address)")
            .await,
        0
    );
}

#[tokio::test]
async fn a_failure_in_the_backfill_reverts_the_expand_and_the_old_release_keeps_working() {
    let (db, folder) = users("online_fail", 50).await;
    db.exec("ALTER TABLE users ADD COLUMN score INT NOT NULL DEFAULT 1")
        .await;
    db.exec("UPDATE users SET score = 1000 WHERE email = 'u40@x'")
        .await;
    // Row 40 does not fit a TINYINT: the check on the first row passes,
    // the backfill fails on it.
    folder.write(
        "0002_small_score.up.sql",
        "-- schemagate: online\nALTER TABLE users CHANGE score small_score TINYINT NOT NULL;",
    );
    folder.write(
        "0002_small_score.down.sql",
        "ALTER TABLE users CHANGE small_score score INT NOT NULL DEFAULT 1;",
    );
    let e = up(&db, &folder).await.unwrap_err();
    let Error::Online(OnlineError::Failed { reverted: true, .. }) = &e else {
        panic!("{e}")
    };
    assert!(e.to_string().contains("its expand was reverted"), "{e}");
    assert_eq!(db.columns("users").await, ["id", "email", "nick", "score"]);
    assert!(triggers(&db).await.is_empty());
    assert_eq!(db.history().await, [(1, true)]);
    db.exec("INSERT INTO users (email, score) VALUES ('old@x', 5)")
        .await;

    // A bad expression is refused before anything changes.
    folder.write(
        "0002_small_score.up.sql",
        "-- schemagate: online up=no_such_fn(score) down=small_score\nALTER TABLE users CHANGE score small_score TINYINT NOT NULL;",
    );
    let e = up(&db, &folder).await.unwrap_err();
    assert!(
        matches!(e, Error::Online(OnlineError::Refused { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("no_such_fn"), "{e}");
    assert_eq!(db.columns("users").await, ["id", "email", "nick", "score"]);
}

#[tokio::test]
async fn an_online_marker_on_what_cannot_run_online_is_refused_before_anything_runs() {
    let (db, folder) = users("online_refused", 5).await;
    folder.write(
        "0002_idx.up.sql",
        "-- schemagate: online\nALTER TABLE users DROP INDEX u_email;",
    );
    folder.write("0002_idx.down.sql", "");
    let e = up(&db, &folder).await.unwrap_err();
    assert!(matches!(e, Error::Refusals(_)), "{e}");
    assert!(e.to_string().contains("online"), "{e}");
    assert_eq!(db.history().await, [(1, true)]);
}
