//! Shared by `gate.rs` and `drain.rs`: CloudFormation events answered to a
//! local ResponseURL, and moto's Auto Scaling on a port of its own.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_autoscaling::types::Tag;
use schemagate::db::Kind;
use schemagate::handler::{Config, Handler};
use schemagate::secrets::{SecretError, SecretSource};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[allow(unused_imports)]
pub use crate::common::Moto;
use crate::common::TestDb;

pub const ARN: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf";

/// The secret as Secrets Manager returns it for [`ARN`]; any other ARN is
/// not found.
pub struct Fixed(pub String);

impl SecretSource for Fixed {
    fn get<'a>(
        &'a self,
        arn: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, SecretError>> + Send + 'a>>
    {
        Box::pin(async move {
            if arn == ARN {
                Ok(self.0.clone())
            } else {
                Err(SecretError::Fetch {
                    arn: arn.into(),
                    message: "ResourceNotFoundException: Secrets Manager can't find the specified secret.".into(),
                })
            }
        })
    }
}

pub fn handler(db: &TestDb, dir: PathBuf) -> Handler {
    let secret = match db.kind {
        Kind::MariaDb => {
            json!({"engine": "mariadb", "host": "127.0.0.1", "port": 3306, "username": "root", "password": "", "dbname": db.name})
        }
        Kind::Postgres => {
            json!({"engine": "postgres", "host": "127.0.0.1", "port": 5432, "username": "postgres", "password": "", "dbname": db.name})
        }
    };
    let config = Config {
        migrations_dir: dir,
        ssl_mode: schemagate::db::SslMode::Disabled,
        ssl_ca: None,
        budget: Duration::from_secs(60),
        lock_wait: Duration::from_secs(5),
        response_attempts: 3,
    };
    Handler::new(config, Arc::new(Fixed(secret.to_string())))
}

/// A CloudFormation request (fixture `create`, `update` or `delete`) whose
/// ResponseURL points at `server`, with these properties.
pub fn event(name: &str, server: &MockServer, props: Value) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/../tests/fixtures/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["ResponseURL"] = json!(format!(
        "{}/response?X-Amz-Signature=topsecretsig&X-Amz-Credential=AKIA",
        server.uri()
    ));
    let mut p = json!({"ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:f", "SecretArn": ARN});
    for (k, val) in props.as_object().unwrap() {
        p[k] = val.clone();
    }
    v["ResourceProperties"] = p;
    v
}

pub async fn server() -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/response"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&s)
        .await;
    s
}

/// The last body PUT to the ResponseURL.
pub async fn last(s: &MockServer) -> Value {
    let r = s.received_requests().await.unwrap();
    let put = r
        .iter()
        .rev()
        .find(|r| r.method.as_str() == "PUT")
        .expect("a response was PUT");
    assert!(put.body.len() <= 4096);
    serde_json::from_slice(&put.body).expect("JSON")
}

pub fn reason(body: &Value) -> &str {
    body["Reason"].as_str().unwrap_or_default()
}

/// An Auto Scaling group in moto, running `desired` instances.
pub async fn group(
    asg: &aws_sdk_autoscaling::Client,
    name: &str,
    min: i32,
    max: i32,
    desired: i32,
    tags: &[(&str, &str)],
) {
    let lc = format!("{name}-lc");
    asg.create_launch_configuration()
        .launch_configuration_name(&lc)
        .image_id("ami-12c6146b")
        .instance_type("t3.micro")
        .send()
        .await
        .unwrap();
    let mut req = asg
        .create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_configuration_name(&lc)
        .min_size(min)
        .max_size(max)
        .desired_capacity(desired)
        .availability_zones("us-east-1a");
    for (k, v) in tags {
        req = req.tags(
            Tag::builder()
                .resource_id(name)
                .resource_type("auto-scaling-group")
                .key(*k)
                .value(*v)
                .propagate_at_launch(true)
                .build(),
        );
    }
    req.send().await.unwrap();
}

/// `(min, max, desired, running instances, saved-capacity tag)` read back from moto.
pub async fn capacity(
    asg: &aws_sdk_autoscaling::Client,
    name: &str,
) -> (i32, i32, i32, usize, Option<String>) {
    let out = asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .unwrap();
    let g = &out.auto_scaling_groups()[0];
    let running = g
        .instances()
        .iter()
        .filter(|i| i.lifecycle_state().map(|s| s.as_str()) != Some("Terminated"))
        .count();
    let tag = g
        .tags()
        .iter()
        .find(|t| t.key() == Some(schemagate::drain::SAVED_TAG))
        .and_then(|t| t.value())
        .map(str::to_string);
    (
        g.min_size().unwrap(),
        g.max_size().unwrap(),
        g.desired_capacity().unwrap(),
        running,
        tag,
    )
}
