//! Faults: servers killed, frozen or silent, clients killed. Every test
//! here that stops a server runs its own `mariadbd` ([`PrivateMariaDb`]),
//! never the shared one. Each asserts what the user sees (exit code,
//! message) and what the database holds afterwards (history rows, tables).
//! `docs/reliability.md` is the table of these cases.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::{Connection, MySqlConnection};
use testkit::db::MARIADB_URL;
use testkit::{text, Folder, PrivateMariaDb, TestDb};

fn cli(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_schemagate"));
    c.args(args)
        .env_remove("DATABASE_URL")
        .env_remove("SCHEMAGATE_SECRET_ARN")
        .env_remove("SCHEMAGATE_MIGRATIONS_DIR");
    c
}

/// The CLI on a test database: exit code, stdout, stderr.
fn on(db: &TestDb, folder: &Folder, args: &[&str]) -> (Option<i32>, String, String) {
    let dir = folder.path();
    let url = db.url();
    let mut all = vec![
        "--database-url",
        &url,
        "--migrations",
        dir.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let o = cli(&all).output().unwrap();
    let (out, err) = text(&o);
    (o.status.code(), out, err)
}

/// `(version, success, execution_time)` of the history.
async fn history_rows(db: &TestDb) -> Vec<(i64, bool, i64)> {
    sqlx::query_as("SELECT version, success, execution_time FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&mut db.my().await)
        .await
        .unwrap()
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
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name NOT IN ('_sqlx_migrations', '_schemagate_history')",
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
    assert_agree(&url, "after the crash").await;
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
    assert!(
        stderr.contains("run `schemagate resolve 2 --as undone`"),
        "{stderr}"
    );

    // Undo what ran, record it, and the next run applies it once, whole.
    server.exec_root("DROP TABLE app.b");
    let on_private = |cmd: &[&str]| {
        let mut a = vec![
            "--database-url",
            url.as_str(),
            "--migrations",
            dir.to_str().unwrap(),
        ];
        a.extend_from_slice(cmd);
        let o = cli(&a).output().unwrap();
        let (out, err) = text(&o);
        (o.status.code(), out, err)
    };
    let (code, out, err) = on_private(&["resolve", "2", "--as", "undone"]);
    assert_eq!(code, Some(0), "{out}{err}");
    folder.write(
        "0002_slow.sql",
        "CREATE TABLE b (id INT);\nCREATE TABLE c (id INT);",
    );
    for _ in 0..2 {
        let (code, out, err) = on_private(&["up"]);
        assert_eq!(code, Some(0), "{out}{err}");
    }
    assert_eq!(tables(&url).await, vec!["a", "b", "c"]);
    assert_eq!(
        rows(
            &url,
            "SELECT version, success FROM _sqlx_migrations ORDER BY version"
        )
        .await,
        vec![(1, true), (2, true)]
    );
}

/// Issue #8(b): a file larger than the server's `max_allowed_packet` made
/// the server drop the connection mid-run ("PARTLY applied (0 statements
/// ran)", its row kept). It is refused before anything runs, saying what
/// limit was hit and how to raise it.
#[tokio::test]
async fn a_migration_over_max_allowed_packet_is_refused_before_anything_runs() {
    let server = PrivateMariaDb::start(&["--max-allowed-packet=1M"]);
    let url = server.url("app");
    let folder = Folder::empty();
    let values: Vec<String> = (0..20_000)
        .map(|i| format!("({i}, '{}')", "x".repeat(90)))
        .collect();
    let big = format!("INSERT INTO a (id, v) VALUES {};\n", values.join(",\n"));
    assert!(big.len() > 2_000_000);
    folder
        .write("0001_a.sql", "CREATE TABLE a (id INT PRIMARY KEY, v TEXT);")
        .write("0002_big.sql", &big);
    let dir = folder.path();
    let run = |extra: &[&str]| {
        let mut a = vec![
            "--database-url",
            url.as_str(),
            "--migrations",
            dir.to_str().unwrap(),
            "up",
        ];
        a.extend_from_slice(extra);
        let o = cli(&a).output().unwrap();
        let (out, err) = text(&o);
        (o.status.code(), out, err)
    };
    for _ in 0..2 {
        let (code, out, err) = run(&[]);
        assert_eq!(code, Some(4), "{out}{err}");
        assert!(err.contains("0002_big.sql` is 2.0 MB"), "{err}");
        assert!(
            err.contains(
                "does not fit in the server's `max_allowed_packet` of 1.0 MB (1048576 bytes)"
            ),
            "{err}"
        );
        assert!(
            err.contains("nothing was run and nothing recorded"),
            "{err}"
        );
        assert!(
            err.contains("the `max_allowed_packet` parameter of the DB parameter group"),
            "{err}"
        );
        assert!(err.contains("at least 4194304"), "{err}");
        assert!(!err.contains("PARTLY"), "{err}");
        assert!(tables(&url).await.is_empty(), "nothing ran");
        assert!(rows(&url, "SELECT version, success FROM _sqlx_migrations")
            .await
            .is_empty());
    }
    let (code, _, err) = run(&["--to", "1"]);
    assert_eq!(code, Some(0), "{err}");
    server.exec_root("SET GLOBAL max_allowed_packet = 4194304");
    let (code, out, err) = run(&[]);
    assert_eq!(code, Some(0), "{out}{err}");
    let mut c = MySqlConnection::connect(&url).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM a")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(n, 20_000);
}

// ---------------------------------------------------- a client killed mid-run

/// Wait until the server has no session on `db` left (the killed client's
/// batch has run to its end on the server).
async fn wait_for_sessions_to_end(db: &TestDb) {
    let mut c = MySqlConnection::connect(MARIADB_URL).await.unwrap();
    let started = Instant::now();
    loop {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()",
        )
        .bind(&db.name)
        .fetch_one(&mut c)
        .await
        .unwrap();
        if n == 0 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the killed run's session on `{}` did not end",
            db.name
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Wait until a statement containing `marker` runs on the server.
async fn wait_for_statement(db: &TestDb, marker: &str) {
    let mut c = MySqlConnection::connect(MARIADB_URL).await.unwrap();
    let started = Instant::now();
    loop {
        // The pattern is built on the server so this query does not match itself.
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.processlist WHERE db = ? AND info LIKE CONCAT('%', ?, '%') AND id <> CONNECTION_ID()",
        )
        .bind(&db.name)
        .bind(marker)
        .fetch_one(&mut c)
        .await
        .unwrap();
        if n > 0 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "`{marker}` did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn spawn_up(db: &TestDb, folder: &Folder) -> std::process::Child {
    spawn(db, folder, &["up"])
}

fn spawn(db: &TestDb, folder: &Folder, args: &[&str]) -> std::process::Child {
    let dir = folder.path();
    let url = db.url();
    let mut all = vec![
        "--database-url",
        &url,
        "--migrations",
        dir.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    Command::new(env!("CARGO_BIN_EXE_schemagate"))
        .args(all)
        .env_remove("DATABASE_URL")
        .env_remove("SCHEMAGATE_SECRET_ARN")
        .env_remove("SCHEMAGATE_MIGRATIONS_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Issue #8(a): the client dies (SIGKILL) during a migration; the server
/// runs that batch to its end. The next migration has no row — the old
/// claim-ahead left it "recorded as failed: partly applied" although it
/// never started — and the rerun applies each migration exactly once.
#[tokio::test]
async fn a_client_killed_during_a_migration_leaves_no_row_for_the_next_one() {
    let db = TestDb::mariadb("kill9").await;
    let folder = Folder::empty();
    folder
        .write("0001_t.sql", "CREATE TABLE t (id INT PRIMARY KEY);")
        .write(
            "0002_slow.sql",
            "INSERT INTO t VALUES (2);\nSELECT SLEEP(1.5);\nINSERT INTO t VALUES (20);\n",
        )
        .write("0003_fill.sql", "INSERT INTO t VALUES (3);")
        .write(
            "0004_ddl.sql",
            "CREATE TABLE b (id INT);\nSELECT SLEEP(1.5);\nCREATE TABLE c (id INT);\n",
        )
        .write("0005_last.sql", "CREATE TABLE d (id INT);");

    for (during, marker, next) in [(2, "SLEEP(1.5)", 3), (4, "SLEEP(1.5)", 5)] {
        let mut child = spawn_up(&db, &folder);
        wait_for_statement(&db, marker).await;
        child.kill().unwrap();
        let _ = child.wait();
        wait_for_sessions_to_end(&db).await;

        let h = history_rows(&db).await;
        assert!(
            h.iter().all(|r| r.0 < next),
            "killed during {during}: no row for {next}, which did not start: {h:?}"
        );
        // The migration in progress is fully recorded (the server ran the
        // batch to its end), absent (rolled back), or on record as started.
        let row = h.iter().find(|r| r.0 == during).copied();
        match (during, row) {
            (_, Some((_, true, t))) => assert!(t > 0, "{h:?}"),
            (_, None) => {}
            // DML commits with its row, never without it.
            (2, Some(r)) => panic!("a DML migration is atomic with its row: {r:?}"),
            (_, Some((_, false, t))) => {
                assert_eq!(t, -1, "{h:?}");
                // Stopped part way by the server: refused, and resolved as
                // the database says.
                let (code, _, err) = on(&db, &folder, &["up"]);
                assert_eq!(code, Some(4), "{err}");
                assert!(err.contains("schemagate resolve 4 --as"), "{err}");
                db.exec("DROP TABLE IF EXISTS b; DROP TABLE IF EXISTS c")
                    .await;
                let (code, _, err) = on(&db, &folder, &["resolve", "4", "--as", "undone"]);
                assert_eq!(code, Some(0), "{err}");
            }
        }
        if during == 2 {
            let ids = db.count("SELECT COUNT(*) FROM t WHERE id IN (2, 20)").await;
            assert_eq!(
                ids,
                if row.is_some() { 2 } else { 0 },
                "row {row:?} says what t holds"
            );
        }
    }
    for _ in 0..2 {
        let (code, out, err) = on(&db, &folder, &["up"]);
        assert_eq!(code, Some(0), "{out}{err}");
    }
    assert_eq!(
        db.history().await,
        (1..=5).map(|v| (v, true)).collect::<Vec<_>>()
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM t").await,
        3,
        "2, 20 and 3, once each"
    );
    assert_eq!(db.tables().await, vec!["b", "c", "d", "t"]);
}

/// `(version, success, execution_time)` of `_sqlx_migrations` and the
/// versions of `_schemagate_history`.
async fn both_tables(url: &str) -> (Vec<(i64, bool, i64)>, Vec<i64>) {
    let mut c = MySqlConnection::connect(url).await.unwrap();
    let h = sqlx::query_as(
        "SELECT version, success, execution_time FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    let k = sqlx::query_scalar("SELECT version FROM _schemagate_history ORDER BY version")
        .fetch_all(&mut c)
        .await
        .unwrap();
    (h, k)
}

/// The two history tables agree: a kept row for each history row (in any
/// state), none for a version without one.
async fn assert_agree(url: &str, when: &str) -> Vec<(i64, bool, i64)> {
    let (h, k) = both_tables(url).await;
    let versions: Vec<i64> = h.iter().map(|r| r.0).collect();
    assert_eq!(
        versions, k,
        "{when}: _sqlx_migrations {h:?}, _schemagate_history {k:?}"
    );
    h
}

/// Issue #10: what `_schemagate_history` keeps rides in the history row's
/// own batch, so a client killed mid-batch — applying or reverting, DDL
/// (commits as it goes) or DML (atomic) — leaves the two tables agreeing:
/// both rows or neither. (Kept in a round trip of its own, a kill between
/// the two would leave a history row without its down script.)
#[tokio::test]
async fn a_client_killed_mid_batch_leaves_both_history_tables_agreeing() {
    let db = TestDb::mariadb("kill9kept").await;
    let folder = Folder::empty();
    folder
        .write("0001_t.up.sql", "CREATE TABLE t (id INT PRIMARY KEY);")
        .write("0001_t.down.sql", "DROP TABLE t;")
        .write(
            "0002_dml.up.sql",
            "INSERT INTO t VALUES (2);\nSELECT SLEEP(1.5);\nINSERT INTO t VALUES (20);\n",
        )
        .write(
            "0002_dml.down.sql",
            "DELETE FROM t WHERE id = 20;\nSELECT SLEEP(1.6);\nDELETE FROM t WHERE id = 2;\n",
        )
        .write(
            "0003_ddl.up.sql",
            "CREATE TABLE b (id INT);\nSELECT SLEEP(1.5);\nCREATE TABLE c (id INT);\n",
        )
        .write(
            "0003_ddl.down.sql",
            "DROP TABLE c;\nSELECT SLEEP(1.6);\nDROP TABLE b;\n",
        );
    let url = db.url();
    let kills: [(&[&str], &str, i64); 4] = [
        (&["up", "--to", "2"], "SLEEP(1.5)", 2),
        (&["up"], "SLEEP(1.5)", 3),
        (&["down", "--to", "2"], "SLEEP(1.6)", 3),
        (&["down", "--to", "1"], "SLEEP(1.6)", 2),
    ];
    for (args, marker, during) in kills {
        let mut child = spawn(&db, &folder, args);
        wait_for_statement(&db, marker).await;
        child.kill().unwrap();
        let _ = child.wait();
        wait_for_sessions_to_end(&db).await;
        let when = format!("killed during {args:?} at {during}");
        let h = assert_agree(&url, &when).await;
        // Started and cut part way (DDL committed): resolved as the
        // database says, and the two tables still agree.
        if let Some(&(v, false, t)) = h.iter().find(|r| !r.1) {
            let (how, undo) = match t {
                -3 => ("applied", "CREATE TABLE IF NOT EXISTS c (id INT)"),
                _ => ("undone", "DROP TABLE IF EXISTS b; DROP TABLE IF EXISTS c"),
            };
            db.exec(undo).await;
            let (code, _, err) = on(&db, &folder, &["resolve", &v.to_string(), "--as", how]);
            assert_eq!(code, Some(0), "{when}: {err}");
            assert_agree(&url, &format!("{when}, resolved as {how}")).await;
        }
        for _ in 0..2 {
            let (code, out, err) = on(&db, &folder, args);
            assert_eq!(code, Some(0), "{when}, run again: {out}{err}");
        }
        assert_agree(&url, &format!("{when}, then run again")).await;
    }
    assert_eq!(db.history().await, vec![(1, true)]);
    assert_eq!(db.count("SELECT COUNT(*) FROM t").await, 0);
    assert_eq!(db.tables().await, vec!["t"]);
}

fn signal(child: &std::process::Child, sig: i32) {
    unsafe { libc::kill(child.id() as i32, sig) };
}

async fn lock_is_free(db: &TestDb) -> bool {
    let lock = schemagate::migrate::lock::name(&db.name);
    let free: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT IS_FREE_LOCK('{lock}')"
    )))
    .fetch_one(&mut db.my().await)
    .await
    .unwrap();
    free == Some(1)
}

/// Issue #8(a): SIGTERM exited at once with no message and left the server
/// to finish the batch unseen. Now the migration in progress finishes and
/// is recorded, nothing more starts, the lock is released, and the CLI
/// says what was done and what was not, exiting 143.
#[tokio::test]
async fn sigterm_lets_the_migration_in_progress_finish_records_it_and_releases_the_lock() {
    let db = TestDb::mariadb("sigterm").await;
    let folder = Folder::empty();
    folder
        .write("0001_t.sql", "CREATE TABLE t (id INT PRIMARY KEY);")
        .write(
            "0002_sleep.sql",
            "INSERT INTO t VALUES (2);\nSELECT SLEEP(2);\n",
        )
        .write("0003_after.sql", "INSERT INTO t VALUES (3);")
        .write("0004_last.sql", "INSERT INTO t VALUES (4);");
    let child = spawn_up(&db, &folder);
    wait_for_statement(&db, "SLEEP(2)").await;
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(143), "{stdout}{stderr}");
    assert!(
        stderr.contains("schemagate: SIGTERM: letting `0002_sleep` finish"),
        "{stderr}"
    );
    assert!(
        stderr.contains("stopped by SIGTERM after applying 0001_t, 0002_sleep; not started: 0003_after, 0004_last; the schema is at version 2 and the migration lock is released"),
        "{stderr}"
    );
    assert!(stdout.contains("applied   0002_sleep"), "{stdout}");
    assert_eq!(
        history_rows(&db)
            .await
            .iter()
            .map(|r| (r.0, r.1))
            .collect::<Vec<_>>(),
        vec![(1, true), (2, true)],
        "0002 recorded, no row for what did not start"
    );
    assert!(lock_is_free(&db).await);

    // Another run proceeds at once and applies the rest, exactly once.
    let t = Instant::now();
    let (code, out, err) = on(&db, &folder, &["--lock-timeout", "1", "up"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(out.contains("applied 0003_after, 0004_last"), "{out}");
    assert_eq!(db.count("SELECT COUNT(*) FROM t").await, 3);
    let (code, out, _) = on(&db, &folder, &["up"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("nothing to do"), "{out}");
}

/// A second signal exits at once; the server finishes the batch it was
/// given, and the history says so.
#[tokio::test]
async fn a_second_sigterm_exits_at_once_and_the_history_stays_true() {
    let db = TestDb::mariadb("sigterm2").await;
    let folder = Folder::empty();
    folder
        .write("0001_t.sql", "CREATE TABLE t (id INT PRIMARY KEY);")
        .write(
            "0002_sleep.sql",
            "INSERT INTO t VALUES (2);\nSELECT SLEEP(3);\n",
        )
        .write("0003_after.sql", "INSERT INTO t VALUES (3);");
    let child = spawn_up(&db, &folder);
    wait_for_statement(&db, "SLEEP(3)").await;
    let t = Instant::now();
    signal(&child, libc::SIGTERM);
    tokio::time::sleep(Duration::from_millis(200)).await;
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(143), "{stdout}{stderr}");
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "it did not wait for the batch"
    );
    assert!(stderr.contains("SIGTERM again: exiting now"), "{stderr}");
    wait_for_sessions_to_end(&db).await;
    let h = history_rows(&db).await;
    assert!(h.iter().all(|r| r.0 <= 2), "{h:?}");
    let ran = db.count("SELECT COUNT(*) FROM t WHERE id = 2").await;
    assert_eq!(
        h.iter().any(|r| r.0 == 2 && r.1),
        ran == 1,
        "the row of 0002 says what t holds: {h:?}"
    );
    for _ in 0..2 {
        let (code, out, err) = on(&db, &folder, &["up"]);
        assert_eq!(code, Some(0), "{out}{err}");
    }
    assert_eq!(db.count("SELECT COUNT(*) FROM t").await, 2);
}

/// SIGINT while waiting for another run's lock gives the wait up: nothing
/// was changed, exit 130, and the lock holder is not disturbed.
#[tokio::test]
async fn sigint_while_waiting_for_the_lock_stops_at_once_with_nothing_changed() {
    let db = TestDb::mariadb("sigint").await;
    let folder = Folder::empty();
    folder.write("0001_t.sql", "CREATE TABLE t (id INT);");
    let mut holder = db.my().await;
    let lock = schemagate::migrate::lock::name(&db.name);
    let got: Option<i64> =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT GET_LOCK('{lock}', 1)")))
            .fetch_one(&mut holder)
            .await
            .unwrap();
    assert_eq!(got, Some(1));
    let dir = folder.path();
    let child = cli(&[
        "--database-url",
        &db.url(),
        "--migrations",
        dir.to_str().unwrap(),
        "--lock-timeout",
        "30",
        "up",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    wait_for_statement(&db, "GET_LOCK(").await;
    let t = Instant::now();
    signal(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(130), "{stdout}{stderr}");
    assert!(t.elapsed() < Duration::from_secs(3));
    assert!(
        stderr.contains(
            "stopped by SIGINT while waiting for the migration lock; nothing was changed"
        ),
        "{stderr}"
    );
    assert!(db.tables().await.is_empty());
    assert!(db.history().await.is_empty());

    // The holder lets go; a new run gets the lock and applies.
    holder.close().await.unwrap();
    let (code, out, err) = on(&db, &folder, &["--lock-timeout", "10", "up"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert_eq!(db.history().await, vec![(1, true)]);
}

// ------------------------------------------- the CLI closes its connection

/// The server's count of clients that went away without closing their
/// connection (`Aborted_clients`), once no session but this one is left.
async fn aborted_clients(url: &str) -> i64 {
    let mut c = MySqlConnection::connect(url).await.unwrap();
    let started = Instant::now();
    loop {
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND COMMAND <> 'Daemon'",
        )
        .fetch_one(&mut c)
        .await
        .unwrap();
        if others == 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "sessions left");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, n): (String, String) = sqlx::query_as("SHOW GLOBAL STATUS LIKE 'Aborted_clients'")
        .fetch_one(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    n.parse().unwrap()
}

/// Issue #9: a failed `up --json` and a run stopped by SIGTERM exited from
/// inside the run (`std::process::exit`), so the connection was never
/// closed: the server counted an aborted client and logged "Got an error
/// reading communication packets" for every such run. The CLI now returns
/// its exit code and closes the connection first; the exit codes and the
/// output stay.
#[tokio::test]
async fn a_failed_json_run_and_a_stopped_run_close_their_connection() {
    let server = PrivateMariaDb::start(&[]);
    let url = server.url("app");
    let folder = Folder::empty();
    folder
        .write("0001_t.sql", "CREATE TABLE t (id INT PRIMARY KEY);")
        .write("0002_bad.sql", "INSERT INTO no_such_table VALUES (1);");
    let dir = folder.path();
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "--database-url".to_string(),
            url.clone(),
            "--migrations".to_string(),
            dir.to_str().unwrap().to_string(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let before = aborted_clients(&url).await;
    for _ in 0..2 {
        let a = args(&["up", "--json"]);
        let o = cli(&a.iter().map(String::as_str).collect::<Vec<_>>())
            .output()
            .unwrap();
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{out}{err}");
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["ok"], false, "{out}");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("failed at `0002_bad`"),
            "{out}"
        );
        assert_eq!(aborted_clients(&url).await, before, "{out}{err}");
    }

    // A run stopped by SIGTERM between two migrations: exit 143, said so,
    // and its connection closed too.
    folder.remove("0002_bad.sql");
    folder
        .write("0002_sleep.sql", "SELECT SLEEP(2);\n")
        .write("0003_after.sql", "INSERT INTO t VALUES (3);");
    let a = args(&["up"]);
    let child = cli(&a.iter().map(String::as_str).collect::<Vec<_>>())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut c = MySqlConnection::connect(&url).await.unwrap();
    let started = Instant::now();
    loop {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%SLEEP(2)%' AND ID <> CONNECTION_ID()",
        )
        .fetch_one(&mut c)
        .await
        .unwrap();
        if n > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "0002 never ran"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    c.close().await.unwrap();
    signal(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(143), "{stdout}{stderr}");
    assert!(
        stderr.contains("stopped by SIGTERM after applying 0002_sleep; not started: 0003_after"),
        "{stderr}"
    );
    assert_eq!(aborted_clients(&url).await, before, "{stdout}{stderr}");
    assert_eq!(
        rows(
            &url,
            "SELECT version, success FROM _sqlx_migrations ORDER BY version"
        )
        .await,
        vec![(1, true), (2, true)]
    );
}
