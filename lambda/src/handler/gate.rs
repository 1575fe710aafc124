//! The Lambda's side of the breaking-change gate ([`crate::drain::gate`]),
//! run by the engine under the lock with the plan: the findings go to the
//! log, the phases to the watchdog's [`Watch`], a failed drain's Reason is
//! [`reason::drain_refused`], and the words of a refusal are the
//! construct's properties ([`Fixes::DEPLOY`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use futures_util::future::BoxFuture;

pub use crate::drain::gate::GateState;

use crate::db::Kind;
use crate::deadline::Deadline;
use crate::drain::gate::{DrainFailed, Edge, Gate, Policy};
use crate::drain::{Drained, Drainer};
use crate::lint::{Decision, Fixes, MigrationLint};
use crate::migrate::{apply, MigrationSet, Plan};
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

impl DeployGate<'_> {
    pub fn into_state(self) -> GateState {
        self.state.into_inner().unwrap_or_else(|p| p.into_inner())
    }

    /// `lints`: the engine's lint of the pending up migrations.
    async fn check_plan(&self, plan: &Plan, lints: &[MigrationLint]) -> Result<(), String> {
        let edge = Lambda {
            handler: self.handler,
            watch: self.watch,
        };
        let gate = Gate {
            policy: Policy {
                drain: self.props.drain.as_ref(),
                allow_breaking: self.props.allow_breaking,
                fixes: &Fixes::DEPLOY,
                page: self.props.maintenance.as_ref(),
                rolling: self.props.rolling_update,
            },
            until: self.until,
            edge: &edge,
        };
        gate.check(plan, lints, &self.state).await
    }
}

/// The gate's moments, in the Lambda: logged, and told to the watchdog.
struct Lambda<'a> {
    handler: &'a Handler,
    watch: &'a Watch,
}

impl Edge for Lambda<'_> {
    fn phase(&self, what: &str) {
        self.watch.phase(what);
    }

    fn decided(&self, lints: &[MigrationLint], decision: &Decision) {
        for l in lints {
            for f in &l.findings {
                if f.severity().gates() {
                    tracing::warn!(migration = %l.name, "{}", l.diagnostic(f));
                } else {
                    tracing::info!(migration = %l.name, "{}", l.diagnostic(f));
                }
            }
        }
        match decision {
            Decision::FirstDeploy => tracing::info!(
                "first deploy: no release runs on this database yet; breaking changes are allowed"
            ),
            Decision::Allowed { migrations } => tracing::warn!(
                ?migrations,
                "AllowBreaking=true: applying breaking migrations while the old release runs"
            ),
            _ => {}
        }
    }

    fn drainer(&self) -> BoxFuture<'_, Drainer> {
        Box::pin(self.handler.drainer())
    }

    fn drained(&self, d: &Drained) {
        tracing::warn!(groups = %d.names(), "drained before the breaking migrations");
        self.watch.drained(d);
    }

    fn drain_failed(&self, f: &DrainFailed<'_>) -> String {
        reason::drain_refused(&DrainRefused {
            migrations: f.migrations.clone(),
            sel: f.sel,
            error: f.error.clone(),
            restored: f.restored.clone(),
            page_down: f.page_down.clone(),
        })
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
