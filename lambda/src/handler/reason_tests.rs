//! Each shape of Reason, whole.

use std::time::Duration;

use super::*;
use crate::db::ConnectOptions;
use crate::drain::{Capacity, GroupDrain};
use crate::migrate::{self, Direction, Step, StepOutcome, Stopped};
use crate::props::PropsError;

fn target() -> ConnectOptions {
    ConnectOptions::from_url("mariadb://root@127.0.0.1:3306/app").unwrap()
}

fn step(version: i64, name: &str, direction: Direction) -> StepOutcome {
    StepOutcome {
        step: Step {
            version,
            name: name.into(),
            direction,
            stored_down: false,
        },
        duration: Duration::from_millis(5),
    }
}

fn report(steps: Vec<StepOutcome>, to: i64) -> migrate::Report {
    migrate::Report {
        from: Some(6),
        to,
        steps,
        elapsed: Duration::from_millis(12),
        stopped: None,
        adopted: None,
    }
}

fn cap(min: i32, max: i32, desired: i32) -> Capacity {
    Capacity { min, max, desired }
}

fn drained() -> Drained {
    Drained {
        groups: vec![
            GroupDrain {
                name: "web".into(),
                saved: cap(1, 4, 2),
                resumed: false,
            },
            GroupDrain {
                name: "worker".into(),
                saved: cap(2, 2, 2),
                resumed: false,
            },
        ],
        waited: Duration::from_secs(3),
        page: None,
    }
}

fn restored() -> Vec<Restored> {
    vec![Restored {
        name: "web".into(),
        capacity: cap(1, 4, 2),
    }]
}

fn api_error() -> DrainError {
    DrainError::Api {
        action: "change the capacity",
        group: Some("web".into()),
        message: "AccessDenied".into(),
    }
}

fn migrated(r: migrate::Report, done: Done) -> String {
    success(&Outcome {
        target: target(),
        report: r,
        done,
    })
}

const APPLIED: &str = "applied 0007_drop in 12 ms; schema at version 7";

#[test]
fn a_run_says_what_it_did_and_what_became_of_the_groups() {
    let plain = Done::Migrated {
        drained: None,
        after_revert: None,
        page_down: None,
        allowed: None,
    };
    assert_eq!(
        migrated(report(vec![], 6), plain),
        "already at version 6; nothing to do"
    );
    let applied = || report(vec![step(7, "0007_drop", Direction::Up)], 7);
    let with_drain = Done::Migrated {
        drained: Some(drained()),
        after_revert: None,
        page_down: None,
        allowed: Some("0007_drop".into()),
    };
    assert_eq!(migrated(applied(), with_drain), format!("{APPLIED}; before it, drained `web` (min 1, max 4, desired 2), `worker` (min 2, max 2, desired 2) to 0 in 3 s. They stay at 0 until the app stack's update replaces them with the new release (the old capacity is kept in their tag `schemagate:saved-capacity`); AllowBreaking=true: applied 0007_drop with the old release still running"));

    let reverted = || report(vec![step(7, "0007_drop", Direction::Down)], 6);
    let revert = |r: AfterRevert| Done::Migrated {
        drained: None,
        after_revert: Some(r),
        page_down: None,
        allowed: None,
    };
    let back = "reverted 0007_drop in 12 ms; schema at version 6";
    assert_eq!(
        migrated(reverted(), revert(AfterRevert::Restored(restored()))),
        format!("{back}; gave the capacity back to `web` (min 1, max 4, desired 2): the old release runs on the old schema again")
    );
    assert_eq!(
        migrated(reverted(), revert(AfterRevert::Restored(vec![]))),
        back
    );
    assert_eq!(
        migrated(reverted(), revert(AfterRevert::NotRestored(api_error()))),
        format!("{back}; {}", api_error())
    );
}

#[test]
fn a_revert_that_stops_keeps_the_groups_it_must() {
    let mut r = report(vec![step(8, "0008_add", Direction::Down)], 7);
    r.stopped = Some(Stopped {
        requested: 5,
        name: "0007_audit".into(),
        version: 7,
    });
    let kept = |still: StillDrained| Done::Migrated {
        drained: None,
        after_revert: Some(AfterRevert::Kept {
            blocking: vec!["0006_drop".into(), "0007_audit".into()],
            still,
        }),
        page_down: None,
        allowed: None,
    };
    let summary = r.summary();
    assert_eq!(
        migrated(r.clone(), kept(Ok(vec!["web".into()]))),
        format!("{summary}; the drained groups `web` stay at 0, since the old release may not run on this schema: `0006_drop`, `0007_audit` stays applied and breaks the old release")
    );
    assert_eq!(migrated(r.clone(), kept(Ok(vec![]))), summary);
    assert_eq!(
        migrated(r, kept(Err(api_error()))),
        format!("{summary}; could not check the drained groups: {}: `0006_drop`, `0007_audit` stays applied and breaks the old release", api_error())
    );
}

#[test]
fn on_rollback_keep_says_where_the_schema_stays() {
    let keep = |still| Done::Kept {
        at: 8,
        requested: 5,
        still_drained: still,
    };
    let text = "OnRollback=keep: the schema stays at version 8 (target 5); no down script was run";
    assert_eq!(migrated(report(vec![], 8), keep(None)), text);
    assert_eq!(migrated(report(vec![], 8), keep(Some(Ok(vec![])))), text);
    assert_eq!(
        migrated(
            report(vec![], 8),
            keep(Some(Ok(vec!["web".into(), "worker".into()])))
        ),
        format!("{text}; the drained groups `web`, `worker` stay at 0, since the old release may not run on this schema")
    );
}

#[test]
fn failures_before_and_after_a_drain() {
    let e = || {
        crate::Error::Migrate(crate::migrate::Error::Refused(
            "refused before running anything: x".into(),
        ))
    };
    assert_eq!(
        failure(&DeployError::Properties(PropsError::MissingSecretArn)),
        "invalid properties: property `SecretArn` is required: the ARN of the database's RDS secret"
    );
    assert!(failure(&DeployError::Bundle(e()))
        .starts_with("the function's bundled migrations: refused"));
    assert_eq!(failure(&DeployError::Secret(e())), e().to_string());
    let run = DeployError::Run {
        target: target(),
        error: e(),
    };
    assert_eq!(run.to_string(), e().to_string());
    assert_eq!(
        run.target().map(ToString::to_string),
        Some(target().to_string())
    );
    let after = |groups| DeployError::AfterDrain {
        target: target(),
        error: e(),
        drained: drained(),
        groups,
        page_down: None,
    };
    assert_eq!(
        failure(&after(AfterFailure::Restored(restored()))),
        format!("{}. Gave the capacity back to `web` (min 1, max 4, desired 2): no breaking change was applied, so the old release runs on this schema again", e())
    );
    assert_eq!(
        failure(&after(AfterFailure::NotRestored(api_error()))),
        format!("{}. The groups drained before it (`web` (min 1, max 4, desired 2), `worker` (min 2, max 2, desired 2)) are still at 0: {}", e(), api_error())
    );
    assert_eq!(
        failure(&after(AfterFailure::Kept { applied: vec!["0008_drop (partly)".into()] })),
        format!("{}. The drained groups `web` (min 1, max 4, desired 2), `worker` (min 2, max 2, desired 2) stay at 0: `0008_drop (partly)` was applied, and the old release cannot run on this schema. Their capacity is kept in tag `schemagate:saved-capacity`; a CloudFormation rollback reverts the schema with the down scripts and gives it back, or fix the migration and deploy again", e())
    );
}

#[test]
fn a_failed_drain_refuses_saying_what_came_back() {
    let sel = Drain {
        tag_key: "schemagate:drain".into(),
        tag_value: "shop".into(),
    };
    let refused = |restored| {
        drain_refused(&DrainRefused {
            migrations: vec!["0008_drop".into(), "0009_narrow".into()],
            sel: &sel,
            error: api_error(),
            restored,
            page_down: None,
        })
    };
    let head = format!("refused before running anything: 0008_drop, 0009_narrow must run after the old release is stopped, but draining the groups tagged `schemagate:drain=shop` failed: {}.", api_error());
    assert_eq!(refused(Ok(vec![])), format!("{head} Nothing was applied"));
    assert_eq!(
        refused(Ok(restored())),
        format!(
            "{head} Gave the capacity back to `web` (min 1, max 4, desired 2). Nothing was applied"
        )
    );
    assert_eq!(
        refused(Err(api_error())),
        format!("{head} {}. Nothing was applied", api_error())
    );
}

#[test]
fn the_watchdog_names_what_was_in_progress() {
    let mut t = TimedOut {
        elapsed: Duration::from_millis(4_600),
        left: Duration::from_millis(400),
        phase: "reading secret `arn:aws:secretsmanager:x`".into(),
        running: None,
        done: vec![],
        drained: None,
    };
    assert_eq!(timed_out(&t), "timed out after 5 s, 0 s before the function's deadline, while reading secret `arn:aws:secretsmanager:x`; nothing else was changed");
    t.done = vec!["1_fast".into()];
    t.running = Some(("2_slow".into(), Duration::from_secs(3)));
    t.drained = Some("`web` (min 1, max 4, desired 2)".into());
    let text = timed_out(&t);
    assert_eq!(text, "timed out after 5 s, 0 s before the function's deadline: applied 1_fast before it; `2_slow` was still running after 3 s. The server stops the statement (max_statement_time); if it is cut part way the migration is recorded as failed. Give the function a longer timeout or run this migration outside the deploy (`schemagate up`). The Auto Scaling groups `web` (min 1, max 4, desired 2) were drained to 0 and stay there (capacity kept in their tag `schemagate:saved-capacity`)");
    let run = DeployError::Run {
        target: target(),
        error: crate::Error::Migrate(crate::migrate::Error::Refused("stopped".into())),
    };
    assert_eq!(
        then_stopped(&text, &run),
        format!("{text}. The run then stopped: stopped")
    );
}

#[test]
fn the_protocol_texts() {
    assert_eq!(DELETED, "delete leaves the schema and its data in place");
    assert_eq!(
        malformed("missing field `StackId`"),
        "malformed CloudFormation request: missing field `StackId`"
    );
    assert_eq!(
        panicked("boom"),
        "internal error in schemagate (boom); please report it with the function's log"
    );
}
