//! Where a database with no history starts: `BaselineVersion`, or — for a
//! database Alembic made — the imported migration its `alembic_version`
//! maps to.
//!
//! A database without schemagate's history tables that has an
//! `alembic_version` table is adopted when the folder's migrations carry Alembic revisions
//! (the `-- alembic:` comments `schemagate import alembic` writes,
//! [`crate::import::mapping`]): the revisions it holds, with every revision
//! below them (their `-- alembic revises:` lines), must be exactly the
//! imported migrations up to one version, which becomes the baseline.
//! Anything else is refused before a statement runs, saying why:
//! - a revision no migration carries (the folder is older than the
//!   database: import the newer revisions with `--since`);
//! - a revision below the database's heads that it does not have (a branch
//!   it never ran, which a baseline cannot skip);
//! - a `BaselineVersion` that disagrees with it;
//! - adoption turned off (`--no-adopt-alembic`, `AdoptAlembic: false`), or
//!   a folder without Alembic revisions, and no baseline given: the first
//!   migration would fail on what Alembic made (`--baseline 0` says "run
//!   them all" deliberately).
//!
//! An empty `alembic_version` (Alembic at `base`) holds nothing: every
//! migration runs. `alembic_version` is read, never written or dropped.
//! Deciding ([`decide`]) is pure; [`start`] reads the table first.

use std::collections::BTreeSet;

use super::error::Error;
use super::history::{Applied, Home};
use super::plan::{Adopted, PlanError};
use super::source::MigrationSet;
use crate::db::Conn;
use crate::import::mapping::{origins, Origin};

/// How a database with no history starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// `BaselineVersion` / `--baseline`: versions up to it are recorded as
    /// applied without running.
    pub baseline: Option<i64>,
    /// Adopt a database Alembic made from its `alembic_version` (on unless
    /// `--no-adopt-alembic` / `AdoptAlembic: false`).
    pub adopt_alembic: bool,
}

impl Default for Start {
    fn default() -> Self {
        Start {
            baseline: None,
            adopt_alembic: true,
        }
    }
}

impl Start {
    /// A start with this baseline, adopting as by default.
    pub fn baseline(baseline: Option<i64>) -> Self {
        Start {
            baseline,
            ..Start::default()
        }
    }
}

/// The baseline a plan uses, and the adoption it comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Begin {
    pub baseline: Option<i64>,
    pub adopted: Option<Adopted>,
}

/// Read `alembic_version` when the database has no schemagate history
/// tables, and decide. `history`: `None` when there are none. Tables that
/// are there but empty (schemagate reverted everything, `down 0`) are a
/// history too: what Alembic recorded is no longer what the database holds,
/// so it is not adopted again.
pub async fn start(
    conn: &mut Conn,
    home: &Home,
    set: &MigrationSet,
    history: Option<&[Applied]>,
    start: Start,
) -> Result<Begin, Error> {
    let plain = Begin {
        baseline: start.baseline,
        adopted: None,
    };
    if history.is_some() {
        return Ok(plain);
    }
    let revisions = conn.engine().alembic_version(home).await?;
    Ok(decide(set, revisions.as_deref(), start)?)
}

/// What an empty history starts from, given the revisions of the
/// database's `alembic_version` (`None`: no such table).
pub fn decide(
    set: &MigrationSet,
    revisions: Option<&[String]>,
    start: Start,
) -> Result<Begin, PlanError> {
    let plain = Begin {
        baseline: start.baseline,
        adopted: None,
    };
    let revisions = match revisions {
        Some(r) if !r.is_empty() => r,
        _ => return Ok(plain),
    };
    let imported = origins(set);
    let why = match (start.adopt_alembic, imported.is_empty()) {
        (true, false) => None,
        (false, _) => Some("adoption is off (`--no-adopt-alembic` / `AdoptAlembic: false`)"),
        (true, true) => Some("no migration in the folder carries an Alembic revision (the `-- alembic:` comment `schemagate import alembic` writes) to map it to"),
    };
    if let Some(why) = why {
        return match start.baseline {
            Some(_) => Ok(plain),
            None => Err(PlanError::NotAdopted {
                revisions: revisions.to_vec(),
                why: why.into(),
                fix: "give the version the database is at as the baseline (`--baseline V` / `BaselineVersion`), or `0` to run every migration from the first".into(),
            }),
        };
    }
    let adopted = adopted(&imported, revisions)?;
    match start.baseline {
        Some(b) if b != adopted.version => Err(PlanError::BaselineDisagrees {
            baseline: b,
            revisions: adopted.revisions,
            version: adopted.version,
            name: adopted.name,
        }),
        _ => Ok(Begin {
            baseline: Some(adopted.version),
            adopted: Some(adopted),
        }),
    }
}

/// The imported migration the revisions map to: the highest of theirs,
/// when the revisions below them are exactly the imported ones up to it.
fn adopted(imported: &[Origin], revisions: &[String]) -> Result<Adopted, PlanError> {
    let find = |r: &str| imported.iter().find(|o| o.revision == r);
    let mut heads = Vec::new();
    for r in revisions {
        let Some(o) = find(r) else {
            return Err(PlanError::UnknownAlembicRevision {
                revision: r.clone(),
                last: imported
                    .last()
                    .map(|o| (o.revision.clone(), o.name.clone())),
            });
        };
        heads.push(o);
    }
    let there = below(imported, &heads);
    let top = heads.iter().max_by_key(|o| o.version).expect("not empty");
    if let Some(gap) = imported
        .iter()
        .find(|o| o.version <= top.version && !there.contains(o.revision.as_str()))
    {
        return Err(PlanError::AlembicGap {
            revisions: revisions.to_vec(),
            revision: gap.revision.clone(),
            name: gap.name.clone(),
        });
    }
    Ok(Adopted {
        revisions: revisions.to_vec(),
        version: top.version,
        name: top.name.clone(),
    })
}

/// The revisions `heads` and every one below them (through `revises`).
fn below<'a>(imported: &'a [Origin], heads: &[&'a Origin]) -> BTreeSet<&'a str> {
    let mut there = BTreeSet::new();
    let mut todo: Vec<&str> = heads.iter().map(|o| o.revision.as_str()).collect();
    while let Some(r) = todo.pop() {
        if !there.insert(r) {
            continue;
        }
        if let Some(o) = imported.iter().find(|o| o.revision == r) {
            todo.extend(o.revises.iter().map(String::as_str));
        }
    }
    there
}

#[cfg(test)]
mod tests;
