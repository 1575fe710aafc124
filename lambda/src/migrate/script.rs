//! Preparing a script's text so its bookkeeping can ride in the same round
//! trip: the engine appends statements after it, so it must end with `;`.

use crate::dialect::Dialect;
use crate::lint::scan::{self, Lex, Lexeme, Scanner};

/// The script as it must be sent, or `None` when it has no statement at all
/// (empty or only comments: a deliberate no-op).
///
/// Read with the lint's scanner ([`scan::ending`]), which sees what the
/// server sees: semicolons inside strings, quoted names and comments do
/// not count, and the contents of MariaDB's executable comments
/// (`/*! … */`, `/*M! … */`) do. It streams, so a large data migration
/// costs no more than its own text.
pub fn terminated(sql: &str, dialect: Dialect) -> Option<String> {
    match scan::ending(sql, dialect) {
        Ok(None) => None,
        Ok(Some(true)) => Some(format!("{sql}\n")),
        Ok(Some(false)) => Some(format!("{sql}\n;\n")),
        // The server will report the real problem with its own words; keep
        // the text as written and terminate it conservatively.
        Err(_) => {
            let trimmed = sql.trim_end();
            if trimmed.is_empty() {
                None
            } else if trimmed.ends_with(';') {
                Some(format!("{sql}\n"))
            } else {
                Some(format!("{sql}\n;\n"))
            }
        }
    }
}

/// The script's first statement commits implicitly before it runs: on
/// MariaDB, `CREATE`, `ALTER`, `DROP`, `RENAME` and `TRUNCATE` (of anything
/// but a temporary table). The engine lets the previous migration's finish
/// ride in that commit ([`crate::db::mariadb`]). Read with the lint's
/// scanner; anything it is not sure of (an executable comment first, text
/// it cannot read, a temporary table) says no, which only costs a commit.
/// PostgreSQL: never (its DDL is transactional).
pub fn opens_with_commit(sql: &str, dialect: Dialect) -> bool {
    if dialect != Dialect::MariaDb {
        return false;
    }
    let first: Vec<Lexeme> = Scanner::new(sql, dialect)
        .map_while(Result::ok)
        .filter(|l| !matches!(l.lex, Lex::Space | Lex::Comment))
        .take(4)
        .collect();
    let is = |i: usize, w: &str| first.get(i).is_some_and(|l| l.is(sql, w));
    let temporary = (1..4).any(|i| is(i, "TEMPORARY"));
    ["ALTER", "RENAME", "TRUNCATE"].iter().any(|w| is(0, w))
        || ((is(0, "CREATE") || is(0, "DROP")) && !temporary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_comment_only_scripts_are_no_ops() {
        for sql in [
            "",
            "  \n",
            "-- nothing to undo\n",
            "/* keep */",
            "# mysql comment\n",
        ] {
            assert_eq!(terminated(sql, Dialect::MariaDb), None, "{sql:?}");
        }
        assert_eq!(terminated("-- none", Dialect::Postgres), None);
    }

    #[test]
    fn a_missing_final_semicolon_is_added_after_a_trailing_comment() {
        let t = terminated("CREATE TABLE a (id INT)\n-- done", Dialect::MariaDb).unwrap();
        assert!(t.ends_with("-- done\n;\n"), "{t:?}");
    }

    #[test]
    fn a_terminated_script_is_left_alone() {
        assert_eq!(
            terminated("SELECT 1;  -- x", Dialect::MariaDb).unwrap(),
            "SELECT 1;  -- x\n"
        );
    }

    #[test]
    fn semicolons_in_strings_do_not_count() {
        let t = terminated("INSERT INTO t VALUES ('a;')", Dialect::MariaDb).unwrap();
        assert!(t.ends_with("\n;\n"));
        let t = terminated(
            "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql",
            Dialect::Postgres,
        )
        .unwrap();
        assert!(t.ends_with("\n;\n"));
    }

    #[test]
    fn executable_comments_are_code() {
        // MariaDB runs the comment: the bookkeeping must not join it.
        let t = terminated("SELECT 1; /*M! SELECT 2 */", Dialect::MariaDb).unwrap();
        assert!(t.ends_with("\n;\n"), "{t:?}");
        let t = terminated("SELECT 1; /*!40101 SET NAMES utf8 */", Dialect::MariaDb).unwrap();
        assert!(t.ends_with("\n;\n"), "{t:?}");
        // Not on PostgreSQL, and not a plain comment.
        assert_eq!(
            terminated("SELECT 1; /*M! SELECT 2 */", Dialect::Postgres).unwrap(),
            "SELECT 1; /*M! SELECT 2 */\n"
        );
        assert_eq!(
            terminated("SELECT 1; /*m! SELECT 2 */", Dialect::MariaDb).unwrap(),
            "SELECT 1; /*m! SELECT 2 */\n"
        );
        // MariaDB: `#` is a comment, `--` only before a space.
        assert!(terminated("SELECT 1 #;", Dialect::MariaDb)
            .unwrap()
            .ends_with("\n;\n"));
        assert_eq!(
            terminated("SELECT 1--1;", Dialect::MariaDb).unwrap(),
            "SELECT 1--1;\n"
        );
    }

    #[test]
    fn a_script_opens_with_a_commit_when_its_first_statement_is_ddl() {
        for sql in [
            "CREATE TABLE a (id INT);",
            "-- add c\n  alter table a add column c int;",
            "/* x */ DROP INDEX i ON a; INSERT INTO a VALUES (1);",
            "# y\nRENAME TABLE a TO b;",
            "truncate a;",
            "CREATE INDEX i ON a (c);",
            "CREATE OR REPLACE TABLE a (id INT);",
        ] {
            assert!(opens_with_commit(sql, Dialect::MariaDb), "{sql:?}");
        }
        for sql in [
            "INSERT INTO a VALUES (1); CREATE TABLE b (id INT);",
            "CREATE TEMPORARY TABLE t (id INT);",
            "CREATE OR REPLACE TEMPORARY TABLE t (id INT);",
            "DROP TEMPORARY TABLE t;",
            "/*!40101 CREATE TABLE a (id INT) */;",
            "SELECT 1;",
            "",
            "-- nothing\n",
            "'unterminated",
        ] {
            assert!(!opens_with_commit(sql, Dialect::MariaDb), "{sql:?}");
        }
        assert!(!opens_with_commit(
            "CREATE TABLE a (id INT);",
            Dialect::Postgres
        ));
    }
}
