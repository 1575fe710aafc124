//! The CLI's side of the breaking-change gate ([`crate::drain::gate`], the
//! same gate the Lambda runs): `up` and `down` refuse unmarked breaking
//! migrations before any statement unless `--allow-breaking` or
//! `--drain-tag KEY=VALUE` says how to meet them. The findings are printed
//! as `lint` prints them; the Auto Scaling client comes from the usual AWS
//! chain (`AWS_ENDPOINT_URL` honoured).

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use futures_util::future::BoxFuture;

use super::args::GateArgs;
use super::track::Track;
use crate::deadline::Deadline;
use crate::drain::gate::{DrainFailed, Edge, Gate, GateState, Policy};
use crate::drain::{
    restore, restored_names, AfterFailure, AfterRevert, Drained, Drainer, LeftApplied,
};
use crate::handler::reason::{self, DrainRefused};
use crate::lint::{Decision, Fixes, MigrationLint};
use crate::migrate::{self, apply, Direction, MigrationSet, Plan, Report};

pub struct CliGate<'a> {
    pub args: &'a GateArgs,
    pub until: Deadline,
    pub track: &'a Track,
    /// Text on the terminal (not `--json`).
    pub print: bool,
    pub state: Mutex<GateState>,
}

impl CliGate<'_> {
    pub fn state(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `lints`: the engine's lint of the pending up migrations.
    async fn check_plan(&self, plan: &Plan, lints: &[MigrationLint]) -> Result<(), String> {
        let gate = Gate {
            policy: Policy {
                drain: self.args.drain_tag.as_ref(),
                allow_breaking: self.args.allow_breaking,
                fixes: &Fixes::CLI,
                page: None,
                rolling: false,
            },
            until: self.until,
            edge: self,
        };
        gate.check(plan, lints, &self.state).await
    }
}

/// The Auto Scaling client of the usual AWS chain.
pub async fn drainer() -> Drainer {
    let aws = aws_config::load_from_env().await;
    Drainer::new(aws_sdk_autoscaling::Client::new(&aws))
}

impl Edge for CliGate<'_> {
    fn phase(&self, what: &str) {
        self.track.phase(what);
    }

    fn decided(&self, lints: &[MigrationLint], decision: &Decision) {
        if !self.print || matches!(decision, Decision::Proceed) {
            return;
        }
        if let Decision::FirstDeploy = decision {
            errln!("schemagate: first deploy: no release runs on this database yet, so breaking migrations are not gated");
            return;
        }
        for l in lints {
            for f in l.gating() {
                errln!("{}", l.diagnostic(f));
            }
        }
        if let Decision::Allowed { migrations } = decision {
            errln!(
                "schemagate: --allow-breaking: applying {} while the old release may be running",
                migrations.join(", ")
            );
        }
    }

    fn drainer(&self) -> BoxFuture<'_, Drainer> {
        Box::pin(drainer())
    }

    fn drained(&self, d: &Drained) {
        tracing::warn!(groups = %d.names(), "drained before the breaking migrations");
        if self.print {
            outln!("schemagate: {d}");
        }
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

impl apply::Gate for CliGate<'_> {
    fn check<'a>(
        &'a self,
        _set: &'a MigrationSet,
        plan: &'a Plan,
        lints: &'a [MigrationLint],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(self.check_plan(plan, lints))
    }
}

/// After the run, with `--drain-tag`: what becomes of the drained groups,
/// by the Lambda's restore policy ([`restore`]): given back after a failure
/// that left nothing breaking applied, and after a revert; kept at 0 after
/// breaking migrations were applied. `None`: nothing to say.
pub async fn after(
    args: &GateArgs,
    state: &GateState,
    result: &Result<Report, migrate::Error>,
    track: &Track,
) -> Option<String> {
    let sel = args.drain_tag.as_ref()?;
    match (result, &state.drained) {
        (Err(e), Some(_)) => {
            let left = match e {
                migrate::Error::Apply(ae) => LeftApplied::of(ae),
                _ => LeftApplied {
                    done: track.done(),
                    partly: None,
                },
            };
            Some(match restore::after_failure(&drainer().await, sel, &state.lints, &left).await {
                AfterFailure::Restored(r) => format!(
                    "gave the capacity back to {}: nothing that breaks the old release was applied",
                    restored_names(&r)
                ),
                AfterFailure::NotRestored(e) => format!(
                    "nothing that breaks the old release was applied, but {e}: set the groups' capacity from their `schemagate:saved-capacity` tag by hand"
                ),
                AfterFailure::Kept { applied } => format!(
                    "the drained groups stay at 0: {} was applied, and the old release cannot run on this schema; revert it (`schemagate down --drain-tag …`) or fix it and run again",
                    applied.join(", ")
                ),
            })
        }
        (Ok(_), Some(d)) => Some(format!(
            "{d}; they stay at 0 until the new release replaces them (`schemagate down --drain-tag …` gives the capacity back after a revert)"
        )),
        (Ok(report), None) if report.count(Direction::Down) > 0 => {
            Some(match restore::after_revert(&drainer().await, sel, &[]).await {
                AfterRevert::Restored(r) if r.is_empty() => {
                    "no group tagged for draining was drained: nothing to give back".to_string()
                }
                AfterRevert::Restored(r) => format!(
                    "the old schema is back: gave the capacity back to {}",
                    restored_names(&r)
                ),
                AfterRevert::NotRestored(e) => format!("the old schema is back, but {e}"),
                AfterRevert::Kept { blocking, .. } => format!(
                    "the drained groups stay at 0: {} stays applied",
                    blocking.join(", ")
                ),
            })
        }
        _ => None,
    }
}
