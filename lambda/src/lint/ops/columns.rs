//! Columns: added, dropped, renamed, redefined (`MODIFY`/`CHANGE`), and
//! altered one property at a time (`ALTER COLUMN … SET NOT NULL`, `TYPE`).

use sqlparser::ast::{ColumnDef, ColumnOption, DataType, GeneratedExpressionMode};

use crate::lint::cx::{At, Cx};
use crate::lint::name::Name;
use crate::lint::rules::Id;
use crate::lint::schema::Column;
use crate::lint::types::{self, TypeChange};

/// A new definition of a column (`MODIFY`, `CHANGE`).
pub(in crate::lint) struct Redefined<'a> {
    pub(in crate::lint) data_type: &'a DataType,
    pub(in crate::lint) options: &'a [ColumnOption],
    /// `MODIFY` or `CHANGE`.
    pub(in crate::lint) verb: &'static str,
}

fn auto_increment(o: &ColumnOption) -> bool {
    matches!(o, ColumnOption::DialectSpecific(tokens) if tokens.iter().any(|x| x.to_string().eq_ignore_ascii_case("AUTO_INCREMENT")))
}

fn stored(o: &ColumnOption) -> bool {
    matches!(
        o,
        ColumnOption::Generated {
            generation_expr_mode: Some(GeneratedExpressionMode::Stored),
            ..
        }
    )
}

fn volatile(o: &ColumnOption) -> bool {
    matches!(o, ColumnOption::Default(e) if types::volatile_default(e))
}

impl Cx<'_> {
    pub(in crate::lint) fn add_column(&mut self, t: &Name, def: &ColumnDef, at: At) {
        let col = Column::from_def(def, self.dialect, self.pending);
        let name = &col.name;
        let old = self.old_table(t);
        if old && !col.nullable && !col.default && !col.filled {
            self.hit(
                Id::AddColumnNotNull,
                at,
                format!(
                    "ADD COLUMN {t}.{name} {} NOT NULL without a default",
                    def.data_type
                ),
            );
        }
        let options: Vec<&ColumnOption> = def.options.iter().map(|o| &o.option).collect();
        let unique = options
            .iter()
            .any(|o| matches!(o, ColumnOption::Unique(_) | ColumnOption::PrimaryKey(_)));
        // A new nullable column without a default holds only NULLs: no
        // duplicates, and the running release does not write it.
        let only_nulls = col.nullable && !col.default;
        if old && unique && !col.filled && !only_nulls {
            self.hit(
                Id::AddUnique,
                at,
                format!("ADD COLUMN {t}.{name} UNIQUE on existing rows"),
            );
        }
        if old {
            self.added_column_rewrites(t, name, &options, at);
        }
        if unique {
            if let Some(x) = self.schema.table_mut(t) {
                x.unique.insert(col.name.clone());
            }
        }
        self.schema.add_column(t, col);
    }

    /// What adding this column to an existing table makes the server do
    /// to the table.
    fn added_column_rewrites(&mut self, t: &Name, c: &Name, options: &[&ColumnOption], at: At) {
        if options.iter().any(|o| auto_increment(o)) {
            self.hit(
                Id::LockAutoIncrement,
                at,
                format!("ADD COLUMN {t}.{c} AUTO_INCREMENT"),
            );
        }
        if options.iter().any(|o| stored(o)) {
            self.hit(
                Id::CopyStoredGenerated,
                at,
                format!("ADD COLUMN {t}.{c} … STORED"),
            );
        }
        if options.iter().any(|o| volatile(o)) {
            self.hit(
                Id::RewriteVolatileDefault,
                at,
                format!("ADD COLUMN {t}.{c} with a volatile default"),
            );
        }
    }

    pub(in crate::lint) fn drop_column(&mut self, t: &Name, c: &Name, at: At) {
        if self.old_column(t, c) {
            self.hit(Id::DropColumn, at, format!("DROP COLUMN {t}.{c}"));
        }
        self.schema.drop_column(t, c);
    }

    pub(in crate::lint) fn rename_column(&mut self, t: &Name, from: &Name, to: Name, at: At) {
        if self.old_column(t, from) {
            self.hit(
                Id::RenameColumn,
                at,
                format!("RENAME COLUMN {t}.{from} TO {to}"),
            );
        }
        if let Some(c) = self.schema.column_mut(t, from) {
            c.name = to;
        }
    }

    /// MariaDB `CHANGE from to <definition>` / `MODIFY c <definition>`:
    /// the column is defined anew (and renamed, when `to` differs).
    pub(in crate::lint) fn redefine(
        &mut self,
        t: &Name,
        from: &Name,
        to: &Name,
        new: Redefined,
        at: At,
    ) {
        if from != to && self.old_column(t, from) {
            self.hit(
                Id::RenameColumn,
                at,
                format!("CHANGE COLUMN {t}.{from} TO {to}"),
            );
        }
        let mut col = Column::new(to.clone(), new.data_type, new.options.iter(), false);
        let subject = format!("{} COLUMN {t}.{from}", new.verb);
        match self.schema.column(t, from).cloned() {
            Some(old) => {
                col.new = old.new;
                if self.old_column(t, from) {
                    self.redefined(t, from, &old, &col, &subject, at);
                }
                self.schema.drop_column(t, from);
            }
            None => {
                if self.old_table(t) {
                    let ty = new.data_type;
                    self.hit(
                        Id::ChangeType,
                        at,
                        format!("{subject} {ty}: its current definition is not known from the migrations, so the change cannot be checked"),
                    );
                    self.hit(
                        Id::CopyTypeChange,
                        at,
                        format!("{subject} to {ty} may copy table {t}"),
                    );
                }
            }
        }
        self.schema.add_column(t, col);
        let charset = new
            .options
            .iter()
            .any(|o| matches!(o, ColumnOption::CharacterSet(_)));
        if charset && self.old_table(t) {
            self.hit(
                Id::CopyCharset,
                at,
                format!("{subject}: CHARACTER SET on table {t}"),
            );
        }
    }

    /// An existing column `old` of the running release becomes `new`.
    fn redefined(&mut self, t: &Name, c: &Name, old: &Column, new: &Column, subject: &str, at: At) {
        self.type_change(t, c, &old.data_type, &new.data_type, subject, at);
        if old.nullable && !new.nullable {
            self.hit(Id::SetNotNull, at, format!("{subject}: becomes NOT NULL"));
        }
        if old.default && !new.default && !new.filled {
            self.hit(
                Id::DropDefault,
                at,
                format!("{subject}: the new definition has no DEFAULT"),
            );
        }
    }

    fn type_change(
        &mut self,
        t: &Name,
        c: &Name,
        old: &DataType,
        new: &DataType,
        subject: &str,
        at: At,
    ) {
        // PostgreSQL: VARCHAR → TEXT is binary-coercible, no rewrite.
        let pg_text = !self.maria()
            && matches!(new, DataType::Text)
            && matches!(
                old,
                DataType::Varchar(_)
                    | DataType::CharacterVarying(_)
                    | DataType::CharVarying(_)
                    | DataType::Text
            );
        match types::compare(old, new) {
            TypeChange::Same => {}
            TypeChange::Different => {
                self.hit(Id::ChangeType, at, format!("{subject}: {old} → {new}"));
                self.blocking_type(t, c, old, new, at);
            }
            TypeChange::Wider {
                in_place,
                may_cross_255,
            } => {
                if self.maria() && may_cross_255 {
                    self.hit(
                        Id::CopyVarcharLength,
                        at,
                        format!("{subject}: {old} → {new} on table {t}"),
                    );
                } else if !in_place && !pg_text {
                    self.blocking_type(t, c, old, new, at);
                }
            }
        }
    }

    /// The dialect's rule for a type change that rewrites the table.
    fn rewrite_rule(&self) -> Id {
        if self.maria() {
            Id::CopyTypeChange
        } else {
            Id::RewriteTypeChange
        }
    }

    fn blocking_type(&mut self, t: &Name, c: &Name, old: &DataType, new: &DataType, at: At) {
        let id = self.rewrite_rule();
        self.hit(id, at, format!("{t}.{c}: {old} → {new} on table {t}"));
    }

    pub(in crate::lint) fn set_not_null(&mut self, t: &Name, c: &Name, at: At) {
        if self.old_column(t, c) {
            self.hit(
                Id::SetNotNull,
                at,
                format!("ALTER COLUMN {t}.{c} SET NOT NULL"),
            );
            self.hit(
                Id::ScanSetNotNull,
                at,
                format!("ALTER COLUMN {t}.{c} SET NOT NULL on table {t}"),
            );
        }
        if let Some(x) = self.schema.column_mut(t, c) {
            x.nullable = false;
        }
    }

    pub(in crate::lint) fn drop_not_null(&mut self, t: &Name, c: &Name) {
        if let Some(x) = self.schema.column_mut(t, c) {
            x.nullable = true;
        }
    }

    pub(in crate::lint) fn set_default(&mut self, t: &Name, c: &Name) {
        if let Some(x) = self.schema.column_mut(t, c) {
            x.default = true;
        }
    }

    pub(in crate::lint) fn drop_default(&mut self, t: &Name, c: &Name, at: At) {
        if self.old_column(t, c) {
            self.hit(
                Id::DropDefault,
                at,
                format!("ALTER COLUMN {t}.{c} DROP DEFAULT"),
            );
        }
        if let Some(x) = self.schema.column_mut(t, c) {
            x.default = false;
        }
    }

    /// `ALTER COLUMN c TYPE data_type`.
    pub(in crate::lint) fn set_type(&mut self, t: &Name, c: &Name, data_type: &DataType, at: At) {
        let subject = format!("ALTER COLUMN {t}.{c} TYPE");
        match self.schema.column(t, c).map(|x| x.data_type.clone()) {
            Some(prev) if self.old_column(t, c) => {
                self.type_change(t, c, &prev, data_type, &subject, at)
            }
            Some(_) => {}
            None if self.old_table(t) => {
                self.hit(
                    Id::ChangeType,
                    at,
                    format!("{subject} {data_type}: its current type is not known from the migrations, so the change cannot be checked"),
                );
                let id = self.rewrite_rule();
                self.hit(
                    id,
                    at,
                    format!("{subject} {data_type} may rewrite table {t}"),
                );
            }
            None => {}
        }
        if let Some(x) = self.schema.column_mut(t, c) {
            x.data_type = data_type.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::dialect::Dialect;
    use crate::lint::script::tests::{ids, USERS_MY};

    #[test]
    fn modify_is_a_whole_new_definition() {
        // Same type, keeps NOT NULL and the default: nothing.
        assert!(ids(
            Dialect::MariaDb,
            USERS_MY,
            "ALTER TABLE users MODIFY plan VARCHAR(20) NOT NULL DEFAULT 'team';"
        )
        .is_empty());
        // Loses NULL: breaking.
        assert_eq!(
            ids(
                Dialect::MariaDb,
                USERS_MY,
                "ALTER TABLE users MODIFY name VARCHAR(100) NOT NULL DEFAULT '';"
            ),
            vec!["breaking[set-not-null]"]
        );
        // An unknown column: its current definition cannot be checked.
        assert_eq!(
            ids(
                Dialect::MariaDb,
                USERS_MY,
                "ALTER TABLE legacy MODIFY x INT;"
            ),
            vec!["breaking[change-type]", "blocking[copy-type-change]"]
        );
    }
}
