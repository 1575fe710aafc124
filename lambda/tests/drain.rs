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
