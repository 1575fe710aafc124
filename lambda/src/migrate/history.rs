//! The history table, compatible with sqlx's `_sqlx_migrations`, so a
//! project that used `sqlx migrate run` switches without a baseline.
//!
//! # What a row says
//!
//! The columns are sqlx's and sqlx reads only `success` (a `false` row is
//! "dirty") and `checksum`. schemagate writes a step's row in the same round
//! trip as its script, as the batch's first statement (see
//! [`crate::db::sql`]), and says in `execution_time` which script had
//! *started* when a row has `success = false`:
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

use crate::db::{Conn, Kind};
use crate::error::{DbError, Error};

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
    pub kind: Kind,
    /// `DATABASE()` (MariaDB) or `current_schema()` (PostgreSQL).
    pub name: String,
    /// PostgreSQL: `search_path` as the run found it; a script that leaves
    /// it changed is rolled back.
    pub search_path: Option<String>,
    /// MariaDB: `@@max_allowed_packet`, the largest batch the server takes.
    pub max_packet: Option<u64>,
}

impl Home {
    /// Read the session's database (or schema and `search_path`) and, on
    /// MariaDB, `max_allowed_packet`: one round trip.
    pub async fn read(conn: &mut Conn) -> Result<Home, Error> {
        let kind = conn.kind();
        let sql = match kind {
            Kind::MariaDb => "SELECT DATABASE(), CAST(@@max_allowed_packet AS CHAR)",
            Kind::Postgres => "SELECT current_schema()::text, current_setting('search_path')",
        };
        let row = conn.row_text(sql).await?;
        let first = row.first().cloned().flatten();
        let second = row.get(1).cloned().flatten();
        let Some(name) = first.filter(|n| !n.is_empty()) else {
            return Err(Error::Db(DbError::Url(match kind {
                Kind::MariaDb => "the session has no database selected: name the database in the URL (`mysql://user@host:3306/db`), the secret's `dbname` or `--database-name`".into(),
                Kind::Postgres => "the session's `search_path` names no schema that exists: create the schema or set `search_path` with `--init-sql`/`InitSql`".into(),
            })));
        };
        Ok(match kind {
            Kind::MariaDb => Home {
                kind,
                name,
                search_path: None,
                max_packet: second.and_then(|s| s.parse().ok()),
            },
            Kind::Postgres => Home {
                kind,
                name,
                search_path: second,
                max_packet: None,
            },
        })
    }

    /// The history table, qualified: `` `app`.`_sqlx_migrations` `` or
    /// `"public"."_sqlx_migrations"`.
    pub fn table(&self) -> String {
        format!(
            "{}.{}",
            quote(self.kind, &self.name),
            quote(self.kind, TABLE)
        )
    }
}

/// An identifier quoted for the engine (the quote character doubled inside).
pub fn quote(kind: Kind, name: &str) -> String {
    match kind {
        Kind::MariaDb => format!("`{}`", name.replace('`', "``")),
        Kind::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

/// The session's home and its history (`None`: no history table yet).
pub async fn read(conn: &mut Conn) -> Result<(Home, Option<Vec<Applied>>), Error> {
    let home = Home::read(conn).await?;
    let history = conn.history(&home.table()).await?;
    Ok((home, history))
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

    #[test]
    fn names_are_qualified_and_quoted() {
        let home = |kind, name: &str| Home {
            kind,
            name: name.into(),
            search_path: None,
            max_packet: None,
        };
        assert_eq!(
            home(Kind::MariaDb, "app").table(),
            "`app`.`_sqlx_migrations`"
        );
        assert_eq!(
            home(Kind::MariaDb, "a`b").table(),
            "`a``b`.`_sqlx_migrations`"
        );
        assert_eq!(
            home(Kind::Postgres, "pu\"b").table(),
            "\"pu\"\"b\".\"_sqlx_migrations\""
        );
    }
}
