//! The history table, compatible with sqlx's `_sqlx_migrations`, so a
//! project that used `sqlx migrate run` switches without a baseline.
//!
//! # What a row says
//!
//! The columns are sqlx's and sqlx reads only `success` (a `false` row is
//! "dirty") and `checksum`. schemagate writes a step's row in the same round
//! trip as its script, as the batch's first statement (see
//! [`super::rows`] and each engine's `run_step`), and says in
//! `execution_time` which script had *started* when a row has
//! `success = false`:
//!
//! | `success` | `execution_time` | meaning |
//! |---|---|---|
//! | true | ≥ 0 (ns) | applied (0: baselined or resolved by hand) |
//! | false | [`UP_STARTED`] (-1) | the up script started and did not finish: it may be partly applied |
//! | false | [`DOWN_STARTED`] (-3) | the down script started and did not finish: it may be partly reverted |
//!
//! A row is never written ahead for a step that has not started: a run
//! killed between two migrations leaves no row for the next one, so the
//! next run simply applies it. (Releases before this one claimed the next
//! step's row ahead with `-1`; such a row cannot be told from a started one
//! and is treated as started — `schemagate resolve V --as undone` clears
//! it.) sqlx writes `-1` while its own migration runs, with the same meaning.
//! Any other value of a failed row is read as "up started".

/// One row of `_sqlx_migrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub version: i64,
    pub description: String,
    /// `false`: the migration failed part way (MariaDB DDL commits as it
    /// goes); [`Applied::state`] says which script.
    pub success: bool,
    pub checksum: Vec<u8>,
    pub execution_time_ns: i64,
}

/// `execution_time` of a row whose up script started and did not finish.
pub const UP_STARTED: i64 = -1;
/// `execution_time` of a row whose down script started and did not finish.
pub const DOWN_STARTED: i64 = -3;

/// What a history row says about its migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Applied,
    /// The up script started and did not finish (it may be partly applied).
    UpFailed,
    /// The down script started and did not finish (it may be partly reverted).
    DownFailed,
}

impl Applied {
    pub fn state(&self) -> State {
        match (self.success, self.execution_time_ns) {
            (true, _) => State::Applied,
            (false, DOWN_STARTED) => State::DownFailed,
            (false, _) => State::UpFailed,
        }
    }
}

pub const TABLE: &str = "_sqlx_migrations";

/// Where a run's bookkeeping goes, read from the session once when the run
/// starts (after `InitSql`): the database (MariaDB) or the schema
/// (PostgreSQL) the session is in. Every bookkeeping statement names it
/// explicitly, so a migration that changes the session's database or
/// `search_path` cannot send the history elsewhere; after each script the
/// engine checks that the session is still there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    /// `DATABASE()` (MariaDB) or `current_schema()` (PostgreSQL).
    pub name: String,
    /// The history table, qualified and quoted by the engine:
    /// `` `app`.`_sqlx_migrations` `` or `"public"."_sqlx_migrations"`.
    pub table: String,
    /// PostgreSQL: `search_path` as the run found it; a script that leaves
    /// it changed is rolled back.
    pub search_path: Option<String>,
    /// MariaDB: `@@max_allowed_packet`, the largest batch the server takes.
    pub max_packet: Option<u64>,
}

impl Home {
    /// The history table, qualified.
    pub fn table(&self) -> &str {
        &self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(success: bool, t: i64) -> Applied {
        Applied {
            version: 1,
            description: "a".into(),
            success,
            checksum: vec![],
            execution_time_ns: t,
        }
    }

    #[test]
    fn the_state_of_a_row_is_read_from_success_and_the_sentinel() {
        assert_eq!(row(true, 12).state(), State::Applied);
        assert_eq!(row(true, 0).state(), State::Applied);
        assert_eq!(row(false, -1).state(), State::UpFailed);
        assert_eq!(row(false, -3).state(), State::DownFailed);
        // Anything else that failed (another tool's row) is taken as the
        // up script having started: never cleared without a person.
        assert_eq!(row(false, 5).state(), State::UpFailed);
        assert_eq!(row(false, -2).state(), State::UpFailed);
    }
}
