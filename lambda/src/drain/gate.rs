//! The breaking-change gate, one for both edges that change a schema (the
//! Lambda's deploy and the CLI's `up`/`down`), run by the engine under the
//! lock with the plan ([`crate::migrate::apply::Gate`]): lint the planned
//! up migrations, decide ([`lint::decide_for`]), and drain the tagged
//! groups before anything runs when the decision says so. What differs
//! between the edges — how they say what happens, where the Auto Scaling
//! client comes from, the words of a refusal — is their [`Edge`].

use std::sync::{Mutex, MutexGuard};

use futures_util::future::BoxFuture;

use super::groups::{DrainError, Drained, Drainer, PageTakenDown, Restored};
use crate::deadline::Deadline;
use crate::lint::{self, Decision, Fixes, MigrationLint};
use crate::migrate::{Direction, Plan};
use crate::props::{Drain, Maintenance};

/// What the run allows: a drain target, `AllowBreaking`, and the words
/// its refusal uses for them.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    pub drain: Option<&'a Drain>,
    pub allow_breaking: bool,
    pub fixes: &'static Fixes,
    /// The maintenance page to put up before draining.
    pub page: Option<&'a Maintenance>,
    /// The groups are updated in place (a rolling update): a drain would
    /// leave them at 0, so a migration that needs one is refused.
    pub rolling: bool,
}

/// A drain before breaking migrations failed: nothing ran.
pub struct DrainFailed<'a> {
    pub migrations: Vec<String>,
    pub sel: &'a Drain,
    pub error: DrainError,
    /// Giving back what the failed drain took.
    pub restored: Result<Vec<Restored>, DrainError>,
    /// Taking the maintenance page down again, when it was put up.
    pub page_down: Option<PageTakenDown>,
}

/// Why the gate stopped the run (the CLI's exit code is decided on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Breaking or unknown migrations that nothing lets through.
    Breaking,
    /// The drain before them failed (the capacity was given back).
    Drain,
}

/// What the gate found and did, for the run that follows.
#[derive(Debug, Default)]
pub struct GateState {
    pub lints: Vec<MigrationLint>,
    pub drained: Option<Drained>,
    /// `AllowBreaking` let these through.
    pub allowed: Option<String>,
    /// Set when the gate refused.
    pub stopped: Option<Stopped>,
}

/// What an edge does at the gate's moments.
pub trait Edge: Send + Sync {
    /// What the run is doing now.
    fn phase(&self, what: &str);
    /// The pending migrations were linted and decided on (before a drain).
    fn decided(&self, lints: &[MigrationLint], decision: &Decision);
    /// The client that drains.
    fn drainer(&self) -> BoxFuture<'_, Drainer>;
    /// The groups were drained.
    fn drained(&self, d: &Drained);
    /// The refusal after a failed drain.
    fn drain_failed(&self, f: &DrainFailed<'_>) -> String;
}

/// The gate of one run: [`Gate::check`] is what the engine's gate calls.
pub struct Gate<'a> {
    pub policy: Policy<'a>,
    /// The run's deadline; a drain may take two thirds of what is left.
    pub until: Deadline,
    pub edge: &'a dyn Edge,
}

/// The planned up migrations' versions.
pub fn pending(plan: &Plan) -> Vec<i64> {
    plan.steps
        .iter()
        .filter(|s| s.direction == Direction::Up)
        .map(|s| s.version)
        .collect()
}

/// Nothing has ever been applied (nor is baselined now): no release runs
/// on this schema yet.
pub fn first_deploy(plan: &Plan) -> bool {
    plan.current.is_none() && plan.count(Direction::Baseline) == 0
}

fn lock(state: &Mutex<GateState>) -> MutexGuard<'_, GateState> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl Gate<'_> {
    /// Decide on the engine's lint of the plan's up migrations (`lints`,
    /// computed once per run) and go ahead, drain, or refuse
    /// (`Err(reason)`, nothing applied); what was found goes in `state`.
    pub async fn check(
        &self,
        plan: &Plan,
        lints: &[MigrationLint],
        state: &Mutex<GateState>,
    ) -> Result<(), String> {
        if lints.is_empty() {
            return Ok(());
        }
        self.edge.phase("classifying the pending migrations");
        let lints = lints.to_vec();
        let decision = lint::decide_for(
            &lints,
            first_deploy(plan),
            self.policy.drain.is_some(),
            self.policy.allow_breaking,
            self.policy.fixes,
        );
        self.edge.decided(&lints, &decision);
        lock(state).lints = lints;
        match decision {
            Decision::Proceed | Decision::FirstDeploy => Ok(()),
            Decision::Allowed { migrations } => {
                lock(state).allowed = Some(migrations.join(", "));
                Ok(())
            }
            Decision::Refuse(reason) => {
                lock(state).stopped = Some(Stopped::Breaking);
                Err(reason)
            }
            Decision::Drain { migrations } if self.policy.rolling => {
                lock(state).stopped = Some(Stopped::Breaking);
                Err(rolling_refusal(&migrations))
            }
            Decision::Drain { migrations } => self.drain(migrations, state).await,
        }
    }

    /// Empty the tagged groups before `migrations`; when that fails, give
    /// back what was taken and refuse with nothing applied.
    async fn drain(&self, migrations: Vec<String>, state: &Mutex<GateState>) -> Result<(), String> {
        let sel = self.policy.drain.expect("a drain target was configured");
        self.edge.phase(&format!(
            "draining the Auto Scaling groups tagged `{}={}` before {}",
            sel.tag_key,
            sel.tag_value,
            migrations.join(", ")
        ));
        let drainer = self.edge.drainer().await;
        let page = match self.policy.page {
            Some(m) => match drainer.put_page(m).await {
                Ok(up) => Some(up),
                Err(e) => {
                    lock(state).stopped = Some(Stopped::Drain);
                    return Err(format!(
                        "refused before running anything: {} must run after the old release is stopped, but the maintenance page could not be put up first: {e}. Nothing was drained or applied",
                        migrations.join(", ")
                    ));
                }
            },
            None => None,
        };
        match drainer.drain(sel, self.until.share(2, 3)).await {
            Ok(mut d) => {
                d.page = page.map(Box::new);
                self.edge.drained(&d);
                lock(state).drained = Some(d);
                Ok(())
            }
            Err(error) => {
                tracing::error!(error = %error, "drain failed; giving the capacity back");
                let restored = drainer.restore(sel).await;
                // The old release serves again: the page comes down.
                let page_down = match (&page, &restored) {
                    (Some(up), Ok(_)) => Some(drainer.take_page_down(&up.listener).await),
                    _ => None,
                };
                lock(state).stopped = Some(Stopped::Drain);
                Err(self.edge.drain_failed(&DrainFailed {
                    migrations,
                    sel,
                    error,
                    restored,
                    page_down,
                }))
            }
        }
    }
}

/// The refusal of a drain for groups gated with a rolling update.
fn rolling_refusal(migrations: &[String]) -> String {
    format!(
        "refused before running anything: {} must run after the old release is stopped, but the app's groups are gated with a rolling update (RollingUpdate=true), which updates them in place and cannot bring drained groups back. Nothing was drained or applied. Mark the migration \"-- schemagate: online\" if it is a change schemagate runs online (docs/online-changes.md), or gate the groups with a replacing update (remove their rolling update policy) for this deploy",
        migrations.join(", ")
    )
}
