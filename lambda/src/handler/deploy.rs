//! The domain of a Create or Update: read the bundled migrations and the
//! secret, connect, then plan, gate, drain, apply and restore. It returns
//! what happened ([`Outcome`], [`DeployError`]); the shell answers, and
//! [`super::reason`] writes the Reason from it.

use std::sync::Mutex;

use crate::cfn::Request;
use crate::db::{Conn, ConnectOptions, Kind};
use crate::deadline::Deadline;
use crate::drain::{restore, AfterFailure, AfterRevert, Drained, LeftApplied, PageTakenDown};
use crate::lint::{self, MigrationLint};
use crate::migrate::{self, apply, Direction, MigrationSet, OnIrreversible, Target};
use crate::props::{Drain, OnRollback, Props};
use crate::secrets::RdsSecret;

use super::gate::DeployGate;
use super::outcome::{DeployError, Done, Outcome};
use super::service::Handler;
use super::watch::Watch;

/// How [`Handler::run`] failed, before the target is attached.
enum RunError {
    Plain(crate::Error),
    AfterDrain {
        error: crate::Error,
        drained: Drained,
        groups: AfterFailure,
        page_down: Option<Box<PageTakenDown>>,
    },
}

impl From<crate::Error> for RunError {
    fn from(e: crate::Error) -> Self {
        RunError::Plain(e)
    }
}

impl Handler {
    /// Bring the database to the request's target by `until` (the
    /// watchdog's deadline), telling `watch` what is going on.
    pub async fn deploy(
        &self,
        request: &Request,
        until: Deadline,
        watch: &Watch,
    ) -> Result<Outcome, DeployError> {
        let props = request
            .properties
            .as_ref()
            .map_err(|e| DeployError::Properties(e.clone()))?;
        watch.phase("reading the migrations bundled with the function");
        let set = MigrationSet::load(&self.config.migrations_dir)
            .map_err(|e| DeployError::Bundle(e.into()))?;
        watch.phase(&format!("reading secret `{}`", props.secret_arn));
        let target = self.target(props).await.map_err(DeployError::Secret)?;
        watch.set_target(&target);
        watch.phase(&format!("connecting to {target}"));
        let mut conn = match Conn::connect(&target, until.left()).await {
            Ok(c) => c,
            Err(e) => {
                return Err(DeployError::Connect {
                    target,
                    error: e.into(),
                })
            }
        };
        // Boxed: the gate and drain make this future deep for the compiler.
        let result = Box::pin(self.run(&mut conn, &set, props, until, watch)).await;
        conn.close().await;
        match result {
            Ok((report, done)) => Ok(Outcome {
                target,
                report,
                done,
            }),
            Err(RunError::Plain(error)) => Err(DeployError::Run { target, error }),
            Err(RunError::AfterDrain {
                error,
                drained,
                groups,
                page_down,
            }) => Err(DeployError::AfterDrain {
                target,
                error,
                drained,
                groups,
                page_down,
            }),
        }
    }

    async fn target(&self, props: &Props) -> Result<ConnectOptions, crate::Error> {
        let text = self.secrets.get(&props.secret_arn).await?;
        let opts = RdsSecret::parse(&props.secret_arn, &text)?.connect_options(
            &props.secret_arn,
            props.database_name.as_deref(),
            Kind::MariaDb,
        )?;
        Ok(opts.with_ssl(self.config.ssl_mode, self.config.ssl_ca.clone())?)
    }

    async fn run(
        &self,
        conn: &mut Conn,
        set: &MigrationSet,
        props: &Props,
        until: Deadline,
        watch: &Watch,
    ) -> Result<(migrate::Report, Done), RunError> {
        let target = props.target_version.map_or(Target::Latest, Target::Version);
        if props.on_rollback == OnRollback::Keep {
            if let Some(kept) = self.keep(conn, set, target, props).await? {
                return Ok(kept);
            }
        }
        watch.phase("waiting for the migration lock");
        let opts = apply::Options {
            init_sql: props.init_sql.clone(),
            baseline: props.baseline_version,
            adopt_alembic: props.adopt_alembic,
            lock_timeout: props.lock_timeout,
            lock_wait: self.config.lock_wait,
            deadline: Some(until),
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
        let state = gate.into_state();
        let (report, drained) = match (result, state.drained, &props.drain) {
            (Ok(report), drained, _) => (report, drained),
            (Err(error), Some(drained), Some(sel)) => {
                let left = left_applied(&error, watch);
                let (groups, page_down) = self
                    .after_failure(sel, props, &drained, &state.lints, &left)
                    .await;
                return Err(RunError::AfterDrain {
                    error,
                    drained,
                    groups,
                    page_down,
                });
            }
            (Err(error), _, _) => return Err(error.into()),
        };
        if let Some(st) = &report.stopped {
            tracing::error!(
                requested = st.requested,
                stopped_at = %st.name,
                schema_version = report.to,
                "ROLLBACK INCOMPLETE: an irreversible migration stays applied; the schema is ahead of the version asked for"
            );
        }
        let reverted = report.count(Direction::Down) > 0 || report.stopped.is_some();
        let after_revert = match &props.drain {
            Some(sel) if reverted => Some(self.after_revert(sel, set, conn.kind(), &report).await),
            _ => None,
        };
        let restored = matches!(after_revert, Some(AfterRevert::Restored(_)));
        let page_down = self.page_down(props, restored).await;
        let done = Done::Migrated {
            drained,
            after_revert,
            page_down,
            allowed: state.allowed,
        };
        Ok((report, done))
    }

    /// After a failed run that drained: the groups (and with them the
    /// maintenance page) come back when nothing breaking was applied.
    async fn after_failure(
        &self,
        sel: &Drain,
        props: &Props,
        drained: &Drained,
        lints: &[MigrationLint],
        left: &LeftApplied,
    ) -> (AfterFailure, Option<Box<PageTakenDown>>) {
        let groups = restore::after_failure(&self.drainer().await, sel, lints, left).await;
        if let AfterFailure::Kept { applied } = &groups {
            tracing::error!(groups = %drained.names(), applied = ?applied, "groups left at 0: breaking migrations were applied before the failure");
        }
        let restored = matches!(groups, AfterFailure::Restored(_));
        let page_down = self.page_down(props, restored).await;
        (groups, page_down)
    }

    /// When the old capacity is back (`restored`), the maintenance page, if
    /// one is up, comes down.
    async fn page_down(&self, props: &Props, restored: bool) -> Option<Box<PageTakenDown>> {
        let m = props.maintenance.as_ref().filter(|_| restored)?;
        Some(Box::new(
            self.drainer().await.take_page_down(&m.listener_arn).await,
        ))
    }

    /// After a revert with a drain target: the migrations still applied
    /// above the target (a revert stopped at an irreversible one) decide
    /// whether the groups get their capacity back.
    async fn after_revert(
        &self,
        sel: &Drain,
        set: &MigrationSet,
        kind: Kind,
        report: &migrate::Report,
    ) -> AfterRevert {
        let still_applied = match &report.stopped {
            Some(st) => {
                let above: Vec<i64> = set
                    .files
                    .iter()
                    .map(|f| f.version)
                    .filter(|&v| v > st.requested && v <= report.to)
                    .collect();
                lint::lint(set, kind.dialect(), &above)
            }
            None => Vec::new(),
        };
        restore::after_revert(&self.drainer().await, sel, &still_applied).await
    }

    /// `OnRollback=keep`: when the plan would revert, leave the schema and
    /// say where it stands; `None` when there is nothing to revert.
    async fn keep(
        &self,
        conn: &mut Conn,
        set: &MigrationSet,
        target: Target,
        props: &Props,
    ) -> Result<Option<(migrate::Report, Done)>, crate::Error> {
        let (_, p) = apply::inspect_with(
            conn,
            set,
            target,
            migrate::Start {
                baseline: props.baseline_version,
                adopt_alembic: props.adopt_alembic,
            },
            OnIrreversible::Stop,
        )
        .await?;
        if p.count(Direction::Down) == 0 && p.stopped.is_none() {
            return Ok(None);
        }
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
        let still_drained = match &props.drain {
            Some(sel) => Some(restore::still_drained(&self.drainer().await, sel).await),
            None => None,
        };
        let done = Done::Kept {
            at,
            requested,
            still_drained,
        };
        Ok(Some((report, done)))
    }
}

/// What a failed run left applied: from the engine's report of the failed
/// migration, else (the run stopped between migrations) what the watch saw
/// finish.
fn left_applied(e: &crate::Error, watch: &Watch) -> LeftApplied {
    match e {
        crate::Error::Migrate(migrate::Error::Apply(ae)) => LeftApplied::of(ae),
        _ => LeftApplied {
            done: watch.done(),
            partly: None,
        },
    }
}
