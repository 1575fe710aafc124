//! The engine's connection killed (`KILL <id>` from a second session)
//! between each two of its round trips of a run, on the real MariaDB: the
//! history says what the database holds (a row says applied exactly when
//! all of the migration is there; the one row that may say "started" is a
//! DDL migration whose finish was left to the next migration's implicit
//! commit, and all of it is there), the next run refuses that row with the
//! resolve hint, and once resolved it does the rest, each migration once. The kill happens at the engine's seam
//! ([`super::engine::Seam`]), before the round trip it would make next,
//! never by racing a sleep.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{Connection as _, MySqlConnection};
use testkit::{Folder, TestDb};

use super::{Conn, ConnectOptions};
use crate::migrate::{self, Error, MigrationSet, Options, PlanError, ResolveAs, Target};

/// DDL only, DDL only, DML only, then DDL followed by DML.
const FILES: [(&str, &str); 4] = [
    ("0001_t.sql", "CREATE TABLE t (id INT PRIMARY KEY);\n"),
    ("0002_c.sql", "ALTER TABLE t ADD COLUMN c INT NULL;\n"),
    (
        "0003_fill.sql",
        "INSERT INTO t (id) VALUES (1);\nINSERT INTO t (id) VALUES (2);\n",
    ),
    (
        "0004_u.sql",
        "CREATE TABLE u (id INT PRIMARY KEY);\nINSERT INTO u VALUES (1);\n",
    ),
];

fn folder() -> Folder {
    let f = Folder::empty();
    for (name, sql) in FILES {
        f.write(name, sql);
    }
    f
}

/// Kill the engine's session (the other session on the database) when the
/// seam is reached for the `at`-th time (from 0), and wait until it is gone
/// (its transaction rolled back). `calls` counts every call.
fn killer(db: &TestDb, at: Option<usize>, calls: Arc<AtomicUsize>) -> super::engine::Seam {
    let (url, name) = (db.url(), db.name.clone());
    Box::new(move || {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        let (url, name) = (url.clone(), name.clone());
        Box::pin(async move {
            if Some(n) == at {
                kill_other_session(&url, &name).await;
            }
        })
    })
}

async fn kill_other_session(url: &str, name: &str) {
    let mut c = MySqlConnection::connect(url).await.unwrap();
    let others =
        "SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()";
    let ids: Vec<i64> = sqlx::query_scalar(others)
        .bind(name)
        .fetch_all(&mut c)
        .await
        .unwrap();
    assert_eq!(ids.len(), 1, "the engine's session alone: {ids:?}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("KILL CONNECTION {}", ids[0])))
        .execute(&mut c)
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let left: Vec<i64> = sqlx::query_scalar(others)
            .bind(name)
            .fetch_all(&mut c)
            .await
            .unwrap();
        if left.is_empty() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "still there");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = c.close().await;
}

async fn conn(db: &TestDb) -> Conn {
    let options = ConnectOptions::from_url(&db.url()).unwrap();
    Conn::connect(&options, Duration::ZERO).await.unwrap()
}

/// A run of the engine on `db`, with `seam` before each round trip.
async fn run(
    db: &TestDb,
    set: &MigrationSet,
    seam: Option<super::engine::Seam>,
) -> Result<migrate::Report, Error> {
    let mut conn = conn(db).await;
    if let Some(seam) = seam {
        conn.engine().set_seam(seam);
    }
    let r = migrate::run(&mut conn, set, Target::Latest, &Options::default(), &()).await;
    conn.close().await;
    r
}

async fn up(db: &TestDb, set: &MigrationSet, seam: Option<super::engine::Seam>) -> bool {
    run(db, set, seam).await.is_ok()
}

/// `schemagate resolve <version> --as applied`.
async fn resolve_applied(db: &TestDb, set: &MigrationSet, version: i64) {
    let mut conn = conn(db).await;
    let r = migrate::resolve(
        &mut conn,
        set,
        version,
        ResolveAs::Applied,
        &Options::default(),
    )
    .await;
    conn.close().await;
    r.unwrap();
}

/// What the database holds of each migration: 0 (none of it), 1 (all of
/// it); anything else is a torn migration and fails the test.
async fn effects(db: &TestDb) -> Vec<u8> {
    let tables = db.all_tables().await;
    let c = tables.contains("t") && db.columns("t").await.contains(&"c".to_string());
    let fill = if tables.contains("t") {
        db.rows("t").await
    } else {
        0
    };
    let u = if tables.contains("u") {
        1 + db.rows("u").await
    } else {
        0
    };
    assert!(fill == 0 || fill == 2, "0003 torn: {fill} rows");
    assert!(u != 1, "0004 torn: u without its row");
    vec![
        tables.contains("t") as u8,
        c as u8,
        (fill == 2) as u8,
        (u == 2) as u8,
    ]
}

/// `(version, success, execution_time)` of the history, with the kept
/// table's versions (they must agree).
async fn history(db: &TestDb) -> Vec<(i64, bool, i64)> {
    if !db.all_tables().await.contains("_sqlx_migrations") {
        return Vec::new();
    }
    let mut c = db.my().await;
    let h: Vec<(i64, bool, i64)> = sqlx::query_as(
        "SELECT version, success, execution_time FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    let kept: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _schemagate_history ORDER BY version")
            .fetch_all(&mut c)
            .await
            .unwrap();
    let versions: Vec<i64> = h.iter().map(|r| r.0).collect();
    assert_eq!(kept, versions, "both tables say the same");
    h
}

#[tokio::test]
async fn a_connection_killed_between_any_two_round_trips_leaves_the_history_exact() {
    let set = MigrationSet::load(&folder().path()).unwrap();
    // A clean run: how many round trips the engine makes.
    let clean = TestDb::mariadb("kill_count").await;
    let calls = Arc::new(AtomicUsize::new(0));
    assert!(up(&clean, &set, Some(killer(&clean, None, calls.clone()))).await);
    let trips = calls.load(Ordering::SeqCst);
    assert_eq!(effects(&clean).await, vec![1, 1, 1, 1]);

    let mut seen = Vec::new();
    for at in 0..trips {
        let db = TestDb::mariadb("kill").await;
        let calls = Arc::new(AtomicUsize::new(0));
        let ok = up(&db, &set, Some(killer(&db, Some(at), calls))).await;
        assert!(!ok, "killed before round trip {at}: the run says it failed");
        let h = history(&db).await;
        let done = effects(&db).await;
        let said: Vec<u8> = (1..=4).map(|v| h.iter().any(|r| r.0 == v) as u8).collect();
        assert_eq!(done, said, "killed before round trip {at}: {h:?}");
        // Applied rows, then at most one that says started: a migration
        // with DDL whose finish was to ride in the next one's commit; all
        // of it is there (checked above), and the next run refuses it.
        let started: Vec<i64> = h.iter().filter(|r| !r.1).map(|r| r.0).collect();
        assert!(
            started.len() <= 1 && started.iter().all(|&v| v == h.len() as i64 && v != 3),
            "killed at {at}: {h:?}"
        );
        assert!(
            h.iter().all(|r| (r.1 && r.2 >= 0) || (!r.1 && r.2 == -1)),
            "{h:?}"
        );
        seen.push(h.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>());
        if let Some(&v) = started.first() {
            match run(&db, &set, None).await {
                Err(Error::Plan(PlanError::Dirty { version, .. })) => assert_eq!(version, v),
                other => panic!("killed at {at}: {v} is refused, not {other:?}"),
            }
            assert_eq!(history(&db).await, h, "nothing ran");
            resolve_applied(&db, &set, v).await;
        }

        // The next run applies the rest, each once; the one after has
        // nothing to do.
        assert!(up(&db, &set, None).await, "rerun after a kill at {at}");
        assert_eq!(effects(&db).await, vec![1, 1, 1, 1]);
        let h = history(&db).await;
        assert_eq!(
            h.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
            (1..=4).map(|v| (v, true)).collect::<Vec<_>>()
        );
        assert!(up(&db, &set, None).await);
        assert_eq!(history(&db).await, h, "nothing ran again");
    }
    // Among the cuts: 0001's finish deferred to 0002's ALTER (started, all
    // of it there), and 0003's (DML only) deferred to 0004's CREATE (rolled
    // back whole with its row).
    assert!(seen.contains(&vec![(1, false)]), "{seen:?}");
    assert!(seen.contains(&vec![(1, true), (2, true)]), "{seen:?}");
}

/// Asks the run to stop once `after` has finished.
struct StopAfter<'a> {
    stop: &'a migrate::Stop,
    after: i64,
}

impl migrate::Progress for StopAfter<'_> {
    fn finished(&self, outcome: &migrate::StepOutcome) {
        if outcome.step.version == self.after {
            self.stop.request(migrate::Signal {
                name: "SIGTERM",
                exit_code: 143,
            });
        }
    }
}

#[tokio::test]
async fn a_stop_after_a_deferred_finish_commits_it_before_the_lock_is_released() {
    let set = MigrationSet::load(&folder().path()).unwrap();
    let db = TestDb::mariadb("stop_deferred").await;
    let stop = migrate::Stop::default();
    let progress = StopAfter {
        stop: &stop,
        after: 1,
    };
    let hooks = migrate::Hooks {
        stop: Some(&stop),
        ..Default::default()
    };
    let mut c = conn(&db).await;
    let r = migrate::run_with(
        &mut c,
        &set,
        Target::Latest,
        &Options::default(),
        &progress,
        hooks,
    )
    .await;
    c.close().await;
    assert!(matches!(r, Err(Error::Interrupted(_))), "{r:?}");
    // 0001's finish was left for 0002's ALTER, which never ran: committed
    // at the stop, so 0001 is applied and nothing else is there.
    assert_eq!(
        history(&db)
            .await
            .iter()
            .map(|r| (r.0, r.1))
            .collect::<Vec<_>>(),
        vec![(1, true)]
    );
    assert_eq!(effects(&db).await, vec![1, 0, 0, 0]);
    assert!(up(&db, &set, None).await);
    assert_eq!(effects(&db).await, vec![1, 1, 1, 1]);
}
