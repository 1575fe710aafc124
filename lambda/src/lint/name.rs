//! Names as the server compares them, decided here once for both readings
//! of a statement (the syntax tree's `Ident`s and the tokens or lexemes of
//! the fallback): a [`Name`] can only be made by these rules, and the
//! [`Schema`](super::schema::Schema) is keyed by it.
//!
//! - PostgreSQL folds an unquoted name to lower case and keeps a quoted one
//!   as written, whatever it names.
//! - MariaDB (Linux, `lower_case_table_names=0`, as on RDS) keeps the case
//!   of what lives in files — tables, views, triggers — and compares
//!   columns, indexes and stored routines (procedures, functions, events)
//!   without case, quoted or not.
//! - A qualified name (`app.users`) is the object's own name: its last part.

use std::fmt;

use sqlparser::ast::{Expr, Ident, ObjectName, ObjectNamePart};
use sqlparser::tokenizer::Word;

use super::scan::Lex;
use crate::dialect::Dialect;

/// What a name names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Of {
    /// Tables, views and triggers.
    Table,
    Column,
    /// Indexes and constraints.
    Index,
    /// Procedures, functions and events.
    Routine,
}

/// A name as the server compares it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(String);

impl Name {
    /// `value` as written (without its quotes).
    pub fn new(dialect: Dialect, of: Of, value: &str, quoted: bool) -> Name {
        let fold = match dialect {
            Dialect::Postgres => !quoted,
            Dialect::MariaDb => of != Of::Table,
        };
        Name(if fold {
            value.to_ascii_lowercase()
        } else {
            value.to_string()
        })
    }

    pub fn ident(dialect: Dialect, of: Of, i: &Ident) -> Name {
        Name::new(dialect, of, &i.value, i.quote_style.is_some())
    }

    /// The object's own name, without database or schema.
    pub fn object(dialect: Dialect, of: Of, n: &ObjectName) -> Name {
        match n.0.last() {
            Some(ObjectNamePart::Identifier(i)) => Name::ident(dialect, of, i),
            Some(other) => Name(other.to_string()),
            None => Name(String::new()),
        }
    }

    /// A word of sqlparser's tokens.
    pub fn word(dialect: Dialect, of: Of, w: &Word) -> Name {
        Name::new(dialect, of, &w.value, w.quote_style.is_some())
    }

    /// A name the scanner read: a word or a quoted name (its quotes and
    /// doubled quotes removed).
    pub fn lexeme(dialect: Dialect, of: Of, text: &str, lex: Lex) -> Name {
        if lex != Lex::Quoted || text.len() < 2 {
            return Name::new(dialect, of, text, false);
        }
        let q = &text[..1];
        let inner = text[1..text.len() - 1].replace(&format!("{q}{q}"), q);
        Name::new(dialect, of, &inner, true)
    }

    /// A column named by an index or constraint (`email`, `users.email`);
    /// `None` for an expression.
    pub fn column(dialect: Dialect, e: &Expr) -> Option<Name> {
        match e {
            Expr::Identifier(i) => Some(Name::ident(dialect, Of::Column, i)),
            Expr::CompoundIdentifier(parts) => {
                parts.last().map(|i| Name::ident(dialect, Of::Column, i))
            }
            _ => None,
        }
    }

    /// The name of an index that has none of its own (MariaDB names an
    /// unnamed unique key after its first column; columns and indexes
    /// compare alike).
    pub fn index_after(dialect: Dialect, e: &Expr) -> Name {
        Name::column(dialect, e).unwrap_or_else(|| Name(e.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_dialect_compares_names_as_its_server_does() {
        let n = |d, of, v: &str, q| Name::new(d, of, v, q).0;
        // PostgreSQL: unquoted folds, quoted stays, whatever it names.
        for of in [Of::Table, Of::Column, Of::Index, Of::Routine] {
            assert_eq!(n(Dialect::Postgres, of, "Users", false), "users");
            assert_eq!(n(Dialect::Postgres, of, "Users", true), "Users");
        }
        // MariaDB: tables, views, triggers keep their case; the rest not.
        assert_eq!(n(Dialect::MariaDb, Of::Table, "Users", false), "Users");
        assert_eq!(n(Dialect::MariaDb, Of::Table, "Users", true), "Users");
        for of in [Of::Column, Of::Index, Of::Routine] {
            assert_eq!(n(Dialect::MariaDb, of, "FullName", true), "fullname");
        }
    }

    #[test]
    fn a_quoted_lexeme_loses_its_quotes_and_keeps_its_case() {
        let pg = |t, lex| Name::lexeme(Dialect::Postgres, Of::Routine, t, lex).0;
        assert_eq!(pg("\"Pu\"\"rge\"", Lex::Quoted), "Pu\"rge");
        assert_eq!(pg("Purge", Lex::Word), "purge");
        assert_eq!(
            Name::lexeme(Dialect::MariaDb, Of::Routine, "`Full``Name`", Lex::Quoted).0,
            "full`name"
        );
    }
}
