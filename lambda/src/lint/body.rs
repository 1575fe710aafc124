//! Statements whose body is code, classified by what the body can do —
//! never `expand` because the outer statement looks harmless:
//!
//! - an event's body runs on its schedule, a trigger's on every write of
//!   the running release to its table: their statements are read like the
//!   file's own (in another session, so what they do to *their* session is
//!   their business);
//! - MariaDB's `BEGIN NOT ATOMIC … END`, `PREPARE s FROM '…'` and
//!   `EXECUTE IMMEDIATE '…'` run here and now: read like the file's own;
//! - SQL built at run time (`PREPARE s FROM @sql`), a PostgreSQL `DO` block
//!   or a PL/pgSQL trigger function cannot be read: `unknown`.
//!
//! A procedure's or function's body runs only when called, and a call is
//! classified where it is (`CALL` and calls of the migrations' routines
//! are `unknown`).

use std::borrow::Cow;

use sqlparser::ast::{Expr, Statement, Value};
use sqlparser::tokenizer::{Token, TokenWithSpan};

use super::cx::{At, Cx, Runs};
use super::name::{Name, Of};
use super::rules::Id;
use super::scan::{Lex, Lexeme, Mode, Scanner};
use super::split::{pieces, Piece};
use super::statement::short;
use super::tokens::meaningful;
use crate::dialect::Dialect;

/// Bodies inside bodies deeper than this are not followed (`unknown`).
const MAX_NESTING: usize = 8;

/// The code lexemes of a piece, each with whether it is inside an
/// executable comment.
fn lexemes(p: &Piece, dialect: Dialect) -> Vec<(Lexeme, bool)> {
    let text: &str = &p.text;
    let mut s = Scanner::new(text, dialect)
        .inside_exec(p.in_exec)
        .at(p.line, p.col);
    let mut out = Vec::new();
    loop {
        let in_exec = s.in_exec();
        match s.next() {
            Some(Ok(l)) if l.is_code() => out.push((l, in_exec)),
            Some(Ok(_)) => {}
            _ => break,
        }
    }
    out
}

fn string_value(e: &Expr) -> Option<String> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// The code lexemes of one statement of a block, read by position.
struct Block<'t> {
    text: &'t str,
    lx: Vec<(Lexeme, bool)>,
}

/// What a `DECLARE` declares.
enum Handler {
    /// A variable, condition or cursor.
    None,
    /// A handler; the statement it runs starts at this lexeme.
    Guards(usize),
    /// `HANDLER` without `FOR`.
    Unreadable,
}

impl Block<'_> {
    /// The word at `i`, upper-cased.
    fn word(&self, i: usize) -> Option<String> {
        self.lx
            .get(i)
            .filter(|(l, _)| l.lex == Lex::Word)
            .map(|(l, _)| l.text(self.text).to_ascii_uppercase())
    }

    fn punct(&self, i: usize, c: char) -> bool {
        self.lx
            .get(i)
            .is_some_and(|(l, _)| l.is_punct(self.text, c))
    }

    /// The first `target` after `from`, outside parentheses and CASE.
    fn find(&self, from: usize, target: &str) -> Option<usize> {
        let text = self.text;
        let (mut depth, mut case) = (0i32, 0i32);
        for (k, (l, _)) in self.lx.iter().enumerate().skip(from) {
            if l.is_punct(text, '(') {
                depth += 1;
            } else if l.is_punct(text, ')') {
                depth -= 1;
            } else if l.is(text, "CASE") {
                case += 1;
            } else if l.is(text, "END") && case > 0 {
                case -= 1;
            } else if depth == 0 && case == 0 && l.is(text, target) {
                return Some(k);
            }
        }
        None
    }

    /// `DECLARE … HANDLER FOR <conditions> <statement>` from lexeme `i`.
    fn handler(&self, i: usize) -> Handler {
        let Some(h) = (i..self.lx.len()).find(|&k| self.word(k).as_deref() == Some("HANDLER"))
        else {
            return Handler::None;
        };
        if self.word(h + 1).as_deref() != Some("FOR") {
            return Handler::Unreadable;
        }
        // The conditions: SQLSTATE [VALUE] '…', NOT FOUND, SQLEXCEPTION,
        // SQLWARNING, a name or an error number.
        let mut k = h + 2;
        loop {
            match self.word(k).as_deref() {
                Some("SQLSTATE") => {
                    k += 1;
                    if self.word(k).as_deref() == Some("VALUE") {
                        k += 1;
                    }
                    k += 1;
                }
                Some("NOT") => k += 2,
                _ => k += 1,
            }
            if self.punct(k, ',') {
                k += 1;
            } else {
                return Handler::Guards(k);
            }
        }
    }
}

impl Cx<'_> {
    /// Statements sqlparser does not read whose body is code. `true`:
    /// classified.
    pub(super) fn body_fallback(
        &mut self,
        piece: &Piece,
        tokens: &[TokenWithSpan],
        up: &[String],
        at: At,
    ) -> bool {
        let has = |i: usize, s: &str| up.get(i).is_some_and(|w| w == s);
        match self.dialect {
            Dialect::Postgres => {
                if has(0, "DO") {
                    self.hit(
                        Id::CodeBody,
                        at,
                        format!("`{}`: a DO block runs PL/pgSQL", short(&piece.text)),
                    );
                    return true;
                }
                false
            }
            Dialect::MariaDb => {
                if has(0, "BEGIN") && has(1, "NOT") && has(2, "ATOMIC") {
                    self.in_body(piece, 0, Runs::Here, None, at);
                    return true;
                }
                if has(0, "PREPARE") {
                    self.prepare(piece, tokens, at);
                    return true;
                }
                if has(0, "ALTER") && up.iter().take(12).any(|w| w == "EVENT") {
                    let words = meaningful(tokens);
                    let name = up
                        .iter()
                        .position(|w| w == "EVENT")
                        .and_then(|i| self.name_at(Of::Routine, &words, i + 1))
                        .unwrap_or_else(|| Name::new(self.dialect, Of::Routine, "", true));
                    // Without `DO`, the body stays what it was.
                    if up.iter().any(|w| w == "DO") {
                        self.event_body(piece, &name, at);
                    }
                    return true;
                }
                false
            }
        }
    }

    /// MariaDB `CREATE TRIGGER … FOR EACH ROW <body>`; PostgreSQL `CREATE
    /// TRIGGER … EXECUTE FUNCTION f()`. Only a trigger on a table the
    /// running release knows changes what its writes do.
    pub(super) fn trigger_body(&mut self, piece: &Piece, name: &Name, table: &Name, at: At) {
        if !self.old_table(table) {
            return;
        }
        if self.dialect == Dialect::Postgres {
            self.hit(
                Id::CodeBody,
                at,
                format!("CREATE TRIGGER {name} on existing table {table}: its function runs on every write of the running release, and schemagate does not read PL/pgSQL"),
            );
            return;
        }
        let text: &str = &piece.text;
        let lx = lexemes(piece, self.dialect);
        let row = (2..lx.len()).find(|&k| {
            lx[k].0.is(text, "ROW") && lx[k - 1].0.is(text, "EACH") && lx[k - 2].0.is(text, "FOR")
        });
        let mut k = match row {
            Some(k) => k + 1,
            None => {
                self.hit(
                    Id::Unparsed,
                    at,
                    format!("`{}`: no FOR EACH ROW", short(text)),
                );
                return;
            }
        };
        if lx
            .get(k)
            .is_some_and(|(l, _)| l.is(text, "FOLLOWS") || l.is(text, "PRECEDES"))
        {
            k += 2;
        }
        match lx.get(k) {
            Some((l, _)) => self.in_body(
                piece,
                l.start,
                Runs::Elsewhere,
                Some(format!("in trigger `{name}` on `{table}`")),
                at,
            ),
            None => self.hit(Id::Unparsed, at, format!("`{}`: no body", short(text))),
        }
    }

    /// MariaDB `CREATE EVENT … DO <body>` / `ALTER EVENT … DO <body>`.
    pub(super) fn event_body(&mut self, piece: &Piece, name: &Name, at: At) {
        let text: &str = &piece.text;
        let lx = lexemes(piece, self.dialect);
        let mut depth = 0i32;
        let mut body = None;
        for (k, (l, _)) in lx.iter().enumerate() {
            if l.is_punct(text, '(') {
                depth += 1;
            } else if l.is_punct(text, ')') {
                depth -= 1;
            } else if depth == 0 && l.is(text, "DO") {
                body = lx.get(k + 1).map(|(b, _)| b.start);
                break;
            }
        }
        match body {
            Some(start) => self.in_body(
                piece,
                start,
                Runs::Elsewhere,
                Some(format!("in event `{name}`")),
                at,
            ),
            None => self.hit(Id::Unparsed, at, format!("`{}`: no DO body", short(text))),
        }
    }

    /// Read the body that starts at byte `start` of `piece` as a block.
    fn in_body(
        &mut self,
        piece: &Piece,
        start: usize,
        runs: Runs,
        context: Option<String>,
        at: At,
    ) {
        if self.nesting >= MAX_NESTING {
            self.hit(
                Id::Unparsed,
                at,
                format!("`{}`: nested too deep", short(&piece.text)),
            );
            return;
        }
        let inner = match piece.inner(start..piece.text.len(), self.dialect, Mode::Block) {
            Ok(v) => v,
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
        let saved_runs = self.runs;
        let saved_context = self.context.clone();
        // A body run elsewhere, later, does not change the schema the rest
        // of the file sees now.
        let saved_schema = (runs == Runs::Elsewhere).then(|| self.schema.clone());
        if runs == Runs::Elsewhere {
            self.runs = Runs::Elsewhere;
        }
        if context.is_some() {
            self.context = context;
        }
        self.nesting += 1;
        for mut p in inner {
            p.index = piece.index;
            self.block_statement(&p);
        }
        self.nesting -= 1;
        self.runs = saved_runs;
        self.context = saved_context;
        if let Some(s) = saved_schema {
            *self.schema = s;
        }
    }

    /// One statement of a stored program's block: control flow (`IF … THEN`,
    /// `WHILE … DO`, labels, `DECLARE … HANDLER FOR …`) is stepped over to
    /// the statement it guards, which is classified like any other.
    fn block_statement(&mut self, p: &Piece) {
        let b = Block {
            text: &p.text,
            lx: lexemes(p, self.dialect),
        };
        let at = At {
            line: p.line,
            statement: p.index,
        };
        let unparsed = |why: &str| format!("`{}`{why}", short(b.text));
        let mut i = 0;
        loop {
            let Some(w) = b.word(i) else {
                if i < b.lx.len() {
                    // Not a word: an expression statement the parser reads.
                    break;
                }
                // Control only: the calls in its conditions still count.
                self.calls(p, at);
                return;
            };
            if b.punct(i + 1, ':') && !b.punct(i + 2, '=') {
                i += 2; // a label
                continue;
            }
            let guarded = match w.as_str() {
                "BEGIN" => return self.compound(p, &b, i, at),
                "IF" | "ELSEIF" | "WHEN" => b.find(i + 1, "THEN").map(|k| k + 1),
                "WHILE" | "FOR" => b.find(i + 1, "DO").map(|k| k + 1),
                "ELSE" | "LOOP" | "REPEAT" => Some(i + 1),
                "END" | "UNTIL" | "LEAVE" | "ITERATE" | "OPEN" | "CLOSE" | "FETCH" | "RETURN" => {
                    return self.calls(p, at);
                }
                "DECLARE" => match b.handler(i) {
                    // A variable, condition or cursor.
                    Handler::None => return self.calls(p, at),
                    Handler::Guards(k) => Some(k),
                    Handler::Unreadable => None,
                },
                "CASE" => {
                    let why = unparsed(": a CASE statement in a body");
                    return self.hit(Id::Unparsed, at, why);
                }
                _ => break,
            };
            match guarded {
                Some(k) => i = k,
                None => return self.hit(Id::Unparsed, at, unparsed("")),
            }
        }
        self.guarded(p, &b, i, at);
    }

    /// The statement at lexeme `i` of a block statement, after the control
    /// flow that guards it (whose calls count too).
    fn guarded(&mut self, p: &Piece, b: &Block, i: usize, at: At) {
        let text = b.text;
        let Some(&(first, in_exec)) = b.lx.get(i) else {
            self.calls(p, at);
            return;
        };
        if i > 0 {
            // The conditions stepped over.
            let guard = Piece {
                index: p.index,
                line: p.line,
                col: p.col,
                text: Cow::Borrowed(&text[..first.start]),
                in_exec: p.in_exec,
                marked: p.marked,
            };
            self.calls(&guard, at);
        }
        let leaf = Piece {
            index: p.index,
            line: first.line,
            col: first.col,
            text: Cow::Borrowed(&text[first.start..]),
            in_exec,
            marked: p.marked,
        };
        self.piece(&leaf);
    }

    /// `[label:] BEGIN [NOT ATOMIC] … END` at lexeme `i`: each statement
    /// inside, read like the block's own.
    fn compound(&mut self, p: &Piece, b: &Block, i: usize, at: At) {
        let text = b.text;
        let mut j = i + 1;
        if b.word(j).as_deref() == Some("NOT") && b.word(j + 1).as_deref() == Some("ATOMIC") {
            j += 2;
        }
        let last = b.lx.len() - 1;
        let end = if b.word(last).as_deref() == Some("END") {
            Some(last)
        } else if last >= 1 && b.word(last - 1).as_deref() == Some("END") {
            Some(last - 1)
        } else {
            None
        };
        let Some(end) = end.filter(|&e| e >= j) else {
            self.hit(
                Id::Unparsed,
                at,
                format!("`{}`: BEGIN without END", short(text)),
            );
            return;
        };
        if i > 0 {
            self.calls(p, at);
        }
        if end == j {
            return;
        }
        if self.nesting >= MAX_NESTING {
            self.hit(
                Id::Unparsed,
                at,
                format!("`{}`: nested too deep", short(text)),
            );
            return;
        }
        let (first, _) = b.lx[j];
        let range = first.start..b.lx[end].0.start;
        match pieces(
            &text[range],
            self.dialect,
            Mode::Block,
            first.line,
            first.col,
        ) {
            Ok(inner) => {
                self.nesting += 1;
                for mut q in inner {
                    q.index = p.index;
                    self.block_statement(&q);
                }
                self.nesting -= 1;
            }
            Err(e) => self.hit(
                Id::Unparsed,
                At {
                    line: e.line,
                    statement: p.index,
                },
                format!("`{}` ({})", short(text), e.message),
            ),
        }
    }

    /// PostgreSQL `PREPARE s AS …`, `EXECUTE s`; MySQL-dialect `EXECUTE
    /// IMMEDIATE '…'`.
    pub(super) fn dynamic(&mut self, s: &Statement, at: At, piece: &Piece) {
        match s {
            Statement::Prepare {
                name, statement, ..
            } => {
                self.prepared.insert(name.value.to_ascii_lowercase());
                self.statement(statement, at, &[], piece);
            }
            Statement::Execute {
                name,
                parameters,
                immediate,
                ..
            } => {
                let n = name.as_ref().map(|n| n.to_string().to_ascii_lowercase());
                if *immediate || n.as_deref() == Some("immediate") {
                    match parameters.first().and_then(string_value) {
                        Some(sql) => self.nested(sql, at, piece.line, piece.col),
                        None => self.hit(
                            Id::DynamicSql,
                            at,
                            format!(
                                "`{}`: the statement is built at run time",
                                short(&piece.text)
                            ),
                        ),
                    }
                } else if !n.is_some_and(|n| self.prepared.contains(&n)) {
                    self.hit(
                        Id::DynamicSql,
                        at,
                        format!(
                            "`{}`: prepared outside this file, so schemagate cannot tell what it runs",
                            short(&piece.text)
                        ),
                    );
                }
            }
            _ => {}
        }
    }

    /// MariaDB `PREPARE s FROM '…'` (read now) or `FROM @sql` (unknown).
    fn prepare(&mut self, piece: &Piece, tokens: &[TokenWithSpan], at: At) {
        let words = meaningful(tokens);
        let name = words
            .get(1)
            .map(|t| t.token.to_string().to_ascii_lowercase());
        let from = words
            .get(2)
            .is_some_and(|t| t.token.to_string().eq_ignore_ascii_case("FROM"));
        match (name, from, words.get(3), words.len()) {
            (Some(name), true, Some(t), 4) => match &t.token {
                Token::SingleQuotedString(sql) | Token::DoubleQuotedString(sql) => {
                    self.prepared.insert(name);
                    let (line, col) =
                        (t.span.start.line as usize, t.span.start.column as usize + 1);
                    self.nested(sql.clone(), at, line, col);
                }
                _ => {
                    // Reported here; its EXECUTE need not say it again.
                    self.prepared.insert(name);
                    self.hit(
                        Id::DynamicSql,
                        at,
                        format!(
                            "`{}`: the statement is built at run time",
                            short(&piece.text)
                        ),
                    )
                }
            },
            _ => self.hit(Id::Unparsed, at, format!("`{}`", short(&piece.text))),
        }
    }

    /// SQL held in a string that runs in this session.
    fn nested(&mut self, sql: String, at: At, line: usize, col: usize) {
        if self.nesting >= MAX_NESTING {
            self.hit(Id::Unparsed, at, "a prepared statement nested too deep");
            return;
        }
        match pieces(&sql, self.dialect, Mode::Script, line, col) {
            Ok(inner) => {
                self.nesting += 1;
                for mut p in inner {
                    p.index = at.statement;
                    self.piece(&p);
                }
                self.nesting -= 1;
            }
            Err(e) => self.hit(
                Id::Unparsed,
                At {
                    line: e.line,
                    statement: at.statement,
                },
                format!("the prepared text cannot be read as SQL: {}", e.message),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::dialect::Dialect;
    use crate::lint::rules::Id;
    use crate::lint::schema::Schema;
    use crate::lint::script::lint_script;
    use crate::lint::script::tests::{hits, ids, USERS_MY, USERS_PG};

    fn my(sql: &str) -> Vec<String> {
        ids(Dialect::MariaDb, USERS_MY, sql)
    }
    const NONE: Vec<String> = Vec::new();

    #[test]
    fn executable_comments_are_read_like_plain_sql() {
        for sql in [
            "/*M! DROP TABLE users */;",
            "/*M!100100 DROP TABLE users */;",
            "/*! DROP TABLE users */;",
            "/*!50000DROP TABLE users */;",
            "SELECT 1; /*!40101 DROP TABLE users */",
            "/*M!100100 SELECT 1; DROP TABLE users */;",
        ] {
            assert_eq!(my(sql), ["breaking[drop-table]"], "{sql}");
        }
        assert_eq!(
            hits(
                Dialect::MariaDb,
                USERS_MY,
                "SELECT 1;\n  /*M! DROP TABLE users */;"
            ),
            [("breaking[drop-table]".to_string(), 2)]
        );
        // Comments MariaDB does not run.
        assert_eq!(
            my("/*m! DROP TABLE users */; /*+ DROP TABLE users */ SELECT 1;"),
            NONE
        );
        // PostgreSQL runs none of them.
        assert_eq!(
            ids(
                Dialect::Postgres,
                USERS_PG,
                "/*M! DROP TABLE users */ SELECT 1;"
            ),
            NONE
        );
    }

    #[test]
    fn an_event_s_body_is_read_as_if_it_ran() {
        let sql = "CREATE EVENT e ON SCHEDULE AT CURRENT_TIMESTAMP DO DROP TABLE users;";
        let mut schema = Schema::new(Dialect::MariaDb);
        lint_script(&mut schema, Dialect::MariaDb, USERS_MY, false);
        let (_, _, f) = lint_script(&mut schema, Dialect::MariaDb, sql, true);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].rule.id, Id::DropTable);
        assert_eq!(f[0].subject, "in event `e`: DROP TABLE users");
        let block = "CREATE EVENT purge\n  ON SCHEDULE EVERY 1 DAY\n  COMMENT 'nightly; really'\n  DO BEGIN\n    DECLARE done INT DEFAULT 0;\n    DECLARE CONTINUE HANDLER FOR SQLSTATE '02000', NOT FOUND SET done = 1;\n    SET autocommit = 0;\n    lbl: WHILE done = 0 DO\n      IF (SELECT COUNT(*) FROM users) > 10 THEN\n        TRUNCATE TABLE users;\n      ELSE\n        DELETE FROM users WHERE id < 10;\n      END IF;\n      LEAVE lbl;\n    END WHILE lbl;\n  END;";
        // The event's own session is its business; the TRUNCATE on line 10
        // is the running release's.
        assert_eq!(
            hits(Dialect::MariaDb, USERS_MY, block),
            [("breaking[truncate]".to_string(), 10)]
        );
        assert_eq!(
            my("ALTER EVENT purge ON SCHEDULE EVERY 2 DAY DO ALTER TABLE users DROP COLUMN name;"),
            ["breaking[drop-column]"]
        );
        assert_eq!(my("ALTER EVENT purge DISABLE;"), NONE);
        // Unreadable inside: unknown, never expand.
        assert_eq!(
            my("CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN CASE WHEN 1 THEN SELECT 1; END CASE; END;"),
            ["unknown[unparsed]"]
        );
    }

    #[test]
    fn a_trigger_on_a_table_the_release_writes_is_read_by_its_body() {
        assert_eq!(
            my("CREATE TRIGGER t BEFORE INSERT ON users FOR EACH ROW SET NEW.plan = COALESCE(NEW.plan, 'free');"),
            NONE
        );
        assert_eq!(
            my("CREATE TRIGGER t BEFORE UPDATE ON users FOR EACH ROW BEGIN\n  IF NEW.age < 0 THEN\n    SET NEW.age = 0;\n  END IF;\n  INSERT INTO audit (id) VALUES (NEW.id);\nEND;"),
            NONE
        );
        // It can reject the running release's writes.
        assert_eq!(
            my("CREATE TRIGGER t BEFORE INSERT ON users FOR EACH ROW BEGIN IF NEW.age < 0 THEN SIGNAL SQLSTATE '45000'; END IF; END;"),
            ["unknown[unparsed]"]
        );
        assert_eq!(
            my("CREATE TRIGGER t AFTER INSERT ON users FOR EACH ROW FOLLOWS other DELETE FROM users;"),
            ["warning[delete-all]"]
        );
        // On a table of this deploy the running release never writes.
        assert_eq!(
            my("CREATE TABLE t2 (id INT);\nCREATE TRIGGER t BEFORE INSERT ON t2 FOR EACH ROW BEGIN SIGNAL SQLSTATE '45000'; END;"),
            NONE
        );
        // PostgreSQL: the function is PL/pgSQL.
        assert_eq!(
            ids(Dialect::Postgres, USERS_PG, "CREATE TRIGGER t BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION check_user();"),
            ["unknown[code-body]"]
        );
    }

    #[test]
    fn compound_and_prepared_statements_run_here_and_are_read() {
        assert_eq!(
            hits(
                Dialect::MariaDb,
                USERS_MY,
                "BEGIN NOT ATOMIC\n  DECLARE x INT DEFAULT 1;\n  DROP TABLE users;\nEND;"
            ),
            [("breaking[drop-table]".to_string(), 3)]
        );
        assert_eq!(
            my("BEGIN NOT ATOMIC USE rt_other; END;"),
            ["refused[change-database]"]
        );
        assert_eq!(
            my("PREPARE s FROM 'DROP TABLE users'; EXECUTE s; DEALLOCATE PREPARE s;"),
            ["breaking[drop-table]"]
        );
        assert_eq!(
            my("PREPARE s FROM 'SET autocommit = 1';"),
            ["refused[session-setting]"]
        );
        assert_eq!(
            my("EXECUTE IMMEDIATE 'DROP TABLE users';"),
            ["breaking[drop-table]"]
        );
        assert_eq!(
            my("PREPARE s FROM @sql; EXECUTE s;"),
            ["unknown[dynamic-sql]"]
        );
        assert_eq!(my("EXECUTE elsewhere;"), ["unknown[dynamic-sql]"]);
        assert_eq!(
            my("SET STATEMENT foreign_key_checks = 0 FOR DROP TABLE users;"),
            ["breaking[drop-table]"]
        );
        let pg = |sql| ids(Dialect::Postgres, USERS_PG, sql);
        assert_eq!(
            pg("PREPARE p AS DELETE FROM users; EXECUTE p;"),
            ["warning[delete-all]"]
        );
        assert_eq!(pg("EXECUTE elsewhere;"), ["unknown[dynamic-sql]"]);
        assert_eq!(
            pg("DO $$ BEGIN DROP TABLE users; END $$;"),
            ["unknown[code-body]"]
        );
        // Creating code runs nothing; calling it is not followed.
        assert_eq!(
            my("CREATE PROCEDURE p() BEGIN DROP TABLE users; END;"),
            NONE
        );
        assert_eq!(my("CALL p();"), ["unknown[unrecognized]"]);
        assert_eq!(
            my("CREATE FUNCTION f() RETURNS INT DETERMINISTIC RETURN 1;\nSELECT f();"),
            ["unknown[routine-call]"]
        );
        assert_eq!(
            pg("CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ DROP TABLE users $$;\nSELECT f();"),
            ["unknown[routine-call]"]
        );
    }

    #[test]
    fn a_name_that_looks_like_a_block_hides_nothing() {
        // Before: `begin` opened a block and the DROP joined the CREATE.
        assert_eq!(
            my("CREATE TABLE t (begin INT, x INT); DROP TABLE users;"),
            ["breaking[drop-table]"]
        );
        assert_eq!(
            my("CREATE PROCEDURE p() BEGIN IF 1 THEN SELECT 1; END IF; CASE 1 WHEN 1 THEN SELECT 2; END CASE; END; DROP TABLE users;"),
            ["breaking[drop-table]"]
        );
    }

    #[test]
    fn storage_engines_that_lose_rows_are_breaking() {
        assert_eq!(
            my("ALTER TABLE users ENGINE=BLACKHOLE;"),
            ["breaking[change-engine]", "blocking[copy-engine]"]
        );
        assert_eq!(
            my("ALTER TABLE users ENGINE = 'MEMORY', ADD COLUMN x INT NULL;"),
            ["breaking[change-engine]", "blocking[copy-engine]"]
        );
        assert_eq!(
            my("ALTER TABLE users ENGINE=MyISAM;"),
            ["blocking[copy-engine]"]
        );
        assert_eq!(my("ALTER TABLE users ENGINE=InnoDB;"), NONE);
        assert_eq!(my("CREATE TABLE sink (id INT) ENGINE=BLACKHOLE;"), NONE);
    }
}
