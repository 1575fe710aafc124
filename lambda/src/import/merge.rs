//! Merge points. schemagate writes one line of migrations, in the order
//! Alembic upgrades a fresh database; a database that ran two branches in
//! another order ends the same only when the branches are independent. Two
//! branches that change the same table are not (a column's position, an
//! index that one of them drops…): the import marks the merge for review,
//! and `--strict` stops there.

use std::collections::{BTreeMap, BTreeSet};

use sqlparser::ast::visit_relations;
use sqlparser::parser::Parser;

use super::choose::Chosen;
use super::driver::Revision;
use crate::dialect::Dialect;
use crate::lint::split::parser;

/// Two branches of a merge change the same table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    pub merge: String,
    pub table: String,
    pub first: String,
    pub second: String,
}

/// A statement schemagate cannot read could touch any table.
pub const UNREADABLE: &str = "(a statement schemagate cannot read)";

/// The first overlap of each merge among the chosen revisions.
pub fn overlaps(all: &[Revision], chosen: &[Chosen], dialect: Dialect) -> Vec<Overlap> {
    let parents: BTreeMap<&str, &[String]> = all
        .iter()
        .map(|r| (r.revision.as_str(), r.down.as_slice()))
        .collect();
    let tables: BTreeMap<&str, BTreeSet<String>> = chosen
        .iter()
        .map(|c| (c.rev.revision.as_str(), written(&c.up.statements, dialect)))
        .collect();
    let mut out = Vec::new();
    for m in chosen.iter().filter(|c| c.rev.down.len() > 1) {
        let branches: Vec<BTreeSet<&str>> =
            m.rev.down.iter().map(|p| ancestors(&parents, p)).collect();
        let common: BTreeSet<&str> = branches
            .iter()
            .skip(1)
            .fold(branches[0].clone(), |acc, b| &acc & b);
        let own: Vec<BTreeSet<&str>> = branches.iter().map(|b| b - &common).collect();
        if let Some(o) = first_overlap(&m.rev.revision, &own, &tables) {
            out.push(o);
        }
    }
    out
}

fn first_overlap(
    merge: &str,
    own: &[BTreeSet<&str>],
    tables: &BTreeMap<&str, BTreeSet<String>>,
) -> Option<Overlap> {
    let none = BTreeSet::new();
    for (i, a_branch) in own.iter().enumerate() {
        for b_branch in &own[i + 1..] {
            for a in a_branch {
                for b in b_branch {
                    let (ta, tb) = (
                        tables.get(a).unwrap_or(&none),
                        tables.get(b).unwrap_or(&none),
                    );
                    let any = |t: &BTreeSet<String>, other: &BTreeSet<String>| {
                        t.contains(UNREADABLE) && !other.is_empty()
                    };
                    let table =
                        ta.intersection(tb).next().cloned().or_else(|| {
                            (any(ta, tb) || any(tb, ta)).then(|| UNREADABLE.to_string())
                        });
                    if let Some(table) = table {
                        return Some(Overlap {
                            merge: merge.into(),
                            table,
                            first: a.to_string(),
                            second: b.to_string(),
                        });
                    }
                }
            }
        }
    }
    None
}

fn ancestors<'a>(parents: &BTreeMap<&'a str, &'a [String]>, from: &'a str) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from];
    while let Some(r) = todo.pop() {
        if seen.insert(r) {
            if let Some(ps) = parents.get(r) {
                todo.extend(ps.iter().map(String::as_str));
            }
        }
    }
    seen
}

/// The tables the statements name (lowercase, without schema), or
/// [`UNREADABLE`] for a statement sqlparser cannot read.
pub fn written(statements: &[String], dialect: Dialect) -> BTreeSet<String> {
    let d = parser(dialect);
    let mut out = BTreeSet::new();
    for s in statements {
        match Parser::parse_sql(d.as_ref(), s) {
            Ok(parsed) => {
                let _ = visit_relations(&parsed, |name| {
                    if let Some(last) = name.0.last() {
                        out.insert(last.to_string().trim_matches(['`', '"']).to_lowercase());
                    }
                    std::ops::ControlFlow::<()>::Continue(())
                });
            }
            Err(_) => {
                out.insert(UNREADABLE.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::choose::{Rendering, Script};
    use crate::import::driver::{Function, Source};

    fn chosen(rev: &str, down: &[&str], sql: &str) -> Chosen {
        let f = || Function {
            defined: true,
            empty: sql.is_empty(),
            python: None,
        };
        let script = Script {
            rendering: Rendering::Offline,
            statements: if sql.is_empty() {
                vec![]
            } else {
                vec![sql.into()]
            },
            depends_on_data: None,
            python: None,
            autocommit: false,
        };
        Chosen {
            rev: Revision {
                revision: rev.into(),
                down: down.iter().map(|d| d.to_string()).collect(),
                message: String::new(),
                path: "v.py".into(),
                before_since: false,
                source: Source {
                    upgrade: f(),
                    downgrade: f(),
                },
                upgrade: None,
                downgrade: None,
            },
            up: script.clone(),
            down: Some(script),
        }
    }

    fn history(b2: &str) -> Vec<Chosen> {
        vec![
            chosen("base", &[], "CREATE TABLE account (id INT)"),
            chosen(
                "b1",
                &["base"],
                "ALTER TABLE account ADD COLUMN locale VARCHAR(10)",
            ),
            chosen("b2", &["base"], b2),
            chosen("m", &["b1", "b2"], ""),
        ]
    }

    #[test]
    fn branches_of_a_merge_that_change_the_same_table_overlap() {
        let h = history("ALTER TABLE account ADD COLUMN nickname VARCHAR(10)");
        let all: Vec<Revision> = h.iter().map(|c| c.rev.clone()).collect();
        assert_eq!(
            overlaps(&all, &h, Dialect::MariaDb),
            vec![Overlap {
                merge: "m".into(),
                table: "account".into(),
                first: "b1".into(),
                second: "b2".into(),
            }]
        );
        let h = history("CREATE TABLE audit_log (id INT)");
        let all: Vec<Revision> = h.iter().map(|c| c.rev.clone()).collect();
        assert!(overlaps(&all, &h, Dialect::MariaDb).is_empty());
    }

    #[test]
    fn the_tables_a_statement_changes_are_read_from_its_tree() {
        let t = written(
            &[
                "CREATE TABLE audit_log (id INT)".into(),
                "CREATE INDEX ix ON `Account` (email)".into(),
                "ALTER TABLE plan ADD COLUMN x INT".into(),
                "UPDATE public.subscription SET a = 1".into(),
            ],
            Dialect::MariaDb,
        );
        let want: BTreeSet<String> = ["account", "audit_log", "plan", "subscription"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(t, want);
        assert!(written(&["FROB THE WIDGETS".into()], Dialect::Postgres).contains(UNREADABLE));
    }
}
