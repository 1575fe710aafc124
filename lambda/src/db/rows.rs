//! The statements that keep a migration's history row, written once for
//! both engines; each engine says how it writes a literal or a name
//! ([`Literals`]). Values are embedded as hex literals, never as quoted
//! text, so no description or checksum can break out of its place; this
//! lets the bookkeeping ride in the migration's own round trip (prepared
//! statements cannot be batched with a script). Every statement names the
//! history table with its database (MariaDB) or schema (PostgreSQL),
//! [`Home::table`], never through the session's default.

use super::history::{Home, DOWN_STARTED, TABLE, UP_STARTED};

/// How an engine writes values and names into its SQL.
pub trait Literals {
    /// An identifier, quoted (the quote character doubled inside).
    fn quote(name: &str) -> String;
    /// Bytes as a literal of the engine's binary type.
    fn bytes(b: &[u8]) -> String;
    /// UTF-8 text, written as bytes and converted.
    fn text(s: &str) -> String;
    /// A query whose one value is an integer expression, as a BIGINT.
    fn select_bigint(query: &str) -> String;
    /// A condition a finish must also meet (MariaDB: the session is still
    /// in the home database), starting with ` AND `; none by default.
    fn still_home(_home: &Home) -> String {
        String::new()
    }
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

    /// What the row says while the script runs.
    pub fn started(&self) -> i64 {
        match self {
            Mark::Up(_) => UP_STARTED,
            Mark::Down { .. } => DOWN_STARTED,
        }
    }
}

/// The history table in the home database or schema, qualified.
pub fn table<L: Literals>(home: &str) -> String {
    format!("{}.{}", L::quote(home), L::quote(TABLE))
}

/// Record that the step's script starts: the first statement of its batch.
pub fn started<L: Literals>(home: &Home, m: &Mark<'_>) -> String {
    let table = home.table();
    match m {
        Mark::Up(row) => format!(
            "INSERT INTO {table} (version, description, success, checksum, execution_time) VALUES ({}, {}, FALSE, {}, {UP_STARTED})",
            row.version,
            L::text(row.description),
            L::bytes(row.checksum)
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

/// The script ran: record it (up, taking `ns` nanoseconds, an SQL
/// expression) or forget it (down). The engine's [`Literals::still_home`]
/// condition rides along: on MariaDB the statement changes nothing unless
/// the session is still in the home database (a script's `USE` would have
/// sent everything after it elsewhere), and the engine sees 0 affected rows.
pub fn finish<L: Literals>(home: &Home, m: &Mark<'_>, ns: &str) -> String {
    let table = home.table();
    let here = L::still_home(home);
    match m {
        Mark::Up(row) => format!(
            "UPDATE {table} SET success = TRUE, execution_time = {ns} WHERE version = {} AND NOT success{here}",
            row.version
        ),
        Mark::Down { version, .. } => {
            format!("DELETE FROM {table} WHERE version = {version} AND NOT success{here}")
        }
    }
}

/// What the row of `version` says now, as one number: NULL = no row,
/// 1 = applied, -1 = up started, -3 = down started.
pub fn row_state<L: Literals>(home: &Home, version: i64) -> String {
    L::select_bigint(&format!(
        "SELECT CASE WHEN success THEN 1 WHEN execution_time = {DOWN_STARTED} THEN {DOWN_STARTED} ELSE {UP_STARTED} END FROM {} WHERE version = {version}",
        home.table()
    ))
}

/// Record versions as applied without running them (`BaselineVersion`).
pub fn baseline<L: Literals>(home: &Home, rows: &[Row<'_>]) -> String {
    let values: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "({}, {}, TRUE, {}, 0)",
                r.version,
                L::text(r.description),
                L::bytes(r.checksum)
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
/// one with the current file's checksum (`execution_time` 0: not measured);
/// `--as undone` (`row` none): the failed row goes.
pub fn resolve<L: Literals>(home: &Home, version: i64, row: Option<&Row<'_>>) -> String {
    match row {
        Some(row) => format!(
            "UPDATE {} SET success = TRUE, description = {}, checksum = {}, execution_time = 0 WHERE version = {} AND NOT success",
            home.table(),
            L::text(row.description),
            L::bytes(row.checksum),
            row.version
        ),
        None => format!(
            "DELETE FROM {} WHERE version = {version} AND NOT success",
            home.table()
        ),
    }
}
