//! Any release can revert: what `_schemagate_history` keeps beside
//! `_sqlx_migrations` (each applied migration's down script, its class for
//! the release before it, the gating rules, the version its run started
//! at), written in the step's own batch and removed with a revert's row;
//! and an older folder reverting the newer migrations with those down
//! scripts. Against the real MariaDB and PostgreSQL; each scenario runs
//! the engine at least twice.

pub mod kit;

use kit::{event, handler, last, reason, server, Connect, Load};
use schemagate::migrate::{self, apply, Direction, Error, PlanError, Report, Target};
use serde_json::json;
use testkit::db::Kind;
use testkit::release::{ADD_ORDERS_STATUS, CREATE_INVOICES};
use testkit::{Folder, PrivateMariaDb, TestDb};

async fn up_to(db: &TestDb, folder: &Folder, target: Target) -> Result<Report, Error> {
    let mut conn = db.conn().await;
    let r = migrate::run(&mut conn, &folder.set(), target, &Default::default(), &()).await;
    conn.close().await;
    r
}

async fn up(db: &TestDb, folder: &Folder) -> Result<Report, Error> {
    up_to(db, folder, Target::Latest).await
}

/// One row of `_schemagate_history`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeptRow {
    version: i64,
    name: String,
    down_sql: Option<String>,
    class: String,
    rules: String,
    since: i64,
}

type Raw = (i64, String, Option<String>, String, String, i64);

/// `_schemagate_history`, by version.
async fn kept(db: &TestDb) -> Vec<KeptRow> {
    let sql = "SELECT version, name, down_sql, class, rules, since FROM _schemagate_history ORDER BY version";
    let rows: Vec<Raw> = match db.kind {
        Kind::MariaDb => sqlx::query_as(sql).fetch_all(&mut db.my().await).await,
        Kind::Postgres => sqlx::query_as(sql).fetch_all(&mut db.pg().await).await,
    }
    .unwrap();
    rows.into_iter()
        .map(|(version, name, down_sql, class, rules, since)| KeptRow {
            version,
            name,
            down_sql,
            class,
            rules,
            since,
        })
        .collect()
}

/// `(version, class, rules, since)` of each kept row.
async fn classes(db: &TestDb) -> Vec<(i64, String, String, i64)> {
    kept(db)
        .await
        .into_iter()
        .map(|k| (k.version, k.class, k.rules, k.since))
        .collect()
}

fn c(v: i64, class: &str, rules: &str, since: i64) -> (i64, String, String, i64) {
    (v, class.into(), rules.into(), since)
}

fn write(folder: &Folder, (name, up, down): (&str, &str, &str)) {
    folder.write(&format!("{name}.up.sql"), up);
    folder.write(&format!("{name}.down.sql"), down);
}

/// A down script no quoting can break: quotes, a semicolon in a string,
/// a backslash, UTF-8 beyond the BMP.
const TRICKY_DOWN: &str = "-- it's \"undone\"; really \\ 🚀\nDROP TABLE notes;\n";

async fn stored_downs_are_written_with_the_row_and_removed_with_it(db: TestDb) {
    let folder = Folder::empty();
    folder.write("0001_settings.sql", "CREATE TABLE settings (k TEXT);\n");
    write(
        &folder,
        (
            "0002_notes",
            "CREATE TABLE notes (id INT PRIMARY KEY);\n",
            TRICKY_DOWN,
        ),
    );
    write(
        &folder,
        (
            "0003_seed",
            "INSERT INTO notes (id) VALUES (1);\n",
            "DELETE FROM notes;\n",
        ),
    );
    for _ in 0..2 {
        up(&db, &folder).await.unwrap();
    }
    let row = |version: i64, name: &str, down: Option<&str>| KeptRow {
        version,
        name: name.into(),
        down_sql: down.map(str::to_string),
        class: "expand".into(),
        rules: String::new(),
        since: 0,
    };
    assert_eq!(
        kept(&db).await,
        vec![
            row(1, "0001_settings", None),
            row(2, "0002_notes", Some(TRICKY_DOWN)),
            row(3, "0003_seed", Some("DELETE FROM notes;\n")),
        ],
        "the exact down text, and NULL for an irreversible migration"
    );
    for _ in 0..2 {
        up_to(&db, &folder, Target::Version(1)).await.unwrap();
        assert_eq!(db.history().await, vec![(1, true)]);
        assert_eq!(
            kept(&db).await,
            vec![row(1, "0001_settings", None)],
            "gone with the revert's rows"
        );
    }
    assert_eq!(db.tables().await, vec!["settings"]);
    // A kept row left behind by another tool (its history row deleted by
    // hand) is replaced when the migration is applied again.
    db.exec("INSERT INTO _schemagate_history (version, name, down_sql, class, rules, since) VALUES (2, 'stale', NULL, 'breaking', 'x', 9)").await;
    up(&db, &folder).await.unwrap();
    let applied_again = KeptRow {
        since: 1,
        ..row(2, "0002_notes", Some(TRICKY_DOWN))
    };
    assert_eq!(kept(&db).await[1], applied_again, "this run started at 1");
}

#[tokio::test]
async fn mariadb_stored_downs_are_written_with_the_row_and_removed_with_it() {
    stored_downs_are_written_with_the_row_and_removed_with_it(TestDb::mariadb("kept").await).await;
}

#[tokio::test]
async fn postgres_stored_downs_are_written_with_the_row_and_removed_with_it() {
    stored_downs_are_written_with_the_row_and_removed_with_it(TestDb::postgres("kept").await).await;
}

/// The class for the release before it, the gating rules and the version
/// the run started at.
#[tokio::test]
async fn the_class_rules_and_starting_version_are_kept_for_each_migration() {
    let db = TestDb::mariadb("classes").await;
    let folder = Folder::empty();
    write(
        &folder,
        (
            "0001_users",
            "CREATE TABLE users (id INT PRIMARY KEY, email TEXT NULL, legacy TEXT NULL);\nCREATE TABLE old_emails (email TEXT NULL);\n",
            "DROP TABLE users;\nDROP TABLE old_emails;\n",
        ),
    );
    up(&db, &folder).await.unwrap();
    write(
        &folder,
        (
            "0002_add_nickname",
            "ALTER TABLE users ADD COLUMN nickname TEXT NULL;\n",
            "ALTER TABLE users DROP COLUMN nickname;\n",
        ),
    );
    write(
        &folder,
        (
            "0003_drop_legacy",
            "-- schemagate: contract\nALTER TABLE users DROP COLUMN legacy;\n",
            "ALTER TABLE users ADD COLUMN legacy TEXT NULL;\n",
        ),
    );
    for _ in 0..2 {
        up(&db, &folder).await.unwrap();
    }
    assert_eq!(
        classes(&db).await,
        vec![
            c(1, "expand", "", 0),
            c(2, "expand", "", 1),
            c(3, "contract", "drop-column", 1),
        ]
    );

    // Breaking, let through by AllowBreaking: on record as breaking.
    folder.write(
        "0004_drop_email.up.sql",
        "ALTER TABLE users DROP COLUMN email;\nDROP TABLE old_emails;\nALTER TABLE users DROP COLUMN nickname;\n",
    );
    folder.write(
        "0004_drop_email.down.sql",
        "ALTER TABLE users ADD COLUMN email TEXT NULL, ADD COLUMN nickname TEXT NULL;\nCREATE TABLE old_emails (email TEXT NULL);\n",
    );
    let s = server().await;
    let props = json!({"TargetVersion": "4", "AllowBreaking": "true"});
    for _ in 0..2 {
        handler(&db, folder.path())
            .handle(event("update", &s, props.clone()), None)
            .await
            .unwrap();
        let body = last(&s).await;
        assert_eq!(body["Status"], "SUCCESS", "{body}");
    }
    assert!(reason(&last(&s).await).contains("already at version 4"));
    assert_eq!(
        classes(&db).await.last().cloned(),
        Some(c(4, "breaking", "drop-column,drop-table", 3))
    );
}

/// `BaselineVersion`: the adopted migrations are kept as `baseline`, with
/// their down scripts; what the run applies on top started at the baseline.
#[tokio::test]
async fn baselined_migrations_are_kept_as_baseline() {
    let db = TestDb::mariadb("kbase").await;
    let folder = Folder::with_example();
    // The database the other tool made: the example's first four.
    let made = Folder::with_example();
    for v in ["0005_seed_plans", "0006_add_users_plan"] {
        made.remove(&format!("{v}.up.sql"));
        made.remove(&format!("{v}.down.sql"));
    }
    up(&db, &made).await.unwrap();
    db.exec("DROP TABLE _sqlx_migrations; DROP TABLE _schemagate_history")
        .await;
    let opts = apply::Options {
        baseline: Some(4),
        ..Default::default()
    };
    for _ in 0..2 {
        let mut conn = db.conn().await;
        migrate::run(&mut conn, &folder.set(), Target::Latest, &opts, &())
            .await
            .unwrap();
        conn.close().await;
    }
    let k = kept(&db).await;
    assert_eq!(
        k.iter()
            .map(|k| (k.version, k.class.as_str(), k.since))
            .collect::<Vec<_>>(),
        vec![
            (1, "baseline", 0),
            (2, "baseline", 0),
            (3, "baseline", 0),
            (4, "baseline", 0),
            (5, "expand", 4),
            (6, "expand", 4),
        ]
    );
    assert_eq!(k[3].down_sql.as_deref(), Some("DROP TABLE plans;\n"));
}

fn newer_release() -> Folder {
    let f = Folder::with_example();
    write(&f, CREATE_INVOICES);
    write(&f, ADD_ORDERS_STATUS);
    f
}

/// Issue #10 (1): the previous build's folder (1..6) gets the database at
/// 8 back to 6 with the down scripts the database keeps; a target that is
/// the database's version succeeds whatever the folder holds.
#[tokio::test]
async fn an_older_folder_reverts_the_newer_migrations_with_the_stored_down_scripts() {
    let db = TestDb::mariadb("older").await;
    let (newer, older) = (newer_release(), Folder::with_example());
    up(&db, &newer).await.unwrap();
    db.exec("INSERT INTO users (email) VALUES ('ada@example.com'); INSERT INTO orders (user_id, total_cents) SELECT id, 1200 FROM users").await;
    let first = up_to(&db, &older, Target::Version(6)).await.unwrap();
    assert_eq!(
        first
            .steps
            .iter()
            .map(|s| (s.step.name.as_str(), s.step.direction, s.step.stored_down))
            .collect::<Vec<_>>(),
        vec![
            ("0008_add_orders_status", Direction::Down, true),
            ("0007_create_invoices", Direction::Down, true),
        ]
    );
    let summary = first.summary();
    assert!(
        summary.starts_with("reverted 0008_add_orders_status, 0007_create_invoices in "),
        "{summary}"
    );
    assert!(
        summary.contains("schema at version 6; the down scripts of 0008_add_orders_status, 0007_create_invoices came from the database (`_schemagate_history`): this migrations folder does not hold their files"),
        "{summary}"
    );
    let again = up_to(&db, &older, Target::Version(6)).await.unwrap();
    assert_eq!(again.summary(), "already at version 6; nothing to do");
    assert_eq!(db.tables().await, vec!["orders", "plans", "users"]);
    assert!(!db.columns("orders").await.contains(&"status".to_string()));
    assert_eq!((db.rows("users").await, db.rows("orders").await), (1, 1));
    assert_eq!(
        db.history().await,
        (1..=6).map(|v| (v, true)).collect::<Vec<_>>()
    );
    assert_eq!(kept(&db).await.len(), 6, "7 and 8 went with their rows");

    // The newer build again, then the older one asked for the version the
    // database is at: nothing to change, nothing needed.
    up(&db, &newer).await.unwrap();
    assert_eq!(kept(&db).await.len(), 8);
    let before = db.snapshot().await;
    for _ in 0..2 {
        let r = up_to(&db, &older, Target::Version(8)).await.unwrap();
        assert_eq!(r.summary(), "already at version 8; nothing to do");
    }
    assert_eq!(db.snapshot().await, before, "nothing changed");
    // Without a target the folder is behind the database: said so.
    let err = up(&db, &older).await.unwrap_err();
    assert!(
        matches!(err, Error::Plan(PlanError::MissingFile { version: 7, .. })),
        "{err}"
    );
    // The files it holds are still verified.
    older.write(
        "0002_create_orders.up.sql",
        "CREATE TABLE orders (id INT);\n",
    );
    for target in [Target::Version(8), Target::Version(6)] {
        let err = up_to(&db, &older, target).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Plan(PlanError::ChecksumMismatch { version: 2, .. })
            ),
            "{err}"
        );
    }
    assert_eq!(db.snapshot().await, before, "nothing changed");
}

/// The same on PostgreSQL, through the CLI: it says which down scripts
/// came from the database.
#[tokio::test]
async fn postgres_an_older_folder_reverts_with_the_stored_down_scripts() {
    let db = TestDb::postgres("older").await;
    let (newer, older) = (Folder::empty(), Folder::empty());
    for f in [&newer, &older] {
        write(
            f,
            (
                "0001_users",
                "CREATE TABLE users (id INT PRIMARY KEY);\n",
                "DROP TABLE users;\n",
            ),
        );
    }
    write(
        &newer,
        (
            "0002_notes",
            "CREATE TABLE notes (id INT);\n",
            "DROP TABLE notes;\n",
        ),
    );
    write(
        &newer,
        (
            "0003_no_tx",
            "-- no-transaction\nCREATE INDEX CONCURRENTLY i_notes ON notes (id);\n",
            "-- no-transaction\nDROP INDEX CONCURRENTLY i_notes;\n",
        ),
    );
    up(&db, &newer).await.unwrap();
    db.exec("INSERT INTO users VALUES (1), (2)").await;
    let cli = |dir: &Folder, args: &[&str]| {
        let (url, path) = (db.url(), dir.path());
        let mut all = vec![
            "--database-url",
            url.as_str(),
            "--migrations",
            path.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        let o = kit::schemagate(&all);
        let (out, err) = testkit::text(&o);
        (o.status.code(), out, err)
    };
    let (code, out, err) = cli(&older, &["down", "--to", "1"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("the down scripts of 0003_no_tx, 0002_notes came from the database (`_schemagate_history`)"),
        "{out}"
    );
    assert_eq!(db.tables().await, vec!["users"]);
    assert_eq!(db.rows("users").await, 2);
    assert_eq!(db.history().await, vec![(1, true)]);
    assert_eq!(kept(&db).await.len(), 1);
    let (code, out, err) = cli(&older, &["down", "--to", "1"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("already at version 1"), "{out}");
}

/// An irreversible migration the folder lacks (kept with `down_sql`
/// NULL) is a refusal naming it; nothing changes.
#[tokio::test]
async fn a_missing_irreversible_migration_is_refused_naming_it() {
    let db = TestDb::mariadb("kirrev").await;
    let (newer, older) = (Folder::with_example(), Folder::with_example());
    newer.write(
        "0007_backfill.sql",
        "UPDATE users SET plan_code = 'free' WHERE plan_code IS NULL;\n",
    );
    up(&db, &newer).await.unwrap();
    let before = db.snapshot().await;
    for _ in 0..2 {
        let err = up_to(&db, &older, Target::Version(6)).await.unwrap_err();
        assert!(
            matches!(&err, Error::Plan(PlanError::Irreversible { name, .. }) if name == "0007_backfill"),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("cannot go down to version 6: `0007_backfill` is irreversible"),
            "{err}"
        );
        assert_eq!(schemagate::Error::from(err).exit_code(), 4);
    }
    assert_eq!(db.snapshot().await, before);
}

/// A database migrated before the kept table existed (here: by sqlx's own
/// migrator) keeps working: its files hold the down scripts; a missing
/// one is the refusal it always was; the table is created, and what runs
/// from then on is kept.
#[tokio::test]
async fn a_database_from_before_the_kept_table_keeps_working() {
    let db = TestDb::mariadb("pretable").await;
    let newer = newer_release();
    let mut c = db.my().await;
    let mut m = sqlx::migrate::Migrator::new(newer.path()).await.unwrap();
    m.set_locking(false);
    m.run(&mut c).await.unwrap();
    assert!(!db.all_tables().await.contains("_schemagate_history"));

    // The older folder lacks 7 and 8, and nothing keeps their downs.
    let older = Folder::with_example();
    let before = db.snapshot().await;
    let err = up_to(&db, &older, Target::Version(6)).await.unwrap_err();
    assert!(
        matches!(err, Error::Plan(PlanError::MissingFile { version: 8, .. })),
        "{err}"
    );
    assert!(
        err.to_string().contains("version 8 (`add orders status`) is applied but its file is missing from the migrations folder"),
        "{err}"
    );
    // Nothing to change: fine without the files.
    let r = up_to(&db, &older, Target::Version(8)).await.unwrap();
    assert!(r.steps.is_empty());
    assert_eq!(
        db.tables().await,
        vec!["invoices", "orders", "plans", "users"]
    );
    assert_eq!(db.history().await.len(), 8);
    assert_eq!(kept(&db).await, vec![], "the table is there, empty");
    let _ = before;

    // The files hold the downs; what is applied again is kept.
    for _ in 0..2 {
        up_to(&db, &newer, Target::Version(6)).await.unwrap();
        assert_eq!(db.history().await.len(), 6);
    }
    up(&db, &newer).await.unwrap();
    assert_eq!(
        kept(&db)
            .await
            .iter()
            .map(|k| k.version)
            .collect::<Vec<_>>(),
        vec![7, 8]
    );
    // And now the older folder can revert them.
    let r = up_to(&db, &older, Target::Version(6)).await.unwrap();
    assert_eq!(r.count(Direction::Down), 2);
    assert!(r.steps.iter().all(|s| s.step.stored_down));
    assert_eq!(db.history().await.len(), 6);
}

// ------------------------------------------------------- round trips

/// The commands (one per round trip: `Query`, `Prepare`, `Execute` …)
/// a server whose general log records them received, but `Connect` and
/// `Quit`. (A statement that fails to prepare is not logged.)
fn queries(log: &std::path::Path) -> usize {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| {
            // `[YYMMDD HH:MM:SS]\t  <id> <Command>\t<argument>`; the
            // continuation lines of a multi-line query have no such field.
            l.split('\t').any(|f| {
                let mut w = f.split_whitespace();
                let id = w.next().filter(|id| id.chars().all(|c| c.is_ascii_digit()));
                let command: Vec<&str> = w.collect();
                id.is_some()
                    && (1..=2).contains(&command.len())
                    && command[0].chars().all(|c| c.is_ascii_alphabetic())
                    && !matches!(command[0], "Connect" | "Quit")
            })
        })
        .count()
}

/// A run on its own connection, and the queries it sent.
async fn counted(
    url: &str,
    set: &schemagate::migrate::MigrationSet,
    target: Target,
    log: &std::path::Path,
) -> (Report, usize) {
    let o = schemagate::db::ConnectOptions::from_url(url).unwrap();
    let mut conn = schemagate::db::Conn::connect(&o, std::time::Duration::ZERO)
        .await
        .unwrap();
    let before = queries(log);
    let r = migrate::run(&mut conn, set, target, &Default::default(), &()).await;
    let sent = queries(log) - before;
    conn.close().await;
    (r.unwrap(), sent)
}

/// One round trip per migration still, the kept row riding along: a run
/// of 15 migrations sends 10 queries more than a run of 5 (up and down),
/// read from the server's general log.
#[tokio::test]
async fn one_round_trip_per_migration_with_the_kept_row_riding_along() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("general.log");
    let server = PrivateMariaDb::start(&[
        "--general-log=1",
        &format!("--general-log-file={}", log.display()),
    ]);
    let folder = |n: i64| {
        let f = Folder::empty();
        for v in 1..=n {
            write(
                &f,
                (
                    &format!("{v:04}_t{v}"),
                    &format!("CREATE TABLE t{v} (id INT);\nINSERT INTO t{v} VALUES ({v});\n"),
                    &format!("DROP TABLE t{v};\n"),
                ),
            );
        }
        f
    };
    let mut counts = Vec::new();
    for (db, n) in [("five", 5), ("fifteen", 15)] {
        server.exec_root(&format!("CREATE DATABASE {db}"));
        let (url, set) = (server.url(db), folder(n).set());
        let (r, up_sent) = counted(&url, &set, Target::Latest, &log).await;
        assert_eq!(r.count(Direction::Up), n as usize);
        let (r, down_sent) = counted(&url, &set, Target::Version(0), &log).await;
        assert_eq!(r.count(Direction::Down), n as usize);
        counts.push((up_sent, down_sent));
    }
    let ((up5, down5), (up15, down15)) = (counts[0], counts[1]);
    println!("queries: 5 up {up5}, 15 up {up15}; 5 down {down5}, 15 down {down15}");
    assert_eq!(up15 - up5, 10, "one round trip per migration applied");
    assert_eq!(down15 - down5, 10, "one round trip per migration reverted");
}

/// The stored text itself, read back as the engine reads it.
#[tokio::test]
async fn the_engine_reads_back_the_exact_down_script() {
    let db = TestDb::mariadb("kread").await;
    let folder = Folder::empty();
    write(
        &folder,
        (
            "0001_notes",
            "CREATE TABLE notes (id INT PRIMARY KEY);\n",
            TRICKY_DOWN,
        ),
    );
    up(&db, &folder).await.unwrap();
    let mut conn = db.conn().await;
    {
        let engine = conn.engine();
        let home = engine.home().await.unwrap();
        let downs = engine.stored_downs(&home, &[1, 2]).await.unwrap();
        assert_eq!(downs, vec![(1, Some(TRICKY_DOWN.to_string()))]);
        let h = engine.history(&home).await.unwrap().unwrap();
        assert!(h.kept_table);
        let k = h.rows[0].kept.clone().unwrap();
        assert_eq!(
            (k.name.as_str(), k.reversible, k.class.as_str()),
            ("0001_notes", true, "expand")
        );
    }
    conn.close().await;
}
