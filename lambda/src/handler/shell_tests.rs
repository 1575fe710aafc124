//! The shell's promises, without a database: a panic is answered FAILED,
//! the watchdog answers before the deadline, and each request gets exactly
//! one PUT. (`lambda/tests/handler.rs` covers them end to end.)

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::ResponseUrl;

use super::*;
use crate::db::SslMode;
use crate::handler::Config;
use crate::secrets::{SecretError, SecretSource};

/// A secret source that panics, or never answers.
enum Broken {
    Panics,
    Hangs,
}

impl SecretSource for Broken {
    fn get<'a>(
        &'a self,
        _arn: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<String, SecretError>> + Send + 'a>> {
        Box::pin(async move {
            match self {
                Broken::Panics => panic!("boom"),
                Broken::Hangs => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    unreachable!("the watchdog answers first")
                }
            }
        })
    }
}

fn handler(secrets: Broken, dir: &std::path::Path) -> Handler {
    let config = Config {
        migrations_dir: dir.to_path_buf(),
        ssl_mode: SslMode::Disabled,
        ssl_ca: None,
        budget: Duration::from_secs(60),
        lock_wait: Duration::from_secs(1),
        response_attempts: 2,
    };
    Handler::new(config, Arc::new(secrets))
}

fn event(kind: &str, server: &ResponseUrl) -> Value {
    let mut v = json!({
        "RequestType": kind,
        "ResponseURL": format!("{}/response?X-Amz-Signature=sig", server.uri()),
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/Data/1",
        "RequestId": "r-1",
        "ResourceType": "Custom::SchemaMigrations",
        "LogicalResourceId": "Schema",
        "ResourceProperties": {"SecretArn": "arn:aws:secretsmanager:eu-west-1:1:secret:db"}
    });
    if kind != "Create" {
        v["PhysicalResourceId"] = json!("schemagate:mariadb://db:3306/app");
    }
    if kind == "Update" {
        v["OldResourceProperties"] = json!({});
    }
    v
}

async fn server() -> ResponseUrl {
    ResponseUrl::accepting()
}

/// The bodies PUT so far.
async fn puts(s: &ResponseUrl) -> Vec<Value> {
    s.puts()
        .iter()
        .map(|r| serde_json::from_str(&r.text()).unwrap())
        .collect()
}

#[tokio::test]
async fn a_panic_is_answered_failed_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = server().await;
    let r = handler(Broken::Panics, dir.path())
        .handle(event("Create", &s), None)
        .await
        .unwrap();
    assert_eq!(r.status, cfn::Status::Failed);
    let all = puts(&s).await;
    assert_eq!(all.len(), 1, "exactly one PUT");
    assert_eq!(
        all[0]["Reason"],
        "internal error in schemagate (boom); please report it with the function's log"
    );
    assert_eq!(all[0]["PhysicalResourceId"], "schemagate:unresolved:Schema");
}

#[tokio::test]
async fn the_watchdog_answers_once_before_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let s = server().await;
    let started = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(3);
    handler(Broken::Hangs, dir.path())
        .handle(event("Update", &s), Some(deadline))
        .await
        .unwrap();
    assert!(Instant::now() < deadline, "after {:?}", started.elapsed());
    // The hanging work is dropped with the answer: nothing more is PUT.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = puts(&s).await;
    assert_eq!(all.len(), 1, "exactly one PUT");
    let reason = all[0]["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with("timed out after 1 s, 2 s before the function's deadline, while reading secret `arn:aws:secretsmanager:eu-west-1:1:secret:db`; nothing else was changed"),
        "{reason}"
    );
    assert_eq!(
        all[0]["PhysicalResourceId"], "schemagate:mariadb://db:3306/app",
        "an Update keeps its id"
    );
}

#[tokio::test]
async fn a_delete_is_answered_at_once_whatever_its_properties() {
    let dir = tempfile::tempdir().unwrap();
    let s = server().await;
    let mut ev = event("Delete", &s);
    ev["ResourceProperties"] = json!({"TargetVerison": 1});
    handler(Broken::Panics, dir.path())
        .handle(ev, None)
        .await
        .unwrap();
    let all = puts(&s).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["Status"], "SUCCESS");
    assert_eq!(all[0]["Reason"], reason::DELETED);
}
