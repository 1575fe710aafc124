//! Online changes end to end (issue #14): the real `schemagate-lambda`
//! under `cargo lambda watch` expands and contracts while two releases of
//! an app serve, each with its own SQL ([`schemagate_e2e::online`]). Each
//! test prints the figures and asserts: no error, every row of each
//! release read right by the other, the longest query during expand
//! within [`STALL`], and what is left in the database.

use std::time::Duration;

use schemagate_e2e::online::{Clock, Phase, Running, Written};
use schemagate_e2e::proof::{self, Case, Proof, PACE};
use schemagate_e2e::Rehearsal;
use testkit::cfn::{RequestType, Status};
use testkit::started;

/// The longest any single query of the old release may take while the
/// Lambda expands. The target is under a second for 100k rows on
/// this machine (2 cores, shared with builds).
const STALL: Duration = Duration::from_secs(1);

async fn proven(label: &str, case: &Case) -> (Rehearsal, Proof) {
    let mut r = started!(Rehearsal::start(label));
    let p = proof::prove(&mut r, case, PACE).await.unwrap();
    println!("{}", p.report(case));
    p.check().unwrap();
    assert!(
        p.expand_stall() < STALL,
        "a query waited {:.3}s during expand",
        p.expand_stall().as_secs_f64()
    );
    r.check_logs().unwrap();
    (r, p)
}

#[tokio::test]
async fn rename_column_on_100k_rows_with_both_releases_serving() {
    let (r, p) = proven("online_rename", &proof::RENAME).await;
    contracted(&r).await;
    assert_eq!(
        r.db.columns("items").await,
        ["id", "title", "total", "nick", "legacy"]
    );
    assert_eq!(
        r.db.count("SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'items' AND INDEX_NAME = 'u_name' AND COLUMN_NAME = 'title' AND NON_UNIQUE = 0").await,
        1,
        "the unique index is on the new column under its old name"
    );
    assert!(p.old.ops > 0 && p.new.ops > 0);
}

/// The online row's state, the triggers left, the history.
async fn contracted(r: &Rehearsal) {
    assert_eq!(
        r.db.count(
            "SELECT COUNT(*) FROM _schemagate_online WHERE version = 2 AND state = 'contracted'"
        )
        .await,
        1
    );
    assert_eq!(
        r.db.count(
            "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()"
        )
        .await,
        0
    );
    assert_eq!(r.db.history().await, [(1, true), (2, true), (3, true)]);
    // `schemagate check` stops the release before the change from now on.
    assert_eq!(
        r.db.count("SELECT COUNT(*) FROM _schemagate_history WHERE version = 2 AND class = 'contract' AND since = 2")
            .await,
        1
    );
}

async fn nullable(r: &Rehearsal, table: &str, column: &str) -> i64 {
    r.db.count(&format!("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{table}' AND COLUMN_NAME = '{column}' AND IS_NULLABLE = 'YES'")).await
}

#[tokio::test]
async fn type_change_with_both_releases_serving() {
    let (r, _) = proven("online_type", &proof::TYPE_CHANGE).await;
    contracted(&r).await;
    assert_eq!(
        r.db.columns("items").await,
        ["id", "name", "total_cents", "nick", "legacy"]
    );
}

#[tokio::test]
async fn not_null_with_both_releases_serving() {
    let (r, _) = proven("online_notnull", &proof::NOT_NULL).await;
    contracted(&r).await;
    assert_eq!(nullable(&r, "items", "nick").await, 0);
}

#[tokio::test]
async fn add_not_null_column_with_both_releases_serving() {
    let (r, _) = proven("online_addcol", &proof::ADD_NOT_NULL).await;
    contracted(&r).await;
    assert_eq!(
        r.db.columns("items").await,
        ["id", "name", "city", "total", "nick", "legacy"]
    );
    assert_eq!(nullable(&r, "items", "city").await, 0);
}

#[tokio::test]
async fn drop_column_with_both_releases_serving() {
    let (r, _) = proven("online_drop", &proof::DROP_COLUMN).await;
    contracted(&r).await;
    assert_eq!(r.db.columns("items").await, ["id", "name", "total", "nick"]);
}

#[tokio::test]
async fn table_rename_with_both_releases_serving() {
    let (r, _) = proven("online_table", &proof::TABLE_RENAME).await;
    contracted(&r).await;
    assert_eq!(
        r.db.count("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('items', '_sg_2_view', '_sg_2_gone')").await,
        0
    );
    assert_eq!(
        r.db.columns("products").await,
        ["id", "name", "total", "nick", "legacy"]
    );
}

async fn one(r: &Rehearsal, sql: &str) -> i64 {
    r.db.count(sql).await
}

async fn online_state(r: &Rehearsal) -> String {
    use sqlx::Row;
    let mut c = r.db.my().await;
    sqlx::query("SELECT state FROM _schemagate_online WHERE version = 2")
        .fetch_optional(&mut c)
        .await
        .unwrap()
        .map(|row| row.get::<String, _>(0))
        .unwrap_or_default()
}

async fn triggers(r: &Rehearsal) -> i64 {
    one(
        r,
        "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()",
    )
    .await
}

/// The old release alone, serving while the Lambda runs.
async fn old_serving(r: &Rehearsal, case: &Case) -> Running {
    let clock = Clock::default();
    clock.set(Phase::Expand);
    Running::start(
        case.old,
        &r.db.url(),
        clock,
        Written::default(),
        Written::default(),
    )
    .await
    .unwrap()
}

/// The function killed (SIGKILL, by pid) in the middle of the backfill of
/// 100k rows: the old release keeps working, the expand stays part way
/// (both shapes in step), and Lambda's retry of the event on a new
/// process continues the backfill where it stopped and succeeds.
#[tokio::test]
async fn a_function_killed_in_the_backfill_keeps_the_old_release_working_and_the_retry_finishes() {
    let case = proof::RENAME;
    let mut r = started!(Rehearsal::start("online_kill"));
    let [v1, v2, _] = proof::start(&mut r, &case).await.unwrap();
    let (p1, p2) = (r.properties(&v1), r.properties(&v2));
    let old = old_serving(&r, &case).await;
    let package = r.deploy(&v2).unwrap();
    let d = r
        .request(RequestType::Update, &p2, Some(&p1))
        .await
        .unwrap();
    let _invocation = r.invoke(&d).unwrap();
    let started = "SELECT COUNT(*) FROM _schemagate_online WHERE version = 2 AND state = 'expanding' AND after_key IS NOT NULL";
    let until = std::time::Instant::now() + Duration::from_secs(60);
    while r.db.count("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '_schemagate_online'").await == 0
        || one(&r, started).await == 0
    {
        assert!(std::time::Instant::now() < until, "the backfill did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pids = r.kill_functions();
    println!("killed the function (pid {pids:?}) in the backfill");
    assert_eq!(online_state(&r).await, "expanding");
    assert_eq!(
        triggers(&r).await,
        2,
        "the triggers stay: both shapes in step"
    );
    assert_eq!(r.db.history().await, [(1, true)]);
    let left = one(&r, "SELECT COUNT(*) FROM items WHERE NOT (name <=> title)").await;
    assert!(left > 0, "the kill came after the backfill");
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Lambda retries the crashed invocation on a new process.
    r.run_package(&package, &[], 1).unwrap();
    let res = r.send_again(&d).await.unwrap();
    assert_eq!(res.status, Status::Success, "{}", res.raw);
    let old = old.stop().await.unwrap();
    println!("{}; rows left to backfill at the kill: {left}", old.line());
    assert!(old.errors.is_empty(), "{:?}", old.errors);
    assert!(old.ops > 0);
    assert_eq!(online_state(&r).await, "expanded");
    assert_eq!(r.db.history().await, [(1, true), (2, true)]);
    assert_eq!(triggers(&r).await, 2);
    assert_eq!(one(&r, case.disagree).await, 0);
    assert_eq!(
        r.function_log().matches("online change: expanding").count(),
        1,
        "the retry continued the expand, it did not start it again"
    );
    r.check_logs().unwrap();
}

/// An `up=` expression that fails on one row in the middle of the
/// backfill (division by zero, an error in an UPDATE under strict mode;
/// the check on the first row passes): the Update is FAILED saying the
/// expand was reverted, the old release never saw an error, the schema is
/// as before; CloudFormation's rollback Update succeeds, and the fixed
/// release expands.
#[tokio::test]
async fn a_bad_expression_reverts_the_expand_and_the_old_release_never_notices() {
    let bad = Case {
        up: "-- schemagate: online up=ROUND(total * 100) + 0 * (1 DIV (id - 3000)) down=total_cents / 100\nALTER TABLE items CHANGE total total_cents BIGINT NOT NULL DEFAULT 0;\n",
        ..proof::TYPE_CHANGE
    };
    let mut r = started!(Rehearsal::start("online_bad"));
    let [v1, v2, _] = proof::start(&mut r, &bad).await.unwrap();
    let (p1, p2) = (r.properties(&v1), r.properties(&v2));
    let old = old_serving(&r, &bad).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    r.deploy(&v2).unwrap();
    let res = r.update(&p2, &p1).await.unwrap();
    assert_eq!(res.status, Status::Failed, "{}", res.raw);
    assert!(res.reason.contains("0002_online"), "{}", res.reason);
    assert!(res.reason.contains("reverted"), "{}", res.reason);
    assert_eq!(online_state(&r).await, "reverted");
    assert_eq!(triggers(&r).await, 0);
    assert_eq!(
        r.db.columns("items").await,
        ["id", "name", "total", "nick", "legacy"]
    );
    assert_eq!(r.db.history().await, [(1, true)]);

    // CloudFormation rolls the stack back: the old properties.
    let back = r.update(&p1, &p2).await.unwrap();
    assert_eq!(back.status, Status::Success, "{}", back.raw);
    // The fixed release.
    let [_, fixed, _] = proof::releases(&proof::TYPE_CHANGE);
    r.deploy(&fixed).unwrap();
    let again = r.update(&r.properties(&fixed), &p1).await.unwrap();
    assert_eq!(again.status, Status::Success, "{}", again.raw);
    assert_eq!(online_state(&r).await, "expanded");
    assert_eq!(one(&r, proof::TYPE_CHANGE.disagree).await, 0);
    let old = old.stop().await.unwrap();
    println!("{}", old.line());
    assert!(old.errors.is_empty(), "{:?}", old.errors);
    r.check_logs().unwrap();
}
