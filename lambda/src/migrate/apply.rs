//! Running a plan: a small loop, one round trip per migration with its
//! bookkeeping riding along, under the lock, with the history read once.
//! The loop talks to the connection's [`crate::db::Engine`] and never asks
//! which database it is.
//!
//! What the history says is what the database holds: a step's row is
//! written in its own batch, as the first statement before its script (see
//! [`crate::db::mariadb`]), so a row says "started" only for a script that
//! did start; after a failure the engine reads the row back to tell what
//! committed. A PostgreSQL `-- no-transaction` script runs statement by
//! statement, so the count of what committed is exact.

use std::time::{Duration, Instant};

pub use super::error::ApplyError;
pub use super::options::Options;
pub use super::report::{secs, Progress, Report, StepOutcome};
pub use super::stop::{Interrupted, Signal, Stop};
pub use crate::db::Left;
/// The default [`Options::lock_wait`] ([`crate::defaults::LOCK_WAIT`]).
pub use crate::defaults::LOCK_WAIT as DEFAULT_LOCK_WAIT;

use super::adopt::{self, Start};
use super::error::Error;
use super::history::{self, Applied, Home};
use super::keep::{self, Scripts};
use super::lock;
use super::plan::{plan_with, Direction, OnIrreversible, Plan, Step, Target};
use super::retry;
use super::script::{opens_with_commit, terminated};
use super::session::prepare;
use super::source::{MigrationSet, Script};
use crate::db::rows::{Entry, Mark};
use crate::db::{Conn, StepRun};
use crate::dialect::Dialect;
use crate::lint::MigrationLint;

/// Read the history and plan, without changing anything (`status`, `plan`).
pub async fn inspect(
    conn: &mut Conn,
    set: &MigrationSet,
    target: Target,
    start: Start,
) -> Result<(Vec<Applied>, Plan), Error> {
    inspect_with(conn, set, target, start, OnIrreversible::Refuse).await
}

/// [`inspect`], choosing what a revert does at an irreversible migration.
pub async fn inspect_with(
    conn: &mut Conn,
    set: &MigrationSet,
    target: Target,
    start: Start,
    on_irreversible: OnIrreversible,
) -> Result<(Vec<Applied>, Plan), Error> {
    let (home, history) = history::read(conn).await?;
    let begin = adopt::start(conn, &home, set, history.as_deref(), start).await?;
    let history = history.unwrap_or_default();
    let mut p = plan_with(set, &history, target, begin.baseline, on_irreversible)?;
    p.adopted = begin.adopted;
    Ok((history, p))
}

/// A check run under the lock with the plan, before anything is applied
/// (the Lambda's breaking-change gate and drain). `Err(reason)` stops the
/// run with nothing applied: [`Error::Refused`].
pub trait Gate: Send + Sync {
    /// `lints`: the run's lint of the pending up migrations, in version
    /// order (empty when none is pending), computed once per run: the same
    /// one decides what is refused and the class the history keeps.
    fn check<'a>(
        &'a self,
        set: &'a MigrationSet,
        plan: &'a Plan,
        lints: &'a [MigrationLint],
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
    let lock = lock::id(conn.database());
    // Near a deadline, wait for the lock only as long as there is time, so
    // the wait ends with a clear timeout rather than being cut.
    let lock_timeout = opts
        .deadline
        .map_or(opts.lock_timeout, |d| d.clamp(opts.lock_timeout));
    match hooks.stop {
        // A stop while waiting gives the wait up: nothing was changed, and
        // the caller closes the connection (its query is cut), which ends
        // the server's wait too.
        Some(stop) => tokio::select! {
            biased;
            signal = stop.wait() => {
                return Err(Interrupted { signal, done: None, pending: Vec::new() }.into())
            }
            got = lock::acquire(conn, &lock, lock_timeout) => got?,
        },
        None => lock::acquire(conn, &lock, lock_timeout).await?,
    }
    let run = Run {
        conn: &mut *conn,
        home: &home,
        set,
        opts,
        progress,
        hooks,
        started,
    };
    let result = run.locked(target).await;
    let released = lock::release(conn, &lock).await;
    let report = result?;
    released?;
    Ok(report)
}

/// A run under the lock.
struct Run<'a> {
    conn: &'a mut Conn,
    home: &'a Home,
    set: &'a MigrationSet,
    opts: &'a Options,
    progress: &'a dyn Progress,
    hooks: Hooks<'a>,
    started: Instant,
}

/// What a run works from once it has planned: the scripts it runs (the
/// folder's, and the down scripts the database keeps for migrations the
/// folder lacks), the lint of the pending ups, and the version the run
/// starts from (`since` in what is kept).
struct Planned<'a> {
    plan: Plan,
    history: Vec<Applied>,
    scripts: Scripts<'a>,
    lints: Vec<MigrationLint>,
    since: i64,
    /// The database's online changes ([`super::online`]).
    online: Vec<crate::online::state::Row>,
}

impl<'a> Run<'a> {
    /// Read the history once, plan, check the plan, record a baseline and
    /// run the steps.
    async fn locked(mut self, target: Target) -> Result<Report, Error> {
        let planned = self.plan(target).await?;
        let p = &planned.plan;
        if let Some(gate) = self.hooks.gate {
            gate.check(self.set, p, &planned.lints)
                .await
                .map_err(Error::Refused)?;
        }
        self.fits(&planned)?;
        let (conn, home) = (&mut *self.conn, self.home);
        super::online::first(conn, home, self.set, p, &planned.history, &planned.online).await?;
        let mut report = Report {
            from: p.current,
            to: p.current.unwrap_or(0),
            steps: Vec::new(),
            elapsed: Duration::ZERO,
            stopped: p.stopped.clone(),
            adopted: p.adopted.clone(),
        };
        self.baseline(p, &mut report).await?;
        self.steps(&planned, report).await
    }

    /// The history (its tables created where missing), the plan, the down
    /// scripts it takes from the database, and the lint of what it applies;
    /// statements that would break the run itself never start (lint's call).
    async fn plan(&mut self, target: Target) -> Result<Planned<'a>, Error> {
        let (set, home) = (self.set, self.home);
        let read = self.conn.engine().history(home).await?;
        let kept_table = read.as_ref().is_some_and(|h| h.kept_table);
        let history = read.map(|h| h.rows);
        let begin =
            adopt::start(self.conn, home, set, history.as_deref(), self.opts.start()).await?;
        let history = history.unwrap_or_default();
        let mut plan = plan_with(
            set,
            &history,
            target,
            begin.baseline,
            self.hooks.on_irreversible,
        )?;
        plan.adopted = begin.adopted;
        // Made once the plan stands: a refused plan leaves no table behind.
        if !kept_table {
            self.conn.engine().create_history(home).await?;
        }
        let stored = keep::stored_downs(self.conn, home, &plan).await?;
        let dialect = self.conn.dialect();
        let scripts = Scripts::new(set, stored);
        let lints = keep::lint(&scripts, dialect, &plan)?;
        let online = super::online::rows(self.conn, home).await?;
        let since = plan
            .steps
            .iter()
            .filter(|s| s.direction == Direction::Baseline)
            .map(|s| s.version)
            .max()
            .or(plan.current)
            .unwrap_or(0);
        Ok(Planned {
            plan,
            history,
            scripts,
            lints,
            since,
            online,
        })
    }

    /// Record the planned baseline in one round trip, with what is kept.
    async fn baseline(&mut self, p: &Plan, report: &mut Report) -> Result<(), Error> {
        let baseline: Vec<&Step> = p
            .steps
            .iter()
            .filter(|s| s.direction == Direction::Baseline)
            .collect();
        if baseline.is_empty() {
            return Ok(());
        }
        let t = Instant::now();
        let entries: Vec<Entry<'_>> = baseline
            .iter()
            .map(|s| keep::baselined(self.set.get(s.version).expect("planned from the set")))
            .collect();
        let written = self.conn.engine().baseline(self.home, &entries).await?;
        if written != entries.len() as u64 {
            return Err(Error::HistoryChanged {
                version: entries[0].row.version,
                detail: format!(
                    "recording the baseline wrote {written} rows instead of {}",
                    entries.len()
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
            count = entries.len(),
            ms = t.elapsed().as_millis() as u64,
            "baseline recorded"
        );
        Ok(())
    }

    /// Run the planned ups and downs in order, stopping before the next one
    /// when asked to.
    async fn steps(&mut self, planned: &Planned<'_>, mut report: Report) -> Result<Report, Error> {
        let steps: Vec<&Step> = planned
            .plan
            .steps
            .iter()
            .filter(|s| s.direction != Direction::Baseline)
            .collect();
        let dialect = self.conn.dialect();
        for (i, step) in steps.iter().enumerate() {
            if let Some(signal) = self.hooks.stop.and_then(Stop::requested) {
                report.elapsed = self.started.elapsed();
                tracing::warn!(signal = signal.name, next = %step.name, "stopping before the next migration");
                let pending = steps[i..].iter().map(|s| s.name.clone()).collect();
                let done = Some(report);
                return Err(Interrupted {
                    signal,
                    done,
                    pending,
                }
                .into());
            }
            let script = planned.scripts.script(step);
            self.progress.started(step);
            // An online change's step runs its phase here and no script.
            let online = self.online(planned, step).await?;
            let body = (!online)
                .then(|| terminated(&script.sql, dialect))
                .flatten();
            let mut run = step_run(planned, step, script, body.as_deref());
            run.next_commits = next_commits(planned, step, steps.get(i + 1), dialect);
            let t = Instant::now();
            let done = retry::one(self.conn, self.home, step, &run, self.opts).await;
            if let Err(f) = done {
                report.elapsed = self.started.elapsed();
                return Err(Error::from(ApplyError {
                    done: report,
                    failed: (*step).clone(),
                    file: script.file_name(),
                    error: f.error,
                    left: f.left,
                }));
            }
            let outcome = StepOutcome {
                step: (*step).clone(),
                duration: t.elapsed(),
            };
            self.progress.finished(&outcome);
            report.steps.push(outcome);
            report.to = match step.direction {
                Direction::Down => previous(&planned.history, step.version),
                _ => step.version,
            };
        }
        report.elapsed = self.started.elapsed();
        Ok(report)
    }

    /// The online part of `step` ([`super::online::step`]).
    async fn online(&mut self, planned: &Planned<'_>, step: &Step) -> Result<bool, Error> {
        let (set, lints, rows) = (self.set, &planned.lints, &planned.online);
        let deadline = self.opts.deadline;
        super::online::step(self.conn, self.home, set, step, lints, rows, deadline).await
    }

    /// Every planned batch is measured before the first one is sent, against
    /// the server's limit on one batch (MariaDB drops the connection on a
    /// larger one, mid-run and with nothing to tell what ran):
    /// [`Error::TooLarge`] for the first that does not fit.
    fn fits(&mut self, planned: &Planned<'_>) -> Result<(), Error> {
        let engine = self.conn.engine();
        for step in planned
            .plan
            .steps
            .iter()
            .filter(|s| s.direction != Direction::Baseline)
        {
            let script = planned.scripts.script(step);
            let run = step_run(planned, step, script, None);
            if let Some(limit) = engine.too_large(self.home, &run) {
                return Err(Error::TooLarge {
                    file: script.path.display().to_string(),
                    bytes: script.sql.len() as u64,
                    limit,
                });
            }
        }
        Ok(())
    }
}

/// A step as the engine runs it: its script, and its row — a new one with
/// what is kept of it (up), or the applied one, with the `execution_time`
/// it had (down).
fn step_run<'a>(
    planned: &'a Planned<'_>,
    step: &Step,
    script: &'a Script,
    body: Option<&'a str>,
) -> StepRun<'a> {
    let mark = match step.direction {
        Direction::Down => Mark::Down {
            version: step.version,
            execution_time: planned
                .history
                .iter()
                .find(|a| a.version == step.version)
                .map_or(0, |a| a.execution_time_ns.max(0)),
        },
        _ => {
            let file = planned
                .scripts
                .set
                .get(step.version)
                .expect("planned from the set");
            let lint = planned.lints.iter().find(|l| l.version == step.version);
            Mark::Up(keep::applying(file, lint, planned.since))
        }
    };
    StepRun {
        mark,
        sql: &script.sql,
        body,
        no_tx: script.no_tx,
        next_commits: false,
    }
}

/// An up followed by an up whose first statement commits implicitly
/// (MariaDB DDL): the first one's finish may ride in that commit.
fn next_commits(
    planned: &Planned<'_>,
    step: &Step,
    next: Option<&&Step>,
    dialect: Dialect,
) -> bool {
    let up = |s: &Step| s.direction == Direction::Up;
    // An online change runs its phases around its batch, not a script that
    // opens with a DDL: the finish before it and its own commit at once.
    let online = |s: &Step| {
        planned
            .lints
            .iter()
            .any(|l| l.version == s.version && l.online.is_some())
    };
    up(step)
        && !online(step)
        && next.is_some_and(|n| {
            up(n) && !online(n) && opens_with_commit(&planned.scripts.script(n).sql, dialect)
        })
}

/// The version below `version` that stays applied after reverting it.
fn previous(history: &[Applied], version: i64) -> i64 {
    history
        .iter()
        .map(|a| a.version)
        .filter(|&v| v < version)
        .max()
        .unwrap_or(0)
}
