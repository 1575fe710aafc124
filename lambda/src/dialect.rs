//! The SQL dialect a migration is written in: how its text is read
//! (quotes, comments, MariaDB's executable comments) and which lint rules
//! apply. The engine that runs the migrations says which
//! ([`crate::db::Kind::dialect`]); `schemagate lint --dialect` names one
//! without a database. Code that reads SQL asks the dialect, never which
//! engine it talks to.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// MariaDB and MySQL.
    MariaDb,
    Postgres,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::MariaDb => "mariadb",
            Dialect::Postgres => "postgres",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Dialect {
    type Err = ();
    /// `mariadb` (also `mysql`) or `postgres` (also `postgresql`), any case.
    fn from_str(s: &str) -> Result<Dialect, ()> {
        match s.to_ascii_lowercase().as_str() {
            "mariadb" | "mysql" => Ok(Dialect::MariaDb),
            "postgres" | "postgresql" => Ok(Dialect::Postgres),
            _ => Err(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for d in [Dialect::MariaDb, Dialect::Postgres] {
            assert_eq!(d.as_str().parse::<Dialect>(), Ok(d));
        }
        assert_eq!("MySQL".parse::<Dialect>(), Ok(Dialect::MariaDb));
        assert_eq!("postgresql".parse::<Dialect>(), Ok(Dialect::Postgres));
        assert!("oracle".parse::<Dialect>().is_err());
    }
}
