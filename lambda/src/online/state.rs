//! The bookkeeping of online changes, `_schemagate_online` beside the
//! history: one row per online migration with its state, its plan (so a
//! contract or revert runs what the expand planned, whichever package
//! runs it), how far the current phase got, and the backfill's progress.
//!
//! | state | meaning |
//! |---|---|
//! | `expanding` | expand started; `step` statements of it (and the backfill) done |
//! | `expanded` | both shapes live, kept in step; the contract is due |
//! | `contracting` / `contracted` | the old shape is being / was removed |
//! | `reverting` / `reverted` | the expand is being / was undone |

use crate::db::history::Home;
use crate::db::{Conn, DbError, ErrorKind};

use super::error::OnlineError;
use super::plan::{q, Plan};

pub const TABLE: &str = "_schemagate_online";

/// One online migration's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub version: i64,
    pub name: String,
    pub state: String,
    /// `rename column users.email to email_address`
    pub change: String,
    pub plan: Plan,
    /// Statements of the current phase done (the backfill counts as one).
    pub step: i64,
    /// The backfill's last key done (as text); `None`: not started.
    pub after: Option<String>,
    pub rows: i64,
    /// The latest version of the migrations folder that expanded it: a
    /// contract at the start of a run waits for a newer folder (the next
    /// release), so a retry of the same deploy never contracts.
    pub latest: i64,
}

/// The table, qualified.
pub fn table(home: &Home) -> String {
    format!("{}.{}", q(&home.name), q(TABLE))
}

/// A string as a literal that no quote inside it can end.
pub fn text(s: &str) -> String {
    format!("CONVERT(X'{}' USING utf8mb4)", hex::encode(s.as_bytes()))
}

/// Create the table where it is missing (idempotent for every database).
pub async fn create(conn: &mut Conn, home: &Home) -> Result<(), DbError> {
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {} (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    state VARCHAR(16) NOT NULL,
    `change` TEXT NOT NULL,
    plan LONGTEXT NOT NULL,
    step BIGINT NOT NULL DEFAULT 0,
    after_key TEXT NULL,
    `rows` BIGINT NOT NULL DEFAULT 0,
    latest BIGINT NOT NULL,
    updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
) ENGINE = InnoDB CHARACTER SET utf8mb4",
        table(home)
    );
    conn.engine().execute(&sql).await
}

/// Every row, by version.
pub async fn read(conn: &mut Conn, home: &Home) -> Result<Vec<Row>, OnlineError> {
    let sql = format!(
        "SELECT CAST(version AS CHAR), name, state, `change`, plan, CAST(step AS CHAR), after_key, CAST(`rows` AS CHAR), CAST(latest AS CHAR) FROM {} ORDER BY version",
        table(home)
    );
    let rows = match conn.engine().read_text(&sql).await {
        Ok(rows) => rows,
        // No online change was ever expanded here.
        Err(e) if e.kind == ErrorKind::UndefinedTable => return Ok(Vec::new()),
        Err(e) => return Err(DbError::query(format!("reading `{TABLE}`"), e.source).into()),
    };
    rows.into_iter().map(row).collect()
}

fn row(r: Vec<Option<String>>) -> Result<Row, OnlineError> {
    let s = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
    let n = |i: usize| s(i).parse::<i64>().unwrap_or(0);
    let plan = serde_json::from_str(&s(4)).map_err(|e| OnlineError::State {
        name: s(1),
        state: s(2),
        what: format!("its plan cannot be read ({e}); something other than schemagate wrote it"),
    })?;
    Ok(Row {
        version: n(0),
        name: s(1),
        state: s(2),
        change: s(3),
        plan,
        step: n(5),
        after: r.get(6).cloned().flatten(),
        rows: n(7),
        latest: n(8),
    })
}

/// Write `row` whole (a new expand, or one that starts again).
pub async fn put(conn: &mut Conn, home: &Home, r: &Row) -> Result<(), DbError> {
    let plan = serde_json::to_string(&r.plan).expect("a plan is plain data");
    let sql = format!(
        "REPLACE INTO {} (version, name, state, `change`, plan, step, after_key, `rows`, latest) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {})",
        table(home),
        r.version,
        text(&r.name),
        text(&r.state),
        text(&r.change),
        text(&plan),
        r.step,
        r.after.as_deref().map_or("NULL".into(), text),
        r.rows,
        r.latest
    );
    conn.engine().execute(&sql).await
}

/// The statement that records a state and step.
pub fn set_sql(home: &Home, version: i64, state: &str, step: i64) -> String {
    format!(
        "UPDATE {} SET state = {}, step = {step} WHERE version = {version}",
        table(home),
        text(state)
    )
}

/// Record a state and step.
pub async fn set(
    conn: &mut Conn,
    home: &Home,
    version: i64,
    state: &str,
    step: i64,
) -> Result<(), DbError> {
    conn.engine()
        .execute(&set_sql(home, version, state, step))
        .await
}

/// The statement that records the backfill's progress.
pub fn progress_sql(home: &Home, version: i64, after: &str, rows: i64) -> String {
    format!(
        "UPDATE {} SET after_key = {}, `rows` = {rows} WHERE version = {version}",
        table(home),
        text(after)
    )
}

/// After the contract, the migration's class in `_schemagate_history`:
/// `contract` since its own version (it was `expand` while both shapes
/// were live). `schemagate check` then passes the release that expanded
/// and newer ones, and fails the release before the change, which the
/// contract broke.
pub fn contracted_class_sql(home: &Home, version: i64) -> String {
    format!(
        "UPDATE {} SET class = 'contract', since = {version} WHERE version = {version}",
        home.kept()
    )
}
