//! The syntax-tree path: a statement sqlparser read, turned into schema
//! operations ([`super::ops`]) with its names made [`Name`]s; statements
//! about the session or the server go to [`super::session`], statements
//! whose body is code to [`super::body`].

use sqlparser::ast::{
    AlterColumnOperation, AlterTable, AlterTableAlgorithm, AlterTableOperation, CreateIndex,
    CreateTable, ObjectName, ObjectType, RenameTableNameKind as RenameTo, Statement,
    TableConstraint,
};

use super::cx::{At, Cx};
use super::name::{Name, Of};
use super::ops::{Index, Redefined};
use super::rules::Id;
use super::schema::{self, Column};
use super::split::Piece;
use super::statement::short;

impl Cx<'_> {
    pub(super) fn statement(&mut self, s: &Statement, at: At, op_lines: &[usize], piece: &Piece) {
        if self.schema_statement(s, at, op_lines, piece) || self.session_statement(s, at, piece) {
            return;
        }
        match s {
            // Statements that leave what the running release sees alone.
            Statement::Insert(_)
            | Statement::Query(_)
            | Statement::Deallocate { .. }
            | Statement::Comment { .. }
            | Statement::Analyze(_)
            | Statement::CreateSequence { .. }
            | Statement::CreateType { .. }
            | Statement::CreateExtension(_)
            | Statement::CreateSchema { .. }
            | Statement::CreateDatabase { .. }
            | Statement::CreateDomain(_)
            | Statement::CreatePolicy(_)
            | Statement::AlterIndex { .. }
            | Statement::AlterSchema(_)
            | Statement::AlterPolicy(_)
            | Statement::UnlockTables
            | Statement::Lock(_) => {}
            Statement::DropExtension(_)
            | Statement::DropDomain(_)
            | Statement::DropPolicy(_)
            | Statement::DropOperator(_)
            | Statement::DropOperatorFamily(_)
            | Statement::DropOperatorClass(_) => {
                self.hit(Id::DropObject, at, format!("`{}`", short(&piece.text)));
            }
            _ => self.hit(Id::Unrecognized, at, format!("`{}`", short(&piece.text))),
        }
    }

    /// Statements that change tables, views, routines or triggers, or the
    /// rows of a table. `false`: not one of those.
    fn schema_statement(
        &mut self,
        s: &Statement,
        at: At,
        op_lines: &[usize],
        piece: &Piece,
    ) -> bool {
        match s {
            Statement::CreateTable(c) => self.create_table_statement(c, at),
            Statement::AlterTable(a) => self.alter_table(a, at, op_lines),
            Statement::CreateIndex(c) => self.create_index_statement(c, at),
            Statement::Drop {
                object_type,
                names,
                temporary,
                table,
                ..
            } => {
                for n in names {
                    self.drop(*object_type, n, *temporary, table.as_ref(), at);
                }
            }
            Statement::RenameTable(renames) => {
                for r in renames {
                    let from = self.name(Of::Table, &r.old_name);
                    let to = self.name(Of::Table, &r.new_name);
                    self.rename_table(&from, to, at);
                }
            }
            Statement::Truncate(t) => {
                for target in &t.table_names {
                    let n = self.name(Of::Table, &target.name);
                    self.truncate(&n, at);
                }
            }
            Statement::Delete(d) if d.selection.is_none() => {
                self.hit(Id::DeleteAll, at, format!("`{}`", short(&piece.text)))
            }
            Statement::Update(u) if u.selection.is_none() => {
                self.hit(Id::UpdateAll, at, format!("`{}`", short(&piece.text)))
            }
            Statement::Delete(_) | Statement::Update(_) => {}
            _ => return self.code_statement(s, at, piece),
        }
        true
    }

    /// Views, routines and triggers. `false`: not one of those.
    fn code_statement(&mut self, s: &Statement, at: At, piece: &Piece) -> bool {
        match s {
            Statement::CreateView(v) => {
                let n = self.name(Of::Table, &v.name);
                self.create_view(n, v.or_replace || v.or_alter, at);
            }
            Statement::AlterView(v) => {
                let n = self.name(Of::Table, &v.name);
                self.alter_view(&n, at);
            }
            Statement::CreateFunction(f) => {
                let n = self.name(Of::Routine, &f.name);
                self.create_routine("FUNCTION", n, f.or_replace || f.or_alter, at);
            }
            Statement::CreateProcedure { name, or_alter, .. } => {
                let n = self.name(Of::Routine, name);
                self.create_routine("PROCEDURE", n, *or_alter, at);
            }
            Statement::DropFunction(d) => {
                for f in &d.func_desc {
                    let n = self.name(Of::Routine, &f.name);
                    self.drop_routine("FUNCTION", &n, at);
                }
            }
            Statement::DropProcedure { proc_desc, .. } => {
                for f in proc_desc {
                    let n = self.name(Of::Routine, &f.name);
                    self.drop_routine("PROCEDURE", &n, at);
                }
            }
            Statement::CreateTrigger(t) => {
                let n = self.name(Of::Table, &t.name);
                self.create_trigger(&n, t.or_replace || t.or_alter, at);
                let table = self.name(Of::Table, &t.table_name);
                self.trigger_body(piece, &n, &table, at);
            }
            Statement::DropTrigger(d) => {
                let n = self.name(Of::Table, &d.trigger_name);
                self.drop_trigger(&n, at);
            }
            _ => return false,
        }
        true
    }

    /// Statements about the run's session or the server. `false`: not one
    /// of those.
    fn session_statement(&mut self, s: &Statement, at: At, piece: &Piece) -> bool {
        let shown = || format!("`{}`", short(&piece.text));
        match s {
            Statement::Set(set) => self.set(set, at, piece),
            Statement::StartTransaction { .. }
            | Statement::Commit { .. }
            | Statement::Rollback { .. }
            | Statement::Savepoint { .. }
            | Statement::ReleaseSavepoint { .. } => self.transaction(s, at, piece),
            Statement::Use(_) => self.hit(Id::ChangeDatabase, at, shown()),
            Statement::LockTables { .. } => self.hit(Id::LockTables, at, shown()),
            Statement::Flush {
                read_lock, export, ..
            } => {
                let id = if *read_lock || *export {
                    Id::LockTables
                } else {
                    Id::ServerWide
                };
                self.hit(id, at, shown());
            }
            Statement::Kill { .. } => self.hit(Id::ServerWide, at, shown()),
            Statement::Grant(_)
            | Statement::Revoke(_)
            | Statement::CreateRole(_)
            | Statement::CreateUser(_)
            | Statement::AlterRole { .. }
            | Statement::AlterUser(_) => self.hit(Id::Privileges, at, shown()),
            Statement::Reset(_) | Statement::Discard { .. } => self.reset(s, at, piece),
            Statement::Prepare { .. } | Statement::Execute { .. } => self.dynamic(s, at, piece),
            _ => return false,
        }
        true
    }

    fn create_table_statement(&mut self, c: &CreateTable, at: At) {
        let n = self.name(Of::Table, &c.name);
        let columns = (c.query.is_none() && c.like.is_none() && c.clone.is_none()).then(|| {
            c.columns
                .iter()
                .map(|d| Column::from_def(d, self.dialect, self.pending))
                .collect()
        });
        let unique = schema::unique_names(&c.columns, &c.constraints, self.dialect);
        self.create_table(n, columns, unique, (c.or_replace, c.if_not_exists), at);
    }

    fn create_index_statement(&mut self, c: &CreateIndex, at: At) {
        let exprs = c.columns.iter().map(|i| &i.column.expr);
        let name = match (&c.name, c.columns.first()) {
            (Some(n), _) => self.name(Of::Index, n),
            (None, Some(first)) => Name::index_after(self.dialect, &first.column.expr),
            (None, None) => Name::new(self.dialect, Of::Index, "", true),
        };
        let index = Index {
            table: self.name(Of::Table, &c.table_name),
            name,
            shown: exprs.clone().map(|e| e.to_string()).collect(),
            columns: exprs.map(|e| Name::column(self.dialect, e)).collect(),
            unique: c.unique,
            concurrently: c.concurrently,
            copy: c.alter_options.iter().any(|o| {
                matches!(
                    o,
                    AlterTableOperation::Algorithm {
                        algorithm: AlterTableAlgorithm::Copy,
                        ..
                    }
                )
            }),
        };
        self.create_index(index, at);
    }

    fn drop(
        &mut self,
        object_type: ObjectType,
        n: &ObjectName,
        temporary: bool,
        table: Option<&ObjectName>,
        at: At,
    ) {
        let what = object_type.to_string().to_ascii_uppercase();
        match object_type {
            ObjectType::Table => self.drop_table(&self.name(Of::Table, n), temporary, at),
            ObjectType::View | ObjectType::MaterializedView => {
                self.drop_view(&self.name(Of::Table, n), at)
            }
            ObjectType::Index => {
                let t = table.map(|t| self.name(Of::Table, t));
                self.drop_index(t.as_ref(), &self.name(Of::Index, n), at);
            }
            ObjectType::Schema | ObjectType::Database => {
                let name = self.name(Of::Table, n);
                self.hit(Id::DropDatabase, at, format!("DROP DATABASE {name}"))
            }
            ObjectType::Role | ObjectType::User => {
                let name = self.name(Of::Table, n);
                self.hit(Id::Privileges, at, format!("DROP {what} {name}"))
            }
            _ => {
                let name = self.name(Of::Table, n);
                self.hit(Id::DropObject, at, format!("DROP {what} {name}"))
            }
        }
    }

    /// Each operation on its own line (`op_lines`, when known).
    pub(super) fn alter_table(&mut self, a: &AlterTable, at: At, op_lines: &[usize]) {
        let t = self.name(Of::Table, &a.name);
        let adds_pk = a.operations.iter().any(|o| {
            matches!(
                o,
                AlterTableOperation::AddConstraint {
                    constraint: TableConstraint::PrimaryKey(_),
                    ..
                }
            )
        });
        for (i, op) in a.operations.iter().enumerate() {
            let at = At {
                line: op_lines.get(i).copied().unwrap_or(at.line),
                statement: at.statement,
            };
            if !self.column_op(&t, op, at) {
                self.table_op(&t, op, at, adds_pk);
            }
        }
    }

    /// Operations on one column. `false`: not one of those.
    fn column_op(&mut self, t: &Name, op: &AlterTableOperation, at: At) -> bool {
        use AlterTableOperation as O;
        match op {
            O::AddColumn { column_def, .. } => self.add_column(t, column_def, at),
            O::DropColumn { column_names, .. } => {
                for c in column_names {
                    self.drop_column(t, &self.ident(Of::Column, c), at);
                }
            }
            O::RenameColumn {
                old_column_name,
                new_column_name,
            } => {
                let from = self.ident(Of::Column, old_column_name);
                let to = self.ident(Of::Column, new_column_name);
                self.rename_column(t, &from, to, at);
            }
            O::ChangeColumn {
                old_name,
                new_name,
                data_type,
                options,
                ..
            } => {
                let from = self.ident(Of::Column, old_name);
                let to = self.ident(Of::Column, new_name);
                let new = Redefined {
                    data_type,
                    options,
                    verb: "CHANGE",
                };
                self.redefine(t, &from, &to, new, at);
            }
            O::ModifyColumn {
                col_name,
                data_type,
                options,
                ..
            } => {
                let c = self.ident(Of::Column, col_name);
                let new = Redefined {
                    data_type,
                    options,
                    verb: "MODIFY",
                };
                self.redefine(t, &c, &c, new, at);
            }
            O::AlterColumn { column_name, op } => {
                self.alter_column(t, &self.ident(Of::Column, column_name), op, at)
            }
            _ => return false,
        }
        true
    }

    /// Operations on the table as a whole.
    fn table_op(&mut self, t: &Name, op: &AlterTableOperation, at: At, adds_pk: bool) {
        use AlterTableOperation as O;
        match op {
            O::RenameTable { table_name } => {
                let to = match table_name {
                    RenameTo::As(n) | RenameTo::To(n) => self.name(Of::Table, n),
                };
                self.rename_table(t, to, at);
            }
            O::AddConstraint {
                constraint,
                not_valid,
            } => self.add_constraint(t, constraint, *not_valid, at),
            O::DropConstraint { name, .. } | O::DropIndex { name } => {
                self.drop_index(Some(t), &self.ident(Of::Index, name), at)
            }
            O::DropPrimaryKey { .. } => self.drop_primary_key(t, adds_pk, at),
            O::Algorithm {
                algorithm: AlterTableAlgorithm::Copy,
                ..
            } => self.copy_algorithm(t, at),
            O::DropPartitions { .. } | O::DetachPartitionOf { .. } => {
                self.drop_partition(t, "DROP/DETACH PARTITION", at)
            }
            O::DisableTrigger { name } | O::DisableRule { name } => {
                self.disable_trigger(t, &name.to_string(), at)
            }
            O::Algorithm { .. }
            | O::Lock { .. }
            | O::AutoIncrement { .. }
            | O::DropForeignKey { .. }
            | O::RenameConstraint { .. }
            | O::ValidateConstraint { .. }
            | O::OwnerTo { .. }
            | O::SetOptionsParens { .. }
            | O::ResetOptions { .. }
            | O::AddPartitions { .. }
            | O::AttachPartitionOf { .. }
            | O::EnableTrigger { .. }
            | O::EnableAlwaysTrigger { .. }
            | O::EnableReplicaTrigger { .. }
            | O::EnableRule { .. }
            | O::EnableAlwaysRule { .. }
            | O::EnableReplicaRule { .. }
            | O::EnableRowLevelSecurity
            | O::DisableRowLevelSecurity
            | O::ForceRowLevelSecurity
            | O::NoForceRowLevelSecurity
            | O::ReplicaIdentity { .. }
            | O::SetLogged
            | O::SetUnlogged
            | O::Inherit { .. }
            | O::NoInherit { .. } => {}
            other => self.hit(Id::Unrecognized, at, format!("ALTER TABLE {t} {other}")),
        }
    }

    fn alter_column(&mut self, t: &Name, c: &Name, op: &AlterColumnOperation, at: At) {
        use AlterColumnOperation as A;
        match op {
            A::SetNotNull => self.set_not_null(t, c, at),
            A::DropNotNull => self.drop_not_null(t, c),
            A::SetDefault { .. } => self.set_default(t, c),
            A::DropDefault => self.drop_default(t, c, at),
            A::SetDataType { data_type, .. } => self.set_type(t, c, data_type, at),
            A::AddGenerated { .. } => {}
            other => {
                if self.old_column(t, c) {
                    self.hit(
                        Id::Unrecognized,
                        at,
                        format!("ALTER COLUMN {t}.{c} {other}"),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::dialect::Dialect;
    use crate::lint::script::tests::{hits, ids, USERS_MY, USERS_PG};

    #[test]
    fn each_operation_of_a_multi_line_alter_keeps_its_own_line() {
        let sql = "ALTER TABLE users\n  ADD COLUMN nick VARCHAR(20) NULL,\n  DROP COLUMN name,\n  MODIFY plan VARCHAR(20) NOT NULL;";
        assert_eq!(
            hits(Dialect::MariaDb, USERS_MY, sql),
            vec![
                ("breaking[drop-column]".into(), 3),
                ("breaking[drop-default]".into(), 4)
            ]
        );
    }

    #[test]
    fn postgres_rules() {
        let p = |sql| ids(Dialect::Postgres, USERS_PG, sql);
        assert_eq!(
            p("ALTER TABLE users RENAME COLUMN name TO full_name;"),
            vec!["breaking[rename-column]"]
        );
        assert_eq!(
            p("ALTER TABLE users RENAME TO members;"),
            vec!["breaking[rename-table]"]
        );
        assert_eq!(
            p("ALTER TABLE users DROP COLUMN name;"),
            vec!["breaking[drop-column]"]
        );
        assert_eq!(
            p("ALTER TABLE users ALTER COLUMN plan DROP DEFAULT;"),
            vec!["breaking[drop-default]"]
        );
        assert_eq!(
            p("ALTER TABLE users ALTER COLUMN name TYPE VARCHAR(50);"),
            vec!["breaking[change-type]", "blocking[rewrite-type-change]"]
        );
        // Binary-coercible on PostgreSQL: no rewrite, nothing to report.
        assert!(p("ALTER TABLE users ALTER COLUMN name TYPE VARCHAR(200);").is_empty());
        assert!(p("ALTER TABLE users ALTER COLUMN name TYPE TEXT;").is_empty());
        assert_eq!(
            p("ALTER TABLE users ADD CONSTRAINT u_name UNIQUE (name);"),
            vec!["breaking[add-unique]", "blocking[lock-create-index]"]
        );
        assert_eq!(
            p("ALTER TABLE users ADD COLUMN email TEXT NOT NULL;"),
            vec!["breaking[add-column-not-null]"]
        );
        assert!(p("ALTER TABLE users ADD COLUMN email TEXT NOT NULL DEFAULT '';\nCREATE INDEX CONCURRENTLY i_email ON users (email);").is_empty());
        assert_eq!(
            p("DO $$ BEGIN PERFORM 1; END $$;"),
            vec!["unknown[code-body]"]
        );
    }
}
