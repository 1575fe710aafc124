//! Constraints added to a table: a new unique key, primary key, foreign key
//! or check meets the rows already there.

use sqlparser::ast::{CheckConstraint, ForeignKeyConstraint, IndexColumn, TableConstraint};

use crate::lint::cx::{At, Cx};
use crate::lint::name::{Name, Of};
use crate::lint::rules::Id;

/// The columns of a key as written (for messages) and as names.
fn key_columns(
    dialect: crate::dialect::Dialect,
    cs: &[IndexColumn],
) -> (Vec<String>, Vec<Option<Name>>) {
    cs.iter()
        .map(|i| {
            (
                i.column.expr.to_string(),
                Name::column(dialect, &i.column.expr),
            )
        })
        .unzip()
}

impl Cx<'_> {
    /// `ALTER TABLE t ADD <c>` (`not_valid`: PostgreSQL's `NOT VALID`).
    pub(in crate::lint) fn add_constraint(
        &mut self,
        t: &Name,
        c: &TableConstraint,
        not_valid: bool,
        at: At,
    ) {
        let old = self.old_table(t);
        match c {
            TableConstraint::Unique(u) => {
                let (shown, cols) = key_columns(self.dialect, &u.columns);
                let n = match u.index_name.as_ref().or(u.name.as_ref()) {
                    Some(n) => self.ident(Of::Index, n),
                    None => u
                        .columns
                        .first()
                        .map(|c| Name::index_after(self.dialect, &c.column.expr))
                        .unwrap_or_else(|| Name::new(self.dialect, Of::Index, "", true)),
                };
                self.add_unique(t, n, &shown, &cols, at);
            }
            TableConstraint::PrimaryKey(p) => {
                let (shown, cols) = key_columns(self.dialect, &p.columns);
                if old && !self.all_new(t, &cols) {
                    self.hit(
                        Id::AddUnique,
                        at,
                        format!("PRIMARY KEY on existing table {t} ({})", shown.join(", ")),
                    );
                }
            }
            TableConstraint::UniqueUsingIndex(u) | TableConstraint::PrimaryKeyUsingIndex(u) => {
                if old {
                    self.hit(
                        Id::AddUnique,
                        at,
                        format!(
                            "UNIQUE/PRIMARY KEY {} on existing table {t}",
                            u.name.as_ref().map(|n| n.value.as_str()).unwrap_or("")
                        ),
                    );
                }
            }
            TableConstraint::ForeignKey(fk) => self.add_foreign_key(t, fk, not_valid, at),
            TableConstraint::Check(ck) => self.add_check(t, ck, not_valid, at),
            TableConstraint::Index(_) => {}
            TableConstraint::FulltextOrSpatial(f) => {
                if f.fulltext {
                    self.fulltext_index(t, "ADD FULLTEXT index", at);
                }
            }
            TableConstraint::Exclude(_) => {
                if old {
                    self.hit(
                        Id::AddUnique,
                        at,
                        format!("EXCLUDE constraint on existing table {t}"),
                    );
                }
            }
        }
    }

    /// A unique key `n` over `cols` (written `shown`): existing rows may
    /// hold duplicates, unless every column is new.
    fn add_unique(&mut self, t: &Name, n: Name, shown: &[String], cols: &[Option<Name>], at: At) {
        if self.old_table(t) && !self.all_new(t, cols) {
            self.hit(
                Id::AddUnique,
                at,
                format!("UNIQUE {n} on existing table {t} ({})", shown.join(", ")),
            );
            self.hit(
                Id::LockCreateIndex,
                at,
                format!("ADD UNIQUE {n} on {t} builds its index while writes wait"),
            );
        }
        if let Some(x) = self.schema.table_mut(t) {
            x.unique.insert(n);
        }
    }

    fn add_foreign_key(&mut self, t: &Name, fk: &ForeignKeyConstraint, not_valid: bool, at: At) {
        let shown: Vec<&str> = fk.columns.iter().map(|c| c.value.as_str()).collect();
        let cols: Vec<Option<Name>> = fk
            .columns
            .iter()
            .map(|c| Some(self.ident(Of::Column, c)))
            .collect();
        if !self.old_table(t) || self.all_new(t, &cols) {
            return;
        }
        let n = fk.name.as_ref().map(|n| n.value.as_str()).unwrap_or("");
        self.hit(
            Id::AddConstraint,
            at,
            format!(
                "FOREIGN KEY {n} on existing table {t} ({}) → {}",
                shown.join(", "),
                fk.foreign_table
            ),
        );
        if !self.fk_checks_off {
            self.hit(
                Id::CopyForeignKey,
                at,
                format!("ALTER TABLE {t} ADD FOREIGN KEY {n}"),
            );
        }
        if !not_valid {
            self.hit(
                Id::ScanAddConstraint,
                at,
                format!("ALTER TABLE {t} ADD FOREIGN KEY {n} without NOT VALID"),
            );
        }
    }

    fn add_check(&mut self, t: &Name, ck: &CheckConstraint, not_valid: bool, at: At) {
        if !self.old_table(t) {
            return;
        }
        let n = ck.name.as_ref().map(|n| n.value.as_str()).unwrap_or("");
        self.hit(
            Id::AddConstraint,
            at,
            format!("CHECK {n} ({}) on existing table {t}", ck.expr),
        );
        self.hit(Id::CopyCheck, at, format!("ALTER TABLE {t} ADD CHECK {n}"));
        if !not_valid {
            self.hit(
                Id::ScanAddConstraint,
                at,
                format!("ALTER TABLE {t} ADD CHECK {n} without NOT VALID"),
            );
        }
    }
}
