//! `Custom::SchemaMigrations` end to end: the real `schemagate-lambda`
//! binary under `cargo lambda watch`, Secrets Manager and the S3 ResponseURL
//! from moto, a database of its own on the MariaDB server. Each test plays
//! CloudFormation and asserts what a user sees: the response body PUT to
//! the ResponseURL, `_sqlx_migrations`, the tables.

use std::collections::BTreeSet;
use std::time::Duration;

use schemagate_e2e::alembic::Shop;
use schemagate_e2e::{Options, Rehearsal};
use testkit::cfn::{RequestType, Status};
use testkit::release::{BROKEN_INDEX, BROKEN_INDEX_ERROR};
use testkit::{started, Migrations, ResponseUrl};

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

const V6_TABLES: &[&str] = &[
    "_schemagate_history",
    "_sqlx_migrations",
    "orders",
    "plans",
    "users",
];
const V8_TABLES: &[&str] = &[
    "_schemagate_history",
    "_sqlx_migrations",
    "invoices",
    "orders",
    "plans",
    "users",
];

/// Create on an empty database: every migration applied, once.
#[tokio::test]
async fn create_applies_every_migration_to_an_empty_database() {
    let mut r = started!(Rehearsal::start("create"));
    let release = Migrations::example().unwrap();
    r.deploy(&release).unwrap();

    let res = r.create(&r.properties(&release)).await.unwrap();

    assert_eq!(res.status, Status::Success, "{}", res.raw);
    assert_eq!(res.schema_version(), Some(6), "{}", res.raw);
    assert_eq!(res.data_number("Applied"), Some(6), "{}", res.raw);
    assert_eq!(res.data_number("Reverted"), Some(0), "{}", res.raw);
    assert_eq!(
        res.physical_id,
        format!("schemagate:mariadb://127.0.0.1:3306/{}", r.db.name)
    );
    assert!(
        res.reason.contains("0001_create_users") && res.reason.contains("schema at version 6"),
        "{}",
        res.reason
    );
    assert_eq!(r.db.all_tables().await, set(V6_TABLES));
    let history = r.db.history_rows().await;
    assert_eq!(
        history
            .iter()
            .map(|h| (h.version, h.success))
            .collect::<Vec<_>>(),
        (1..=6).map(|v| (v, true)).collect::<Vec<_>>()
    );
    assert_eq!(r.db.rows("plans").await, 3, "the seed migration ran once");
    assert!(r
        .db
        .columns("users")
        .await
        .contains(&"plan_code".to_string()));
    r.check_logs().unwrap();
}

/// Update to a release with two more migrations, then the rollback Update
/// CloudFormation sends when a later resource fails: the schema goes back,
/// the data in untouched tables stays.
#[tokio::test]
async fn update_then_rollback_restores_the_schema_and_keeps_the_data() {
    let mut r = started!(Rehearsal::start("rollback"));
    let v6 = Migrations::example().unwrap();
    let v8 = v6.clone().next_release();
    r.deploy(&v6).unwrap();
    let (p6, p8) = (r.properties(&v6), r.properties(&v8));
    assert_eq!(r.create(&p6).await.unwrap().status, Status::Success);
    r.db.exec("INSERT INTO users (email) VALUES ('ada@example.com'), ('grace@example.com'); INSERT INTO orders (user_id, total_cents) SELECT id, 1200 FROM users").await;

    r.deploy(&v8).unwrap();
    let up = r.update(&p8, &p6).await.unwrap();
    assert_eq!(up.status, Status::Success, "{}", up.raw);
    assert_eq!(
        (
            up.schema_version(),
            up.data_number("Applied"),
            up.data_number("Reverted")
        ),
        (Some(8), Some(2), Some(0)),
        "{}",
        up.raw
    );
    assert_eq!(r.db.schema_version().await, Some(8));
    assert_eq!(r.db.all_tables().await, set(V8_TABLES));
    assert!(r.db.columns("orders").await.contains(&"status".to_string()));
    r.db.exec("INSERT INTO invoices (order_id, amount_cents) SELECT id, total_cents FROM orders")
        .await;

    // The rollback: old properties, run by the new code (which has the down scripts).
    let back = r.update(&p6, &p8).await.unwrap();
    assert_eq!(back.status, Status::Success, "{}", back.raw);
    assert_eq!(
        (
            back.schema_version(),
            back.data_number("Applied"),
            back.data_number("Reverted")
        ),
        (Some(6), Some(0), Some(2)),
        "{}",
        back.raw
    );
    assert!(back.reason.contains("reverted"), "{}", back.reason);
    assert_eq!(r.db.schema_version().await, Some(6));
    assert_eq!(r.db.all_tables().await, set(V6_TABLES));
    assert!(!r.db.columns("orders").await.contains(&"status".to_string()));
    assert_eq!(
        r.db.history_rows().await.len(),
        6,
        "no history left for reverted versions"
    );
    assert_eq!(
        (
            r.db.rows("users").await,
            r.db.rows("orders").await,
            r.db.rows("plans").await
        ),
        (2, 2, 3)
    );
    assert_eq!(up.physical_id, back.physical_id);
    r.check_logs().unwrap();
}

/// Issue #10 (1): Jenkins "rolls back" by redeploying the previous build,
/// whose package lacks the newer migrations. Its Update to its own version
/// reverts them with the down scripts the database keeps, and the rollback
/// Update CloudFormation sends to that older code with the database at the
/// newer version changes nothing and succeeds (it was FAILED, "version 4
/// is applied but its file is missing", and the stack ended in
/// UPDATE_ROLLBACK_FAILED).
#[tokio::test]
async fn a_redeployed_older_build_reverts_with_the_stored_down_scripts() {
    let mut r = started!(Rehearsal::start("redeploy"));
    let n = Migrations::example().unwrap().until(5);
    let older = n.clone().until(3);
    let (pn, po) = (r.properties(&n), r.properties(&older));
    r.deploy(&n).unwrap();
    let created = r.create(&pn).await.unwrap();
    assert_eq!(created.status, Status::Success, "{}", created.raw);
    assert_eq!(created.schema_version(), Some(5), "{}", created.raw);
    r.db.exec("INSERT INTO users (email) VALUES ('ada@example.com'), ('grace@example.com'); INSERT INTO orders (user_id, total_cents) SELECT id, 1200 FROM users").await;

    // Jenkins redeploys build N−1: its package holds 1..3.
    r.deploy(&older).unwrap();
    let back = r.update(&po, &pn).await.unwrap();
    assert_eq!(back.status, Status::Success, "{}", back.raw);
    assert_eq!(
        (
            back.schema_version(),
            back.data_number("Applied"),
            back.data_number("Reverted")
        ),
        (Some(3), Some(0), Some(2)),
        "{}",
        back.raw
    );
    for part in [
        "reverted 0005_seed_plans, 0004_create_plans",
        "schema at version 3",
        "the down scripts of 0005_seed_plans, 0004_create_plans came from the database (`_schemagate_history`)",
    ] {
        assert!(back.reason.contains(part), "Reason lacks {part:?}: {}", back.reason);
    }
    assert_eq!(r.db.schema_version().await, Some(3));
    assert_eq!(
        r.db.all_tables().await,
        set(&["_schemagate_history", "_sqlx_migrations", "orders", "users"])
    );
    assert_eq!(
        (r.db.rows("users").await, r.db.rows("orders").await),
        (2, 2)
    );
    // Lambda's retry of the same event finds the work done.
    let again = r.update(&po, &pn).await.unwrap();
    assert_eq!(again.status, Status::Success, "{}", again.raw);
    assert!(
        again.reason.contains("already at version 3"),
        "{}",
        again.reason
    );

    // Build N again: 4 and 5 come back.
    r.deploy(&n).unwrap();
    let fwd = r.update(&pn, &po).await.unwrap();
    assert_eq!(fwd.status, Status::Success, "{}", fwd.raw);
    assert_eq!(
        (fwd.schema_version(), fwd.data_number("Applied")),
        (Some(5), Some(2)),
        "{}",
        fwd.raw
    );
    assert_eq!(r.db.rows("plans").await, 3);

    // Build N−1 again, and its update fails elsewhere: CloudFormation's
    // rollback Update (TargetVersion 5) reaches the older code with the
    // database at 5. Nothing to change: SUCCESS, whatever the package holds.
    r.deploy(&older).unwrap();
    let before = r.db.snapshot().await;
    let rollback = r.update(&pn, &po).await.unwrap();
    assert_eq!(rollback.status, Status::Success, "{}", rollback.raw);
    assert_eq!(
        (
            rollback.schema_version(),
            rollback.data_number("Applied"),
            rollback.data_number("Reverted")
        ),
        (Some(5), Some(0), Some(0)),
        "{}",
        rollback.raw
    );
    assert!(
        rollback
            .reason
            .contains("already at version 5; nothing to do"),
        "{}",
        rollback.reason
    );
    assert_eq!(r.db.snapshot().await, before, "nothing changed");
    assert_eq!(back.physical_id, rollback.physical_id);
    r.check_logs().unwrap();
}

/// A release whose last migration is broken: FAILED, the Reason says what
/// was applied, which migration failed and the database's own error; then
/// CloudFormation's rollback Update brings the schema back.
#[tokio::test]
async fn a_broken_migration_fails_with_a_readable_reason_and_rolls_back() {
    let mut r = started!(Rehearsal::start("broken"));
    let v6 = Migrations::example().unwrap();
    let broken = v6.clone().next_release().with(BROKEN_INDEX);
    r.deploy(&v6).unwrap();
    let (p6, p9) = (r.properties(&v6), r.properties(&broken));
    assert_eq!(r.create(&p6).await.unwrap().status, Status::Success);

    r.deploy(&broken).unwrap();
    let res = r.update(&p9, &p6).await.unwrap();
    assert_eq!(res.status, Status::Failed, "{}", res.raw);
    for part in [
        "applied 0007_create_invoices, 0008_add_orders_status",
        "failed at `0009_index_orders_shipped`",
        BROKEN_INDEX_ERROR,
        "Nothing of `0009_index_orders_shipped` was applied",
        "schema is at version 8",
    ] {
        assert!(
            res.reason.contains(part),
            "Reason lacks {part:?}: {}",
            res.reason
        );
    }
    assert_eq!(r.db.schema_version().await, Some(8));
    assert!(r
        .db
        .history_rows()
        .await
        .iter()
        .all(|h| h.success && h.version <= 8));

    // UPDATE_ROLLBACK_IN_PROGRESS: the old properties, the new code.
    let back = r.update(&p6, &p9).await.unwrap();
    assert_eq!(back.status, Status::Success, "{}", back.raw);
    assert_eq!(back.schema_version(), Some(6), "{}", back.raw);
    assert_eq!(r.db.all_tables().await, set(V6_TABLES));
    r.check_logs().unwrap();
}

/// A migration that fails half way (MariaDB commits DDL as it goes) is
/// reported as partly applied and refused until someone resolves it; the
/// Delete after the failed Create still succeeds and changes nothing.
#[tokio::test]
async fn a_partly_applied_migration_is_reported_and_refused_until_resolved() {
    let mut r = started!(Rehearsal::start("partly"));
    let release = Migrations::example().unwrap().with((
        "0007_add_orders_shipped",
        "ALTER TABLE orders ADD COLUMN shipped_at TIMESTAMP NULL;\nCREATE INDEX idx_orders_shipped ON orders (shipped_on);\n",
        "ALTER TABLE orders DROP COLUMN shipped_at;\n",
    ));
    r.deploy(&release).unwrap();
    let props = r.properties(&release);

    let create = r.request(RequestType::Create, &props, None).await.unwrap();
    let res = r.send(&create).await.unwrap();
    assert_eq!(res.status, Status::Failed, "{}", res.raw);
    for part in [
        "applied 0001_create_users",
        "failed at `0007_add_orders_shipped`",
        "Key column 'shipped_on' doesn't exist",
        "PARTLY applied (1 statement ran",
    ] {
        assert!(
            res.reason.contains(part),
            "Reason lacks {part:?}: {}",
            res.reason
        );
    }
    let dirty =
        r.db.history_rows()
            .await
            .into_iter()
            .find(|h| h.version == 7)
            .expect("history row of 0007");
    assert!(!dirty.success);

    // Lambda's retry of the same event finds the failed row and refuses.
    let again = r.send_again(&create).await.unwrap();
    assert_eq!(again.status, Status::Failed, "{}", again.raw);
    assert!(
        again
            .reason
            .contains("`0007_add_orders_shipped` is recorded as failed"),
        "{}",
        again.reason
    );
    assert!(
        again
            .reason
            .contains("run `schemagate resolve 7 --as undone`"),
        "{}",
        again.reason
    );

    // CloudFormation deletes what the failed Create left: nothing is touched.
    let before = r.db.snapshot().await;
    let delete = r.delete(&props).await.unwrap();
    assert_eq!(delete.status, Status::Success, "{}", delete.raw);
    assert_eq!(delete.physical_id, res.physical_id);
    assert_eq!(r.db.snapshot().await, before);
    r.check_logs().unwrap();
}

/// Delete never touches the schema or the data, and answers at once.
#[tokio::test]
async fn delete_succeeds_and_leaves_the_database_untouched() {
    let mut r = started!(Rehearsal::start("delete"));
    let release = Migrations::example().unwrap();
    r.deploy(&release).unwrap();
    let props = r.properties(&release);
    let create = r.create(&props).await.unwrap();
    assert_eq!(create.status, Status::Success, "{}", create.raw);
    r.db.exec("INSERT INTO users (email) VALUES ('ada@example.com')")
        .await;
    let before = r.db.snapshot().await;

    let res = r.delete(&props).await.unwrap();
    assert_eq!(res.status, Status::Success, "{}", res.raw);
    assert_eq!(res.physical_id, create.physical_id);
    assert!(
        res.elapsed < Duration::from_secs(5),
        "Delete took {:?}",
        res.elapsed
    );
    assert_eq!(r.db.snapshot().await, before);
    assert_eq!(r.db.rows("users").await, 1);
    r.check_logs().unwrap();
}

/// Lambda delivers an async event again after a failure: the second
/// answer is SUCCESS too and nothing is applied twice.
#[tokio::test]
async fn a_duplicate_delivery_is_harmless() {
    let mut r = started!(Rehearsal::start("duplicate"));
    let v6 = Migrations::example().unwrap();
    let v8 = v6.clone().next_release();
    r.deploy(&v6).unwrap();
    let create = r
        .request(RequestType::Create, &r.properties(&v6), None)
        .await
        .unwrap();
    let first = r.send(&create).await.unwrap();
    assert_eq!(
        (first.status, first.data_number("Applied")),
        (Status::Success, Some(6)),
        "{}",
        first.raw
    );
    let history = r.db.history_rows().await;

    let second = r.send_again(&create).await.unwrap();
    assert_eq!(second.status, Status::Success, "{}", second.raw);
    assert_eq!(
        (second.schema_version(), second.data_number("Applied")),
        (Some(6), Some(0)),
        "{}",
        second.raw
    );
    assert_eq!(second.physical_id, first.physical_id);
    assert_eq!(
        r.db.history_rows().await,
        history,
        "the history (with installed_on) is unchanged"
    );
    assert_eq!(r.db.rows("plans").await, 3, "the seed ran once");

    r.deploy(&v8).unwrap();
    let update = r
        .request(
            RequestType::Update,
            &r.properties(&v8),
            Some(&r.properties(&v6)),
        )
        .await
        .unwrap();
    assert_eq!(
        r.send(&update).await.unwrap().data_number("Applied"),
        Some(2)
    );
    let again = r.send_again(&update).await.unwrap();
    assert_eq!(again.status, Status::Success, "{}", again.raw);
    assert_eq!(
        (again.schema_version(), again.data_number("Applied")),
        (Some(8), Some(0)),
        "{}",
        again.raw
    );
    assert_eq!(r.db.history_rows().await.len(), 8);
    r.check_logs().unwrap();
}

/// The same event delivered twice at the same moment to two instances of
/// the function: the lock makes one wait; each migration runs once and
/// both answers are SUCCESS at version 6.
#[tokio::test]
async fn concurrent_duplicate_deliveries_apply_each_migration_once() {
    let mut r = started!(Rehearsal::start("concurrent"));
    let release = Migrations::example().unwrap();
    r.deploy_instances(&release, 2).unwrap();
    let create = r
        .request(RequestType::Create, &r.properties(&release), None)
        .await
        .unwrap();
    let front = ResponseUrl::in_front_of(&r.moto.url, 0);
    let create = create.via(front.rewrite(&create.response_url).unwrap());

    let _first = r.invoke(&create).unwrap();
    let _second = r.invoke(&create).unwrap();
    let started = std::time::Instant::now();
    while front.seen().len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "responses after 60 s: {:?}\n{}",
            front.seen(),
            r.function_log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let bodies: Vec<testkit::cfn::Response> = front
        .seen()
        .iter()
        .map(|s| testkit::cfn::Response::parse(&s.text(), Duration::ZERO).unwrap())
        .collect();
    for b in &bodies {
        assert_eq!(
            (b.status, b.schema_version()),
            (Status::Success, Some(6)),
            "{}",
            b.raw
        );
    }
    let applied: i64 = bodies
        .iter()
        .map(|b| b.data_number("Applied").unwrap())
        .sum();
    assert_eq!(
        applied,
        6,
        "each migration applied by exactly one of the two: {:?}",
        bodies.iter().map(|b| &b.raw).collect::<Vec<_>>()
    );
    let history = r.db.history_rows().await;
    assert_eq!(history.len(), 6);
    assert_eq!(r.db.rows("plans").await, 3);
    r.check_logs().unwrap();
}

/// S3 answers the response PUT with 503 twice, then accepts: the response
/// still arrives, and what arrived is what CloudFormation needs.
#[tokio::test]
async fn a_response_url_that_fails_twice_still_gets_the_response() {
    let mut r = started!(Rehearsal::start("flaky_url"));
    let release = Migrations::example().unwrap();
    r.deploy(&release).unwrap();
    let create = r
        .request(RequestType::Create, &r.properties(&release), None)
        .await
        .unwrap();
    let front = ResponseUrl::in_front_of(&r.moto.url, 2);

    let res = r
        .send(&create.via(front.rewrite(&create.response_url).unwrap()))
        .await
        .unwrap();

    assert_eq!(res.status, Status::Success, "{}", res.raw);
    assert_eq!(res.schema_version(), Some(6));
    let seen = front.seen();
    assert_eq!(
        seen.iter().map(|s| s.status).collect::<Vec<_>>(),
        vec![503, 503, 200],
        "{seen:?}"
    );
    for s in &seen {
        assert_eq!(s.method, "PUT");
        assert_eq!(
            s.content_type.as_deref(),
            Some(""),
            "the presigned URL is signed without a Content-Type"
        );
        assert_eq!(
            s.text(),
            res.raw,
            "every attempt carries the same body, and the last one is stored"
        );
    }
    assert_eq!(
        r.db.history_rows().await.len(),
        6,
        "the retries re-sent the answer, not the work"
    );
    let log = r.function_log();
    assert_eq!(
        log.matches("response not delivered; retrying").count(),
        2,
        "{log}"
    );
    r.check_logs().unwrap();
}

/// A release with a migration longer than the function's time: the
/// watchdog answers FAILED before the deadline, naming the migration, and
/// the server stopped the statement, so nothing is left on record to
/// refuse CloudFormation's rollback Update that follows.
#[tokio::test]
async fn a_migration_longer_than_the_deadline_fails_before_it() {
    const BUDGET: u64 = 8;
    let opts = Options::test("deadline").env("SCHEMAGATE_BUDGET_SECONDS", &BUDGET.to_string());
    let mut r = started!(Rehearsal::start_with(opts));
    let v6 = Migrations::example().unwrap();
    let slow = v6.clone().with((
        "0007_slow_backfill",
        "SELECT SLEEP(30);\n",
        "-- nothing to undo\n",
    ));
    r.deploy(&v6).unwrap();
    let (p6, p7) = (r.properties(&v6), r.properties(&slow));
    assert_eq!(r.create(&p6).await.unwrap().status, Status::Success);

    r.deploy(&slow).unwrap();
    let res = r.update(&p7, &p6).await.unwrap();

    assert_eq!(res.status, Status::Failed, "{}", res.raw);
    assert!(
        res.elapsed < Duration::from_secs(BUDGET),
        "the answer came after {:?}, not before the {BUDGET} s deadline",
        res.elapsed
    );
    // The watchdog and the server's `max_statement_time` end together:
    // either the watchdog's Reason ("… was still running …", then the
    // engine's) or the engine's own comes first. Both name the migration,
    // say that nothing of it was applied, and that time ran out.
    assert!(
        res.reason
            .contains("`0007_slow_backfill` was still running")
            || res.reason.contains("stopped for lack of time"),
        "{}",
        res.reason
    );
    assert!(
        res.reason
            .contains("Nothing of `0007_slow_backfill` was applied"),
        "{}",
        res.reason
    );
    assert_eq!(r.db.schema_version().await, Some(6));
    assert!(
        r.db.history_rows().await.iter().all(|h| h.success),
        "no failed migration on record"
    );

    // UPDATE_ROLLBACK: the old properties; the schema is where it was.
    let back = r.update(&p6, &p7).await.unwrap();
    assert_eq!(back.status, Status::Success, "{}", back.raw);
    assert_eq!(back.schema_version(), Some(6), "{}", back.raw);
    r.check_logs().unwrap();
}

/// Wrong credentials in the secret: FAILED saying so, and neither the
/// Reason nor the log shows the password.
#[tokio::test]
async fn wrong_credentials_fail_readably_without_showing_the_password() {
    let mut r = started!(Rehearsal::start("credentials"));
    let release = Migrations::example().unwrap();
    r.deploy(&release).unwrap();
    let mut secret = r.db.secret();
    let wrong = format!("{}-wrong", r.db.password);
    secret["password"] = serde_json::json!(wrong);
    let arn = r
        .moto
        .create_secret("schemagate/wrong-password", &secret)
        .await
        .unwrap();
    let mut props = r.properties(&release);
    props["SecretArn"] = serde_json::json!(arn);

    let res = r.create(&props).await.unwrap();

    assert_eq!(res.status, Status::Failed, "{}", res.raw);
    assert!(
        res.reason.contains("rejected the credentials"),
        "{}",
        res.reason
    );
    assert!(
        res.reason.contains(&r.db.user),
        "the Reason names the user: {}",
        res.reason
    );
    assert!(
        !res.raw.contains(&wrong) && !r.function_log().contains(&wrong),
        "the password leaked: {}",
        res.raw
    );
    assert_eq!(r.db.all_tables().await, BTreeSet::new());
    r.check_logs().unwrap();
}

/// A database Alembic brought to the shop's merge point (version 10 of the
/// imported history), then the imported history through the Lambda: the
/// database is adopted from `alembic_version` (1..10 baselined), the five
/// remaining revisions run once, and a second delivery changes nothing.
#[tokio::test]
async fn a_database_alembic_made_is_adopted_and_the_remaining_revisions_run_once() {
    let mut r = started!(Rehearsal::start("adopt"));
    let shop = Shop::copy_to(&r.dir().join("shop")).unwrap();
    shop.alembic_upgrade(&r.db, "a05c7f3a9d49").unwrap();
    let release = shop.import(&r.db, &r.dir().join("imported")).unwrap();
    assert_eq!(release.latest_version(), 15);
    r.deploy(&release).unwrap();
    let mut props = r.properties(&release);
    // 0015 drops a column: breaking, with no app to drain in this test
    props["AllowBreaking"] = "true".into();

    let create = r.request(RequestType::Create, &props, None).await.unwrap();
    let res = r.send(&create).await.unwrap();

    assert_eq!(res.status, Status::Success, "{}", res.raw);
    assert_eq!(res.schema_version(), Some(15), "{}", res.raw);
    assert_eq!(res.data_number("Applied"), Some(5), "{}", res.raw);
    assert!(
        res.reason.contains("adopted from `alembic_version` a05c7f3a9d49: baselined 0001_1975ea83b712_add_account_table"),
        "{}",
        res.reason
    );
    let history = r.db.history_rows().await;
    assert_eq!(
        history
            .iter()
            .map(|h| (h.version, h.success))
            .collect::<Vec<_>>(),
        (1..=15).map(|v| (v, true)).collect::<Vec<_>>()
    );
    let baselined = "SELECT COUNT(*) FROM _schemagate_history WHERE class = 'baseline'";
    assert_eq!(r.db.count(baselined).await, 10);
    assert_eq!(
        r.db.count(
            "SELECT COUNT(*) FROM _schemagate_history WHERE class = 'baseline' AND version <= 10"
        )
        .await,
        10
    );
    assert_eq!(r.db.rows("plan_feature").await, 3, "0012 ran, once");
    assert!(!r
        .db
        .columns("plan")
        .await
        .contains(&"legacy_code".to_string()));
    // alembic_version is left as Alembic left it
    assert_eq!(
        r.db.count("SELECT COUNT(*) FROM alembic_version WHERE version_num = 'a05c7f3a9d49'")
            .await,
        1
    );
    assert_eq!(r.db.rows("alembic_version").await, 1);

    // Lambda's retry of the same event, then an Update with the same
    // release: nothing runs again.
    let again = r.send_again(&create).await.unwrap();
    assert_eq!(again.status, Status::Success, "{}", again.raw);
    assert_eq!(
        (again.schema_version(), again.data_number("Applied")),
        (Some(15), Some(0)),
        "{}",
        again.raw
    );
    let update = r.update(&props, &props).await.unwrap();
    assert_eq!(update.status, Status::Success, "{}", update.raw);
    assert_eq!(update.data_number("Applied"), Some(0), "{}", update.raw);
    assert_eq!(
        r.db.history_rows().await,
        history,
        "the history is unchanged"
    );
    r.check_logs().unwrap();
}

/// The same database refused, with nothing applied: adoption turned off
/// (`AdoptAlembic: "false"`), and a database at a revision the bundled
/// history lacks (the package is older than the database).
#[tokio::test]
async fn an_alembic_database_the_history_cannot_adopt_fails_with_nothing_applied() {
    let mut r = started!(Rehearsal::start("adopt_refused"));
    let shop = Shop::copy_to(&r.dir().join("shop")).unwrap();
    shop.alembic_upgrade(&r.db, "head").unwrap();
    let all = shop.import(&r.db, &r.dir().join("imported")).unwrap();
    let tables = r.db.all_tables().await;

    // The off switch: refused up front, saying why and what to do.
    r.deploy(&all).unwrap();
    let mut off = r.properties(&all);
    off["AdoptAlembic"] = "false".into();
    let res = r.create(&off).await.unwrap();
    assert_eq!(res.status, Status::Failed, "{}", res.raw);
    assert!(
        res.reason.contains("the database has an `alembic_version` table at `f5ab2e8f4c9e` and no schemagate history, and adoption is off (`--no-adopt-alembic` / `AdoptAlembic: false`)"),
        "{}",
        res.reason
    );
    assert!(res.reason.contains("`BaselineVersion`"), "{}", res.reason);
    assert_eq!(r.db.all_tables().await, tables, "nothing applied");

    // A package without the newest revision: alembic_version names one
    // no bundled migration carries.
    let older = all.until(14);
    r.deploy(&older).unwrap();
    let res = r.create(&r.properties(&older)).await.unwrap();
    assert_eq!(res.status, Status::Failed, "{}", res.raw);
    assert!(
        res.reason.contains("the database's `alembic_version` holds revision `f5ab2e8f4c9e`, which no migration in the folder was imported from (the last imported is `e49a1d7e3b8d`"),
        "{}",
        res.reason
    );
    assert!(
        res.reason.contains("--since e49a1d7e3b8d"),
        "{}",
        res.reason
    );
    assert_eq!(r.db.all_tables().await, tables, "nothing applied");
    assert!(r.db.history_rows().await.is_empty());
    r.check_logs().unwrap();
}
