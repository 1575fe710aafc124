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
    assert_eq!(
        text(
            &db,
            "SELECT CAST(`rows` AS CHAR) FROM _schemagate_online WHERE version = 2"
        )
        .await,
        ["2500"],
        "the backfill counts the rows it walked"
    );
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
    assert!(
        matches!(&e, Error::Online(o) if matches!(**o, OnlineError::Failed { reverted: true, .. })),
        "{e}"
    );
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
        matches!(&e, Error::Online(o) if matches!(**o, OnlineError::Refused { .. })),
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

/// `items` with `n` rows, applied as version 1.
async fn items(tag: &str, n: usize) -> (TestDb, Folder) {
    let db = TestDb::mariadb(tag).await;
    let folder = Folder::empty();
    folder.write(
        "0001_items.up.sql",
        "CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40) NOT NULL, total DECIMAL(10,2) NOT NULL DEFAULT 0, nick VARCHAR(20) NULL, legacy VARCHAR(10) NOT NULL);",
    );
    folder.write("0001_items.down.sql", "DROP TABLE items;");
    up(&db, &folder).await.unwrap();
    db.exec(&format!(
        "INSERT INTO items (name, total, nick, legacy) SELECT CONCAT('i', seq), seq / 4, IF(seq % 3 = 0, NULL, 'n'), 'l' FROM seq_1_to_{n}"
    ))
    .await;
    (db, folder)
}

/// Version 2 is `sql` (its down `down`); applied twice.
async fn expand(db: &TestDb, folder: &Folder, sql: &str, down: &str) {
    folder.write("0002_online.up.sql", sql);
    folder.write("0002_online.down.sql", down);
    up(db, folder).await.unwrap();
    up(db, folder).await.unwrap();
    assert_eq!(state(db, 2).await, ["expanded"]);
}

/// The next release (version 3) contracts version 2; applied twice.
async fn next_release(db: &TestDb, folder: &Folder) {
    folder.write(
        "0003_next.up.sql",
        "CREATE TABLE next_release (id INT PRIMARY KEY);",
    );
    folder.write("0003_next.down.sql", "DROP TABLE next_release;");
    up(db, folder).await.unwrap();
    up(db, folder).await.unwrap();
    assert_eq!(state(db, 2).await, ["contracted"]);
    assert!(triggers(db).await.is_empty());
    assert_eq!(db.history().await, [(1, true), (2, true), (3, true)]);
}

#[tokio::test]
async fn a_type_change_under_a_new_name_converts_both_ways() {
    let (db, folder) = items("online_type", 1500).await;
    expand(
        &db,
        &folder,
        "-- schemagate: online up=ROUND(total * 100) down=total_cents / 100\nALTER TABLE items CHANGE total total_cents BIGINT NOT NULL DEFAULT 0;",
        "ALTER TABLE items CHANGE total_cents total DECIMAL(10,2) NOT NULL DEFAULT 0;",
    )
    .await;
    assert_eq!(
        db.count("SELECT COUNT(*) FROM items WHERE total_cents <> ROUND(total * 100)")
            .await,
        0
    );
    db.exec("INSERT INTO items (name, total, legacy) VALUES ('old', 1.50, 'l')")
        .await;
    db.exec("INSERT INTO items (name, total_cents, legacy) VALUES ('new', 275, 'l')")
        .await;
    db.exec("UPDATE items SET total_cents = 1000 WHERE name = 'i1'")
        .await;
    assert_eq!(
        text(
            &db,
            "SELECT CAST(total_cents AS CHAR) FROM items WHERE name = 'old'"
        )
        .await,
        ["150"]
    );
    assert_eq!(
        text(
            &db,
            "SELECT CAST(total AS CHAR) FROM items WHERE name IN ('new', 'i1') ORDER BY name"
        )
        .await,
        ["10.00", "2.75"]
    );
    next_release(&db, &folder).await;
    assert_eq!(
        db.columns("items").await,
        ["id", "name", "total_cents", "nick", "legacy"]
    );
    db.exec("INSERT INTO items (name, legacy) VALUES ('after', 'l')")
        .await;
    assert_eq!(
        text(
            &db,
            "SELECT CAST(total_cents AS CHAR) FROM items WHERE name = 'after'"
        )
        .await,
        ["0"]
    );
}

#[tokio::test]
async fn not_null_fills_what_the_old_release_leaves_null() {
    let (db, folder) = items("online_notnull", 1500).await;
    expand(
        &db,
        &folder,
        "-- schemagate: online fill='anon'\nALTER TABLE items MODIFY nick VARCHAR(20) NOT NULL;",
        "ALTER TABLE items MODIFY nick VARCHAR(20) NULL;",
    )
    .await;
    assert_eq!(
        db.count("SELECT COUNT(*) FROM items WHERE nick IS NULL")
            .await,
        0
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM items WHERE nick = 'anon'")
            .await,
        500
    );
    db.exec("INSERT INTO items (name, legacy) VALUES ('old', 'l')")
        .await;
    db.exec("UPDATE items SET nick = NULL WHERE name = 'i1'")
        .await;
    assert_eq!(
        text(
            &db,
            "SELECT nick FROM items WHERE name IN ('old', 'i1') ORDER BY name"
        )
        .await,
        ["anon", "anon"]
    );
    next_release(&db, &folder).await;
    assert_eq!(
        text(&db, "SELECT IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'items' AND COLUMN_NAME = 'nick'").await,
        ["NO"]
    );
}

#[tokio::test]
async fn a_new_not_null_column_is_filled_for_the_old_release() {
    let (db, folder) = items("online_addcol", 1500).await;
    expand(
        &db,
        &folder,
        "-- schemagate: online fill=CONCAT('city-', name)\nALTER TABLE items ADD COLUMN city VARCHAR(40) NOT NULL AFTER name;",
        "ALTER TABLE items DROP COLUMN city;",
    )
    .await;
    assert_eq!(
        db.count("SELECT COUNT(*) FROM items WHERE city = CONCAT('city-', name)")
            .await,
        1500
    );
    db.exec("INSERT INTO items (name, legacy) VALUES ('old', 'l')")
        .await;
    db.exec("INSERT INTO items (name, city, legacy) VALUES ('new', 'Oslo', 'l')")
        .await;
    assert_eq!(
        text(
            &db,
            "SELECT city FROM items WHERE name IN ('new', 'old') ORDER BY name"
        )
        .await,
        ["Oslo", "city-old"]
    );
    next_release(&db, &folder).await;
    assert_eq!(
        db.columns("items").await,
        ["id", "name", "city", "total", "nick", "legacy"]
    );
    assert_eq!(
        text(&db, "SELECT IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'items' AND COLUMN_NAME = 'city'").await,
        ["NO"]
    );
}

#[tokio::test]
async fn a_dropped_not_null_column_gets_a_default_until_contract() {
    let (db, folder) = items("online_drop", 100).await;
    expand(
        &db,
        &folder,
        "-- schemagate: online fill=''\nALTER TABLE items DROP COLUMN legacy;",
        "ALTER TABLE items ADD COLUMN legacy VARCHAR(10) NOT NULL DEFAULT '';",
    )
    .await;
    db.exec("INSERT INTO items (name, legacy) VALUES ('old', 'kept')")
        .await;
    db.exec("INSERT INTO items (name) VALUES ('new')").await;
    assert_eq!(
        text(
            &db,
            "SELECT legacy FROM items WHERE name IN ('new', 'old') ORDER BY name"
        )
        .await,
        ["", "kept"]
    );
    next_release(&db, &folder).await;
    assert_eq!(db.columns("items").await, ["id", "name", "total", "nick"]);
}

#[tokio::test]
async fn a_renamed_table_keeps_its_old_name_as_an_updatable_view() {
    let (db, folder) = items("online_table", 100).await;
    expand(
        &db,
        &folder,
        "-- schemagate: online\nRENAME TABLE items TO products;",
        "RENAME TABLE products TO items;",
    )
    .await;
    assert_eq!(
        text(&db, "SELECT CONCAT(TABLE_NAME, ':', TABLE_TYPE) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('items', 'products') ORDER BY 1").await,
        ["items:VIEW", "products:BASE TABLE"]
    );
    db.exec("INSERT INTO items (name, legacy) VALUES ('old', 'l')")
        .await;
    db.exec("UPDATE items SET nick = 'o' WHERE name = 'i1'")
        .await;
    db.exec("INSERT INTO products (name, legacy) VALUES ('new', 'l')")
        .await;
    assert_eq!(
        text(
            &db,
            "SELECT name FROM products WHERE name IN ('old', 'new') ORDER BY 1"
        )
        .await,
        ["new", "old"]
    );
    assert_eq!(
        text(&db, "SELECT nick FROM products WHERE name = 'i1'").await,
        ["o"]
    );
    assert_eq!(
        text(
            &db,
            "SELECT name FROM items WHERE name IN ('old', 'new') ORDER BY 1"
        )
        .await,
        ["new", "old"]
    );
    next_release(&db, &folder).await;
    assert_eq!(db.count("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'items'").await, 0);
    assert_eq!(db.count("SELECT COUNT(*) FROM products").await, 102);
}

#[tokio::test]
async fn a_renamed_table_is_reverted_with_what_both_releases_wrote() {
    let (db, folder) = items("online_table_back", 10).await;
    expand(
        &db,
        &folder,
        "-- schemagate: online\nRENAME TABLE items TO products;",
        "RENAME TABLE products TO items;",
    )
    .await;
    db.exec("INSERT INTO items (name, legacy) VALUES ('old', 'l')")
        .await;
    db.exec("INSERT INTO products (name, legacy) VALUES ('new', 'l')")
        .await;
    up_to(&db, &folder, Target::Version(1)).await.unwrap();
    up_to(&db, &folder, Target::Version(1)).await.unwrap();
    assert_eq!(state(&db, 2).await, ["reverted"]);
    assert_eq!(
        text(&db, "SELECT CONCAT(TABLE_NAME, ':', TABLE_TYPE) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('items', 'products') ORDER BY 1").await,
        ["items:BASE TABLE"]
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM items").await, 12);
}

/// A run of `folder` on `url`.
async fn up_url(url: &str, folder: &Folder) -> Result<Report, Error> {
    let options = schemagate::db::ConnectOptions::from_url(url).unwrap();
    let mut conn = schemagate::db::Conn::connect(&options, std::time::Duration::ZERO)
        .await
        .unwrap();
    let r = migrate::run(
        &mut conn,
        &folder.set(),
        Target::Latest,
        &apply::Options::default(),
        &(),
    )
    .await;
    conn.close().await;
    r
}

#[tokio::test]
async fn with_a_binary_log_the_expand_is_refused_before_anything_changes_until_the_parameter_is_set(
) {
    // As on RDS with automated backups: the binary log is on, and the
    // migration user (like RDS's master user) has no SUPER.
    let server = testkit::PrivateMariaDb::start(&["--log-bin=sg-bin", "--server-id=1"]);
    assert_eq!(server.query_root("SELECT @@log_bin").trim(), "1");
    server.exec_root(
        "CREATE USER 'app'@'%' IDENTIFIED BY 'pw'; GRANT ALL PRIVILEGES ON app.* TO 'app'@'%';",
    );
    let url = format!("mysql://app:pw@127.0.0.1:{}/app", server.port);
    let folder = Folder::empty();
    folder.write(
        "0001_users.up.sql",
        "CREATE TABLE users (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(50) NOT NULL);",
    );
    folder.write("0001_users.down.sql", "DROP TABLE users;");
    rename(&folder);
    let e = up_url(&url, &folder).await.unwrap_err();
    assert!(
        matches!(&e, Error::Online(o) if matches!(**o, OnlineError::Binlog { .. })),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("set `log_bin_trust_function_creators=1` in the DB parameter group"),
        "{e}"
    );
    let columns = "SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 'users'";
    assert_eq!(server.query_root(columns).trim(), "id,email");
    assert_eq!(
        server
            .query_root(
                "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'app'"
            )
            .trim(),
        "0"
    );
    assert_eq!(
        server
            .query_root("SELECT GROUP_CONCAT(version) FROM app._sqlx_migrations")
            .trim(),
        "1"
    );

    server.exec_root("SET GLOBAL log_bin_trust_function_creators = 1");
    up_url(&url, &folder).await.unwrap();
    up_url(&url, &folder).await.unwrap();
    assert_eq!(server.query_root(columns).trim(), "id,email,email_address");
    assert_eq!(
        server
            .query_root("SELECT state FROM app._schemagate_online")
            .trim(),
        "expanded"
    );
}

#[tokio::test]
async fn the_deadline_in_the_backfill_leaves_both_shapes_in_step_and_the_next_run_finishes() {
    let (db, folder) = users("online_deadline", 3000).await;
    rename(&folder);
    // A deadline nearer than the margin a range needs: the expand stops at
    // the backfill's first range.
    let opts = apply::Options {
        deadline: Some(schemagate::deadline::Deadline::after(
            std::time::Duration::from_secs(4),
        )),
        ..apply::Options::default()
    };
    let mut conn = db.conn().await;
    let e = migrate::run(&mut conn, &folder.set(), Target::Latest, &opts, &())
        .await
        .unwrap_err();
    conn.close().await;
    assert!(
        matches!(&e, Error::Online(o) if matches!(**o, OnlineError::Deadline { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("the next run continues"), "{e}");
    assert_eq!(state(&db, 2).await, ["expanding"]);
    assert_eq!(db.history().await, [(1, true)]);
    // The old release keeps working, and its rows reach the new column.
    db.exec("INSERT INTO users (email) VALUES ('old@x')").await;
    assert_eq!(
        text(&db, "SELECT email_address FROM users WHERE email = 'old@x'").await,
        ["old@x"]
    );

    up(&db, &folder).await.unwrap();
    assert_eq!(state(&db, 2).await, ["expanded"]);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM users WHERE NOT (email <=> email_address)")
            .await,
        0
    );
    assert_eq!(db.history().await, [(1, true), (2, true)]);
}

#[tokio::test]
async fn an_expand_a_stopped_run_left_is_reverted_by_a_run_that_goes_back() {
    let (db, folder) = users("online_orphan", 3000).await;
    rename(&folder);
    let opts = apply::Options {
        deadline: Some(schemagate::deadline::Deadline::after(
            std::time::Duration::from_secs(4),
        )),
        ..apply::Options::default()
    };
    let mut conn = db.conn().await;
    migrate::run(&mut conn, &folder.set(), Target::Latest, &opts, &())
        .await
        .unwrap_err();
    conn.close().await;
    assert_eq!(state(&db, 2).await, ["expanding"]);
    // The CloudFormation rollback: the old target, the new package.
    up_to(&db, &folder, Target::Version(1)).await.unwrap();
    assert_eq!(state(&db, 2).await, ["reverted"]);
    assert_eq!(db.columns("users").await, ["id", "email", "nick"]);
    assert!(triggers(&db).await.is_empty());
}

#[tokio::test]
async fn schemagate_contract_contracts_an_expanded_change_now() {
    let (db, folder) = users("online_cli_contract", 20).await;
    rename(&folder);
    up(&db, &folder).await.unwrap();
    let dir = folder.path();
    let args = [
        "--database-url",
        &db.url(),
        "--migrations",
        dir.to_str().unwrap(),
        "contract",
    ];
    let (out, err) = testkit::text(&kit::schemagate(&args));
    assert_eq!(out.trim(), "contracted 2", "{err}");
    assert_eq!(state(&db, 2).await, ["contracted"]);
    assert_eq!(db.columns("users").await, ["id", "email_address", "nick"]);
    let (out, _) = testkit::text(&kit::schemagate(&args));
    assert_eq!(
        out.trim(),
        "no online change is expanded; nothing to contract"
    );
}

/// `schemagate check --release-version <release>`: exit code and output.
fn check(db: &TestDb, release: i64) -> (Option<i32>, String) {
    let v = release.to_string();
    let o = kit::schemagate(&[
        "--database-url",
        &db.url(),
        "check",
        "--release-version",
        &v,
    ]);
    let (out, err) = testkit::text(&o);
    (o.status.code(), format!("{out}{err}"))
}

/// While expanded, the release before the change runs on the schema
/// (class `expand`); once contracted, its old shape is gone, so `check`
/// stops it and passes the release that expanded (class `contract`).
#[tokio::test]
async fn check_sees_an_expanded_change_as_expand_and_a_contracted_one_as_contract() {
    let (db, folder) = users("online_check", 20).await;
    rename(&folder);
    up(&db, &folder).await.unwrap();
    let class = "SELECT CONCAT(class, ' since ', since) FROM _schemagate_history WHERE version = 2";
    assert_eq!(text(&db, class).await, ["expand since 1"]);
    let (code, said) = check(&db, 1);
    assert_eq!(code, Some(0), "{said}");
    assert_eq!(check(&db, 2).0, Some(0));

    folder.write(
        "0003_next.up.sql",
        "CREATE TABLE next_release (id INT PRIMARY KEY);",
    );
    folder.write("0003_next.down.sql", "DROP TABLE next_release;");
    up(&db, &folder).await.unwrap();
    up(&db, &folder).await.unwrap();
    assert_eq!(state(&db, 2).await, ["contracted"]);
    assert_eq!(text(&db, class).await, ["contract since 2"]);
    let (code, said) = check(&db, 1);
    assert_eq!(code, Some(6), "{said}");
    assert!(said.contains("`0002_rename_email`"), "{said}");
    for release in [2, 3] {
        let (code, said) = check(&db, release);
        assert_eq!(code, Some(0), "release {release}: {said}");
    }
}

/// The run killed after a statement committed and before its step was
/// recorded: the row says `state` at `step`.
async fn unrecorded(db: &TestDb, state: &str, step: i64) {
    db.exec(&format!(
        "UPDATE _schemagate_online SET state = '{state}', step = {step} WHERE version = 2"
    ))
    .await;
}

async fn kinds(db: &TestDb) -> Vec<String> {
    text(db, "SELECT CONCAT(TABLE_NAME, ':', TABLE_TYPE) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('items', 'products', '_sg_2_view', '_sg_2_gone') ORDER BY 1").await
}

/// A table rename's swaps run again after a kill left them unrecorded:
/// the expand finishes, the revert finishes, and a revert of an expand
/// stopped before its swap drops the two views it had made.
#[tokio::test]
async fn a_table_rename_run_again_after_a_kill_finds_its_swaps_done() {
    let (db, folder) = items("online_table_again", 10).await;
    expand(
        &db,
        &folder,
        "-- schemagate: online\nRENAME TABLE items TO products;",
        "RENAME TABLE products TO items;",
    )
    .await;
    // Killed after the swap (expand statement 3 of 4), before recording it.
    unrecorded(&db, "expanding", 2).await;
    db.exec("DELETE FROM _sqlx_migrations WHERE version = 2; DELETE FROM _schemagate_history WHERE version = 2").await;
    up(&db, &folder).await.unwrap();
    assert_eq!(state(&db, 2).await, ["expanded"]);
    assert_eq!(kinds(&db).await, ["items:VIEW", "products:BASE TABLE"]);

    // The revert killed after its swap back.
    up_to(&db, &folder, Target::Version(1)).await.unwrap();
    unrecorded(&db, "reverting", 0).await;
    up_to(&db, &folder, Target::Version(1)).await.unwrap();
    assert_eq!(state(&db, 2).await, ["reverted"]);
    assert_eq!(kinds(&db).await, ["items:BASE TABLE"]);

    // An expand stopped after its two views, before the swap, reverted.
    db.exec("CREATE VIEW products AS SELECT * FROM items; CREATE VIEW _sg_2_view AS SELECT * FROM products").await;
    unrecorded(&db, "reverting", 0).await;
    up_to(&db, &folder, Target::Version(1)).await.unwrap();
    assert_eq!(kinds(&db).await, ["items:BASE TABLE"]);
    assert_eq!(db.count("SELECT COUNT(*) FROM items").await, 10);
}

/// A contract killed after its ALTER (the old column dropped, the new
/// index renamed to the old name) runs again without touching the index.
#[tokio::test]
async fn a_contract_run_again_after_a_kill_keeps_the_renamed_index() {
    let (db, folder) = users("online_contract_again", 30).await;
    rename(&folder);
    up(&db, &folder).await.unwrap();
    folder.write(
        "0003_next.up.sql",
        "CREATE TABLE next_release (id INT PRIMARY KEY);",
    );
    folder.write("0003_next.down.sql", "DROP TABLE next_release;");
    up(&db, &folder).await.unwrap();
    unrecorded(&db, "contracting", 0).await;
    up(&db, &folder).await.unwrap();
    assert_eq!(state(&db, 2).await, ["contracted"]);
    assert_eq!(db.columns("users").await, ["id", "email_address", "nick"]);
    assert_eq!(
        text(&db, "SELECT CONCAT(INDEX_NAME, ':', COLUMN_NAME, ':', NON_UNIQUE) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND INDEX_NAME <> 'PRIMARY'").await,
        ["u_email:email_address:0"]
    );
    assert!(triggers(&db).await.is_empty());
}

/// An application transaction that holds the table (a metadata lock) for
/// longer than the run's `lock_wait_timeout` when the expand starts: the
/// expand waits and tries again between the application's queries, and
/// succeeds once the transaction ends (before, it reverted and failed).
#[tokio::test]
async fn an_expand_waits_for_an_application_transaction_that_holds_the_table() {
    use sqlx::Executor;
    let (db, folder) = users("online_mdl", 50).await;
    rename(&folder);
    let mut app = db.my().await;
    app.execute("START TRANSACTION; SELECT COUNT(*) FROM users")
        .await
        .unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        app.execute("COMMIT").await.unwrap();
    });
    let t = std::time::Instant::now();
    let result = up(&db, &folder).await;
    // The transaction ends whatever the run did (dropping the database
    // after the test waits for it).
    release.await.unwrap();
    result.unwrap();
    assert!(
        t.elapsed() >= std::time::Duration::from_secs(2),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(state(&db, 2).await, ["expanded"]);
    assert_eq!(triggers(&db).await, ["_sg_2_ins", "_sg_2_upd"]);
}
