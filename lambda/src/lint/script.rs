//! Linting migrations: the schema the running release sees is built by
//! reading the applied migrations' up scripts (without findings), then each
//! pending script is read on top of it, statement by statement ([`Cx`]).

use super::cx::Cx;
use super::finding::{Finding, MigrationLint};
use super::input::{Migration, Migrations};
use super::rules::Id;
use super::schema::Schema;
use super::split::{split, Intent};
use crate::dialect::Dialect;

/// Lint the up scripts of `pending` (versions from `set`), on top of the
/// schema made by every migration of `set` below the first of them.
pub fn lint(set: &impl Migrations, dialect: Dialect, pending: &[i64]) -> Vec<MigrationLint> {
    let all = set.migrations();
    let first = pending.iter().copied().min().unwrap_or(i64::MAX);
    let mut schema = Schema::new(dialect);
    for m in all
        .iter()
        .filter(|m| m.version < first && !pending.contains(&m.version))
    {
        lint_script(&mut schema, dialect, m.up.sql, false);
    }
    all.iter()
        .filter(|m| pending.contains(&m.version))
        .map(|m| lint_up(&mut schema, dialect, m))
        .collect()
}

/// Lint every migration of `set` on its own, on top of the ones before it
/// (as if each were the one release being deployed).
pub fn lint_each(set: &impl Migrations, dialect: Dialect) -> Vec<MigrationLint> {
    let mut schema = Schema::new(dialect);
    let mut out = Vec::new();
    for m in &set.migrations() {
        out.push(lint_up(&mut schema.clone(), dialect, m));
        lint_script(&mut schema, dialect, m.up.sql, false);
    }
    out
}

/// The versions of `set` above `since`.
pub fn after(set: &impl Migrations, since: i64) -> Vec<i64> {
    set.migrations()
        .iter()
        .map(|m| m.version)
        .filter(|&v| v > since)
        .collect()
}

/// Lint `m`'s up script as pending, on top of `schema`.
fn lint_up(schema: &mut Schema, dialect: Dialect, m: &Migration) -> MigrationLint {
    let (intent, statements, findings) = lint_script(schema, dialect, m.up.sql, true);
    let online = match intent {
        Intent::Online => declared(m.up.sql, dialect).ok(),
        _ => None,
    };
    MigrationLint {
        version: m.version,
        name: m.name.clone(),
        path: m.up.path.to_path_buf(),
        intent,
        statements,
        findings,
        online,
    }
}

/// The change a migration marked `online` declares, or why it cannot run
/// online.
fn declared(sql: &str, dialect: Dialect) -> Result<crate::online::Change, String> {
    if dialect == Dialect::Postgres {
        return Err("online changes are for MariaDB; on PostgreSQL, drain instead".into());
    }
    let p = split(sql, dialect).map_err(|e| e.message)?;
    let args = crate::online::marker::args(p.online.iter().map(String::as_str))?;
    let texts: Vec<&str> = p.pieces.iter().map(|x| x.text.as_ref()).collect();
    crate::online::change::read(&texts, args)
}

/// A pending migration marked `online`: its breaking findings are dropped
/// when schemagate can run the change online (both releases keep
/// serving), or it is refused with the reason.
fn judge_online(sql: &str, dialect: Dialect, findings: &mut Vec<Finding>) {
    match declared(sql, dialect) {
        Ok(_) => findings.retain(|f| !f.severity().gates()),
        Err(reason) => {
            let line = findings.iter().map(|f| f.line).min().unwrap_or(1);
            findings.push(Finding {
                rule: Id::Online.rule(),
                line,
                statement: 0,
                subject: reason,
            });
        }
    }
}

/// Lint one script; `pending` marks what it creates as new.
pub fn lint_script(
    schema: &mut Schema,
    dialect: Dialect,
    sql: &str,
    pending: bool,
) -> (Intent, usize, Vec<Finding>) {
    let pieces = match split(sql, dialect) {
        Ok(p) => p,
        Err(e) => {
            let f = Finding {
                rule: Id::Unparsed.rule(),
                line: e.line,
                statement: 0,
                subject: format!("the file cannot be read as SQL: {}", e.message),
            };
            return (Default::default(), 1, vec![f]);
        }
    };
    let mut cx = Cx::new(dialect, schema, pending, no_transaction(sql));
    if let Some((line, text)) = &pieces.bad_marker {
        cx.findings.push(Finding {
            rule: Id::Marker.rule(),
            line: *line,
            statement: 0,
            subject: format!("`{text}`"),
        });
    }
    if let Some(line) = pieces.placeholder {
        cx.findings.push(Finding {
            rule: Id::Placeholder.rule(),
            line,
            statement: 0,
            subject: "`-- schemagate: placeholder`".into(),
        });
    }
    for piece in &pieces.pieces {
        cx.piece(piece);
    }
    let n = pieces.pieces.len();
    let mut findings = cx.findings;
    if pending && pieces.intent == Intent::Online {
        judge_online(sql, dialect, &mut findings);
    }
    (pieces.intent, n, findings)
}

/// sqlx's opt-out of the migration's transaction: the file starts with
/// `-- no-transaction` (`sqlx-core` `migrate/source.rs`, the same test).
pub fn no_transaction(sql: &str) -> bool {
    sql.starts_with("-- no-transaction")
}

#[cfg(test)]
pub(in crate::lint) mod tests {
    use super::*;

    /// `(severity[id], line)` of each finding of `sql` on top of `before`.
    pub(in crate::lint) fn hits(dialect: Dialect, before: &str, sql: &str) -> Vec<(String, usize)> {
        let mut schema = Schema::new(dialect);
        lint_script(&mut schema, dialect, before, false);
        lint_script(&mut schema, dialect, sql, true)
            .2
            .iter()
            .map(|f| (format!("{}[{}]", f.severity().as_str(), f.rule.id), f.line))
            .collect()
    }

    pub(in crate::lint) fn ids(dialect: Dialect, before: &str, sql: &str) -> Vec<String> {
        hits(dialect, before, sql)
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    }

    pub(in crate::lint) const USERS_MY: &str = "CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR(100) NULL, plan VARCHAR(20) NOT NULL DEFAULT 'free', age INT NOT NULL);";
    pub(in crate::lint) const USERS_PG: &str = "CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR(100), plan TEXT NOT NULL DEFAULT 'free', age INT NOT NULL);";

    /// Migrations held in memory, as a folder gives them.
    pub(in crate::lint) struct Folder(pub(in crate::lint) Vec<(i64, &'static str)>);

    impl Migrations for Folder {
        fn migrations(&self) -> Vec<Migration<'_>> {
            self.0
                .iter()
                .map(|&(version, sql)| Migration {
                    version,
                    name: format!("{version}_m"),
                    up: crate::lint::Text {
                        path: std::path::Path::new("m.sql"),
                        sql,
                    },
                    down: None,
                })
                .collect()
        }
    }

    #[test]
    fn each_migration_on_its_own_matches_one_at_a_time() {
        let set = Folder(vec![
            (1, USERS_MY),
            (2, "ALTER TABLE users ADD COLUMN email VARCHAR(50) NULL;"),
            (3, "ALTER TABLE users DROP COLUMN email;"),
        ]);
        let each: Vec<_> = lint_each(&set, Dialect::MariaDb)
            .iter()
            .map(|l| l.class())
            .collect();
        let one: Vec<_> = set
            .0
            .iter()
            .map(|&(v, _)| lint(&set, Dialect::MariaDb, &[v])[0].class())
            .collect();
        assert_eq!(each, one);
        assert_eq!(
            lint(&set, Dialect::MariaDb, &after(&set, 1))
                .iter()
                .map(|l| l.class())
                .collect::<Vec<_>>(),
            vec![super::super::Class::Expand; 2]
        );
    }
}
