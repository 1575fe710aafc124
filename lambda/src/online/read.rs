//! Reading what the planner decides from: the table's [`Facts`] from
//! `information_schema`, and whether the server lets this user create
//! triggers ([`triggers_allowed`]).

use crate::db::{Conn, DbError};

use super::facts::{ColumnFact, Facts, IndexFact};
use super::state::text;

type Rows = Vec<Vec<Option<String>>>;

async fn rows(conn: &mut Conn, what: &str, sql: &str) -> Result<Rows, DbError> {
    conn.engine()
        .read_text(sql)
        .await
        .map_err(|e| DbError::query(format!("reading {what}"), e.source))
}

fn cell(r: &[Option<String>], i: usize) -> String {
    r.get(i).cloned().flatten().unwrap_or_default()
}

/// `WHERE` of the run's database and `table` in a view of
/// `information_schema` whose columns are named `schema` and `name`.
fn here(schema: &str, name: &str, table: &str) -> String {
    format!("{schema} = DATABASE() AND {name} = {}", text(table))
}

/// The facts of `table`; `to`: the new name of a renamed table.
pub async fn facts(conn: &mut Conn, table: &str, to: Option<&str>) -> Result<Facts, DbError> {
    let kind = |t: &str| {
        format!(
            "SELECT TABLE_TYPE FROM information_schema.TABLES WHERE {}",
            here("TABLE_SCHEMA", "TABLE_NAME", t)
        )
    };
    let mut f = Facts {
        table: table.to_string(),
        kind: rows(conn, "the table", &kind(table))
            .await?
            .first()
            .map(|r| cell(r, 0)),
        ..Facts::default()
    };
    if let Some(to) = to {
        f.target_kind = rows(conn, "the new name", &kind(to))
            .await?
            .first()
            .map(|r| cell(r, 0));
    }
    columns(conn, &mut f).await?;
    indexes(conn, &mut f).await?;
    uses(conn, &mut f).await?;
    Ok(f)
}

async fn columns(conn: &mut Conn, f: &mut Facts) -> Result<(), DbError> {
    let sql = format!(
        "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, CHARACTER_SET_NAME, COLLATION_NAME, GENERATION_EXPRESSION FROM information_schema.COLUMNS WHERE {} ORDER BY ORDINAL_POSITION",
        here("TABLE_SCHEMA", "TABLE_NAME", &f.table)
    );
    for r in rows(conn, "the columns", &sql).await? {
        let extra = cell(&r, 4).to_ascii_lowercase();
        let generation = r.get(7).cloned().flatten();
        if let Some(g) = &generation {
            f.generation.push((cell(&r, 0), g.clone()));
        }
        f.columns.push(ColumnFact {
            name: cell(&r, 0),
            column_type: cell(&r, 1),
            nullable: cell(&r, 2) == "YES",
            default: r.get(3).cloned().flatten(),
            generated: extra.contains("auto_increment")
                || extra.contains("generated")
                || generation.is_some(),
            charset: r.get(5).cloned().flatten(),
            collation: r.get(6).cloned().flatten(),
        });
    }
    Ok(())
}

async fn indexes(conn: &mut Conn, f: &mut Facts) -> Result<(), DbError> {
    let sql = format!(
        "SELECT INDEX_NAME, CAST(NON_UNIQUE AS CHAR), COLUMN_NAME, CAST(SUB_PART AS CHAR) FROM information_schema.STATISTICS WHERE {} ORDER BY INDEX_NAME, SEQ_IN_INDEX",
        here("TABLE_SCHEMA", "TABLE_NAME", &f.table)
    );
    for r in rows(conn, "the indexes", &sql).await? {
        let (name, column) = (cell(&r, 0), cell(&r, 2));
        let part = (
            column,
            r.get(3).cloned().flatten().and_then(|s| s.parse().ok()),
        );
        if name == "PRIMARY" {
            f.primary_key.push(part.0);
            continue;
        }
        match f.indexes.iter_mut().find(|i| i.name == name) {
            Some(i) => i.columns.push(part),
            None => f.indexes.push(IndexFact {
                name,
                unique: cell(&r, 1) == "0",
                columns: vec![part],
            }),
        }
    }
    Ok(())
}

/// Foreign keys from and to the table, its triggers other than
/// schemagate's, and the views that name it.
async fn uses(conn: &mut Conn, f: &mut Facts) -> Result<(), DbError> {
    let t = text(&f.table);
    let fks = format!(
        "SELECT CONSTRAINT_NAME, TABLE_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL AND (TABLE_NAME = {t} OR REFERENCED_TABLE_NAME = {t}) ORDER BY CONSTRAINT_NAME, ORDINAL_POSITION"
    );
    for r in rows(conn, "the foreign keys", &fks).await? {
        let name = cell(&r, 0);
        match f.foreign_keys.iter_mut().find(|k| k.0 == name) {
            Some(k) => {
                k.2.push(cell(&r, 2));
                k.4.push(cell(&r, 4));
            }
            None => f.foreign_keys.push((
                name,
                cell(&r, 1),
                vec![cell(&r, 2)],
                cell(&r, 3),
                vec![cell(&r, 4)],
            )),
        }
    }
    let triggers = format!(
        "SELECT TRIGGER_NAME, ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE {} AND TRIGGER_NAME NOT LIKE '\\_sg\\_%'",
        here("EVENT_OBJECT_SCHEMA", "EVENT_OBJECT_TABLE", &f.table)
    );
    f.triggers = rows(conn, "the triggers", &triggers)
        .await?
        .iter()
        .map(|r| (cell(r, 0), cell(r, 1)))
        .collect();
    let views = "SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME NOT LIKE '\\_sg\\_%'";
    f.views = rows(conn, "the views", views)
        .await?
        .iter()
        .map(|r| (cell(r, 0), cell(r, 1)))
        .filter(|(_, d)| super::facts::word_in(d, &f.table))
        .collect();
    Ok(())
}

/// May this session create triggers? Not when the server writes a binary
/// log with `log_bin_trust_function_creators` off and the user lacks SUPER
/// (RDS with automated backups, whose master user never has SUPER).
pub async fn triggers_allowed(conn: &mut Conn) -> Result<bool, DbError> {
    let sql = "SELECT CAST(@@log_bin AS CHAR), CAST(@@log_bin_trust_function_creators AS CHAR), CAST((SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'SUPER' AND GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''')) AS CHAR)";
    let r = rows(conn, "the binary log settings", sql).await?;
    let r = r.first().cloned().unwrap_or_default();
    let on = |i: usize| matches!(cell(&r, i).as_str(), "1" | "ON");
    Ok(!on(0) || on(1) || cell(&r, 2) != "0")
}

/// Whether the backfill may run its ranges READ COMMITTED: always, unless
/// the server writes a statement-based binary log (InnoDB refuses READ
/// COMMITTED writes there).
pub async fn read_committed_allowed(conn: &mut Conn) -> Result<bool, DbError> {
    let sql = "SELECT CAST(@@log_bin AS CHAR), @@binlog_format";
    let r = rows(conn, "the binary log format", sql).await?;
    let r = r.first().cloned().unwrap_or_default();
    let log_bin = matches!(cell(&r, 0).as_str(), "1" | "ON");
    Ok(!log_bin || !cell(&r, 1).eq_ignore_ascii_case("STATEMENT"))
}
