//! The breaking-change gate in the Lambda, against real MariaDB/PostgreSQL,
//! answering a local ResponseURL: what CloudFormation would receive, and
//! what is (not) in `_sqlx_migrations` afterwards. Plus a rollback that
//! meets an irreversible migration.

pub mod kit;

use kit::{event, handler, last, reason, server};
use serde_json::json;
use testkit::{Folder, TestDb};

const COLUMN: &str = "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'users' AND column_name = 'legacy_email'";

/// The example history (version 6) plus a nullable `users.legacy_email`
/// (version 7), deployed: a release runs on it now.
async fn deployed(tag: &str) -> (TestDb, Folder) {
    let db = TestDb::mariadb(tag).await;
    let folder = Folder::with_example();
    folder.write(
        "0007_add_legacy_email.up.sql",
        "ALTER TABLE users ADD COLUMN legacy_email VARCHAR(255) NULL;\n",
    );
    folder.write(
        "0007_add_legacy_email.down.sql",
        "ALTER TABLE users DROP COLUMN legacy_email;\n",
    );
    let s = server().await;
    let h = handler(&db, folder.path());
    h.handle(event("create", &s, json!({})), None)
        .await
        .unwrap();
    assert_eq!(last(&s).await["Status"], "SUCCESS");
    assert_eq!(db.history().await.len(), 7);
    (db, folder)
}

const DROP: &str = "-- The old release stopped reading legacy_email in 2.3.\n\nALTER TABLE users DROP COLUMN legacy_email;\n";

#[tokio::test]
async fn an_unmarked_drop_is_refused_naming_migration_line_and_rule_and_nothing_runs() {
    let (db, folder) = deployed("gdrop").await;
    folder.write("0008_drop_legacy_email.up.sql", DROP);
    folder.write(
        "0008_drop_legacy_email.down.sql",
        "ALTER TABLE users ADD COLUMN legacy_email VARCHAR(255) NULL;\n",
    );
    let s = server().await;
    let h = handler(&db, folder.path());
    let ev = event("update", &s, json!({"TargetVersion": "8"}));

    for attempt in 0..2 {
        h.handle(ev.clone(), None).await.unwrap();
        let body = last(&s).await;
        assert_eq!(body["Status"], "FAILED", "attempt {attempt}: {body}");
        let r = reason(&body);
        assert!(r.starts_with("refused before running anything"), "{r}");
        assert!(
            r.contains("`0008_drop_legacy_email` line 3: breaking[drop-column]: DROP COLUMN users.legacy_email (the running release may still read or write it)"),
            "{r}"
        );
        assert!(r.contains("Nothing was applied"), "{r}");
        assert!(
            r.contains("-- schemagate: contract")
                && r.contains("DrainTagKey")
                && r.contains("AllowBreaking=true"),
            "{r}"
        );
        assert_eq!(
            body["PhysicalResourceId"],
            "schemagate:mariadb://db.internal:3306/app"
        );
        assert_eq!(
            db.history().await,
            (1..=7).map(|v| (v, true)).collect::<Vec<_>>(),
            "no row for 0008"
        );
        assert_eq!(db.count(COLUMN).await, 1, "the column is still there");
    }
}

#[tokio::test]
async fn a_drop_marked_contract_runs_without_a_drain() {
    let (db, folder) = deployed("gcontract").await;
    folder.write(
        "0008_drop_legacy_email.up.sql",
        &format!("-- schemagate: contract\n{DROP}"),
    );
    folder.write(
        "0008_drop_legacy_email.down.sql",
        "ALTER TABLE users ADD COLUMN legacy_email VARCHAR(255) NULL;\n",
    );
    let s = server().await;
    handler(&db, folder.path())
        .handle(event("update", &s, json!({"TargetVersion": "8"})), None)
        .await
        .unwrap();
    let body = last(&s).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["Data"]["SchemaVersion"], "8");
    assert_eq!(db.history().await.len(), 8);
    assert_eq!(db.count(COLUMN).await, 0);
}

#[tokio::test]
async fn allow_breaking_lets_it_through_and_says_so() {
    let (db, folder) = deployed("gallow").await;
    folder.write("0008_drop_legacy_email.up.sql", DROP);
    folder.write(
        "0008_drop_legacy_email.down.sql",
        "ALTER TABLE users ADD COLUMN legacy_email VARCHAR(255) NULL;\n",
    );
    let s = server().await;
    handler(&db, folder.path())
        .handle(
            event(
                "update",
                &s,
                json!({"TargetVersion": "8", "AllowBreaking": "true"}),
            ),
            None,
        )
        .await
        .unwrap();
    let body = last(&s).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert!(
        reason(&body).contains(
            "AllowBreaking=true: applied 0008_drop_legacy_email with the old release still running"
        ),
        "{body}"
    );
    assert_eq!(db.count(COLUMN).await, 0);
}

#[tokio::test]
async fn expand_only_releases_and_first_deploys_pass_the_gate() {
    // A first deploy may drop what it created itself.
    let db = TestDb::mariadb("gfirst").await;
    let folder = Folder::with_example();
    folder.write(
        "0007_drop_plans_name.up.sql",
        "ALTER TABLE plans DROP COLUMN name;\n",
    );
    folder.write("0007_drop_plans_name.down.sql", "");
    let s = server().await;
    let h = handler(&db, folder.path());
    h.handle(event("create", &s, json!({})), None)
        .await
        .unwrap();
    assert_eq!(last(&s).await["Status"], "SUCCESS");
    // Then an expand-only release on top of it.
    folder.write("0008_add_nickname.up.sql", "ALTER TABLE users ADD COLUMN nickname VARCHAR(40) NULL;\nCREATE INDEX i_users_nickname ON users (nickname);\n");
    folder.write(
        "0008_add_nickname.down.sql",
        "ALTER TABLE users DROP COLUMN nickname;\n",
    );
    h.handle(event("update", &s, json!({})), None)
        .await
        .unwrap();
    let body = last(&s).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["Data"]["SchemaVersion"], "8");
}

#[tokio::test]
async fn postgres_an_unmarked_rename_is_refused() {
    let db = TestDb::postgres("grename").await;
    let folder = Folder::empty();
    folder.write(
        "1_users.sql",
        "CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT);\n",
    );
    let s = server().await;
    let h = handler(&db, folder.path());
    h.handle(event("create", &s, json!({})), None)
        .await
        .unwrap();
    assert_eq!(last(&s).await["Status"], "SUCCESS");
    folder.write(
        "2_rename.sql",
        "ALTER TABLE users RENAME COLUMN name TO full_name;\n",
    );
    h.handle(event("update", &s, json!({})), None)
        .await
        .unwrap();
    let body = last(&s).await;
    assert_eq!(body["Status"], "FAILED", "{body}");
    assert!(
        reason(&body).contains(
            "`2_rename` line 1: breaking[rename-column]: RENAME COLUMN users.name TO full_name"
        ),
        "{body}"
    );
    assert_eq!(db.history().await, vec![(1, true)]);
}

#[tokio::test]
async fn a_rollback_across_an_irreversible_migration_reverts_what_it_can_and_succeeds_saying_where_it_stands(
) {
    let db = TestDb::mariadb("girrev").await;
    let folder = Folder::with_example();
    folder.write(
        "0007_audit_log.sql",
        "CREATE TABLE audit_log (id BIGINT PRIMARY KEY);\n",
    );
    folder.write(
        "0008_add_nickname.up.sql",
        "ALTER TABLE users ADD COLUMN nickname VARCHAR(40) NULL;\n",
    );
    folder.write(
        "0008_add_nickname.down.sql",
        "ALTER TABLE users DROP COLUMN nickname;\n",
    );
    let s = server().await;
    let h = handler(&db, folder.path());
    h.handle(event("create", &s, json!({})), None)
        .await
        .unwrap();
    assert_eq!(last(&s).await["Data"]["SchemaVersion"], "8");

    // CloudFormation rolls back to the properties of the release before.
    let mut ev = event("update", &s, json!({"TargetVersion": "5"}));
    ev["OldResourceProperties"]["TargetVersion"] = json!("8");
    for attempt in 0..2 {
        h.handle(ev.clone(), None).await.unwrap();
        let body = last(&s).await;
        assert_eq!(
            body["Status"], "SUCCESS",
            "a rollback must not fail: {body}"
        );
        assert_eq!(body["Data"]["SchemaVersion"], "7", "{body}");
        assert_eq!(
            body["Data"]["Reverted"],
            if attempt == 0 { "1" } else { "0" }
        );
        let r = reason(&body);
        assert!(r.contains("the revert to version 5 STOPPED at `0007_audit_log`, which is irreversible (no down script): the schema stays at version 7"), "{r}");
        if attempt == 0 {
            assert!(r.starts_with("reverted 0008_add_nickname"), "{r}");
        }
        assert_eq!(
            db.history().await,
            (1..=7).map(|v| (v, true)).collect::<Vec<_>>()
        );
        assert!(db.tables().await.contains(&"audit_log".to_string()));
    }
}
