//! The custom resource handler: request in, exactly one response out.
//!
//! Domain failures are FAILED responses, not `Err`: the only `Err` is a
//! response that could not be delivered (Lambda then retries the whole
//! invocation, which is idempotent). A watchdog answers FAILED before the
//! Lambda's deadline, naming what was in progress.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::FutureExt;
use serde_json::Value;

use crate::cfn::{self, Envelope, Request, RequestError, RequestType, Response};
use crate::db::{Conn, ConnectOptions, Kind, SslMode};
use crate::migrate::{self, apply, Direction, MigrationSet, Step, StepOutcome, Target};
use crate::props::{OnRollback, Props};
use crate::secrets::{RdsSecret, SecretSource};

/// Settings from the Lambda's environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `SCHEMAGATE_MIGRATIONS_DIR`, default `$LAMBDA_TASK_ROOT/migrations`.
    pub migrations_dir: PathBuf,
    /// `SCHEMAGATE_SSL_MODE` (default `preferred`) and `SCHEMAGATE_SSL_CA`.
    pub ssl_mode: SslMode,
    pub ssl_ca: Option<PathBuf>,
    /// `SCHEMAGATE_BUDGET_SECONDS`: the time allowed when the invocation's
    /// deadline is unknown or not in the future (the emulator's is not an
    /// epoch time). Default 840.
    pub budget: Duration,
    /// `SCHEMAGATE_LOCK_WAIT_SECONDS`: session `lock_wait_timeout`. Default 10.
    pub lock_wait: Duration,
    /// `SCHEMAGATE_RESPONSE_ATTEMPTS`: PUT attempts. Default 6.
    pub response_attempts: usize,
}

impl Config {
    pub fn from_env() -> Result<Config, String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let secs = |k: &str, default: u64| -> Result<Duration, String> {
            match var(k) {
                None => Ok(Duration::from_secs(default)),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|s| *s > 0)
                    .map(Duration::from_secs)
                    .ok_or_else(|| format!("{k} must be a whole number of seconds > 0, got `{v}`")),
            }
        };
        let migrations_dir = match var("SCHEMAGATE_MIGRATIONS_DIR") {
            Some(d) => PathBuf::from(d),
            None => PathBuf::from(var("LAMBDA_TASK_ROOT").unwrap_or_else(|| ".".into())).join("migrations"),
        };
        Ok(Config {
            migrations_dir,
            ssl_mode: match var("SCHEMAGATE_SSL_MODE") {
                None => SslMode::Preferred,
                Some(m) => m.parse().map_err(|e| format!("SCHEMAGATE_SSL_MODE: {e}"))?,
            },
            ssl_ca: var("SCHEMAGATE_SSL_CA").map(PathBuf::from),
            budget: secs("SCHEMAGATE_BUDGET_SECONDS", 840)?,
            lock_wait: secs("SCHEMAGATE_LOCK_WAIT_SECONDS", 10)?,
            response_attempts: var("SCHEMAGATE_RESPONSE_ATTEMPTS").and_then(|v| v.parse().ok()).unwrap_or(6),
        })
    }
}

/// The handler was unable to answer CloudFormation.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Send(#[from] cfn::SendError),
}

pub struct Handler {
    config: Config,
    secrets: Arc<dyn SecretSource>,
    http: reqwest::Client,
}

/// When the invocation must be over, from the Lambda context's deadline
/// (epoch milliseconds). `None` when it is not in the future.
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> Option<Instant> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_millis() as u64;
    (deadline_ms > now).then(|| Instant::now() + Duration::from_millis(deadline_ms - now))
}

/// How long before the deadline the watchdog answers: a tenth of the time,
/// between 2 and 30 seconds, so the PUT (with its retries) fits.
fn margin(total: Duration) -> Duration {
    (total / 10).clamp(Duration::from_secs(2), Duration::from_secs(30))
}

impl Handler {
    pub fn new(config: Config, secrets: Arc<dyn SecretSource>) -> Self {
        Handler { config, secrets, http: reqwest::Client::new() }
    }

    /// Answer one request. `deadline` is the invocation's; `None` = unknown.
    pub async fn handle(&self, event: Value, deadline: Option<Instant>) -> Result<Response, HandlerError> {
        let started = Instant::now();
        let deadline = deadline.unwrap_or(started + self.config.budget);
        let request = match Request::parse(event) {
            Ok(r) => r,
            Err(RequestError::Malformed { envelope, message }) => {
                tracing::error!(error = %message, "malformed request");
                let id = envelope.physical_resource_id.clone().unwrap_or_else(|| fallback_id(&envelope));
                let response = Response::failed(id, format!("malformed CloudFormation request: {message}"));
                self.deliver(&envelope, &response).await?;
                return Ok(response);
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot answer: no ResponseURL in the event");
                return Err(e.into());
            }
        };
        let env = &request.envelope;
        tracing::info!(
            request_type = ?request.request_type,
            request_id = %env.request_id,
            stack_id = %env.stack_id,
            logical_resource_id = %env.logical_resource_id,
            response_url = %cfn::redact_url(&env.response_url),
            "request"
        );

        let response = match request.request_type {
            RequestType::Delete => Response::success(
                env.physical_resource_id.clone().unwrap_or_else(|| fallback_id(env)),
                "delete leaves the schema and its data in place".into(),
                HashMap::new(),
            ),
            RequestType::Create | RequestType::Update => {
                let total = deadline.saturating_duration_since(started);
                let watchdog_at = deadline.checked_sub(margin(total)).unwrap_or(started).max(started);
                let watch = Arc::new(Watch::default());
                let work = AssertUnwindSafe(self.migrate(&request, watchdog_at, watch.clone())).catch_unwind();
                tokio::select! {
                    r = work => r.unwrap_or_else(|panic| {
                        let what = panic.downcast_ref::<&str>().map(|s| s.to_string())
                            .or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_default();
                        Response::failed(id_for(&request, None), format!("internal error in schemagate ({what}); please report it with the function's log"))
                    }),
                    _ = tokio::time::sleep_until(watchdog_at.into()) => {
                        Response::failed(id_for(&request, watch.target().as_ref()), watch.timeout_reason(started.elapsed(), deadline.saturating_duration_since(Instant::now())))
                    }
                }
            }
        };
        match response.status {
            cfn::Status::Success => tracing::info!(reason = %response.reason, data = ?response.data, "SUCCESS"),
            cfn::Status::Failed => tracing::error!(reason = %response.reason, "FAILED"),
        }
        self.deliver(env, &response).await?;
        Ok(response)
    }

    async fn deliver(&self, env: &Envelope, response: &Response) -> Result<(), cfn::SendError> {
        let body = response.body(env);
        cfn::send(&self.http, &env.response_url, body, self.config.response_attempts).await.inspect_err(|e| {
            tracing::error!(error = %e, "the response could not be delivered; CloudFormation will wait for it")
        })
    }

    async fn migrate(&self, request: &Request, until: Instant, watch: Arc<Watch>) -> Response {
        let failed = |target: Option<&ConnectOptions>, reason: String| Response::failed(id_for(request, target), reason);
        let props = match Props::parse(&request.properties) {
            Ok(p) => p,
            Err(e) => return failed(None, format!("invalid properties: {e}")),
        };
        watch.phase("reading the migrations bundled with the function");
        let set = match MigrationSet::load(&self.config.migrations_dir) {
            Ok(s) => s,
            Err(e) => return failed(None, format!("the function's bundled migrations: {e}")),
        };
        watch.phase(&format!("reading secret `{}`", props.secret_arn));
        let opts = match self.secrets.get(&props.secret_arn).await.and_then(|text| {
            RdsSecret::parse(&props.secret_arn, &text)?.connect_options(&props.secret_arn, props.database_name.as_deref(), Kind::MariaDb)
        }) {
            Ok(o) => o.with_ssl(self.config.ssl_mode, self.config.ssl_ca.clone()),
            Err(e) => return failed(None, e.to_string()),
        };
        watch.set_target(&opts);
        watch.phase(&format!("connecting to {opts}"));
        let mut conn = match Conn::connect(&opts, until.saturating_duration_since(Instant::now())).await {
            Ok(c) => c,
            Err(e) => return failed(Some(&opts), e.to_string()),
        };
        let target = props.target_version.map_or(Target::Latest, Target::Version);
        let result = self.run(&mut conn, &set, target, &props, until, &watch).await;
        conn.close().await;
        match result {
            Ok((report, note)) => {
                let mut data = HashMap::new();
                data.insert("SchemaVersion".to_string(), report.to.to_string());
                data.insert("Applied".to_string(), report.count(Direction::Up).to_string());
                data.insert("Reverted".to_string(), report.count(Direction::Down).to_string());
                let reason = match note {
                    Some(n) => n,
                    None => report.summary(),
                };
                Response::success(id_for(request, Some(&opts)), reason, data)
            }
            Err(e) => failed(Some(&opts), e.to_string()),
        }
    }

    async fn run(
        &self,
        conn: &mut Conn,
        set: &MigrationSet,
        target: Target,
        props: &Props,
        until: Instant,
        watch: &Watch,
    ) -> Result<(migrate::Report, Option<String>), crate::Error> {
        if props.on_rollback == OnRollback::Keep {
            let (_, p) = apply::inspect(conn, set, target, props.baseline_version).await?;
            if p.count(Direction::Down) > 0 {
                let at = p.current.unwrap_or(0);
                tracing::warn!(current = at, target = p.target, "OnRollback=keep: leaving the schema ahead of the target");
                let report = migrate::Report { from: p.current, to: at, ..Default::default() };
                return Ok((report, Some(format!(
                    "OnRollback=keep: the schema stays at version {at} (target {}); no down script was run",
                    p.target
                ))));
            }
        }
        watch.phase("waiting for the migration lock");
        let opts = apply::Options {
            init_sql: props.init_sql.clone(),
            baseline: props.baseline_version,
            lock_timeout: props.lock_timeout,
            lock_wait: self.config.lock_wait,
            deadline: Some(until),
        };
        let report = migrate::run(conn, set, target, &opts, watch).await?;
        Ok((report, None))
    }
}

/// The physical id: stable, from the database identity (no credentials).
/// An Update always keeps the id it was given, so it never becomes a
/// replacement.
fn id_for(request: &Request, target: Option<&ConnectOptions>) -> String {
    if let Some(id) = &request.envelope.physical_resource_id {
        return id.clone();
    }
    match target {
        Some(t) => format!("schemagate:{t}"),
        None => fallback_id(&request.envelope),
    }
}

fn fallback_id(env: &Envelope) -> String {
    format!("schemagate:unresolved:{}", env.logical_resource_id)
}

/// What the run is doing, for the watchdog's Reason.
#[derive(Default)]
struct Watch {
    state: Mutex<WatchState>,
}

#[derive(Default)]
struct WatchState {
    phase: String,
    target: Option<ConnectOptions>,
    current: Option<(Step, Instant)>,
    done: Vec<String>,
}

impl Watch {
    fn phase(&self, p: &str) {
        self.state.lock().expect("watch lock").phase = p.to_string();
    }
    fn set_target(&self, t: &ConnectOptions) {
        self.state.lock().expect("watch lock").target = Some(t.clone());
    }
    fn target(&self) -> Option<ConnectOptions> {
        self.state.lock().expect("watch lock").target.clone()
    }
    fn timeout_reason(&self, elapsed: Duration, left: Duration) -> String {
        let s = self.state.lock().expect("watch lock");
        let done = if s.done.is_empty() { String::new() } else { format!("applied {} before it; ", s.done.join(", ")) };
        match &s.current {
            Some((step, since)) => format!(
                "timed out after {:.0} s, {:.0} s before the function's deadline: {done}`{}` was still running after {:.0} s. The server stops the statement (max_statement_time); if it is cut part way the migration is recorded as failed. Give the function a longer timeout or run this migration outside the deploy (`schemagate up`)",
                elapsed.as_secs_f64(), left.as_secs_f64(), step.name, since.elapsed().as_secs_f64()
            ),
            None => format!(
                "timed out after {:.0} s, {:.0} s before the function's deadline, while {}; {done}nothing else was changed",
                elapsed.as_secs_f64(), left.as_secs_f64(), s.phase
            ),
        }
    }
}

impl migrate::Progress for Watch {
    fn started(&self, step: &Step) {
        let mut s = self.state.lock().expect("watch lock");
        s.phase = format!("applying `{}`", step.name);
        s.current = Some((step.clone(), Instant::now()));
        tracing::info!(migration = %step.name, direction = ?step.direction, "migration started");
    }
    fn finished(&self, outcome: &StepOutcome) {
        let mut s = self.state.lock().expect("watch lock");
        s.current = None;
        s.done.push(outcome.step.name.clone());
        tracing::info!(migration = %outcome.step.name, ms = outcome.duration.as_millis() as u64, "migration finished");
    }
}
