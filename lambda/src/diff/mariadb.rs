//! A MariaDB (or MySQL) database's schema, from `information_schema`: the
//! connection's database, each definition as the server writes it.

use sqlx::MySqlConnection;

use super::schema::{Column, Schema, Table};
use crate::db::DbError;

const TABLES: &str = "SELECT CAST(table_name AS CHAR), CAST(table_type AS CHAR), \
    CAST(COALESCE(engine, '') AS CHAR), CAST(COALESCE(table_collation, '') AS CHAR) \
    FROM information_schema.tables WHERE table_schema = DATABASE()";
const VIEWS: &str = "SELECT CAST(table_name AS CHAR), CAST(view_definition AS CHAR) \
    FROM information_schema.views WHERE table_schema = DATABASE()";
const COLUMNS: &str = "SELECT CAST(table_name AS CHAR), CAST(column_name AS CHAR), \
    CAST(column_type AS CHAR), CAST(is_nullable AS CHAR), CAST(column_default AS CHAR), \
    CAST(extra AS CHAR), CAST(collation_name AS CHAR), CAST(generation_expression AS CHAR) \
    FROM information_schema.columns WHERE table_schema = DATABASE()";
const INDEXES: &str = "SELECT CAST(table_name AS CHAR), CAST(index_name AS CHAR), \
    CAST(non_unique AS SIGNED), CAST(column_name AS CHAR), CAST(sub_part AS SIGNED), \
    CAST(index_type AS CHAR) \
    FROM information_schema.statistics WHERE table_schema = DATABASE() \
    ORDER BY table_name, index_name, seq_in_index";
const FOREIGN_KEYS: &str = "SELECT CAST(k.table_name AS CHAR), CAST(k.constraint_name AS CHAR), \
    CAST(k.column_name AS CHAR), CAST(k.referenced_table_name AS CHAR), \
    CAST(k.referenced_column_name AS CHAR), CAST(r.update_rule AS CHAR), CAST(r.delete_rule AS CHAR) \
    FROM information_schema.key_column_usage k \
    JOIN information_schema.referential_constraints r ON r.constraint_schema = k.constraint_schema \
      AND r.constraint_name = k.constraint_name AND r.table_name = k.table_name \
    WHERE k.table_schema = DATABASE() AND k.referenced_table_name IS NOT NULL \
    ORDER BY k.table_name, k.constraint_name, k.ordinal_position";
const CHECKS: &str = "SELECT CAST(table_name AS CHAR), CAST(constraint_name AS CHAR), \
    CAST(check_clause AS CHAR) \
    FROM information_schema.check_constraints WHERE constraint_schema = DATABASE()";

type Fk = (String, String, String, String, String, String, String);
type ColumnRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
);

/// The schema of the connection's database.
pub async fn read(conn: &mut MySqlConnection) -> Result<Schema, DbError> {
    let q = |what: &str, e| DbError::query(format!("reading the {what} of the database"), e);
    let database: String = sqlx::query_scalar("SELECT CAST(DATABASE() AS CHAR)")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| q("name", e))?;
    let mut s = Schema::default();
    let tables: Vec<(String, String, String, String)> = sqlx::query_as(TABLES)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| q("tables", e))?;
    for (name, kind, engine, collation) in tables {
        let kind = match kind.as_str() {
            "VIEW" => "view".to_string(),
            _ => format!("table ENGINE={engine} COLLATE={collation}"),
        };
        s.tables.insert(
            name,
            Table {
                kind,
                ..Default::default()
            },
        );
    }
    let views: Vec<(String, String)> = sqlx::query_as(VIEWS)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| q("views", e))?;
    let own = format!("`{database}`.");
    for (name, def) in views {
        if let Some(t) = s.tables.get_mut(&name) {
            t.kind = format!("view AS {}", def.replace(&own, ""));
        }
    }
    let columns: Vec<ColumnRow> = sqlx::query_as(COLUMNS)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| q("columns", e))?;
    for (table, name, data_type, nullable, default, extra, collation, generated) in columns {
        let Some(t) = s.tables.get_mut(&table) else {
            continue;
        };
        let data_type = match collation {
            Some(c) => format!("{data_type} COLLATE {c}"),
            None => data_type,
        };
        let mut extra = extra;
        if let Some(g) = generated.filter(|g| !g.is_empty()) {
            extra = format!("{extra} AS ({g})").trim().to_string();
        }
        let column = Column {
            data_type,
            nullable: nullable == "YES",
            // MariaDB writes a nullable column without a default as `NULL`.
            default: default.filter(|d| d != "NULL"),
            extra,
        };
        t.columns.insert(name, column);
    }
    indexes(conn, &mut s).await?;
    constraints(conn, &mut s).await?;
    Ok(s)
}

type IndexRow = (String, String, i64, Option<String>, Option<i64>, String);

/// Rows of one index or foreign key, gathered: its table and name, what
/// comes before its columns, its columns (and, for a key, what it
/// references and its rules).
#[derive(Default)]
struct Grouped {
    table: String,
    name: String,
    head: String,
    columns: Vec<String>,
    referenced: Vec<String>,
    rules: String,
}

/// Rows in table, name, position order, gathered per object.
fn group(
    out: &mut Vec<Grouped>,
    table: String,
    name: String,
    first: impl FnOnce() -> Grouped,
) -> &mut Grouped {
    let same = out
        .last()
        .is_some_and(|g| g.table == table && g.name == name);
    if !same {
        out.push(Grouped {
            table,
            name,
            ..first()
        });
    }
    out.last_mut().expect("pushed")
}

async fn indexes(conn: &mut MySqlConnection, s: &mut Schema) -> Result<(), DbError> {
    let rows: Vec<IndexRow> = sqlx::query_as(INDEXES)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| DbError::query("reading the indexes of the database", e))?;
    let mut found = Vec::new();
    for (table, index, non_unique, column, sub_part, kind) in rows {
        let column = column.unwrap_or_else(|| "(expression)".into());
        let column = match sub_part {
            Some(n) => format!("{column}({n})"),
            None => column,
        };
        let head = if non_unique == 0 {
            format!("UNIQUE {kind}")
        } else {
            kind
        };
        let g = group(&mut found, table, index, || Grouped {
            head,
            ..Default::default()
        });
        g.columns.push(column);
    }
    for g in found {
        if let Some(t) = s.tables.get_mut(&g.table) {
            t.indexes
                .insert(g.name, format!("{} ({})", g.head, g.columns.join(", ")));
        }
    }
    Ok(())
}

async fn constraints(conn: &mut MySqlConnection, s: &mut Schema) -> Result<(), DbError> {
    let rows: Vec<Fk> = sqlx::query_as(FOREIGN_KEYS)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| DbError::query("reading the foreign keys of the database", e))?;
    let mut found = Vec::new();
    for (table, name, column, ref_table, ref_column, on_update, on_delete) in rows {
        let rules = format!("ON UPDATE {on_update} ON DELETE {on_delete}");
        let g = group(&mut found, table, name, || Grouped {
            head: ref_table,
            rules,
            ..Default::default()
        });
        g.columns.push(column);
        g.referenced.push(ref_column);
    }
    for g in found {
        if let Some(t) = s.tables.get_mut(&g.table) {
            let def = format!(
                "FOREIGN KEY ({}) REFERENCES {} ({}) {}",
                g.columns.join(", "),
                g.head,
                g.referenced.join(", "),
                g.rules
            );
            t.constraints.insert(g.name, def);
        }
    }
    let checks: Vec<(String, String, String)> = sqlx::query_as(CHECKS)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| DbError::query("reading the check constraints of the database", e))?;
    for (table, name, clause) in checks {
        if let Some(t) = s.tables.get_mut(&table) {
            t.constraints.insert(name, format!("CHECK ({clause})"));
        }
    }
    Ok(())
}
