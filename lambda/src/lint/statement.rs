//! One statement: the calls in it are checked, then it is parsed with
//! sqlparser and read as a syntax tree ([`super::tree`]); a statement the
//! parser refuses is read by its words ([`super::fallback`]), and one it
//! cannot read either is `unknown`, never safe. A large data statement is
//! read by the scanner alone.

use sqlparser::ast::Statement;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, TokenWithSpan};

use super::cx::{At, Cx};
use super::rules::Id;
use super::scan::{self, Lex};
use super::split::{parser, Piece};
use super::tokens::{alter_parts, first_line};
use crate::dialect::Dialect;

/// A statement longer than this is not handed to sqlparser when its first
/// word says it only changes rows (`INSERT`, `REPLACE`, `UPDATE`,
/// `DELETE`): sqlparser keeps every token and an AST of every row, about
/// 150 bytes per byte of SQL. Such a statement is read by [`scan`] instead,
/// which sees all a data statement can do here (no `WHERE`, the functions
/// it calls). Anything else is parsed whatever its length.
pub const LARGE_STATEMENT: usize = 64 * 1024;

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

impl Cx<'_> {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::schema::Schema;
    use crate::lint::script::lint_script;
    use crate::lint::script::tests::{ids, USERS_MY, USERS_PG};

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
}
