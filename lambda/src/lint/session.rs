//! What a statement does to the run's own session and to the server, beyond
//! the schema: the settings and the transaction the engine relies on (a
//! change there is *refused* — no marker, drain or `AllowBreaking` makes it
//! safe), and statements that reach every session on the server
//! (`SET GLOBAL`, `FLUSH`, `KILL`, users and grants: breaking).
//!
//! The engine runs a MariaDB migration as `SET autocommit = 0; <script>;
//! <history row>; SET autocommit = 1` in one batch, and a PostgreSQL one as
//! `<script>; <history row>` in one implicit transaction, with its own
//! statement and lock-wait limits set on the session before. A script that
//! changes the database or schema the session uses, its commit mode, its
//! transaction, its replication, its limits or how the server reads the
//! rest of the batch breaks that promise whatever the deploy allows.

use sqlparser::ast::{
    ContextModifier, DiscardObject, Expr, ObjectName, Reset, Set, Statement, TransactionAccessMode,
    TransactionMode, Value,
};

use super::cx::{At, Cx};
use super::name::{Name, Of};
use super::rules::Id;
use super::scan::{Lex, Lexeme, Scanner};
use super::split::Piece;
use super::statement::{parse, short};
use crate::dialect::Dialect;

/// Why a session setting may not change (MariaDB).
fn maria_setting(var: &str) -> Option<&'static str> {
    Some(match var {
        "autocommit" => "the run commits each migration together with its history row",
        "sql_log_bin" | "skip_replication" | "gtid_domain_id" | "gtid_seq_no" | "server_id" => {
            "replicas would not receive the migration as the primary runs it"
        }
        "max_statement_time" | "lock_wait_timeout" | "innodb_lock_wait_timeout" => {
            "these are the run's own time limits"
        }
        "wait_timeout" | "interactive_timeout" | "net_read_timeout" | "net_write_timeout" => {
            "the server could close the run's connection between migrations"
        }
        "completion_type" => "a COMMIT could end the run's session",
        "transaction_read_only" | "tx_read_only" => "the run could no longer write its history row",
        "pseudo_thread_id" | "pseudo_slave_mode" => "the session would pose as another one",
        _ => return None,
    })
}

/// Why a session setting may not change (PostgreSQL).
fn pg_setting(var: &str) -> Option<&'static str> {
    Some(match var {
        "statement_timeout"
        | "lock_timeout"
        | "idle_in_transaction_session_timeout"
        | "transaction_timeout" => "these are the run's own time limits",
        "transaction_read_only" | "default_transaction_read_only" => {
            "the run could no longer write its history row"
        }
        "standard_conforming_strings" => {
            "the server would read backslashes in strings differently from schemagate"
        }
        "role" | "session_authorization" => "the run would act as another role",
        _ => return None,
    })
}

/// MariaDB `sql_mode` words that change how the server reads SQL: quotes
/// (`ANSI_QUOTES`), backslashes (`NO_BACKSLASH_ESCAPES`), whole grammars.
const SQL_MODE_READING: &[&str] = &[
    "ANSI",
    "ANSI_QUOTES",
    "NO_BACKSLASH_ESCAPES",
    "ORACLE",
    "MSSQL",
    "DB2",
    "POSTGRESQL",
    "MAXDB",
];

/// Client character sets in which every byte below 0x80 is that ASCII
/// character, so a quote or backslash is never part of another character.
fn safe_charset(name: &str) -> bool {
    let n = name
        .trim_matches(|c| c == '\'' || c == '"' || c == '`')
        .to_ascii_lowercase();
    matches!(
        n.as_str(),
        "utf8"
            | "utf8mb3"
            | "utf8mb4"
            | "unicode"
            | "latin1"
            | "latin2"
            | "ascii"
            | "sql_ascii"
            | "binary"
            | "default"
    )
}

/// The text of a string or name value, unquoted.
fn literal(e: &Expr) -> Option<String> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
            Value::Number(n, _) => Some(n.clone()),
            Value::Boolean(b) => Some(b.to_string()),
            _ => None,
        },
        Expr::Identifier(i) if !i.value.starts_with('@') => Some(i.value.clone()),
        _ => None,
    }
}

/// `@@sql_mode`, `@@session.sql_mode` → `sql_mode`.
fn system_var(e: &Expr) -> Option<String> {
    let t = e.to_string().to_ascii_lowercase();
    let rest = t.strip_prefix("@@")?;
    let rest = rest
        .strip_prefix("session.")
        .or_else(|| rest.strip_prefix("local."))
        .unwrap_or(rest);
    Some(rest.to_string())
}

impl Cx<'_> {
    pub(super) fn set(&mut self, set: &Set, at: At, piece: &Piece) {
        match set {
            Set::SingleAssignment {
                scope,
                variable,
                values,
                ..
            } => self.assign(*scope, variable, values.first(), at, piece),
            Set::MultipleAssignments { assignments } => {
                for a in assignments {
                    self.assign(a.scope, &a.name, Some(&a.value), at, piece);
                }
            }
            Set::ParenthesizedAssignments { variables, .. } => {
                for v in variables {
                    self.assign(None, v, None, at, piece);
                }
            }
            Set::SetRole { .. } | Set::SetSessionAuthorization(_) => self.hit(
                Id::SessionSetting,
                at,
                format!(
                    "`{}`: the run would act as another role",
                    short(&piece.text)
                ),
            ),
            Set::SetNames { charset_name, .. } => {
                if !safe_charset(&charset_name.value) {
                    self.unsafe_charset(&charset_name.value, at, piece);
                }
            }
            Set::SetTransaction { modes, .. } => {
                if read_only(modes) {
                    self.hit(
                        Id::SessionSetting,
                        at,
                        format!(
                            "`{}`: the run could no longer write its history row",
                            short(&piece.text)
                        ),
                    );
                }
            }
            Set::SetNamesDefault {} | Set::SetTimeZone { .. } => {}
            Set::SetSessionParam(_) => {
                self.hit(Id::Unrecognized, at, format!("`{}`", short(&piece.text)))
            }
        }
    }

    fn unsafe_charset(&mut self, name: &str, at: At, piece: &Piece) {
        self.hit(
            Id::SessionSetting,
            at,
            format!(
                "`{}`: in `{name}` a character can end with the byte of a quote or a backslash, so the server would read the rest of the batch differently from schemagate",
                short(&piece.text)
            ),
        );
    }

    fn assign(
        &mut self,
        scope: Option<ContextModifier>,
        name: &ObjectName,
        value: Option<&Expr>,
        at: At,
        piece: &Piece,
    ) {
        let parts: Vec<String> = name
            .0
            .iter()
            .map(|p| p.to_string().to_ascii_lowercase())
            .collect();
        let Some(first) = parts.first() else { return };
        let (global, var) = if let Some(rest) = first.strip_prefix("@@") {
            match rest {
                "global" | "persist" | "persist_only" if parts.len() > 1 => {
                    (true, parts[1..].join("."))
                }
                "session" | "local" if parts.len() > 1 => (false, parts[1..].join(".")),
                _ => (false, [&[rest.to_string()], &parts[1..]].concat().join(".")),
            }
        } else if first.starts_with('@') {
            // A user variable: remember `@old = @@sql_mode`.
            match value.and_then(system_var) {
                Some(sys) => self.saved.insert(first.clone(), sys),
                None => self.saved.remove(first),
            };
            return;
        } else {
            (scope == Some(ContextModifier::Global), parts.join("."))
        };
        let shown = match value {
            Some(v) => format!("SET {var} = {}", short(&v.to_string())),
            None => format!("SET {var}"),
        };
        if global {
            self.hit(
                Id::ServerWide,
                at,
                format!("SET GLOBAL {}", shown.trim_start_matches("SET ")),
            );
            return;
        }
        // Putting back the value saved earlier in the file.
        if let Some(Expr::Identifier(i)) = value {
            if self.saved.get(&i.value.to_ascii_lowercase()) == Some(&var) {
                return;
            }
        }
        self.setting(&var, value, at, &shown, piece);
    }

    /// A session setting `var` set to `value` (`None`: reset or unknown).
    fn setting(&mut self, var: &str, value: Option<&Expr>, at: At, shown: &str, piece: &Piece) {
        if var == "foreign_key_checks" {
            let v = value.and_then(literal).unwrap_or_default();
            self.fk_checks_off = matches!(v.to_ascii_lowercase().as_str(), "0" | "off" | "false");
            return;
        }
        match self.dialect {
            Dialect::MariaDb => {
                if var == "password" {
                    self.hit(Id::Privileges, at, format!("`{}`", short(&piece.text)));
                } else if var == "sql_mode" {
                    let bad = match value.and_then(literal) {
                        Some(v) => v
                            .split(',')
                            .map(|m| m.trim().to_ascii_uppercase())
                            .find(|m| SQL_MODE_READING.contains(&m.as_str()))
                            .map(|m| format!("{m} changes how the server reads quotes, backslashes or the grammar, so it would read the rest of the batch differently from schemagate")),
                        None => Some("schemagate cannot tell which modes this sets; some change how the server reads the rest of the batch".into()),
                    };
                    if let Some(why) = bad {
                        self.hit(Id::SessionSetting, at, format!("{shown}: {why}"));
                    }
                } else if var == "character_set_client" {
                    let v = value.and_then(literal).unwrap_or_default();
                    if !safe_charset(&v) {
                        self.unsafe_charset(&v, at, piece);
                    }
                } else if let Some(why) = maria_setting(var) {
                    self.hit(Id::SessionSetting, at, format!("{shown}: {why}"));
                }
            }
            Dialect::Postgres => {
                if var == "search_path" {
                    self.hit(
                        Id::ChangeDatabase,
                        at,
                        format!("{shown}: unqualified names, the history table's too, would be looked up there"),
                    );
                } else if var == "client_encoding" || var == "names" {
                    let v = value.and_then(literal).unwrap_or_default();
                    if !safe_charset(&v) {
                        self.unsafe_charset(&v, at, piece);
                    }
                } else if let Some(why) = pg_setting(var) {
                    self.hit(Id::SessionSetting, at, format!("{shown}: {why}"));
                }
            }
        }
    }

    /// `BEGIN`, `COMMIT`, `ROLLBACK`, `SAVEPOINT` …
    pub(super) fn transaction(&mut self, s: &Statement, at: At, piece: &Piece) {
        if self.dialect == Dialect::Postgres {
            if !self.no_tx {
                self.transaction_control(at, piece);
            }
            return;
        }
        if let Statement::StartTransaction { modes, .. } = s {
            if read_only(modes) {
                self.hit(
                    Id::SessionSetting,
                    at,
                    format!(
                        "`{}`: the run could no longer write its history row",
                        short(&piece.text)
                    ),
                );
            }
        }
    }

    fn transaction_control(&mut self, at: At, piece: &Piece) {
        self.hit(
            Id::TransactionControl,
            at,
            format!(
                "`{}` in a migration that runs in one transaction with its history row",
                short(&piece.text)
            ),
        );
    }

    /// PostgreSQL `RESET`, `DISCARD`.
    pub(super) fn reset(&mut self, s: &Statement, at: At, piece: &Piece) {
        let what = match s {
            Statement::Reset(r) => match &r.reset {
                Reset::ALL => Some("it resets the run's own time limits"),
                Reset::SessionAuthorization => None,
                Reset::ConfigurationParameter(n) => {
                    let var = n.to_string().to_ascii_lowercase();
                    pg_setting(&var).filter(|w| w.contains("time limits"))
                }
            },
            Statement::Discard {
                object_type: DiscardObject::ALL,
            } => Some("it resets the run's own time limits"),
            _ => None,
        };
        if let Some(why) = what {
            self.hit(
                Id::SessionSetting,
                at,
                format!("`{}`: {why}", short(&piece.text)),
            );
        }
    }

    /// Function calls, read off the statement's lexemes (so a large data
    /// statement is checked as well as a parsed one): functions that give
    /// up the run's lock, change its settings or reach other sessions, and
    /// routines the migrations created (their statements are not followed).
    /// Also statements that write schemagate's own history table.
    pub(super) fn calls(&mut self, piece: &Piece, at: At) {
        let text: &str = &piece.text;
        let lexemes = Scanner::new(text, self.dialect)
            .inside_exec(piece.in_exec)
            .at(piece.line, piece.col)
            .map_while(Result::ok)
            .filter(Lexeme::is_code);
        let mut head = String::new();
        let mut prev: Option<Lexeme> = None;
        let mut call: Option<Lexeme> = None;
        // Where the statement names what it writes, before its query.
        let mut target = true;
        for l in lexemes {
            let word = matches!(l.lex, Lex::Word | Lex::Quoted).then(|| ident(l.text(text)));
            if head.is_empty() {
                head = word.clone().unwrap_or_else(|| "?".into());
            }
            if let Some(callee) = call.take() {
                let arg = (l.lex == Lex::Str).then(|| unquote(l.text(text)));
                self.call(callee, arg.as_deref(), &head, at, piece);
            }
            if let Some(w) = &word {
                if matches!(
                    w.as_str(),
                    "select" | "where" | "values" | "set" | "with" | "using"
                ) && l.lex == Lex::Word
                {
                    target = false;
                }
                let writes = matches!(
                    head.as_str(),
                    "insert"
                        | "replace"
                        | "update"
                        | "delete"
                        | "drop"
                        | "truncate"
                        | "alter"
                        | "rename"
                        | "create"
                        | "lock"
                );
                if target && writes && (w == "_sqlx_migrations" || w.starts_with("_schemagate")) {
                    self.hit(
                        Id::HistoryTable,
                        at_of(l, at),
                        format!("`{}` writes schemagate's history table", short(text)),
                    );
                    target = false;
                }
            }
            if l.is_punct(text, '(') {
                if let Some(p) = prev.filter(|p| matches!(p.lex, Lex::Word | Lex::Quoted)) {
                    call = Some(p);
                }
            }
            prev = Some(l);
        }
        if let Some(callee) = call {
            self.call(callee, None, &head, at, piece);
        }
    }

    /// `callee(arg, …)` in a statement that starts with `head`.
    fn call(&mut self, callee: Lexeme, arg: Option<&str>, head: &str, at: At, piece: &Piece) {
        let at = at_of(callee, at);
        let written = callee.text(&piece.text);
        let name = ident(written);
        let name = name.as_str();
        // A routine's own definition runs nothing.
        if matches!(head, "create" | "alter" | "drop" | "call") {
            return;
        }
        let shown = || format!("{name}() in `{}`", short(&piece.text));
        match (self.dialect, name) {
            (Dialect::MariaDb, "release_lock" | "release_all_locks")
            | (
                Dialect::Postgres,
                "pg_advisory_unlock" | "pg_advisory_unlock_all" | "pg_advisory_unlock_shared",
            ) => self.hit(Id::ReleaseLock, at, shown()),
            (Dialect::Postgres, "set_config") => {
                let var = arg.map(str::to_ascii_lowercase);
                match var.as_deref() {
                    Some("search_path") => self.hit(
                        Id::ChangeDatabase,
                        at,
                        format!("{}: unqualified names, the history table's too, would be looked up elsewhere", shown()),
                    ),
                    Some(v) => {
                        if let Some(why) = pg_setting(v) {
                            self.hit(Id::SessionSetting, at, format!("{}: {why}", shown()));
                        }
                    }
                    None => self.hit(
                        Id::SessionSetting,
                        at,
                        format!("{}: schemagate cannot tell which setting it changes", shown()),
                    ),
                }
            }
            (
                Dialect::Postgres,
                "pg_terminate_backend"
                | "pg_cancel_backend"
                | "pg_reload_conf"
                | "pg_rotate_logfile",
            ) => self.hit(Id::ServerWide, at, shown()),
            _ => {
                let routine = Name::lexeme(self.dialect, Of::Routine, written, callee.lex);
                if self.schema.routine(&routine).is_some() {
                    let shown = format!("{routine}() in `{}`", short(&piece.text));
                    self.hit(Id::RoutineCall, at, shown);
                }
            }
        }
    }

    /// Statements sqlparser does not read, known by their first words, that
    /// touch the session or the server. `true`: classified.
    pub(super) fn session_fallback(&mut self, piece: &Piece, up: &[String], at: At) -> bool {
        match self.dialect {
            Dialect::Postgres => self.pg_session_words(piece, up, at),
            Dialect::MariaDb => self.maria_session_words(piece, up, at),
        }
    }

    fn pg_session_words(&mut self, piece: &Piece, up: &[String], at: At) -> bool {
        let has = |i: usize, s: &str| up.get(i).is_some_and(|w| w == s);
        let any = |s: &str| up.iter().any(|w| w == s);
        let shown = format!("`{}`", short(&piece.text));
        let first = up.first().map(String::as_str).unwrap_or("");
        if (has(0, "PREPARE") && has(1, "TRANSACTION"))
            || (matches!(first, "COMMIT" | "ROLLBACK") && has(1, "PREPARED"))
        {
            if !self.no_tx {
                self.transaction_control(at, piece);
            }
            return true;
        }
        if has(0, "ALTER") && has(1, "SYSTEM") {
            self.hit(Id::ServerWide, at, shown);
            return true;
        }
        if has(0, "ALTER") && has(1, "DATABASE") && (any("SET") || any("RESET")) {
            self.hit(
                Id::ServerWide,
                at,
                format!("{shown}: every new session of the database gets the setting"),
            );
            return true;
        }
        if has(0, "SET") && has(1, "SCHEMA") {
            self.hit(
                Id::ChangeDatabase,
                at,
                format!(
                    "{shown}: unqualified names, the history table's too, would be looked up there"
                ),
            );
            return true;
        }
        if matches!(first, "CREATE" | "ALTER" | "DROP") && (has(1, "USER") || has(1, "ROLE"))
            || matches!(first, "GRANT" | "REVOKE")
            || (has(0, "REASSIGN") || (has(0, "DROP") && has(1, "OWNED")))
        {
            self.hit(Id::Privileges, at, shown);
            return true;
        }
        false
    }

    fn maria_session_words(&mut self, piece: &Piece, up: &[String], at: At) -> bool {
        let has = |i: usize, s: &str| up.get(i).is_some_and(|w| w == s);
        let any = |s: &str| up.iter().any(|w| w == s);
        let shown = format!("`{}`", short(&piece.text));
        let first = up.first().map(String::as_str).unwrap_or("");
        // Statements whose words alone say the rule.
        let id = match first {
            "LOCK" if has(1, "TABLE") || has(1, "TABLES") => Some(Id::LockTables),
            "XA" => Some(Id::XaRelease),
            "SET" if has(1, "GLOBAL") || has(1, "PERSIST") || has(1, "PERSIST_ONLY") => {
                Some(Id::ServerWide)
            }
            "SET" if has(1, "PASSWORD") || (has(1, "DEFAULT") && has(2, "ROLE")) => {
                Some(Id::Privileges)
            }
            "CREATE" | "ALTER" | "DROP" | "RENAME"
                if has(1, "USER") || has(1, "ROLE") || (has(1, "OR") && has(3, "USER")) =>
            {
                Some(Id::Privileges)
            }
            "GRANT" | "REVOKE" => Some(Id::Privileges),
            _ if maria_server_wide(up) => Some(Id::ServerWide),
            _ => None,
        };
        if let Some(id) = id {
            self.hit(id, at, shown);
            return true;
        }
        match first {
            "COMMIT" | "ROLLBACK" if any("RELEASE") => {
                let released =
                    up.windows(2).any(|w| w[1] == "RELEASE" && w[0] != "NO") || has(1, "RELEASE");
                if released {
                    self.hit(Id::XaRelease, at, shown);
                }
                true
            }
            "START" if has(1, "TRANSACTION") => {
                if up.windows(2).any(|w| w[0] == "READ" && w[1] == "ONLY") {
                    self.hit(
                        Id::SessionSetting,
                        at,
                        format!("{shown}: the run could no longer write its history row"),
                    );
                }
                true
            }
            "SET" if has(1, "STATEMENT") => {
                self.set_statement(piece, at);
                true
            }
            // `DO expr, …`: evaluates expressions; the calls in them are read
            // by `calls`.
            "DO" => true,
            _ => false,
        }
    }

    /// MariaDB `SET STATEMENT var = value, … FOR statement`.
    fn set_statement(&mut self, piece: &Piece, at: At) {
        let text: &str = &piece.text;
        let code: Vec<Lexeme> = Scanner::new(text, self.dialect)
            .inside_exec(piece.in_exec)
            .at(piece.line, piece.col)
            .map_while(Result::ok)
            .filter(Lexeme::is_code)
            .collect();
        let mut depth = 0i32;
        let mut split = None;
        for (i, l) in code.iter().enumerate().skip(2) {
            if l.is_punct(text, '(') {
                depth += 1;
            } else if l.is_punct(text, ')') {
                depth -= 1;
            } else if depth == 0 && l.is(text, "FOR") {
                split = Some(i);
                break;
            }
        }
        let Some(i) = split.filter(|&i| i + 1 < code.len()) else {
            self.hit(Id::Unparsed, at, format!("`{}`", short(text)));
            return;
        };
        let assignments = format!("SET {}", &text[code[2].start..code[i].start]);
        let sub = Piece {
            index: piece.index,
            line: piece.line,
            col: piece.col,
            text: assignments.into(),
            in_exec: false,
            marked: true,
        };
        match sub
            .tokens(self.dialect)
            .map_err(|e| e.message)
            .and_then(|t| parse(self.dialect, t))
        {
            Ok(Statement::Set(s)) => self.set(&s, at, &sub),
            _ => self.hit(Id::Unparsed, at, format!("`{}`", short(text))),
        }
        let rest = &code[i + 1];
        let inner = Piece {
            index: piece.index,
            line: rest.line,
            col: rest.col,
            text: text[rest.start..].into(),
            in_exec: false,
            marked: piece.marked,
        };
        self.piece(&inner);
    }
}

/// MariaDB statements, by their first words, that reach the whole server:
/// other servers, plugins, logs, replication, caches.
fn maria_server_wide(up: &[String]) -> bool {
    let has = |i: usize, s: &str| up.get(i).is_some_and(|w| w == s);
    match up.first().map(String::as_str).unwrap_or("") {
        "CREATE" | "ALTER" | "DROP" => has(1, "SERVER"),
        "SHUTDOWN" | "INSTALL" | "UNINSTALL" | "PURGE" | "BINLOG" | "FLUSH" | "KILL" => true,
        "RESET" => !has(1, "QUERY"),
        "CHANGE" => has(1, "MASTER") || has(1, "REPLICATION"),
        "START" | "STOP" => has(1, "SLAVE") || has(1, "REPLICA") || has(1, "ALL"),
        "CACHE" | "LOAD" => has(1, "INDEX"),
        _ => false,
    }
}

fn read_only(modes: &[TransactionMode]) -> bool {
    modes.iter().any(|m| {
        matches!(
            m,
            TransactionMode::AccessMode(TransactionAccessMode::ReadOnly)
        )
    })
}

/// A name as written, unquoted and in lower case.
fn ident(t: &str) -> String {
    let t = t
        .strip_prefix(['`', '"'])
        .and_then(|t| t.strip_suffix(['`', '"']))
        .unwrap_or(t);
    t.to_ascii_lowercase()
}

/// The text of a string literal (its quotes and doubled quotes removed;
/// enough to compare a setting's name).
fn unquote(t: &str) -> String {
    let t = t.strip_prefix(['E', 'e']).unwrap_or(t);
    let q = t.chars().next().unwrap_or('\'');
    t.trim_start_matches(q)
        .trim_end_matches(q)
        .replace(&format!("{q}{q}"), &q.to_string())
}

fn at_of(l: Lexeme, at: At) -> At {
    At {
        line: l.line,
        statement: at.statement,
    }
}

#[cfg(test)]
mod tests {
    use crate::dialect::Dialect;
    use crate::lint::script::tests::{hits, ids, USERS_MY, USERS_PG};

    fn my(sql: &str) -> Vec<String> {
        ids(Dialect::MariaDb, USERS_MY, sql)
    }
    fn pg(sql: &str) -> Vec<String> {
        ids(Dialect::Postgres, USERS_PG, sql)
    }
    const NONE: Vec<String> = Vec::new();

    #[test]
    fn changing_the_session_s_database_is_refused_in_every_form_mariadb_runs() {
        for sql in [
            "USE rt_other;",
            "/*!40101 USE rt_other */;",
            "/*M! USE rt_other */;",
            "/*M!100100 USE rt_other */;",
            "CREATE TABLE x (id INT); USE rt_other; CREATE TABLE y (id INT);",
        ] {
            assert_eq!(my(sql), ["refused[change-database]"], "{sql}");
        }
        assert_eq!(
            hits(
                Dialect::MariaDb,
                USERS_MY,
                "CREATE TABLE x (id INT);\n\nUSE rt_other;"
            ),
            [("refused[change-database]".to_string(), 3)]
        );
        // Naming the database in the statement is the way.
        assert_eq!(my("CREATE TABLE rt_other.y (id INT);"), NONE);
    }

    #[test]
    fn session_settings_the_run_relies_on_are_refused() {
        for sql in [
            "SET autocommit = 1;",
            "SET @@autocommit = 1;",
            "SET @@session.autocommit = 0;",
            "SET SESSION sql_log_bin = 0;",
            "SET LOCAL max_statement_time = 0;",
            "SET lock_wait_timeout = 86400;",
            "SET innodb_lock_wait_timeout = 1, foreign_key_checks = 0;",
            "SET completion_type = 2;",
            "SET SESSION TRANSACTION READ ONLY;",
            "START TRANSACTION READ ONLY;",
            "SET sql_mode = 'ANSI_QUOTES';",
            "SET sql_mode = 'STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES';",
            "SET sql_mode = CONCAT(@@sql_mode, ',ANSI');",
            "SET NAMES gbk;",
            "SET character_set_client = sjis;",
            "SET ROLE NONE;",
            "SET STATEMENT max_statement_time = 1000 FOR SELECT 1;",
        ] {
            assert_eq!(my(sql), ["refused[session-setting]"], "{sql}");
        }
        for sql in [
            "SET foreign_key_checks = 0;",
            "SET @batch = 1000;",
            "SET NAMES utf8mb4;",
            "SET sql_mode = 'STRICT_TRANS_TABLES,NO_ZERO_DATE';",
            "SET time_zone = '+00:00';",
            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;",
            "START TRANSACTION; INSERT INTO users (id) VALUES (1); COMMIT;",
            "BEGIN; INSERT INTO users (id) VALUES (1); ROLLBACK;",
            "SAVEPOINT a; ROLLBACK TO SAVEPOINT a;",
            "COMMIT AND CHAIN;",
            // mysqldump: save, set, put back.
            "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;\n/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n/*!40101 SET NAMES utf8mb4 */;\n/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\nINSERT INTO users (id) VALUES (1);\n/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;\n/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;",
            "/*!40000 ALTER TABLE users DISABLE KEYS */;\nINSERT INTO users (id) VALUES (1);\n/*!40000 ALTER TABLE users ENABLE KEYS */;",
        ] {
            assert_eq!(my(sql), NONE, "{sql}");
        }
        // A user variable that holds something else is not a restore.
        assert_eq!(
            my("SET @m = 'ANSI'; SET sql_mode = @m;"),
            ["refused[session-setting]"]
        );
    }

    #[test]
    fn mariadb_transactions_that_take_over_or_end_the_session_are_refused() {
        for sql in [
            "COMMIT RELEASE;",
            "COMMIT AND NO CHAIN RELEASE;",
            "ROLLBACK RELEASE;",
            "XA START 'x';",
            "LOCK TABLES users WRITE;",
            "LOCK TABLE users READ;",
            "FLUSH TABLES WITH READ LOCK;",
            "FLUSH TABLES users FOR EXPORT;",
        ] {
            let got = my(sql);
            assert!(
                got == ["refused[xa-release]"] || got == ["refused[lock-tables]"],
                "{sql}: {got:?}"
            );
        }
        assert_eq!(my("COMMIT NO RELEASE;"), NONE);
        assert_eq!(my("UNLOCK TABLES;"), NONE);
    }

    #[test]
    fn server_wide_statements_and_privileges_are_breaking() {
        for sql in [
            "SET GLOBAL read_only = 1;",
            "SET @@global.max_connections = 10;",
            "SET max_connections = 10, GLOBAL event_scheduler = ON;",
            "FLUSH PRIVILEGES;",
            "KILL 42;",
            "SHUTDOWN;",
            "INSTALL SONAME 'ha_blackhole';",
            "PURGE BINARY LOGS BEFORE NOW();",
            "STOP SLAVE;",
        ] {
            assert_eq!(my(sql), ["breaking[server-wide]"], "{sql}");
        }
        for sql in [
            "GRANT SELECT ON app.* TO 'report'@'%';",
            "REVOKE INSERT ON *.* FROM 'app'@'%';",
            "CREATE USER 'x'@'%' IDENTIFIED BY 'y';",
            "DROP USER 'app'@'%';",
            "ALTER USER 'app'@'%' ACCOUNT LOCK;",
            "RENAME USER 'app'@'%' TO 'old'@'%';",
            "SET PASSWORD FOR 'app'@'%' = PASSWORD('x');",
            "CREATE ROLE reader;",
        ] {
            assert_eq!(my(sql), ["breaking[privileges]"], "{sql}");
        }
        assert_eq!(
            pg("GRANT SELECT ON users TO report;"),
            ["breaking[privileges]"]
        );
        assert_eq!(
            pg("ALTER SYSTEM SET work_mem = '1GB';"),
            ["breaking[server-wide]"]
        );
        assert_eq!(
            pg("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'app';"),
            ["breaking[server-wide]"]
        );
    }

    #[test]
    fn functions_that_release_the_run_s_lock_are_refused_even_in_data_statements() {
        for sql in [
            "SELECT RELEASE_ALL_LOCKS();",
            "DO RELEASE_LOCK('schemagate:app');",
            "INSERT INTO users (id, name) VALUES (1, release_all_locks());",
        ] {
            assert_eq!(my(sql), ["refused[release-lock]"], "{sql}");
        }
        assert_eq!(
            pg("SELECT pg_advisory_unlock_all();"),
            ["refused[release-lock]"]
        );
        // Inside a string it is only text.
        assert_eq!(
            my("INSERT INTO users (id, name) VALUES (1, 'RELEASE_ALL_LOCKS()');"),
            NONE
        );
        // A procedure's body runs only when called.
        assert_eq!(
            my("CREATE PROCEDURE p() BEGIN DO RELEASE_ALL_LOCKS(); END;"),
            NONE
        );
    }

    #[test]
    fn the_history_table_is_the_run_s_own() {
        for sql in [
            "DELETE FROM _sqlx_migrations WHERE version = 3;",
            "UPDATE `_sqlx_migrations` SET success = 1;",
            "DROP TABLE IF EXISTS _sqlx_migrations;",
            "TRUNCATE _sqlx_migrations;",
            "INSERT INTO app._sqlx_migrations VALUES (9, 'x', NOW(), 1, '', 0);",
        ] {
            assert!(
                my(sql).contains(&"refused[history-table]".to_string()),
                "{sql}: {:?}",
                my(sql)
            );
        }
        assert_eq!(my("SELECT MAX(version) FROM _sqlx_migrations;"), NONE);
        assert_eq!(
            my("INSERT INTO users (id) SELECT version FROM _sqlx_migrations;"),
            NONE
        );
    }

    #[test]
    fn postgres_transaction_control_is_refused_unless_the_file_opts_out() {
        for sql in [
            "CREATE TABLE tx_a (id INT);\nCOMMIT;\nCREATE TABLE tx_b (id INT);\nSELECT 1/0;",
            "BEGIN;",
            "START TRANSACTION;",
            "END;",
            "ROLLBACK;",
            "ABORT;",
            "SAVEPOINT a;",
            "RELEASE SAVEPOINT a;",
            "ROLLBACK TO SAVEPOINT a;",
            "PREPARE TRANSACTION 'x';",
            "COMMIT PREPARED 'x';",
        ] {
            assert_eq!(pg(sql), ["refused[transaction-control]"], "{sql}");
        }
        assert_eq!(
            hits(
                Dialect::Postgres,
                USERS_PG,
                "CREATE TABLE tx_a (id INT);\nCOMMIT;"
            ),
            [("refused[transaction-control]".to_string(), 2)]
        );
        assert_eq!(
            pg("-- no-transaction\nBEGIN;\nUPDATE users SET age = 1 WHERE id = 1;\nCOMMIT;"),
            NONE
        );
        // The marker must be the file's first line (sqlx's rule).
        assert_eq!(
            pg("\n-- no-transaction\nCOMMIT;"),
            ["refused[transaction-control]"]
        );
    }

    #[test]
    fn postgres_session_settings() {
        for (sql, want) in [
            ("SET search_path = other;", "refused[change-database]"),
            (
                "SET LOCAL search_path TO other, public;",
                "refused[change-database]",
            ),
            ("SET SCHEMA 'other';", "refused[change-database]"),
            (
                "SELECT pg_catalog.set_config('search_path', '', false);",
                "refused[change-database]",
            ),
            ("SET statement_timeout = 0;", "refused[session-setting]"),
            ("SET lock_timeout TO '1h';", "refused[session-setting]"),
            ("SET ROLE admin;", "refused[session-setting]"),
            (
                "SET SESSION AUTHORIZATION admin;",
                "refused[session-setting]",
            ),
            (
                "SET standard_conforming_strings = off;",
                "refused[session-setting]",
            ),
            (
                "SET default_transaction_read_only = on;",
                "refused[session-setting]",
            ),
            ("RESET ALL;", "refused[session-setting]"),
            ("RESET statement_timeout;", "refused[session-setting]"),
            (
                "SELECT set_config('statement_timeout', '0', true);",
                "refused[session-setting]",
            ),
        ] {
            assert_eq!(pg(sql), [want], "{sql}");
        }
        for sql in [
            "SET client_min_messages = warning;",
            "SET session_replication_role = replica;",
            "RESET search_path;",
            "SELECT set_config('app.user', 'migration', true);",
            "LOCK TABLE users IN SHARE MODE;",
        ] {
            assert_eq!(pg(sql), NONE, "{sql}");
        }
    }
}
