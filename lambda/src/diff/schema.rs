//! A database's schema as `schemagate diff` compares it: tables (and
//! views), their columns with type, nullability, default and extras, their
//! indexes and constraints (foreign keys, checks, keys), each as the
//! server itself writes its definition; and the differences between two.

use std::collections::BTreeMap;
use std::fmt;

/// Tables that are bookkeeping, not the application's schema.
pub const IGNORED: [&str; 3] = ["_sqlx_migrations", "_schemagate_history", "alembic_version"];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    pub tables: BTreeMap<String, Table>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// `table` or `view`, with the options that change what it stores
    /// (MariaDB's engine and collation) or a view's definition.
    pub kind: String,
    pub columns: BTreeMap<String, Column>,
    /// Index name → definition (`UNIQUE BTREE (email, name(10))`).
    pub indexes: BTreeMap<String, String>,
    /// Constraint name → definition (`FOREIGN KEY (plan_id) REFERENCES plan (id)`).
    pub constraints: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Column {
    /// As the server writes it, with its collation when it has one.
    pub data_type: String,
    pub nullable: bool,
    pub default: Option<String>,
    /// auto_increment, identity, generated, `on update …`.
    pub extra: String,
}

impl Schema {
    /// Leave out the bookkeeping tables.
    pub fn without_bookkeeping(mut self) -> Schema {
        self.tables.retain(|t, _| !IGNORED.contains(&t.as_str()));
        self
    }

    /// `3 tables, 14 columns, 6 indexes, 4 constraints`
    pub fn counts(&self) -> String {
        let sum = |f: fn(&Table) -> usize| self.tables.values().map(f).sum::<usize>();
        format!(
            "{} tables, {} columns, {} indexes, {} constraints",
            self.tables.len(),
            sum(|t| t.columns.len()),
            sum(|t| t.indexes.len()),
            sum(|t| t.constraints.len())
        )
    }
}

/// One way the two schemas differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// `table account`, `column account.name`, `index account.ix_email`
    pub what: String,
    /// In the first database (`None`: not there).
    pub a: Option<String>,
    /// In the second.
    pub b: Option<String>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.a, &self.b) {
            (Some(_), None) => write!(f, "{}: only in A", self.what),
            (None, Some(_)) => write!(f, "{}: only in B", self.what),
            (Some(a), Some(b)) => write!(f, "{}: `{a}` in A, `{b}` in B", self.what),
            (None, None) => write!(f, "{}", self.what),
        }
    }
}

/// Every difference between `a` and `b`, tables in name order.
pub fn compare(a: &Schema, b: &Schema) -> Vec<Difference> {
    let mut out = Vec::new();
    each(
        &a.tables,
        &b.tables,
        &mut out,
        "table",
        &|name, x, y, out| {
            if x.kind != y.kind {
                out.push(Difference {
                    what: format!("table {name}"),
                    a: Some(x.kind.clone()),
                    b: Some(y.kind.clone()),
                });
            }
            each(
                &x.columns,
                &y.columns,
                out,
                &format!("column {name}."),
                &|c, p, q, out| {
                    if p != q {
                        out.push(Difference {
                            what: format!("column {name}.{c}"),
                            a: Some(p.to_string()),
                            b: Some(q.to_string()),
                        });
                    }
                },
            );
            strings(&x.indexes, &y.indexes, out, &format!("index {name}."));
            strings(
                &x.constraints,
                &y.constraints,
                out,
                &format!("constraint {name}."),
            );
        },
    );
    out
}

type Both<'a, V> = &'a dyn Fn(&str, &V, &V, &mut Vec<Difference>);

/// Names only in one map are differences; `both` compares the rest.
fn each<V: ToString>(
    a: &BTreeMap<String, V>,
    b: &BTreeMap<String, V>,
    out: &mut Vec<Difference>,
    what: &str,
    both: Both<'_, V>,
) {
    let sep = if what.ends_with('.') { "" } else { " " };
    for (name, x) in a {
        match b.get(name) {
            Some(y) => both(name, x, y, out),
            None => out.push(Difference {
                what: format!("{what}{sep}{name}"),
                a: Some(x.to_string()),
                b: None,
            }),
        }
    }
    for (name, y) in b.iter().filter(|(n, _)| !a.contains_key(*n)) {
        out.push(Difference {
            what: format!("{what}{sep}{name}"),
            a: None,
            b: Some(y.to_string()),
        });
    }
}

fn strings(
    a: &BTreeMap<String, String>,
    b: &BTreeMap<String, String>,
    out: &mut Vec<Difference>,
    what: &str,
) {
    each(a, b, out, what, &|name, x, y, out| {
        if x != y {
            out.push(Difference {
                what: format!("{what}{name}"),
                a: Some(x.clone()),
                b: Some(y.clone()),
            });
        }
    });
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} with {} columns", self.kind, self.columns.len())
    }
}

impl fmt::Display for Column {
    /// `varchar(200) NULL DEFAULT 'x' auto_increment`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.data_type)?;
        f.write_str(if self.nullable { " NULL" } else { " NOT NULL" })?;
        if let Some(d) = &self.default {
            write!(f, " DEFAULT {d}")?;
        }
        if !self.extra.is_empty() {
            write!(f, " {}", self.extra)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(col_type: &str, index: Option<&str>) -> Schema {
        let mut t = Table {
            kind: "table".into(),
            ..Default::default()
        };
        t.columns.insert(
            "name".into(),
            Column {
                data_type: col_type.into(),
                nullable: true,
                default: None,
                extra: String::new(),
            },
        );
        if let Some(i) = index {
            t.indexes.insert("ix_name".into(), i.into());
        }
        let mut s = Schema::default();
        s.tables.insert("account".into(), t);
        s.tables.insert("alembic_version".into(), Table::default());
        s.without_bookkeeping()
    }

    #[test]
    fn differences_name_the_object_and_both_sides() {
        let a = schema("varchar(200)", Some("BTREE (name)"));
        assert!(compare(&a, &a.clone()).is_empty());
        let b = schema("varchar(80)", None);
        let d: Vec<String> = compare(&a, &b).iter().map(|d| d.to_string()).collect();
        assert_eq!(
            d,
            vec![
                "column account.name: `varchar(200) NULL` in A, `varchar(80) NULL` in B",
                "index account.ix_name: only in A",
            ]
        );
        assert!(!a.tables.contains_key("alembic_version"));
        let empty = Schema::default();
        assert_eq!(
            compare(&empty, &a)[0].to_string(),
            "table account: only in B"
        );
    }
}
