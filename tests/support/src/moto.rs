//! AWS played by moto's server, one per test: Secrets Manager holds the
//! RDS secret, S3 the bucket whose presigned PUT URL is the `ResponseURL`,
//! Auto Scaling the groups a drain empties, Elastic Load Balancing the
//! listener the maintenance page goes on.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_autoscaling::types::Tag;
use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::presigning::PresigningConfig;
use tokio::sync::OnceCell;

use crate::process::{free_port, read_lossy, tail, wait_until, Proc};
use crate::require;

pub const REGION: &str = "us-east-1";
/// moto's default account.
pub const ACCOUNT: &str = "123456789012";
const KEY_ID: &str = "testing";
const SECRET_KEY: &str = "testing";

/// `moto_server` on a free port, stopped (with its process group) when
/// dropped.
pub struct Moto {
    proc: Proc,
    /// `http://127.0.0.1:<port>`
    pub url: String,
    config: OnceCell<SdkConfig>,
    /// The folder of the log when the caller gave none.
    _own_dir: Option<tempfile::TempDir>,
}

impl Moto {
    /// Start moto with its log in a folder of its own; a missing
    /// `moto_server` or a failed start panics, saying what to install.
    pub fn start() -> Moto {
        let dir = tempfile::tempdir().expect("a temporary folder for moto's log");
        let mut moto = require::ready(Self::start_in(dir.path()));
        moto._own_dir = Some(dir);
        moto
    }

    /// Start `moto_server` on a free port; its log goes to `dir/moto.log`.
    /// Waits until moto says it listens on that port (a bare connect could
    /// reach another server that took the port meanwhile), retrying on
    /// another port when moto exits.
    pub fn start_in(dir: &Path) -> Result<Moto> {
        let exe = require::tool("moto_server")?;
        let log = dir.join("moto.log");
        let mut last = anyhow!("moto did not start");
        for _ in 0..3 {
            let port = free_port();
            let mut cmd = Command::new(&exe);
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
            let mut proc = Proc::spawn("moto_server", cmd, &log)?;
            let listening = format!("Running on http://127.0.0.1:{port}");
            let ready = wait_until("moto_server to listen", Duration::from_secs(60), || {
                if let Some(s) = proc.exited() {
                    return Err(anyhow!("moto_server exited ({s}):\n{}", proc.log_tail(15)));
                }
                Ok(read_lossy(&log).contains(&listening)
                    && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok())
            });
            match ready {
                Ok(()) => {
                    return Ok(Moto {
                        proc,
                        url: format!("http://127.0.0.1:{port}"),
                        config: OnceCell::new(),
                        _own_dir: None,
                    })
                }
                Err(e) => last = e, // most likely the port was taken meanwhile
            }
        }
        Err(last)
    }

    /// The environment that points an AWS SDK (the Lambda's) at moto.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.url.as_str()),
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

    /// The SDK configuration for moto: its endpoint, region, test keys.
    pub async fn config(&self) -> &SdkConfig {
        self.config
            .get_or_init(|| async {
                aws_config::defaults(BehaviorVersion::latest())
                    .region(Region::new(REGION))
                    .endpoint_url(&self.url)
                    .credentials_provider(Credentials::new(KEY_ID, SECRET_KEY, None, None, "moto"))
                    .load()
                    .await
            })
            .await
    }

    pub async fn autoscaling(&self) -> aws_sdk_autoscaling::Client {
        aws_sdk_autoscaling::Client::new(self.config().await)
    }

    pub async fn elbv2(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        aws_sdk_elasticloadbalancingv2::Client::new(self.config().await)
    }

    /// An application load balancer in moto's default VPC with an HTTP
    /// listener whose default action answers 200 (the app); returns the
    /// listener's ARN.
    pub async fn listener(&self, name: &str) -> Result<String> {
        use aws_sdk_elasticloadbalancingv2::types::{
            Action, ActionTypeEnum, FixedResponseActionConfig, ProtocolEnum,
        };
        // moto's default subnets, through EC2's query API (no EC2 SDK crate
        // for two ids).
        let xml = reqwest::Client::new()
            .post(&self.url)
            .header(
                "Authorization",
                format!("AWS4-HMAC-SHA256 Credential={KEY_ID}/20250101/{REGION}/ec2/aws4_request, SignedHeaders=host, Signature=0"),
            )
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("Action=DescribeSubnets&Version=2016-11-15")
            .send()
            .await?
            .text()
            .await?;
        let mut subnets: Vec<String> = xml
            .split("<subnetId>")
            .skip(1)
            .filter_map(|s| s.split('<').next().map(str::to_string))
            .collect();
        subnets.dedup();
        subnets.truncate(2);
        anyhow::ensure!(subnets.len() == 2, "moto has no default subnets: {xml}");
        let elb = self.elbv2().await;
        let lb = elb
            .create_load_balancer()
            .name(name)
            .set_subnets(Some(subnets))
            .send()
            .await
            .context("create the load balancer")?;
        let lb_arn = lb.load_balancers()[0]
            .load_balancer_arn()
            .unwrap_or_default()
            .to_string();
        let listener = elb
            .create_listener()
            .load_balancer_arn(lb_arn)
            .protocol(ProtocolEnum::Http)
            .port(80)
            .default_actions(
                Action::builder()
                    .r#type(ActionTypeEnum::FixedResponse)
                    .fixed_response_config(
                        FixedResponseActionConfig::builder()
                            .status_code("200")
                            .content_type("text/plain")
                            .message_body("the app")
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .context("create the listener")?;
        Ok(listener.listeners()[0]
            .listener_arn()
            .unwrap_or_default()
            .to_string())
    }

    pub async fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(self.config().await)
    }

    /// S3 with path-style addressing (moto serves every bucket on one host).
    pub async fn s3(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(self.config().await)
                .force_path_style(true)
                .build(),
        )
    }

    /// Create the secret; returns its ARN.
    pub async fn create_secret(&self, name: &str, value: &serde_json::Value) -> Result<String> {
        let out = self
            .secrets()
            .await
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
        self.s3()
            .await
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
            .s3()
            .await
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
        match self
            .s3()
            .await
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
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
        self.s3()
            .await
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
            self.url,
            self.proc.log_path().display(),
            tail(&self.proc.log(), 10)
        )
    }
}

/// An Auto Scaling group in moto, running `desired` instances, with these
/// tags (propagated at launch).
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

/// `(min, max, desired, running instances, the value of tag `tag`)` of a
/// group, read back from moto.
pub async fn capacity(
    asg: &aws_sdk_autoscaling::Client,
    name: &str,
    tag: &str,
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
    let value = g
        .tags()
        .iter()
        .find(|t| t.key() == Some(tag))
        .and_then(|t| t.value())
        .map(str::to_string);
    (
        g.min_size().unwrap(),
        g.max_size().unwrap(),
        g.desired_capacity().unwrap(),
        running,
        value,
    )
}

/// A rule of a listener as a test reads it: `(priority, status code,
/// content type, body, tags)` of every rule but the default one.
pub type RuleSeen = (i32, String, String, String, Vec<(String, String)>);

/// The listener's rules (the default one left out), from moto.
pub async fn rules(elb: &aws_sdk_elasticloadbalancingv2::Client, listener: &str) -> Vec<RuleSeen> {
    let out = elb
        .describe_rules()
        .listener_arn(listener)
        .send()
        .await
        .unwrap();
    let mut seen = Vec::new();
    for r in out.rules() {
        if r.is_default() == Some(true) {
            continue;
        }
        let arn = r.rule_arn().unwrap_or_default();
        let tags = elb.describe_tags().resource_arns(arn).send().await.unwrap();
        let tags = tags
            .tag_descriptions()
            .iter()
            .flat_map(|d| d.tags())
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let fixed = r.actions().first().and_then(|a| a.fixed_response_config());
        seen.push((
            r.priority().and_then(|p| p.parse().ok()).unwrap_or(0),
            fixed
                .and_then(|f| f.status_code())
                .unwrap_or_default()
                .to_string(),
            fixed
                .and_then(|f| f.content_type())
                .unwrap_or_default()
                .to_string(),
            fixed
                .and_then(|f| f.message_body())
                .unwrap_or_default()
                .to_string(),
            tags,
        ));
    }
    seen
}
