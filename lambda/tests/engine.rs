//! The engine against the real MariaDB and PostgreSQL servers. Every
//! scenario runs the engine at least twice to show idempotence.

pub mod kit;

use std::time::Duration;

use kit::{Connect, Load};
use schemagate::migrate::Error;
use schemagate::migrate::{self, apply, apply::Left, Direction, PlanError, Report, Target};
use sqlx::{AssertSqlSafe, Connection, Executor};
use testkit::{Folder, TestDb};

async fn up(db: &TestDb, folder: &Folder) -> Result<Report, Error> {
    up_with(db, folder, Target::Latest, apply::Options::default()).await
}

async fn up_with(
    db: &TestDb,
    folder: &Folder,
    target: Target,
    opts: apply::Options,
) -> Result<Report, Error> {
    let mut conn = db.conn().await;
    let r = migrate::run(&mut conn, &folder.set(), target, &opts, &()).await;
    conn.close().await;
    r
}

fn example_tables() -> Vec<String> {
    ["orders", "plans", "users"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[tokio::test]
async fn applies_the_example_history_then_does_nothing_the_second_time() {
    let db = TestDb::mariadb("up").await;
    let folder = Folder::with_example();

    let first = up(&db, &folder).await.unwrap();
    assert_eq!(
        (first.from, first.to, first.count(Direction::Up)),
        (None, 6, 6)
    );
    assert_eq!(db.tables().await, example_tables());
    assert_eq!(
        db.history().await,
        (1..=6).map(|v| (v, true)).collect::<Vec<_>>()
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM plans").await, 3);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM _sqlx_migrations WHERE execution_time <= 0")
            .await,
        0
    );

    let second = up(&db, &folder).await.unwrap();
    assert_eq!(
        (second.from, second.to, second.steps.len()),
        (Some(6), 6, 0)
    );
    assert_eq!(second.summary(), "already at version 6; nothing to do");
    assert_eq!(
        db.count("SELECT COUNT(*) FROM plans").await,
        3,
        "the seed ran once"
    );
}

#[tokio::test]
async fn down_reverts_newest_first_and_up_brings_it_back() {
    let db = TestDb::mariadb("down").await;
    let folder = Folder::with_example();
    up(&db, &folder).await.unwrap();

    let r = up_with(&db, &folder, Target::Version(3), Default::default())
        .await
        .unwrap();
    let reverted: Vec<i64> = r.steps.iter().map(|s| s.step.version).collect();
    assert_eq!(reverted, vec![6, 5, 4]);
    assert_eq!(r.to, 3);
    assert_eq!(db.tables().await, vec!["orders", "users"]);
    assert_eq!(db.history().await, vec![(1, true), (2, true), (3, true)]);
    assert_eq!(db.count("SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND column_name = 'plan_code'").await, 0);

    let again = up_with(&db, &folder, Target::Version(3), Default::default())
        .await
        .unwrap();
    assert!(again.steps.is_empty());

    let back = up(&db, &folder).await.unwrap();
    assert_eq!(back.count(Direction::Up), 3);
    assert_eq!(db.tables().await, example_tables());
}

#[tokio::test]
async fn an_edited_applied_migration_is_refused_naming_the_file() {
    let db = TestDb::mariadb("drift").await;
    let folder = Folder::with_example();
    up_with(&db, &folder, Target::Version(4), Default::default())
        .await
        .unwrap();
    folder.write(
        "0002_create_orders.up.sql",
        "CREATE TABLE orders (id INT PRIMARY KEY);\n",
    );

    for _ in 0..2 {
        let err = up(&db, &folder).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Plan(PlanError::ChecksumMismatch { version: 2, .. })
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("0002_create_orders.up.sql"),
            "{err}"
        );
        assert_eq!(schemagate::Error::from(err).exit_code(), 4);
    }
    assert_eq!(db.history().await.len(), 4, "nothing ran");
    assert_eq!(db.tables().await, vec!["orders", "plans", "users"]);
}

#[tokio::test]
async fn a_migration_failing_part_way_is_recorded_and_refused_with_a_recovery_hint() {
    let db = TestDb::mariadb("dirty").await;
    let folder = Folder::with_example();
    folder.write(
        "0007_split_names.up.sql",
        "CREATE TABLE names (id INT PRIMARY KEY);\nALTER TABLE users ADD COLUMN first_name VARCHAR(50);\nALTER TABLE no_such_table ADD COLUMN x INT;\n",
    );
    folder.write(
        "0007_split_names.down.sql",
        "DROP TABLE names;\nALTER TABLE users DROP COLUMN first_name;\n",
    );

    let err = up(&db, &folder).await.unwrap_err();
    let Error::Apply(e) = &err else {
        panic!("{err}")
    };
    assert_eq!(e.failed.name, "0007_split_names");
    assert_eq!(e.left, Left::Partly { statements: 2 });
    assert_eq!(
        e.done.count(Direction::Up),
        6,
        "the six before it were applied"
    );
    let msg = err.to_string();
    assert!(msg.contains("failed at `0007_split_names`"), "{msg}");
    assert!(
        msg.contains("no_such_table"),
        "the database's own words: {msg}"
    );
    assert!(msg.contains("PARTLY applied (2 statements ran"), "{msg}");
    assert!(
        msg.contains("schemagate resolve 7 --as applied")
            && msg.contains("schemagate resolve 7 --as undone"),
        "{msg}"
    );
    assert_eq!(schemagate::Error::from(err).exit_code(), 1);
    assert_eq!(db.history().await.last(), Some(&(7, false)));
    assert!(
        db.tables().await.contains(&"names".to_string()),
        "DDL before the failure committed"
    );

    // The next run refuses instead of retrying blindly.
    let again = up(&db, &folder).await.unwrap_err();
    assert!(
        matches!(again, Error::Plan(PlanError::Dirty { version: 7, .. })),
        "{again}"
    );
    assert!(again.to_string().contains("0007_split_names"));

    // Following the "undo" half of the hint resolves it.
    db.exec("DROP TABLE names; ALTER TABLE users DROP COLUMN first_name")
        .await;
    let mut conn = db.conn().await;
    migrate::resolve(
        &mut conn,
        &folder.set(),
        7,
        migrate::ResolveAs::Undone,
        &Default::default(),
    )
    .await
    .unwrap();
    conn.close().await;
    folder.write("0007_split_names.up.sql", "CREATE TABLE names (id INT PRIMARY KEY);\nALTER TABLE users ADD COLUMN first_name VARCHAR(50);\n");
    assert_eq!(up(&db, &folder).await.unwrap().count(Direction::Up), 1);
    assert_eq!(db.history().await.last(), Some(&(7, true)));
}

#[tokio::test]
async fn a_migration_whose_first_statement_fails_leaves_nothing_behind() {
    let db = TestDb::mariadb("first").await;
    let folder = Folder::with_example();
    folder.write(
        "0007_bad.up.sql",
        "ALTER TABLE nope ADD COLUMN x INT;\nCREATE TABLE never (id INT);\n",
    );
    folder.write("0007_bad.down.sql", "");

    let err = up(&db, &folder).await.unwrap_err();
    let Error::Apply(e) = &err else {
        panic!("{err}")
    };
    assert_eq!(e.left, Left::Nothing);
    assert!(
        err.to_string()
            .contains("Nothing of `0007_bad` was applied; the schema is at version 6"),
        "{err}"
    );
    assert_eq!(
        db.history().await.len(),
        6,
        "no row for the failed migration"
    );
    assert!(!db.tables().await.contains(&"never".to_string()));

    folder.write("0007_bad.up.sql", "CREATE TABLE never (id INT);\n");
    assert_eq!(up(&db, &folder).await.unwrap().to, 7);
}

#[tokio::test]
async fn baseline_adopts_a_database_made_by_other_tools() {
    let db = TestDb::mariadb("baseline").await;
    let folder = Folder::with_example();
    // The schema an older tool created: versions 1–3 by hand, no history.
    for f in [
        "0001_create_users.up.sql",
        "0002_create_orders.up.sql",
        "0003_index_users_email.up.sql",
    ] {
        db.exec(&std::fs::read_to_string(folder.path().join(f)).unwrap())
            .await;
    }
    let opts = apply::Options {
        baseline: Some(3),
        ..Default::default()
    };
    let r = up_with(&db, &folder, Target::Latest, opts.clone())
        .await
        .unwrap();
    assert_eq!(r.count(Direction::Baseline), 3);
    assert_eq!(r.count(Direction::Up), 3);
    assert_eq!(
        db.history().await,
        (1..=6).map(|v| (v, true)).collect::<Vec<_>>()
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM _sqlx_migrations WHERE execution_time = 0")
            .await,
        3
    );

    let again = up_with(&db, &folder, Target::Latest, opts).await.unwrap();
    assert!(again.steps.is_empty(), "the baseline is not recorded twice");
}

/// A baseline between two files: the database has everything up to it, so
/// the files below are recorded and the ones above run; above the newest
/// file it is refused with nothing written.
#[tokio::test]
async fn a_baseline_between_two_files_records_those_below_it() {
    let db = TestDb::mariadb("baseline_between").await;
    let folder = Folder::empty();
    folder
        .write("10_a.sql", "CREATE TABLE a (id INT);")
        .write("20_b.sql", "CREATE TABLE b (id INT);")
        .write("30_c.sql", "CREATE TABLE c (id INT);");
    db.exec("CREATE TABLE a (id INT); CREATE TABLE b (id INT)")
        .await;
    let above = apply::Options {
        baseline: Some(31),
        ..Default::default()
    };
    let err = up_with(&db, &folder, Target::Latest, above)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("baseline version 31 is above the newest migration in the folder (30)"),
        "{err}"
    );
    assert_eq!(db.history().await, vec![], "nothing recorded");
    assert!(
        !db.all_tables().await.contains("_sqlx_migrations"),
        "no history table made"
    );

    let opts = apply::Options {
        baseline: Some(25),
        ..Default::default()
    };
    for round in 0..2 {
        let r = up_with(&db, &folder, Target::Latest, opts.clone())
            .await
            .unwrap();
        let (baselined, applied) = if round == 0 { (2, 1) } else { (0, 0) };
        assert_eq!(r.count(Direction::Baseline), baselined, "round {round}");
        assert_eq!(r.count(Direction::Up), applied, "round {round}");
        assert_eq!(r.to, 30);
    }
    assert_eq!(db.history().await, vec![(10, true), (20, true), (30, true)]);
    assert_eq!(db.tables().await, vec!["a", "b", "c"]);
}

#[tokio::test]
async fn a_file_added_below_the_applied_head_is_reported_not_applied() {
    let db = TestDb::mariadb("gap").await;
    let folder = Folder::empty();
    folder
        .write("1_a.sql", "CREATE TABLE a (id INT);")
        .write("3_c.sql", "CREATE TABLE c (id INT);");
    up(&db, &folder).await.unwrap();
    folder.write("2_b.sql", "CREATE TABLE b (id INT);");

    for _ in 0..2 {
        let err = up(&db, &folder).await.unwrap_err();
        assert!(
            matches!(&err, Error::Plan(PlanError::OutOfOrder { current: 3, pending }) if pending == &vec!["2_b".to_string()]),
            "{err}"
        );
    }
    assert_eq!(db.tables().await, vec!["a", "c"]);
}

#[tokio::test]
async fn empty_and_comment_only_down_scripts_are_deliberate_no_ops() {
    let db = TestDb::mariadb("nodown").await;
    let folder = Folder::empty();
    folder
        .write("1_t.up.sql", "CREATE TABLE t (id INT);")
        .write("1_t.down.sql", "DROP TABLE t;")
        .write("2_seed.up.sql", "INSERT INTO t VALUES (1);")
        .write(
            "2_seed.down.sql",
            "-- keep the row: other data may refer to it\n",
        )
        .write("3_nothing.up.sql", "")
        .write("3_nothing.down.sql", "");
    assert_eq!(up(&db, &folder).await.unwrap().to, 3);
    let r = up_with(&db, &folder, Target::Version(1), Default::default())
        .await
        .unwrap();
    assert_eq!(r.count(Direction::Down), 2);
    assert_eq!(db.history().await, vec![(1, true)]);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM t").await,
        1,
        "the no-op down kept the row"
    );
}

#[tokio::test]
async fn going_down_past_an_irreversible_migration_is_a_clear_error() {
    let db = TestDb::mariadb("irrev").await;
    let folder = Folder::empty();
    folder
        .write("1_t.up.sql", "CREATE TABLE t (id INT);")
        .write("1_t.down.sql", "DROP TABLE t;")
        .write(
            "2_drop_legacy.sql",
            "CREATE TABLE legacy (id INT); DROP TABLE legacy;",
        )
        .write("3_u.up.sql", "CREATE TABLE u (id INT);")
        .write("3_u.down.sql", "DROP TABLE u;");
    up(&db, &folder).await.unwrap();
    let err = up_with(&db, &folder, Target::Version(1), Default::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("`2_drop_legacy` is irreversible"),
        "{err}"
    );
    assert_eq!(db.history().await.len(), 3, "nothing was reverted");
}

#[tokio::test]
async fn a_history_of_320_generated_migrations_applies_once() {
    let db = TestDb::mariadb("many").await;
    let folder = Folder::empty();
    folder
        .write(
            "0001_counter.up.sql",
            "CREATE TABLE counter (n INT NOT NULL);",
        )
        .write("0001_counter.down.sql", "DROP TABLE counter;");
    // Versions are positive: the counter is 1, the steps 2..=321.
    for v in 2..=321 {
        folder.write(
            &format!("{v:04}_step_{v}.up.sql"),
            &format!("CREATE TABLE t{v} (id INT PRIMARY KEY);\nINSERT INTO counter VALUES ({v});"),
        );
        folder.write(
            &format!("{v:04}_step_{v}.down.sql"),
            &format!("DROP TABLE t{v};\nDELETE FROM counter WHERE n = {v};"),
        );
    }
    let r = up(&db, &folder).await.unwrap();
    assert_eq!((r.to, r.count(Direction::Up)), (321, 321));
    assert_eq!(db.count("SELECT COUNT(*) FROM counter").await, 320);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
            .await,
        321
    );
    assert!(up(&db, &folder).await.unwrap().steps.is_empty());
}

#[tokio::test]
async fn two_engines_started_together_apply_every_migration_exactly_once() {
    let db = TestDb::mariadb("race").await;
    let folder = Folder::empty();
    folder.write("0001_counter.sql", "CREATE TABLE counter (n INT NOT NULL);");
    for v in 1..=40 {
        folder.write(
            &format!("{:04}_m.sql", v + 1),
            &format!("CREATE TABLE t{v} (id INT);\nINSERT INTO counter VALUES ({v});"),
        );
    }
    let (a, b) = tokio::join!(up(&db, &folder), up(&db, &folder));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a.count(Direction::Up) + b.count(Direction::Up),
        41,
        "each applied once between them"
    );
    assert_eq!((a.to, b.to), (41, 41));
    assert_eq!(db.count("SELECT COUNT(*) FROM counter").await, 40);
    assert_eq!(db.count("SELECT COUNT(DISTINCT n) FROM counter").await, 40);
}

#[tokio::test]
async fn the_lock_is_real_and_times_out_with_a_message() {
    let db = TestDb::mariadb("lock").await;
    let folder = Folder::with_example();
    let mut holder = db.my().await;
    let lock = schemagate::migrate::lock::name(&db.name);
    let got: Option<i64> =
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT GET_LOCK('{lock}', 1)")))
            .fetch_one(&mut holder)
            .await
            .unwrap();
    assert_eq!(got, Some(1));

    let opts = apply::Options {
        lock_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let err = up_with(&db, &folder, Target::Latest, opts)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LockTimeout { .. }), "{err}");
    assert!(
        err.to_string().contains("another schemagate run holds it"),
        "{err}"
    );
    assert!(db.tables().await.is_empty());

    holder.close().await.unwrap();
    assert_eq!(up(&db, &folder).await.unwrap().to, 6);
}

#[tokio::test]
async fn the_lock_is_released_after_a_failure() {
    let db = TestDb::mariadb("release").await;
    let folder = Folder::empty();
    folder.write("1_bad.sql", "SELECT * FROM nope;");
    let mut conn = db.conn().await;
    let err = migrate::run(
        &mut conn,
        &folder.set(),
        Target::Latest,
        &Default::default(),
        &(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Apply(_)));
    // Same connection still open: the lock must be free for others.
    let mut other = db.my().await;
    let lock = schemagate::migrate::lock::name(&db.name);
    let free: Option<i64> =
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT IS_FREE_LOCK('{lock}')")))
            .fetch_one(&mut other)
            .await
            .unwrap();
    assert_eq!(free, Some(1));
    conn.close().await;
}

#[tokio::test]
async fn ddl_behind_a_long_transaction_waits_and_retries_instead_of_freezing() {
    let db = TestDb::mariadb("mdl").await;
    let folder = Folder::empty();
    folder.write("1_t.sql", "CREATE TABLE t (id INT PRIMARY KEY);");
    up(&db, &folder).await.unwrap();
    folder.write(
        "2_add.sql",
        "ALTER TABLE t ADD COLUMN note VARCHAR(20) NULL;",
    );

    // An application transaction holds a metadata lock on `t` for 3 s.
    let mut app = db.my().await;
    app.execute("START TRANSACTION").await.unwrap();
    app.execute("SELECT * FROM t").await.unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        app.execute("COMMIT").await.unwrap();
        app
    });
    let opts = apply::Options {
        lock_wait: Duration::from_secs(1),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let r = up_with(&db, &folder, Target::Latest, opts).await.unwrap();
    assert_eq!(r.to, 2);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "it waited for the transaction"
    );
    assert_eq!(db.history().await, vec![(1, true), (2, true)]);
    release.await.unwrap();
}

#[tokio::test]
async fn a_history_written_by_sqlx_migrate_is_taken_over_unchanged() {
    let db = TestDb::mariadb("sqlx").await;
    let folder = Folder::with_example();
    let mut c = db.my().await;
    let mut m = sqlx::migrate::Migrator::new(folder.path()).await.unwrap();
    m.set_locking(false);
    m.run(&mut c).await.unwrap();
    let r = up(&db, &folder).await.unwrap();
    assert!(
        r.steps.is_empty(),
        "sqlx's rows and checksums are recognised"
    );
    assert_eq!(r.to, 6);
    let back = up_with(&db, &folder, Target::Version(5), Default::default())
        .await
        .unwrap();
    assert_eq!(back.count(Direction::Down), 1);
}

#[tokio::test]
async fn init_sql_runs_on_the_session_first() {
    let db = TestDb::mariadb("init").await;
    let folder = Folder::empty();
    folder
        .write("1_parent.sql", "CREATE TABLE parent (id INT PRIMARY KEY) ENGINE=InnoDB;")
        .write("2_child.sql", "CREATE TABLE child (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) REFERENCES parent (id)) ENGINE=InnoDB;\nINSERT INTO child VALUES (1, 99);");
    let err = up(&db, &folder).await.unwrap_err();
    assert!(
        err.to_string().contains("foreign key constraint fails"),
        "{err}"
    );
    let opts = apply::Options {
        init_sql: vec!["SET FOREIGN_KEY_CHECKS=0".into()],
        ..Default::default()
    };
    // 2 is partly applied (CREATE committed); clean it as the hint says.
    db.exec("DROP TABLE child; DELETE FROM _sqlx_migrations WHERE version = 2")
        .await;
    assert_eq!(
        up_with(&db, &folder, Target::Latest, opts)
            .await
            .unwrap()
            .to,
        2
    );
}

// ---------------------------------------------------------------- PostgreSQL

#[tokio::test]
async fn postgres_up_down_and_idempotent() {
    let db = TestDb::postgres("pgup").await;
    let folder = Folder::empty();
    folder
        .write("1_users.up.sql", "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL);")
        .write("1_users.down.sql", "DROP TABLE users;")
        .write("2_fn.up.sql", "CREATE FUNCTION one() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\nINSERT INTO users (email) VALUES ('a;b@example.com')")
        .write("2_fn.down.sql", "DROP FUNCTION one();\nDELETE FROM users;")
        .write("3_idx.up.sql", "-- no-transaction\nCREATE INDEX CONCURRENTLY users_email ON users (email);")
        .write("3_idx.down.sql", "-- no-transaction\nDROP INDEX CONCURRENTLY users_email;");
    let r = up(&db, &folder).await.unwrap();
    assert_eq!((r.to, r.count(Direction::Up)), (3, 3));
    assert_eq!(db.history().await, vec![(1, true), (2, true), (3, true)]);
    assert!(up(&db, &folder).await.unwrap().steps.is_empty());
    let back = up_with(&db, &folder, Target::Version(1), Default::default())
        .await
        .unwrap();
    assert_eq!(back.count(Direction::Down), 2);
    assert_eq!(db.history().await, vec![(1, true)]);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'users_email'")
            .await,
        0
    );
}

#[tokio::test]
async fn postgres_rolls_a_failed_migration_back_whole() {
    let db = TestDb::postgres("pgfail").await;
    let folder = Folder::empty();
    folder.write(
        "1_a.sql",
        "CREATE TABLE a (id INT);\nCREATE TABLE b (id INT);\nSELECT * FROM nope;",
    );
    let err = up(&db, &folder).await.unwrap_err();
    let Error::Apply(e) = &err else {
        panic!("{err}")
    };
    assert_eq!(e.left, Left::RolledBack);
    assert!(
        err.to_string().contains("relation \"nope\" does not exist"),
        "{err}"
    );
    assert!(db.tables().await.is_empty(), "nothing of it stays");
    assert!(db.history().await.is_empty());
    folder.write("1_a.sql", "CREATE TABLE a (id INT);");
    assert_eq!(up(&db, &folder).await.unwrap().to, 1);
}

#[tokio::test]
async fn postgres_two_engines_apply_once() {
    let db = TestDb::postgres("pgrace").await;
    let folder = Folder::empty();
    folder.write("0001_counter.sql", "CREATE TABLE counter (n INT NOT NULL);");
    for v in 1..=20 {
        folder.write(
            &format!("{:04}_m.sql", v + 1),
            &format!("INSERT INTO counter VALUES ({v});"),
        );
    }
    let (a, b) = tokio::join!(up(&db, &folder), up(&db, &folder));
    assert_eq!(
        a.unwrap().count(Direction::Up) + b.unwrap().count(Direction::Up),
        21
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM counter").await, 20);
}

/// This process's TCP sockets connected to `port`, each with whether
/// `TCP_NODELAY` is on.
fn sockets_to(port: u16) -> Vec<(i32, bool)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
        let entry = entry.unwrap();
        let link = std::fs::read_link(entry.path()).unwrap_or_default();
        if !link.to_string_lossy().starts_with("socket:") {
            continue;
        }
        let fd: i32 = entry.file_name().to_str().unwrap().parse().unwrap();
        // SAFETY: plain getsockopt/getpeername on an fd this process holds,
        // into buffers of the sizes passed.
        unsafe {
            let mut kind: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            let k = std::ptr::addr_of_mut!(kind).cast();
            if libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_TYPE, k, &mut len) != 0
                || kind != libc::SOCK_STREAM
            {
                continue;
            }
            let mut addr: libc::sockaddr_storage = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            let a = std::ptr::addr_of_mut!(addr).cast();
            if libc::getpeername(fd, a, &mut len) != 0
                || libc::c_int::from(addr.ss_family) != libc::AF_INET
            {
                continue;
            }
            let peer = &*std::ptr::addr_of!(addr).cast::<libc::sockaddr_in>();
            if u16::from_be(peer.sin_port) != port {
                continue;
            }
            let mut on: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            let o = std::ptr::addr_of_mut!(on).cast();
            assert_eq!(
                libc::getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, o, &mut len),
                0
            );
            found.push((fd, on != 0));
        }
    }
    found
}

/// The engine's connection sends each write at once (`TCP_NODELAY`):
/// with Nagle on, a TLS handshake waited twice for the server's delayed
/// ACK, ~40 ms each; sqlx 0.9.0 had stopped setting it
/// (vendor/sqlx-core/SCHEMAGATE.md, #11).
#[tokio::test]
async fn the_engine_s_connection_turns_nagle_off() {
    for db in [
        TestDb::mariadb("nodelay").await,
        TestDb::postgres("nodelay").await,
    ] {
        let before: Vec<i32> = sockets_to(db.kind.port()).iter().map(|s| s.0).collect();
        let conn = db.conn().await;
        let new: Vec<(i32, bool)> = sockets_to(db.kind.port())
            .into_iter()
            .filter(|(fd, _)| !before.contains(fd))
            .collect();
        assert_eq!(
            new.len(),
            1,
            "{:?}: the engine's connection among {new:?}",
            db.kind
        );
        assert!(
            new[0].1,
            "{:?}: TCP_NODELAY is off on the engine's connection",
            db.kind
        );
        conn.close().await;
    }
}
