//! The fallback path: statements sqlparser does not read but whose shape is
//! certain from their words — MariaDB's routines, events, triggers, views
//! with `DEFINER`, FULLTEXT indexes, table options and partitioning, and
//! `ALTER TABLE` operations the parser refuses only in company (each is
//! parsed again on its own). What they do goes through the same schema
//! operations ([`super::ops`]) as the syntax-tree path, with names made the
//! same way ([`Name`]). What is not recognized here is `unknown`.

use sqlparser::ast::Statement;
use sqlparser::tokenizer::{Token, TokenWithSpan, Whitespace};

use super::cx::{At, Cx};
use super::name::{Name, Of};
use super::rules::Id;
use super::split::Piece;
use super::statement::{parse, short};
use super::tokens::{alter_parts, first_line, meaningful, strip_if_exists, upper};
use crate::dialect::Dialect;

/// MariaDB table options that change nothing the running release sees.
const HARMLESS_OPTIONS: &[&str] = &[
    "DEFAULT",
    "CHARACTER",
    "CHARSET",
    "COLLATE",
    "COMMENT",
    "ROW_FORMAT",
    "KEY_BLOCK_SIZE",
    "STATS_PERSISTENT",
    "STATS_AUTO_RECALC",
    "STATS_SAMPLE_PAGES",
    "PAGE_COMPRESSED",
    "PAGE_COMPRESSION_LEVEL",
    "AUTO_INCREMENT",
    "FORCE",
    "AVG_ROW_LENGTH",
    "MAX_ROWS",
    "MIN_ROWS",
    "CHECKSUM",
    "DELAY_KEY_WRITE",
    "PACK_KEYS",
    "TRANSACTIONAL",
];

/// Where the object word of a `CREATE` is: after `OR REPLACE`, `DEFINER =
/// user@host`, `SQL SECURITY …`, `ALGORITHM = …` and `AGGREGATE`.
fn object_word(up: &[String], mut i: usize) -> usize {
    let has = |i: usize, s: &str| up.get(i).is_some_and(|w| w == s);
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
                    "PROCEDURE" | "FUNCTION" | "TRIGGER" | "EVENT" | "VIEW" | "SQL" | "AGGREGATE"
                )
            {
                i += 1;
            }
        } else if has(i, "SQL") && has(i + 1, "SECURITY") {
            i += 3;
        } else if has(i, "AGGREGATE") {
            i += 1;
        } else {
            return i;
        }
    }
}

impl Cx<'_> {
    /// Statements the parser does not read but whose shape is certain from
    /// their first words. `false`: not recognized, the caller reports it.
    pub(super) fn fallback(&mut self, piece: &Piece, tokens: &[TokenWithSpan], at: At) -> bool {
        let words = meaningful(tokens);
        let up: Vec<String> = words.iter().take(64).map(|t| upper(t)).collect();
        let has = |i: usize, s: &str| up.get(i).is_some_and(|w| w == s);
        if self.session_fallback(piece, &up, at) || self.body_fallback(piece, tokens, &up, at) {
            return true;
        }
        match up.first().map(String::as_str) {
            Some("ALTER") => self.fallback_alter(tokens, at),
            Some("CREATE") => self.fallback_create(piece, &words, &up, at),
            Some("OPTIMIZE" | "ANALYZE" | "CHECK" | "REPAIR") if has(1, "TABLE") => true,
            Some("DROP") => self.fallback_drop(&words, &up, at),
            _ => false,
        }
    }

    /// `CREATE [OR REPLACE] … PROCEDURE/FUNCTION/EVENT/TRIGGER/VIEW name`,
    /// `CREATE FULLTEXT/SPATIAL INDEX … ON t`.
    fn fallback_create(
        &mut self,
        piece: &Piece,
        words: &[&TokenWithSpan],
        up: &[String],
        at: At,
    ) -> bool {
        let has = |i: usize, s: &str| up.get(i).is_some_and(|w| w == s);
        let or_replace = has(1, "OR") && has(2, "REPLACE");
        let i = object_word(up, if or_replace { 3 } else { 1 });
        let what = up.get(i).cloned().unwrap_or_default();
        let mut j = i + 1;
        if has(j, "IF") && has(j + 1, "NOT") && has(j + 2, "EXISTS") {
            j += 3;
        }
        // The table: the name after `ON`.
        let on = up
            .iter()
            .position(|w| w == "ON")
            .and_then(|on| self.name_at(Of::Table, words, on + 1));
        match what.as_str() {
            "PROCEDURE" | "FUNCTION" | "EVENT" => {
                let Some(n) = self.name_at(Of::Routine, words, j) else {
                    return false;
                };
                self.create_routine(&what, n.clone(), or_replace, at);
                // An event's body runs on its schedule: read it like the
                // file's own statements. A routine's runs only when called,
                // and a call is classified where it is.
                if what == "EVENT" {
                    self.event_body(piece, &n, at);
                }
                true
            }
            "TRIGGER" => {
                let Some(n) = self.name_at(Of::Table, words, j) else {
                    return false;
                };
                self.create_trigger(&n, or_replace, at);
                let table = on.unwrap_or_else(|| Name::new(self.dialect, Of::Table, "", true));
                self.trigger_body(piece, &n, &table, at);
                true
            }
            "VIEW" => {
                let Some(n) = self.name_at(Of::Table, words, j) else {
                    return false;
                };
                self.create_view(n, or_replace, at);
                true
            }
            "FULLTEXT" | "SPATIAL" if has(i + 1, "INDEX") || has(i + 1, "KEY") => {
                let Some(t) = on else {
                    return false;
                };
                if what == "FULLTEXT" {
                    self.fulltext_index(&t, "CREATE FULLTEXT INDEX", at);
                }
                true
            }
            _ => false,
        }
    }

    /// `DROP PROCEDURE/FUNCTION/EVENT/TRIGGER [IF EXISTS] name`.
    fn fallback_drop(&mut self, words: &[&TokenWithSpan], up: &[String], at: At) -> bool {
        let has = |i: usize, s: &str| up.get(i).is_some_and(|w| w == s);
        let j = if has(2, "IF") && has(3, "EXISTS") {
            4
        } else {
            2
        };
        match up.get(1).map(String::as_str) {
            Some(what @ ("PROCEDURE" | "FUNCTION" | "EVENT")) => {
                let Some(n) = self.name_at(Of::Routine, words, j) else {
                    return false;
                };
                self.drop_routine(what, &n, at);
                true
            }
            Some("TRIGGER") => {
                let Some(n) = self.name_at(Of::Table, words, j) else {
                    return false;
                };
                self.drop_trigger(&n, at);
                true
            }
            _ => false,
        }
    }

    /// An `ALTER TABLE` the parser refused: each operation on its own.
    /// Reported per operation, so never "not recognized" for the caller.
    fn fallback_alter(&mut self, tokens: &[TokenWithSpan], at: At) -> bool {
        let Some((head, ops)) = alter_parts(tokens) else {
            return false;
        };
        let t = match meaningful(&head).last().map(|t| &t.token) {
            Some(Token::Word(w)) => Name::word(self.dialect, Of::Table, w),
            _ => return false,
        };
        // What the table was when the statement started.
        let old = self.old_table(&t);
        for op in ops {
            let line = first_line(&op, at.line);
            let op_at = At {
                line,
                statement: at.statement,
            };
            // 1. The operation alone may parse.
            let mut tokens = head.clone();
            tokens.push(TokenWithSpan::wrap(Token::Whitespace(Whitespace::Space)));
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
            let desc = short(
                &meaningful(&op)
                    .iter()
                    .map(|t| t.token.to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            if !self.table_option(&t, old, &op, &desc, op_at) {
                let message = parse(self.dialect, tokens).err().unwrap_or_default();
                self.hit(
                    Id::Unparsed,
                    op_at,
                    format!("ALTER TABLE {t} {desc} ({message})"),
                );
            }
        }
        true
    }

    /// A MariaDB table option or partitioning operation (`desc`: as
    /// written) on `t`, which the running release knows if `old`. `false`:
    /// not one (PostgreSQL has none of these).
    fn table_option(
        &mut self,
        t: &Name,
        old: bool,
        op: &[TokenWithSpan],
        desc: &str,
        at: At,
    ) -> bool {
        if self.dialect != Dialect::MariaDb {
            return false;
        }
        let w: Vec<String> = meaningful(op).iter().map(|t| upper(t)).collect();
        let at_ = |i: usize, s: &str| w.get(i).is_some_and(|x| x == s);
        let partition = w.iter().any(|x| x.starts_with("PARTITION"));
        match w.first().map(String::as_str).unwrap_or("") {
            "ENGINE" if old => {
                let engine = if at_(1, "=") { w.get(2) } else { w.get(1) };
                let engine = engine.map(String::as_str).unwrap_or_default();
                let engine = engine.trim_matches(|c| c == '`' || c == '\'' || c == '"');
                self.change_engine(t, engine, at);
            }
            "CONVERT" if at_(1, "TO") => {
                if old {
                    self.convert_charset(t, desc, at);
                }
            }
            "PARTITION" if at_(1, "BY") => {
                if old {
                    self.repartition(t, desc, at);
                }
            }
            "REMOVE" | "COALESCE" | "REORGANIZE" | "REBUILD" | "EXCHANGE" if partition => {
                if old {
                    self.repartition(t, desc, at);
                }
            }
            "DROP" | "TRUNCATE" if at_(1, "PARTITION") => {
                if old {
                    self.drop_partition(t, desc, at);
                }
            }
            "ENGINE" => {}
            "ADD" if at_(1, "PARTITION") => {}
            // mysqldump's `/*!40000 ALTER TABLE t DISABLE KEYS */`.
            "DISABLE" | "ENABLE" if at_(1, "KEYS") => {}
            "DROP" if at_(1, "CHECK") || at_(1, "CONSTRAINT") => {}
            "RENAME" if at_(1, "INDEX") || at_(1, "KEY") => {}
            first => return HARMLESS_OPTIONS.contains(&first),
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::dialect::Dialect;
    use crate::lint::schema::Schema;
    use crate::lint::script::lint_script;
    use crate::lint::script::tests::{hits, USERS_MY, USERS_PG};

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

    /// A routine, event or trigger is one object whichever reading met it:
    /// the syntax tree (`CREATE FUNCTION`, `DROP PROCEDURE`, `DROP
    /// TRIGGER`), the words (`CREATE PROCEDURE … BEGIN`, `CREATE EVENT`,
    /// `CREATE TRIGGER db.t`, `ALTER EVENT`) or the scanner (a call).
    #[test]
    fn both_readings_name_an_object_alike() {
        let my = |before: &str, sql: &str| hits(Dialect::MariaDb, before, sql);
        // Routine names have no case on MariaDB: the call is seen.
        let f = "CREATE FUNCTION FullName(u INT) RETURNS INT DETERMINISTIC RETURN u;";
        assert_eq!(
            my(f, "SELECT fullname(1);\nSELECT `FULLNAME`(2);"),
            [
                ("unknown[routine-call]".to_string(), 1),
                ("unknown[routine-call]".to_string(), 2)
            ]
        );
        // Made by the words, dropped by the tree: this release's own.
        let made = "CREATE PROCEDURE app.p() BEGIN DELETE FROM x WHERE id = 1; END;\n\
                    DROP PROCEDURE app.p;\n\
                    CREATE FUNCTION Fn(u INT) RETURNS INT DETERMINISTIC RETURN u;\n\
                    DROP FUNCTION fn;\n\
                    CREATE TRIGGER app.tr BEFORE INSERT ON app.t FOR EACH ROW SET NEW.a = 1;\n\
                    DROP TRIGGER app.tr;";
        assert_eq!(my("CREATE TABLE t (a INT);", made), []);
        // The object's own name, never its database's.
        let ev = "CREATE EVENT app.ev ON SCHEDULE EVERY 1 DAY DO DELETE FROM x WHERE id = 1;";
        let mut schema = Schema::new(Dialect::MariaDb);
        lint_script(&mut schema, Dialect::MariaDb, ev, false);
        let (_, _, f) = lint_script(&mut schema, Dialect::MariaDb, "DROP EVENT app.ev;", true);
        assert_eq!(f[0].subject, "DROP EVENT ev");
        // A body's context names the same event and table however reached.
        let sql = "CREATE EVENT Purge ON SCHEDULE EVERY 1 DAY DO DELETE FROM t;\n\
                   ALTER EVENT PURGE ON SCHEDULE EVERY 2 DAY DO DELETE FROM t;\n\
                   CREATE TRIGGER app.tr BEFORE INSERT ON app.t FOR EACH ROW DELETE FROM t;";
        let mut schema = Schema::new(Dialect::MariaDb);
        lint_script(
            &mut schema,
            Dialect::MariaDb,
            "CREATE TABLE t (a INT);",
            false,
        );
        let (_, _, f) = lint_script(&mut schema, Dialect::MariaDb, sql, true);
        let subjects: Vec<&str> = f.iter().map(|f| f.subject.as_str()).collect();
        assert_eq!(
            subjects,
            [
                "in event `purge`: `DELETE FROM t`",
                "in event `purge`: `DELETE FROM t`",
                "in trigger `tr` on `t`: `DELETE FROM t`"
            ]
        );
    }

    /// PostgreSQL: a quoted name keeps its case wherever it is read.
    #[test]
    fn a_quoted_routine_is_called_by_its_quoted_name() {
        let before = "CREATE FUNCTION \"Purge\"() RETURNS int LANGUAGE sql AS 'SELECT 1';\n\
                      CREATE FUNCTION purge2() RETURNS int LANGUAGE sql AS 'SELECT 1';";
        let sql = "SELECT \"Purge\"();\nSELECT Purge();\nSELECT PURGE2();\nSELECT \"PURGE2\"();";
        assert_eq!(
            hits(Dialect::Postgres, before, sql),
            [
                ("unknown[routine-call]".to_string(), 1),
                ("unknown[routine-call]".to_string(), 3)
            ]
        );
    }

    /// MariaDB's table options are not PostgreSQL: unknown, never read by
    /// MariaDB's words (nor silently safe).
    #[test]
    fn mariadb_table_options_in_a_postgres_migration_are_unparsed() {
        for sql in [
            "ALTER TABLE users ENGINE = BLACKHOLE;",
            "ALTER TABLE users CONVERT TO CHARACTER SET latin1;",
            "ALTER TABLE users DROP PARTITION p2019;",
        ] {
            assert_eq!(
                hits(Dialect::Postgres, USERS_PG, sql),
                [("unknown[unparsed]".to_string(), 1)],
                "{sql}"
            );
        }
    }
}
