//! The SQL each engine needs for bookkeeping. Values are embedded as hex
//! literals, never as quoted text, so no description or checksum can break
//! out of its place; this lets the bookkeeping ride in the migration's own
//! round trip (prepared statements cannot be batched with a script).

use std::time::Duration;

use super::Kind;
use crate::migrate::history::TABLE;

fn bytes(kind: Kind, b: &[u8]) -> String {
    match kind {
        Kind::MariaDb => format!("X'{}'", hex::encode(b)),
        Kind::Postgres => format!("'\\x{}'::bytea", hex::encode(b)),
    }
}

fn text(kind: Kind, s: &str) -> String {
    match kind {
        Kind::MariaDb => format!("CONVERT({} USING utf8mb4)", bytes(kind, s.as_bytes())),
        Kind::Postgres => format!("convert_from({}, 'UTF8')", bytes(kind, s.as_bytes())),
    }
}

/// Session limits: how long DDL may wait for a metadata lock (so a long app
/// transaction delays the deploy instead of freezing every query queued
/// behind the DDL), and how long one statement may run (so the server stops
/// it before the Lambda dies).
pub fn session(kind: Kind, lock_wait: Duration, statement: Option<Duration>) -> String {
    match kind {
        Kind::MariaDb => {
            // Whole seconds only on MariaDB 10.11 (`= 0.5` is error 1232,
            // `WAIT 0.5` truncates to 0 = no wait): round up, at least 1.
            let lock_secs = (lock_wait.as_secs_f64().ceil() as u64).max(1);
            let stmt = statement.map_or(0.0, |d| d.as_secs_f64().max(1.0));
            format!(
                "SET SESSION lock_wait_timeout = {lock_secs}; SET SESSION innodb_lock_wait_timeout = {lock_secs}; SET SESSION max_statement_time = {stmt:.3}"
            )
        }
        Kind::Postgres => {
            let stmt = statement.map_or(0, |d| d.as_millis().max(1000) as u64);
            let lock_ms = lock_wait.as_millis().max(1);
            format!("SET lock_timeout = '{lock_ms}ms'; SET statement_timeout = {stmt}")
        }
    }
}

pub fn create_history(kind: Kind) -> String {
    match kind {
        Kind::MariaDb => format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
)"
        ),
        Kind::Postgres => format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
    success BOOLEAN NOT NULL,
    checksum BYTEA NOT NULL,
    execution_time BIGINT NOT NULL
)"
        ),
    }
}

/// A batch and the number of bookkeeping statements sent before the script.
pub struct Batch {
    pub sql: String,
    pub prefix: usize,
}

/// The history row of a migration.
pub struct Row<'a> {
    pub version: i64,
    pub description: &'a str,
    pub checksum: &'a [u8],
}

/// A step's claim on its history row: while the script runs, the row says
/// `success = false`, so a failure or a crash part way is on record.
pub enum Mark<'a> {
    /// A new row, `success = false`, `execution_time = -1`.
    Up(Row<'a>),
    /// The existing row of the version being reverted, set to `success = false`.
    Down(i64),
}

/// Claim the row before the script starts.
pub fn mark(kind: Kind, m: &Mark<'_>) -> String {
    match m {
        Mark::Up(row) => format!(
            "INSERT INTO {TABLE} (version, description, success, checksum, execution_time) VALUES ({}, {}, FALSE, {}, -1)",
            row.version,
            text(kind, row.description),
            bytes(kind, row.checksum)
        ),
        Mark::Down(v) => format!("UPDATE {TABLE} SET success = FALSE WHERE version = {v}"),
    }
}

/// Give the claim back when the script did not start.
pub fn unmark(m: &Mark<'_>) -> String {
    match m {
        Mark::Up(row) => format!("DELETE FROM {TABLE} WHERE version = {}", row.version),
        Mark::Down(v) => format!("UPDATE {TABLE} SET success = TRUE WHERE version = {v}"),
    }
}

/// The script ran: record it (up) or forget it (down). Without `elapsed`,
/// MariaDB measures from `@schemagate_t0`, set at the start of the batch.
pub fn finish(m: &Mark<'_>, elapsed: Option<Duration>) -> String {
    match m {
        Mark::Up(row) => {
            let ns = match elapsed {
                Some(d) => d.as_nanos().to_string(),
                None => "TIMESTAMPDIFF(MICROSECOND, @schemagate_t0, NOW(6)) * 1000".to_string(),
            };
            format!(
                "UPDATE {TABLE} SET success = TRUE, execution_time = {ns} WHERE version = {}",
                row.version
            )
        }
        Mark::Down(v) => format!("DELETE FROM {TABLE} WHERE version = {v}"),
    }
}

/// MariaDB: the script, its bookkeeping and the next step's claim in one
/// round trip. With `autocommit = 0` the bookkeeping joins the script's last
/// transaction, so a migration ending in DML costs no extra commit; DDL
/// still commits implicitly as it goes. The final `SET autocommit = 1`
/// commits. `statement` (time left before the watchdog) renews the session's
/// `max_statement_time` for this batch, so a statement that starts late in a
/// run is still stopped by the server in time.
pub fn chained(
    this: &Mark<'_>,
    body: Option<&str>,
    next: Option<&Mark<'_>>,
    statement: Option<Duration>,
) -> Batch {
    let next = next
        .map(|n| format!("{};\n", mark(Kind::MariaDb, n)))
        .unwrap_or_default();
    Batch {
        sql: format!(
            "SET @schemagate_t0 = NOW(6), autocommit = 0{limit};\n{body}{finish};\n{next}SET autocommit = 1",
            limit = statement.map_or(String::new(), |d| format!(", max_statement_time = {:.3}", d.as_secs_f64().max(1.0))),
            body = body.unwrap_or(""),
            finish = finish(this, None),
        ),
        prefix: 1,
    }
}

/// What to send after a failed [`chained`] batch.
pub const ABORT: &str = "ROLLBACK; SET autocommit = 1";

/// PostgreSQL: the script and its row in one implicit transaction, so a
/// failure leaves nothing behind.
pub fn up_atomic(kind: Kind, row: &Row<'_>, body: Option<&str>) -> Batch {
    Batch {
        sql: format!(
            "{body}INSERT INTO {TABLE} (version, description, success, checksum, execution_time) VALUES ({v}, {d}, TRUE, {c}, (extract(epoch from (clock_timestamp() - statement_timestamp())) * 1000000000)::bigint)",
            v = row.version,
            d = text(kind, row.description),
            c = bytes(kind, row.checksum),
            body = body.unwrap_or(""),
        ),
        prefix: 0,
    }
}

pub fn down_atomic(version: i64, body: Option<&str>) -> Batch {
    Batch {
        sql: format!(
            "{body}DELETE FROM {TABLE} WHERE version = {version}",
            body = body.unwrap_or("")
        ),
        prefix: 0,
    }
}

/// Record versions as applied without running them (`BaselineVersion`).
pub fn baseline(kind: Kind, rows: &[Row<'_>]) -> String {
    let values: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "({}, {}, TRUE, {}, 0)",
                r.version,
                text(kind, r.description),
                bytes(kind, r.checksum)
            )
        })
        .collect();
    format!(
        "INSERT INTO {TABLE} (version, description, success, checksum, execution_time) VALUES {}",
        values.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_hex_literals_so_quotes_cannot_escape() {
        let row = Row {
            version: 3,
            description: "it's; DROP TABLE x",
            checksum: &[0xab, 0x01],
        };
        let m = mark(Kind::MariaDb, &Mark::Up(Row { ..row }));
        assert!(!m.contains("it's"));
        assert!(m.contains("X'ab01'"));
        let row = Row {
            version: 3,
            description: "it's; DROP TABLE x",
            checksum: &[0xab, 0x01],
        };
        let b = up_atomic(Kind::Postgres, &row, None);
        assert!(b.sql.contains("'\\xab01'::bytea"));
    }

    #[test]
    fn a_chained_batch_finishes_this_step_and_claims_the_next() {
        let this = Mark::Up(Row {
            version: 1,
            description: "a",
            checksum: &[1],
        });
        let next = Mark::Up(Row {
            version: 2,
            description: "b",
            checksum: &[2],
        });
        let b = chained(&this, Some("CREATE TABLE a (id INT);\n"), Some(&next), None);
        assert_eq!(b.prefix, 1);
        let lines: Vec<&str> = b.sql.lines().collect();
        assert!(lines[0].starts_with("SET @schemagate_t0 = NOW(6), autocommit = 0"));
        assert_eq!(lines[1], "CREATE TABLE a (id INT);");
        assert!(lines[2].starts_with("UPDATE _sqlx_migrations SET success = TRUE"));
        assert!(lines[3].contains("VALUES (2, ") && lines[3].contains("FALSE"));
        assert_eq!(lines[4], "SET autocommit = 1");
        assert!(!chained(&Mark::Down(4), None, None, None)
            .sql
            .contains("INSERT"));
        let late = chained(
            &Mark::Down(4),
            None,
            None,
            Some(Duration::from_millis(2500)),
        );
        assert!(
            late.sql.starts_with(
                "SET @schemagate_t0 = NOW(6), autocommit = 0, max_statement_time = 2.500;"
            ),
            "{}",
            late.sql
        );
    }

    #[test]
    fn session_limits() {
        let s = session(
            Kind::MariaDb,
            Duration::from_secs(5),
            Some(Duration::from_millis(90_500)),
        );
        assert!(s.contains("lock_wait_timeout = 5"));
        assert!(s.contains("max_statement_time = 90.500"));
        assert!(session(Kind::MariaDb, Duration::from_secs(5), None)
            .contains("max_statement_time = 0.000"));
        // Sub-second waits: MariaDB rounds up to whole seconds, PostgreSQL
        // takes milliseconds.
        let half = Duration::from_millis(500);
        assert!(session(Kind::MariaDb, half, None).contains("SET SESSION lock_wait_timeout = 1;"));
        assert!(session(Kind::MariaDb, Duration::from_millis(1500), None)
            .contains("SET SESSION lock_wait_timeout = 2;"));
        assert!(session(Kind::Postgres, half, None).starts_with("SET lock_timeout = '500ms';"));
    }
}
