//! schemagate's side of the tests' harness: what needs the crate's own
//! types or its binary, so it cannot live in the testkit (`tests/support`,
//! which must not depend on `schemagate`: a second copy of the crate would
//! have types that do not match the one under test). Everything else — the
//! databases, folders, moto, the ResponseURL, CloudFormation's events — is
//! the testkit's.
//!
//! Test files declare it `pub mod kit;`: its items are then an interface,
//! as a library's are, and a test that uses a few of them leaves no dead
//! code behind.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use schemagate::db::{Conn, ConnectOptions, SslMode};
use schemagate::handler::{Config, Handler};
use schemagate::migrate::MigrationSet;
use schemagate::secrets::{SecretError, SecretSource};
use serde_json::{json, Value};
use testkit::{Folder, ResponseUrl, TestDb};

pub use testkit::cfn::{last, reason, server};
pub use testkit::moto::group;
pub use testkit::Moto;

/// The CLI binary of this crate, run as a user runs it, with no database
/// or folder coming from the environment.
pub fn schemagate(args: &[&str]) -> Output {
    testkit::cli::run(env!("CARGO_BIN_EXE_schemagate"), args)
}

/// The engine's connection to the testkit's database.
pub trait Connect {
    /// A connection of the engine to the database, as its administrator.
    fn conn(&self) -> impl Future<Output = Conn>;
}

impl Connect for TestDb {
    async fn conn(&self) -> Conn {
        let options = ConnectOptions::from_url(&self.url()).unwrap();
        Conn::connect(&options, Duration::ZERO).await.unwrap()
    }
}

/// The engine's migration set from the testkit's folder.
pub trait Load {
    /// The folder's migrations, as the engine loads them.
    fn set(&self) -> MigrationSet;
}

impl Load for Folder {
    fn set(&self) -> MigrationSet {
        MigrationSet::load(self.dir.path()).unwrap()
    }
}

pub const ARN: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf";

/// The secret as Secrets Manager returns it for [`ARN`]; any other ARN is
/// not found.
pub struct Fixed(pub String);

impl SecretSource for Fixed {
    fn get<'a>(
        &'a self,
        arn: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<String, SecretError>> + Send + 'a>> {
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

/// The handler for a database as its administrator, migrations from `dir`.
pub fn handler(db: &TestDb, dir: PathBuf) -> Handler {
    let config = Config {
        migrations_dir: dir,
        ssl_mode: SslMode::Disabled,
        ssl_ca: None,
        budget: Duration::from_secs(60),
        lock_wait: Duration::from_secs(5),
        response_attempts: 3,
    };
    Handler::new(config, Arc::new(Fixed(db.secret().to_string())))
}

/// A CloudFormation request (fixture `create`, `update` or `delete` in
/// `lambda/tests/fixtures/`) whose ResponseURL points at `server`, with
/// these properties.
pub fn event(name: &str, server: &ResponseUrl, props: Value) -> Value {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}.json",
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

/// `(min, max, desired, running instances, saved-capacity tag)` of an Auto
/// Scaling group, read back from moto.
pub async fn capacity(
    asg: &aws_sdk_autoscaling::Client,
    name: &str,
) -> (i32, i32, i32, usize, Option<String>) {
    testkit::moto::capacity(asg, name, schemagate::drain::SAVED_TAG).await
}
