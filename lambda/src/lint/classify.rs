//! Classifying statements: each parsed statement is checked against the
//! rules with what the [`Schema`] knows, and updates it. The applied
//! migrations are run through the same code first, only to build the
//! schema the running release sees. What a statement does to the session
//! and the server is in [`super::session`], statements whose body is code
//! in [`super::body`].

use std::collections::{HashMap, HashSet};

use sqlparser::ast::{
    AlterColumnOperation, AlterTable, AlterTableAlgorithm, AlterTableOperation, ColumnDef,
    ColumnOption, CreateIndex, CreateTable, DataType, GeneratedExpressionMode, Ident, ObjectName,
    ObjectType, RenameTableNameKind, Statement, TableConstraint,
};
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, TokenWithSpan};

use super::finding::{Finding, MigrationLint};
use super::rules::{Id, Severity};
use super::scan::{self, Lex};
use super::schema::{self, norm_col, norm_ident, norm_name, Column, Schema, TypeChange};
use super::split::{parser, split, Piece};
use crate::dialect::Dialect;
use crate::migrate::MigrationSet;

/// A statement longer than this is not handed to sqlparser when its first
/// word says it only changes rows (`INSERT`, `REPLACE`, `UPDATE`,
/// `DELETE`): sqlparser keeps every token and an AST of every row, about
/// 150 bytes per byte of SQL. Such a statement is read by [`scan`] instead,
/// which sees all a data statement can do here (no `WHERE`, the functions
/// it calls). Anything else is parsed whatever its length.
pub const LARGE_STATEMENT: usize = 64 * 1024;

/// Lint the up scripts of `pending` (versions from `set`), on top of the
/// schema made by every migration of `set` below the first of them.
pub fn lint(set: &MigrationSet, dialect: Dialect, pending: &[i64]) -> Vec<MigrationLint> {
    let first = pending.iter().copied().min().unwrap_or(i64::MAX);
    let mut schema = Schema::new(dialect);
    for f in set
        .files
        .iter()
        .filter(|f| f.version < first && !pending.contains(&f.version))
    {
        lint_script(&mut schema, dialect, &f.up.sql, false);
    }
    let mut out = Vec::new();
    for f in set.files.iter().filter(|f| pending.contains(&f.version)) {
        let (intent, statements, findings) = lint_script(&mut schema, dialect, &f.up.sql, true);
        out.push(MigrationLint {
            version: f.version,
            name: f.name(),
            path: f.up.path.clone(),
            intent,
            statements,
            findings,
        });
    }
    out
}

/// Lint every migration of `set` on its own, on top of the ones before it
/// (as if each were the one release being deployed).
pub fn lint_each(set: &MigrationSet, dialect: Dialect) -> Vec<MigrationLint> {
    let mut schema = Schema::new(dialect);
    let mut out = Vec::new();
    for f in &set.files {
        let mut ahead = schema.clone();
        let (intent, statements, findings) = lint_script(&mut ahead, dialect, &f.up.sql, true);
        out.push(MigrationLint {
            version: f.version,
            name: f.name(),
            path: f.up.path.clone(),
            intent,
            statements,
            findings,
        });
        lint_script(&mut schema, dialect, &f.up.sql, false);
    }
    out
}

/// The versions of `set` above `since`.
pub fn after(set: &MigrationSet, since: i64) -> Vec<i64> {
    set.files
        .iter()
        .map(|f| f.version)
        .filter(|&v| v > since)
        .collect()
}

/// Lint one script; `pending` marks what it creates as new.
pub fn lint_script(
    schema: &mut Schema,
    dialect: Dialect,
    sql: &str,
    pending: bool,
) -> (super::split::Intent, usize, Vec<Finding>) {
    let pieces = match split(sql, dialect) {
        Ok(p) => p,
        Err(e) => {
            let f = Finding {
                rule: Id::Unparsed.rule(),
                line: e.line,
                statement: 0,
                subject: format!("the file cannot be read as SQL: {}", e.message),
            };
            return (Default::default(), 1, vec![f]);
        }
    };
    let mut cx = Cx::new(dialect, schema, pending, no_transaction(sql));
    if let Some((line, text)) = &pieces.bad_marker {
        cx.findings.push(Finding {
            rule: Id::Marker.rule(),
            line: *line,
            statement: 0,
            subject: format!("`{text}`"),
        });
    }
    for piece in &pieces.pieces {
        cx.piece(piece);
    }
    let n = pieces.pieces.len();
    (pieces.intent, n, cx.findings)
}

/// sqlx's opt-out of the migration's transaction: the file starts with
/// `-- no-transaction` (`sqlx-core` `migrate/source.rs`, the same test).
pub fn no_transaction(sql: &str) -> bool {
    sql.starts_with("-- no-transaction")
}

/// Where the statements being read run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Runs {
    /// In the run's own session (the script, `BEGIN NOT ATOMIC`, a
    /// prepared statement).
    Here,
    /// In another session, later (an event's or a trigger's body): what it
    /// does to its session does not touch the run.
    Elsewhere,
}

pub(super) struct Cx<'a> {
    pub(super) dialect: Dialect,
    pub(super) schema: &'a mut Schema,
    /// Findings only matter (and objects are only new) in pending scripts.
    pub(super) pending: bool,
    pub(super) findings: Vec<Finding>,
    /// `SET FOREIGN_KEY_CHECKS = 0` ran earlier in the file.
    pub(super) fk_checks_off: bool,
    /// The file starts with `-- no-transaction` (PostgreSQL: it runs
    /// outside a transaction and may manage its own).
    pub(super) no_tx: bool,
    pub(super) runs: Runs,
    /// Put before each finding's subject: `in event \`purge\``.
    pub(super) context: Option<String>,
    /// Names prepared from text read earlier in the file.
    pub(super) prepared: HashSet<String>,
    /// `@old = @@sql_mode`: user variables holding a session setting's
    /// value, so setting it back (`SET sql_mode = @old`) is recognised.
    pub(super) saved: HashMap<String, String>,
    /// How deep in bodies (a guard against pathological nesting).
    pub(super) nesting: usize,
}

/// Where a statement is, for findings.
#[derive(Clone, Copy)]
pub(super) struct At {
    pub(super) line: usize,
    pub(super) statement: usize,
}

/// Parse one statement; anything after it (a `;` sqlparser saw where the
/// scanner did not) makes it unreadable, never half-read.
pub(super) fn parse(dialect: Dialect, tokens: Vec<TokenWithSpan>) -> Result<Statement, String> {
    let d = parser(dialect);
    let mut p = Parser::new(d.as_ref()).with_tokens_with_locations(tokens);
    let s = p.parse_statement().map_err(|e| e.to_string())?;
    match p.peek_token().token {
        Token::EOF => Ok(s),
        other => Err(format!(
            "sql parser error: Expected: end of statement, found: {other}"
        )),
    }
}

pub(super) fn meaningful(tokens: &[TokenWithSpan]) -> Vec<&TokenWithSpan> {
    tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect()
}

fn kw(t: &TokenWithSpan) -> Keyword {
    match &t.token {
        Token::Word(w) => w.keyword,
        _ => Keyword::NoKeyword,
    }
}

pub(super) fn upper(t: &TokenWithSpan) -> String {
    match &t.token {
        Token::Word(w) => w.value.to_ascii_uppercase(),
        other => other.to_string(),
    }
}

/// The start of a statement on one line, for messages (reads no more than
/// it shows, however long the statement).
pub(super) fn short(text: &str) -> String {
    let head: String = text.chars().take(400).collect();
    let one: String = head.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 80 {
        format!("{}…", one.chars().take(80).collect::<String>())
    } else {
        one
    }
}

/// An `ALTER TABLE` cut into its operations: the tokens up to and including
/// the table name, then each operation's tokens (split at top-level commas).
fn alter_parts(tokens: &[TokenWithSpan]) -> Option<(Vec<TokenWithSpan>, Vec<Vec<TokenWithSpan>>)> {
    let mut i = 0;
    let mut head = Vec::new();
    let skip_ws = |i: &mut usize, head: &mut Vec<TokenWithSpan>| {
        while *i < tokens.len() && matches!(tokens[*i].token, Token::Whitespace(_)) {
            head.push(tokens[*i].clone());
            *i += 1;
        }
    };
    let expect = |i: &mut usize,
                  head: &mut Vec<TokenWithSpan>,
                  want: &[&str],
                  optional: bool|
     -> Option<bool> {
        skip_ws(i, head);
        if *i < tokens.len()
            && matches!(&tokens[*i].token, Token::Word(w) if w.quote_style.is_none() && want.contains(&w.value.to_ascii_uppercase().as_str()))
        {
            head.push(tokens[*i].clone());
            *i += 1;
            Some(true)
        } else if optional {
            Some(false)
        } else {
            None
        }
    };
    expect(&mut i, &mut head, &["ALTER"], false)?;
    while expect(&mut i, &mut head, &["ONLINE", "IGNORE"], true)? {}
    expect(&mut i, &mut head, &["TABLE"], false)?;
    if expect(&mut i, &mut head, &["IF"], true)? {
        expect(&mut i, &mut head, &["EXISTS"], false)?;
    }
    expect(&mut i, &mut head, &["ONLY"], true)?;
    // The name: word (. word)*
    skip_ws(&mut i, &mut head);
    loop {
        match tokens.get(i).map(|t| &t.token) {
            Some(Token::Word(_)) => {
                head.push(tokens[i].clone());
                i += 1;
            }
            _ => return None,
        }
        if matches!(tokens.get(i).map(|t| &t.token), Some(Token::Period)) {
            head.push(tokens[i].clone());
            i += 1;
        } else {
            break;
        }
    }
    let mut ops = vec![Vec::new()];
    let mut depth = 0i32;
    for t in &tokens[i..] {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Comma if depth == 0 => {
                ops.push(Vec::new());
                continue;
            }
            _ => {}
        }
        ops.last_mut().expect("one").push(t.clone());
    }
    ops.retain(|o| o.iter().any(|t| !matches!(t.token, Token::Whitespace(_))));
    Some((head, ops))
}

fn first_line(tokens: &[TokenWithSpan], fallback: usize) -> usize {
    tokens
        .iter()
        .find(|t| !matches!(t.token, Token::Whitespace(_)))
        .map_or(fallback, |t| t.span.start.line as usize)
}

impl<'a> Cx<'a> {
    pub(super) fn new(
        dialect: Dialect,
        schema: &'a mut Schema,
        pending: bool,
        no_tx: bool,
    ) -> Self {
        Cx {
            dialect,
            schema,
            pending,
            findings: Vec::new(),
            fk_checks_off: false,
            no_tx,
            runs: Runs::Here,
            context: None,
            prepared: HashSet::new(),
            saved: HashMap::new(),
            nesting: 0,
        }
    }
}

impl Cx<'_> {
    pub(super) fn hit(&mut self, id: Id, at: At, subject: impl Into<String>) {
        let rule = id.rule();
        // A rule of the other dialect says nothing about this one's server.
        if !rule.engines.includes(self.dialect) {
            return;
        }
        // What a body run elsewhere does to its own session is its business.
        if !self.pending || (self.runs == Runs::Elsewhere && rule.severity == Severity::Refused) {
            return;
        }
        let subject = subject.into();
        self.findings.push(Finding {
            rule,
            line: at.line,
            statement: at.statement,
            subject: match &self.context {
                Some(c) => format!("{c}: {subject}"),
                None => subject,
            },
        });
    }

    pub(super) fn maria(&self) -> bool {
        self.dialect == Dialect::MariaDb
    }

    fn name(&self, n: &ObjectName) -> String {
        norm_name(n, self.dialect)
    }

    fn col(&self, i: &Ident) -> String {
        norm_col(i, self.dialect)
    }

    /// The running release knows this table: findings apply.
    pub(super) fn old_table(&self, t: &str) -> bool {
        !self.schema.is_new_table(t)
    }

    fn old_column(&self, t: &str, c: &str) -> bool {
        self.old_table(t) && !self.schema.column(t, c).is_some_and(|c| c.new)
    }

    pub(super) fn piece(&mut self, piece: &Piece) {
        let at = At {
            line: piece.line,
            statement: piece.index,
        };
        // Calls change nothing in the schema: only pending scripts need them.
        if self.pending {
            self.calls(piece, at);
        }
        if piece.text.len() > LARGE_STATEMENT && self.large_dml(piece, at) {
            return;
        }
        let tokens = match piece.tokens(self.dialect) {
            Ok(t) => t,
            Err(e) => {
                self.hit(
                    Id::Unparsed,
                    At {
                        line: e.line,
                        statement: at.statement,
                    },
                    format!("`{}` ({})", short(&piece.text), e.message),
                );
                return;
            }
        };
        match parse(self.dialect, tokens.clone()) {
            Ok(stmt) => {
                let op_lines = match &stmt {
                    Statement::AlterTable(a) => match alter_parts(&tokens) {
                        Some((_, ops)) if ops.len() == a.operations.len() => {
                            ops.iter().map(|o| first_line(o, piece.line)).collect()
                        }
                        _ => Vec::new(),
                    },
                    _ => Vec::new(),
                };
                self.statement(&stmt, at, &op_lines, piece);
            }
            Err(message) => {
                if !self.fallback(piece, &tokens, at) {
                    self.hit(
                        Id::Unparsed,
                        at,
                        format!("`{}` ({message})", short(&piece.text)),
                    );
                }
            }
        }
    }

    /// A large `INSERT`/`REPLACE`/`UPDATE`/`DELETE`, read by the scanner:
    /// rows change, nothing else does; what matters is a missing `WHERE`.
    /// `false`: not such a statement, parse it.
    fn large_dml(&mut self, piece: &Piece, at: At) -> bool {
        let text: &str = &piece.text;
        let mut code = scan::Scanner::new(text, self.dialect)
            .inside_exec(piece.in_exec)
            .map_while(Result::ok)
            .filter(scan::Lexeme::is_code);
        let Some(head) = code.next() else {
            return false;
        };
        let verb = head.text(text).to_ascii_uppercase();
        match verb.as_str() {
            "INSERT" => true,
            "REPLACE" if self.maria() => true,
            "UPDATE" | "DELETE" => {
                let mut depth = 0i32;
                let mut filtered = false;
                for l in code {
                    match l.lex {
                        Lex::Punct if l.is_punct(text, '(') => depth += 1,
                        Lex::Punct if l.is_punct(text, ')') => depth -= 1,
                        Lex::Word if depth == 0 && l.is(text, "WHERE") => {
                            filtered = true;
                            break;
                        }
                        _ => {}
                    }
                }
                if !filtered {
                    let id = if verb == "UPDATE" {
                        Id::UpdateAll
                    } else {
                        Id::DeleteAll
                    };
                    self.hit(id, at, format!("`{}`", short(text)));
                }
                true
            }
            _ => false,
        }
    }

    pub(super) fn statement(&mut self, s: &Statement, at: At, op_lines: &[usize], piece: &Piece) {
        match s {
            Statement::CreateTable(c) => self.create_table(c, at),
            Statement::AlterTable(a) => self.alter_table(a, at, op_lines),
            Statement::CreateIndex(c) => self.create_index(c, at),
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
            Statement::DropFunction(d) => {
                for f in &d.func_desc {
                    self.drop_routine("FUNCTION", &f.name, at);
                }
            }
            Statement::DropProcedure { proc_desc, .. } => {
                for f in proc_desc {
                    self.drop_routine("PROCEDURE", &f.name, at);
                }
            }
            Statement::DropTrigger(d) => {
                let n = self.name(&d.trigger_name);
                if self.schema.trigger(&n) != Some(true) {
                    self.hit(Id::DropTrigger, at, format!("DROP TRIGGER {n}"));
                }
                self.schema.drop_trigger(&n);
            }
            Statement::RenameTable(renames) => {
                for r in renames {
                    let (from, to) = (self.name(&r.old_name), self.name(&r.new_name));
                    self.rename_table(&from, to, at);
                }
            }
            Statement::Truncate(t) => {
                for target in &t.table_names {
                    let n = self.name(&target.name);
                    if self.old_table(&n) {
                        self.hit(Id::Truncate, at, format!("TRUNCATE {n}"));
                    }
                }
            }
            Statement::Delete(d) => {
                if d.selection.is_none() {
                    self.hit(Id::DeleteAll, at, format!("`{}`", short(&piece.text)));
                }
            }
            Statement::Update(u) => {
                if u.selection.is_none() {
                    self.hit(Id::UpdateAll, at, format!("`{}`", short(&piece.text)));
                }
            }
            Statement::CreateView(v) => {
                let n = self.name(&v.name);
                if (v.or_replace || v.or_alter) && self.schema.view(&n) == Some(false) {
                    self.hit(Id::ReplaceView, at, format!("CREATE OR REPLACE VIEW {n}"));
                }
                if self.schema.view(&n).is_none() {
                    self.schema.set_view(n, self.pending);
                }
            }
            Statement::AlterView(v) => {
                let n = self.name(&v.name);
                if self.schema.view(&n) != Some(true) {
                    self.hit(Id::ReplaceView, at, format!("ALTER VIEW {n}"));
                }
            }
            Statement::CreateFunction(f) => {
                self.create_routine("FUNCTION", &f.name, f.or_replace || f.or_alter, at)
            }
            Statement::CreateProcedure { name, or_alter, .. } => {
                self.create_routine("PROCEDURE", name, *or_alter, at)
            }
            Statement::CreateTrigger(t) => {
                let n = self.name(&t.name);
                if (t.or_replace || t.or_alter) && self.schema.trigger(&n) == Some(false) {
                    self.hit(
                        Id::ReplaceRoutine,
                        at,
                        format!("CREATE OR REPLACE TRIGGER {n}"),
                    );
                }
                if self.schema.trigger(&n).is_none() {
                    self.schema.set_trigger(n.clone(), self.pending);
                }
                let table = self.name(&t.table_name);
                self.trigger_body(piece, &n, &table, at);
            }
            Statement::Set(set) => self.set(set, at, piece),
            Statement::StartTransaction { .. }
            | Statement::Commit { .. }
            | Statement::Rollback { .. }
            | Statement::Savepoint { .. }
            | Statement::ReleaseSavepoint { .. } => self.transaction(s, at, piece),
            Statement::Use(_) => {
                self.hit(Id::ChangeDatabase, at, format!("`{}`", short(&piece.text)))
            }
            Statement::LockTables { .. } => {
                self.hit(Id::LockTables, at, format!("`{}`", short(&piece.text)))
            }
            Statement::Flush {
                read_lock, export, ..
            } => {
                let id = if *read_lock || *export {
                    Id::LockTables
                } else {
                    Id::ServerWide
                };
                self.hit(id, at, format!("`{}`", short(&piece.text)));
            }
            Statement::Kill { .. } => {
                self.hit(Id::ServerWide, at, format!("`{}`", short(&piece.text)))
            }
            Statement::Grant(_)
            | Statement::Revoke(_)
            | Statement::CreateRole(_)
            | Statement::CreateUser(_)
            | Statement::AlterRole { .. }
            | Statement::AlterUser(_) => {
                self.hit(Id::Privileges, at, format!("`{}`", short(&piece.text)))
            }
            Statement::Reset(_) | Statement::Discard { .. } => self.reset(s, at, piece),
            Statement::Prepare { .. } | Statement::Execute { .. } => self.dynamic(s, at, piece),
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

    fn create_table(&mut self, c: &CreateTable, at: At) {
        let n = self.name(&c.name);
        if self.schema.table(&n).is_some() {
            if c.or_replace && self.old_table(&n) {
                self.hit(
                    Id::DropTable,
                    at,
                    format!("CREATE OR REPLACE TABLE {n} replaces the existing table"),
                );
            } else if c.if_not_exists {
                return;
            }
        }
        let columns = (c.query.is_none() && c.like.is_none() && c.clone.is_none()).then(|| {
            c.columns
                .iter()
                .map(|d| Column::from_def(d, self.dialect, self.pending))
                .collect()
        });
        let unique = schema::unique_names(&c.columns, &c.constraints, self.dialect);
        self.schema.create_table(n, columns, unique, self.pending);
    }

    fn create_index(&mut self, c: &CreateIndex, at: At) {
        let t = self.name(&c.table_name);
        let cols: Vec<String> = c
            .columns
            .iter()
            .map(|i| i.column.expr.to_string())
            .collect();
        let old = self.old_table(&t) && !self.all_new(&t, &cols);
        let idx = c
            .name
            .as_ref()
            .map(|n| self.name(n))
            .unwrap_or_else(|| cols.first().cloned().unwrap_or_default());
        if c.unique && old {
            self.hit(
                Id::AddUnique,
                at,
                format!(
                    "UNIQUE index {idx} on existing table {t} ({})",
                    cols.join(", ")
                ),
            );
        }
        if c.unique {
            if let Some(table) = self.schema.table_mut(&t) {
                table.unique.insert(idx.clone());
            }
        }
        if self.dialect == Dialect::Postgres && !c.concurrently && self.old_table(&t) {
            self.hit(
                Id::LockCreateIndex,
                at,
                format!("CREATE INDEX {idx} ON {t} without CONCURRENTLY"),
            );
        }
        if c.alter_options.iter().any(|o| {
            matches!(
                o,
                AlterTableOperation::Algorithm {
                    algorithm: AlterTableAlgorithm::Copy,
                    ..
                }
            )
        }) && self.old_table(&t)
        {
            self.hit(
                Id::CopyAlgorithm,
                at,
                format!("CREATE INDEX {idx} ON {t} with ALGORITHM=COPY"),
            );
        }
    }

    /// Every one of `cols` was added by a pending migration.
    fn all_new(&self, t: &str, cols: &[String]) -> bool {
        !cols.is_empty()
            && cols.iter().all(|c| {
                let c = c.trim_matches(|ch| ch == '`' || ch == '"');
                let c = match self.dialect {
                    Dialect::MariaDb => c.to_ascii_lowercase(),
                    Dialect::Postgres => c.to_string(),
                };
                self.schema.column(t, &c).is_some_and(|c| c.new)
            })
    }

    fn drop(
        &mut self,
        object_type: ObjectType,
        n: &ObjectName,
        temporary: bool,
        table: Option<&ObjectName>,
        at: At,
    ) {
        let name = self.name(n);
        match object_type {
            ObjectType::Table => {
                if !temporary && self.old_table(&name) {
                    self.hit(Id::DropTable, at, format!("DROP TABLE {name}"));
                }
                self.schema.drop_table(&name);
            }
            ObjectType::View | ObjectType::MaterializedView => {
                if self.schema.view(&name) != Some(true) {
                    self.hit(Id::DropView, at, format!("DROP VIEW {name}"));
                }
                self.schema.drop_view(&name);
            }
            ObjectType::Index => {
                let owner = match table {
                    Some(t) => {
                        let t = self.name(t);
                        self.schema
                            .table(&t)
                            .is_some_and(|x| x.unique.contains(&name))
                            .then_some(t)
                    }
                    None => self.schema.unique_owner(&name).map(str::to_string),
                };
                if let Some(t) = owner {
                    if self.old_table(&t) {
                        self.hit(
                            Id::DropUnique,
                            at,
                            format!("DROP INDEX {name} (unique) on {t}"),
                        );
                    }
                    if let Some(x) = self.schema.table_mut(&t) {
                        x.unique.remove(&name);
                    }
                }
            }
            ObjectType::Schema | ObjectType::Database => {
                self.hit(Id::DropDatabase, at, format!("DROP DATABASE {name}"))
            }
            ObjectType::Role | ObjectType::User => self.hit(
                Id::Privileges,
                at,
                format!("DROP {} {name}", object_type_name(object_type)),
            ),
            other => self.hit(
                Id::DropObject,
                at,
                format!("DROP {} {name}", object_type_name(other)),
            ),
        }
    }

    fn drop_routine(&mut self, what: &str, n: &ObjectName, at: At) {
        let name = self.name(n);
        if self.schema.routine(&name) != Some(true) {
            self.hit(Id::DropRoutine, at, format!("DROP {what} {name}"));
        }
        self.schema.drop_routine(&name);
    }

    fn create_routine(&mut self, what: &str, n: &ObjectName, replace: bool, at: At) {
        let name = self.name(n);
        if replace && self.schema.routine(&name) == Some(false) {
            self.hit(
                Id::ReplaceRoutine,
                at,
                format!("CREATE OR REPLACE {what} {name}"),
            );
        }
        if self.schema.routine(&name).is_none() {
            self.schema.set_routine(name, self.pending);
        }
    }

    fn rename_table(&mut self, from: &str, to: String, at: At) {
        if self.old_table(from) {
            self.hit(Id::RenameTable, at, format!("RENAME TABLE {from} TO {to}"));
        }
        self.schema.rename_table(from, to);
    }

    fn alter_table(&mut self, a: &AlterTable, at: At, op_lines: &[usize]) {
        let t = self.name(&a.name);
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
            self.alter_op(&t, op, at, adds_pk);
        }
    }

    fn alter_op(&mut self, t: &str, op: &AlterTableOperation, at: At, adds_pk: bool) {
        use AlterTableOperation as O;
        let old = self.old_table(t);
        match op {
            O::AddColumn { column_def, .. } => self.add_column(t, column_def, at),
            O::DropColumn { column_names, .. } => {
                for c in column_names {
                    let c = self.col(c);
                    if self.old_column(t, &c) {
                        self.hit(Id::DropColumn, at, format!("DROP COLUMN {t}.{c}"));
                    }
                    self.schema.drop_column(t, &c);
                }
            }
            O::RenameColumn {
                old_column_name,
                new_column_name,
            } => {
                let (from, to) = (self.col(old_column_name), self.col(new_column_name));
                if self.old_column(t, &from) {
                    self.hit(
                        Id::RenameColumn,
                        at,
                        format!("RENAME COLUMN {t}.{from} TO {to}"),
                    );
                }
                if let Some(c) = self.schema.column_mut(t, &from) {
                    c.name = to;
                }
            }
            O::RenameTable { table_name } => {
                let to = match table_name {
                    RenameTableNameKind::As(n) | RenameTableNameKind::To(n) => self.name(n),
                };
                self.rename_table(t, to, at);
            }
            O::ChangeColumn {
                old_name,
                new_name,
                data_type,
                options,
                ..
            } => {
                let (from, to) = (self.col(old_name), self.col(new_name));
                if from != to && self.old_column(t, &from) {
                    self.hit(
                        Id::RenameColumn,
                        at,
                        format!("CHANGE COLUMN {t}.{from} TO {to}"),
                    );
                }
                self.redefine(t, &from, &to, data_type, options, "CHANGE", at);
            }
            O::ModifyColumn {
                col_name,
                data_type,
                options,
                ..
            } => {
                let c = self.col(col_name);
                self.redefine(t, &c, &c, data_type, options, "MODIFY", at);
            }
            O::AlterColumn { column_name, op } => {
                self.alter_column(t, &self.col(column_name), op, at)
            }
            O::AddConstraint {
                constraint,
                not_valid,
            } => self.add_constraint(t, constraint, *not_valid, at),
            O::DropConstraint { name, .. } | O::DropIndex { name } => {
                let n = norm_ident(name, self.dialect);
                let unique = self.schema.table(t).is_some_and(|x| x.unique.contains(&n));
                if unique && old {
                    self.hit(
                        Id::DropUnique,
                        at,
                        format!("DROP INDEX {n} (unique) on {t}"),
                    );
                }
                if let Some(x) = self.schema.table_mut(t) {
                    x.unique.remove(&n);
                }
            }
            O::DropPrimaryKey { .. } => {
                if self.maria() && old && !adds_pk {
                    self.hit(
                        Id::CopyDropPrimaryKey,
                        at,
                        format!("ALTER TABLE {t} DROP PRIMARY KEY"),
                    );
                }
            }
            O::Algorithm {
                algorithm: AlterTableAlgorithm::Copy,
                ..
            } => {
                if old {
                    self.hit(
                        Id::CopyAlgorithm,
                        at,
                        format!("ALTER TABLE {t} … ALGORITHM=COPY"),
                    );
                }
            }
            O::DropPartitions { .. } | O::DetachPartitionOf { .. } => {
                if old {
                    self.hit(
                        Id::DropPartition,
                        at,
                        format!("ALTER TABLE {t} DROP/DETACH PARTITION"),
                    );
                }
            }
            O::DisableTrigger { name } | O::DisableRule { name } => {
                if old {
                    self.hit(
                        Id::DropTrigger,
                        at,
                        format!("ALTER TABLE {t} DISABLE {name}"),
                    );
                }
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

    fn add_column(&mut self, t: &str, def: &ColumnDef, at: At) {
        let col = Column::from_def(def, self.dialect, self.pending);
        let old = self.old_table(t);
        let name = &col.name;
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
        let unique = def.options.iter().any(|o| {
            matches!(
                o.option,
                ColumnOption::Unique(_) | ColumnOption::PrimaryKey(_)
            )
        });
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
        if old && self.maria() {
            let auto_inc = def.options.iter().any(|o| {
                matches!(&o.option, ColumnOption::DialectSpecific(tokens) if tokens.iter().any(|x| x.to_string().eq_ignore_ascii_case("AUTO_INCREMENT")))
            });
            if auto_inc {
                self.hit(
                    Id::LockAutoIncrement,
                    at,
                    format!("ADD COLUMN {t}.{name} AUTO_INCREMENT"),
                );
            }
            let stored = def.options.iter().any(|o| {
                matches!(
                    &o.option,
                    ColumnOption::Generated {
                        generation_expr_mode: Some(GeneratedExpressionMode::Stored),
                        ..
                    }
                )
            });
            if stored {
                self.hit(
                    Id::CopyStoredGenerated,
                    at,
                    format!("ADD COLUMN {t}.{name} … STORED"),
                );
            }
        }
        if old && self.dialect == Dialect::Postgres {
            let volatile = def.options.iter().any(
                |o| matches!(&o.option, ColumnOption::Default(e) if schema::volatile_default(e)),
            );
            if volatile {
                self.hit(
                    Id::RewriteVolatileDefault,
                    at,
                    format!("ADD COLUMN {t}.{name} with a volatile default"),
                );
            }
        }
        if unique {
            if let Some(x) = self.schema.table_mut(t) {
                x.unique.insert(col.name.clone());
            }
        }
        self.schema.add_column(t, col);
    }

    /// MariaDB `MODIFY`/`CHANGE`: the column is defined anew.
    #[allow(clippy::too_many_arguments)]
    fn redefine(
        &mut self,
        t: &str,
        from: &str,
        to: &str,
        data_type: &DataType,
        options: &[ColumnOption],
        verb: &str,
        at: At,
    ) {
        let def = ColumnDef {
            name: Ident::new(to),
            data_type: data_type.clone(),
            options: options
                .iter()
                .map(|o| sqlparser::ast::ColumnOptionDef {
                    name: None,
                    option: o.clone(),
                })
                .collect(),
        };
        let mut new = Column::from_def(&def, self.dialect, false);
        let subject = format!("{verb} COLUMN {t}.{from}");
        match self.schema.column(t, from).cloned() {
            Some(old) => {
                new.new = old.new;
                if self.old_column(t, from) {
                    self.type_change(t, from, &old.data_type, data_type, &subject, at);
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
                self.schema.drop_column(t, from);
                self.schema.add_column(t, new);
            }
            None => {
                if self.old_table(t) {
                    self.hit(
                        Id::ChangeType,
                        at,
                        format!("{subject} {data_type}: its current definition is not known from the migrations, so the change cannot be checked"),
                    );
                    if self.maria() {
                        self.hit(
                            Id::CopyTypeChange,
                            at,
                            format!("{subject} to {data_type} may copy table {t}"),
                        );
                    }
                }
                self.schema.add_column(t, new);
            }
        }
        if self.maria()
            && self.old_table(t)
            && options
                .iter()
                .any(|o| matches!(o, ColumnOption::CharacterSet(_)))
        {
            self.hit(
                Id::CopyCharset,
                at,
                format!("{subject}: CHARACTER SET on table {t}"),
            );
        }
    }

    fn type_change(
        &mut self,
        t: &str,
        c: &str,
        old: &DataType,
        new: &DataType,
        subject: &str,
        at: At,
    ) {
        let change = schema::compare(old, new);
        let pg_text = self.dialect == Dialect::Postgres
            && matches!(new, DataType::Text)
            && matches!(
                old,
                DataType::Varchar(_)
                    | DataType::CharacterVarying(_)
                    | DataType::CharVarying(_)
                    | DataType::Text
            );
        match change {
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

    fn blocking_type(&mut self, t: &str, c: &str, old: &DataType, new: &DataType, at: At) {
        let id = if self.maria() {
            Id::CopyTypeChange
        } else {
            Id::RewriteTypeChange
        };
        self.hit(id, at, format!("{t}.{c}: {old} → {new} on table {t}"));
    }

    fn alter_column(&mut self, t: &str, c: &str, op: &AlterColumnOperation, at: At) {
        use AlterColumnOperation as A;
        let old = self.old_column(t, c);
        match op {
            A::SetNotNull => {
                if old {
                    self.hit(
                        Id::SetNotNull,
                        at,
                        format!("ALTER COLUMN {t}.{c} SET NOT NULL"),
                    );
                    if self.dialect == Dialect::Postgres {
                        self.hit(
                            Id::ScanSetNotNull,
                            at,
                            format!("ALTER COLUMN {t}.{c} SET NOT NULL on table {t}"),
                        );
                    }
                }
                if let Some(x) = self.schema.column_mut(t, c) {
                    x.nullable = false;
                }
            }
            A::DropNotNull => {
                if let Some(x) = self.schema.column_mut(t, c) {
                    x.nullable = true;
                }
            }
            A::SetDefault { .. } => {
                if let Some(x) = self.schema.column_mut(t, c) {
                    x.default = true;
                }
            }
            A::DropDefault => {
                if old {
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
            A::SetDataType { data_type, .. } => {
                let subject = format!("ALTER COLUMN {t}.{c} TYPE");
                match self.schema.column(t, c).map(|x| x.data_type.clone()) {
                    Some(prev) if old => self.type_change(t, c, &prev, data_type, &subject, at),
                    Some(_) => {}
                    None if self.old_table(t) => {
                        self.hit(
                            Id::ChangeType,
                            at,
                            format!("{subject} {data_type}: its current type is not known from the migrations, so the change cannot be checked"),
                        );
                        let id = if self.maria() {
                            Id::CopyTypeChange
                        } else {
                            Id::RewriteTypeChange
                        };
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
            A::AddGenerated { .. } => {}
            other => {
                if old {
                    self.hit(
                        Id::Unrecognized,
                        at,
                        format!("ALTER COLUMN {t}.{c} {other}"),
                    );
                }
            }
        }
    }

    fn add_constraint(&mut self, t: &str, c: &TableConstraint, not_valid: bool, at: At) {
        let old = self.old_table(t);
        let cols = |cs: &[sqlparser::ast::IndexColumn]| {
            cs.iter()
                .map(|i| i.column.expr.to_string())
                .collect::<Vec<_>>()
        };
        match c {
            TableConstraint::Unique(u) => {
                let cs = cols(&u.columns);
                let n = u
                    .index_name
                    .as_ref()
                    .or(u.name.as_ref())
                    .map(|n| norm_ident(n, self.dialect))
                    .unwrap_or_else(|| cs.first().cloned().unwrap_or_default());
                if old && !self.all_new(t, &cs) {
                    self.hit(
                        Id::AddUnique,
                        at,
                        format!("UNIQUE {n} on existing table {t} ({})", cs.join(", ")),
                    );
                    if self.dialect == Dialect::Postgres {
                        self.hit(
                            Id::LockCreateIndex,
                            at,
                            format!("ADD UNIQUE {n} on {t} builds its index while writes wait"),
                        );
                    }
                }
                if let Some(x) = self.schema.table_mut(t) {
                    x.unique.insert(n);
                }
            }
            TableConstraint::PrimaryKey(p) => {
                let cs = cols(&p.columns);
                if old && !self.all_new(t, &cs) {
                    self.hit(
                        Id::AddUnique,
                        at,
                        format!("PRIMARY KEY on existing table {t} ({})", cs.join(", ")),
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
            TableConstraint::ForeignKey(fk) => {
                let cs: Vec<String> = fk.columns.iter().map(|c| c.value.clone()).collect();
                if old && !self.all_new(t, &cs) {
                    let n = fk
                        .name
                        .as_ref()
                        .map(|n| n.value.clone())
                        .unwrap_or_default();
                    self.hit(
                        Id::AddConstraint,
                        at,
                        format!(
                            "FOREIGN KEY {n} on existing table {t} ({}) → {}",
                            cs.join(", "),
                            fk.foreign_table
                        ),
                    );
                    if self.maria() && !self.fk_checks_off {
                        self.hit(
                            Id::CopyForeignKey,
                            at,
                            format!("ALTER TABLE {t} ADD FOREIGN KEY {n}"),
                        );
                    }
                    if self.dialect == Dialect::Postgres && !not_valid {
                        self.hit(
                            Id::ScanAddConstraint,
                            at,
                            format!("ALTER TABLE {t} ADD FOREIGN KEY {n} without NOT VALID"),
                        );
                    }
                }
            }
            TableConstraint::Check(ck) => {
                if old {
                    let n = ck
                        .name
                        .as_ref()
                        .map(|n| n.value.clone())
                        .unwrap_or_default();
                    self.hit(
                        Id::AddConstraint,
                        at,
                        format!("CHECK {n} ({}) on existing table {t}", ck.expr),
                    );
                    if self.maria() {
                        self.hit(Id::CopyCheck, at, format!("ALTER TABLE {t} ADD CHECK {n}"));
                    }
                    if self.dialect == Dialect::Postgres && !not_valid {
                        self.hit(
                            Id::ScanAddConstraint,
                            at,
                            format!("ALTER TABLE {t} ADD CHECK {n} without NOT VALID"),
                        );
                    }
                }
            }
            TableConstraint::Index(_) => {}
            TableConstraint::FulltextOrSpatial(f) => {
                if old && self.maria() && f.fulltext {
                    self.hit(
                        Id::LockFulltext,
                        at,
                        format!("ADD FULLTEXT index on table {t}"),
                    );
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

    /// Statements the parser does not read but whose shape is certain from
    /// their first words (MariaDB table options, partitioning, FULLTEXT
    /// indexes, routines). `false`: not recognized, the caller reports it.
    fn fallback(&mut self, piece: &Piece, tokens: &[TokenWithSpan], at: At) -> bool {
        let words = meaningful(tokens);
        let up: Vec<String> = words.iter().take(64).map(|t| upper(t)).collect();
        let has = |i: usize, s: &str| up.get(i).is_some_and(|w| w == s);
        if self.session_fallback(piece, &up, at) || self.body_fallback(piece, tokens, &up, at) {
            return true;
        }
        if has(0, "ALTER") {
            return self.fallback_alter(piece, tokens, at);
        }
        if has(0, "CREATE") {
            let mut i = 1;
            let or_replace = has(1, "OR") && has(2, "REPLACE");
            if or_replace {
                i = 3;
            }
            // DEFINER = x, SQL SECURITY x, ALGORITHM = x (views)
            loop {
                if has(i, "DEFINER") || has(i, "ALGORITHM") {
                    i += 1;
                    if has(i, "=") {
                        i += 1;
                    }
                    // user@host is several tokens: skip to the next keyword.
                    i += 1;
                    while i < up.len()
                        && !matches!(
                            up[i].as_str(),
                            "PROCEDURE"
                                | "FUNCTION"
                                | "TRIGGER"
                                | "EVENT"
                                | "VIEW"
                                | "SQL"
                                | "AGGREGATE"
                        )
                    {
                        i += 1;
                    }
                } else if has(i, "SQL") && has(i + 1, "SECURITY") {
                    i += 3;
                } else if has(i, "AGGREGATE") {
                    i += 1;
                } else {
                    break;
                }
            }
            let kind_word = up.get(i).cloned().unwrap_or_default();
            let mut j = i + 1;
            if has(j, "IF") && has(j + 1, "NOT") && has(j + 2, "EXISTS") {
                j += 3;
            }
            let name = words.get(j).map(|t| match &t.token {
                Token::Word(w) => norm_ident(
                    &Ident {
                        value: w.value.clone(),
                        quote_style: w.quote_style,
                        span: t.span,
                    },
                    self.dialect,
                ),
                other => other.to_string(),
            });
            match (kind_word.as_str(), name) {
                ("PROCEDURE" | "FUNCTION" | "EVENT", Some(n)) => {
                    if or_replace && self.schema.routine(&n) == Some(false) {
                        self.hit(
                            Id::ReplaceRoutine,
                            at,
                            format!("CREATE OR REPLACE {kind_word} {n}"),
                        );
                    }
                    if self.schema.routine(&n).is_none() {
                        self.schema.set_routine(n.clone(), self.pending);
                    }
                    // An event's body runs on its schedule: read it like
                    // the file's own statements. A routine's runs only when
                    // called, and a call is classified where it is.
                    if kind_word == "EVENT" {
                        self.event_body(piece, &n, at);
                    }
                    return true;
                }
                ("TRIGGER", Some(n)) => {
                    if or_replace && self.schema.trigger(&n) == Some(false) {
                        self.hit(
                            Id::ReplaceRoutine,
                            at,
                            format!("CREATE OR REPLACE TRIGGER {n}"),
                        );
                    }
                    if self.schema.trigger(&n).is_none() {
                        self.schema.set_trigger(n.clone(), self.pending);
                    }
                    // The table: the name after `ON`.
                    let table = up
                        .iter()
                        .position(|w| w == "ON")
                        .and_then(|on| words.get(on + 1))
                        .map(|t| match &t.token {
                            Token::Word(w) => norm_ident(
                                &Ident {
                                    value: w.value.clone(),
                                    quote_style: w.quote_style,
                                    span: t.span,
                                },
                                self.dialect,
                            ),
                            other => other.to_string(),
                        })
                        .unwrap_or_default();
                    self.trigger_body(piece, &n, &table, at);
                    return true;
                }
                ("VIEW", Some(n)) => {
                    if or_replace && self.schema.view(&n) == Some(false) {
                        self.hit(Id::ReplaceView, at, format!("CREATE OR REPLACE VIEW {n}"));
                    }
                    if self.schema.view(&n).is_none() {
                        self.schema.set_view(n, self.pending);
                    }
                    return true;
                }
                ("FULLTEXT" | "SPATIAL", _) if has(i + 1, "INDEX") || has(i + 1, "KEY") => {
                    if let Some(on) = up.iter().position(|w| w == "ON") {
                        if let Some(t) = words.get(on + 1) {
                            let t = match &t.token {
                                Token::Word(w) => w.value.clone(),
                                other => other.to_string(),
                            };
                            if self.old_table(&t) && self.maria() && kind_word == "FULLTEXT" {
                                self.hit(
                                    Id::LockFulltext,
                                    at,
                                    format!("CREATE FULLTEXT INDEX on table {t}"),
                                );
                            }
                            return true;
                        }
                    }
                    return false;
                }
                _ => return false,
            }
        }
        if matches!(
            up.first().map(String::as_str),
            Some("OPTIMIZE" | "ANALYZE" | "CHECK" | "REPAIR")
        ) && has(1, "TABLE")
        {
            return true;
        }
        if has(0, "DROP") {
            let mut j = 2;
            if has(2, "IF") && has(3, "EXISTS") {
                j = 4;
            }
            let name = words.get(j).map(|t| match &t.token {
                Token::Word(w) => w.value.clone(),
                other => other.to_string(),
            });
            match (up.get(1).map(String::as_str), name) {
                (Some(what @ ("PROCEDURE" | "FUNCTION" | "EVENT")), Some(n)) => {
                    if self.schema.routine(&n) != Some(true) {
                        self.hit(Id::DropRoutine, at, format!("DROP {what} {n}"));
                    }
                    self.schema.drop_routine(&n);
                    return true;
                }
                (Some("TRIGGER"), Some(n)) => {
                    if self.schema.trigger(&n) != Some(true) {
                        self.hit(Id::DropTrigger, at, format!("DROP TRIGGER {n}"));
                    }
                    self.schema.drop_trigger(&n);
                    return true;
                }
                _ => return false,
            }
        }
        false
    }

    /// An `ALTER TABLE` the parser refused: each operation on its own.
    fn fallback_alter(&mut self, _piece: &Piece, tokens: &[TokenWithSpan], at: At) -> bool {
        let Some((head, ops)) = alter_parts(tokens) else {
            return false;
        };
        let head_words = meaningful(&head);
        let t = match head_words.last().map(|t| &t.token) {
            Some(Token::Word(w)) => norm_ident(
                &Ident {
                    value: w.value.clone(),
                    quote_style: w.quote_style,
                    span: sqlparser::tokenizer::Span::empty(),
                },
                self.dialect,
            ),
            _ => return false,
        };
        let old = self.old_table(&t);
        let mut all = true;
        for op in ops {
            let line = first_line(&op, at.line);
            let op_at = At {
                line,
                statement: at.statement,
            };
            // 1. The operation alone may parse.
            let mut tokens = head.clone();
            tokens.push(TokenWithSpan::wrap(Token::Whitespace(
                sqlparser::tokenizer::Whitespace::Space,
            )));
            tokens.extend(op.iter().cloned());
            if let Ok(Statement::AlterTable(a)) = parse(self.dialect, tokens.clone()) {
                self.alter_table(&a, op_at, &[line]);
                continue;
            }
            // 2. MariaDB's IF [NOT] EXISTS inside an operation.
            let stripped = strip_if_exists(&tokens);
            if stripped.len() != tokens.len() {
                if let Ok(Statement::AlterTable(a)) = parse(self.dialect, stripped) {
                    self.alter_table(&a, op_at, &[line]);
                    continue;
                }
            }
            // 3. Table options and partitioning, by their words.
            let w: Vec<String> = meaningful(&op).iter().map(|t| upper(t)).collect();
            let at_ = |i: usize, s: &str| w.get(i).is_some_and(|x| x == s);
            let after_eq = |i: usize| if at_(i, "=") { w.get(i + 1) } else { w.get(i) };
            let first = w.first().map(String::as_str).unwrap_or("");
            let desc = short(
                &meaningful(&op)
                    .iter()
                    .map(|t| t.token.to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            match first {
                "ENGINE" => {
                    let engine = after_eq(1).cloned().unwrap_or_default();
                    let engine = engine.trim_matches(|c| c == '`' || c == '\'' || c == '"');
                    if old && !engine.eq_ignore_ascii_case("INNODB") {
                        // Engines that keep every row and take every statement
                        // the running release sends; any other (BLACKHOLE
                        // discards rows, ARCHIVE refuses UPDATE, MEMORY
                        // forgets on restart, one schemagate does not know)
                        // may lose its data.
                        if !["ARIA", "MYISAM"]
                            .iter()
                            .any(|e| engine.eq_ignore_ascii_case(e))
                        {
                            self.hit(
                                Id::ChangeEngine,
                                op_at,
                                format!("ALTER TABLE {t} ENGINE={engine}"),
                            );
                        }
                        self.hit(
                            Id::CopyEngine,
                            op_at,
                            format!("ALTER TABLE {t} ENGINE={engine}"),
                        );
                    }
                }
                "CONVERT" if at_(1, "TO") => {
                    if old {
                        self.hit(
                            Id::CopyConvertCharset,
                            op_at,
                            format!("ALTER TABLE {t} {desc}"),
                        );
                    }
                }
                "DEFAULT"
                | "CHARACTER"
                | "CHARSET"
                | "COLLATE"
                | "COMMENT"
                | "ROW_FORMAT"
                | "KEY_BLOCK_SIZE"
                | "STATS_PERSISTENT"
                | "STATS_AUTO_RECALC"
                | "STATS_SAMPLE_PAGES"
                | "PAGE_COMPRESSED"
                | "PAGE_COMPRESSION_LEVEL"
                | "AUTO_INCREMENT"
                | "FORCE"
                | "AVG_ROW_LENGTH"
                | "MAX_ROWS"
                | "MIN_ROWS"
                | "CHECKSUM"
                | "DELAY_KEY_WRITE"
                | "PACK_KEYS"
                | "TRANSACTIONAL" => {}
                "PARTITION" if at_(1, "BY") => {
                    if old {
                        self.hit(
                            Id::CopyPartitioning,
                            op_at,
                            format!("ALTER TABLE {t} {desc}"),
                        );
                    }
                }
                "REMOVE" | "COALESCE" | "REORGANIZE" | "REBUILD" | "EXCHANGE"
                    if w.iter().any(|x| x.starts_with("PARTITION")) =>
                {
                    if old {
                        self.hit(
                            Id::CopyPartitioning,
                            op_at,
                            format!("ALTER TABLE {t} {desc}"),
                        );
                    }
                }
                "DROP" | "TRUNCATE" if at_(1, "PARTITION") => {
                    if old {
                        self.hit(Id::DropPartition, op_at, format!("ALTER TABLE {t} {desc}"));
                    }
                }
                "ADD" if at_(1, "PARTITION") => {}
                // mysqldump's `/*!40000 ALTER TABLE t DISABLE KEYS */`.
                "DISABLE" | "ENABLE" if at_(1, "KEYS") => {}
                "DROP" if at_(1, "CHECK") || at_(1, "CONSTRAINT") => {}
                "RENAME" if at_(1, "INDEX") || at_(1, "KEY") => {}
                _ => {
                    let message = parse(self.dialect, tokens).err().unwrap_or_default();
                    self.hit(
                        Id::Unparsed,
                        op_at,
                        format!("ALTER TABLE {t} {desc} ({message})"),
                    );
                    all = false;
                }
            }
        }
        // Reported per operation: never "not recognized" for the caller.
        let _ = all;
        true
    }
}

/// Remove `IF NOT EXISTS` / `IF EXISTS` after the first word of an operation
/// (MariaDB: `ADD COLUMN IF NOT EXISTS`, `DROP INDEX IF EXISTS`, …).
fn strip_if_exists(tokens: &[TokenWithSpan]) -> Vec<TokenWithSpan> {
    let idx: Vec<usize> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| !matches!(t.token, Token::Whitespace(_)))
        .map(|(i, _)| i)
        .collect();
    let mut drop = HashSet::new();
    for (k, &i) in idx.iter().enumerate() {
        if kw(&tokens[i]) == Keyword::IF {
            let n1 = idx.get(k + 1).map(|&j| kw(&tokens[j]));
            let n2 = idx.get(k + 2).map(|&j| kw(&tokens[j]));
            match (n1, n2) {
                (Some(Keyword::NOT), Some(Keyword::EXISTS)) => {
                    drop.extend([i, idx[k + 1], idx[k + 2]]);
                }
                (Some(Keyword::EXISTS), _) => {
                    drop.extend([i, idx[k + 1]]);
                }
                _ => {}
            }
        }
    }
    tokens
        .iter()
        .enumerate()
        .filter(|(i, _)| !drop.contains(i))
        .map(|(_, t)| t.clone())
        .collect()
}

fn object_type_name(t: ObjectType) -> String {
    t.to_string().to_ascii_uppercase()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// `(severity[id], line)` of each finding of `sql` on top of `before`.
    pub(in crate::lint) fn hits(dialect: Dialect, before: &str, sql: &str) -> Vec<(String, usize)> {
        let mut schema = Schema::new(dialect);
        lint_script(&mut schema, dialect, before, false);
        lint_script(&mut schema, dialect, sql, true)
            .2
            .iter()
            .map(|f| (format!("{}[{}]", f.severity().as_str(), f.rule.id), f.line))
            .collect()
    }

    pub(in crate::lint) fn ids(dialect: Dialect, before: &str, sql: &str) -> Vec<String> {
        hits(dialect, before, sql)
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    }

    pub(in crate::lint) const USERS_MY: &str = "CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR(100) NULL, plan VARCHAR(20) NOT NULL DEFAULT 'free', age INT NOT NULL);";
    pub(in crate::lint) const USERS_PG: &str = "CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR(100), plan TEXT NOT NULL DEFAULT 'free', age INT NOT NULL);";

    #[test]
    fn a_finding_is_only_recorded_for_a_rule_of_the_dialect() {
        use crate::lint::rules::Id;
        for (dialect, own, foreign) in [
            (Dialect::MariaDb, Id::CopyCheck, Id::ScanSetNotNull),
            (Dialect::Postgres, Id::ScanSetNotNull, Id::CopyCheck),
        ] {
            let mut schema = Schema::new(dialect);
            let mut cx = Cx::new(dialect, &mut schema, true, false);
            let at = At {
                line: 1,
                statement: 0,
            };
            cx.hit(foreign, at, "foreign");
            cx.hit(own, at, "own");
            cx.hit(Id::DropTable, at, "both");
            let got: Vec<Id> = cx.findings.iter().map(|f| f.rule.id).collect();
            assert_eq!(got, [own, Id::DropTable], "{dialect}");
        }
    }

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

    #[test]
    fn mariadb_statements_the_parser_does_not_read() {
        let sql =
            "ALTER TABLE users ADD COLUMN IF NOT EXISTS nick VARCHAR(20) NULL, ENGINE=InnoDB;\n\
                   ALTER TABLE users DROP COLUMN IF EXISTS name;\n\
                   ALTER TABLE users RENAME INDEX a TO b, DEFAULT CHARSET=utf8mb4;\n\
                   CREATE OR REPLACE TABLE users (id INT);\n\
                   DELIMITER //";
        assert_eq!(
            hits(Dialect::MariaDb, USERS_MY, sql),
            vec![
                ("breaking[drop-column]".into(), 2),
                ("breaking[drop-table]".into(), 4),
                ("unknown[unparsed]".into(), 5),
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

    #[test]
    fn large_data_statements_are_read_without_parsing_every_row() {
        use std::fmt::Write;
        // A 16 MB multi-row INSERT whose strings hold `;`: one statement.
        let rows = |n: usize| {
            let mut s = String::from("INSERT INTO users (id, name) VALUES\n");
            let mut i = 0;
            while s.len() < n {
                if i > 0 {
                    s.push_str(",\n");
                }
                write!(s, "({i}, 'name {i}; it''s')").unwrap();
                i += 1;
            }
            s
        };
        let big = format!("{USERS_MY}\n{};\nSELECT 1;", rows(16 << 20));
        let mut schema = Schema::new(Dialect::MariaDb);
        let (_, statements, findings) = lint_script(&mut schema, Dialect::MariaDb, &big, true);
        assert_eq!(statements, 3);
        assert!(findings.is_empty(), "{findings:?}");
        let pg = format!("{USERS_PG}\n{};", rows(1 << 20));
        let mut schema = Schema::new(Dialect::Postgres);
        let (_, statements, findings) = lint_script(&mut schema, Dialect::Postgres, &pg, true);
        assert_eq!((statements, findings.len()), (2, 0), "{findings:?}");

        // What a large data statement can do is still seen.
        let set = |filter: &str| {
            let mut s = String::from("UPDATE users SET name = CASE id");
            for i in 0..20_000 {
                write!(s, " WHEN {i} THEN 'n{i}'").unwrap();
            }
            s.push_str(" END");
            s.push_str(filter);
            s
        };
        assert!(set("").len() > LARGE_STATEMENT);
        assert_eq!(
            ids(Dialect::MariaDb, USERS_MY, &set("")),
            ["warning[update-all]"]
        );
        assert!(ids(Dialect::MariaDb, USERS_MY, &set(" WHERE id < 20000")).is_empty());
        assert_eq!(
            ids(
                Dialect::MariaDb,
                USERS_MY,
                &format!(
                    "DELETE FROM users WHERE id IN (SELECT id FROM users) OR {}",
                    set("").replace("UPDATE users SET name = ", "name = ")
                )
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            ids(
                Dialect::MariaDb,
                USERS_MY,
                &rows(LARGE_STATEMENT * 2).replacen(
                    "VALUES\n(0, ",
                    "VALUES\n(RELEASE_ALL_LOCKS(), ",
                    1
                )
            ),
            ["refused[release-lock]"]
        );
        // A large statement that is DDL is parsed like any other.
        let mut alter = String::from("ALTER TABLE users DROP COLUMN name");
        for i in 0..5_000 {
            write!(alter, ",\n  ADD COLUMN extra_{i} VARCHAR(20) NULL").unwrap();
        }
        assert!(alter.len() > LARGE_STATEMENT);
        assert_eq!(
            ids(Dialect::MariaDb, USERS_MY, &alter),
            ["breaking[drop-column]"]
        );
        let select = format!(
            "INSERT INTO users (id, name) SELECT id, name FROM users WHERE {}",
            "id > 0 AND ".repeat(20_000)
        );
        assert!(ids(Dialect::MariaDb, USERS_MY, &format!("{select}1")).is_empty());
    }

    #[test]
    fn each_migration_on_its_own_matches_one_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        for (n, sql) in [
            ("1_a.sql", USERS_MY),
            (
                "2_b.sql",
                "ALTER TABLE users ADD COLUMN email VARCHAR(50) NULL;",
            ),
            ("3_c.sql", "ALTER TABLE users DROP COLUMN email;"),
        ] {
            std::fs::write(dir.path().join(n), sql).unwrap();
        }
        let set = MigrationSet::load(dir.path()).unwrap();
        let each: Vec<_> = lint_each(&set, Dialect::MariaDb)
            .iter()
            .map(|l| l.class())
            .collect();
        let one: Vec<_> = set
            .files
            .iter()
            .map(|f| lint(&set, Dialect::MariaDb, &[f.version])[0].class())
            .collect();
        assert_eq!(each, one);
        assert_eq!(
            lint(&set, Dialect::MariaDb, &after(&set, 1))
                .iter()
                .map(|l| l.class())
                .collect::<Vec<_>>(),
            vec![super::super::Class::Expand; 2]
        );
    }
}
