//! The statements that keep a migration's history row, written once for
//! both engines; each engine says how it writes a literal or a name
//! ([`Literals`]). Values are embedded as hex literals, never as quoted
//! text, so no description or checksum can break out of its place; this
//! lets the bookkeeping ride in the migration's own round trip (prepared
//! statements cannot be batched with a script). Every statement names the
//! history table with its database (MariaDB) or schema (PostgreSQL),
//! [`Home::table`], never through the session's default.
//!
//! The row schemagate keeps beside it ([`super::history::KEPT_TABLE`]: the
//! down script, the class) rides in the same batch: written with the
//! history row when a step starts, removed with it when a revert ends, so
//! the two tables always agree (both rows or neither).

use super::history::{Home, DOWN_STARTED, KEPT_TABLE, TABLE, UP_STARTED};

/// How an engine writes values and names into its SQL.
pub trait Literals {
    /// An identifier, quoted (the quote character doubled inside).
    fn quote(name: &str) -> String;
    /// Bytes as a literal of the engine's binary type.
    fn bytes(b: &[u8]) -> String;
    /// UTF-8 text, written as bytes and converted.
    fn text(s: &str) -> String;
    /// An integer expression as a BIGINT.
    fn bigint(expr: &str) -> String;
    /// A query whose one value is an integer expression, as a BIGINT.
    fn select_bigint(query: &str) -> String {
        format!("SELECT {}", Self::bigint(&format!("({query})")))
    }
    /// The end of an `INSERT` into a table keyed by `version` that
    /// replaces the `columns` of a row already there.
    fn upsert(columns: &[&str]) -> String;
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

/// What schemagate keeps beside a history row it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keep<'a> {
    /// `0043_drop_legacy_email`
    pub name: String,
    /// The down script as applied; `None`: irreversible.
    pub down: Option<&'a str>,
    /// `expand`, `contract`, `breaking`, `unknown`, `baseline`.
    pub class: &'static str,
    /// The gating rule ids, comma separated.
    pub rules: String,
    /// The schema version the run started at.
    pub since: i64,
}

/// A new history row with what is kept beside it.
pub struct Entry<'a> {
    pub row: Row<'a>,
    pub keep: Keep<'a>,
}

/// A step's record while its script runs: the row says `success = false`
/// and which script started ([`UP_STARTED`], [`DOWN_STARTED`]), so a
/// failure or a crash part way is on record.
pub enum Mark<'a> {
    /// A new row.
    Up(Entry<'a>),
    /// The existing row of the version being reverted, and its
    /// `execution_time` to put back if the down script changes nothing.
    Down { version: i64, execution_time: i64 },
}

impl Mark<'_> {
    pub fn version(&self) -> i64 {
        match self {
            Mark::Up(e) => e.row.version,
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

/// The kept table beside it, qualified.
pub fn kept_table<L: Literals>(home: &str) -> String {
    format!("{}.{}", L::quote(home), L::quote(KEPT_TABLE))
}

/// The columns of the kept table a write replaces.
const KEPT_COLUMNS: [&str; 5] = ["name", "down_sql", "class", "rules", "since"];

/// Write what is kept of `entries` (a row already there, left by a row
/// removed by another tool, is replaced).
pub fn keep<L: Literals>(home: &Home, entries: &[&Entry<'_>]) -> String {
    let values: Vec<String> = entries
        .iter()
        .map(|e| {
            let k = &e.keep;
            format!(
                "({}, {}, {}, {}, {}, {})",
                e.row.version,
                L::text(&k.name),
                k.down.map_or("NULL".to_string(), L::text),
                L::text(k.class),
                L::text(&k.rules),
                k.since
            )
        })
        .collect();
    format!(
        "INSERT INTO {} (version, {}) VALUES {}{}",
        home.kept(),
        KEPT_COLUMNS.join(", "),
        values.join(", "),
        L::upsert(&KEPT_COLUMNS)
    )
}

/// Remove what is kept of `version` once its history row is gone (the
/// condition keeps the two tables agreeing whatever ran before it).
pub fn forget(home: &Home, version: i64) -> String {
    format!(
        "DELETE FROM {} WHERE version = {version} AND NOT EXISTS (SELECT 1 FROM {} WHERE version = {version})",
        home.kept(),
        home.table()
    )
}

/// Record that the step's script starts: the statements of its batch
/// before the script, the history row's first.
pub fn started<L: Literals>(home: &Home, m: &Mark<'_>) -> Vec<String> {
    let table = home.table();
    match m {
        Mark::Up(e) => vec![
            format!(
                "INSERT INTO {table} (version, description, success, checksum, execution_time) VALUES ({}, {}, FALSE, {}, {UP_STARTED})",
                e.row.version,
                L::text(e.row.description),
                L::bytes(e.row.checksum)
            ),
            keep::<L>(home, &[e]),
        ],
        Mark::Down { version, .. } => vec![format!(
            "UPDATE {table} SET success = FALSE, execution_time = {DOWN_STARTED} WHERE version = {version} AND success"
        )],
    }
}

/// Give the record back when nothing of the script ran.
pub fn unmark(home: &Home, m: &Mark<'_>) -> String {
    let table = home.table();
    match m {
        Mark::Up(e) => format!(
            "DELETE FROM {table} WHERE version = {v} AND NOT success;\n{}",
            forget(home, e.row.version),
            v = e.row.version,
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
/// expression) or forget it (down, with what is kept of it): the
/// statements of its batch after the script, the checked one first. The
/// engine's [`Literals::still_home`] condition rides along: on MariaDB the
/// statement changes nothing unless the session is still in the home
/// database (a script's `USE` would have sent everything after it
/// elsewhere), and the engine sees 0 affected rows.
pub fn finish<L: Literals>(home: &Home, m: &Mark<'_>, ns: &str) -> Vec<String> {
    let table = home.table();
    let here = L::still_home(home);
    match m {
        Mark::Up(e) => vec![format!(
            "UPDATE {table} SET success = TRUE, execution_time = {ns} WHERE version = {} AND NOT success{here}",
            e.row.version
        )],
        Mark::Down { version, .. } => vec![
            format!("DELETE FROM {table} WHERE version = {version} AND NOT success{here}"),
            forget(home, *version),
        ],
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

/// Record versions as applied without running them (`BaselineVersion`),
/// with what is kept of them: two statements, the history rows first.
pub fn baseline<L: Literals>(home: &Home, entries: &[Entry<'_>]) -> String {
    let values: Vec<String> = entries
        .iter()
        .map(|Entry { row: r, .. }| {
            format!(
                "({}, {}, TRUE, {}, 0)",
                r.version,
                L::text(r.description),
                L::bytes(r.checksum)
            )
        })
        .collect();
    let all: Vec<&Entry<'_>> = entries.iter().collect();
    format!(
        "INSERT INTO {} (version, description, success, checksum, execution_time) VALUES {};\n{}",
        home.table(),
        values.join(", "),
        keep::<L>(home, &all)
    )
}

/// `schemagate resolve V --as applied`: the failed row becomes a successful
/// one with the current file's checksum (`execution_time` 0: not measured);
/// `--as undone` (`row` none): the failed row goes, and what is kept of it.
/// What is kept of a migration resolved as applied stays as its step
/// wrote it.
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
            "DELETE FROM {} WHERE version = {version} AND NOT success;\n{}",
            home.table(),
            forget(home, version)
        ),
    }
}

/// What the history holds, each row with what is kept of it (`LEFT
/// JOIN`: a row without one predates the kept table): `version,
/// description, success, checksum, execution_time, name, reversible (1/0,
/// NULL without a kept row), class, rules, since`.
pub fn history<L: Literals>(home: &Home) -> String {
    format!(
        "SELECT h.version, h.description, h.success, h.checksum, h.execution_time, k.name, {}, k.class, k.rules, k.since FROM {} h LEFT JOIN {} k ON k.version = h.version ORDER BY h.version",
        L::bigint("CASE WHEN k.version IS NULL THEN NULL WHEN k.down_sql IS NULL THEN 0 ELSE 1 END"),
        home.table(),
        home.kept()
    )
}

/// The history alone, for a database whose kept table does not exist yet.
pub fn history_only(home: &Home) -> String {
    format!(
        "SELECT version, description, success, checksum, execution_time, NULL, NULL, NULL, NULL, NULL FROM {} ORDER BY version",
        home.table()
    )
}

/// The stored down scripts of `versions`.
pub fn stored_downs(home: &Home, versions: &[i64]) -> String {
    let list: Vec<String> = versions.iter().map(i64::to_string).collect();
    format!(
        "SELECT version, down_sql FROM {} WHERE version IN ({}) ORDER BY version",
        home.kept(),
        list.join(", ")
    )
}
