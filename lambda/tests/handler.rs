//! The custom resource handler against real MariaDB/PostgreSQL, answering a
//! local HTTP server that stands in for the presigned ResponseURL. Each test
//! asserts the body that reached it.

pub mod kit;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kit::{event, server, Fixed};
use schemagate::handler::{Config, Handler, HandlerError};
use serde_json::{json, Value};
use testkit::response_url::Seen;
use testkit::{Folder, ResponseUrl, TestDb};

fn secret(db: &TestDb, password: &str) -> String {
    match db.kind {
        testkit::Kind::MariaDb => json!({"engine": "mariadb", "host": "127.0.0.1", "port": 3306, "username": "root", "password": password, "dbname": db.name}),
        testkit::Kind::Postgres => json!({"engine": "postgres", "host": "127.0.0.1", "port": "5432", "username": "postgres", "password": password, "dbname": db.name}),
    }
    .to_string()
}

fn config(dir: PathBuf) -> Config {
    Config {
        migrations_dir: dir,
        ssl_mode: schemagate::db::SslMode::Disabled,
        ssl_ca: None,
        budget: Duration::from_secs(60),
        lock_wait: Duration::from_secs(5),
        response_attempts: 4,
    }
}

fn handler(folder: &Folder, secret: String) -> Handler {
    Handler::new(config(folder.path()), Arc::new(Fixed(secret)))
}

/// The bodies PUT to the ResponseURL so far, parsed.
async fn responses(s: &ResponseUrl) -> Vec<(Value, Seen)> {
    s.puts()
        .into_iter()
        .map(|r| {
            (
                serde_json::from_slice(&r.body).expect("the body is JSON"),
                r,
            )
        })
        .collect()
}

async fn last(s: &ResponseUrl) -> Value {
    responses(s).await.pop().expect("a response was PUT").0
}

#[tokio::test]
async fn create_applies_and_answers_success_with_the_schema_version() {
    let db = TestDb::mariadb("hcreate").await;
    let folder = Folder::with_example();
    let s = server().await;
    let h = handler(&folder, secret(&db, ""));

    h.handle(event("create", &s, json!({"TargetVersion": "6"})), None)
        .await
        .unwrap();

    let all = responses(&s).await;
    assert_eq!(all.len(), 1, "exactly one response");
    let (body, req) = &all[0];
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["Data"]["SchemaVersion"], "6");
    assert_eq!(body["Data"]["Applied"], "6");
    assert_eq!(body["Data"]["Reverted"], "0");
    assert_eq!(
        body["PhysicalResourceId"],
        format!("schemagate:mariadb://127.0.0.1:3306/{}", db.name)
    );
    assert_eq!(body["RequestId"], "7f9c1a52-6b1e-4d3a-9b51-0d5f2c1e9a01");
    assert_eq!(body["LogicalResourceId"], "SchemaMigrations");
    assert!(body["StackId"]
        .as_str()
        .unwrap()
        .contains("stack/DataStack"));
    assert!(
        body["Reason"]
            .as_str()
            .unwrap()
            .contains("applied 0001_create_users"),
        "{body}"
    );
    let ct: Vec<_> = req.headers.get_all("content-type").iter().collect();
    assert_eq!(ct.len(), 1, "an explicit, empty Content-Type");
    assert_eq!(ct[0].to_str().unwrap(), "");
    assert!(req.body.len() <= 4096);
    assert_eq!(db.history().await.len(), 6);
    assert_eq!(db.tables().await, vec!["orders", "plans", "users"]);
}

#[tokio::test]
async fn a_repeated_delivery_finds_the_work_done_and_says_so() {
    let db = TestDb::mariadb("hdup").await;
    let folder = Folder::with_example();
    let s = server().await;
    let h = handler(&folder, secret(&db, ""));
    let ev = event("create", &s, json!({}));
    h.handle(ev.clone(), None).await.unwrap();
    h.handle(ev, None).await.unwrap();
    let all = responses(&s).await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].0["Status"], "SUCCESS");
    assert_eq!(all[1].0["Data"]["Applied"], "0");
    assert_eq!(all[1].0["Data"]["SchemaVersion"], "6");
    assert_eq!(
        all[1].0["PhysicalResourceId"], all[0].0["PhysicalResourceId"],
        "a stable id"
    );
    assert!(all[1].0["Reason"]
        .as_str()
        .unwrap()
        .contains("already at version 6"));
    assert_eq!(db.count("SELECT COUNT(*) FROM plans").await, 3);
}

#[tokio::test]
async fn update_to_a_lower_target_reverts_and_keeps_the_physical_id() {
    let db = TestDb::mariadb("hupdate").await;
    let folder = Folder::with_example();
    let s = server().await;
    let h = handler(&folder, secret(&db, ""));
    h.handle(event("create", &s, json!({"TargetVersion": "6"})), None)
        .await
        .unwrap();
    db.exec("INSERT INTO users (email) VALUES ('kept@example.com')")
        .await;

    let mut ev = event("update", &s, json!({"TargetVersion": "4"}));
    ev["OldResourceProperties"]["TargetVersion"] = json!("6");
    h.handle(ev, None).await.unwrap();
    let body = last(&s).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["Data"]["SchemaVersion"], "4");
    assert_eq!(body["Data"]["Reverted"], "2");
    assert_eq!(
        body["PhysicalResourceId"], "schemagate:mariadb://db.internal:3306/app",
        "the id CloudFormation holds"
    );
    assert_eq!(db.history().await.len(), 4);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM users").await,
        1,
        "data in untouched tables stays"
    );
}

#[tokio::test]
async fn on_rollback_keep_leaves_the_schema_and_succeeds() {
    let db = TestDb::mariadb("hkeep").await;
    let folder = Folder::with_example();
    let s = server().await;
    let h = handler(&folder, secret(&db, ""));
    h.handle(event("create", &s, json!({})), None)
        .await
        .unwrap();
    h.handle(
        event(
            "update",
            &s,
            json!({"TargetVersion": "2", "OnRollback": "keep"}),
        ),
        None,
    )
    .await
    .unwrap();
    let body = last(&s).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["Data"]["SchemaVersion"], "6");
    assert!(
        body["Reason"].as_str().unwrap().contains("OnRollback=keep"),
        "{body}"
    );
    assert_eq!(db.history().await.len(), 6);
}

#[tokio::test]
async fn delete_succeeds_at_once_and_touches_nothing() {
    let db = TestDb::mariadb("hdelete").await;
    let folder = Folder::with_example();
    let s = server().await;
    let h = handler(&folder, secret(&db, ""));
    h.handle(event("create", &s, json!({})), None)
        .await
        .unwrap();
    let started = Instant::now();
    // Even with a secret that cannot be read: Delete must never block.
    let h2 = handler(&folder, "not json".into());
    h2.handle(event("delete", &s, json!({})), None)
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    let body = last(&s).await;
    assert_eq!(body["Status"], "SUCCESS");
    assert_eq!(
        body["PhysicalResourceId"],
        "schemagate:mariadb://db.internal:3306/app"
    );
    assert_eq!(db.tables().await, vec!["orders", "plans", "users"]);
    assert_eq!(db.history().await.len(), 6);
}

#[tokio::test]
async fn a_malformed_property_fails_naming_it_and_runs_nothing() {
    let db = TestDb::mariadb("hprops").await;
    let folder = Folder::with_example();
    let s = server().await;
    let h = handler(&folder, secret(&db, ""));
    h.handle(
        event("create", &s, json!({"TargetVersion": "latest"})),
        None,
    )
    .await
    .unwrap();
    let body = last(&s).await;
    assert_eq!(body["Status"], "FAILED");
    assert_eq!(body["Reason"], "invalid properties: property `TargetVersion` must be a whole number ≥ 0 (a migration version), got `latest`");
    assert!(body["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .starts_with("schemagate:"));
    assert!(db.tables().await.is_empty());
    assert!(db.history().await.is_empty(), "no history table either");

    let mut ev = event("create", &s, json!({}));
    ev["ResourceProperties"]
        .as_object_mut()
        .unwrap()
        .remove("SecretArn");
    h.handle(ev, None).await.unwrap();
    assert!(last(&s).await["Reason"]
        .as_str()
        .unwrap()
        .contains("`SecretArn` is required"));
}

#[tokio::test]
async fn a_malformed_event_still_gets_a_failed_answer() {
    let s = server().await;
    let folder = Folder::with_example();
    let h = handler(&folder, String::new());
    let ev = json!({"RequestType": "Create", "ResponseURL": format!("{}/response?sig=x", s.uri()), "RequestId": "r-1", "StackId": "s", "LogicalResourceId": "L"});
    h.handle(ev, None).await.unwrap();
    let body = last(&s).await;
    assert_eq!(body["Status"], "FAILED");
    assert!(
        body["Reason"]
            .as_str()
            .unwrap()
            .contains("malformed CloudFormation request"),
        "{body}"
    );
    assert_eq!(body["RequestId"], "r-1");

    let err = h.handle(json!({"hello": "world"}), None).await.unwrap_err();
    assert!(
        matches!(err, HandlerError::Request(_)),
        "nothing to answer to: an error for the log"
    );
}

#[tokio::test]
async fn a_wrong_password_fails_without_showing_it() {
    let db = TestDb::mariadb("hpass").await;
    let folder = Folder::with_example();
    let s = server().await;
    let h = handler(&folder, secret(&db, "Wr0ngPassw0rd!"));
    h.handle(event("create", &s, json!({})), None)
        .await
        .unwrap();
    let (body, req) = responses(&s).await.pop().unwrap();
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(reason.contains("rejected the credentials"), "{reason}");
    assert!(
        reason.contains("check the user and password in the secret"),
        "{reason}"
    );
    assert!(!String::from_utf8_lossy(&req.body).contains("Wr0ngPassw0rd!"));
}

#[tokio::test]
async fn a_secret_that_cannot_be_read_fails_with_what_to_check() {
    let folder = Folder::with_example();
    let s = server().await;
    let h = handler(&folder, String::new());
    h.handle(
        event(
            "create",
            &s,
            json!({"SecretArn": "arn:aws:secretsmanager:eu-west-1:1:secret:other"}),
        ),
        None,
    )
    .await
    .unwrap();
    let reason = last(&s).await["Reason"].as_str().unwrap().to_string();
    assert!(
        reason.contains("cannot read secret `arn:aws:secretsmanager:eu-west-1:1:secret:other`"),
        "{reason}"
    );
    assert!(reason.contains("secretsmanager:GetSecretValue"), "{reason}");
}

#[tokio::test]
async fn an_unreachable_database_fails_before_the_deadline() {
    let folder = Folder::with_example();
    let s = server().await;
    let secret = json!({"engine": "mariadb", "host": "127.0.0.1", "port": 1, "username": "u", "password": "p", "dbname": "d"}).to_string();
    let h = handler(&folder, secret);
    let started = Instant::now();
    h.handle(
        event("create", &s, json!({})),
        Some(Instant::now() + Duration::from_secs(6)),
    )
    .await
    .unwrap();
    let body = last(&s).await;
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(reason.contains("mariadb://127.0.0.1:1/d"), "{reason}");
    assert!(
        reason.contains("connect") || reason.contains("timed out"),
        "{reason}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "answered before the deadline"
    );
}

#[tokio::test]
async fn a_broken_migration_fails_with_the_database_words_and_the_applied_ones() {
    let db = TestDb::mariadb("hbroken").await;
    let folder = Folder::with_example();
    folder.write(
        "0007_drop_legacy_email.up.sql",
        "ALTER TABLE users DROP COLUMN legacy_email;\n",
    );
    folder.write("0007_drop_legacy_email.down.sql", "");
    let s = server().await;
    let h = handler(&folder, secret(&db, ""));
    h.handle(event("create", &s, json!({})), None)
        .await
        .unwrap();
    let body = last(&s).await;
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with("applied 0001_create_users, 0002_create_orders, 0003_index_users_email"),
        "{reason}"
    );
    assert!(
        reason.contains("failed at `0007_drop_legacy_email`"),
        "{reason}"
    );
    assert!(
        reason.contains("legacy_email"),
        "the server's own text: {reason}"
    );
    assert!(
        reason.contains(
            "Nothing of `0007_drop_legacy_email` was applied; the schema is at version 6"
        ),
        "{reason}"
    );
    assert_eq!(db.history().await.len(), 6);
}

#[tokio::test]
async fn a_100_kb_database_error_still_fits_in_4096_bytes() {
    let db = TestDb::postgres("hhuge").await;
    let folder = Folder::empty();
    folder.write(
        "1_huge.sql",
        "DO $$ BEGIN RAISE EXCEPTION '%', repeat('x', 100000); END $$;",
    );
    let s = server().await;
    let h = handler(&folder, secret(&db, ""));
    h.handle(event("create", &s, json!({})), None)
        .await
        .unwrap();
    let (body, req) = responses(&s).await.pop().unwrap();
    assert!(req.body.len() <= 4096, "{} bytes", req.body.len());
    assert!(req.body.len() > 4000, "cut no more than needed");
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with("failed at `1_huge`: xxxx"),
        "{}",
        &reason[..60]
    );
    assert!(reason.ends_with('…'));
}

#[tokio::test]
async fn a_response_url_failing_twice_with_503_still_gets_the_answer() {
    let db = TestDb::mariadb("h503").await;
    let folder = Folder::with_example();
    let s = ResponseUrl::refusing(2, 503, "");
    let h = handler(&folder, secret(&db, ""));
    h.handle(event("create", &s, json!({})), None)
        .await
        .unwrap();
    let all = responses(&s).await;
    assert_eq!(all.len(), 3, "two refused, the third accepted");
    assert_eq!(all[0].0, all[2].0, "the same body each time");
    assert_eq!(all[2].0["Status"], "SUCCESS");
}

#[tokio::test]
async fn a_response_url_that_refuses_is_an_error_for_the_runtime_to_retry() {
    let db = TestDb::mariadb("h403").await;
    let folder = Folder::with_example();
    let s = ResponseUrl::refusing(usize::MAX, 403, "SignatureDoesNotMatch");
    let h = handler(&folder, secret(&db, ""));
    let err = h
        .handle(event("create", &s, json!({})), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("HTTP 403"), "{err}");
    assert!(err.contains("SignatureDoesNotMatch"), "{err}");
    assert!(
        !err.contains("topsecretsig"),
        "no signature in the error: {err}"
    );
    assert_eq!(responses(&s).await.len(), 1, "a 403 is not retried");
    assert_eq!(
        db.history().await.len(),
        6,
        "the work itself was done (a retry finds it done)"
    );
}

#[tokio::test]
async fn a_statement_too_long_for_the_deadline_is_stopped_by_the_server_and_reported() {
    let db = TestDb::mariadb("hslow").await;
    let folder = Folder::empty();
    folder.write("1_fast.sql", "CREATE TABLE fast (id INT);");
    folder.write("2_slow_backfill.sql", "SELECT SLEEP(30);");
    let s = server().await;
    let h = handler(&folder, secret(&db, ""));
    let started = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(6);
    h.handle(event("create", &s, json!({})), Some(deadline))
        .await
        .unwrap();
    let answered = started.elapsed();
    assert!(
        answered < Duration::from_secs(6),
        "answered after {answered:?}"
    );
    let body = last(&s).await;
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    // Whichever comes first, the server's max_statement_time or the
    // watchdog, the answer names the migration and what was applied.
    assert!(reason.contains("2_slow_backfill"), "{reason}");
    assert!(reason.contains("max_statement_time"), "{reason}");
    assert!(reason.contains("1_fast"), "{reason}");
    assert_eq!(db.history().await.first(), Some(&(1, true)));
}

#[tokio::test]
async fn a_lock_held_past_the_deadline_is_answered_in_time_and_says_why() {
    let db = TestDb::mariadb("hwatch").await;
    let folder = Folder::with_example();
    // Another run holds the migration lock for longer than the invocation has.
    let mut holder = db.my().await;
    let lock = schemagate::migrate::lock::name(&db.name);
    let _: Option<i64> =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT GET_LOCK('{lock}', 1)")))
            .fetch_one(&mut holder)
            .await
            .unwrap();
    let s = server().await;
    let h = handler(&folder, secret(&db, ""));
    let started = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(6);
    h.handle(
        event("create", &s, json!({"LockTimeoutSeconds": "600"})),
        Some(deadline),
    )
    .await
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "answered after {:?}",
        started.elapsed()
    );
    let body = last(&s).await;
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.contains("timed out waiting for the migration lock"),
        "{reason}"
    );
    assert!(
        reason.contains("another schemagate run holds it"),
        "{reason}"
    );
    assert!(db.tables().await.is_empty());
    drop(holder);
}

/// A Secrets Manager that never answers (a VPC without its endpoint).
struct Hanging;

impl schemagate::secrets::SecretSource for Hanging {
    fn get<'a>(
        &'a self,
        _arn: &'a str,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<String, schemagate::secrets::SecretError>>
                + Send
                + 'a,
        >,
    > {
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            unreachable!("the watchdog answers first")
        })
    }
}

#[tokio::test]
async fn the_watchdog_answers_before_the_deadline_saying_what_was_in_progress() {
    let folder = Folder::with_example();
    let s = server().await;
    let h = Handler::new(config(folder.path()), Arc::new(Hanging));
    let started = Instant::now();
    h.handle(
        event("create", &s, json!({})),
        Some(Instant::now() + Duration::from_secs(5)),
    )
    .await
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered after {:?}",
        started.elapsed()
    );
    let body = last(&s).await;
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(reason.starts_with("timed out after"), "{reason}");
    assert!(
        reason.contains(
            "before the function's deadline, while reading secret `arn:aws:secretsmanager:"
        ),
        "{reason}"
    );
    assert!(reason.contains("nothing else was changed"), "{reason}");
}
