//! Waits and deadlines: a DDL waiting for a metadata lock must not freeze
//! the app, lock retries end at the run's deadline, and every phase of the
//! CLI is bounded — a silent or frozen server, or a URL of the other engine,
//! fails in seconds saying what was in progress. Tests that freeze a server
//! run their own `mariadbd` ([`PrivateMariaDb`]). `docs/reliability.md`
//! ("Waits and deadlines") is the table of these cases.

pub mod kit;

use std::net::TcpListener;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::{AssertSqlSafe, Connection, Executor, MySqlConnection, PgConnection};
use testkit::{text, Folder, Kind, PrivateMariaDb, TestDb};

/// The CLI, killed (by its pid) if it runs longer than `limit`: a hang fails
/// the test instead of stalling it. Returns the output and how long it ran.
async fn cli(args: &[&str], limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_schemagate"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("SCHEMAGATE_SECRET_ARN")
        .env_remove("SCHEMAGATE_MIGRATIONS_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let read = |mut r: Box<dyn tokio::io::AsyncRead + Unpin + Send>| {
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut r, &mut buf).await;
            buf
        })
    };
    let (out, err) = (read(Box::new(stdout)), read(Box::new(stderr)));
    let status = match tokio::time::timeout(limit, child.wait()).await {
        Ok(s) => s.unwrap(),
        Err(_) => {
            child.kill().await.unwrap();
            panic!(
                "`schemagate {}` still ran after {limit:?}: killed",
                args.join(" ")
            );
        }
    };
    let elapsed = started.elapsed();
    (
        Output {
            status,
            stdout: out.await.unwrap(),
            stderr: err.await.unwrap(),
        },
        elapsed,
    )
}

enum App {
    My(MySqlConnection),
    Pg(PgConnection),
}

impl App {
    async fn open(db: &TestDb) -> App {
        match db.kind {
            Kind::MariaDb => App::My(db.my().await),
            Kind::Postgres => App::Pg(db.pg().await),
        }
    }

    async fn exec(&mut self, sql: &str) {
        let q = sqlx::raw_sql(AssertSqlSafe(sql.to_string()));
        match self {
            App::My(c) => c.execute(q).await.map(|_| ()),
            App::Pg(c) => c.execute(q).await.map(|_| ()),
        }
        .unwrap_or_else(|e| panic!("`{sql}`: {e}"));
    }
}

/// The scenario: an app transaction holds a lock on `t` for 7 s
/// while `up` (defaults only) runs `ALTER TABLE t ADD COLUMN c INT NULL`,
/// and a prober on a third connection reads `t` every 100 ms.
async fn the_app_stays_responsive_while_a_ddl_waits(db: TestDb) {
    let folder = Folder::empty();
    folder.write(
        "1_t.sql",
        "CREATE TABLE t (id INT PRIMARY KEY);\nINSERT INTO t VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12);",
    );
    let url = db.url();
    let dir = folder.path();
    let base = [
        "--database-url",
        &url,
        "--migrations",
        dir.to_str().unwrap(),
    ];
    let args = |cmd: &'static str| [&base[..], &["--ssl-mode", "disabled", cmd]].concat();
    let (out, _) = cli(&args("up"), Duration::from_secs(30)).await;
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    folder.write("2_add.sql", "ALTER TABLE t ADD COLUMN c INT NULL;");

    // The app: a transaction holding a row lock (and with it a lock on the
    // table that DDL must wait for), committed after 7 s.
    let mut app = App::open(&db).await;
    app.exec("BEGIN").await;
    app.exec("SELECT * FROM t WHERE id = 1 FOR UPDATE").await;
    let hold = Duration::from_secs(7);
    let app_task = tokio::spawn(async move {
        tokio::time::sleep(hold).await;
        app.exec("COMMIT").await;
        Instant::now()
    });

    // The prober: one short query on the table every 100 ms.
    let stop = Arc::new(AtomicBool::new(false));
    let mut prober = App::open(&db).await;
    let probes = tokio::spawn({
        let stop = stop.clone();
        async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let t = Instant::now();
                prober.exec("SELECT COUNT(*) FROM t WHERE id < 10").await;
                latencies.push(t.elapsed());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            latencies
        }
    });

    let (out, _) = cli(&args("up"), Duration::from_secs(40)).await;
    let finished = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let latencies = probes.await.unwrap();
    let committed = app_task.await.unwrap();

    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("applied   2_add"), "{stdout}");
    assert!(
        finished > committed,
        "the migration was applied after the app's transaction ended"
    );
    let worst = latencies.iter().max().copied().unwrap_or_default();
    let slow = latencies
        .iter()
        .filter(|l| **l > Duration::from_millis(200))
        .count();
    println!(
        "{:?}: {} probes, worst {worst:?}, {slow} over 200 ms",
        db.kind,
        latencies.len()
    );
    assert!(latencies.len() >= 30, "{} probes", latencies.len());
    assert!(
        worst < Duration::from_millis(1500),
        "an app query waited {worst:?} behind the DDL ({slow} of {} probes over 200 ms)",
        latencies.len()
    );
    assert_eq!(db.history().await, vec![(1, true), (2, true)]);
    let column = match db.kind {
        Kind::MariaDb => "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 't' AND column_name = 'c'",
        Kind::Postgres => "SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'c'",
    };
    assert_eq!(db.count(column).await, 1);

    // Idempotent: the second run finds it done.
    let (again, _) = cli(&args("up"), Duration::from_secs(30)).await;
    let (stdout, stderr) = text(&again);
    assert_eq!(again.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("already at version 2; nothing to do"),
        "{stdout}"
    );
    assert_eq!(db.history().await, vec![(1, true), (2, true)]);
}

#[tokio::test]
async fn mariadb_with_defaults_no_app_query_waits_long_behind_a_ddl_and_it_applies_after_the_commit(
) {
    the_app_stays_responsive_while_a_ddl_waits(TestDb::mariadb("bprobe").await).await;
}

#[tokio::test]
async fn postgres_with_defaults_no_app_query_waits_long_behind_a_ddl_and_it_applies_after_the_commit(
) {
    the_app_stays_responsive_while_a_ddl_waits(TestDb::postgres("bprobe").await).await;
}

#[tokio::test]
async fn lock_retries_end_at_the_deadline_with_nothing_applied() {
    let db = TestDb::mariadb("bretry").await;
    let folder = Folder::empty();
    folder.write("1_t.sql", "CREATE TABLE t (id INT PRIMARY KEY);");
    let url = db.url();
    let dir = folder.path();
    let base = [
        "--database-url",
        &url,
        "--migrations",
        dir.to_str().unwrap(),
    ];
    let (out, _) = cli(&[&base[..], &["up"]].concat(), Duration::from_secs(30)).await;
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    folder.write("2_add.sql", "ALTER TABLE t ADD COLUMN c INT NULL;");

    // A transaction that outlives the run.
    let mut app = db.my().await;
    app.execute("BEGIN").await.unwrap();
    app.execute("SELECT * FROM t").await.unwrap();

    let (out, elapsed) = cli(
        &[&base[..], &["--timeout", "6", "up"]].concat(),
        Duration::from_secs(30),
    )
    .await;
    let (stdout, stderr) = text(&out);
    println!("{stdout}{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        elapsed < Duration::from_secs(8),
        "the retries ended at the deadline: {elapsed:?}"
    );
    assert!(stderr.contains("failed at `2_add`"), "{stderr}");
    assert!(stderr.contains("(1205)"), "{stderr}");
    assert!(
        stderr.contains("Nothing of `2_add` was applied"),
        "{stderr}"
    );
    app.execute("COMMIT").await.unwrap();
    assert_eq!(db.history().await, vec![(1, true)]);

    // With the transaction gone, the next run applies it.
    let (out, _) = cli(&[&base[..], &["up"]].concat(), Duration::from_secs(30)).await;
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert_eq!(db.history().await, vec![(1, true), (2, true)]);
}

#[tokio::test]
async fn a_statement_running_past_the_timeout_is_stopped_by_the_server_at_the_deadline() {
    let db = TestDb::mariadb("bstmt").await;
    let folder = Folder::empty();
    folder.write("1_slow.sql", "SELECT SLEEP(20);");
    let url = db.url();
    let dir = folder.path();
    let args = [
        "--database-url",
        &url,
        "--migrations",
        dir.to_str().unwrap(),
        "--timeout",
        "3",
        "up",
    ];
    for _ in 0..2 {
        let (out, elapsed) = cli(&args, Duration::from_secs(30)).await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
        assert!(stderr.contains("failed at `1_slow`: Query execution was interrupted (max_statement_time exceeded) (1969). Nothing of `1_slow` was applied"), "{stderr}");
        assert!(stderr.contains("--timeout"), "{stderr}");
        assert_eq!(db.history().await, vec![]);
    }
}

/// A server that accepts TCP connections and never says a word.
fn silent_server() -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let mut held = Vec::new();
        let started = Instant::now();
        l.set_nonblocking(true).unwrap();
        while started.elapsed() < Duration::from_secs(40) {
            match l.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    (port, t)
}

#[tokio::test]
async fn a_silent_server_fails_status_and_up_within_the_connect_timeout() {
    let (port, _t) = silent_server();
    let folder = Folder::with_example();
    let dir = folder.path();
    let dir = dir.to_str().unwrap();
    let my = format!("mysql://root:pw@127.0.0.1:{port}/app");
    let pg = format!("postgres://postgres:pw@127.0.0.1:{port}/app");
    let runs = [
        (my.clone(), "status", "mariadb"),
        (my.clone(), "up", "mariadb"),
        (pg.clone(), "status", "postgres"),
        (pg.clone(), "up", "postgres"),
    ]
    .map(|(url, cmd, scheme)| async move {
        let (out, elapsed) = cli(
            &["--database-url", &url, "--migrations", dir, cmd],
            Duration::from_secs(30),
        )
        .await;
        (cmd, scheme, out, elapsed)
    });
    for (cmd, scheme, out, elapsed) in futures_util::future::join_all(runs).await {
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(3), "{cmd}: {stdout}{stderr}");
        assert!(
            elapsed < Duration::from_secs(14),
            "{cmd} failed within the 10 s connect timeout: {elapsed:?}"
        );
        assert!(
            stderr.contains(&format!(
                "cannot connect to {scheme}://127.0.0.1:{port}/app: the server accepted the connection but did not complete the handshake within 10.0 s"
            )),
            "{cmd}: {stderr}"
        );
        assert!(!stderr.contains("pw"), "{stderr}");
    }
}

#[tokio::test]
async fn a_url_for_the_other_engine_fails_at_once_saying_what_answers() {
    let folder = Folder::with_example();
    let dir = folder.path();
    let dir = dir.to_str().unwrap();
    let (out, elapsed) = cli(
        &[
            "--database-url",
            "mysql://root@127.0.0.1:5432/app",
            "--migrations",
            dir,
            "status",
        ],
        Duration::from_secs(30),
    )
    .await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    assert!(
        stderr.contains("cannot connect to mariadb://127.0.0.1:5432/app: this is not a MariaDB/MySQL server (it looks like PostgreSQL"),
        "{stderr}"
    );
    assert!(stderr.contains("use a postgres:// URL"), "{stderr}");

    for extra in [&[][..], &["--ssl-mode", "disabled"][..]] {
        let (out, elapsed) = cli(
            &[
                &[
                    "--database-url",
                    "postgres://postgres@127.0.0.1:3306/app",
                    "--migrations",
                    dir,
                ][..],
                extra,
                &["up"],
            ]
            .concat(),
            Duration::from_secs(30),
        )
        .await;
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
        assert!(
            stderr.contains("cannot connect to postgres://127.0.0.1:3306/app: this is not a PostgreSQL server (it looks like MariaDB/MySQL: it greeted as `10."),
            "{stderr}"
        );
        assert!(
            stderr.contains("use a mysql:// or mariadb:// URL"),
            "{stderr}"
        );
    }
}

#[tokio::test]
async fn the_lambda_fails_fast_on_a_secret_for_the_other_engine() {
    let folder = Folder::with_example();
    let s = kit::server().await;
    let secret = json!({"engine": "mariadb", "host": "127.0.0.1", "port": 5432, "username": "u", "password": "pw", "dbname": "app"}).to_string();
    let config = schemagate::handler::Config {
        migrations_dir: folder.path(),
        ssl_mode: schemagate::db::SslMode::Disabled,
        ssl_ca: None,
        budget: Duration::from_secs(60),
        lock_wait: schemagate::migrate::apply::DEFAULT_LOCK_WAIT,
        response_attempts: 3,
    };
    let h = schemagate::handler::Handler::new(config, Arc::new(kit::Fixed(secret)));
    let started = Instant::now();
    h.handle(
        kit::event("create", &s, json!({})),
        Some(Instant::now() + Duration::from_secs(30)),
    )
    .await
    .unwrap();
    let body = kit::last(&s).await;
    assert_eq!(body["Status"], "FAILED");
    let reason = kit::reason(&body);
    assert!(
        reason.contains("cannot connect to mariadb://127.0.0.1:5432/app: this is not a MariaDB/MySQL server (it looks like PostgreSQL"),
        "{reason}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered after {:?}, not at the watchdog",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_server_frozen_before_status_is_given_up_on_within_the_timeout() {
    let server = PrivateMariaDb::start(&[]);
    let url = server.url("app");
    let folder = Folder::with_example();
    let dir = folder.path();
    let args = [
        "--database-url",
        &url,
        "--migrations",
        dir.to_str().unwrap(),
        "--timeout",
        "5",
        "status",
    ];
    server.freeze();
    let (out, elapsed) = cli(&args, Duration::from_secs(30)).await;
    server.thaw();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    assert!(elapsed < Duration::from_secs(8), "{elapsed:?}");
    // The handshake gets what is left of the 5 s deadline when the CLI
    // connects (5.0 s, or a little less on a loaded machine).
    let said = format!(
        "cannot connect to mariadb://127.0.0.1:{}/app: the server accepted the connection but did not complete the handshake within ",
        server.port
    );
    let within: f64 = stderr
        .split_once(&said)
        .and_then(|(_, rest)| rest.split_once(" s:"))
        .and_then(|(secs, _)| secs.parse().ok())
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(within > 3.0 && within <= 5.0, "{within} s: {stderr}");
    // Thawed, it answers again, and nothing was changed.
    let (out, _) = cli(&args, Duration::from_secs(30)).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("at version 0"), "{stdout}");
}

#[tokio::test]
async fn a_server_frozen_mid_migration_is_given_up_on_at_the_timeout_naming_the_migration() {
    let server = PrivateMariaDb::start(&[]);
    let url = server.url("app");
    let folder = Folder::empty();
    folder.write("1_a.sql", "CREATE TABLE a (id INT);").write(
        "2_slow.sql",
        "CREATE TABLE b (id INT);\nSELECT SLEEP(30);\nCREATE TABLE c (id INT);",
    );
    let dir = folder.path();
    let args = [
        "--database-url",
        &url,
        "--migrations",
        dir.to_str().unwrap(),
        "--timeout",
        "5",
        "up",
    ];
    let run = tokio::spawn({
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            cli(&args, Duration::from_secs(30)).await
        }
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.freeze();
    let (out, elapsed) = run.await.unwrap();
    let (stdout, stderr) = text(&out);
    println!("{stdout}{stderr}");
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    assert!(elapsed < Duration::from_secs(8), "{elapsed:?}");
    assert!(stdout.contains("applied   1_a"), "{stdout}");
    assert!(
        stderr.contains("(`--timeout 5`) while applying `2_slow` (running for"),
        "{stderr}"
    );
    assert!(stderr.contains("applied 1_a before it"), "{stderr}");
    assert!(stderr.contains("schemagate status"), "{stderr}");

    // Thawed, the server goes on with the batch it holds (or stops it for
    // time): wait until its session is gone, then the record must match the
    // tables, whichever way it went.
    server.thaw();
    let mut c = MySqlConnection::connect(&url).await.unwrap();
    let thawed = Instant::now();
    loop {
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.processlist WHERE id <> CONNECTION_ID() AND user = 'root'",
        )
        .fetch_one(&mut c)
        .await
        .unwrap();
        if others == 0 {
            break;
        }
        assert!(
            thawed.elapsed() < Duration::from_secs(10),
            "the migration's session is still there"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let history: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut c)
            .await
            .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'app' AND table_name NOT IN ('_sqlx_migrations', '_schemagate_history') ORDER BY table_name",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    println!("after the thaw: history {history:?}, tables {tables:?}");
    let (status, _) = cli(
        &[
            "--database-url",
            &url,
            "--migrations",
            dir.to_str().unwrap(),
            "status",
        ],
        Duration::from_secs(30),
    )
    .await;
    let (listing, _) = text(&status);
    match history.as_slice() {
        // Finished by the server after the client left (seen with MariaDB
        // 10.11: the frozen SLEEP returns on SIGCONT and the rest runs).
        [(1, true), (2, true)] => {
            assert_eq!(tables, vec!["a", "b", "c"]);
            assert!(listing.contains("applied   2_slow"), "{listing}");
        }
        // Stopped by the server's max_statement_time part way.
        [(1, true), (2, false)] => {
            assert_eq!(tables, vec!["a", "b"]);
            assert!(listing.contains("FAILED    2_slow"), "{listing}");
        }
        other => panic!("history {other:?} with tables {tables:?}"),
    }
}

/// The same on PostgreSQL: the server's `statement_timeout` (57014) is read
/// as "stopped for lack of time" by its kind, as MariaDB's 1969 is.
#[tokio::test]
async fn postgres_a_statement_running_past_the_timeout_is_stopped_for_lack_of_time() {
    let db = TestDb::postgres("bstmtpg").await;
    let folder = Folder::empty();
    folder.write("1_slow.sql", "SELECT pg_sleep(20);");
    let url = db.url();
    let dir = folder.path();
    let args = [
        "--database-url",
        &url,
        "--migrations",
        dir.to_str().unwrap(),
        "--timeout",
        "3",
        "up",
    ];
    for _ in 0..2 {
        let (out, elapsed) = cli(&args, Duration::from_secs(30)).await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
        assert!(
            stderr.contains("failed at `1_slow`: canceling statement due to statement timeout (57014). Nothing of `1_slow` was applied"),
            "{stderr}"
        );
        assert!(
            stderr.contains("It was stopped for lack of time before the run's deadline"),
            "{stderr}"
        );
        assert_eq!(db.history().await, vec![]);
    }
}
