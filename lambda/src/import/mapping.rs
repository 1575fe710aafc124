//! Which Alembic revision each imported migration came from, read back from
//! the leading comments its up script carries:
//!
//! ```text
//! -- alembic: 1975ea83b712 add account table
//! -- alembic revises: (base)
//! ```
//!
//! `--since` finds the revisions already imported with it, and a database
//! whose `alembic_version` holds a revision can be mapped to the version
//! that revision was imported as (its `revises` lines give the graph, so
//! a database at several heads maps too).

use crate::migrate::MigrationSet;

/// The comment that names the revision: `-- alembic: <id> <message>`.
pub const ORIGIN: &str = "-- alembic:";
/// The comment that names its down revisions: `-- alembic revises: a, b`
/// or `(base)`.
pub const REVISES: &str = "-- alembic revises:";

/// An imported migration's Alembic revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub version: i64,
    /// `0001_1975ea83b712_add_account_table`
    pub name: String,
    pub revision: String,
    /// Its down revisions; empty for a base.
    pub revises: Vec<String>,
}

/// The origins of the migrations of `set` that carry one, in version order.
pub fn origins(set: &MigrationSet) -> Vec<Origin> {
    set.files
        .iter()
        .filter_map(|m| {
            let (revision, revises) = origin(&m.up.sql)?;
            Some(Origin {
                version: m.version,
                name: m.name(),
                revision,
                revises,
            })
        })
        .collect()
}

/// `(revision, revises)` from the comments before a script's first
/// statement.
pub fn origin(sql: &str) -> Option<(String, Vec<String>)> {
    let mut revision = None;
    let mut revises = Vec::new();
    for line in sql.lines().map(str::trim) {
        if line.is_empty() {
            continue;
        }
        if !line.starts_with("--") {
            break;
        }
        if let Some(rest) = line.strip_prefix(ORIGIN) {
            revision = rest.split_whitespace().next().map(String::from);
        } else if let Some(rest) = line.strip_prefix(REVISES) {
            revises = rest
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty() && *r != "(base)")
                .map(String::from)
                .collect();
        }
    }
    Some((revision?, revises))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leading_comments_name_the_revision_and_its_parents() {
        let sql = "-- alembic: a05c7f3a9d49 merge audit log and locale\n-- alembic revises: 8f3a5d1e7b27, 9a4b6e2f8c38\n-- imported\n\nSELECT 1;\n-- alembic: nope";
        assert_eq!(
            origin(sql),
            Some((
                "a05c7f3a9d49".into(),
                vec!["8f3a5d1e7b27".into(), "9a4b6e2f8c38".into()]
            ))
        );
        assert_eq!(
            origin("-- alembic: 1975ea83b712 x\n-- alembic revises: (base)\n"),
            Some(("1975ea83b712".into(), vec![]))
        );
        assert_eq!(origin("CREATE TABLE a (id INT);\n-- alembic: x"), None);
    }
}
