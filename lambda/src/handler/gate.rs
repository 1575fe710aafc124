//! The breaking-change gate, run by the engine under the lock with the
//! plan: lint the pending up migrations, then go ahead, drain, or refuse.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};

use crate::db::Kind;
use crate::deadline::Deadline;
use crate::lint::{self, Decision, MigrationLint};
use crate::migrate::{apply, Direction, MigrationSet, Plan};
use crate::props::Props;

use super::reason::{self, DrainRefused};
use super::service::Handler;
use super::watch::Watch;

pub struct DeployGate<'a> {
    pub handler: &'a Handler,
    pub kind: Kind,
    pub props: &'a Props,
    /// The run's deadline; a drain may take two thirds of what is left.
    pub until: Deadline,
    pub watch: &'a Watch,
    pub state: Mutex<GateState>,
}

/// What the gate found and did, for the run that follows.
#[derive(Debug, Default)]
pub struct GateState {
    pub lints: Vec<MigrationLint>,
    pub drained: Option<crate::drain::Drained>,
    /// `AllowBreaking=true` let these through.
    pub allowed: Option<String>,
}

impl DeployGate<'_> {
    fn state(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn into_state(self) -> GateState {
        self.state.into_inner().unwrap_or_else(|p| p.into_inner())
    }

    /// `lints`: the engine's lint of the pending up migrations.
    async fn check_plan(&self, plan: &Plan, lints: &[MigrationLint]) -> Result<(), String> {
        if lints.is_empty() {
            return Ok(());
        }
        self.watch.phase("classifying the pending migrations");
        let lints = lints.to_vec();
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
        self.state().lints = lints;
        match decision {
            Decision::Proceed => Ok(()),
            Decision::FirstDeploy => {
                tracing::info!("first deploy: no release runs on this database yet; breaking changes are allowed");
                Ok(())
            }
            Decision::Allowed { migrations } => {
                tracing::warn!(
                    ?migrations,
                    "AllowBreaking=true: applying breaking migrations while the old release runs"
                );
                self.state().allowed = Some(migrations.join(", "));
                Ok(())
            }
            Decision::Refuse(reason) => Err(reason),
            Decision::Drain { migrations } => self.drain(migrations).await,
        }
    }

    /// Empty the tagged groups before `migrations`; when that fails, give
    /// back what was taken and refuse with nothing applied.
    async fn drain(&self, migrations: Vec<String>) -> Result<(), String> {
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
        match drainer.drain(sel, self.until.share(2, 3)).await {
            Ok(d) => {
                tracing::warn!(groups = %d.names(), "drained before the breaking migrations");
                self.watch.drained(&d);
                self.state().drained = Some(d);
                Ok(())
            }
            Err(error) => {
                tracing::error!(error = %error, "drain failed; giving the capacity back");
                let restored = drainer.restore(sel).await;
                Err(reason::drain_refused(&DrainRefused {
                    migrations,
                    sel,
                    error,
                    restored,
                }))
            }
        }
    }
}

impl apply::Gate for DeployGate<'_> {
    fn check<'a>(
        &'a self,
        _set: &'a MigrationSet,
        plan: &'a Plan,
        lints: &'a [MigrationLint],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(self.check_plan(plan, lints))
    }
}
