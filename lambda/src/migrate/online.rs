//! Where online changes meet the run ([`crate::online`]): at the start of
//! a run, under the lock, the contracts that are due run and an expand no
//! run will finish is reverted ([`first`]); in the plan, an online
//! migration's up expands instead of running its script, and its down
//! reverts an expand that is live ([`step`]). The history row is written
//! as for any migration, with no script ([`super::apply`]).
//!
//! A contract is due when the migration is applied, this run does not
//! revert it, and the folder holds a migration newer than the folder that
//! expanded it: the next release is being deployed, so the release that
//! ran before the expand can run nowhere any more (at that deploy only
//! the release that expanded, which uses the new shape, still runs). A
//! retry of the same deploy or a redeploy of the same build never
//! contracts.

use super::error::Error;
use super::history::{Applied, Home};
use super::plan::{Direction, Plan, Step};
use super::source::MigrationSet;
use crate::db::Conn;
use crate::deadline::Deadline;
use crate::lint::MigrationLint;
use crate::online::run::{self, Applying};
use crate::online::state::{self, Row};

/// The online rows of the database (none when it has no such table).
pub async fn rows(conn: &mut Conn, home: &Home) -> Result<Vec<Row>, Error> {
    if conn.dialect() != crate::dialect::Dialect::MariaDb {
        return Ok(Vec::new());
    }
    Ok(state::read(conn, home).await?)
}

/// Due contracts, and expands left by a run that stopped, that this
/// run's plan does not take up again.
pub async fn first(
    conn: &mut Conn,
    home: &Home,
    set: &MigrationSet,
    plan: &Plan,
    history: &[Applied],
    rows: &[Row],
) -> Result<(), Error> {
    let latest = set.latest().unwrap_or(0);
    for r in rows {
        let applied = history.iter().any(|a| a.version == r.version && a.success);
        let stepped = plan
            .steps
            .iter()
            .any(|s| s.version == r.version && s.direction != Direction::Baseline);
        let due = match r.state.as_str() {
            "expanded" => applied && !stepped && latest > r.latest,
            "contracting" => !stepped,
            _ => false,
        };
        if due {
            run::contract(conn, home, r.clone()).await?;
        } else if matches!(r.state.as_str(), "expanding" | "reverting") && !applied && !stepped {
            run::revert(conn, home, r.clone()).await?;
        }
    }
    Ok(())
}

/// `schemagate contract`: session limits, lock, [`contract_all`], release
/// (on every path).
pub async fn contract(conn: &mut Conn, opts: &super::Options) -> Result<Vec<i64>, Error> {
    let home = super::session::prepare(conn, opts).await?;
    let lock = super::lock::id(conn.database());
    super::lock::acquire(conn, &lock, opts.lock_timeout).await?;
    let result = contract_all(conn, &home).await;
    let released = super::lock::release(conn, &lock).await;
    let done = result?;
    released?;
    Ok(done)
}

/// Contract every live expand, whatever the folder (`schemagate
/// contract`: the operator says the old release is gone); the versions
/// contracted.
pub async fn contract_all(conn: &mut Conn, home: &Home) -> Result<Vec<i64>, Error> {
    let mut done = Vec::new();
    for r in rows(conn, home).await? {
        if matches!(r.state.as_str(), "expanded" | "contracting") {
            done.push(r.version);
            run::contract(conn, home, r).await?;
        }
    }
    Ok(done)
}

/// Run the online part of `step`, if it has one: `true` when it did (the
/// step then runs no script).
pub async fn step(
    conn: &mut Conn,
    home: &Home,
    set: &MigrationSet,
    step: &Step,
    lints: &[MigrationLint],
    rows: &[Row],
    deadline: Option<Deadline>,
) -> Result<bool, Error> {
    match step.direction {
        Direction::Up => {
            let Some(change) = lints
                .iter()
                .find(|l| l.version == step.version)
                .and_then(|l| l.online.as_ref())
            else {
                return Ok(false);
            };
            state::create(conn, home).await?;
            let m = Applying {
                version: step.version,
                name: &step.name,
                change,
                latest: set.latest().unwrap_or(step.version),
            };
            run::expand(conn, home, &m, deadline).await?;
            Ok(true)
        }
        Direction::Down => {
            let live = rows.iter().find(|r| {
                r.version == step.version
                    && matches!(r.state.as_str(), "expanding" | "expanded" | "reverting")
            });
            match live {
                Some(r) => {
                    run::revert(conn, home, r.clone()).await?;
                    Ok(true)
                }
                None => Ok(false),
            }
        }
        Direction::Baseline => Ok(false),
    }
}
