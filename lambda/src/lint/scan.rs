//! Reading a script the way the server reads it: where strings, quoted
//! names and comments begin and end, which comments the server executes
//! (MariaDB's `/*! … */` and `/*M! … */`), and where each statement ends.
//!
//! Written here rather than taken from sqlparser's tokenizer for two
//! reasons. sqlparser materialises every token (about 90 bytes each, several
//! per byte of a multi-row `INSERT`), so a 16 MB data migration cost
//! gigabytes; this scanner allocates nothing per lexeme and streams. And
//! the statement boundaries must be the *server's*: MariaDB executes
//! `/*M!…*/`, which sqlparser reads as a comment, and treats `#` as a
//! comment without a following space. sqlparser still parses each
//! statement; a disagreement between the two (a `;` sqlparser sees where
//! this scanner saw a string) makes the statement unreadable — `unknown`,
//! never silently safe.

use crate::dialect::Dialect;

/// What a lexeme is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lex {
    Space,
    /// A comment the server ignores (`-- `, `#`, `/* */`).
    Comment,
    /// `/*!`, `/*!40101`, `/*M!`, `/*M!100100`: what follows is code.
    ExecOpen,
    /// The `*/` that ends an executable comment.
    ExecClose,
    Word,
    /// A quoted name: `` `x` `` (MariaDB), `"x"` (PostgreSQL).
    Quoted,
    /// A string literal, with its quotes (and an `E` prefix).
    Str,
    Number,
    Semi,
    /// Any other character.
    Punct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lexeme {
    pub lex: Lex,
    /// Byte range in the text scanned.
    pub start: usize,
    pub end: usize,
    /// 1-based line and column (in characters) of `start`.
    pub line: usize,
    pub col: usize,
}

impl Lexeme {
    /// Something the server executes (not space, a comment or an
    /// executable comment's delimiters).
    pub fn is_code(&self) -> bool {
        !matches!(
            self.lex,
            Lex::Space | Lex::Comment | Lex::ExecOpen | Lex::ExecClose
        )
    }

    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        &src[self.start..self.end]
    }

    /// An unquoted word equal to `w` (ASCII, any case).
    pub fn is(&self, src: &str, w: &str) -> bool {
        self.lex == Lex::Word && self.text(src).eq_ignore_ascii_case(w)
    }

    pub fn is_punct(&self, src: &str, c: char) -> bool {
        self.lex == Lex::Punct && self.text(src).starts_with(c)
    }
}

/// The text cannot be read: an unterminated string, name or comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError {
    pub line: usize,
    pub message: String,
}

/// The lexemes of a text, in order; stops after an error.
pub struct Scanner<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    line: usize,
    col: usize,
    dialect: Dialect,
    /// Inside a MariaDB executable comment.
    in_exec: bool,
    failed: bool,
}

impl<'a> Scanner<'a> {
    pub fn new(src: &'a str, dialect: Dialect) -> Self {
        Scanner {
            src,
            b: src.as_bytes(),
            pos: 0,
            line: 1,
            col: 1,
            dialect,
            in_exec: false,
            failed: false,
        }
    }

    /// Start inside an executable comment (a statement that began in one).
    pub fn inside_exec(mut self, yes: bool) -> Self {
        self.in_exec = yes && self.dialect == Dialect::MariaDb;
        self
    }

    /// Start counting lines and columns at `line`/`col`.
    pub fn at(mut self, line: usize, col: usize) -> Self {
        self.line = line;
        self.col = col;
        self
    }

    pub fn in_exec(&self) -> bool {
        self.in_exec
    }

    fn maria(&self) -> bool {
        self.dialect == Dialect::MariaDb
    }

    fn peek(&self, n: usize) -> Option<u8> {
        self.b.get(self.pos + n).copied()
    }

    /// Advance one byte, keeping line and column.
    fn bump(&mut self) {
        let c = self.b[self.pos];
        self.pos += 1;
        if c == b'\n' {
            self.line += 1;
            self.col = 1;
        } else if c & 0xC0 != 0x80 {
            self.col += 1;
        }
    }

    fn bump_n(&mut self, n: usize) {
        for _ in 0..n {
            if self.pos < self.b.len() {
                self.bump();
            }
        }
    }

    fn error(&mut self, line: usize, what: &str) -> Option<Result<Lexeme, ScanError>> {
        self.failed = true;
        Some(Err(ScanError {
            line,
            message: format!("{what} that starts on line {line} is not closed"),
        }))
    }

    /// A quoted run ending at `q`; `q` twice is the quote itself; with
    /// `backslash`, `\` escapes the next byte.
    fn quoted(&mut self, q: u8, backslash: bool) -> bool {
        self.bump(); // the opening quote
        while let Some(c) = self.peek(0) {
            if c == q {
                if self.peek(1) == Some(q) {
                    self.bump_n(2);
                    continue;
                }
                self.bump();
                return true;
            }
            if backslash && c == b'\\' {
                self.bump_n(2);
                continue;
            }
            self.bump();
        }
        false
    }

    fn is_word_start(&self, c: u8) -> bool {
        c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 || (self.maria() && c == b'$')
    }

    fn is_word(c: u8) -> bool {
        c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
    }

    /// PostgreSQL `$tag$`: its length, when one starts here.
    fn dollar_tag(&self) -> Option<usize> {
        let mut n = 1;
        match self.peek(1) {
            Some(b'$') => return Some(2),
            Some(c) if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {}
            _ => return None,
        }
        loop {
            match self.peek(n) {
                Some(b'$') => return Some(n + 1),
                Some(c) if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 => n += 1,
                _ => return None,
            }
        }
    }

    fn lexeme(&mut self) -> Option<Result<Lexeme, ScanError>> {
        let c = self.peek(0)?;
        let (start, line, col) = (self.pos, self.line, self.col);
        let lex = match self.lex(c) {
            Ok(lex) => lex,
            Err(what) => return self.error(line, what),
        };
        Some(Ok(Lexeme {
            lex,
            start,
            end: self.pos,
            line,
            col,
        }))
    }

    /// Read the lexeme that starts with `c`. `Err`: what is not closed.
    fn lex(&mut self, c: u8) -> Result<Lex, &'static str> {
        Ok(match c {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => {
                while matches!(
                    self.peek(0),
                    Some(b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
                ) {
                    self.bump();
                }
                Lex::Space
            }
            b'#' if self.maria() => {
                self.line_comment();
                Lex::Comment
            }
            // MariaDB: `--` starts a comment only when a space or a control
            // character follows (`1--1` is `1 - -1`).
            b'-' if self.peek(1) == Some(b'-')
                && (!self.maria() || self.peek(2).is_none_or(|c| c <= b' ')) =>
            {
                self.line_comment();
                Lex::Comment
            }
            b'/' if self.peek(1) == Some(b'*') => return self.comment_or_exec(),
            b'*' if self.in_exec && self.peek(1) == Some(b'/') => {
                self.bump_n(2);
                self.in_exec = false;
                Lex::ExecClose
            }
            b'\'' | b'"' => return self.quote(c),
            b'`' if self.maria() => return self.quote(c),
            b'$' if !self.maria() => return self.dollar(),
            b';' => {
                self.bump();
                Lex::Semi
            }
            c if c.is_ascii_digit() => {
                while self.peek(0).is_some_and(|c| Self::is_word(c) || c == b'.') {
                    self.bump();
                }
                Lex::Number
            }
            c if self.is_word_start(c) => return self.word_or_string(c),
            _ => {
                // One character, whatever its width.
                self.bump();
                while self.peek(0).is_some_and(|c| c & 0xC0 == 0x80) {
                    self.bump();
                }
                Lex::Punct
            }
        })
    }

    /// `/* … */`, or MariaDB's `/*!`, `/*!40101`, `/*M!`, `/*M!100100`.
    fn comment_or_exec(&mut self) -> Result<Lex, &'static str> {
        let exec = if !self.maria() || self.in_exec {
            None
        } else if self.peek(2) == Some(b'!') {
            Some(3)
        } else if self.peek(2) == Some(b'M') && self.peek(3) == Some(b'!') {
            Some(4)
        } else {
            None
        };
        match exec {
            Some(n) => {
                self.bump_n(n);
                while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                    self.bump();
                }
                self.in_exec = true;
                Ok(Lex::ExecOpen)
            }
            None if self.block_comment() => Ok(Lex::Comment),
            None => Err("a comment"),
        }
    }

    /// A string or a quoted name opened by `q`: `'…'`; `"…"` (a string on
    /// MariaDB, a name on PostgreSQL); `` `…` `` (MariaDB).
    fn quote(&mut self, q: u8) -> Result<Lex, &'static str> {
        let (backslash, lex, what) = match q {
            b'\'' => (self.maria(), Lex::Str, "a string"),
            b'"' if self.maria() => (true, Lex::Str, "a string"),
            _ => (false, Lex::Quoted, "a quoted name"),
        };
        if self.quoted(q, backslash) {
            Ok(lex)
        } else {
            Err(what)
        }
    }

    /// PostgreSQL: a `$tag$ … $tag$` string, or a `$1` parameter.
    fn dollar(&mut self) -> Result<Lex, &'static str> {
        let Some(n) = self.dollar_tag() else {
            self.bump();
            while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                self.bump();
            }
            return Ok(Lex::Punct);
        };
        let tag = &self.src[self.pos..self.pos + n];
        let Some(at) = self.src[self.pos + n..].find(tag) else {
            return Err("a dollar-quoted string");
        };
        let end = self.pos + n + at + n;
        while self.pos < end {
            self.bump();
        }
        Ok(Lex::Str)
    }

    /// A word, or PostgreSQL's `E'…'` (backslashes escape).
    fn word_or_string(&mut self, c: u8) -> Result<Lex, &'static str> {
        if !self.maria() && (c == b'E' || c == b'e') && self.peek(1) == Some(b'\'') {
            self.bump();
            return if self.quoted(b'\'', true) {
                Ok(Lex::Str)
            } else {
                Err("a string")
            };
        }
        while self.peek(0).is_some_and(Self::is_word) {
            self.bump();
        }
        Ok(Lex::Word)
    }

    fn line_comment(&mut self) {
        while self.peek(0).is_some_and(|c| c != b'\n') {
            self.bump();
        }
    }

    /// `/* … */`; nested on PostgreSQL. `false`: not closed.
    fn block_comment(&mut self) -> bool {
        self.bump_n(2);
        let mut depth = 1;
        while let Some(c) = self.peek(0) {
            if c == b'*' && self.peek(1) == Some(b'/') {
                self.bump_n(2);
                depth -= 1;
                if depth == 0 {
                    return true;
                }
            } else if !self.maria() && c == b'/' && self.peek(1) == Some(b'*') {
                self.bump_n(2);
                depth += 1;
            } else {
                self.bump();
            }
        }
        false
    }
}

impl Iterator for Scanner<'_> {
    type Item = Result<Lexeme, ScanError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        self.lexeme()
    }
}

/// The code lexemes of `src` (no space, comments or executable-comment
/// delimiters); stops at the first error.
pub fn code(src: &str, dialect: Dialect) -> impl Iterator<Item = Lexeme> + '_ {
    Scanner::new(src, dialect)
        .map_while(Result::ok)
        .filter(Lexeme::is_code)
}

/// One statement of a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stmt {
    /// Bytes from its first lexeme that is code (or opens an executable
    /// comment) to the end of its last such lexeme, without the `;`.
    pub start: usize,
    pub end: usize,
    pub line: usize,
    pub col: usize,
    /// It starts inside an executable comment (after a `;` in one).
    pub in_exec: bool,
    /// It holds comments or executable-comment delimiters, which sqlparser
    /// must not be left to read.
    pub marked: bool,
}

/// How the statements of a text are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A script: `BEGIN` opens a block only in the body of a routine,
    /// trigger or event, or as `BEGIN NOT ATOMIC` / `BEGIN ATOMIC`.
    Script,
    /// The inside of a stored program's block: every `BEGIN` opens one.
    Block,
}

/// Cut `src` at the `;` that end statements. The server's grammar, not its
/// lexer, decides that a `;` inside `BEGIN … END` (a routine's body,
/// MariaDB's `BEGIN NOT ATOMIC`, PostgreSQL's `BEGIN ATOMIC`) or inside
/// `CASE … END` belongs to the statement; the depth of those is followed
/// here.
pub struct Statements<'a> {
    src: &'a str,
    scanner: Scanner<'a>,
    dialect: Dialect,
    mode: Mode,
    done: bool,
}

impl<'a> Statements<'a> {
    pub fn new(src: &'a str, dialect: Dialect, mode: Mode) -> Self {
        Statements {
            src,
            scanner: Scanner::new(src, dialect),
            dialect,
            mode,
            done: false,
        }
    }

    pub fn at(mut self, line: usize, col: usize) -> Self {
        self.scanner = self.scanner.at(line, col);
        self
    }
}

/// The statement being read.
#[derive(Default)]
struct Open {
    first: Option<(usize, usize, usize, bool)>,
    end: usize,
    marked: bool,
    words: usize,
    /// The first word, upper-cased when short.
    head: Head,
    /// `CREATE … PROCEDURE/FUNCTION/TRIGGER/EVENT/PACKAGE`: a `BEGIN` in
    /// it opens the body. `None` until the object word is seen.
    routine: Option<bool>,
    depth: usize,
    /// The last code lexeme was `END` closing a level: `END IF`, `END
    /// LOOP` … close a level that was never counted, `END CASE` the `CASE`.
    after_end: bool,
    /// The last code lexeme was a `BEGIN` counted as a block, which
    /// `BEGIN WORK`/`BEGIN TRANSACTION`/`BEGIN;` (a transaction) undoes.
    after_begin: bool,
    /// The previous code lexeme, to tell `x.end` or `(begin` from keywords.
    prev: Option<Lexeme>,
}

#[derive(Default, PartialEq, Eq, Clone, Copy)]
enum Head {
    #[default]
    None,
    Create,
    Begin,
    Other,
}

impl Open {
    fn word(&mut self, src: &str, l: &Lexeme, dialect: Dialect, mode: Mode) {
        let w = l.text(src);
        let is = |s: &str| w.eq_ignore_ascii_case(s);
        self.words += 1;
        let after_dot = self.prev.is_some_and(|p| p.is_punct(src, '.'));
        if self.words == 1 {
            self.head = if is("CREATE") {
                Head::Create
            } else if is("BEGIN") {
                Head::Begin
            } else {
                Head::Other
            };
        }
        if self.after_begin {
            self.after_begin = false;
            if is("WORK") || is("TRANSACTION") {
                self.depth -= 1;
                return;
            }
        }
        if self.after_end {
            self.after_end = false;
            if is("IF") || is("LOOP") || is("WHILE") || is("REPEAT") || is("FOR") {
                self.depth += 1;
                return;
            }
            if is("CASE") {
                return;
            }
        }
        if self.head == Head::Create && self.routine.is_none() {
            self.routine = created(w);
        }
        if !after_dot {
            self.block_word(src, w, dialect, mode);
        }
    }

    /// A word that may open or close a block: `BEGIN`, `BEGIN ATOMIC`,
    /// `BEGIN NOT ATOMIC`, `CASE`, `END`.
    fn block_word(&mut self, src: &str, w: &str, dialect: Dialect, mode: Mode) {
        let is = |s: &str| w.eq_ignore_ascii_case(s);
        if is("BEGIN") {
            let prev_is = |c: char| self.prev.is_some_and(|p| p.is_punct(src, c));
            let opens = match (dialect, mode) {
                (_, Mode::Block) => true,
                _ if self.depth > 0 => true,
                (Dialect::MariaDb, Mode::Script) => {
                    self.routine == Some(true) && !prev_is('(') && !prev_is(',')
                }
                // PostgreSQL: only `BEGIN ATOMIC`, seen on the next word.
                (Dialect::Postgres, Mode::Script) => false,
            };
            if opens {
                self.depth += 1;
                self.after_begin = true;
            }
        } else if is("ATOMIC") && dialect == Dialect::Postgres {
            if self.prev.is_some_and(|p| p.is(src, "BEGIN")) && self.depth == 0 {
                self.depth += 1;
            }
        } else if is("NOT")
            && dialect == Dialect::MariaDb
            && self.head == Head::Begin
            && self.words == 2
            && self.depth == 0
        {
            // `BEGIN NOT ATOMIC … END`: a compound statement.
            self.depth += 1;
        } else if is("CASE") {
            self.depth += 1;
        } else if is("END") && self.depth > 0 {
            self.depth -= 1;
            self.after_end = true;
        }
    }

    /// The statement read so far, when it holds code.
    fn stmt(&self) -> Option<Stmt> {
        let (start, line, col, in_exec) = self.first?;
        self.prev?;
        Some(Stmt {
            start,
            end: self.end,
            line,
            col,
            in_exec,
            marked: self.marked,
        })
    }
}

/// After `CREATE`, the word that says what is created: `Some(true)` for
/// what has a body (`BEGIN` in it opens a block), `Some(false)` for what
/// has none, `None` when `w` says neither (`OR`, `DEFINER`, …).
fn created(w: &str) -> Option<bool> {
    const BODY: &[&str] = &["PROCEDURE", "FUNCTION", "TRIGGER", "EVENT", "PACKAGE"];
    const NONE: &[&str] = &[
        "TABLE",
        "VIEW",
        "INDEX",
        "DATABASE",
        "SCHEMA",
        "USER",
        "ROLE",
        "SEQUENCE",
        "SERVER",
        "TYPE",
        "DOMAIN",
        "EXTENSION",
        "POLICY",
        "RULE",
    ];
    let is = |k: &&str| w.eq_ignore_ascii_case(k);
    if BODY.iter().any(is) {
        Some(true)
    } else if NONE.iter().any(is) {
        Some(false)
    } else {
        None
    }
}

impl Iterator for Statements<'_> {
    type Item = Result<Stmt, ScanError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut open = Open::default();
        loop {
            let in_exec = self.scanner.in_exec();
            let l = match self.scanner.next() {
                None => {
                    self.done = true;
                    // Only markers and no code: nothing runs.
                    return open.stmt().map(Ok);
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Some(Ok(l)) => l,
            };
            match l.lex {
                Lex::Space => continue,
                Lex::Comment => {
                    if open.first.is_some() {
                        open.marked = true;
                    }
                    continue;
                }
                Lex::ExecOpen | Lex::ExecClose => {
                    if open.first.is_none() {
                        open.first = Some((l.start, l.line, l.col, in_exec));
                    }
                    open.marked = true;
                    open.end = l.end;
                    continue;
                }
                Lex::Semi => {
                    if open.after_begin {
                        // `BEGIN;` is a transaction.
                        open.after_begin = false;
                        open.depth -= 1;
                    }
                    open.after_end = false;
                    if open.depth == 0 {
                        if let Some(stmt) = open.stmt() {
                            return Some(Ok(stmt));
                        }
                        open = Open::default();
                        continue;
                    }
                }
                Lex::Word => {
                    open.word(self.src, &l, self.dialect, self.mode);
                }
                _ => {
                    open.after_begin = false;
                    open.after_end = false;
                }
            }
            if open.first.is_none() {
                open.first = Some((l.start, l.line, l.col, in_exec));
            }
            open.end = l.end;
            open.prev = Some(l);
        }
    }
}

/// Whether `sql` holds any statement, and whether its last one already
/// ends with `;` — for appending statements after it.
pub fn ending(sql: &str, dialect: Dialect) -> Result<Option<bool>, ScanError> {
    let mut last = None;
    for l in Scanner::new(sql, dialect) {
        let l = l?;
        if l.is_code() {
            last = Some(l.lex == Lex::Semi);
        }
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmts(sql: &str, dialect: Dialect) -> Vec<&str> {
        Statements::new(sql, dialect, Mode::Script)
            .map(|s| {
                let s = s.unwrap();
                &sql[s.start..s.end]
            })
            .collect()
    }

    #[test]
    fn strings_names_and_comments_hide_semicolons() {
        let sql = "INSERT INTO a VALUES ('x;', \"y;\", 'it''s', 'a\\';b');\n-- c;\n# d;\nSELECT `e;f` /* g; */;SELECT 1--1;\nSELECT 2";
        assert_eq!(
            stmts(sql, Dialect::MariaDb),
            vec![
                "INSERT INTO a VALUES ('x;', \"y;\", 'it''s', 'a\\';b')",
                "SELECT `e;f`",
                "SELECT 1--1",
                "SELECT 2"
            ]
        );
        let pg = "SELECT 'a\\'; SELECT E'b\\';c'; SELECT \"x;\" /* a /* b; */ c; */; SELECT $$;$$, $t$ $$; $t$, $1;";
        assert_eq!(
            stmts(pg, Dialect::Postgres),
            vec![
                "SELECT 'a\\'",
                "SELECT E'b\\';c'",
                "SELECT \"x;\"",
                "SELECT $$;$$, $t$ $$; $t$, $1"
            ]
        );
    }

    #[test]
    fn mariadb_executable_comments_are_code() {
        let sql = "/*M! DROP TABLE users */;\n/*!40101 SET NAMES utf8 */;\n/*M!100100 SELECT 1; SELECT 2 */;\n/* plain; */ /*+ hint; */ SELECT 3;";
        assert_eq!(
            stmts(sql, Dialect::MariaDb),
            vec![
                "/*M! DROP TABLE users */",
                "/*!40101 SET NAMES utf8 */",
                "/*M!100100 SELECT 1",
                "SELECT 2 */",
                "SELECT 3"
            ]
        );
        // Only markers, no code: nothing runs.
        assert!(stmts("/*!40101 */;", Dialect::MariaDb).is_empty());
        // PostgreSQL runs none of them.
        assert!(stmts("/*! DROP TABLE users */;", Dialect::Postgres).is_empty());
        // Lowercase `m` is a plain comment on MariaDB.
        assert!(stmts("/*m! DROP TABLE users */;", Dialect::MariaDb).is_empty());
    }

    #[test]
    fn bodies_keep_their_semicolons() {
        let sql = "CREATE PROCEDURE p()\nBEGIN\n  IF 1 THEN SELECT 1; END IF;\n  CASE x WHEN 1 THEN SELECT 2; END CASE;\n  lbl: LOOP LEAVE lbl; END LOOP lbl;\nEND;\nSELECT 2;";
        assert_eq!(
            stmts(sql, Dialect::MariaDb).len(),
            2,
            "{:?}",
            stmts(sql, Dialect::MariaDb)
        );
        assert_eq!(stmts(sql, Dialect::MariaDb)[1], "SELECT 2");
        let tx = "BEGIN; UPDATE a SET b = 1; COMMIT; BEGIN WORK; START TRANSACTION;";
        assert_eq!(stmts(tx, Dialect::MariaDb).len(), 5);
        assert_eq!(stmts(tx, Dialect::Postgres).len(), 5);
        // `begin` as a name is no block.
        let names = "CREATE TABLE t (begin INT, x INT); DROP TABLE users;";
        assert_eq!(stmts(names, Dialect::MariaDb).len(), 2);
        let compound = "BEGIN NOT ATOMIC DROP TABLE a; DROP TABLE b; END; SELECT 1";
        assert_eq!(
            stmts(compound, Dialect::MariaDb),
            vec![
                "BEGIN NOT ATOMIC DROP TABLE a; DROP TABLE b; END",
                "SELECT 1"
            ]
        );
        let atomic = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT CASE WHEN true THEN 1 END; SELECT 3";
        assert_eq!(stmts(atomic, Dialect::Postgres).len(), 3);
        let trigger = "CREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW BEGIN SET NEW.x = 1; SET NEW.end = 2; END; SELECT 1";
        assert_eq!(stmts(trigger, Dialect::MariaDb).len(), 2);
    }

    #[test]
    fn unterminated_strings_and_comments_are_errors_with_their_line() {
        for (sql, dialect) in [
            ("SELECT 1;\nSELECT 'oops", Dialect::MariaDb),
            ("SELECT 1;\n/* oops", Dialect::MariaDb),
            ("SELECT 1;\nSELECT $x$ oops", Dialect::Postgres),
            ("SELECT 1;\nSELECT \"oops", Dialect::Postgres),
        ] {
            let e = Statements::new(sql, dialect, Mode::Script)
                .find_map(Result::err)
                .unwrap_or_else(|| panic!("{sql}"));
            assert_eq!(e.line, 2, "{sql}");
        }
    }

    #[test]
    fn lines_and_columns_count_characters() {
        let sql = "SELECT 'é';\n  SELECT 2;";
        let s: Vec<Stmt> = Statements::new(sql, Dialect::MariaDb, Mode::Script)
            .map(Result::unwrap)
            .collect();
        assert_eq!((s[1].line, s[1].col), (2, 3));
        let l: Vec<Lexeme> = code("é x", Dialect::MariaDb).collect();
        assert_eq!(l[1].col, 3);
    }

    #[test]
    fn the_end_of_a_script() {
        assert_eq!(ending("SELECT 1;  -- x", Dialect::MariaDb), Ok(Some(true)));
        assert_eq!(ending("SELECT 1 -- x;", Dialect::MariaDb), Ok(Some(false)));
        assert_eq!(
            ending("SELECT 1; /*M! SELECT 2 */", Dialect::MariaDb),
            Ok(Some(false))
        );
        assert_eq!(ending("-- only\n/* this */", Dialect::Postgres), Ok(None));
    }
}
