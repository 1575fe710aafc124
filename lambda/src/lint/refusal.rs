//! Statements that must never run under schemagate, whatever the deploy
//! allows: they change the database, transaction or session the run
//! records its work in, so the history could say something untrue (another
//! database changed, a failure reported as "nothing applied" while part of
//! it stayed). The engine asks [`refusals`] right after planning, before
//! anything runs, for the up scripts of the planned up steps and the down
//! scripts of the planned down steps.

use std::fmt;
use std::path::PathBuf;

use super::finding::MigrationLint;
use super::input::{Migrations, Planned, Side};
use super::rules::{Rule, Severity};
use super::schema::Schema;
use super::script::lint_script;
use crate::dialect::Dialect;

/// One refused statement.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// `0002_use_other`
    pub migration: String,
    /// The script, as the migrations folder names it.
    pub path: PathBuf,
    pub line: usize,
    pub rule: &'static Rule,
    pub subject: String,
}

/// Migrations refused before anything ran.
#[derive(Debug, Clone, thiserror::Error)]
pub struct Refusals(pub Vec<Refusal>);

impl Refusals {
    /// The refused findings of `lints`.
    pub fn of(lints: &[&MigrationLint]) -> Refusals {
        Refusals(
            lints
                .iter()
                .flat_map(|l| {
                    l.refused().map(|f| Refusal {
                        migration: l.name.clone(),
                        path: l.path.clone(),
                        line: f.line,
                        rule: f.rule,
                        subject: f.subject.clone(),
                    })
                })
                .collect(),
        )
    }
}

impl fmt::Display for Refusals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.0.iter().map(|r| r.migration.as_str()).collect();
        names.dedup();
        write!(
            f,
            "refused before running anything: {} `{}` cannot run under schemagate: ",
            if names.len() == 1 {
                "migration"
            } else {
                "migrations"
            },
            names.join("`, `")
        )?;
        for (i, r) in self.0.iter().take(3).enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(
                f,
                "{}:{}: refused[{}]: {} — {}; fix: {}",
                r.path.display(),
                r.line,
                r.rule.id,
                r.subject,
                r.rule.reason,
                r.rule.fix
            )?;
        }
        if self.0.len() > 3 {
            write!(f, "; and {} more", self.0.len() - 3)?;
        }
        f.write_str(". No marker, drain target or AllowBreaking lets such a statement run; nothing was applied")
    }
}

/// The refused statements of the scripts `steps` would run. Pure: reads
/// only the files.
pub fn refusals(
    set: &impl Migrations,
    dialect: Dialect,
    steps: &[impl Planned],
) -> Result<(), Refusals> {
    let all = set.migrations();
    let mut found = Vec::new();
    for step in steps {
        let Some(m) = all.iter().find(|m| m.version == step.version()) else {
            continue;
        };
        let script = match step.side() {
            Some(Side::Up) => m.up,
            Some(Side::Down) => match m.down {
                Some(d) => d,
                None => continue,
            },
            None => continue,
        };
        // Refusals do not depend on the schema: an empty one will do.
        let mut schema = Schema::new(dialect);
        let (_, _, findings) = lint_script(&mut schema, dialect, script.sql, true);
        found.extend(
            findings
                .into_iter()
                .filter(|f| f.severity() == Severity::Refused)
                .map(|f| Refusal {
                    migration: m.name.clone(),
                    path: script.path.to_path_buf(),
                    line: f.line,
                    rule: f.rule,
                    subject: f.subject,
                }),
        );
    }
    if found.is_empty() {
        Ok(())
    } else {
        Err(Refusals(found))
    }
}
