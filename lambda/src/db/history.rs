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
//!
//! # What schemagate keeps beside it
//!
//! `_sqlx_migrations` stays sqlx's. Beside it, in the same database or
//! schema, [`KEPT_TABLE`] keeps what any release needs of each applied
//! migration, so that an older package (which lacks the newer files) can
//! still revert it and an instance can tell whether it may run on the
//! schema:
//!
//! | column | meaning |
//! |---|---|
//! | `version` | `BIGINT PRIMARY KEY`, = `_sqlx_migrations.version` |
//! | `name` | `0043_drop_legacy_email` |
//! | `down_sql` | the `.down.sql` as applied; `NULL`: irreversible (no down file) |
//! | `class` | `expand`, `contract`, `breaking`, `unknown` (the lint's class for the release before it) or `baseline` |
//! | `rules` | the gating rule ids, comma separated (`''` when none) |
//! | `since` | the schema version the run started at (0 = empty; after a baseline in the same run, the baselined version; 0 for a baselined row): the release that ran while it was applied |
//!
//! Its row is written in the same statement batch as the history row
//! ([`super::rows`]) and goes with it, so the two tables say the same
//! (both rows or neither). A history row without one predates the table
//! (the database was migrated by an older release, or by sqlx): its files
//! hold the down scripts, as before.

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
    /// Its row of [`KEPT_TABLE`]; `None` when the migration was applied
    /// before that table existed (or by another tool).
    pub kept: Option<Kept>,
}

/// What [`KEPT_TABLE`] keeps of an applied migration, as read with its
/// history row (the down script's text is read only when a revert needs
/// it: [`super::Engine::stored_downs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// `0043_drop_legacy_email`
    pub name: String,
    /// `down_sql` is not NULL: the database holds its down script.
    pub reversible: bool,
    /// `expand`, `contract`, `breaking`, `unknown`, `baseline`.
    pub class: String,
    /// The gating rule ids, comma separated.
    pub rules: String,
    /// The schema version its run started at.
    pub since: i64,
}

/// Down scripts kept for some versions: `(version, script)`, `None` for an
/// irreversible migration.
pub type StoredDowns = Vec<(i64, Option<String>)>;

/// The history as read: `_sqlx_migrations`, each row with what
/// [`KEPT_TABLE`] keeps of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub rows: Vec<Applied>,
    /// [`KEPT_TABLE`] exists (it is created when it does not).
    pub kept_table: bool,
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
/// Alembic's version table, read (never written) to adopt a database
/// Alembic made: [`crate::migrate::adopt`].
pub const ALEMBIC_TABLE: &str = "alembic_version";
/// What schemagate keeps beside [`TABLE`] (see the module's documentation).
pub const KEPT_TABLE: &str = "_schemagate_history";

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
    /// [`KEPT_TABLE`], qualified and quoted the same way.
    pub kept: String,
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

    /// [`KEPT_TABLE`], qualified.
    pub fn kept(&self) -> &str {
        &self.kept
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
            kept: None,
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
