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
use crate::drain::{self, Drained, Drainer};
use crate::lint::{self, Decision, MigrationLint};
use crate::migrate::{
    self, apply, Direction, MigrationSet, OnIrreversible, Plan, Step, StepOutcome, Target,
};
use crate::props::{Drain, OnRollback, Props};
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
    /// `SCHEMAGATE_LOCK_WAIT_SECONDS`: how long one DDL may wait for a
    /// metadata lock before it gives way and is retried (session
    /// `lock_wait_timeout` / `lock_timeout`). Fractions allowed; default
    /// 0.5 ([`apply::DEFAULT_LOCK_WAIT`]; MariaDB rounds up to 1).
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
            None => PathBuf::from(var("LAMBDA_TASK_ROOT").unwrap_or_else(|| ".".into()))
                .join("migrations"),
        };
        Ok(Config {
            migrations_dir,
            ssl_mode: match var("SCHEMAGATE_SSL_MODE") {
                None => SslMode::Preferred,
                Some(m) => m.parse().map_err(|e| format!("SCHEMAGATE_SSL_MODE: {e}"))?,
            },
            ssl_ca: var("SCHEMAGATE_SSL_CA").map(PathBuf::from),
            budget: secs("SCHEMAGATE_BUDGET_SECONDS", 840)?,
            lock_wait: match var("SCHEMAGATE_LOCK_WAIT_SECONDS") {
                None => apply::DEFAULT_LOCK_WAIT,
                Some(v) => v
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                    .ok_or_else(|| format!("SCHEMAGATE_LOCK_WAIT_SECONDS must be a number of seconds > 0 (e.g. `0.5`), got `{v}`"))?,
            },
            response_attempts: var("SCHEMAGATE_RESPONSE_ATTEMPTS")
                .and_then(|v| v.parse().ok())
                .unwrap_or(6),
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
    /// Auto Scaling, for draining; made from the environment on first use
    /// when not given.
    autoscaling: tokio::sync::OnceCell<aws_sdk_autoscaling::Client>,
}

/// When the invocation must be over, from the Lambda context's deadline
/// (epoch milliseconds). `None` when it is not in the future.
pub fn deadline_from_epoch_ms(deadline_ms: u64) -> Option<Instant> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    (deadline_ms > now).then(|| Instant::now() + Duration::from_millis(deadline_ms - now))
}

/// How long before the deadline the watchdog answers: a tenth of the time,
/// between 2 and 30 seconds, so the PUT (with its retries) fits.
fn margin(total: Duration) -> Duration {
    (total / 10).clamp(Duration::from_secs(2), Duration::from_secs(30))
}

impl Handler {
    pub fn new(config: Config, secrets: Arc<dyn SecretSource>) -> Self {
        Handler {
            config,
            secrets,
            http: reqwest::Client::new(),
            autoscaling: tokio::sync::OnceCell::new(),
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

    async fn drainer(&self) -> Drainer {
        let client = self
            .autoscaling
            .get_or_init(|| async {
                aws_sdk_autoscaling::Client::new(&aws_config::load_from_env().await)
            })
            .await;
        Drainer::new(client.clone())
    }

    /// Answer one request. `deadline` is the invocation's; `None` = unknown.
    pub async fn handle(
        &self,
        event: Value,
        deadline: Option<Instant>,
    ) -> Result<Response, HandlerError> {
        let started = Instant::now();
        let deadline = deadline.unwrap_or(started + self.config.budget);
        let request = match Request::parse(event) {
            Ok(r) => r,
            Err(RequestError::Malformed { envelope, message }) => {
                tracing::error!(error = %message, "malformed request");
                let id = envelope
                    .physical_resource_id
                    .clone()
                    .unwrap_or_else(|| fallback_id(&envelope));
                let response =
                    Response::failed(id, format!("malformed CloudFormation request: {message}"));
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
                env.physical_resource_id
                    .clone()
                    .unwrap_or_else(|| fallback_id(env)),
                "delete leaves the schema and its data in place".into(),
                HashMap::new(),
            ),
            RequestType::Create | RequestType::Update => {
                let total = deadline.saturating_duration_since(started);
                let watchdog_at = deadline
                    .checked_sub(margin(total))
                    .unwrap_or(started)
                    .max(started);
                let watch = Arc::new(Watch::default());
                let mut work = std::pin::pin!(AssertUnwindSafe(self.migrate(
                    &request,
                    watchdog_at,
                    watch.clone()
                ))
                .catch_unwind());
                let panicked = |panic: Box<dyn std::any::Any + Send>| {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    Response::failed(id_for(&request, None), format!("internal error in schemagate ({what}); please report it with the function's log"))
                };
                tokio::select! {
                    r = &mut work => r.unwrap_or_else(panicked),
                    _ = tokio::time::sleep_until(watchdog_at.into()) => {
                        let timed_out = Response::failed(id_for(&request, watch.target().as_ref()), watch.timeout_reason(started.elapsed(), deadline.saturating_duration_since(Instant::now())));
                        // The server stops the running statement about now
                        // (`max_statement_time` ends at the watchdog): a moment
                        // for the engine to record the outcome itself, so a
                        // stopped first statement leaves no failed migration on
                        // record to refuse the rollback that follows.
                        match tokio::time::timeout(margin(total) / 4, &mut work).await {
                            Ok(Ok(r)) if r.status == cfn::Status::Success => r,
                            Ok(Ok(r)) => Response::failed(timed_out.physical_resource_id, format!("{}. The run then stopped: {}", timed_out.reason, r.reason)),
                            Ok(Err(panic)) => panicked(panic),
                            Err(_) => timed_out,
                        }
                    }
                }
            }
        };
        match response.status {
            cfn::Status::Success => {
                tracing::info!(reason = %response.reason, data = ?response.data, "SUCCESS")
            }
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
        let failed = |target: Option<&ConnectOptions>, reason: String| {
            Response::failed(id_for(request, target), reason)
        };
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
            RdsSecret::parse(&props.secret_arn, &text)?.connect_options(
                &props.secret_arn,
                props.database_name.as_deref(),
                Kind::MariaDb,
            )
        }) {
            Ok(o) => o.with_ssl(self.config.ssl_mode, self.config.ssl_ca.clone()),
            Err(e) => return failed(None, e.to_string()),
        };
        watch.set_target(&opts);
        watch.phase(&format!("connecting to {opts}"));
        let mut conn =
            match Conn::connect(&opts, until.saturating_duration_since(Instant::now())).await {
                Ok(c) => c,
                Err(e) => return failed(Some(&opts), e.to_string()),
            };
        let target = props.target_version.map_or(Target::Latest, Target::Version);
        // Boxed: the gate and drain make this future deep for the compiler.
        let result = Box::pin(self.run(&mut conn, &set, target, &props, until, &watch)).await;
        conn.close().await;
        match result {
            Ok((report, note)) => {
                let mut data = HashMap::new();
                data.insert("SchemaVersion".to_string(), report.to.to_string());
                data.insert(
                    "Applied".to_string(),
                    report.count(Direction::Up).to_string(),
                );
                data.insert(
                    "Reverted".to_string(),
                    report.count(Direction::Down).to_string(),
                );
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
            let (_, p) = apply::inspect_with(
                conn,
                set,
                target,
                props.baseline_version,
                OnIrreversible::Stop,
            )
            .await?;
            if p.count(Direction::Down) > 0 || p.stopped.is_some() {
                let at = p.current.unwrap_or(0);
                let requested = p.stopped.as_ref().map_or(p.target, |s| s.requested);
                tracing::warn!(
                    current = at,
                    target = requested,
                    "OnRollback=keep: leaving the schema ahead of the target"
                );
                let report = migrate::Report {
                    from: p.current,
                    to: at,
                    ..Default::default()
                };
                let mut note = format!(
                    "OnRollback=keep: the schema stays at version {at} (target {requested}); no down script was run"
                );
                if let Some(sel) = &props.drain {
                    note.push_str(&self.still_drained(sel).await);
                }
                return Ok((report, Some(note)));
            }
        }
        watch.phase("waiting for the migration lock");
        let opts = apply::Options {
            init_sql: props.init_sql.clone(),
            baseline: props.baseline_version,
            lock_timeout: props.lock_timeout,
            lock_wait: self.config.lock_wait,
            deadline: Some(crate::deadline::Deadline::until(until)),
        };
        let gate = DeployGate {
            handler: self,
            kind: conn.kind(),
            props,
            until,
            watch,
            state: Mutex::default(),
        };
        let hooks = migrate::Hooks {
            gate: Some(&gate),
            on_irreversible: OnIrreversible::Stop,
            stop: None,
        };
        let result = migrate::run_with(conn, set, target, &opts, watch, hooks)
            .await
            .map_err(crate::Error::from);
        let state = std::mem::take(&mut *gate.state.lock().expect("gate state"));
        match result {
            Ok(report) => {
                let mut note = report.summary();
                if let Some(st) = &report.stopped {
                    tracing::error!(
                        requested = st.requested,
                        stopped_at = %st.name,
                        schema_version = report.to,
                        "ROLLBACK INCOMPLETE: an irreversible migration stays applied; the schema is ahead of the version asked for"
                    );
                }
                if let Some(d) = &state.drained {
                    note.push_str(&format!(
                        "; before it, {d}. They stay at 0 until the app stack's update replaces them with the new release (the old capacity is kept in their tag `{}`)",
                        drain::SAVED_TAG
                    ));
                }
                if report.count(Direction::Down) > 0 || report.stopped.is_some() {
                    if let Some(sel) = &props.drain {
                        note.push_str(&self.after_revert(sel, set, conn.kind(), &report).await);
                    }
                }
                if let Some(allowed) = &state.allowed {
                    note.push_str(&format!("; AllowBreaking=true: applied {allowed} with the old release still running"));
                }
                Ok((report, Some(note)))
            }
            Err(e) => match (&state.drained, &props.drain) {
                (Some(d), Some(sel)) => Err(crate::Error::Refused(format!(
                    "{e}{}",
                    self.after_failure(sel, d, &state.lints, &e, watch).await
                ))),
                _ => Err(e),
            },
        }
    }

    /// The groups still drained after a rollback that keeps the schema.
    async fn still_drained(&self, sel: &Drain) -> String {
        match self.drainer().await.groups(sel).await {
            Ok(groups) => {
                let drained: Vec<String> = groups
                    .iter()
                    .filter(|g| g.tags().iter().any(|t| t.key() == Some(drain::SAVED_TAG)))
                    .map(|g| format!("`{}`", g.auto_scaling_group_name().unwrap_or("?")))
                    .collect();
                if drained.is_empty() {
                    String::new()
                } else {
                    format!("; the drained groups {} stay at 0, since the old release may not run on this schema", drained.join(", "))
                }
            }
            Err(e) => format!("; could not check the drained groups: {e}"),
        }
    }

    /// After a revert: give the drained groups their capacity back when no
    /// migration that needs a drain stays applied above the target.
    async fn after_revert(
        &self,
        sel: &Drain,
        set: &MigrationSet,
        kind: Kind,
        report: &migrate::Report,
    ) -> String {
        if let Some(st) = &report.stopped {
            let remaining: Vec<i64> = set
                .files
                .iter()
                .map(|f| f.version)
                .filter(|&v| v > st.requested && v <= report.to)
                .collect();
            let blocking: Vec<String> = lint::lint(set, kind.dialect(), &remaining)
                .into_iter()
                .filter(|l| l.needs_drain())
                .map(|l| l.name)
                .collect();
            if !blocking.is_empty() {
                let kept = self.still_drained(sel).await;
                return if kept.is_empty() {
                    String::new()
                } else {
                    format!(
                        "{kept}: `{}` stays applied and breaks the old release",
                        blocking.join("`, `")
                    )
                };
            }
        }
        match self.drainer().await.restore(sel).await {
            Ok(r) if r.is_empty() => String::new(),
            Ok(r) => format!(
                "; gave the capacity back to {}: the old release runs on the old schema again",
                drain::restored_names(&r)
            ),
            Err(e) => {
                tracing::error!(error = %e, "could not give the drained groups their capacity back");
                format!("; {e}")
            }
        }
    }

    /// After a failed run that drained: restore when nothing that needs a
    /// drain was applied (the old release can run on this schema), else
    /// keep the groups at 0 and say why.
    async fn after_failure(
        &self,
        sel: &Drain,
        drained: &Drained,
        lints: &[MigrationLint],
        e: &crate::Error,
        watch: &Watch,
    ) -> String {
        let needs = |name: &str| lints.iter().any(|l| l.name == name && l.needs_drain());
        let mut applied_breaking: Vec<String> = Vec::new();
        match e {
            crate::Error::Migrate(migrate::Error::Apply(ae)) => {
                for s in ae
                    .done
                    .steps
                    .iter()
                    .filter(|s| s.step.direction == Direction::Up)
                {
                    if needs(&s.step.name) {
                        applied_breaking.push(s.step.name.clone());
                    }
                }
                // What may have committed: a connection lost mid-script
                // (`Unknown`) counts as all of it.
                let committed = match ae.left {
                    apply::Left::Partly { statements } => Some(statements),
                    apply::Left::Unknown => Some(usize::MAX),
                    _ => None,
                };
                if let Some(statements) = committed {
                    if lints
                        .iter()
                        .any(|l| l.name == ae.failed.name && l.needs_drain_within(statements))
                    {
                        applied_breaking.push(format!("{} (partly)", ae.failed.name));
                    }
                }
            }
            _ => {
                let done = watch.state.lock().expect("watch lock").done.clone();
                applied_breaking.extend(done.into_iter().filter(|n| needs(n)));
            }
        }
        if applied_breaking.is_empty() {
            match self.drainer().await.restore(sel).await {
                Ok(r) => format!(
                    ". Gave the capacity back to {}: no breaking change was applied, so the old release runs on this schema again",
                    drain::restored_names(&r)
                ),
                Err(err) => {
                    tracing::error!(error = %err, "could not give the drained groups their capacity back");
                    format!(". The groups drained before it ({}) are still at 0: {err}", drained.names())
                }
            }
        } else {
            tracing::error!(groups = %drained.names(), applied = ?applied_breaking, "groups left at 0: breaking migrations were applied before the failure");
            format!(
                ". The drained groups {} stay at 0: `{}` was applied, and the old release cannot run on this schema. Their capacity is kept in tag `{}`; a CloudFormation rollback reverts the schema with the down scripts and gives it back, or fix the migration and deploy again",
                drained.names(),
                applied_breaking.join("`, `"),
                drain::SAVED_TAG
            )
        }
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

/// The breaking-change gate, run by the engine under the lock with the
/// plan: lint the pending up migrations, then go ahead, drain, or refuse.
struct DeployGate<'a> {
    handler: &'a Handler,
    kind: Kind,
    props: &'a Props,
    until: Instant,
    watch: &'a Watch,
    state: Mutex<GateState>,
}

#[derive(Default)]
struct GateState {
    lints: Vec<MigrationLint>,
    drained: Option<Drained>,
    /// AllowBreaking let these through.
    allowed: Option<String>,
}

impl apply::Gate for DeployGate<'_> {
    fn check<'a>(
        &'a self,
        set: &'a MigrationSet,
        plan: &'a Plan,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let pending: Vec<i64> = plan
                .steps
                .iter()
                .filter(|s| s.direction == Direction::Up)
                .map(|s| s.version)
                .collect();
            if pending.is_empty() {
                return Ok(());
            }
            self.watch.phase("classifying the pending migrations");
            let lints = lint::lint(set, self.kind.dialect(), &pending);
            for l in &lints {
                for f in &l.findings {
                    if f.severity().gates() {
                        tracing::warn!(migration = %l.name, "{}", l.diagnostic(f));
                    } else {
                        tracing::info!(migration = %l.name, "{}", l.diagnostic(f));
                    }
                }
            }
            let first_deploy = plan.current.is_none() && plan.count(Direction::Baseline) == 0;
            let decision = lint::decide(
                &lints,
                first_deploy,
                self.props.drain.is_some(),
                self.props.allow_breaking,
            );
            self.state.lock().expect("gate state").lints = lints;
            match decision {
                Decision::Proceed => Ok(()),
                Decision::FirstDeploy => {
                    tracing::info!("first deploy: no release runs on this database yet; breaking changes are allowed");
                    Ok(())
                }
                Decision::Allowed { migrations } => {
                    tracing::warn!(?migrations, "AllowBreaking=true: applying breaking migrations while the old release runs");
                    self.state.lock().expect("gate state").allowed = Some(migrations.join(", "));
                    Ok(())
                }
                Decision::Refuse(reason) => Err(reason),
                Decision::Drain { migrations } => {
                    let sel = self
                        .props
                        .drain
                        .as_ref()
                        .expect("a drain target was configured");
                    self.watch.phase(&format!(
                        "draining the Auto Scaling groups tagged `{}={}` before {}",
                        sel.tag_key,
                        sel.tag_value,
                        migrations.join(", ")
                    ));
                    let drainer = self.handler.drainer().await;
                    let now = Instant::now();
                    let deadline = now + self.until.saturating_duration_since(now) * 2 / 3;
                    match drainer.drain(sel, deadline).await {
                        Ok(d) => {
                            tracing::warn!(groups = %d.names(), "drained before the breaking migrations");
                            self.watch.drained(&d);
                            self.state.lock().expect("gate state").drained = Some(d);
                            Ok(())
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "drain failed; giving the capacity back");
                            let restored = match drainer.restore(sel).await {
                                Ok(r) if r.is_empty() => String::new(),
                                Ok(r) => format!(
                                    " Gave the capacity back to {}.",
                                    drain::restored_names(&r)
                                ),
                                Err(re) => format!(" {re}."),
                            };
                            Err(format!(
                                "refused before running anything: {} must run after the old release is stopped, but draining the groups tagged `{}={}` failed: {e}.{restored} Nothing was applied",
                                migrations.join(", "),
                                sel.tag_key,
                                sel.tag_value
                            ))
                        }
                    }
                }
            }
        })
    }
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
    /// Set once groups were drained: the watchdog's Reason says so.
    drained: Option<String>,
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
    fn drained(&self, d: &Drained) {
        self.state.lock().expect("watch lock").drained = Some(d.names());
    }
    fn timeout_reason(&self, elapsed: Duration, left: Duration) -> String {
        let s = self.state.lock().expect("watch lock");
        let done = if s.done.is_empty() {
            String::new()
        } else {
            format!("applied {} before it; ", s.done.join(", "))
        };
        let drained = match &s.drained {
            Some(groups) => format!(
                ". The Auto Scaling groups {groups} were drained to 0 and stay there (capacity kept in their tag `{}`)",
                drain::SAVED_TAG
            ),
            None => String::new(),
        };
        let reason = match &s.current {
            Some((step, since)) => format!(
                "timed out after {:.0} s, {:.0} s before the function's deadline: {done}`{}` was still running after {:.0} s. The server stops the statement (max_statement_time); if it is cut part way the migration is recorded as failed. Give the function a longer timeout or run this migration outside the deploy (`schemagate up`)",
                elapsed.as_secs_f64(), left.as_secs_f64(), step.name, since.elapsed().as_secs_f64()
            ),
            None => format!(
                "timed out after {:.0} s, {:.0} s before the function's deadline, while {}; {done}nothing else was changed",
                elapsed.as_secs_f64(), left.as_secs_f64(), s.phase
            ),
        };
        format!("{reason}{drained}")
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
