//! The one short query of `schemagate check`: the head of
//! `_sqlx_migrations` and each migration above the release's version, with
//! its row of `_schemagate_history` (same database or schema). Only
//! `SELECT`: a read-only user is enough. A database that never had
//! `_schemagate_history` (an older schemagate, another tool) is asked a
//! second time without it; one with no `_sqlx_migrations` has nothing
//! applied.

use super::safe::{Above, Found, Recorded};
use crate::db::{Conn, DbError, ErrorKind, ServerError};
use crate::dialect::Dialect;

/// `CAST(x AS …)` to text, in the dialect.
fn text(d: Dialect) -> &'static str {
    match d {
        Dialect::MariaDb => "CHAR",
        Dialect::Postgres => "TEXT",
    }
}

/// The query for release `release`; `with_history`: join
/// `_schemagate_history` (else its columns are NULL).
pub fn sql(d: Dialect, release: i64, with_history: bool) -> String {
    let t = text(d);
    let (cols, join) = if with_history {
        (
            format!("h.name, h.class, h.rules, CAST(h.since AS {t})"),
            " LEFT JOIN _schemagate_history h ON h.version = m.version",
        )
    } else {
        (
            format!("CAST(NULL AS {t}), CAST(NULL AS {t}), CAST(NULL AS {t}), CAST(NULL AS {t})"),
            "",
        )
    };
    format!(
        "SELECT CAST(s.head AS {t}), CAST(m.version AS {t}), m.description, CAST(m.success AS {t}), {cols} \
         FROM (SELECT COALESCE(MAX(version), 0) AS head FROM _sqlx_migrations WHERE success) s \
         LEFT JOIN _sqlx_migrations m ON m.version > {release}{join} \
         ORDER BY m.version"
    )
}

/// Read what [`super::safe::judge`] needs.
pub async fn read(conn: &mut Conn, release: i64) -> Result<Found, DbError> {
    let d = conn.dialect();
    let query = |e: ServerError, what: &str| {
        DbError::query(format!("reading {what} for `schemagate check`"), e.source)
    };
    let rows = match conn.engine().read_text(&sql(d, release, true)).await {
        Ok(rows) => rows,
        Err(e) if e.kind == ErrorKind::UndefinedTable => {
            match conn.engine().read_text(&sql(d, release, false)).await {
                Ok(rows) => rows,
                Err(e) if e.kind == ErrorKind::UndefinedTable => return Ok(Found::default()),
                Err(e) => return Err(query(e, "`_sqlx_migrations`")),
            }
        }
        Err(e) => return Err(query(e, "`_sqlx_migrations` and `_schemagate_history`")),
    };
    Ok(found(&rows))
}

fn num(v: Option<&Option<String>>) -> Option<i64> {
    v.cloned().flatten().and_then(|s| s.trim().parse().ok())
}

fn string(v: Option<&Option<String>>) -> Option<String> {
    v.cloned().flatten()
}

/// The rows of [`sql`]: one per migration above the release (the left
/// join gives one row with no migration when there is none).
fn found(rows: &[Vec<Option<String>>]) -> Found {
    let head = rows.first().and_then(|r| num(r.first())).unwrap_or(0);
    let above = rows
        .iter()
        .filter_map(|r| {
            let version = num(r.get(1))?;
            let success = matches!(string(r.get(3)).as_deref(), Some("1" | "true" | "t"));
            let recorded = string(r.get(5)).map(|class| Recorded {
                name: string(r.get(4)),
                class: class.trim().to_ascii_lowercase(),
                rules: string(r.get(6)).unwrap_or_default(),
                since: num(r.get(7)),
            });
            Some(Above {
                version,
                description: string(r.get(2)).unwrap_or_default(),
                success,
                recorded,
            })
        })
        .collect();
    Found { head, above }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[Option<&str>]) -> Vec<Option<String>> {
        cells.iter().map(|c| c.map(str::to_string)).collect()
    }

    #[test]
    fn rows_become_the_head_and_the_migrations_above() {
        let rows = vec![
            row(&[
                Some("8"),
                Some("7"),
                Some("add x"),
                Some("1"),
                Some("0007_add_x"),
                Some("expand"),
                Some(""),
                Some("6"),
            ]),
            row(&[
                Some("8"),
                Some("8"),
                Some("drop y"),
                Some("false"),
                None,
                None,
                None,
                None,
            ]),
        ];
        let f = found(&rows);
        assert_eq!(f.head, 8);
        assert_eq!(f.above.len(), 2);
        assert_eq!(f.above[0].recorded.as_ref().unwrap().since, Some(6));
        assert!(f.above[0].success);
        assert!(!f.above[1].success);
        assert_eq!(f.above[1].recorded, None);
        let none = found(&[row(&[Some("6"), None, None, None, None, None, None, None])]);
        assert_eq!(
            none,
            Found {
                head: 6,
                above: vec![]
            }
        );
    }

    #[test]
    fn the_query_is_one_select_in_each_dialect() {
        for d in [Dialect::MariaDb, Dialect::Postgres] {
            let q = sql(d, 6, true);
            assert!(
                q.starts_with("SELECT ") && q.contains("m.version > 6"),
                "{q}"
            );
            assert!(!q.contains(';'));
            assert!(!sql(d, 6, false).contains("_schemagate_history"));
        }
    }
}
