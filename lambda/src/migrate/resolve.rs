//! `schemagate resolve V --as applied|undone`: how a person resolved a
//! migration recorded as failed — decided against the history and the
//! files ([`decide`], pure), then recorded under the lock ([`resolve`]).

use super::apply::Options;
use super::error::Error;
use super::history::Home;
use super::lock;
use super::plan::{Direction, PlanError};
use super::session::prepare;
use super::source::MigrationSet;
use crate::db::rows::Row;
use crate::db::Conn;
use crate::migrate::history::{Applied, State};

/// `schemagate resolve V --as …`: what the person says the database holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolveAs {
    /// All of the migration is in the database (finished by hand, or the
    /// revert undone by hand): record it as applied.
    Applied,
    /// None of it is (undone by hand, or the revert finished by hand):
    /// delete its row; `up` runs it again from its first statement.
    Undone,
}

/// The decision [`resolve`] made, for the engine to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub version: i64,
    /// `0002_add_email`, or the history's description when the file is gone.
    pub name: String,
    /// Which script had failed: [`Direction::Up`] or [`Direction::Down`].
    pub failed: Direction,
    pub how: ResolveAs,
    /// For [`ResolveAs::Applied`]: the current file's description and
    /// checksum, recorded in the row.
    pub record: Option<(String, Vec<u8>)>,
    /// The up script's file name, for the message.
    pub file: Option<String>,
}

/// Decide `schemagate resolve` (pure): only a row recorded as failed can be
/// resolved; `applied` needs the file (its checksum is recorded).
pub fn decide(
    set: &MigrationSet,
    applied: &[Applied],
    version: i64,
    how: ResolveAs,
) -> Result<Resolution, PlanError> {
    let file = set.get(version);
    let name = file.map(|f| f.name());
    let row = applied.iter().find(|a| a.version == version);
    let failed = match row.map(Applied::state) {
        Some(State::UpFailed) => Direction::Up,
        Some(State::DownFailed) => Direction::Down,
        Some(State::Applied) => {
            return Err(PlanError::NotFailed {
                version,
                name,
                state: "applied (recorded as successful)".into(),
            })
        }
        None => {
            return Err(PlanError::NotFailed {
                version,
                name,
                state: "not in the history (not applied, or reverted)".into(),
            })
        }
    };
    let row = row.expect("found above");
    let record = match (how, file) {
        (ResolveAs::Applied, Some(f)) => Some((f.description.clone(), f.up.checksum.clone())),
        // A revert put back by hand: the row as it was applied (an older
        // package reverts with the down script the database keeps, and
        // does not hold the file).
        (ResolveAs::Applied, None) if failed == Direction::Down => {
            Some((row.description.clone(), row.checksum.clone()))
        }
        (ResolveAs::Applied, None) => return Err(PlanError::ResolveWithoutFile { version }),
        (ResolveAs::Undone, _) => None,
    };
    Ok(Resolution {
        version,
        name: name.unwrap_or_else(|| format!("{version} {}", row.description)),
        failed,
        how,
        record,
        file: file.map(|f| f.up.file_name()),
    })
}

/// Refused (nothing changed) for a version that is not recorded as failed.
pub async fn resolve(
    conn: &mut Conn,
    set: &MigrationSet,
    version: i64,
    how: ResolveAs,
    opts: &Options,
) -> Result<Resolution, Error> {
    let home = prepare(conn, opts).await?;
    let lock = lock::id(conn.database());
    lock::acquire(conn, &lock, opts.lock_timeout).await?;
    let result = resolve_locked(conn, &home, set, version, how).await;
    let released = lock::release(conn, &lock).await;
    let r = result?;
    released?;
    Ok(r)
}

async fn resolve_locked(
    conn: &mut Conn,
    home: &Home,
    set: &MigrationSet,
    version: i64,
    how: ResolveAs,
) -> Result<Resolution, Error> {
    let engine = conn.engine();
    let history = engine.history(home).await?.unwrap_or_default().rows;
    let r = decide(set, &history, version, how)?;
    let row = r.record.as_ref().map(|(description, checksum)| Row {
        version,
        description,
        checksum,
    });
    if engine.resolve(home, version, row).await? != 1 {
        return Err(Error::HistoryChanged {
            version,
            detail: "its failed row was gone when schemagate recorded the resolution".into(),
        });
    }
    tracing::info!(version, how = ?how, failed = ?r.failed, "resolved a failed migration");
    Ok(r)
}
