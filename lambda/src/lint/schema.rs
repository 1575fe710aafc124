//! What the lint knows about the schema the running release sees: the
//! tables, columns, views, routines and unique indexes created by the
//! migrations already applied, and which objects the pending migrations
//! create themselves (the running release never used those, so anything
//! done to them is safe). Keyed by [`Name`]: every name is compared the
//! way the server compares it.
//!
//! The model is rough on purpose: what it does not know (a table made by
//! other tools, a statement it could not parse) makes the rules assume the
//! worst, never the best.

use std::collections::{HashMap, HashSet};

use sqlparser::ast::{ColumnDef, ColumnOption, DataType, TableConstraint};

use super::name::{Name, Of};
use crate::dialect::Dialect;

#[derive(Debug, Clone)]
pub struct Schema {
    pub dialect: Dialect,
    tables: HashMap<Name, Table>,
    /// Views, routines (procedures, functions, events) and triggers:
    /// `true` = created by a pending migration.
    views: HashMap<Name, bool>,
    routines: HashMap<Name, bool>,
    triggers: HashMap<Name, bool>,
}

#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Created by a pending migration: the running release never saw it.
    pub new: bool,
    /// `None` when the columns are not known (`CREATE TABLE … LIKE`, `AS`).
    pub columns: Option<Vec<Column>>,
    /// Names of unique indexes and constraints.
    pub unique: HashSet<Name>,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: Name,
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
        let name = Name::ident(dialect, Of::Column, &def.name);
        Column::new(
            name,
            &def.data_type,
            def.options.iter().map(|o| &o.option),
            new,
        )
    }

    /// A column of this type with these options (`MODIFY`/`CHANGE` carry
    /// options without a column definition).
    pub fn new<'o>(
        name: Name,
        data_type: &DataType,
        options: impl Iterator<Item = &'o ColumnOption>,
        new: bool,
    ) -> Column {
        let mut c = Column {
            name,
            data_type: data_type.clone(),
            nullable: true,
            default: false,
            filled: is_serial(data_type),
            new,
        };
        for o in options {
            match o {
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

    pub fn table(&self, name: &Name) -> Option<&Table> {
        self.tables.get(name)
    }

    pub fn table_mut(&mut self, name: &Name) -> Option<&mut Table> {
        self.tables.get_mut(name)
    }

    /// Did a pending migration create this table? Unknown tables are old.
    pub fn is_new_table(&self, name: &Name) -> bool {
        self.tables.get(name).is_some_and(|t| t.new)
    }

    pub fn create_table(
        &mut self,
        name: Name,
        columns: Option<Vec<Column>>,
        unique: HashSet<Name>,
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

    pub fn drop_table(&mut self, name: &Name) {
        self.tables.remove(name);
    }

    pub fn rename_table(&mut self, from: &Name, to: Name) {
        // Unknown before: still unknown (not new) under the new name.
        let t = self.tables.remove(from).unwrap_or_default();
        self.tables.insert(to, t);
    }

    pub fn column(&self, table: &Name, col: &Name) -> Option<&Column> {
        self.tables
            .get(table)?
            .columns
            .as_ref()?
            .iter()
            .find(|c| &c.name == col)
    }

    pub fn column_mut(&mut self, table: &Name, col: &Name) -> Option<&mut Column> {
        self.tables
            .get_mut(table)?
            .columns
            .as_mut()?
            .iter_mut()
            .find(|c| &c.name == col)
    }

    pub fn add_column(&mut self, table: &Name, c: Column) {
        if let Some(cols) = self.tables.get_mut(table).and_then(|t| t.columns.as_mut()) {
            cols.retain(|x| x.name != c.name);
            cols.push(c);
        }
    }

    pub fn drop_column(&mut self, table: &Name, col: &Name) {
        if let Some(cols) = self.tables.get_mut(table).and_then(|t| t.columns.as_mut()) {
            cols.retain(|x| &x.name != col);
        }
    }

    pub fn view(&self, name: &Name) -> Option<bool> {
        self.views.get(name).copied()
    }
    pub fn set_view(&mut self, name: Name, new: bool) {
        self.views.insert(name, new);
    }
    pub fn drop_view(&mut self, name: &Name) {
        self.views.remove(name);
    }

    pub fn routine(&self, name: &Name) -> Option<bool> {
        self.routines.get(name).copied()
    }
    pub fn set_routine(&mut self, name: Name, new: bool) {
        self.routines.insert(name, new);
    }
    pub fn drop_routine(&mut self, name: &Name) {
        self.routines.remove(name);
    }

    pub fn trigger(&self, name: &Name) -> Option<bool> {
        self.triggers.get(name).copied()
    }
    pub fn set_trigger(&mut self, name: Name, new: bool) {
        self.triggers.insert(name, new);
    }
    pub fn drop_trigger(&mut self, name: &Name) {
        self.triggers.remove(name);
    }

    /// The table that has a unique index of this name, if known.
    pub fn unique_owner(&self, index: &Name) -> Option<&Name> {
        self.tables
            .iter()
            .find(|(_, t)| t.unique.contains(index))
            .map(|(n, _)| n)
    }
}

/// Names of the unique indexes/constraints declared in a CREATE TABLE.
pub fn unique_names(
    columns: &[ColumnDef],
    constraints: &[TableConstraint],
    dialect: Dialect,
) -> HashSet<Name> {
    let mut out = HashSet::new();
    for c in constraints {
        if let TableConstraint::Unique(u) = c {
            if let Some(n) = u.index_name.as_ref().or(u.name.as_ref()) {
                out.insert(Name::ident(dialect, Of::Index, n));
            } else if let Some(first) = u.columns.first() {
                out.insert(Name::index_after(dialect, &first.column.expr));
            }
        }
    }
    for def in columns {
        if def
            .options
            .iter()
            .any(|o| matches!(o.option, ColumnOption::Unique(_)))
        {
            out.insert(Name::ident(dialect, Of::Index, &def.name));
        }
    }
    out
}
