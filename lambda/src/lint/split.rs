//! Cutting a script into statements with sqlparser's tokenizer, so that one
//! statement the parser does not know cannot hide the others, and every
//! finding keeps its line number. Also reads the intent marker from the
//! script's leading comments.

use sqlparser::dialect::{Dialect, MySqlDialect, PostgreSqlDialect};
use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Whitespace};

use crate::db::Kind;

/// The dialect schemagate parses a database kind's scripts with.
pub fn dialect(kind: Kind) -> Box<dyn Dialect> {
    match kind {
        Kind::MariaDb => Box::new(MySqlDialect {}),
        Kind::Postgres => Box::new(PostgreSqlDialect {}),
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
}

impl Intent {
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::None => "none",
            Intent::Contract => "contract",
            Intent::Breaking => "breaking",
        }
    }
}

/// One statement of a script.
#[derive(Debug, Clone)]
pub struct Piece {
    /// 0-based position among the script's statements.
    pub index: usize,
    /// 1-based line of its first token.
    pub line: usize,
    /// Its tokens, comments and whitespace included, without the `;`.
    pub tokens: Vec<TokenWithSpan>,
    /// Its text as written, trimmed.
    pub text: String,
}

impl Piece {
    /// The tokens that carry meaning (no whitespace or comments).
    pub fn words(&self) -> impl Iterator<Item = &TokenWithSpan> {
        self.tokens
            .iter()
            .filter(|t| !matches!(t.token, Token::Whitespace(_)))
    }
}

/// A script cut into statements.
#[derive(Debug, Clone, Default)]
pub struct Pieces {
    pub intent: Intent,
    /// `(line, text)` of a `schemagate:` comment that is not a known marker.
    pub bad_marker: Option<(usize, String)>,
    pub pieces: Vec<Piece>,
}

/// The tokenizer gave up (an unterminated string or comment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError {
    pub line: usize,
    pub message: String,
}

/// Cut `sql` at top-level `;`. A `BEGIN … END` body of a `CREATE`
/// (procedure, function, trigger, event) and `CASE … END` stay whole.
pub fn split(sql: &str, kind: Kind) -> Result<Pieces, SplitError> {
    let d = dialect(kind);
    let tokens = Tokenizer::new(d.as_ref(), sql)
        .tokenize_with_location()
        .map_err(|e| SplitError {
            line: e.location.line as usize,
            message: e.message,
        })?;
    let lines = LineIndex::new(sql);

    let (intent, bad_marker) = marker(&tokens);
    let mut pieces = Vec::new();
    let mut current: Vec<TokenWithSpan> = Vec::new();
    let mut depth = 0usize;
    let mut is_create = None::<bool>;
    let flush = |current: &mut Vec<TokenWithSpan>, pieces: &mut Vec<Piece>| {
        if let Some(first) = current
            .iter()
            .find(|t| !matches!(t.token, Token::Whitespace(_)))
        {
            let last = current
                .iter()
                .rev()
                .find(|t| !matches!(t.token, Token::Whitespace(_)))
                .unwrap_or(first);
            let text = lines.slice(sql, first, last).trim().to_string();
            pieces.push(Piece {
                index: pieces.len(),
                line: first.span.start.line as usize,
                tokens: std::mem::take(current),
                text,
            });
        }
        current.clear();
    };
    let n = tokens.len();
    for i in 0..n {
        let t = &tokens[i];
        match &t.token {
            Token::EOF => break,
            Token::SemiColon if depth == 0 => {
                flush(&mut current, &mut pieces);
                is_create = None;
                continue;
            }
            Token::Word(w) => {
                if is_create.is_none() {
                    is_create = Some(w.keyword == Keyword::CREATE);
                }
                match w.keyword {
                    Keyword::BEGIN
                        if is_create == Some(true)
                            && !next_is_end_of_statement(&tokens[i + 1..]) =>
                    {
                        depth += 1
                    }
                    Keyword::CASE => depth += 1,
                    Keyword::END if depth > 0 => {
                        // `END IF`, `END LOOP`, `END WHILE`, `END REPEAT` close
                        // blocks that were not counted.
                        let next = next_word(&tokens[i + 1..]).unwrap_or_default();
                        if !matches!(next.as_str(), "IF" | "LOOP" | "WHILE" | "REPEAT") {
                            depth -= 1;
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        current.push(t.clone());
    }
    flush(&mut current, &mut pieces);
    Ok(Pieces {
        intent,
        bad_marker,
        pieces,
    })
}

fn next_word(rest: &[TokenWithSpan]) -> Option<String> {
    rest.iter()
        .find(|t| !matches!(t.token, Token::Whitespace(_)))
        .and_then(|t| match &t.token {
            Token::Word(w) => Some(w.value.to_ascii_uppercase()),
            _ => None,
        })
}

/// `BEGIN;`, `BEGIN WORK`, `BEGIN TRANSACTION`: a transaction, not a block.
fn next_is_end_of_statement(rest: &[TokenWithSpan]) -> bool {
    match rest
        .iter()
        .find(|t| !matches!(t.token, Token::Whitespace(_)))
        .map(|t| &t.token)
    {
        None | Some(Token::SemiColon) | Some(Token::EOF) => true,
        Some(Token::Word(w)) => matches!(w.keyword, Keyword::WORK | Keyword::TRANSACTION),
        _ => false,
    }
}

/// The marker in the comments before the first statement.
fn marker(tokens: &[TokenWithSpan]) -> (Intent, Option<(usize, String)>) {
    let mut intent = Intent::None;
    let mut bad = None;
    for t in tokens {
        let (text, line) = match &t.token {
            Token::Whitespace(Whitespace::SingleLineComment { comment, .. }) => {
                (comment.as_str(), t.span.start.line)
            }
            Token::Whitespace(Whitespace::MultiLineComment(c)) if !c.starts_with('!') => {
                (c.as_str(), t.span.start.line)
            }
            Token::Whitespace(_) => continue,
            _ => break,
        };
        for (offset, l) in text.lines().enumerate() {
            let l = l.trim().trim_start_matches('*').trim();
            let Some(rest) = strip_prefix_ci(l, "schemagate:") else {
                continue;
            };
            let word = rest
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            match word.as_str() {
                "contract" => intent = Intent::Contract,
                "breaking" => intent = Intent::Breaking,
                _ => bad = Some((line as usize + offset, l.to_string())),
            }
        }
    }
    (intent, bad)
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix))
    .then(|| &s[prefix.len()..])
}

/// Line/column (1-based, columns in characters) to byte offsets.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(sql: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(sql.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    fn offset(&self, sql: &str, line: u64, column: u64) -> usize {
        let Some(&start) = self.starts.get((line as usize).saturating_sub(1)) else {
            return sql.len();
        };
        sql[start..]
            .char_indices()
            .nth((column as usize).saturating_sub(1))
            .map_or(sql.len(), |(i, _)| start + i)
    }

    fn slice<'a>(&self, sql: &'a str, first: &TokenWithSpan, last: &TokenWithSpan) -> &'a str {
        let a = self.offset(sql, first.span.start.line, first.span.start.column);
        // The span's end is the position just after the token.
        let b = self.offset(sql, last.span.end.line, last.span.end.column);
        if a <= b && b <= sql.len() {
            &sql[a..b]
        } else {
            ""
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(p: &Pieces) -> Vec<(usize, &str)> {
        p.pieces.iter().map(|p| (p.line, p.text.as_str())).collect()
    }

    #[test]
    fn statements_keep_their_lines_and_text() {
        let p = split("-- head\nCREATE TABLE a (id INT);\n\nALTER TABLE a\n  ADD b INT;\nINSERT INTO a VALUES (';')", Kind::MariaDb).unwrap();
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
        let p = split(sql, Kind::MariaDb).unwrap();
        assert_eq!(p.pieces.len(), 2, "{:?}", texts(&p));
        assert_eq!(p.pieces[1].line, 6);
        let tx = split("BEGIN; UPDATE a SET b = 1; COMMIT;", Kind::Postgres).unwrap();
        assert_eq!(tx.pieces.len(), 3);
    }

    #[test]
    fn dollar_quoted_bodies_are_one_token() {
        let p = split(
            "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\nSELECT 1;",
            Kind::Postgres,
        )
        .unwrap();
        assert_eq!(p.pieces.len(), 2);
    }

    #[test]
    fn markers_are_read_from_the_leading_comments_only() {
        assert_eq!(
            split(
                "-- schemagate: contract\nALTER TABLE a DROP b;",
                Kind::MariaDb
            )
            .unwrap()
            .intent,
            Intent::Contract
        );
        assert_eq!(
            split(
                "/* Drops b.\n * SchemaGate: Breaking (drain) */\nALTER TABLE a DROP b;",
                Kind::MariaDb
            )
            .unwrap()
            .intent,
            Intent::Breaking
        );
        assert_eq!(
            split(
                "ALTER TABLE a DROP b;\n-- schemagate: contract",
                Kind::MariaDb
            )
            .unwrap()
            .intent,
            Intent::None
        );
        let typo = split("-- schemagate: contracts\nSELECT 1;", Kind::MariaDb).unwrap();
        assert_eq!(typo.intent, Intent::None);
        assert_eq!(typo.bad_marker, Some((1, "schemagate: contracts".into())));
    }

    #[test]
    fn an_unterminated_string_is_an_error_with_its_line() {
        let e = split("SELECT 1;\nSELECT 'oops", Kind::MariaDb).unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn mysql_executable_comments_are_read_as_statements() {
        // MariaDB runs `/*!… */`; the MySQL tokenizer reads their contents.
        let p = split("/*!40101 SET NAMES utf8 */;\nSELECT 1;", Kind::MariaDb).unwrap();
        assert_eq!(p.pieces.len(), 2);
        assert!(p.pieces[0].words().any(|t| t.token.to_string() == "NAMES"));
    }
}
