//! AWS played by moto's server: Secrets Manager holds the RDS secret, S3 the
//! bucket whose presigned PUT URL is the `ResponseURL`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::presigning::PresigningConfig;

use crate::process::{free_port, tail, wait_for, Proc};
use crate::require;

pub const REGION: &str = "us-east-1";
/// moto's default account.
pub const ACCOUNT: &str = "123456789012";
const KEY_ID: &str = "testing";
const SECRET_KEY: &str = "testing";

pub struct Moto {
    proc: Proc,
    pub endpoint: String,
    s3: aws_sdk_s3::Client,
    secrets: aws_sdk_secretsmanager::Client,
}

impl Moto {
    /// Start `moto_server` on a free port; its log goes to `dir/moto.log`.
    pub async fn start(dir: &Path) -> Result<Moto> {
        let exe = require::tool("moto_server")?;
        let log = dir.join("moto.log");
        let mut last = anyhow!("moto did not start");
        for _ in 0..3 {
            let port = free_port()?;
            let mut cmd = Command::new(&exe);
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
            let mut proc = Proc::spawn("moto_server", cmd, &log)?;
            let endpoint = format!("http://127.0.0.1:{port}");
            let http = reqwest::Client::new();
            let probe = format!("{endpoint}/moto-api/");
            let ready = wait_for(
                "moto_server to answer",
                Duration::from_secs(60),
                || match proc.exited() {
                    Some(s) => Err(anyhow!("moto_server exited ({s}):\n{}", proc.log_tail(15))),
                    None => Ok(()),
                },
                || async {
                    http.get(&probe)
                        .send()
                        .await
                        .ok()
                        .filter(|r| r.status().is_success())
                        .map(|_| ())
                },
            )
            .await;
            match ready {
                Ok(()) => {
                    let config = sdk_config(&endpoint).await;
                    let s3 = aws_sdk_s3::Client::from_conf(
                        aws_sdk_s3::config::Builder::from(&config)
                            .force_path_style(true)
                            .build(),
                    );
                    let secrets = aws_sdk_secretsmanager::Client::new(&config);
                    return Ok(Moto {
                        proc,
                        endpoint,
                        s3,
                        secrets,
                    });
                }
                Err(e) => last = e, // most likely the port was taken meanwhile
            }
        }
        Err(last)
    }

    /// The environment that points an AWS SDK (the Lambda's) at moto.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_SESSION_TOKEN", "testing-session"),
            ("AWS_REGION", REGION),
            ("AWS_DEFAULT_REGION", REGION),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Create the secret; returns its ARN.
    pub async fn create_secret(&self, name: &str, value: &serde_json::Value) -> Result<String> {
        let out = self
            .secrets
            .create_secret()
            .name(name)
            .secret_string(value.to_string())
            .send()
            .await
            .map_err(|e| {
                anyhow!(
                    "moto: create secret `{name}`: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(e)
                )
            })?;
        out.arn.context("moto returned no ARN")
    }

    pub async fn create_bucket(&self, bucket: &str) -> Result<()> {
        self.s3
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| {
                anyhow!(
                    "moto: create bucket `{bucket}`: {}",
                    aws_sdk_s3::error::DisplayErrorContext(e)
                )
            })?;
        Ok(())
    }

    /// A presigned PUT URL for `bucket/key`, signed without a Content-Type,
    /// as CloudFormation makes the `ResponseURL`.
    pub async fn presigned_put(&self, bucket: &str, key: &str) -> Result<String> {
        let req = self
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .presigned(PresigningConfig::expires_in(Duration::from_secs(7200))?)
            .await
            .map_err(|e| anyhow!("presign: {}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
        Ok(req.uri().to_string())
    }

    /// The object's bytes, `None` while it does not exist.
    pub async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>> {
        match self.s3.get_object().bucket(bucket).key(key).send().await {
            Ok(out) => Ok(Some(
                out.body
                    .collect()
                    .await
                    .context("read object body")?
                    .into_bytes()
                    .to_vec(),
            )),
            Err(e)
                if e.as_service_error()
                    .map(|s| s.is_no_such_key())
                    .unwrap_or(false) =>
            {
                Ok(None)
            }
            Err(e) => Err(anyhow!(
                "moto: get `{bucket}/{key}`: {}",
                aws_sdk_s3::error::DisplayErrorContext(e)
            )),
        }
    }

    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<()> {
        self.s3
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                anyhow!(
                    "moto: delete `{bucket}/{key}`: {}",
                    aws_sdk_s3::error::DisplayErrorContext(e)
                )
            })?;
        Ok(())
    }

    pub fn describe(&mut self) -> String {
        format!(
            "{} at {}; log {}:\n{}",
            self.proc.describe(),
            self.endpoint,
            self.proc.log_path().display(),
            tail(&self.proc.log(), 10)
        )
    }
}

async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            KEY_ID,
            SECRET_KEY,
            None,
            None,
            "schemagate-e2e",
        ))
        .load()
        .await
}
