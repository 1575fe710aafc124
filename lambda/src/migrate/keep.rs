//! What a run keeps beside the history (`_schemagate_history`: each
//! applied migration's down script and its class for the release before
//! it) and what it takes back from there: the down scripts of migrations
//! whose files the folder lacks, so an older release's package reverts the
//! newer migrations it never had.
//!
//! The pending up migrations are linted once per run ([`lint`]): the same
//! lint says what is refused, is handed to the run's gate, and gives the
//! class each new row keeps.

use std::path::PathBuf;

use super::error::Error;
use super::history::{Home, KEPT_TABLE};
use super::plan::{Direction, Plan, Step};
use super::source::{MigrationFile, MigrationSet, Script};
use crate::db::rows::{Entry, Keep, Row};
use crate::db::Conn;
use crate::dialect::Dialect;
use crate::lint::{self, MigrationLint, Refusals};

/// A down script the database keeps for a migration the folder lacks.
#[derive(Debug, Clone)]
pub struct Stored {
    pub version: i64,
    /// `0005_seed_plans`
    pub name: String,
    /// Named `0005_seed_plans.down.sql (kept in _schemagate_history)`.
    pub script: Script,
}

/// The scripts a run works from: the folder's, and the stored downs.
pub struct Scripts<'a> {
    pub set: &'a MigrationSet,
    stored: Vec<Stored>,
}

impl<'a> Scripts<'a> {
    pub fn new(set: &'a MigrationSet, stored: Vec<Stored>) -> Self {
        Scripts { set, stored }
    }

    /// The script a planned step runs (the planner made sure it exists).
    pub fn script(&self, step: &Step) -> &Script {
        if step.stored_down {
            return &self
                .stored
                .iter()
                .find(|s| s.version == step.version)
                .expect("fetched for the plan")
                .script;
        }
        let file = self.set.get(step.version).expect("planned from the set");
        match step.direction {
            Direction::Down => file.down.as_ref().expect("planned downs are reversible"),
            _ => &file.up,
        }
    }
}

/// What the lint reads: the folder, and the stored down scripts as
/// migrations with their down only (so a stored down script is refused
/// like a file's).
impl lint::Migrations for Scripts<'_> {
    fn migrations(&self) -> Vec<lint::Migration<'_>> {
        let mut all = self.set.migrations();
        all.extend(self.stored.iter().map(|s| {
            let text = lint::Text {
                path: &s.script.path,
                sql: &s.script.sql,
            };
            lint::Migration {
                version: s.version,
                name: s.name.clone(),
                up: lint::Text {
                    path: text.path,
                    sql: "",
                },
                down: Some(text),
            }
        }));
        all
    }
}

/// The down scripts the plan takes from the database, in one query (none
/// when every planned script is in the folder).
pub async fn stored_downs(conn: &mut Conn, home: &Home, plan: &Plan) -> Result<Vec<Stored>, Error> {
    let wanted: Vec<&Step> = plan.steps.iter().filter(|s| s.stored_down).collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let versions: Vec<i64> = wanted.iter().map(|s| s.version).collect();
    let found = conn.engine().stored_downs(home, &versions).await?;
    wanted
        .into_iter()
        .map(|s| {
            let sql = found
                .iter()
                .find(|(v, _)| *v == s.version)
                .and_then(|(_, sql)| sql.clone())
                .ok_or_else(|| Error::HistoryChanged {
                    version: s.version,
                    detail: format!(
                        "its down script in `{KEPT_TABLE}` was gone when the revert read it"
                    ),
                })?;
            Ok(Stored {
                version: s.version,
                name: s.name.clone(),
                script: Script {
                    path: PathBuf::from(format!("{}.down.sql (kept in {KEPT_TABLE})", s.name)),
                    // sqlx's opt-out, read as `source.rs` reads a file.
                    no_tx: sql.starts_with("-- no-transaction"),
                    sql,
                    checksum: Vec::new(),
                },
            })
        })
        .collect()
}

/// The lint of the plan's pending ups, once, on top of the schema the
/// applied migrations made; refused when a planned script (up, or down
/// from the folder or the database) holds a statement that must never run.
pub fn lint(
    scripts: &Scripts<'_>,
    dialect: Dialect,
    plan: &Plan,
) -> Result<Vec<MigrationLint>, Refusals> {
    let ups: Vec<i64> = plan
        .steps
        .iter()
        .filter(|s| s.direction == Direction::Up)
        .map(|s| s.version)
        .collect();
    if ups.is_empty() {
        // Downs and a baseline: only the down scripts can be refused.
        lint::refusals(scripts, dialect, &plan.steps)?;
        return Ok(Vec::new());
    }
    let lints = lint::lint(scripts.set, dialect, &ups);
    let refused: Vec<&MigrationLint> = lints
        .iter()
        .filter(|l| l.refused().next().is_some())
        .collect();
    if !refused.is_empty() {
        return Err(Refusals::of(&refused));
    }
    Ok(lints)
}

/// The gating rule ids of a lint, each once, comma separated.
pub fn rule_ids(l: &MigrationLint) -> String {
    let mut ids: Vec<&str> = Vec::new();
    for f in l.gating() {
        let id = f.rule.id.as_str();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids.join(",")
}

fn row(file: &MigrationFile) -> Row<'_> {
    Row {
        version: file.version,
        description: &file.description,
        checksum: &file.up.checksum,
    }
}

fn down(file: &MigrationFile) -> Option<&str> {
    file.down.as_ref().map(|d| d.sql.as_str())
}

/// A migration being applied, in a run that started at `since`: its down
/// script and its class for the release that ran at `since`.
pub fn applying<'a>(
    file: &'a MigrationFile,
    lint: Option<&MigrationLint>,
    since: i64,
) -> Entry<'a> {
    let (class, rules) = match lint {
        Some(l) => (l.class().as_str(), rule_ids(l)),
        None => ("unknown", String::new()),
    };
    Entry {
        row: row(file),
        keep: Keep {
            name: file.name(),
            down: down(file),
            class,
            rules,
            since,
        },
    }
}

/// A migration recorded by a baseline: the database had it already.
pub fn baselined(file: &MigrationFile) -> Entry<'_> {
    Entry {
        row: row(file),
        keep: Keep {
            name: file.name(),
            down: down(file),
            class: "baseline",
            rules: String::new(),
            since: 0,
        },
    }
}
