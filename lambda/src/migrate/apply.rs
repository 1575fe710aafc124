//! Running a plan: a small loop, one round trip per migration with its
//! bookkeeping riding along, under the lock, with the history read once.
//!
//! What the history says is what the database holds: a step's row is
//! written in its own batch, as the first statement before its script (see
//! [`crate::db::sql`]), so a row says "started" only for a script that did
//! start; after a failure the engine reads the row back to tell what
//! committed. A PostgreSQL `-- no-transaction` script runs statement by
//! statement, so the count of what committed is exact.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::history::{Applied, Home, DOWN_STARTED, UP_STARTED};
use super::plan::{
    plan_with, resolve_hint, Direction, OnIrreversible, Plan, Resolution, ResolveAs, Step, Stopped,
    Target,
};
use super::script::terminated;
use super::source::{MigrationFile, MigrationSet};
use super::{history, lock};
use crate::db::{sql, Conn, Kind};
use crate::dialect::Dialect;
use crate::error::Error;

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// Statements run on the session first (`InitSql`).
    pub init_sql: Vec<String>,
    /// Adopt an existing database: record versions up to this as applied.
    pub baseline: Option<i64>,
    /// How long to wait for another run's migration lock.
    pub lock_timeout: Duration,
    /// Session `lock_wait_timeout` (PostgreSQL `lock_timeout`): how long one
    /// DDL may wait for a metadata lock before it gives way (and is retried,
    /// with backoff, while time remains). Every app query on the table queues
    /// behind a waiting DDL, so this is how long the app may stall per try.
    /// MariaDB waits whole seconds: a fraction is rounded up.
    pub lock_wait: Duration,
    /// When the run must be over (the Lambda's deadline less a margin).
    /// Statements are cut by the server before it; lock waits are retried
    /// only until it.
    pub deadline: Option<Instant>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            init_sql: Vec::new(),
            baseline: None,
            lock_timeout: Duration::from_secs(60),
            lock_wait: DEFAULT_LOCK_WAIT,
            deadline: None,
        }
    }
}

/// The default [`Options::lock_wait`]: short enough that the app's queries
/// queued behind a waiting DDL stay responsive (pgroll uses 500 ms too; on
/// MariaDB it is 1 s, its shortest wait).
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_millis(500);

/// Tries of a step whose DDL keeps meeting a held metadata lock when the run
/// has no deadline; with one, it is retried until the deadline.
const TRIES_WITHOUT_DEADLINE: u32 = 30;

/// Room left at the deadline after a try: for recording the outcome.
const RETRY_MARGIN: Duration = Duration::from_secs(2);

/// Told about each step as it starts and ends (CLI output, the Lambda's
/// watchdog).
pub trait Progress: Send + Sync {
    fn started(&self, _step: &Step) {}
    fn finished(&self, _outcome: &StepOutcome) {}
}

impl Progress for () {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutcome {
    pub step: Step,
    pub duration: Duration,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Highest applied version before the run.
    pub from: Option<i64>,
    /// Version the database is at now (0 = none applied).
    pub to: i64,
    pub steps: Vec<StepOutcome>,
    pub elapsed: Duration,
    /// A revert that stopped at an irreversible migration
    /// ([`OnIrreversible::Stop`]).
    pub stopped: Option<Stopped>,
}

impl Report {
    pub fn count(&self, d: Direction) -> usize {
        self.steps.iter().filter(|s| s.step.direction == d).count()
    }

    /// `applied 0041, 0042` / `reverted 0042` / `already at version 42`.
    pub fn summary(&self) -> String {
        let names = |d: Direction| -> Vec<String> {
            self.steps
                .iter()
                .filter(|s| s.step.direction == d)
                .map(|s| s.step.name.clone())
                .collect()
        };
        let mut parts = Vec::new();
        for (d, verb) in [
            (Direction::Baseline, "baselined"),
            (Direction::Up, "applied"),
            (Direction::Down, "reverted"),
        ] {
            let n = names(d);
            if !n.is_empty() {
                parts.push(format!("{verb} {}", list(&n)));
            }
        }
        let mut s = if parts.is_empty() {
            format!("already at version {}; nothing to do", self.to)
        } else {
            format!(
                "{} in {}; schema at version {}",
                parts.join("; "),
                secs(self.elapsed),
                self.to
            )
        };
        if let Some(st) = &self.stopped {
            s.push_str(&format!(
                "; the revert to version {} STOPPED at `{}`, which is irreversible (no down script): the schema stays at version {}",
                st.requested, st.name, self.to
            ));
        }
        s
    }
}

fn list(names: &[String]) -> String {
    if names.len() <= 6 {
        names.join(", ")
    } else {
        format!(
            "{}, … , {} ({} migrations)",
            names[..3].join(", "),
            names[names.len() - 1],
            names.len()
        )
    }
}

pub fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Where a failed migration left the database, as read back from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Left {
    /// Nothing of the migration stays: its first statement failed, or its
    /// transaction (MariaDB DML without DDL) was rolled back whole; its
    /// history row is gone (a revert's row says applied again). Safe to fix
    /// the file and run again.
    Nothing,
    /// `statements` statements ran before the failure and some of them
    /// committed (MariaDB DDL commits as it goes; a PostgreSQL
    /// `-- no-transaction` script commits each statement); the history row
    /// says the script started (`success = false`).
    Partly { statements: usize },
    /// PostgreSQL rolled the whole migration back.
    RolledBack,
    /// The connection failed before the outcome could be read back: the
    /// history row, if any, says the script started.
    Unknown,
}

/// A migration failed; `done` is what was applied before it.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ApplyError {
    pub done: Report,
    pub failed: Step,
    /// The script that failed: the `.down.sql` of a failed revert.
    pub file: String,
    pub error: String,
    pub left: Left,
}

impl ApplyError {
    /// The server stopped the statement: MariaDB's `max_statement_time`
    /// (1969) or PostgreSQL's `statement_timeout` (57014).
    fn stopped_for_time(&self) -> bool {
        self.error.ends_with("(1969)") || self.error.ends_with("(57014)")
    }
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let done = self.done.count(Direction::Up) + self.done.count(Direction::Down);
        let down = self.failed.direction == Direction::Down;
        if done > 0 {
            let names: Vec<String> = self
                .done
                .steps
                .iter()
                .map(|s| s.step.name.clone())
                .collect();
            let verb = if down { "reverted" } else { "applied" };
            write!(f, "{verb} {}; ", list(&names))?;
        }
        let what = if down { "reverting" } else { "at" };
        write!(f, "failed {what} `{}`: {}", self.failed.name, self.error)?;
        let (v, name) = (self.failed.version, &self.failed.name);
        let hint = resolve_hint(v, &self.file, self.failed.direction);
        match &self.left {
            Left::Nothing | Left::RolledBack if self.stopped_for_time() => write!(
                f,
                ". Nothing of `{name}` {}; the schema is at version {}. It was stopped for lack of time before the run's deadline: allow more time (the function's timeout, or `schemagate up --timeout S`), or run this migration outside the deploy (`schemagate up`)",
                if down { "was reverted" } else { "was applied" },
                self.done.to
            ),
            Left::Nothing | Left::RolledBack => write!(
                f,
                ". Nothing of `{name}` {}; the schema is at version {}. Fix `{}` and run again",
                if down { "was reverted" } else { "was applied" },
                self.done.to,
                self.file
            ),
            Left::Partly { statements } => write!(
                f,
                ". {} ({statements} statement{} ran before the failure) and recorded as failed (success = false); nothing more will run until it is resolved: {hint}",
                if down {
                    format!("The revert of `{name}` is PARTLY done")
                } else {
                    format!("`{name}` is PARTLY applied")
                },
                if *statements == 1 { "" } else { "s" },
            ),
            Left::Unknown => write!(
                f,
                ". Whether `{name}` {} is not known: `schemagate status` shows its history row; if it is recorded as failed, {hint}",
                if down { "was reverted" } else { "was applied" },
            ),
        }
    }
}

/// A signal that asks a run to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal {
    /// `SIGTERM`, `SIGINT`
    pub name: &'static str,
    /// The process's exit code when it stopped for it (143, 130).
    pub exit_code: i32,
}

/// Asks a run to stop (the CLI on SIGTERM/SIGINT): the migration in
/// progress finishes and is recorded, nothing more starts, the lock is
/// released and the run returns [`Error::Interrupted`]. A wait for the
/// lock is given up at once (nothing was changed).
#[derive(Debug, Clone)]
pub struct Stop(Arc<watch::Sender<Option<Signal>>>);

impl Default for Stop {
    fn default() -> Self {
        Stop(Arc::new(watch::channel(None).0))
    }
}

impl Stop {
    /// The first request counts; later ones change nothing.
    pub fn request(&self, signal: Signal) {
        self.0.send_if_modified(|v| match v {
            None => {
                *v = Some(signal);
                true
            }
            Some(_) => false,
        });
    }

    pub fn requested(&self) -> Option<Signal> {
        *self.0.borrow()
    }

    async fn wait(&self) -> Signal {
        let mut rx = self.0.subscribe();
        let got = rx.wait_for(Option::is_some).await.map(|v| *v);
        match got {
            Ok(Some(s)) => s,
            // The sender lives in `self`: it cannot be gone while we wait.
            _ => std::future::pending().await,
        }
    }
}

/// A run stopped by a signal between two migrations.
#[derive(Debug, Clone, thiserror::Error)]
pub struct Interrupted {
    pub signal: Signal,
    /// What was done before it stopped; `None`: it stopped while waiting
    /// for the migration lock, before reading the history.
    pub done: Option<Report>,
    /// The planned migrations that were not started.
    pub pending: Vec<String>,
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(done) = &self.done else {
            return write!(
                f,
                "stopped by {} while waiting for the migration lock; nothing was changed",
                self.signal.name
            );
        };
        write!(f, "stopped by {}", self.signal.name)?;
        let names: Vec<String> = done.steps.iter().map(|s| s.step.name.clone()).collect();
        if names.is_empty() {
            write!(f, " before the first migration")?;
        } else {
            let verb = if done.count(Direction::Down) > 0 {
                "reverting"
            } else {
                "applying"
            };
            write!(f, " after {verb} {}", list(&names))?;
        }
        if !self.pending.is_empty() {
            write!(f, "; not started: {}", list(&self.pending))?;
        }
        write!(
            f,
            "; the schema is at version {} and the migration lock is released. Run the same command again to go on",
            done.to
        )
    }
}

/// Read the history and plan, without changing anything (`status`, `plan`).
pub async fn inspect(
    conn: &mut Conn,
    set: &MigrationSet,
    target: Target,
    baseline: Option<i64>,
) -> Result<(Vec<Applied>, Plan), Error> {
    inspect_with(conn, set, target, baseline, OnIrreversible::Refuse).await
}

/// [`inspect`], choosing what a revert does at an irreversible migration.
pub async fn inspect_with(
    conn: &mut Conn,
    set: &MigrationSet,
    target: Target,
    baseline: Option<i64>,
    on_irreversible: OnIrreversible,
) -> Result<(Vec<Applied>, Plan), Error> {
    let (_, history) = history::read(conn).await?;
    let history = history.unwrap_or_default();
    let p = plan_with(set, &history, target, baseline, on_irreversible)?;
    Ok((history, p))
}

/// A check run under the lock with the plan, before anything is applied
/// (the Lambda's breaking-change gate and drain). `Err(reason)` stops the
/// run with nothing applied: [`Error::Refused`].
pub trait Gate: Send + Sync {
    fn check<'a>(
        &'a self,
        set: &'a MigrationSet,
        plan: &'a Plan,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>;
}

/// What [`run_with`] adds to [`run`].
#[derive(Clone, Copy, Default)]
pub struct Hooks<'a> {
    pub gate: Option<&'a dyn Gate>,
    pub on_irreversible: OnIrreversible,
    /// Checked before each migration (the CLI's SIGTERM/SIGINT).
    pub stop: Option<&'a Stop>,
}

/// Bring the database to `target`: session limits, `InitSql`, lock, read the
/// history once, plan, run the plan, release the lock (on every path).
pub async fn run(
    conn: &mut Conn,
    set: &MigrationSet,
    target: Target,
    opts: &Options,
    progress: &dyn Progress,
) -> Result<Report, Error> {
    run_with(conn, set, target, opts, progress, Hooks::default()).await
}

/// [`run`] with a [`Gate`] checked under the lock after planning, and a
/// choice of what a revert does at an irreversible migration.
pub async fn run_with(
    conn: &mut Conn,
    set: &MigrationSet,
    target: Target,
    opts: &Options,
    progress: &dyn Progress,
    hooks: Hooks<'_>,
) -> Result<Report, Error> {
    let started = Instant::now();
    let home = prepare(conn, opts).await?;
    let database = conn.database().to_string();
    // Near a deadline, wait for the lock only as long as there is time, so
    // the wait ends with a clear timeout rather than being cut.
    let lock_timeout = match opts.deadline {
        Some(d) => opts
            .lock_timeout
            .min(
                d.saturating_duration_since(Instant::now())
                    .saturating_sub(Duration::from_secs(1)),
            )
            .max(Duration::from_secs(1)),
        None => opts.lock_timeout,
    };
    match hooks.stop {
        // A stop while waiting gives the wait up: nothing was changed, and
        // the caller closes the connection (its query is cut), which ends
        // the server's wait too.
        Some(stop) => tokio::select! {
            biased;
            signal = stop.wait() => {
                return Err(Interrupted { signal, done: None, pending: Vec::new() }.into())
            }
            got = lock::acquire(conn, &database, lock_timeout) => got?,
        },
        None => lock::acquire(conn, &database, lock_timeout).await?,
    }
    let result = locked(conn, &home, set, target, opts, progress, started, hooks).await;
    let released = lock::release(conn, &database).await;
    let report = result?;
    released?;
    Ok(report)
}

/// Session limits and `InitSql`, then where the bookkeeping goes.
async fn prepare(conn: &mut Conn, opts: &Options) -> Result<Home, Error> {
    let statement_limit = opts
        .deadline
        .map(|d| d.saturating_duration_since(Instant::now()));
    conn.execute(&sql::session(conn.kind(), opts.lock_wait, statement_limit))
        .await?;
    for init in &opts.init_sql {
        conn.execute(init).await?;
    }
    Home::read(conn).await
}

#[allow(clippy::too_many_arguments)]
async fn locked(
    conn: &mut Conn,
    home: &Home,
    set: &MigrationSet,
    target: Target,
    opts: &Options,
    progress: &dyn Progress,
    started: Instant,
    hooks: Hooks<'_>,
) -> Result<Report, Error> {
    let history = match conn.history(&home.table()).await? {
        Some(h) => h,
        None => {
            conn.execute(&sql::create_history(home)).await?;
            Vec::new()
        }
    };
    let p = plan_with(set, &history, target, opts.baseline, hooks.on_irreversible)?;
    // Statements that would break the run itself never start (lint's call).
    crate::lint::refusals(set, conn.kind().dialect(), &p.steps)?;
    if let Some(gate) = hooks.gate {
        gate.check(set, &p).await.map_err(Error::Refused)?;
    }
    if let Some(too_large) = too_large(home, set, &p) {
        return Err(too_large);
    }
    let mut report = Report {
        from: p.current,
        to: p.current.unwrap_or(0),
        steps: Vec::new(),
        elapsed: Duration::ZERO,
        stopped: p.stopped.clone(),
    };

    let baseline: Vec<&Step> = p
        .steps
        .iter()
        .filter(|s| s.direction == Direction::Baseline)
        .collect();
    if !baseline.is_empty() {
        let t = Instant::now();
        let rows: Vec<sql::Row<'_>> = baseline
            .iter()
            .map(|s| {
                let f = set.get(s.version).expect("planned from the set");
                sql::Row {
                    version: f.version,
                    description: &f.description,
                    checksum: &f.up.checksum,
                }
            })
            .collect();
        let affected = conn
            .batch(sql::baseline(home, &rows))
            .await
            .map_err(|e| crate::DbError::query("recording the baseline", e.source))?;
        if affected.first() != Some(&(rows.len() as u64)) {
            return Err(Error::HistoryChanged {
                version: rows[0].version,
                detail: format!(
                    "recording the baseline wrote {} rows instead of {}",
                    affected.first().copied().unwrap_or(0),
                    rows.len()
                ),
            });
        }
        for s in baseline {
            report.steps.push(StepOutcome {
                step: s.clone(),
                duration: Duration::ZERO,
            });
            report.to = s.version;
        }
        tracing::info!(
            count = rows.len(),
            ms = t.elapsed().as_millis() as u64,
            "baseline recorded"
        );
    }

    let steps: Vec<&Step> = p
        .steps
        .iter()
        .filter(|s| s.direction != Direction::Baseline)
        .collect();
    for (i, step) in steps.iter().enumerate() {
        if let Some(signal) = hooks.stop.and_then(Stop::requested) {
            report.elapsed = started.elapsed();
            tracing::warn!(signal = signal.name, next = %step.name, "stopping before the next migration");
            return Err(Interrupted {
                signal,
                done: Some(report),
                pending: steps[i..].iter().map(|s| s.name.clone()).collect(),
            }
            .into());
        }
        let file = set.get(step.version).expect("planned from the set");
        let recorded_ns = history
            .iter()
            .find(|a| a.version == step.version)
            .map_or(0, |a| a.execution_time_ns);
        progress.started(step);
        let t = Instant::now();
        match one(conn, home, file, step, recorded_ns, opts).await {
            Ok(()) => {
                let outcome = StepOutcome {
                    step: (*step).clone(),
                    duration: t.elapsed(),
                };
                progress.finished(&outcome);
                report.steps.push(outcome);
                report.to = match step.direction {
                    Direction::Down => previous(set, step.version),
                    _ => step.version,
                };
            }
            Err(Failure { message, left, .. }) => {
                report.elapsed = started.elapsed();
                let script = if step.direction == Direction::Down {
                    file.down.as_ref()
                } else {
                    Some(&file.up)
                };
                return Err(Error::Apply(ApplyError {
                    done: report,
                    failed: (*step).clone(),
                    file: script.map(|s| s.file_name()).unwrap_or_default(),
                    error: message,
                    left,
                }));
            }
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// MariaDB takes a query of at most `max_allowed_packet` bytes and drops
/// the connection on a larger one, mid-run and with nothing to tell what
/// ran. Every planned batch is measured before the first one is sent:
/// [`Error::TooLarge`] for the first that does not fit.
fn too_large(home: &Home, set: &MigrationSet, p: &Plan) -> Option<Error> {
    let limit = home.max_packet?;
    for step in p
        .steps
        .iter()
        .filter(|s| s.direction != Direction::Baseline)
    {
        let file = set.get(step.version).expect("planned from the set");
        let Some(script) = script_of(file, step.direction) else {
            continue;
        };
        let mark = mark_of(file, step.direction, 0);
        // The bookkeeping as sent, the script, its terminator, the command byte.
        let size = sql::step(home, &mark, None, Some(Duration::from_secs(1)))
            .sql
            .len()
            + script.sql.len()
            + 4;
        if size as u64 > limit {
            return Some(Error::TooLarge {
                file: script.path.display().to_string(),
                bytes: script.sql.len() as u64,
                limit,
            });
        }
    }
    None
}

fn script_of(file: &MigrationFile, direction: Direction) -> Option<&super::source::Script> {
    match direction {
        Direction::Down => file.down.as_ref(),
        _ => Some(&file.up),
    }
}

/// `schemagate resolve V --as applied|undone`: record, under the lock, how
/// a person resolved a migration recorded as failed. Refused (nothing
/// changed) for a version that is not recorded as failed.
pub async fn resolve(
    conn: &mut Conn,
    set: &MigrationSet,
    version: i64,
    how: ResolveAs,
    opts: &Options,
) -> Result<Resolution, Error> {
    let home = prepare(conn, opts).await?;
    let database = conn.database().to_string();
    lock::acquire(conn, &database, opts.lock_timeout).await?;
    let result = resolve_locked(conn, &home, set, version, how).await;
    let released = lock::release(conn, &database).await;
    let r = result?;
    released?;
    Ok(r)
}

async fn resolve_locked(
    conn: &mut Conn,
    home: &Home,
    set: &MigrationSet,
    version: i64,
    how: ResolveAs,
) -> Result<Resolution, Error> {
    let history = conn.history(&home.table()).await?.unwrap_or_default();
    let r = super::plan::resolve(set, &history, version, how)?;
    let sql = match &r.record {
        Some((description, checksum)) => sql::resolve_applied(
            home,
            &sql::Row {
                version,
                description,
                checksum,
            },
        ),
        None => sql::resolve_undone(home, version),
    };
    let affected = conn
        .batch(sql)
        .await
        .map_err(|e| crate::DbError::query(format!("recording version {version}"), e.source))?;
    if affected.first() != Some(&1) {
        return Err(Error::HistoryChanged {
            version,
            detail: "its failed row was gone when schemagate recorded the resolution".into(),
        });
    }
    tracing::info!(version, how = ?how, failed = ?r.failed, "resolved a failed migration");
    Ok(r)
}

/// The version below `version` that stays applied after reverting it.
fn previous(set: &MigrationSet, version: i64) -> i64 {
    set.files
        .iter()
        .map(|f| f.version)
        .filter(|&v| v < version)
        .max()
        .unwrap_or(0)
}

fn mark_of(file: &MigrationFile, direction: Direction, recorded_ns: i64) -> sql::Mark<'_> {
    match direction {
        Direction::Down => sql::Mark::Down {
            version: file.version,
            execution_time: recorded_ns.max(0),
        },
        _ => sql::Mark::Up(sql::Row {
            version: file.version,
            description: &file.description,
            checksum: &file.up.checksum,
        }),
    }
}

/// A step that did not finish: the message, what it left, and whether it
/// may be retried (nothing of it stays and it waited for a lock).
struct Failure {
    message: String,
    left: Left,
    retry: bool,
}

impl Failure {
    fn new(message: String, left: Left) -> Failure {
        Failure {
            message,
            left,
            retry: false,
        }
    }
}

/// Run one step, retrying lock-wait timeouts (nothing ran) until the deadline.
async fn one(
    conn: &mut Conn,
    home: &Home,
    file: &MigrationFile,
    step: &Step,
    recorded_ns: i64,
    opts: &Options,
) -> Result<(), Failure> {
    let kind = home.kind;
    let script = script_of(file, step.direction).expect("planned down steps are reversible");
    let body = terminated(&script.sql, kind);
    let this = mark_of(file, step.direction, recorded_ns);
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let result = match (kind, script.no_tx) {
            (Kind::Postgres, false) => pg_atomic(conn, home, file, step, body.as_deref()).await,
            (Kind::Postgres, true) => pg_statements(conn, home, &this, &script.sql).await,
            (Kind::MariaDb, _) => mariadb(conn, home, &this, body.as_deref(), opts).await,
        };
        match result {
            Ok(()) => return Ok(()),
            Err(f) if f.retry && time_left(opts, attempt) => {
                wait_before_retry(step, attempt, &f.message, opts).await;
            }
            Err(f) => return Err(f),
        }
    }
}

/// MariaDB: the step's one batch ([`sql::step`]), then its affected-row
/// counts checked; after a failure, what committed is read back.
async fn mariadb(
    conn: &mut Conn,
    home: &Home,
    this: &sql::Mark<'_>,
    body: Option<&str>,
    opts: &Options,
) -> Result<(), Failure> {
    let limit = opts
        .deadline
        .map(|d| d.saturating_duration_since(Instant::now()));
    let batch = sql::step(home, this, body, limit);
    match conn.batch(batch.sql).await {
        Ok(affected) => {
            let finish = affected
                .len()
                .checked_sub(batch.suffix)
                .and_then(|i| affected.get(i));
            if finish == Some(&1) {
                return Ok(());
            }
            // Everything committed, but the finish changed nothing: the
            // script moved the session to another database (its row stays
            // "started", in the right place), or removed the row.
            let ran = affected.len().saturating_sub(batch.prefix + batch.suffix);
            let now = conn.row_text("SELECT DATABASE()").await;
            let message = match now.map(|r| r.into_iter().next().flatten()) {
                Ok(now) if now.as_deref() != Some(home.name.as_str()) => {
                    let back = match conn.execute(&sql::use_home(home)).await {
                        Ok(()) => "the session was moved back".to_string(),
                        Err(e) => format!("moving the session back failed: {e}"),
                    };
                    format!(
                        "the migration left the session in database {} instead of `{}` (a `USE` statement?), so what it ran after that went there and its history row in `{}` was not marked as applied; {back}",
                        now.map_or("none".into(), |n| format!("`{n}`")),
                        home.name,
                        home.name,
                    )
                }
                Ok(_) => format!(
                    "its history row in {} was not there to be marked as applied (did the migration change `_sqlx_migrations`?)",
                    home.table()
                ),
                Err(e) => format!("recording it failed, then the connection failed: {e}"),
            };
            Err(Failure::new(message, Left::Partly { statements: ran }))
        }
        Err(e) => {
            let message = db_message(&e.source);
            let retry = crate::db::is_lock_timeout(&e.source);
            if let Err(abort) = conn.execute(&sql::abort(home)).await {
                return Err(Failure::new(
                    format!("{message}; then the connection failed: {abort}"),
                    Left::Unknown,
                ));
            }
            let ran = e.completed.saturating_sub(batch.prefix);
            settle(conn, home, this, ran, message, retry).await
        }
    }
}

/// After a failed script: read its row back and say what the database
/// holds. `ran`: statements of the script that completed before the failure.
async fn settle(
    conn: &mut Conn,
    home: &Home,
    this: &sql::Mark<'_>,
    ran: usize,
    message: String,
    retry: bool,
) -> Result<(), Failure> {
    let state = match conn
        .scalar_opt_i64(&sql::row_state(home, this.version()))
        .await
    {
        Ok(s) => s,
        Err(e) => {
            return Err(Failure::new(
                format!("{message}; then reading its history row failed: {e}"),
                Left::Unknown,
            ))
        }
    };
    let (started, up) = match this {
        sql::Mark::Up(_) => (UP_STARTED, true),
        sql::Mark::Down { .. } => (DOWN_STARTED, false),
    };
    match state {
        // The row that says "started" committed: something of the script
        // may have (a DDL commits what came before it, then itself).
        Some(s) if s == started => {
            if ran > 0 {
                return Err(Failure::new(message, Left::Partly { statements: ran }));
            }
            // Its first statement failed, and a failed statement changes
            // nothing: give the record back.
            if let Err(e) = conn.execute(&sql::unmark(home, this)).await {
                return Err(Failure::new(
                    format!("{message}; none of its statements ran, but then restoring its history row failed: {e}"),
                    Left::Unknown,
                ));
            }
            Err(Failure {
                message,
                left: Left::Nothing,
                retry,
            })
        }
        // Rolled back with the script's transaction: no row (up), or the
        // row still says applied (down). (Writes to non-transactional
        // tables — MyISAM, Aria — are not undone by a rollback; the engine
        // cannot see them.)
        None if up => Err(Failure {
            message,
            left: Left::Nothing,
            retry,
        }),
        Some(1) if !up => Err(Failure {
            message,
            left: Left::Nothing,
            retry,
        }),
        // The finish committed before the failure: the step is done.
        Some(1) | None => Ok(()),
        Some(other) => Err(Failure::new(
            format!("{message}; its history row then said {other}, which this step did not write"),
            Left::Unknown,
        )),
    }
}

/// PostgreSQL: the script and its row in one implicit transaction.
async fn pg_atomic(
    conn: &mut Conn,
    home: &Home,
    file: &MigrationFile,
    step: &Step,
    body: Option<&str>,
) -> Result<(), Failure> {
    let row = sql::Row {
        version: file.version,
        description: &file.description,
        checksum: &file.up.checksum,
    };
    let batch = match step.direction {
        Direction::Down => sql::down_atomic(home, file.version, body),
        _ => sql::up_atomic(home, &row, body),
    };
    match conn.batch(batch.sql).await {
        Ok(affected) => {
            let recorded = affected
                .len()
                .checked_sub(batch.suffix)
                .and_then(|i| affected.get(i));
            if recorded == Some(&1) {
                return Ok(());
            }
            Err(Failure::new(
                format!(
                    "the script ran, but its history row in {} was not {} (did the migration change `_sqlx_migrations`?)",
                    home.table(),
                    if step.direction == Direction::Down { "there to delete" } else { "written" }
                ),
                Left::Unknown,
            ))
        }
        // The implicit transaction rolled everything back.
        Err(e) => Err(Failure {
            message: db_message(&e.source),
            left: Left::RolledBack,
            retry: crate::db::is_lock_timeout(&e.source),
        }),
    }
}

/// PostgreSQL `-- no-transaction`: sent as one query, a script would still
/// run as one implicit transaction (CREATE INDEX CONCURRENTLY refuses to,
/// and a failure would undo all of it). So: record the start, run each
/// statement on its own (each commits), then finish; a failure says how
/// many statements committed.
async fn pg_statements(
    conn: &mut Conn,
    home: &Home,
    this: &sql::Mark<'_>,
    sql_text: &str,
) -> Result<(), Failure> {
    let statements: Vec<String> = match crate::lint::split::split(sql_text, Dialect::Postgres) {
        Ok(p) => p.pieces.into_iter().map(|p| p.text.into_owned()).collect(),
        // The tokenizer gave up (an unterminated string): send it whole and
        // let the server say what is wrong.
        Err(_) => terminated(sql_text, Kind::Postgres).into_iter().collect(),
    };
    match conn.batch(sql::started(home, this)).await {
        Ok(a) if a.first() == Some(&1) => {}
        Ok(_) => {
            return Err(Failure::new(
                format!(
                    "its history row in {} was not as planned (did something else change `_sqlx_migrations`?); the script did not run",
                    home.table()
                ),
                Left::Nothing,
            ))
        }
        Err(e) => {
            return Err(Failure::new(
                format!(
                    "{} (while recording the migration; the script did not run)",
                    db_message(&e.source)
                ),
                Left::Nothing,
            ))
        }
    }
    let t = Instant::now();
    for (i, statement) in statements.iter().enumerate() {
        if let Err(e) = conn.batch(statement.clone()).await {
            let retry = i == 0 && crate::db::is_lock_timeout(&e.source);
            return settle(conn, home, this, i, db_message(&e.source), retry).await;
        }
    }
    let finish = sql::pg_finish(home, this, t.elapsed());
    match conn.batch(finish.sql).await {
        Ok(a) if a.first() == Some(&1) => Ok(()),
        Ok(_) => Err(Failure::new(
            format!(
                "its history row in {} was not there to be finished (did the migration change `_sqlx_migrations`?)",
                home.table()
            ),
            Left::Partly {
                statements: statements.len(),
            },
        )),
        Err(e) => Err(Failure::new(
            db_message(&e.source),
            Left::Partly {
                statements: statements.len(),
            },
        )),
    }
}

/// Whether another try fits before the deadline: the shortest pause, one
/// whole lock wait (MariaDB's is at least 1 s) and the margin to record.
fn time_left(opts: &Options, attempt: u32) -> bool {
    match opts.deadline {
        Some(d) => Instant::now() + backoff(0) + try_length(opts) + RETRY_MARGIN < d,
        None => attempt < TRIES_WITHOUT_DEADLINE,
    }
}

/// How long one try can wait for the lock, as the server applies it.
fn try_length(opts: &Options) -> Duration {
    Duration::from_secs_f64(opts.lock_wait.as_secs_f64().ceil().max(1.0))
}

/// The pause before try `attempt + 1` before jitter: 250 ms, doubling up to
/// 4 s. The app's queries run freely during it; a long transaction makes the
/// tries sparse, a short one is met soon after it ends.
fn backoff(attempt: u32) -> Duration {
    (Duration::from_millis(250) * 2u32.pow(attempt.min(4))).min(Duration::from_secs(4))
}

/// Pause between tries: the backoff with jitter (×1 to ×2, as backon's), so
/// that several runs, or a run and the app's own retries, do not fall into
/// step; never past the point where a whole try no longer fits.
async fn wait_before_retry(step: &Step, attempt: u32, message: &str, opts: &Options) {
    let base = backoff(attempt.saturating_sub(1));
    let mut delay = base + base.mul_f64(fastrand::f64());
    if let Some(d) = opts.deadline {
        let room = d
            .saturating_duration_since(Instant::now())
            .saturating_sub(try_length(opts) + RETRY_MARGIN);
        delay = delay.min(room);
    }
    tracing::warn!(migration = %step.name, attempt, error = %message, retry_in_ms = delay.as_millis() as u64,
        "a metadata lock is held by another session (a long transaction?); waiting and retrying");
    tokio::time::sleep(delay).await;
}

/// The server's own words, with its error number.
fn db_message(e: &sqlx::Error) -> String {
    match e.as_database_error() {
        Some(db) => match crate::db::error_code(e) {
            Some(code) => format!("{} ({code})", db.message()),
            None => db.message().to_string(),
        },
        None => e.to_string(),
    }
}
