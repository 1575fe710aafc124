//! The backfill: the rows that were there before the triggers, walked by
//! primary key in ranges, each range one short transaction together with
//! its progress in `_schemagate_online`, so a run stopped at any point
//! (the deadline, a kill) continues at the next range. A range is sized to
//! take about [`BATCH_TIME`]: few row locks held at a time, never a long
//! one, and the run's `innodb_lock_wait_timeout` (short, as for every
//! statement of a run) bounds what a range waits for an app transaction.
//!
//! A range runs READ COMMITTED where the binary log allows it: in
//! REPEATABLE READ its UPDATE takes next-key locks, and the last range
//! (`key <= MAX(key)`) locks the gap after the last row, so every INSERT
//! of the application (an auto-increment key lands there) waits until the
//! range commits: a stall as long as the range, seen at 2.5 s on a loaded
//! machine with a range of 20 000 rows. READ COMMITTED takes no gap locks
//! and keeps locked only the rows it changes; [`MAX_BATCH`] bounds how
//! many that is.

use std::time::{Duration, Instant};

use crate::db::history::Home;
use crate::db::{Conn, DbError};
use crate::deadline::Deadline;

use super::error::OnlineError;
use super::plan::{q, Backfill, BACKFILL_VAR};
use super::state::{self, text, Row};

/// The time one range aims at.
pub const BATCH_TIME: Duration = Duration::from_millis(200);
/// Rows of the first range, and the bounds ranges are kept in.
pub const FIRST_BATCH: u64 = 1000;
const MIN_BATCH: u64 = 100;
pub const MAX_BATCH: u64 = 5_000;
/// A range is not started with less time than this before the deadline.
const MARGIN: Duration = Duration::from_secs(5);
/// Tries of a range that failed (a row lock the app held too long).
const TRIES: u32 = 3;

/// A key as SQL: a number as written (no rounding through a double), any
/// other value as a string.
fn key_sql(k: &str) -> String {
    if k.parse::<i64>().is_ok() {
        k.to_string()
    } else {
        text(k)
    }
}

/// Walk what is left of `b` for `row`.
pub async fn run(
    conn: &mut Conn,
    home: &Home,
    row: &mut Row,
    b: &Backfill,
    deadline: Option<Deadline>,
) -> Result<(), OnlineError> {
    conn.engine()
        .execute(&format!("SET {BACKFILL_VAR} = 1"))
        .await?;
    let rc = super::read::read_committed_allowed(conn).await?;
    let walked = walk(conn, home, row, b, deadline, rc).await;
    let reset = conn
        .engine()
        .execute(&format!("SET {BACKFILL_VAR} = NULL"))
        .await;
    walked?;
    Ok(reset?)
}

async fn walk(
    conn: &mut Conn,
    home: &Home,
    row: &mut Row,
    b: &Backfill,
    deadline: Option<Deadline>,
    read_committed: bool,
) -> Result<(), OnlineError> {
    let mut size = FIRST_BATCH;
    while let Some((bound, n)) = next_bound(conn, b, row.after.as_deref(), size).await? {
        if deadline.is_some_and(|d| d.left() < MARGIN) {
            return Err(OnlineError::Deadline {
                name: row.name.clone(),
                table: b.table.clone(),
                rows: row.rows as u64,
                after: row.after.clone().unwrap_or_default(),
            });
        }
        let t = Instant::now();
        let rows = row.rows + n;
        let mut sql = range_sql(home, row.version, b, row.after.as_deref(), &bound, rows);
        if read_committed {
            sql.insert_str(0, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; ");
        }
        one_range(conn, &sql).await?;
        row.after = Some(bound);
        row.rows = rows;
        size = next_size(size, t.elapsed());
    }
    Ok(())
}

/// Double a range that was quick, halve one that was slow.
fn next_size(size: u64, took: Duration) -> u64 {
    if took < BATCH_TIME / 2 {
        (size * 2).min(MAX_BATCH)
    } else if took > BATCH_TIME * 2 {
        (size / 2).max(MIN_BATCH)
    } else {
        size
    }
}

async fn one_range(conn: &mut Conn, sql: &str) -> Result<(), DbError> {
    let mut tries = 0;
    loop {
        match conn.engine().execute(sql).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                let _ = conn.engine().execute("ROLLBACK").await;
                tries += 1;
                if tries >= TRIES {
                    return Err(e);
                }
                tracing::warn!(error = %e, "backfill range failed; trying it again");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// The range's update and its progress, in one transaction.
pub fn range_sql(
    home: &Home,
    version: i64,
    b: &Backfill,
    after: Option<&str>,
    bound: &str,
    rows: i64,
) -> String {
    let k = q(&b.key);
    let lower = after.map_or(String::new(), |a| format!("{k} > {} AND ", key_sql(a)));
    format!(
        "START TRANSACTION; UPDATE {} SET {} WHERE {lower}{k} <= {} AND ({}); {}; COMMIT",
        q(&b.table),
        b.set,
        key_sql(bound),
        b.pending,
        state::progress_sql(home, version, bound, rows)
    )
}

/// The last key of the next range of `size` rows and its rows; `None`: no
/// row is left.
async fn next_bound(
    conn: &mut Conn,
    b: &Backfill,
    after: Option<&str>,
    size: u64,
) -> Result<Option<(String, i64)>, DbError> {
    let k = q(&b.key);
    let lower = after.map_or(String::new(), |a| format!("WHERE {k} > {}", key_sql(a)));
    let sql = format!(
        "SELECT CAST(MAX({k}) AS CHAR), CAST(COUNT(*) AS CHAR) FROM (SELECT {k} FROM {} {lower} ORDER BY {k} LIMIT {size}) AS r",
        q(&b.table)
    );
    let r = conn.engine().read_text(&sql).await.map_err(|e| {
        DbError::query(format!("reading the next range of `{}`", b.table), e.source)
    })?;
    let row = r.into_iter().next().unwrap_or_default();
    let cell = |i: usize| row.get(i).cloned().flatten();
    Ok(cell(0).map(|bound| {
        let n = cell(1).and_then(|n| n.parse().ok()).unwrap_or(0);
        (bound, n)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_grow_when_quick_and_shrink_when_slow() {
        assert_eq!(next_size(1000, Duration::from_millis(10)), 2000);
        assert_eq!(next_size(1000, Duration::from_millis(900)), 500);
        assert_eq!(next_size(1000, Duration::from_millis(200)), 1000);
        assert_eq!(next_size(MAX_BATCH, Duration::ZERO), MAX_BATCH);
        assert_eq!(next_size(MIN_BATCH, Duration::from_secs(9)), MIN_BATCH);
    }

    #[test]
    fn keys_are_numbers_or_strings_that_no_quote_ends() {
        assert_eq!(key_sql("42"), "42");
        assert_eq!(key_sql("a'b"), "CONVERT(X'612762' USING utf8mb4)");
    }
}
