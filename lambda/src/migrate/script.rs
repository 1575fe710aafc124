//! Preparing a script's text so its bookkeeping can ride in the same round
//! trip: the engine appends statements after it, so it must end with `;`.

use sqlparser::dialect::{Dialect, MySqlDialect, PostgreSqlDialect};
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::db::Kind;

/// The script as it must be sent, or `None` when it has no statement at all
/// (empty or only comments: a deliberate no-op).
///
/// Uses sqlparser's tokenizer so semicolons inside strings, quoted names and
/// comments are not mistaken for the end of a statement.
pub fn terminated(sql: &str, kind: Kind) -> Option<String> {
    let dialect: &dyn Dialect = match kind {
        Kind::MariaDb => &MySqlDialect {},
        Kind::Postgres => &PostgreSqlDialect {},
    };
    match Tokenizer::new(dialect, sql).tokenize() {
        Ok(tokens) => {
            let last = tokens
                .iter()
                .rev()
                .find(|t| !matches!(t, Token::Whitespace(_) | Token::EOF))?;
            if *last == Token::SemiColon {
                Some(format!("{sql}\n"))
            } else {
                Some(format!("{sql}\n;\n"))
            }
        }
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
            assert_eq!(terminated(sql, Kind::MariaDb), None, "{sql:?}");
        }
        assert_eq!(terminated("-- none", Kind::Postgres), None);
    }

    #[test]
    fn a_missing_final_semicolon_is_added_after_a_trailing_comment() {
        let t = terminated("CREATE TABLE a (id INT)\n-- done", Kind::MariaDb).unwrap();
        assert!(t.ends_with("-- done\n;\n"), "{t:?}");
    }

    #[test]
    fn a_terminated_script_is_left_alone() {
        assert_eq!(
            terminated("SELECT 1;  -- x", Kind::MariaDb).unwrap(),
            "SELECT 1;  -- x\n"
        );
    }

    #[test]
    fn semicolons_in_strings_do_not_count() {
        let t = terminated("INSERT INTO t VALUES ('a;')", Kind::MariaDb).unwrap();
        assert!(t.ends_with("\n;\n"));
        let t = terminated(
            "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql",
            Kind::Postgres,
        )
        .unwrap();
        assert!(t.ends_with("\n;\n"));
    }
}
