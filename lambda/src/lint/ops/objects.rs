//! Tables, views, routines, triggers and indexes: created, replaced,
//! renamed, dropped.

use std::collections::HashSet;

use crate::lint::cx::{At, Cx};
use crate::lint::name::Name;
use crate::lint::rules::Id;
use crate::lint::schema::Column;

/// A `CREATE [UNIQUE] INDEX` as the rules need it.
pub(in crate::lint) struct Index {
    pub(in crate::lint) table: Name,
    pub(in crate::lint) name: Name,
    /// The indexed columns as written, for messages.
    pub(in crate::lint) shown: Vec<String>,
    /// The columns they name (`None`: an expression).
    pub(in crate::lint) columns: Vec<Option<Name>>,
    pub(in crate::lint) unique: bool,
    pub(in crate::lint) concurrently: bool,
    /// `ALGORITHM=COPY`.
    pub(in crate::lint) copy: bool,
}

impl Cx<'_> {
    /// `columns`: `None` when not known (`CREATE TABLE … LIKE`, `AS`).
    pub(in crate::lint) fn create_table(
        &mut self,
        n: Name,
        columns: Option<Vec<Column>>,
        unique: HashSet<Name>,
        (or_replace, if_not_exists): (bool, bool),
        at: At,
    ) {
        if self.schema.table(&n).is_some() {
            if or_replace && self.old_table(&n) {
                self.hit(
                    Id::DropTable,
                    at,
                    format!("CREATE OR REPLACE TABLE {n} replaces the existing table"),
                );
            } else if if_not_exists {
                return;
            }
        }
        self.schema.create_table(n, columns, unique, self.pending);
    }

    pub(in crate::lint) fn drop_table(&mut self, n: &Name, temporary: bool, at: At) {
        if !temporary && self.old_table(n) {
            self.hit(Id::DropTable, at, format!("DROP TABLE {n}"));
        }
        self.schema.drop_table(n);
    }

    pub(in crate::lint) fn rename_table(&mut self, from: &Name, to: Name, at: At) {
        if self.old_table(from) {
            self.hit(Id::RenameTable, at, format!("RENAME TABLE {from} TO {to}"));
        }
        self.schema.rename_table(from, to);
    }

    pub(in crate::lint) fn truncate(&mut self, n: &Name, at: At) {
        if self.old_table(n) {
            self.hit(Id::Truncate, at, format!("TRUNCATE {n}"));
        }
    }

    pub(in crate::lint) fn create_view(&mut self, n: Name, replace: bool, at: At) {
        if replace && self.schema.view(&n) == Some(false) {
            self.hit(Id::ReplaceView, at, format!("CREATE OR REPLACE VIEW {n}"));
        }
        if self.schema.view(&n).is_none() {
            self.schema.set_view(n, self.pending);
        }
    }

    pub(in crate::lint) fn alter_view(&mut self, n: &Name, at: At) {
        if self.schema.view(n) != Some(true) {
            self.hit(Id::ReplaceView, at, format!("ALTER VIEW {n}"));
        }
    }

    pub(in crate::lint) fn drop_view(&mut self, n: &Name, at: At) {
        if self.schema.view(n) != Some(true) {
            self.hit(Id::DropView, at, format!("DROP VIEW {n}"));
        }
        self.schema.drop_view(n);
    }

    /// `what`: `PROCEDURE`, `FUNCTION` or `EVENT`.
    pub(in crate::lint) fn create_routine(&mut self, what: &str, n: Name, replace: bool, at: At) {
        if replace && self.schema.routine(&n) == Some(false) {
            self.hit(
                Id::ReplaceRoutine,
                at,
                format!("CREATE OR REPLACE {what} {n}"),
            );
        }
        if self.schema.routine(&n).is_none() {
            self.schema.set_routine(n, self.pending);
        }
    }

    pub(in crate::lint) fn drop_routine(&mut self, what: &str, n: &Name, at: At) {
        if self.schema.routine(n) != Some(true) {
            self.hit(Id::DropRoutine, at, format!("DROP {what} {n}"));
        }
        self.schema.drop_routine(n);
    }

    /// The trigger itself; what its body does is read apart.
    pub(in crate::lint) fn create_trigger(&mut self, n: &Name, replace: bool, at: At) {
        if replace && self.schema.trigger(n) == Some(false) {
            self.hit(
                Id::ReplaceRoutine,
                at,
                format!("CREATE OR REPLACE TRIGGER {n}"),
            );
        }
        if self.schema.trigger(n).is_none() {
            self.schema.set_trigger(n.clone(), self.pending);
        }
    }

    pub(in crate::lint) fn drop_trigger(&mut self, n: &Name, at: At) {
        if self.schema.trigger(n) != Some(true) {
            self.hit(Id::DropTrigger, at, format!("DROP TRIGGER {n}"));
        }
        self.schema.drop_trigger(n);
    }

    pub(in crate::lint) fn create_index(&mut self, c: Index, at: At) {
        let Index { table: t, name, .. } = &c;
        let old = self.old_table(t) && !self.all_new(t, &c.columns);
        if c.unique && old {
            self.hit(
                Id::AddUnique,
                at,
                format!(
                    "UNIQUE index {name} on existing table {t} ({})",
                    c.shown.join(", ")
                ),
            );
        }
        if c.unique {
            if let Some(table) = self.schema.table_mut(t) {
                table.unique.insert(name.clone());
            }
        }
        if !c.concurrently && self.old_table(t) {
            self.hit(
                Id::LockCreateIndex,
                at,
                format!("CREATE INDEX {name} ON {t} without CONCURRENTLY"),
            );
        }
        if c.copy && self.old_table(t) {
            self.hit(
                Id::CopyAlgorithm,
                at,
                format!("CREATE INDEX {name} ON {t} with ALGORITHM=COPY"),
            );
        }
    }

    /// `DROP INDEX n [ON t]`, `ALTER TABLE t DROP INDEX/CONSTRAINT n`: only
    /// a unique one matters. Without a table, the one that has it.
    pub(in crate::lint) fn drop_index(&mut self, table: Option<&Name>, n: &Name, at: At) {
        let owner = match table {
            Some(t) => self
                .schema
                .table(t)
                .is_some_and(|x| x.unique.contains(n))
                .then(|| t.clone()),
            None => self.schema.unique_owner(n).cloned(),
        };
        let Some(t) = owner else { return };
        if self.old_table(&t) {
            self.hit(
                Id::DropUnique,
                at,
                format!("DROP INDEX {n} (unique) on {t}"),
            );
        }
        if let Some(x) = self.schema.table_mut(&t) {
            x.unique.remove(n);
        }
    }

    /// A FULLTEXT index on `t`; `what` starts the message.
    pub(in crate::lint) fn fulltext_index(&mut self, t: &Name, what: &str, at: At) {
        if self.old_table(t) {
            self.hit(Id::LockFulltext, at, format!("{what} on table {t}"));
        }
    }

    /// Every one of `cols` is a column a pending migration added.
    pub(in crate::lint) fn all_new(&self, t: &Name, cols: &[Option<Name>]) -> bool {
        !cols.is_empty()
            && cols.iter().all(|c| {
                c.as_ref()
                    .and_then(|c| self.schema.column(t, c))
                    .is_some_and(|c| c.new)
            })
    }
}

#[cfg(test)]
mod tests {
    use crate::dialect::Dialect;
    use crate::lint::script::tests::{ids, USERS_MY, USERS_PG};

    #[test]
    fn what_this_release_creates_it_may_change_freely() {
        let sql = "ALTER TABLE users ADD COLUMN email VARCHAR(50) NULL;\n\
                   ALTER TABLE users ADD CONSTRAINT u_email UNIQUE (email);\n\
                   ALTER TABLE users MODIFY email VARCHAR(40) NOT NULL;\n\
                   CREATE TABLE tmp (id INT);\nALTER TABLE tmp RENAME COLUMN id TO tid;\nDROP TABLE tmp;";
        assert_eq!(ids(Dialect::MariaDb, USERS_MY, sql), Vec::<String>::new());
        // A unique column added with a constant default duplicates at once.
        assert_eq!(
            ids(
                Dialect::MariaDb,
                USERS_MY,
                "ALTER TABLE users ADD COLUMN code INT NOT NULL DEFAULT 0 UNIQUE;"
            ),
            vec!["breaking[add-unique]"]
        );
        // Unknown tables are assumed in use.
        assert_eq!(
            ids(Dialect::MariaDb, "", "DROP TABLE made_by_hand;"),
            vec!["breaking[drop-table]"]
        );
    }

    /// Index names have no case on MariaDB, an unnamed unique key is named
    /// after its first column; on PostgreSQL the columns of an index fold
    /// like the columns they name.
    #[test]
    fn an_index_and_its_columns_are_named_as_the_server_names_them() {
        let before = "CREATE TABLE t (id INT, Body TEXT, Email VARCHAR(20) UNIQUE, UNIQUE KEY Uk (Body(10)), UNIQUE (id));";
        assert_eq!(
            ids(
                Dialect::MariaDb,
                before,
                "ALTER TABLE t DROP INDEX uk;\nALTER TABLE t DROP INDEX EMAIL;\nDROP INDEX ID ON t;"
            ),
            ["warning[drop-unique]"; 3]
        );
        let sql = "ALTER TABLE users ADD COLUMN Email TEXT NULL;\n\
                   CREATE UNIQUE INDEX CONCURRENTLY u_email ON users (Email);\n\
                   ALTER TABLE users ADD CONSTRAINT u2 UNIQUE (EMAIL);\n\
                   ALTER TABLE users ADD COLUMN \"Nick\" TEXT NULL;\n\
                   CREATE UNIQUE INDEX CONCURRENTLY u_nick ON users (\"Nick\");";
        assert_eq!(ids(Dialect::Postgres, USERS_PG, sql), Vec::<String>::new());
        // A quoted column is another column.
        assert_eq!(
            ids(
                Dialect::Postgres,
                USERS_PG,
                "ALTER TABLE users ADD COLUMN email TEXT NULL;\nCREATE UNIQUE INDEX CONCURRENTLY u ON users (\"Email\");"
            ),
            ["breaking[add-unique]"]
        );
    }
}
