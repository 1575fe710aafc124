//! What the lint knows about the schema the running release sees: the
//! tables, columns, views, routines and unique indexes created by the
//! migrations already applied, and which objects the pending migrations
//! create themselves (the running release never used those, so anything
//! done to them is safe).
//!
//! The model is rough on purpose: what it does not know (a table made by
//! other tools, a statement it could not parse) makes the rules assume the
//! worst, never the best.

use std::collections::{HashMap, HashSet};

use sqlparser::ast::{
    CharacterLength, ColumnDef, ColumnOption, DataType, ExactNumberInfo, Expr, Ident, ObjectName,
    ObjectNamePart, TableConstraint,
};

use crate::dialect::Dialect;

#[derive(Debug, Clone)]
pub struct Schema {
    pub dialect: Dialect,
    tables: HashMap<String, Table>,
    views: HashMap<String, bool>,
    routines: HashMap<String, bool>,
    triggers: HashMap<String, bool>,
}

#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Created by a pending migration: the running release never saw it.
    pub new: bool,
    /// `None` when the columns are not known (`CREATE TABLE … LIKE`, `AS`).
    pub columns: Option<Vec<Column>>,
    /// Names of unique indexes and constraints.
    pub unique: HashSet<String>,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub data_type: DataType,
    pub nullable: bool,
    pub default: bool,
    /// Generated, identity or auto-increment: the server fills it.
    pub filled: bool,
    /// Added by a pending migration.
    pub new: bool,
}

impl Column {
    pub fn from_def(def: &ColumnDef, dialect: Dialect, new: bool) -> Column {
        let mut c = Column {
            name: norm_col(&def.name, dialect),
            data_type: def.data_type.clone(),
            nullable: true,
            default: false,
            filled: is_serial(&def.data_type),
            new,
        };
        for o in &def.options {
            match &o.option {
                ColumnOption::NotNull => c.nullable = false,
                ColumnOption::Null => c.nullable = true,
                ColumnOption::Default(_) => c.default = true,
                ColumnOption::PrimaryKey(_) => c.nullable = false,
                ColumnOption::Generated { .. }
                | ColumnOption::Identity(_)
                | ColumnOption::Materialized(_) => c.filled = true,
                ColumnOption::DialectSpecific(tokens)
                    if tokens.iter().any(|t| {
                        let s = t.to_string().to_ascii_uppercase();
                        s == "AUTO_INCREMENT" || s == "AUTOINCREMENT"
                    }) =>
                {
                    c.filled = true
                }
                _ => {}
            }
        }
        // MariaDB: a TIMESTAMP NOT NULL column without a default gets
        // CURRENT_TIMESTAMP only in old modes; do not assume it.
        c
    }
}

fn is_serial(t: &DataType) -> bool {
    matches!(t, DataType::Custom(name, _) if {
        let n = name.to_string().to_ascii_lowercase();
        n == "serial" || n == "bigserial" || n == "smallserial"
    })
}

/// An identifier as the server compares it: PostgreSQL folds unquoted names
/// to lower case; MariaDB table names are case-sensitive on Linux.
pub fn norm_ident(i: &Ident, dialect: Dialect) -> String {
    match (dialect, i.quote_style) {
        (Dialect::Postgres, None) => i.value.to_ascii_lowercase(),
        _ => i.value.clone(),
    }
}

/// Column names: case-insensitive on MariaDB.
pub fn norm_col(i: &Ident, dialect: Dialect) -> String {
    match dialect {
        Dialect::MariaDb => i.value.to_ascii_lowercase(),
        Dialect::Postgres => norm_ident(i, dialect),
    }
}

/// The object's own name, without database or schema.
pub fn norm_name(n: &ObjectName, dialect: Dialect) -> String {
    match n.0.last() {
        Some(ObjectNamePart::Identifier(i)) => norm_ident(i, dialect),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

impl Schema {
    pub fn new(dialect: Dialect) -> Schema {
        Schema {
            dialect,
            tables: HashMap::new(),
            views: HashMap::new(),
            routines: HashMap::new(),
            triggers: HashMap::new(),
        }
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    pub fn table_mut(&mut self, name: &str) -> Option<&mut Table> {
        self.tables.get_mut(name)
    }

    /// Did a pending migration create this table? Unknown tables are old.
    pub fn is_new_table(&self, name: &str) -> bool {
        self.tables.get(name).is_some_and(|t| t.new)
    }

    pub fn create_table(
        &mut self,
        name: String,
        columns: Option<Vec<Column>>,
        unique: HashSet<String>,
        new: bool,
    ) {
        self.tables.insert(
            name,
            Table {
                new,
                columns,
                unique,
            },
        );
    }

    pub fn drop_table(&mut self, name: &str) {
        self.tables.remove(name);
    }

    pub fn rename_table(&mut self, from: &str, to: String) {
        match self.tables.remove(from) {
            Some(t) => {
                self.tables.insert(to, t);
            }
            // Unknown before: still unknown (not new) under the new name.
            None => {
                self.tables.insert(
                    to,
                    Table {
                        new: false,
                        columns: None,
                        unique: HashSet::new(),
                    },
                );
            }
        }
    }

    pub fn column(&self, table: &str, col: &str) -> Option<&Column> {
        self.tables
            .get(table)?
            .columns
            .as_ref()?
            .iter()
            .find(|c| c.name == col)
    }

    pub fn column_mut(&mut self, table: &str, col: &str) -> Option<&mut Column> {
        self.tables
            .get_mut(table)?
            .columns
            .as_mut()?
            .iter_mut()
            .find(|c| c.name == col)
    }

    pub fn add_column(&mut self, table: &str, c: Column) {
        if let Some(cols) = self.tables.get_mut(table).and_then(|t| t.columns.as_mut()) {
            cols.retain(|x| x.name != c.name);
            cols.push(c);
        }
    }

    pub fn drop_column(&mut self, table: &str, col: &str) {
        if let Some(cols) = self.tables.get_mut(table).and_then(|t| t.columns.as_mut()) {
            cols.retain(|x| x.name != col);
        }
    }

    /// Views: `true` = created by a pending migration.
    pub fn view(&self, name: &str) -> Option<bool> {
        self.views.get(name).copied()
    }
    pub fn set_view(&mut self, name: String, new: bool) {
        self.views.insert(name, new);
    }
    pub fn drop_view(&mut self, name: &str) {
        self.views.remove(name);
    }

    pub fn routine(&self, name: &str) -> Option<bool> {
        self.routines.get(name).copied()
    }
    pub fn set_routine(&mut self, name: String, new: bool) {
        self.routines.insert(name, new);
    }
    pub fn drop_routine(&mut self, name: &str) {
        self.routines.remove(name);
    }

    pub fn trigger(&self, name: &str) -> Option<bool> {
        self.triggers.get(name).copied()
    }
    pub fn set_trigger(&mut self, name: String, new: bool) {
        self.triggers.insert(name, new);
    }
    pub fn drop_trigger(&mut self, name: &str) {
        self.triggers.remove(name);
    }

    /// The table that has a unique index of this name, if known.
    pub fn unique_owner(&self, index: &str) -> Option<&str> {
        self.tables
            .iter()
            .find(|(_, t)| t.unique.contains(index))
            .map(|(n, _)| n.as_str())
    }
}

/// Names of the unique indexes/constraints declared in a CREATE TABLE.
pub fn unique_names(
    columns: &[ColumnDef],
    constraints: &[TableConstraint],
    dialect: Dialect,
) -> HashSet<String> {
    let mut out = HashSet::new();
    for c in constraints {
        if let TableConstraint::Unique(u) = c {
            if let Some(n) = u.index_name.as_ref().or(u.name.as_ref()) {
                out.insert(norm_ident(n, dialect));
            } else if let Some(first) = u.columns.first() {
                // MariaDB names an unnamed unique key after its first column.
                out.insert(first.column.expr.to_string().trim_matches('`').to_string());
            }
        }
    }
    for def in columns {
        if def
            .options
            .iter()
            .any(|o| matches!(o.option, ColumnOption::Unique(_)))
        {
            out.insert(norm_col(&def.name, dialect));
        }
    }
    out
}

/// How a column's type changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeChange {
    /// Same type.
    Same,
    /// Holds every value the old type held.
    Wider {
        /// MariaDB 10.11 can do it without copying the table (VARCHAR
        /// growth within its length-byte class, ENUM/SET values appended).
        in_place: bool,
        /// A VARCHAR whose growth may cross 255 bytes, depending on the
        /// column's character set.
        may_cross_255: bool,
    },
    /// Narrower, or a different kind of type.
    Different,
}

#[derive(Debug, Clone, PartialEq)]
enum Shape {
    Int { rank: u8, unsigned: bool },
    Text { varying: bool, len: Option<u64> },
    Lob { text: bool, rank: u8 },
    Binary { varying: bool, len: Option<u64> },
    Decimal { precision: Option<u64>, scale: i64 },
    Float { rank: u8 },
    DateTime { base: &'static str, fsp: u64 },
    Choice { set: bool, values: Vec<String> },
    Other(String),
}

fn char_len(l: &Option<CharacterLength>) -> Option<u64> {
    match l {
        Some(CharacterLength::IntegerLength { length, .. }) => Some(*length),
        _ => None,
    }
}

fn decimal(info: &ExactNumberInfo) -> Shape {
    match info {
        ExactNumberInfo::None => Shape::Decimal {
            precision: None,
            scale: 0,
        },
        ExactNumberInfo::Precision(p) => Shape::Decimal {
            precision: Some(*p),
            scale: 0,
        },
        ExactNumberInfo::PrecisionAndScale(p, s) => Shape::Decimal {
            precision: Some(*p),
            scale: *s,
        },
    }
}

fn shape(t: &DataType) -> Shape {
    use DataType as D;
    let int = |rank: u8, unsigned: bool| Shape::Int { rank, unsigned };
    match t {
        D::TinyInt(_) => int(1, false),
        D::TinyIntUnsigned(_) => int(1, true),
        D::SmallInt(_) | D::Int2(_) => int(2, false),
        D::SmallIntUnsigned(_) | D::Int2Unsigned(_) => int(2, true),
        D::MediumInt(_) => int(3, false),
        D::MediumIntUnsigned(_) => int(3, true),
        D::Int(_) | D::Integer(_) | D::Int4(_) => int(4, false),
        D::IntUnsigned(_) | D::IntegerUnsigned(_) | D::Int4Unsigned(_) => int(4, true),
        D::BigInt(_) | D::Int8(_) => int(5, false),
        D::BigIntUnsigned(_) | D::Int8Unsigned(_) => int(5, true),
        D::Varchar(l) | D::CharacterVarying(l) | D::CharVarying(l) | D::Nvarchar(l) => {
            Shape::Text {
                varying: true,
                len: char_len(l),
            }
        }
        D::Char(l) | D::Character(l) => Shape::Text {
            varying: false,
            len: Some(char_len(l).unwrap_or(1)),
        },
        D::TinyText => Shape::Lob {
            text: true,
            rank: 1,
        },
        D::Text => Shape::Lob {
            text: true,
            rank: 2,
        },
        D::MediumText => Shape::Lob {
            text: true,
            rank: 3,
        },
        D::LongText => Shape::Lob {
            text: true,
            rank: 4,
        },
        D::TinyBlob => Shape::Lob {
            text: false,
            rank: 1,
        },
        D::Blob(_) => Shape::Lob {
            text: false,
            rank: 2,
        },
        D::MediumBlob => Shape::Lob {
            text: false,
            rank: 3,
        },
        D::LongBlob => Shape::Lob {
            text: false,
            rank: 4,
        },
        D::Bytea => Shape::Lob {
            text: false,
            rank: 4,
        },
        D::Binary(l) => Shape::Binary {
            varying: false,
            len: Some(l.unwrap_or(1)),
        },
        D::Varbinary(l) => Shape::Binary {
            varying: true,
            len: match l {
                Some(sqlparser::ast::BinaryLength::IntegerLength { length }) => Some(*length),
                _ => None,
            },
        },
        D::Decimal(i) | D::Numeric(i) | D::Dec(i) => decimal(i),
        D::Float(_) | D::Real | D::Float4 => Shape::Float { rank: 1 },
        D::Double(_) | D::DoublePrecision | D::Float8 => Shape::Float { rank: 2 },
        D::Datetime(p) => Shape::DateTime {
            base: "datetime",
            fsp: p.unwrap_or(0),
        },
        D::Timestamp(p, tz) => Shape::DateTime {
            base: if matches!(
                tz,
                sqlparser::ast::TimezoneInfo::WithTimeZone | sqlparser::ast::TimezoneInfo::Tz
            ) {
                "timestamptz"
            } else {
                "timestamp"
            },
            fsp: p.unwrap_or(0),
        },
        D::Time(p, _) => Shape::DateTime {
            base: "time",
            fsp: p.unwrap_or(0),
        },
        D::Enum(members, _) => Shape::Choice {
            set: false,
            values: members
                .iter()
                .map(|m| match m {
                    sqlparser::ast::EnumMember::Name(n)
                    | sqlparser::ast::EnumMember::NamedValue(n, _) => n.clone(),
                })
                .collect(),
        },
        D::Set(values) => Shape::Choice {
            set: true,
            values: values.clone(),
        },
        other => Shape::Other(other.to_string().to_ascii_uppercase()),
    }
}

/// Compare a column's type before and after a change.
pub fn compare(old: &DataType, new: &DataType) -> TypeChange {
    let wider = |in_place: bool| TypeChange::Wider {
        in_place,
        may_cross_255: false,
    };
    let (a, b) = (shape(old), shape(new));
    if a == b {
        return TypeChange::Same;
    }
    match (a, b) {
        (
            Shape::Int {
                rank: r1,
                unsigned: u1,
            },
            Shape::Int {
                rank: r2,
                unsigned: u2,
            },
        ) => {
            if (u1 == u2 && r2 >= r1) || (u1 && !u2 && r2 > r1) {
                wider(false)
            } else {
                TypeChange::Different
            }
        }
        (
            Shape::Text {
                varying: true,
                len: l1,
            },
            Shape::Text {
                varying: true,
                len: l2,
            },
        ) => match (l1, l2) {
            (Some(a), Some(b)) if b >= a => {
                // One length byte up to 255 bytes, two above: crossing copies.
                let may_cross_255 = [1u64, 2, 3, 4].iter().any(|k| a * k <= 255 && b * k > 255);
                TypeChange::Wider {
                    in_place: true,
                    may_cross_255,
                }
            }
            // PostgreSQL: VARCHAR(n) → VARCHAR (no limit) is wider.
            (Some(_), None) => wider(true),
            _ => TypeChange::Different,
        },
        (
            Shape::Text {
                varying: false,
                len: Some(a),
            },
            Shape::Text {
                varying: false,
                len: Some(b),
            },
        ) if b >= a => wider(false),
        (Shape::Text { .. }, Shape::Lob { text: true, rank }) if rank >= 2 => wider(false),
        (Shape::Lob { text: t1, rank: r1 }, Shape::Lob { text: t2, rank: r2 })
            if t1 == t2 && r2 >= r1 =>
        {
            wider(false)
        }
        (
            Shape::Binary { len: Some(a), .. },
            Shape::Binary {
                varying: true,
                len: Some(b),
            },
        ) if b >= a => wider(false),
        (Shape::Binary { .. }, Shape::Lob { text: false, rank }) if rank >= 2 => wider(false),
        (
            Shape::Decimal {
                precision: p1,
                scale: s1,
            },
            Shape::Decimal {
                precision: p2,
                scale: s2,
            },
        ) => {
            let (p1, p2) = (p1.unwrap_or(10) as i64, p2.unwrap_or(10) as i64);
            if s2 >= s1 && p2 - s2 >= p1 - s1 {
                wider(false)
            } else {
                TypeChange::Different
            }
        }
        (Shape::Float { rank: r1 }, Shape::Float { rank: r2 }) if r2 >= r1 => wider(false),
        (Shape::DateTime { base: b1, fsp: f1 }, Shape::DateTime { base: b2, fsp: f2 })
            if b1 == b2 && f2 >= f1 =>
        {
            wider(false)
        }
        (
            Shape::Choice {
                set: s1,
                values: v1,
            },
            Shape::Choice {
                set: s2,
                values: v2,
            },
        ) if s1 == s2 && v2.len() >= v1.len() && v2[..v1.len()] == v1[..] => wider(true),
        _ => TypeChange::Different,
    }
}

/// A column default that PostgreSQL evaluates per row (rewrites the table
/// when a column is added with it).
pub fn volatile_default(e: &Expr) -> bool {
    const VOLATILE: &[&str] = &[
        "random",
        "gen_random_uuid",
        "uuid_generate_v4",
        "uuid_generate_v1",
        "clock_timestamp",
        "timeofday",
        "nextval",
    ];
    let s = e.to_string().to_ascii_lowercase();
    VOLATILE.iter().any(|f| s.contains(&format!("{f}(")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::MySqlDialect;
    use sqlparser::parser::Parser;

    fn ty(s: &str) -> DataType {
        Parser::new(&MySqlDialect {})
            .try_with_sql(s)
            .unwrap()
            .parse_data_type()
            .unwrap()
    }

    fn cmp(a: &str, b: &str) -> TypeChange {
        compare(&ty(a), &ty(b))
    }

    #[test]
    fn type_changes_measured_on_mariadb_10_11() {
        use TypeChange::*;
        assert_eq!(cmp("VARCHAR(50)", "varchar(50)"), Same);
        assert_eq!(
            cmp("VARCHAR(50)", "VARCHAR(63)"),
            Wider {
                in_place: true,
                may_cross_255: false
            }
        );
        assert_eq!(
            cmp("VARCHAR(50)", "VARCHAR(64)"),
            Wider {
                in_place: true,
                may_cross_255: true
            }
        );
        assert_eq!(
            cmp("VARCHAR(100)", "VARCHAR(120)"),
            Wider {
                in_place: true,
                may_cross_255: false
            }
        );
        assert_eq!(
            cmp("VARCHAR(300)", "VARCHAR(1000)"),
            Wider {
                in_place: true,
                may_cross_255: false
            }
        );
        assert_eq!(cmp("VARCHAR(100)", "VARCHAR(40)"), Different);
        assert_eq!(
            cmp("INT", "BIGINT"),
            Wider {
                in_place: false,
                may_cross_255: false
            }
        );
        assert_eq!(
            cmp("INT UNSIGNED", "BIGINT"),
            Wider {
                in_place: false,
                may_cross_255: false
            }
        );
        assert_eq!(cmp("INT", "INT UNSIGNED"), Different);
        assert_eq!(cmp("BIGINT", "INT"), Different);
        assert_eq!(
            cmp("BLOB", "MEDIUMBLOB"),
            Wider {
                in_place: false,
                may_cross_255: false
            }
        );
        assert_eq!(cmp("MEDIUMBLOB", "BLOB"), Different);
        assert_eq!(
            cmp("VARCHAR(255)", "TEXT"),
            Wider {
                in_place: false,
                may_cross_255: false
            }
        );
        assert_eq!(
            cmp("DECIMAL(10,2)", "DECIMAL(12,2)"),
            Wider {
                in_place: false,
                may_cross_255: false
            }
        );
        assert_eq!(cmp("DECIMAL(10,2)", "DECIMAL(10,3)"), Different);
        assert_eq!(
            cmp("DATETIME", "DATETIME(6)"),
            Wider {
                in_place: false,
                may_cross_255: false
            }
        );
        assert_eq!(
            cmp("ENUM('a','b')", "ENUM('a','b','c')"),
            Wider {
                in_place: true,
                may_cross_255: false
            }
        );
        assert_eq!(cmp("ENUM('a','b')", "ENUM('c','a','b')"), Different);
        assert_eq!(cmp("CHAR(10)", "VARCHAR(20)"), Different);
        assert_eq!(cmp("VARCHAR(20)", "INT"), Different);
    }
}
