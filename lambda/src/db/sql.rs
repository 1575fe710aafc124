//! The SQL each engine needs for bookkeeping. Values are embedded as hex
//! literals, never as quoted text, so no description or checksum can break
//! out of its place; this lets the bookkeeping ride in the migration's own
//! round trip (prepared statements cannot be batched with a script). Every
//! statement names the history table with its database (MariaDB) or schema
//! (PostgreSQL), [`Home::table`], never through the session's default.
//!
//! # One round trip per migration (MariaDB)
//!
//! [`step`] is the whole batch of a migration:
//!
//! ```text
//! SET @schemagate_t0 = NOW(6), autocommit = 0[, max_statement_time = …];
//! INSERT its row: success = FALSE, execution_time = -1   (down: mark the row -3)
//! <the script>
//! UPDATE the row to success   (down: DELETE it) — only while the session is still in its database
//! SET autocommit = 1
//! ```
//!
//! With `autocommit = 0` nothing commits until a DDL (MariaDB commits
//! implicitly before and after each DDL) or the final `SET autocommit = 1`:
//! - a script with DDL: its row commits just before the first DDL runs, so
//!   from the moment anything of it can be committed, a failure or a crash
//!   finds the row on record saying the script started;
//! - a script of DML only: row, script and finish commit together at the end;
//!   a failure or a crash rolls all of it back and no row stays;
//! - nothing is written ahead for the next migration, so a run killed
//!   between two batches leaves no row for a migration that did not start;
//! - no commit is added: the row rides in the first DDL's implicit commit or
//!   in the final one, and nothing else is sent per migration.
//!
//! The engine checks each batch's affected-row counts ([`Batch::prefix`],
//! [`Batch::suffix`]): the finish must have changed exactly its row.

use std::time::Duration;

use super::Kind;
use crate::migrate::history::{quote, Home, DOWN_STARTED, UP_STARTED};

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

pub fn create_history(home: &Home) -> String {
    let table = home.table();
    match home.kind {
        Kind::MariaDb => format!(
            "CREATE TABLE IF NOT EXISTS {table} (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
)"
        ),
        Kind::Postgres => format!(
            "CREATE TABLE IF NOT EXISTS {table} (
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

/// A batch: `prefix` bookkeeping statements before the script and `suffix`
/// after it, whose affected-row counts the engine checks.
pub struct Batch {
    pub sql: String,
    pub prefix: usize,
    pub suffix: usize,
}

/// The history row of a migration.
pub struct Row<'a> {
    pub version: i64,
    pub description: &'a str,
    pub checksum: &'a [u8],
}

/// A step's record while its script runs: the row says `success = false`
/// and which script started ([`UP_STARTED`], [`DOWN_STARTED`]), so a
/// failure or a crash part way is on record.
pub enum Mark<'a> {
    /// A new row.
    Up(Row<'a>),
    /// The existing row of the version being reverted, and its
    /// `execution_time` to put back if the down script changes nothing.
    Down { version: i64, execution_time: i64 },
}

impl Mark<'_> {
    pub fn version(&self) -> i64 {
        match self {
            Mark::Up(r) => r.version,
            Mark::Down { version, .. } => *version,
        }
    }
}

/// Record that the step's script starts: the first statement of its batch.
pub fn started(home: &Home, m: &Mark<'_>) -> String {
    let table = home.table();
    match m {
        Mark::Up(row) => format!(
            "INSERT INTO {table} (version, description, success, checksum, execution_time) VALUES ({}, {}, FALSE, {}, {UP_STARTED})",
            row.version,
            text(home.kind, row.description),
            bytes(home.kind, row.checksum)
        ),
        Mark::Down { version, .. } => format!(
            "UPDATE {table} SET success = FALSE, execution_time = {DOWN_STARTED} WHERE version = {version} AND success"
        ),
    }
}

/// Give the record back when nothing of the script ran.
pub fn unmark(home: &Home, m: &Mark<'_>) -> String {
    let table = home.table();
    match m {
        Mark::Up(row) => format!(
            "DELETE FROM {table} WHERE version = {} AND NOT success",
            row.version
        ),
        Mark::Down {
            version,
            execution_time,
        } => format!(
            "UPDATE {table} SET success = TRUE, execution_time = {execution_time} WHERE version = {version} AND NOT success"
        ),
    }
}

/// The script ran: record it (up) or forget it (down). Without `elapsed`,
/// MariaDB measures from `@schemagate_t0`, set at the start of the batch.
/// On MariaDB the statement changes nothing unless the session is still in
/// the home database (a script's `USE` would have sent everything after it
/// elsewhere): the engine sees 0 affected rows and reports it.
pub fn finish(home: &Home, m: &Mark<'_>, elapsed: Option<Duration>) -> String {
    let table = home.table();
    let here = match home.kind {
        Kind::MariaDb => format!(
            " AND CAST(DATABASE() AS BINARY) <=> {}",
            bytes(Kind::MariaDb, home.name.as_bytes())
        ),
        Kind::Postgres => String::new(),
    };
    match m {
        Mark::Up(row) => {
            let ns = match elapsed {
                Some(d) => d.as_nanos().to_string(),
                None => "TIMESTAMPDIFF(MICROSECOND, @schemagate_t0, NOW(6)) * 1000".to_string(),
            };
            format!(
                "UPDATE {table} SET success = TRUE, execution_time = {ns} WHERE version = {} AND NOT success{here}",
                row.version
            )
        }
        Mark::Down { version, .. } => {
            format!("DELETE FROM {table} WHERE version = {version} AND NOT success{here}")
        }
    }
}

/// MariaDB: a migration's whole batch (see the module's documentation).
/// `statement` (time left before the watchdog) renews the session's
/// `max_statement_time` for this batch, so a statement that starts late in
/// a run is still stopped by the server in time.
pub fn step(
    home: &Home,
    this: &Mark<'_>,
    body: Option<&str>,
    statement: Option<Duration>,
) -> Batch {
    Batch {
        sql: format!(
            "SET @schemagate_t0 = NOW(6), autocommit = 0{limit};\n{started};\n{body}{finish};\nSET autocommit = 1",
            limit = statement.map_or(String::new(), |d| format!(
                ", max_statement_time = {:.3}",
                d.as_secs_f64().max(1.0)
            )),
            started = started(home, this),
            body = body.unwrap_or(""),
            finish = finish(home, this, None),
        ),
        prefix: 2,
        suffix: 2,
    }
}

/// MariaDB, after a failed [`step`]: end its transaction (what did not
/// commit is undone) and put the session back in its database.
pub fn abort(home: &Home) -> String {
    format!(
        "ROLLBACK; SET autocommit = 1; USE {}",
        quote(Kind::MariaDb, &home.name)
    )
}

/// MariaDB: put the session back in its database.
pub fn use_home(home: &Home) -> String {
    format!("USE {}", quote(Kind::MariaDb, &home.name))
}

/// What the row of `version` says now, as one number: NULL = no row,
/// 1 = applied, -1 = up started, -3 = down started.
pub fn row_state(home: &Home, version: i64) -> String {
    let case = format!(
        "SELECT CASE WHEN success THEN 1 WHEN execution_time = {DOWN_STARTED} THEN {DOWN_STARTED} ELSE {UP_STARTED} END FROM {} WHERE version = {version}",
        home.table()
    );
    match home.kind {
        Kind::MariaDb => format!("SELECT CAST(({case}) AS SIGNED)"),
        Kind::Postgres => format!("SELECT ({case})::bigint"),
    }
}

/// SQLSTATE of [`pg_session_check`]'s error.
pub const PG_SESSION_CHANGED: &str = "SGSES";

/// PostgreSQL: fail (and so roll back the transaction it is in) when the
/// session's `search_path` is not what the run started with: a script that
/// changed it would send the next migration's names elsewhere.
pub fn pg_session_check(home: &Home) -> String {
    let was = home.search_path.as_deref().unwrap_or("");
    let lit = format!(
        "convert_from(decode('{}', 'hex'), 'UTF8')",
        hex::encode(was.as_bytes())
    );
    format!(
        "DO $schemagate$BEGIN IF current_setting('search_path') IS DISTINCT FROM {lit} THEN RAISE EXCEPTION USING ERRCODE = '{PG_SESSION_CHANGED}', MESSAGE = format('the migration changed the session''s search_path to %L (the run started with %L); set search_path with --init-sql / InitSql or qualify the names in the migration', current_setting('search_path'), {lit}); END IF; END$schemagate$"
    )
}

/// PostgreSQL: the script and its row in one implicit transaction, so a
/// failure leaves nothing behind; the session check fails it too.
pub fn up_atomic(home: &Home, row: &Row<'_>, body: Option<&str>) -> Batch {
    Batch {
        sql: format!(
            "{body}INSERT INTO {table} (version, description, success, checksum, execution_time) VALUES ({v}, {d}, TRUE, {c}, (extract(epoch from (clock_timestamp() - statement_timestamp())) * 1000000000)::bigint);\n{check}",
            table = home.table(),
            v = row.version,
            d = text(home.kind, row.description),
            c = bytes(home.kind, row.checksum),
            body = body.unwrap_or(""),
            check = pg_session_check(home),
        ),
        prefix: 0,
        suffix: 2,
    }
}

pub fn down_atomic(home: &Home, version: i64, body: Option<&str>) -> Batch {
    Batch {
        sql: format!(
            "{body}DELETE FROM {table} WHERE version = {version};\n{check}",
            table = home.table(),
            body = body.unwrap_or(""),
            check = pg_session_check(home),
        ),
        prefix: 0,
        suffix: 2,
    }
}

/// PostgreSQL `-- no-transaction`: the finish and the session check in one
/// implicit transaction, so a changed `search_path` leaves the row saying
/// "started".
pub fn pg_finish(home: &Home, m: &Mark<'_>, elapsed: Duration) -> Batch {
    Batch {
        sql: format!(
            "{};\n{}",
            finish(home, m, Some(elapsed)),
            pg_session_check(home)
        ),
        prefix: 0,
        suffix: 2,
    }
}

/// Record versions as applied without running them (`BaselineVersion`).
pub fn baseline(home: &Home, rows: &[Row<'_>]) -> String {
    let values: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "({}, {}, TRUE, {}, 0)",
                r.version,
                text(home.kind, r.description),
                bytes(home.kind, r.checksum)
            )
        })
        .collect();
    format!(
        "INSERT INTO {} (version, description, success, checksum, execution_time) VALUES {}",
        home.table(),
        values.join(", ")
    )
}

/// `schemagate resolve V --as applied`: the failed row becomes a successful
/// one with the current file's checksum (`execution_time` 0: not measured).
pub fn resolve_applied(home: &Home, row: &Row<'_>) -> String {
    format!(
        "UPDATE {} SET success = TRUE, description = {}, checksum = {}, execution_time = 0 WHERE version = {} AND NOT success",
        home.table(),
        text(home.kind, row.description),
        bytes(home.kind, row.checksum),
        row.version
    )
}

/// `schemagate resolve V --as undone`: the failed row goes.
pub fn resolve_undone(home: &Home, version: i64) -> String {
    format!(
        "DELETE FROM {} WHERE version = {version} AND NOT success",
        home.table()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home(kind: Kind) -> Home {
        Home {
            kind,
            name: "app".into(),
            search_path: Some("\"$user\", public".into()),
            max_packet: Some(16 << 20),
        }
    }

    #[test]
    fn values_are_hex_literals_so_quotes_cannot_escape() {
        let row = Row {
            version: 3,
            description: "it's; DROP TABLE x",
            checksum: &[0xab, 0x01],
        };
        let m = started(&home(Kind::MariaDb), &Mark::Up(Row { ..row }));
        assert!(!m.contains("it's"));
        assert!(m.contains("X'ab01'"));
        let row = Row {
            version: 3,
            description: "it's; DROP TABLE x",
            checksum: &[0xab, 0x01],
        };
        let b = up_atomic(&home(Kind::Postgres), &row, None);
        assert!(b.sql.contains("'\\xab01'::bytea"));
        assert!(!pg_session_check(&home(Kind::Postgres)).contains("public"));
    }

    #[test]
    fn a_step_records_its_start_then_its_end_and_nothing_for_the_next() {
        let h = home(Kind::MariaDb);
        let this = Mark::Up(Row {
            version: 1,
            description: "a",
            checksum: &[1],
        });
        let b = step(&h, &this, Some("CREATE TABLE a (id INT);\n"), None);
        assert_eq!((b.prefix, b.suffix), (2, 2));
        let lines: Vec<&str> = b.sql.lines().collect();
        assert_eq!(lines.len(), 5, "{}", b.sql);
        assert!(lines[0].starts_with("SET @schemagate_t0 = NOW(6), autocommit = 0;"));
        assert!(lines[1].starts_with("INSERT INTO `app`.`_sqlx_migrations`"));
        assert!(lines[1].ends_with("FALSE, X'01', -1);"), "{}", lines[1]);
        assert_eq!(lines[2], "CREATE TABLE a (id INT);");
        assert!(lines[3].starts_with("UPDATE `app`.`_sqlx_migrations` SET success = TRUE"));
        assert!(
            lines[3].ends_with("AND CAST(DATABASE() AS BINARY) <=> X'617070';"),
            "{}",
            lines[3]
        );
        assert_eq!(lines[4], "SET autocommit = 1");

        let down = Mark::Down {
            version: 4,
            execution_time: 77,
        };
        let d = step(&h, &down, None, Some(Duration::from_millis(2500)));
        assert!(
            d.sql.starts_with(
                "SET @schemagate_t0 = NOW(6), autocommit = 0, max_statement_time = 2.500;"
            ),
            "{}",
            d.sql
        );
        assert!(d
            .sql
            .contains("SET success = FALSE, execution_time = -3 WHERE version = 4 AND success"));
        assert!(d
            .sql
            .contains("DELETE FROM `app`.`_sqlx_migrations` WHERE version = 4 AND NOT success"));
        assert!(!d.sql.contains("INSERT"));
        assert!(unmark(&h, &down).contains("success = TRUE, execution_time = 77 WHERE version = 4"));
    }

    #[test]
    fn every_bookkeeping_statement_names_the_database() {
        let h = home(Kind::MariaDb);
        let row = || Row {
            version: 2,
            description: "b",
            checksum: &[2],
        };
        for sql in [
            create_history(&h),
            started(&h, &Mark::Up(row())),
            unmark(&h, &Mark::Up(row())),
            finish(&h, &Mark::Up(row()), None),
            baseline(&h, &[row()]),
            row_state(&h, 2),
            resolve_applied(&h, &row()),
            resolve_undone(&h, 2),
        ] {
            assert!(sql.contains("`app`.`_sqlx_migrations`"), "{sql}");
        }
        let p = home(Kind::Postgres);
        for sql in [
            create_history(&p),
            up_atomic(&p, &row(), None).sql,
            down_atomic(&p, 2, None).sql,
            pg_finish(&p, &Mark::Up(row()), Duration::ZERO).sql,
        ] {
            assert!(sql.contains("\"app\".\"_sqlx_migrations\""), "{sql}");
        }
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
