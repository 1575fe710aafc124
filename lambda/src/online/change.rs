//! Which online change a migration declares: its one statement, read by
//! sqlparser, as one of the operations schemagate can run with both
//! releases serving ([`Op`]). Anything else is refused with the reason.

use sqlparser::ast::{
    AlterTable, AlterTableOperation as AOp, ColumnOption, DataType, Ident, MySQLColumnPosition,
    ObjectName, RenameTableNameKind, Statement,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use super::marker::Args;

/// A column as the statement defines it, cut into the parts an online
/// change adds at different times: the type (with its character set,
/// collation and comment) at expand, the default at contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    /// `VARCHAR(255) CHARACTER SET utf8mb4 COMMENT 'x'`
    pub type_sql: String,
    pub not_null: bool,
    /// The default's SQL; `None`: no default.
    pub default: Option<String>,
}

impl ColumnSpec {
    /// The full definition, as the statement gave it.
    pub fn sql(&self) -> String {
        let mut s = self.type_sql.clone();
        s.push_str(if self.not_null { " NOT NULL" } else { " NULL" });
        if let Some(d) = &self.default {
            s.push_str(" DEFAULT ");
            s.push_str(d);
        }
        s
    }
}

/// What the statement does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `RENAME COLUMN from TO to`, or `CHANGE from to <spec>` (a new name,
    /// and maybe a new type with `up=`/`down=`). `spec: None`: as the old
    /// column is.
    Move {
        from: String,
        to: String,
        spec: Option<ColumnSpec>,
    },
    /// `MODIFY column <spec NOT NULL>` with `fill=`.
    NotNull { column: String, spec: ColumnSpec },
    /// `ADD COLUMN column <spec NOT NULL>` without a default, with `fill=`.
    AddNotNull {
        column: String,
        spec: ColumnSpec,
        after: Option<String>,
    },
    /// `DROP COLUMN column`.
    DropColumn { column: String },
    /// `RENAME TABLE table TO to` or `ALTER TABLE table RENAME TO to`.
    RenameTable { to: String },
}

/// One online change: its table, what it does, and the marker's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub table: String,
    pub op: Op,
    pub args: Args,
}

impl Change {
    /// `rename column users.email to email_address`: for the history and
    /// messages.
    pub fn describe(&self) -> String {
        let t = &self.table;
        match &self.op {
            Op::Move {
                from,
                to,
                spec: None,
            } => format!("rename column {t}.{from} to {to}"),
            Op::Move {
                from,
                to,
                spec: Some(s),
            } => {
                format!("change column {t}.{from} to {to} {}", s.sql())
            }
            Op::NotNull { column, .. } => format!("make {t}.{column} NOT NULL"),
            Op::AddNotNull { column, spec, .. } => {
                format!("add column {t}.{column} {}", spec.sql())
            }
            Op::DropColumn { column } => format!("drop column {t}.{column}"),
            Op::RenameTable { to } => format!("rename table {t} to {to}"),
        }
    }

    /// Does its expand need triggers (and so, on a server that writes a
    /// binary log, `log_bin_trust_function_creators` or SUPER)?
    pub fn needs_triggers(&self) -> bool {
        matches!(
            self.op,
            Op::Move { .. } | Op::NotNull { .. } | Op::AddNotNull { .. }
        )
    }
}

/// Why a statement cannot be run online; says what to do instead.
pub type Unsupported = String;

const SUPPORTED: &str = "an online migration holds one statement: `ALTER TABLE t RENAME COLUMN a TO b`, `ALTER TABLE t CHANGE a b <type>` (with up=/down=), `ALTER TABLE t MODIFY c <type> NOT NULL` (with fill=), `ALTER TABLE t ADD COLUMN c <type> NOT NULL` (with fill=), `ALTER TABLE t DROP COLUMN c` or `RENAME TABLE a TO b`; split anything else into its own migration, or drain";

/// Read `statements` (the script's, as the lint cut them) as one change.
pub fn read(statements: &[&str], args: Args) -> Result<Change, Unsupported> {
    let [one] = statements else {
        return Err(format!(
            "it holds {} statements; {SUPPORTED}",
            statements.len()
        ));
    };
    let parsed = Parser::parse_sql(&MySqlDialect {}, one)
        .map_err(|e| format!("sqlparser cannot read it ({e}); {SUPPORTED}"))?;
    let [s] = parsed.as_slice() else {
        return Err(SUPPORTED.to_string());
    };
    let (table, op) = match s {
        Statement::AlterTable(a) => alter(a)?,
        Statement::RenameTable(r) if r.len() == 1 => (
            object(&r[0].old_name)?,
            Op::RenameTable {
                to: object(&r[0].new_name)?,
            },
        ),
        _ => {
            return Err(format!(
                "`{}` is not one of them; {SUPPORTED}",
                first_words(one)
            ))
        }
    };
    let change = Change { table, op, args };
    check_args(&change)?;
    Ok(change)
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

fn alter(a: &AlterTable) -> Result<(String, Op), Unsupported> {
    let table = object(&a.name)?;
    let [op] = a.operations.as_slice() else {
        return Err(format!(
            "the ALTER TABLE makes {} changes; {SUPPORTED}",
            a.operations.len()
        ));
    };
    let op = match op {
        AOp::RenameColumn {
            old_column_name,
            new_column_name,
        } => Op::Move {
            from: ident(old_column_name),
            to: ident(new_column_name),
            spec: None,
        },
        AOp::ChangeColumn {
            old_name,
            new_name,
            data_type,
            options,
            column_position: None,
        } if ident(old_name) != ident(new_name) => Op::Move {
            from: ident(old_name),
            to: ident(new_name),
            spec: Some(spec(data_type, options.iter())?),
        },
        AOp::ChangeColumn { .. } | AOp::ModifyColumn { .. } if !is_not_null(op) => {
            return Err("a type change under the same name cannot serve both releases (each reads its own type from one column): change it under a new name, `ALTER TABLE t CHANGE c c_new <type>` with up=/down=, and drop the old one later; or drain".into());
        }
        AOp::ModifyColumn {
            col_name,
            data_type,
            options,
            column_position: None,
        } => Op::NotNull {
            column: ident(col_name),
            spec: spec(data_type, options.iter())?,
        },
        AOp::AddColumn {
            if_not_exists: false,
            column_def,
            column_position,
            ..
        } => add(column_def, column_position.as_ref())?,
        AOp::DropColumn { column_names, .. } if column_names.len() == 1 => Op::DropColumn {
            column: ident(&column_names[0]),
        },
        AOp::RenameTable {
            table_name: RenameTableNameKind::To(n) | RenameTableNameKind::As(n),
        } => Op::RenameTable { to: object(n)? },
        _ => return Err(format!("`{op}` is not one of them; {SUPPORTED}")),
    };
    Ok((table, op))
}

fn is_not_null(op: &AOp) -> bool {
    match op {
        AOp::ModifyColumn { options, .. } => options.contains(&ColumnOption::NotNull),
        _ => false,
    }
}

fn add(
    def: &sqlparser::ast::ColumnDef,
    pos: Option<&MySQLColumnPosition>,
) -> Result<Op, Unsupported> {
    let spec = spec(&def.data_type, def.options.iter().map(|o| &o.option))?;
    if !spec.not_null || spec.default.is_some() {
        return Err("adding a NULL column or one with a default is safe for the running release without online: remove the `online` marker".into());
    }
    let after = match pos {
        None => None,
        Some(MySQLColumnPosition::After(c)) => Some(ident(c)),
        Some(MySQLColumnPosition::First) => {
            return Err(
                "`FIRST` is not supported online: leave the position out or use AFTER".into(),
            )
        }
    };
    Ok(Op::AddNotNull {
        column: ident(&def.name),
        spec,
        after,
    })
}

/// A column definition's parts; options an online change cannot keep in
/// step (keys, generated values, references, checks) are refused.
fn spec<'o>(
    data_type: &DataType,
    options: impl Iterator<Item = &'o ColumnOption>,
) -> Result<ColumnSpec, Unsupported> {
    let mut s = ColumnSpec {
        type_sql: data_type.to_string(),
        not_null: false,
        default: None,
    };
    for o in options {
        match o {
            ColumnOption::Null => s.not_null = false,
            ColumnOption::NotNull => s.not_null = true,
            ColumnOption::Default(e) => s.default = Some(e.to_string()),
            ColumnOption::CharacterSet(_) | ColumnOption::Collation(_) | ColumnOption::Comment(_) => {
                s.type_sql.push(' ');
                s.type_sql.push_str(&o.to_string());
            }
            other => {
                return Err(format!(
                    "the column option `{other}` is not supported online (keys, generated values, references and checks are added in a migration of their own)"
                ))
            }
        }
    }
    Ok(s)
}

/// Each operation's arguments: what it needs, and nothing it would ignore.
fn check_args(c: &Change) -> Result<(), Unsupported> {
    let a = &c.args;
    let (wants_fill, takes_updown) = match &c.op {
        Op::Move { spec, .. } => (false, spec.is_some()),
        Op::NotNull { .. } | Op::AddNotNull { .. } => (true, false),
        Op::DropColumn { .. } => (false, false),
        Op::RenameTable { .. } => (false, false),
    };
    if wants_fill && a.fill.is_none() {
        return Err(format!(
            "{} needs `fill=<expression>`: the value for rows where it is NULL, existing ones and those the running release writes (`-- schemagate: online fill=''`)",
            c.describe()
        ));
    }
    if !takes_updown && (a.up.is_some() || a.down.is_some()) {
        return Err(format!(
            "{} takes no `up=`/`down=` (only `ALTER TABLE t CHANGE a b <type>` does)",
            c.describe()
        ));
    }
    let fill_used = wants_fill || matches!(c.op, Op::Move { .. } | Op::DropColumn { .. });
    if a.fill.is_some() && !fill_used {
        return Err(format!("{} takes no `fill=`", c.describe()));
    }
    Ok(())
}

fn ident(i: &Ident) -> String {
    i.value.clone()
}

/// A table name: unqualified (an online change works in the run's
/// database).
fn object(n: &ObjectName) -> Result<String, Unsupported> {
    match n.0.as_slice() {
        [one] => Ok(one
            .as_ident()
            .map(ident)
            .unwrap_or_else(|| one.to_string())),
        _ => Err(format!(
            "`{n}` names another database: an online change works on the run's own database; write the table's name alone"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(sql: &str, args: Args) -> Result<Change, String> {
        read(&[sql], args)
    }

    fn fill(f: &str) -> Args {
        Args {
            fill: Some(f.into()),
            ..Args::default()
        }
    }

    #[test]
    fn the_six_operations_are_read() {
        let c = op(
            "ALTER TABLE users RENAME COLUMN email TO email_address",
            Args::default(),
        )
        .unwrap();
        assert_eq!(c.table, "users");
        assert_eq!(c.describe(), "rename column users.email to email_address");
        let c = op(
            "ALTER TABLE orders CHANGE total total_cents BIGINT NOT NULL DEFAULT 0",
            Args {
                up: Some("ROUND(total * 100)".into()),
                down: Some("total_cents / 100".into()),
                fill: None,
            },
        )
        .unwrap();
        assert_eq!(
            c.op,
            Op::Move {
                from: "total".into(),
                to: "total_cents".into(),
                spec: Some(ColumnSpec {
                    type_sql: "BIGINT".into(),
                    not_null: true,
                    default: Some("0".into())
                })
            }
        );
        let c = op(
            "ALTER TABLE users MODIFY name VARCHAR(100) CHARACTER SET utf8mb4 NOT NULL",
            fill("''"),
        )
        .unwrap();
        assert_eq!(c.describe(), "make users.name NOT NULL");
        let Op::NotNull { spec, .. } = &c.op else {
            panic!()
        };
        assert_eq!(spec.sql(), "VARCHAR(100) CHARACTER SET utf8mb4 NOT NULL");
        let c = op(
            "ALTER TABLE users ADD COLUMN plan VARCHAR(20) NOT NULL AFTER name",
            fill("'free'"),
        )
        .unwrap();
        assert!(matches!(&c.op, Op::AddNotNull { after: Some(a), .. } if a == "name"));
        let c = op("ALTER TABLE users DROP COLUMN legacy", Args::default()).unwrap();
        assert_eq!(c.describe(), "drop column users.legacy");
        let c = op("RENAME TABLE users TO accounts", Args::default()).unwrap();
        assert_eq!(c.describe(), "rename table users to accounts");
        let c = op("ALTER TABLE `users` RENAME TO `accounts`", Args::default()).unwrap();
        assert_eq!(c.describe(), "rename table users to accounts");
    }

    #[test]
    fn anything_else_is_refused_with_the_reason() {
        let cases = [
            (
                "ALTER TABLE users DROP INDEX u_email",
                Args::default(),
                "is not one of them",
            ),
            (
                "ALTER TABLE users ADD COLUMN a INT NULL",
                Args::default(),
                "remove the `online` marker",
            ),
            (
                "ALTER TABLE users MODIFY age BIGINT",
                Args::default(),
                "under a new name",
            ),
            (
                "ALTER TABLE users MODIFY name VARCHAR(10) NOT NULL",
                Args::default(),
                "needs `fill=",
            ),
            (
                "ALTER TABLE users RENAME COLUMN a TO b, DROP COLUMN c",
                Args::default(),
                "makes 2 changes",
            ),
            (
                "ALTER TABLE app.users DROP COLUMN c",
                Args::default(),
                "names another database",
            ),
            (
                "ALTER TABLE users ADD COLUMN n INT NOT NULL UNIQUE",
                fill("0"),
                "`UNIQUE` is not supported",
            ),
            (
                "DROP TABLE users",
                Args::default(),
                "`DROP TABLE users` is not one of them",
            ),
            (
                "RENAME TABLE users TO accounts",
                fill("1"),
                "takes no `fill=`",
            ),
            (
                "ALTER TABLE users DROP COLUMN c",
                Args {
                    up: Some("1".into()),
                    ..Args::default()
                },
                "takes no `up=`",
            ),
        ];
        for (sql, args, why) in cases {
            let e = op(sql, args).unwrap_err();
            assert!(e.contains(why), "{sql}: {e}");
        }
        let e = read(
            &["ALTER TABLE a DROP COLUMN b", "SELECT 1"],
            Args::default(),
        )
        .unwrap_err();
        assert!(e.contains("holds 2 statements"), "{e}");
    }
}
