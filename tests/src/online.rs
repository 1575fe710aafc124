//! Two releases of an app serving through an online change (issue #14):
//! each [`Release`] is a task with its own connection and its own SQL (the
//! old one with the old names), writing and reading in a bounded loop,
//! while the Lambda expands, while "the fleet is replaced" (the old one
//! stops) and while the next release's deploy contracts.
//!
//! Every cycle of a release is three statements, each timed: an INSERT of
//! a row, an UPDATE of that row (so both triggers run), and a SELECT of a
//! row the *other* release wrote, compared with what this release expects
//! to read there. A row is shown to the other release only after both of
//! its writes. Row `i` is written by the old release when `i` is odd, by
//! the new when even, so what a release expects to read depends on `i`
//! alone. When a release stops it reads back every row the other wrote so
//! far: the figure "rows written by one release that the other reads
//! correctly" covers all of them, not a sample.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use sqlx::mysql::MySqlArguments;
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, Connection, MySql, MySqlConnection};
use tokio::task::JoinHandle;

/// One statement's bound values.
pub type Binds = Vec<Option<String>>;

/// The SQL of one release of the app.
#[derive(Clone, Copy)]
pub struct Release {
    pub label: &'static str,
    /// Writes row `i` ([`Release::insert_binds`]).
    pub insert: &'static str,
    pub insert_binds: fn(u64) -> Binds,
    /// Rewrites a row to `j`: [`Release::update_binds`]`(j)`, then the id.
    pub update: &'static str,
    pub update_binds: fn(u64) -> Binds,
    /// One text column of the row whose id is bound.
    pub read: &'static str,
    /// What [`Release::read`] returns for row `i`, whoever wrote it.
    pub expect: fn(u64) -> Option<String>,
}

/// Phases of the deploy, in order; the load counts its stalls by phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Before = 0,
    Expand = 1,
    Both = 2,
    Replaced = 3,
    Contract = 4,
    After = 5,
}

pub const PHASES: [&str; 6] = [
    "before",
    "expand",
    "both serving",
    "fleet replaced",
    "contract",
    "after",
];

/// The clock the releases share: which phase the deploy is in.
#[derive(Clone, Default)]
pub struct Clock(Arc<AtomicUsize>);

impl Clock {
    pub fn set(&self, p: Phase) {
        self.0.store(p as usize, Ordering::SeqCst);
    }
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Rows a release wrote: `(id, i)`, shown once both writes are done.
pub type Written = Arc<Mutex<Vec<(u64, u64)>>>;

/// What one release saw.
#[derive(Debug, Default, Clone)]
pub struct Figures {
    pub label: &'static str,
    pub ops: u64,
    pub errors: Vec<String>,
    /// The longest single statement, by [`Phase`].
    pub stall: [Duration; 6],
    /// Reads of the other release's rows during the loop: right / all.
    pub cross_right: u64,
    pub cross_reads: u64,
    /// The other release's rows read back when this one stopped.
    pub final_right: u64,
    pub final_rows: u64,
    pub wrong: Vec<String>,
}

impl Figures {
    pub fn line(&self) -> String {
        let stalls: Vec<String> = PHASES
            .iter()
            .zip(self.stall)
            .filter(|(_, d)| !d.is_zero())
            .map(|(p, d)| format!("{p} {:.3}s", d.as_secs_f64()))
            .collect();
        format!(
            "{} release: {} ops, {} errors, other release's rows read right: {}/{} while serving, {}/{} at the end; longest query: {}",
            self.label,
            self.ops,
            self.errors.len(),
            self.cross_right,
            self.cross_reads,
            self.final_right,
            self.final_rows,
            stalls.join(", ")
        )
    }
}

/// Statements per second a release issues at most.
pub const RATE: u64 = 150;

/// A running release.
pub struct Running {
    stop: Arc<AtomicBool>,
    task: JoinHandle<Result<Figures>>,
}

impl Running {
    /// Start `release` on `url`: it writes to `mine` and reads `theirs`.
    pub async fn start(
        release: Release,
        url: &str,
        clock: Clock,
        mine: Written,
        theirs: Written,
    ) -> Result<Running> {
        let conn = MySqlConnection::connect(url).await?;
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let task = tokio::spawn(async move {
            let mut l = Loop {
                release,
                conn,
                clock,
                mine,
                theirs,
                figures: Figures {
                    label: release.label,
                    ..Figures::default()
                },
            };
            l.run(&s).await;
            l.read_back().await;
            l.conn.close().await.ok();
            Ok(l.figures)
        });
        Ok(Running { stop, task })
    }

    /// Stop after the current cycle; the figures once it read back.
    pub async fn stop(self) -> Result<Figures> {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await?
    }
}

/// Old rows are odd, new rows even.
static NEXT: AtomicU64 = AtomicU64::new(0);

fn next_i(parity: u64) -> u64 {
    loop {
        let n = NEXT.fetch_add(1, Ordering::SeqCst) + 1;
        if n % 2 == parity {
            return n;
        }
    }
}

/// What an UPDATE turns row `i` into (same parity: still that writer's).
pub const UPDATED: u64 = 10_000_000;

struct Loop {
    release: Release,
    conn: MySqlConnection,
    clock: Clock,
    mine: Written,
    theirs: Written,
    figures: Figures,
}

fn bind(sql: &'static str, binds: Binds) -> Query<'static, MySql, MySqlArguments> {
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for b in binds {
        q = q.bind(b);
    }
    q
}

impl Loop {
    async fn run(&mut self, stop: &AtomicBool) {
        let parity = if self.release.label == "old" { 1 } else { 0 };
        let mut tick = tokio::time::interval(Duration::from_micros(3_000_000 / RATE));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut k = 0usize;
        while !stop.load(Ordering::SeqCst) {
            tick.tick().await;
            let i = next_i(parity);
            if let Some(id) = self.write(i).await {
                self.mine.lock().unwrap().push((id, i + UPDATED));
            }
            let row = {
                let t = self.theirs.lock().unwrap();
                (!t.is_empty()).then(|| t[k % t.len()])
            };
            k += 1;
            if let Some((id, j)) = row {
                if let Some(right) = self.read(id, j).await {
                    self.figures.cross_reads += 1;
                    self.figures.cross_right += right as u64;
                }
            }
        }
    }

    /// Row `i` inserted and updated to `i + UPDATED`: its id.
    async fn write(&mut self, i: u64) -> Option<u64> {
        let r = self.release;
        let q = bind(r.insert, (r.insert_binds)(i));
        let id = self.timed(q).await?.last_insert_id();
        let mut binds = (r.update_binds)(i + UPDATED);
        binds.push(Some(id.to_string()));
        self.timed(bind(r.update, binds)).await?;
        Some(id)
    }

    /// Whether row `id` reads as row `j`; `None` on an error.
    async fn read(&mut self, id: u64, j: u64) -> Option<bool> {
        let q = sqlx::query_scalar::<_, Option<String>>(AssertSqlSafe(self.release.read))
            .bind(id.to_string());
        let phase = self.clock.get();
        let t = Instant::now();
        let got = q.fetch_one(&mut self.conn).await;
        self.count(phase, t.elapsed());
        match got {
            Ok(v) => {
                let want = (self.release.expect)(j);
                if v != want && self.figures.wrong.len() < 5 {
                    self.figures.wrong.push(format!(
                        "{} read row {id} (i={j}) as {v:?}, expected {want:?}",
                        self.release.label
                    ));
                }
                Some(v == want)
            }
            Err(e) => {
                self.error(phase, e);
                None
            }
        }
    }

    async fn timed(
        &mut self,
        q: Query<'static, MySql, MySqlArguments>,
    ) -> Option<sqlx::mysql::MySqlQueryResult> {
        let phase = self.clock.get();
        let t = Instant::now();
        let r = q.execute(&mut self.conn).await;
        self.count(phase, t.elapsed());
        r.map_err(|e| self.error(phase, e)).ok()
    }

    fn count(&mut self, phase: usize, took: Duration) {
        self.figures.ops += 1;
        let s = &mut self.figures.stall[phase];
        *s = (*s).max(took);
    }

    fn error(&mut self, phase: usize, e: sqlx::Error) {
        self.figures
            .errors
            .push(format!("{} ({}): {e}", self.release.label, PHASES[phase]));
    }

    /// Every row the other release wrote, read with this release's SQL.
    async fn read_back(&mut self) {
        let rows = self.theirs.lock().unwrap().clone();
        for (id, j) in rows {
            self.figures.final_rows += 1;
            if let Some(true) = self.read(id, j).await {
                self.figures.final_right += 1;
            }
        }
    }
}
