//! Running the phases of an online change, each statement recorded as done
//! in `_schemagate_online` ([`super::state`]) so a run stopped at any
//! point continues (or reverts) where it stopped:
//! - [`expand`]: checks first (the table's facts, the binary log, the
//!   expressions) with nothing changed, then the new shape, the triggers,
//!   the backfill and what finishes it. A statement that fails reverts what
//!   ran, so the running release keeps the old shape as it was; the
//!   deadline during the backfill leaves the triggers in place and the next
//!   run continues.
//! - [`contract`]: the triggers and the old shape dropped.
//! - [`revert`]: the triggers and the new shape dropped; what either
//!   release wrote is in the old shape (the triggers kept it there).

use crate::db::history::Home;
use crate::db::Conn;
use crate::deadline::Deadline;

use super::backfill;
use super::change::Change;
use super::error::OnlineError;
use super::plan::{self, Plan};
use super::read;
use super::state::{self, Row};

/// The online migration being applied.
pub struct Applying<'a> {
    pub version: i64,
    /// `0042_rename_email`
    pub name: &'a str,
    pub change: &'a Change,
    /// The latest version of the folder the run works from.
    pub latest: i64,
}

/// Expand `m` (or continue its expand); `Ok` once both shapes are live.
pub async fn expand(
    conn: &mut Conn,
    home: &Home,
    m: &Applying<'_>,
    deadline: Option<Deadline>,
) -> Result<(), OnlineError> {
    let found = state::read(conn, home)
        .await?
        .into_iter()
        .find(|r| r.version == m.version);
    let mut row = match found {
        Some(r) if r.state == "expanded" => return Ok(()),
        Some(r) if r.state == "expanding" => r,
        Some(r) if r.state == "reverting" => {
            revert(conn, home, r).await?;
            fresh(conn, home, m).await?
        }
        Some(r) if r.state.starts_with("contract") => {
            return Err(OnlineError::State {
                name: r.name,
                state: r.state,
                what: "its contract ran, yet the history does not hold it: record it with `schemagate resolve` first".into(),
            })
        }
        _ => fresh(conn, home, m).await?,
    };
    let result = expand_steps(conn, home, &mut row, deadline).await;
    match result {
        Err(OnlineError::Failed {
            name,
            phase,
            statement,
            source,
            ..
        }) => {
            tracing::warn!(migration = %name, error = %source, "expand failed; reverting it");
            revert(conn, home, row).await?;
            Err(OnlineError::Failed {
                name,
                phase,
                statement,
                reverted: true,
                source,
            })
        }
        other => other,
    }
}

/// Decide the plan of a new expand and record it, with nothing changed.
async fn fresh(conn: &mut Conn, home: &Home, m: &Applying<'_>) -> Result<Row, OnlineError> {
    let refused = |reason: String| OnlineError::Refused {
        name: m.name.to_string(),
        reason,
    };
    let to = match &m.change.op {
        super::Op::RenameTable { to } => Some(to.as_str()),
        _ => None,
    };
    let facts = read::facts(conn, &m.change.table, to).await?;
    let plan = plan::plan(m.version, m.change, &facts).map_err(refused)?;
    if m.change.needs_triggers() && !read::triggers_allowed(conn).await? {
        return Err(OnlineError::Binlog {
            name: m.name.to_string(),
        });
    }
    for check in &plan.check {
        if let Err(e) = conn.engine().read_text(check).await {
            return Err(refused(format!(
                "its expressions fail on `{}`: {}",
                m.change.table, e.source
            )));
        }
    }
    let row = Row {
        version: m.version,
        name: m.name.to_string(),
        state: "expanding".into(),
        change: m.change.describe(),
        plan,
        step: 0,
        after: None,
        rows: 0,
        latest: m.latest,
    };
    state::put(conn, home, &row).await?;
    tracing::info!(migration = m.name, change = %row.change, "online change: expanding");
    Ok(row)
}

/// The expand's statements from `row.step` on: expand, backfill, finish.
async fn expand_steps(
    conn: &mut Conn,
    home: &Home,
    row: &mut Row,
    deadline: Option<Deadline>,
) -> Result<(), OnlineError> {
    let plan: Plan = row.plan.clone();
    let n = plan.expand.len() as i64;
    let total = n + 1 + plan.finish.len() as i64;
    while row.step < total {
        let i = row.step;
        if i < n {
            statement(conn, row, "expanding", &plan.expand[i as usize]).await?;
        } else if i == n {
            if let Some(b) = &plan.backfill {
                backfill::run(conn, home, row, b, deadline)
                    .await
                    .map_err(|e| failed(row, "backfilling", &b.set, e))?;
            }
        } else {
            statement(
                conn,
                row,
                "finishing the expand",
                &plan.finish[(i - n - 1) as usize],
            )
            .await?;
        }
        row.step += 1;
        state::set(conn, home, row.version, "expanding", row.step).await?;
    }
    state::set(conn, home, row.version, "expanded", row.step).await?;
    tracing::info!(migration = %row.name, rows = row.rows, "online change: expanded");
    Ok(())
}

/// A backfill's error as the expand reports it: the deadline as it is.
fn failed(row: &Row, phase: &'static str, what: &str, e: OnlineError) -> OnlineError {
    match e {
        OnlineError::Db(source) => OnlineError::Failed {
            name: row.name.clone(),
            phase,
            statement: what.to_string(),
            reverted: false,
            source: Box::new(source),
        },
        other => other,
    }
}

async fn statement(
    conn: &mut Conn,
    row: &Row,
    phase: &'static str,
    sql: &str,
) -> Result<(), OnlineError> {
    let mut tries = 0;
    loop {
        let Err(source) = conn.engine().execute(sql).await else {
            return Ok(());
        };
        // A statement run under `LOCK TABLES` (plan::locked) stopped part
        // way: the table stays locked until the session unlocks it.
        if sql.starts_with("LOCK TABLES") {
            let _ = conn.engine().execute("UNLOCK TABLES").await;
        }
        tries += 1;
        if tries < LOCK_TRIES && lock_wait(&source) {
            tracing::warn!(migration = %row.name, phase, attempt = tries, error = %source,
                "an application transaction holds the table (a metadata lock); waiting and trying again");
            tokio::time::sleep(LOCK_PAUSE * tries.min(4)).await;
            continue;
        }
        return Err(OnlineError::Failed {
            name: row.name.clone(),
            phase,
            statement: sql.to_string(),
            reverted: false,
            source: Box::new(source),
        });
    }
}

/// Tries of a statement whose lock wait timed out: it did not run (every
/// statement of a phase can run again), and the application's queries
/// run between two tries.
const LOCK_TRIES: u32 = 10;
const LOCK_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);

fn lock_wait(e: &crate::db::DbError) -> bool {
    matches!(e, crate::db::DbError::Query { source, .. }
        if crate::db::mariadb::error_kind(source) == crate::db::ErrorKind::LockWaitTimeout)
}

/// Run `list` from where `row` stands in `state`, then record `done`.
async fn phase(
    conn: &mut Conn,
    home: &Home,
    mut row: Row,
    state: &'static str,
    done: &str,
) -> Result<(), OnlineError> {
    let list = if state == "contracting" {
        &row.plan.contract
    } else {
        &row.plan.revert
    };
    let list = list.clone();
    let from = if row.state == state { row.step } else { 0 };
    state::set(conn, home, row.version, state, from).await?;
    row.state = state.to_string();
    for (i, sql) in list.iter().enumerate().skip(from as usize) {
        statement(conn, &row, state, sql).await?;
        state::set(conn, home, row.version, state, i as i64 + 1).await?;
    }
    let mut sql = state::set_sql(home, row.version, done, list.len() as i64);
    if done == "contracted" {
        sql = format!(
            "START TRANSACTION; {sql}; {}; COMMIT",
            state::contracted_class_sql(home, row.version)
        );
    }
    conn.engine().execute(&sql).await?;
    tracing::info!(migration = %row.name, change = %row.change, state = done, "online change");
    Ok(())
}

/// Drop the triggers and the old shape; the history then classes the
/// migration `contract` for the releases before it (the release before
/// the change cannot run any more), recorded with the state.
pub async fn contract(conn: &mut Conn, home: &Home, row: Row) -> Result<(), OnlineError> {
    phase(conn, home, row, "contracting", "contracted").await
}

/// Drop the triggers and the new shape.
pub async fn revert(conn: &mut Conn, home: &Home, row: Row) -> Result<(), OnlineError> {
    phase(conn, home, row, "reverting", "reverted").await
}
