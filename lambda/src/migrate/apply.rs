//! Running a plan: a small loop, one round trip per migration with its
//! bookkeeping riding along, under the lock, with the history read once.

use std::fmt;
use std::time::{Duration, Instant};

use super::plan::{plan_with, Direction, OnIrreversible, Plan, Step, Stopped, Target};
use super::script::terminated;
use super::source::{MigrationFile, MigrationSet};
use super::{history::Applied, lock};
use crate::db::{sql, Conn, Kind};
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
    /// Session `lock_wait_timeout`: how long one DDL may wait for a metadata
    /// lock before it gives up (and is retried while time remains).
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
            lock_wait: Duration::from_secs(10),
            deadline: None,
        }
    }
}

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

/// Where a failed migration left the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Left {
    /// The first statement failed: nothing of the migration ran, and its
    /// history row was removed again. Safe to fix the file and re-run.
    Nothing,
    /// `statements` statements ran before the failure (MariaDB commits DDL as
    /// it goes); the history row says `success = false`.
    Partly { statements: usize },
    /// PostgreSQL rolled the whole migration back.
    RolledBack,
}

/// A migration failed; `done` is what was applied before it.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ApplyError {
    pub done: Report,
    pub failed: Step,
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
        if done > 0 {
            let names: Vec<String> = self
                .done
                .steps
                .iter()
                .map(|s| s.step.name.clone())
                .collect();
            let verb = if self.failed.direction == Direction::Down {
                "reverted"
            } else {
                "applied"
            };
            write!(f, "{verb} {}; ", list(&names))?;
        }
        let what = if self.failed.direction == Direction::Down {
            "reverting"
        } else {
            "at"
        };
        write!(f, "failed {what} `{}`: {}", self.failed.name, self.error)?;
        match &self.left {
            Left::Nothing | Left::RolledBack if self.stopped_for_time() => write!(
                f,
                ". Nothing of `{}` was applied; the schema is at version {}. It was stopped for lack of time before the function's deadline: give the function a longer timeout, or run this migration outside the deploy (`schemagate up`)",
                self.failed.name, self.done.to
            ),
            Left::Nothing | Left::RolledBack => write!(
                f,
                ". Nothing of `{}` was applied; the schema is at version {}. Fix `{}` and run again",
                self.failed.name, self.done.to, self.file
            ),
            Left::Partly { statements } => write!(
                f,
                ". `{}` is PARTLY applied ({statements} statement{} ran before the failure) and recorded as failed (success = false); nothing more will run until it is resolved: compare the database with `{}`, finish or undo its statements by hand, then `DELETE FROM _sqlx_migrations WHERE version = {}` and run again",
                self.failed.name,
                if *statements == 1 { "" } else { "s" },
                self.file,
                self.failed.version
            ),
        }
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
    let history = conn.history().await?.unwrap_or_default();
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
    let statement_limit = opts
        .deadline
        .map(|d| d.saturating_duration_since(Instant::now()));
    conn.execute(&sql::session(conn.kind(), opts.lock_wait, statement_limit))
        .await?;
    for init in &opts.init_sql {
        conn.execute(init).await?;
    }
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
    lock::acquire(conn, &database, lock_timeout).await?;
    let result = locked(conn, set, target, opts, progress, started, hooks).await;
    let released = lock::release(conn, &database).await;
    let report = result?;
    released?;
    Ok(report)
}

async fn locked(
    conn: &mut Conn,
    set: &MigrationSet,
    target: Target,
    opts: &Options,
    progress: &dyn Progress,
    started: Instant,
    hooks: Hooks<'_>,
) -> Result<Report, Error> {
    let history = match conn.history().await? {
        Some(h) => h,
        None => {
            conn.execute(&sql::create_history(conn.kind())).await?;
            Vec::new()
        }
    };
    let p = plan_with(set, &history, target, opts.baseline, hooks.on_irreversible)?;
    // Statements that would break the run itself never start (lint's call).
    crate::lint::refusals(set, conn.kind(), &p.steps)?;
    if let Some(gate) = hooks.gate {
        gate.check(set, &p).await.map_err(Error::Refused)?;
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
        conn.execute(&sql::baseline(conn.kind(), &rows)).await?;
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
    // MariaDB: whether the current step's history row is already claimed
    // (each batch claims the next step's row; see `sql::chained`).
    let mut claimed = false;
    for (i, step) in steps.iter().enumerate() {
        let file = set.get(step.version).expect("planned from the set");
        let next = steps
            .get(i + 1)
            .map(|s| set.get(s.version).expect("planned from the set"));
        progress.started(step);
        let t = Instant::now();
        match one(conn, file, step, next, &mut claimed, opts).await {
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
            Err((error, left)) => {
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
                    error,
                    left,
                }));
            }
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
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

fn mark_of<'a>(file: &'a MigrationFile, direction: Direction) -> sql::Mark<'a> {
    match direction {
        Direction::Down => sql::Mark::Down(file.version),
        _ => sql::Mark::Up(sql::Row {
            version: file.version,
            description: &file.description,
            checksum: &file.up.checksum,
        }),
    }
}

/// Run one step, retrying lock-wait timeouts (nothing ran) until the deadline.
async fn one(
    conn: &mut Conn,
    file: &MigrationFile,
    step: &Step,
    next: Option<&MigrationFile>,
    claimed: &mut bool,
    opts: &Options,
) -> Result<(), (String, Left)> {
    let kind = conn.kind();
    let script = match step.direction {
        Direction::Down => file
            .down
            .as_ref()
            .expect("planned down steps are reversible"),
        _ => &file.up,
    };
    let body = terminated(&script.sql, kind);
    let this = mark_of(file, step.direction);
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let failure = match (kind, script.no_tx) {
            (Kind::Postgres, false) => {
                let row = sql::Row {
                    version: file.version,
                    description: &file.description,
                    checksum: &file.up.checksum,
                };
                let batch = match step.direction {
                    Direction::Down => sql::down_atomic(file.version, body.as_deref()),
                    _ => sql::up_atomic(kind, &row, body.as_deref()),
                };
                match conn.batch(batch.sql).await {
                    Ok(_) => return Ok(()),
                    Err(e) => {
                        // The implicit transaction rolled everything back.
                        let message = db_message(&e.source);
                        if crate::db::is_lock_timeout(&e.source) && time_left(opts, attempt) {
                            wait_before_retry(step, attempt, &message).await;
                            continue;
                        }
                        return Err((message, Left::RolledBack));
                    }
                }
            }
            (Kind::Postgres, true) => {
                // CREATE INDEX CONCURRENTLY and friends cannot share a
                // transaction: claim, run the script alone, finish.
                conn.execute(&sql::mark(kind, &this))
                    .await
                    .map_err(|e| (e.to_string(), Left::Nothing))?;
                let t = Instant::now();
                let ran = match &body {
                    Some(b) => conn.batch(b.clone()).await.map(|_| ()),
                    None => Ok(()),
                };
                match ran {
                    Ok(()) => {
                        conn.execute(&sql::finish(&this, Some(t.elapsed())))
                            .await
                            .map_err(|e| (e.to_string(), Left::Partly { statements: 1 }))?;
                        return Ok(());
                    }
                    Err(e) => (e, 0),
                }
            }
            (Kind::MariaDb, _) => {
                if !*claimed {
                    conn.execute(&sql::mark(kind, &this)).await.map_err(|e| {
                        (
                            format!("{e} (while recording the migration; the script did not run)"),
                            Left::Nothing,
                        )
                    })?;
                    *claimed = true;
                }
                let next_mark = next.map(|n| mark_of(n, step.direction));
                let limit = opts
                    .deadline
                    .map(|d| d.saturating_duration_since(Instant::now()));
                let batch = sql::chained(&this, body.as_deref(), next_mark.as_ref(), limit);
                match conn.batch(batch.sql).await {
                    Ok(_) => {
                        *claimed = next.is_some();
                        return Ok(());
                    }
                    Err(e) => {
                        if let Err(abort) = conn.execute(sql::ABORT).await {
                            let message = format!(
                                "{}; then the connection failed: {abort}",
                                db_message(&e.source)
                            );
                            return Err((
                                message,
                                Left::Partly {
                                    statements: e.completed.saturating_sub(batch.prefix),
                                },
                            ));
                        }
                        (e, batch.prefix)
                    }
                }
            }
        };
        let (err, prefix) = failure;
        let message = db_message(&err.source);
        let ran = err.completed.saturating_sub(prefix);
        if err.completed < prefix {
            // `SET` failed: the script did not start.
            return Err((message, Left::Nothing));
        }
        if ran > 0 {
            return Err((message, Left::Partly { statements: ran }));
        }
        // The first statement of the script failed: a failed statement
        // changes nothing, so give the claim back.
        if let Err(e) = conn.execute(&sql::unmark(&this)).await {
            return Err((
                format!("{message}; then restoring its history row failed: {e}"),
                Left::Partly { statements: 0 },
            ));
        }
        *claimed = false;
        if crate::db::is_lock_timeout(&err.source) && time_left(opts, attempt) {
            wait_before_retry(step, attempt, &message).await;
            continue;
        }
        return Err((message, Left::Nothing));
    }
}

fn time_left(opts: &Options, attempt: u32) -> bool {
    match opts.deadline {
        Some(d) => Instant::now() + opts.lock_wait + Duration::from_secs(2) < d,
        None => attempt < 30,
    }
}

async fn wait_before_retry(step: &Step, attempt: u32, message: &str) {
    let delay = Duration::from_millis((500u64 << attempt.min(4)).min(5000));
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
