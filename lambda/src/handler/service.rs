//! The handler's state, shared by the shell and the deploy: its settings,
//! where secrets come from, the HTTP client for the response, and the Auto
//! Scaling client for draining.

use std::sync::Arc;

use crate::deadline::Deadline;
use crate::drain::{Drainer, Pages};
use crate::secrets::SecretSource;

use super::config::Config;

pub struct Handler {
    pub(super) config: Config,
    pub(super) secrets: Arc<dyn SecretSource>,
    /// The client of the response PUT, made on first use: its CA
    /// certificates are read then, not before the first event (#11).
    http: std::sync::OnceLock<reqwest::Client>,
    /// Auto Scaling, for draining; made from the environment on first use
    /// when not given.
    autoscaling: tokio::sync::OnceCell<aws_sdk_autoscaling::Client>,
    /// Elastic Load Balancing, for the maintenance page; the same.
    elbv2: tokio::sync::OnceCell<aws_sdk_elasticloadbalancingv2::Client>,
}

impl Handler {
    pub fn new(config: Config, secrets: Arc<dyn SecretSource>) -> Self {
        Handler {
            config,
            secrets,
            http: std::sync::OnceLock::new(),
            autoscaling: tokio::sync::OnceCell::new(),
            elbv2: tokio::sync::OnceCell::new(),
        }
    }

    /// Put maintenance pages up and down with this client (tests: moto).
    pub fn with_elbv2(self, client: aws_sdk_elasticloadbalancingv2::Client) -> Self {
        let cell = tokio::sync::OnceCell::new();
        let _ = cell.set(client);
        Handler {
            elbv2: cell,
            ..self
        }
    }

    /// Drain with this client (the Lambda's main builds it from the same
    /// AWS config as Secrets Manager; tests point it at moto).
    pub fn with_autoscaling(self, client: aws_sdk_autoscaling::Client) -> Self {
        let cell = tokio::sync::OnceCell::new();
        let _ = cell.set(client);
        Handler {
            autoscaling: cell,
            ..self
        }
    }

    pub(super) async fn drainer(&self) -> Drainer {
        let client = self
            .autoscaling
            .get_or_init(|| async {
                aws_sdk_autoscaling::Client::new(&aws_config::load_from_env().await)
            })
            .await;
        let elbv2 = self
            .elbv2
            .get_or_init(|| async {
                aws_sdk_elasticloadbalancingv2::Client::new(&aws_config::load_from_env().await)
            })
            .await;
        Drainer::new(client.clone()).with_pages(Pages::new(elbv2.clone()))
    }

    pub(super) fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(reqwest::Client::new)
    }

    /// The time the Lambda's invocation has: its context's deadline (epoch
    /// milliseconds), or the configured budget when that is not usable.
    pub fn deadline(&self, epoch_ms: u64) -> Deadline {
        Deadline::lambda(epoch_ms, self.config.budget)
    }
}
