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
    let lock_secs = lock_wait.as_secs().max(1);
    match kind {
        Kind::MariaDb => {
            let stmt = statement.map_or(0.0, |d| d.as_secs_f64().max(1.0));
            format!(
                "SET SESSION lock_wait_timeout = {lock_secs}; SET SESSION innodb_lock_wait_timeout = {lock_secs}; SET SESSION max_statement_time = {stmt:.3}"
            )
        }
        Kind::Postgres => {
            let stmt = statement.map_or(0, |d| d.as_millis().max(1000) as u64);
            format!("SET lock_timeout = '{lock_secs}s'; SET statement_timeout = {stmt}")
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

/// Insert the row as failed, run the script, mark the row successful with
/// its execution time. One round trip; a failure part way leaves the row
/// saying `success = false`.
pub fn up_marked(kind: Kind, row: &Row<'_>, body: Option<&str>) -> Batch {
    let (start, elapsed) = match kind {
        Kind::MariaDb => (
            "SET @schemagate_t0 = NOW(6);\n",
            "TIMESTAMPDIFF(MICROSECOND, @schemagate_t0, NOW(6)) * 1000",
        ),
        Kind::Postgres => (
            "",
            "(extract(epoch from (clock_timestamp() - statement_timestamp())) * 1000000000)::bigint",
        ),
    };
    let prefix = if start.is_empty() { 1 } else { 2 };
    Batch {
        sql: format!(
            "{start}INSERT INTO {TABLE} (version, description, success, checksum, execution_time) VALUES ({v}, {d}, FALSE, {c}, -1);\n{body}UPDATE {TABLE} SET success = TRUE, execution_time = {elapsed} WHERE version = {v}",
            v = row.version,
            d = text(kind, row.description),
            c = bytes(kind, row.checksum),
            body = body.unwrap_or(""),
        ),
        prefix,
    }
}

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

/// Mark the row failed, run the down script, delete the row.
pub fn down_marked(version: i64, body: Option<&str>) -> Batch {
    Batch {
        sql: format!(
            "UPDATE {TABLE} SET success = FALSE WHERE version = {version};\n{body}DELETE FROM {TABLE} WHERE version = {version}",
            body = body.unwrap_or("")
        ),
        prefix: 1,
    }
}

pub fn down_atomic(version: i64, body: Option<&str>) -> Batch {
    Batch {
        sql: format!("{body}DELETE FROM {TABLE} WHERE version = {version}", body = body.unwrap_or("")),
        prefix: 0,
    }
}

pub fn delete_row(version: i64) -> String {
    format!("DELETE FROM {TABLE} WHERE version = {version}")
}

pub fn mark_success(version: i64) -> String {
    format!("UPDATE {TABLE} SET success = TRUE WHERE version = {version}")
}

/// Record versions as applied without running them (`BaselineVersion`).
pub fn baseline(kind: Kind, rows: &[Row<'_>]) -> String {
    let values: Vec<String> = rows
        .iter()
        .map(|r| format!("({}, {}, TRUE, {}, 0)", r.version, text(kind, r.description), bytes(kind, r.checksum)))
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
        let row = Row { version: 3, description: "it's; DROP TABLE x", checksum: &[0xab, 0x01] };
        let b = up_marked(Kind::MariaDb, &row, Some("SELECT 1;\n"));
        assert!(!b.sql.contains("it's"));
        assert!(b.sql.contains("X'ab01'"));
        assert_eq!(b.prefix, 2);
        let b = up_atomic(Kind::Postgres, &row, None);
        assert!(b.sql.contains("'\\xab01'::bytea"));
    }

    #[test]
    fn session_limits() {
        let s = session(Kind::MariaDb, Duration::from_secs(5), Some(Duration::from_millis(90_500)));
        assert!(s.contains("lock_wait_timeout = 5"));
        assert!(s.contains("max_statement_time = 90.500"));
        assert!(session(Kind::MariaDb, Duration::from_secs(5), None).contains("max_statement_time = 0.000"));
    }
}
