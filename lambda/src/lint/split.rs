//! Cutting a script into statements where the server does ([`scan`]), so
//! that one statement the parser does not know cannot hide the others, and
//! every finding keeps its line number. Also reads the intent marker from
//! the script's leading comments. Each statement is tokenized for sqlparser
//! only when it is classified, and only if it is not a large data
//! statement, so memory follows the largest statement rather than the file.

use std::borrow::Cow;

use sqlparser::dialect::{Dialect as SqlDialect, MySqlDialect, PostgreSqlDialect};
use sqlparser::tokenizer::{Location, Span, TokenWithSpan, Tokenizer};

use super::scan::{Lex, Mode, Scanner, Statements};
use crate::dialect::Dialect;

/// The sqlparser dialect schemagate parses a dialect's scripts with.
pub fn parser(dialect: Dialect) -> Box<dyn SqlDialect> {
    match dialect {
        Dialect::MariaDb => Box::new(MySqlDialect {}),
        Dialect::Postgres => Box::new(PostgreSqlDialect {}),
    }
}

/// What the author declared in a leading `-- schemagate: …` comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Intent {
    /// No marker: classified by its statements.
    #[default]
    None,
    /// `-- schemagate: contract`: finishes an earlier expand; the running
    /// release no longer uses what it removes. Allowed without a drain.
    Contract,
    /// `-- schemagate: breaking`: the author declares that the running
    /// release must be drained first, whatever the statements look like.
    Breaking,
    /// `-- schemagate: online`: the one statement is a breaking change
    /// schemagate runs as expand now and contract later, both releases
    /// serving (`crate::online`).
    Online,
}

impl Intent {
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::None => "none",
            Intent::Contract => "contract",
            Intent::Breaking => "breaking",
            Intent::Online => "online",
        }
    }
}

/// One statement of a script (or of a body inside one).
#[derive(Debug, Clone)]
pub struct Piece<'a> {
    /// 0-based position among the script's statements.
    pub index: usize,
    /// 1-based line and column of its first character.
    pub line: usize,
    pub col: usize,
    /// Its text as written, trimmed, without the `;`.
    pub text: Cow<'a, str>,
    /// It starts inside a MariaDB executable comment.
    pub in_exec: bool,
    /// It holds comments or executable-comment delimiters.
    pub marked: bool,
}

impl<'a> Piece<'a> {
    /// The text as sqlparser must read it: comments and the delimiters of
    /// executable comments blanked (their contents are code), lines and
    /// columns unchanged.
    pub fn code(&self, dialect: Dialect) -> Cow<'_, str> {
        if !self.marked {
            return Cow::Borrowed(&self.text);
        }
        let text: &str = &self.text;
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for l in Scanner::new(text, dialect).inside_exec(self.in_exec) {
            let Ok(l) = l else { break };
            if matches!(l.lex, Lex::Comment | Lex::ExecOpen | Lex::ExecClose) {
                out.push_str(&text[at..l.start]);
                out.extend(
                    l.text(text)
                        .chars()
                        .map(|c| if c == '\n' { '\n' } else { ' ' }),
                );
                at = l.end;
            }
        }
        out.push_str(&text[at..]);
        Cow::Owned(out)
    }

    /// sqlparser's tokens of [`Piece::code`], placed where the statement is
    /// in the file.
    pub fn tokens(&self, dialect: Dialect) -> Result<Vec<TokenWithSpan>, SplitError> {
        let code = self.code(dialect);
        let d = parser(dialect);
        let mut tokens = Tokenizer::new(d.as_ref(), &code)
            .tokenize_with_location()
            .map_err(|e| SplitError {
                line: e.location.line as usize + self.line - 1,
                message: e.message,
            })?;
        let (dl, dc) = (self.line as u64 - 1, self.col as u64 - 1);
        let place = |l: Location| {
            if l.line == 0 {
                l
            } else if l.line == 1 {
                Location::new(l.line + dl, l.column + dc)
            } else {
                Location::new(l.line + dl, l.column)
            }
        };
        for t in &mut tokens {
            t.span = Span::new(place(t.span.start), place(t.span.end));
        }
        Ok(tokens)
    }

    /// The statements inside `range` of this piece's text (a body), placed
    /// where they are in the file.
    pub fn inner(
        &self,
        range: std::ops::Range<usize>,
        dialect: Dialect,
        mode: Mode,
    ) -> Result<Vec<Piece<'_>>, SplitError> {
        let text: &str = &self.text;
        let (line, col) = position(text, range.start, self.line, self.col);
        pieces(&text[range], dialect, mode, line, col)
    }
}

/// The line and column of byte `at` of `text`, which starts at `line`/`col`.
pub fn position(text: &str, at: usize, line: usize, col: usize) -> (usize, usize) {
    let before = &text[..at];
    match before.rfind('\n') {
        Some(nl) => (
            line + before.matches('\n').count(),
            before[nl + 1..].chars().count() + 1,
        ),
        None => (line, col + before.chars().count()),
    }
}

/// A script cut into statements.
#[derive(Debug, Clone, Default)]
pub struct Pieces<'a> {
    pub intent: Intent,
    /// `(line, text)` of a `schemagate:` comment that is not a known marker.
    pub bad_marker: Option<(usize, String)>,
    /// Line of a `-- schemagate: placeholder` comment: `schemagate import`
    /// wrote the file for a migration a person has to write.
    pub placeholder: Option<usize>,
    /// The text after `online` of each `-- schemagate: online` line (its
    /// arguments: `crate::online::marker`).
    pub online: Vec<String>,
    pub pieces: Vec<Piece<'a>>,
}

/// The text cannot be read (an unterminated string or comment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError {
    pub line: usize,
    pub message: String,
}

/// Cut `sql` at the `;` that end its statements.
pub fn split(sql: &str, dialect: Dialect) -> Result<Pieces<'_>, SplitError> {
    let Marker {
        intent,
        bad: bad_marker,
        placeholder,
        online,
    } = marker(sql, dialect);
    Ok(Pieces {
        intent,
        bad_marker,
        placeholder,
        online,
        pieces: pieces(sql, dialect, Mode::Script, 1, 1)?,
    })
}

/// The statements of `text`, which starts at `line`/`col` of its file.
pub fn pieces(
    text: &str,
    dialect: Dialect,
    mode: Mode,
    line: usize,
    col: usize,
) -> Result<Vec<Piece<'_>>, SplitError> {
    let mut out = Vec::new();
    for s in Statements::new(text, dialect, mode).at(line, col) {
        let s = s.map_err(|e| SplitError {
            line: e.line,
            message: e.message,
        })?;
        out.push(Piece {
            index: out.len(),
            line: s.line,
            col: s.col,
            text: Cow::Borrowed(&text[s.start..s.end]),
            in_exec: s.in_exec,
            marked: s.marked,
        });
    }
    Ok(out)
}

/// What the comments before the first statement declare.
#[derive(Default)]
struct Marker {
    intent: Intent,
    /// A misspelt marker.
    bad: Option<(usize, String)>,
    /// The line of a `placeholder` marker.
    placeholder: Option<usize>,
    /// The arguments of `online` lines.
    online: Vec<String>,
}

fn marker(sql: &str, dialect: Dialect) -> Marker {
    let mut m = Marker::default();
    for l in Scanner::new(sql, dialect) {
        let Ok(l) = l else { break };
        let text = match l.lex {
            Lex::Space => continue,
            Lex::Comment => {
                let t = l.text(sql);
                if let Some(t) = t.strip_prefix("/*") {
                    t.strip_suffix("*/").unwrap_or(t)
                } else {
                    t.trim_start_matches(['-', '#'])
                }
            }
            _ => break,
        };
        for (offset, line) in text.lines().enumerate() {
            let line = line.trim().trim_start_matches('*').trim();
            let Some(rest) = strip_prefix_ci(line, "schemagate:") else {
                continue;
            };
            let word = rest
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            match word.as_str() {
                "contract" => m.intent = Intent::Contract,
                "breaking" => m.intent = Intent::Breaking,
                "online" => {
                    m.intent = Intent::Online;
                    let args = rest.trim_start();
                    m.online.push(args["online".len()..].trim().to_string());
                }
                "placeholder" => m.placeholder = Some(l.line + offset),
                _ => m.bad = Some((l.line + offset, line.to_string())),
            }
        }
    }
    m
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix))
    .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<'a>(p: &'a Pieces) -> Vec<(usize, &'a str)> {
        p.pieces.iter().map(|p| (p.line, p.text.as_ref())).collect()
    }

    #[test]
    fn statements_keep_their_lines_and_text() {
        let p = split("-- head\nCREATE TABLE a (id INT);\n\nALTER TABLE a\n  ADD b INT;\nINSERT INTO a VALUES (';')", Dialect::MariaDb).unwrap();
        assert_eq!(
            texts(&p),
            vec![
                (2, "CREATE TABLE a (id INT)"),
                (4, "ALTER TABLE a\n  ADD b INT"),
                (6, "INSERT INTO a VALUES (';')")
            ]
        );
    }

    #[test]
    fn a_procedure_body_stays_one_statement() {
        let sql = "CREATE PROCEDURE p()\nBEGIN\n  IF 1 THEN SELECT 1; END IF;\n  SELECT CASE WHEN 1 THEN 2 END;\nEND;\nSELECT 2;";
        let p = split(sql, Dialect::MariaDb).unwrap();
        assert_eq!(p.pieces.len(), 2, "{:?}", texts(&p));
        assert_eq!(p.pieces[1].line, 6);
        let tx = split("BEGIN; UPDATE a SET b = 1; COMMIT;", Dialect::Postgres).unwrap();
        assert_eq!(tx.pieces.len(), 3);
    }

    #[test]
    fn dollar_quoted_bodies_are_one_token() {
        let p = split(
            "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\nSELECT 1;",
            Dialect::Postgres,
        )
        .unwrap();
        assert_eq!(p.pieces.len(), 2);
    }

    #[test]
    fn markers_are_read_from_the_leading_comments_only() {
        assert_eq!(
            split(
                "-- schemagate: contract\nALTER TABLE a DROP b;",
                Dialect::MariaDb
            )
            .unwrap()
            .intent,
            Intent::Contract
        );
        assert_eq!(
            split(
                "/* Drops b.\n * SchemaGate: Breaking (drain) */\nALTER TABLE a DROP b;",
                Dialect::MariaDb
            )
            .unwrap()
            .intent,
            Intent::Breaking
        );
        assert_eq!(
            split(
                "ALTER TABLE a DROP b;\n-- schemagate: contract",
                Dialect::MariaDb
            )
            .unwrap()
            .intent,
            Intent::None
        );
        let typo = split("-- schemagate: contracts\nSELECT 1;", Dialect::MariaDb).unwrap();
        assert_eq!(typo.intent, Intent::None);
        assert_eq!(typo.bad_marker, Some((1, "schemagate: contracts".into())));
    }

    #[test]
    fn an_unterminated_string_is_an_error_with_its_line() {
        let e = split("SELECT 1;\nSELECT 'oops", Dialect::MariaDb).unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn mariadb_executable_comments_are_read_as_statements() {
        // MariaDB runs `/*!… */` and `/*M!… */`, with or without a version.
        let p = split(
            "/*!40101 SET NAMES utf8 */;\n/*M!100100 DROP TABLE a */;\n  /*M! DROP TABLE b */; -- x\nSELECT 1;",
            Dialect::MariaDb,
        )
        .unwrap();
        assert_eq!(p.pieces.len(), 4);
        let words = |i: usize| -> Vec<String> {
            p.pieces[i]
                .tokens(Dialect::MariaDb)
                .unwrap()
                .iter()
                .filter(|t| !matches!(t.token, sqlparser::tokenizer::Token::Whitespace(_)))
                .map(|t| t.token.to_string())
                .collect()
        };
        assert_eq!(words(0), ["SET", "NAMES", "utf8"]);
        assert_eq!(words(1), ["DROP", "TABLE", "a"]);
        // Tokens keep their place in the file.
        let b = p.pieces[2].tokens(Dialect::MariaDb).unwrap();
        let drop = b.iter().find(|t| t.token.to_string() == "DROP").unwrap();
        assert_eq!((drop.span.start.line, drop.span.start.column), (3, 8));
    }
}
