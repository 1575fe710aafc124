//! Draining the running release through moto's Auto Scaling: two tagged
//! groups with instances (and one untagged, left alone), a breaking
//! migration that fails (capacity given back), one that succeeds (groups
//! stay at 0), a rollback (capacity given back), and one that fails after
//! its breaking statement ran (groups stay at 0). Capacities are read back
//! from moto; history rows from MariaDB.

pub mod kit;

use std::time::{Duration, Instant};

use kit::{capacity, event, group, handler, last, reason, server, Moto};
use schemagate::drain::{Capacity, Drainer};
use schemagate::props::Drain;
use serde_json::json;
use testkit::moto::rules;
use testkit::{Folder, TestDb};

const DRAIN: (&str, &str) = ("schemagate:drain", "shop-prod");

fn props(target: &str) -> serde_json::Value {
    json!({"TargetVersion": target, "DrainTagKey": DRAIN.0, "DrainTagValue": DRAIN.1})
}

async fn groups(asg: &aws_sdk_autoscaling::Client) {
    group(asg, "shop-web", 1, 4, 2, &[DRAIN, ("app", "shop")]).await;
    group(asg, "shop-worker", 2, 2, 2, &[DRAIN]).await;
    group(asg, "other-app", 1, 3, 2, &[("schemagate:drain", "other")]).await;
}

#[tokio::test]
async fn two_groups_are_drained_before_a_breaking_migration_and_given_back_when_it_fails() {
    let moto = Moto::start();
    let asg = moto.autoscaling().await;
    groups(&asg).await;
    assert_eq!(
        capacity(&asg, "shop-web").await,
        (1, 4, 2, 2, None),
        "moto runs the instances"
    );

    let db = TestDb::mariadb("drain").await;
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
    let h = handler(&db, folder.path()).with_autoscaling(asg.clone());
    h.handle(event("create", &s, props("7")), None)
        .await
        .unwrap();
    let body = last(&s).await;
    assert_eq!(body["Status"], "SUCCESS");
    assert!(
        !reason(&body).contains("drained"),
        "expand-only: no drain: {body}"
    );
    assert_eq!(capacity(&asg, "shop-web").await, (1, 4, 2, 2, None));

    // 1. A breaking migration that fails on its first statement: nothing of
    //    it ran, so the old release gets its capacity back.
    folder.write(
        "0008_drop_legacy_email.up.sql",
        "ALTER TABLE users DROP COLUMN legacy_email, DROP COLUMN no_such_column;\n",
    );
    folder.write(
        "0008_drop_legacy_email.down.sql",
        "ALTER TABLE users ADD COLUMN legacy_email VARCHAR(255) NULL;\n",
    );
    h.handle(event("update", &s, props("8")), None)
        .await
        .unwrap();
    let body = last(&s).await;
    assert_eq!(body["Status"], "FAILED", "{body}");
    let r = reason(&body);
    assert!(r.contains("failed at `0008_drop_legacy_email`"), "{r}");
    assert!(r.contains("no_such_column"), "the server's words: {r}");
    assert!(
        r.contains("Gave the capacity back to `shop-web` (min 1, max 4, desired 2), `shop-worker` (min 2, max 2, desired 2)"),
        "{r}"
    );
    assert_eq!(
        capacity(&asg, "shop-web").await,
        (1, 4, 2, 2, None),
        "restored, tag removed"
    );
    assert_eq!(capacity(&asg, "shop-worker").await, (2, 2, 2, 2, None));
    assert_eq!(
        capacity(&asg, "other-app").await,
        (1, 3, 2, 2, None),
        "another app's group is never touched"
    );
    assert_eq!(db.history().await.len(), 7);

    // 2. Fixed: drained, applied; the groups stay at 0 for the app stack's
    //    replacing update, with the old capacity in their tag.
    folder.write(
        "0008_drop_legacy_email.up.sql",
        "ALTER TABLE users DROP COLUMN legacy_email;\n",
    );
    h.handle(event("update", &s, props("8")), None)
        .await
        .unwrap();
    let body = last(&s).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let r = reason(&body);
    assert!(r.starts_with("applied 0008_drop_legacy_email"), "{r}");
    assert!(r.contains("before it, drained `shop-web` (min 1, max 4, desired 2), `shop-worker` (min 2, max 2, desired 2) to 0"), "{r}");
    assert!(
        r.contains("stay at 0 until the app stack's update replaces them"),
        "{r}"
    );
    assert_eq!(
        capacity(&asg, "shop-web").await,
        (0, 0, 0, 0, Some("min=1 max=4 desired=2".into()))
    );
    assert_eq!(
        capacity(&asg, "shop-worker").await,
        (0, 0, 0, 0, Some("min=2 max=2 desired=2".into()))
    );
    assert_eq!(capacity(&asg, "other-app").await, (1, 3, 2, 2, None));
    assert_eq!(db.history().await.len(), 8);

    // 3. CloudFormation rolls back: the down script brings the column back,
    //    and the old release its capacity.
    let mut rollback = event("update", &s, props("7"));
    rollback["OldResourceProperties"]["TargetVersion"] = json!("8");
    h.handle(rollback, None).await.unwrap();
    let body = last(&s).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["Data"]["SchemaVersion"], "7");
    assert!(reason(&body).contains("gave the capacity back to `shop-web` (min 1, max 4, desired 2), `shop-worker` (min 2, max 2, desired 2)"), "{body}");
    assert_eq!(capacity(&asg, "shop-web").await, (1, 4, 2, 2, None));
    assert_eq!(capacity(&asg, "shop-worker").await, (2, 2, 2, 2, None));
}

#[tokio::test]
async fn groups_stay_at_zero_when_the_breaking_statement_ran_before_the_failure() {
    let moto = Moto::start();
    let asg = moto.autoscaling().await;
    groups(&asg).await;
    let db = TestDb::mariadb("drainpart").await;
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
    let h = handler(&db, folder.path()).with_autoscaling(asg.clone());
    h.handle(event("create", &s, props("7")), None)
        .await
        .unwrap();

    // MariaDB commits the DROP; the INSERT then fails.
    folder.write(
        "0008_drop_legacy_email.up.sql",
        "ALTER TABLE users DROP COLUMN legacy_email;\nINSERT INTO no_such_table VALUES (1);\n",
    );
    folder.write("0008_drop_legacy_email.down.sql", "");
    h.handle(event("update", &s, props("8")), None)
        .await
        .unwrap();
    let body = last(&s).await;
    assert_eq!(body["Status"], "FAILED", "{body}");
    let r = reason(&body);
    assert!(r.contains("PARTLY applied"), "{r}");
    assert!(r.contains("stay at 0: `0008_drop_legacy_email (partly)` was applied, and the old release cannot run on this schema"), "{r}");
    assert_eq!(
        capacity(&asg, "shop-web").await,
        (0, 0, 0, 0, Some("min=1 max=4 desired=2".into()))
    );
    assert_eq!(
        capacity(&asg, "shop-worker").await,
        (0, 0, 0, 0, Some("min=2 max=2 desired=2".into()))
    );
    assert_eq!(db.history().await.last(), Some(&(8, false)));
}

#[tokio::test]
async fn a_drain_resumed_after_a_crash_keeps_the_recorded_capacity() {
    let moto = Moto::start();
    let asg = moto.autoscaling().await;
    groups(&asg).await;
    // A run recorded web's capacity, set it to 0 and died.
    asg.create_or_update_tags()
        .tags(
            aws_sdk_autoscaling::types::Tag::builder()
                .resource_id("shop-web")
                .resource_type("auto-scaling-group")
                .key(schemagate::drain::SAVED_TAG)
                .value("min=3 max=6 desired=3")
                .propagate_at_launch(false)
                .build(),
        )
        .send()
        .await
        .unwrap();
    asg.update_auto_scaling_group()
        .auto_scaling_group_name("shop-web")
        .min_size(0)
        .max_size(0)
        .desired_capacity(0)
        .send()
        .await
        .unwrap();

    let d =
        Drainer::new(asg.clone()).with_poll(Duration::from_millis(50), Duration::from_millis(200));
    let sel = Drain {
        tag_key: DRAIN.0.into(),
        tag_value: DRAIN.1.into(),
    };
    let drained = d
        .drain(&sel, Instant::now() + Duration::from_secs(20))
        .await
        .unwrap();
    let web = drained
        .groups
        .iter()
        .find(|g| g.name == "shop-web")
        .unwrap();
    assert!(web.resumed);
    assert_eq!(
        web.saved,
        Capacity {
            min: 3,
            max: 6,
            desired: 3
        },
        "not the 0 it has now"
    );
    assert_eq!(
        capacity(&asg, "shop-worker").await,
        (0, 0, 0, 0, Some("min=2 max=2 desired=2".into()))
    );

    let restored = d.restore(&sel).await.unwrap();
    assert_eq!(restored.len(), 2);
    assert_eq!(capacity(&asg, "shop-web").await, (3, 6, 3, 3, None));
    assert_eq!(capacity(&asg, "shop-worker").await, (2, 2, 2, 2, None));
}

#[tokio::test]
async fn instances_that_do_not_stop_time_out_and_the_capacity_comes_back() {
    let moto = Moto::start();
    let asg = moto.autoscaling().await;
    groups(&asg).await;
    // Scale-in protection keeps an instance running whatever the capacity.
    let out = asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names("shop-worker")
        .send()
        .await
        .unwrap();
    let id = out.auto_scaling_groups()[0].instances()[0]
        .instance_id()
        .unwrap()
        .to_string();
    asg.set_instance_protection()
        .auto_scaling_group_name("shop-worker")
        .instance_ids(&id)
        .protected_from_scale_in(true)
        .send()
        .await
        .unwrap();

    let d =
        Drainer::new(asg.clone()).with_poll(Duration::from_millis(50), Duration::from_millis(200));
    let sel = Drain {
        tag_key: DRAIN.0.into(),
        tag_value: DRAIN.1.into(),
    };
    let err = d
        .drain(&sel, Instant::now() + Duration::from_secs(1))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "{id} in shop-worker (InService, protected from scale-in)"
        )),
        "{err}"
    );
    d.restore(&sel).await.unwrap();
    assert_eq!(
        capacity(&asg, "shop-worker").await.0..=capacity(&asg, "shop-worker").await.2,
        2..=2
    );
    assert_eq!(capacity(&asg, "shop-web").await, (1, 4, 2, 2, None));
}

// The maintenance page: a listener rule answering 503 with the page's HTML
// while the groups are at 0, gone once the old capacity is back or the app
// stack's resource says the new groups are in service. Rules, capacities
// and history are read back from moto and MariaDB.

const PAGE: &str = "<!doctype html><title>Back soon</title><h1>Upgrading the shop</h1>";

fn page_props(target: &str, listener: &str) -> serde_json::Value {
    let mut p = props(target);
    p["MaintenanceListenerArn"] = json!(listener);
    p["MaintenanceHtml"] = json!(PAGE);
    p
}

/// The app stack's resource, after the new groups.
fn end_props(listener: &str, version: &str) -> serde_json::Value {
    json!({"Action": "end-maintenance", "MaintenanceListenerArn": listener, "SchemaVersion": version})
}

/// 0007 adds `legacy_email` (expand) and is applied; `0008` as given drops
/// it (breaking).
fn drop_folder(drop_sql: &str) -> Folder {
    let folder = Folder::with_example();
    folder.write(
        "0007_add_legacy_email.up.sql",
        "ALTER TABLE users ADD COLUMN legacy_email VARCHAR(255) NULL;\n",
    );
    folder.write(
        "0007_add_legacy_email.down.sql",
        "ALTER TABLE users DROP COLUMN legacy_email;\n",
    );
    folder.write("0008_drop_legacy_email.up.sql", drop_sql);
    folder.write(
        "0008_drop_legacy_email.down.sql",
        "ALTER TABLE users ADD COLUMN legacy_email VARCHAR(255) NULL;\n",
    );
    folder
}

/// The 503 rule with the page, tagged by schemagate, at priority 1.
fn is_page(r: &testkit::moto::RuleSeen) -> bool {
    r.0 == 1
        && r.1 == "503"
        && r.2 == "text/html"
        && r.3 == PAGE
        && r.4
            .iter()
            .any(|(k, v)| k == schemagate::drain::PAGE_TAG && v.parse::<u64>().is_ok())
}

#[tokio::test]
async fn the_maintenance_page_is_up_while_the_groups_are_at_zero_and_goes_when_the_new_groups_serve(
) {
    let moto = Moto::start();
    let asg = moto.autoscaling().await;
    let elb = moto.elbv2().await;
    groups(&asg).await;
    let listener = moto.listener("shop").await.unwrap();
    let db = TestDb::mariadb("drainpage").await;
    let folder = drop_folder("ALTER TABLE users DROP COLUMN legacy_email;\n");
    let s = server().await;
    let h = handler(&db, folder.path())
        .with_autoscaling(asg.clone())
        .with_elbv2(elb.clone());
    h.handle(event("create", &s, page_props("7", &listener)), None)
        .await
        .unwrap();
    assert_eq!(last(&s).await["Status"], "SUCCESS");
    assert!(
        rules(&elb, &listener).await.is_empty(),
        "expand only: no drain, no page"
    );

    for delivery in 1..=2 {
        h.handle(event("update", &s, page_props("8", &listener)), None)
            .await
            .unwrap();
        let body = last(&s).await;
        assert_eq!(body["Status"], "SUCCESS", "{body}");
        let seen = rules(&elb, &listener).await;
        assert_eq!(
            seen.len(),
            1,
            "delivery {delivery}: one rule, never two: {seen:?}"
        );
        assert!(is_page(&seen[0]), "{seen:?}");
        assert_eq!(
            capacity(&asg, "shop-web").await,
            (0, 0, 0, 0, Some("min=1 max=4 desired=2".into()))
        );
        if delivery == 1 {
            let r = reason(&body);
            assert!(r.contains(&format!("the maintenance page (503) is up on listener `{listener}` at priority 1, until the app stack's maintenance resource takes it down once the new groups are in service")), "{r}");
        }
    }
    assert_eq!(db.history().await.len(), 8);

    // The app stack's resource, once the new groups are in service.
    h.handle(event("update", &s, end_props(&listener, "8")), None)
        .await
        .unwrap();
    let body = last(&s).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let r = reason(&body);
    assert!(
        r.starts_with(&format!(
            "the maintenance page on listener `{listener}` was up for "
        )) && r.ends_with(" s and is down"),
        "{r}"
    );
    assert!(rules(&elb, &listener).await.is_empty());
    // Delivered again, or the app stack deleted: nothing left to take down.
    h.handle(event("delete", &s, end_props(&listener, "8")), None)
        .await
        .unwrap();
    let body = last(&s).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(reason(&body), "deleted: no maintenance page was up");
    assert_eq!(db.history().await.len(), 8, "the database is not touched");
}

#[tokio::test]
async fn on_failure_the_page_goes_when_the_old_capacity_comes_back() {
    let moto = Moto::start();
    let asg = moto.autoscaling().await;
    let elb = moto.elbv2().await;
    groups(&asg).await;
    let listener = moto.listener("shop").await.unwrap();
    let db = TestDb::mariadb("drainpagefail").await;
    // The breaking migration waits a moment, then fails on its first DDL.
    let folder = drop_folder(
        "SELECT SLEEP(1.5);\nALTER TABLE users DROP COLUMN legacy_email, DROP COLUMN no_such_column;\n",
    );
    let s = server().await;
    let h = handler(&db, folder.path())
        .with_autoscaling(asg.clone())
        .with_elbv2(elb.clone());
    h.handle(event("create", &s, page_props("7", &listener)), None)
        .await
        .unwrap();
    assert_eq!(last(&s).await["Status"], "SUCCESS");

    // Watch moto while the run goes on: the page and groups at 0 together.
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (asg, elb, listener, done) = (asg.clone(), elb.clone(), listener.clone(), done.clone());
        tokio::spawn(async move {
            let mut seen_together = false;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let page = rules(&elb, &listener).await.iter().any(is_page);
                let at_zero = capacity(&asg, "shop-web").await.2 == 0;
                seen_together |= page && at_zero;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            seen_together
        })
    };
    h.handle(event("update", &s, page_props("8", &listener)), None)
        .await
        .unwrap();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(
        watcher.await.unwrap(),
        "the page was up while the groups were at 0"
    );
    let body = last(&s).await;
    assert_eq!(body["Status"], "FAILED", "{body}");
    let r = reason(&body);
    assert!(
        r.contains("Gave the capacity back to `shop-web` (min 1, max 4, desired 2)"),
        "{r}"
    );
    assert!(
        r.contains(&format!(
            "; the maintenance page on listener `{listener}` was up for "
        )),
        "{r}"
    );
    assert!(rules(&elb, &listener).await.is_empty(), "the page is gone");
    assert_eq!(capacity(&asg, "shop-web").await, (1, 4, 2, 2, None));
    // Its SELECT ran before the failing DDL: recorded as failed, part way.
    assert_eq!(db.history().await.last(), Some(&(8, false)));
}

#[tokio::test]
async fn an_app_rule_at_the_pages_priority_stops_the_deploy_before_anything_is_drained() {
    let moto = Moto::start();
    let asg = moto.autoscaling().await;
    let elb = moto.elbv2().await;
    groups(&asg).await;
    let listener = moto.listener("shop").await.unwrap();
    use aws_sdk_elasticloadbalancingv2::types::{
        Action, ActionTypeEnum, FixedResponseActionConfig, PathPatternConditionConfig,
        RuleCondition,
    };
    elb.create_rule()
        .listener_arn(&listener)
        .priority(1)
        .conditions(
            RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(
                    PathPatternConditionConfig::builder()
                        .values("/api/*")
                        .build(),
                )
                .build(),
        )
        .actions(
            Action::builder()
                .r#type(ActionTypeEnum::FixedResponse)
                .fixed_response_config(
                    FixedResponseActionConfig::builder()
                        .status_code("200")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let db = TestDb::mariadb("drainpageprio").await;
    let folder = drop_folder("ALTER TABLE users DROP COLUMN legacy_email;\n");
    let s = server().await;
    let h = handler(&db, folder.path())
        .with_autoscaling(asg.clone())
        .with_elbv2(elb.clone());
    h.handle(event("create", &s, page_props("7", &listener)), None)
        .await
        .unwrap();
    h.handle(event("update", &s, page_props("8", &listener)), None)
        .await
        .unwrap();
    let body = last(&s).await;
    assert_eq!(body["Status"], "FAILED", "{body}");
    let r = reason(&body);
    assert!(
        r.contains("the maintenance page could not be put up first: priority 1 on listener"),
        "{r}"
    );
    assert!(r.ends_with("Nothing was drained or applied"), "{r}");
    assert_eq!(
        capacity(&asg, "shop-web").await,
        (1, 4, 2, 2, None),
        "not drained"
    );
    let seen = rules(&elb, &listener).await;
    assert_eq!(seen.len(), 1, "only the app's rule: {seen:?}");
    assert_eq!(db.history().await.len(), 7);
}

#[tokio::test]
async fn groups_gated_with_a_rolling_update_refuse_a_drain_and_take_an_expand() {
    let moto = Moto::start();
    let asg = moto.autoscaling().await;
    groups(&asg).await;
    let db = TestDb::mariadb("drainrolling").await;
    let folder = drop_folder("ALTER TABLE users DROP COLUMN legacy_email;\n");
    let s = server().await;
    let h = handler(&db, folder.path()).with_autoscaling(asg.clone());
    let rolling = |target: &str| {
        let mut p = props(target);
        p["RollingUpdate"] = json!("true");
        p
    };
    h.handle(event("create", &s, rolling("6")), None)
        .await
        .unwrap();
    h.handle(event("update", &s, rolling("7")), None)
        .await
        .unwrap();
    let body = last(&s).await;
    assert_eq!(
        body["Status"], "SUCCESS",
        "an expand needs no drain: {body}"
    );
    h.handle(event("update", &s, rolling("8")), None)
        .await
        .unwrap();
    let body = last(&s).await;
    assert_eq!(body["Status"], "FAILED", "{body}");
    let r = reason(&body);
    assert!(r.contains("0008_drop_legacy_email must run after the old release is stopped, but the app's groups are gated with a rolling update"), "{r}");
    assert!(r.contains("-- schemagate: online"), "{r}");
    assert_eq!(
        capacity(&asg, "shop-web").await,
        (1, 4, 2, 2, None),
        "not drained"
    );
    assert_eq!(db.history().await.len(), 7);
}
