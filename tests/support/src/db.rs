//! A database of the test's own on the shared servers — MariaDB at
//! 127.0.0.1:3306 (root without a password over TCP) and PostgreSQL at
//! 127.0.0.1:5432 (postgres, trust), as `scripts/services.sh` sets them up —
//! dropped again when the test ends, and what a user sees in it.
//!
//! Tests that kill, stop or freeze a server use
//! [`PrivateMariaDb`](crate::PrivateMariaDb) instead, never these servers.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use sqlx::{AssertSqlSafe, Connection, Executor, MySqlConnection, PgConnection};

use crate::require::unavailable;

pub const HOST: &str = "127.0.0.1";
pub const MARIADB_URL: &str = "mysql://root@127.0.0.1:3306";
pub const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// `$body` on a new administrator connection `$c` to the database, typed
/// for its server (sqlx's queries are generic over the driver).
macro_rules! on_server {
    ($db:expr, $c:ident => $body:expr) => {
        match $db.kind {
            Kind::MariaDb => {
                let mut $c = $db.my().await;
                $body
            }
            Kind::Postgres => {
                let mut $c = $db.pg().await;
                $body
            }
        }
    };
}

/// Which server a [`TestDb`] lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    MariaDb,
    Postgres,
}

impl Kind {
    pub fn port(self) -> u16 {
        match self {
            Kind::MariaDb => 3306,
            Kind::Postgres => 5432,
        }
    }

    /// The `engine` of an RDS secret.
    pub fn engine(self) -> &'static str {
        match self {
            Kind::MariaDb => "mariadb",
            Kind::Postgres => "postgres",
        }
    }

    /// The server's administrator, who needs no password here.
    pub fn root(self) -> &'static str {
        match self {
            Kind::MariaDb => "root",
            Kind::Postgres => "postgres",
        }
    }

    fn server(self) -> &'static str {
        match self {
            Kind::MariaDb => "MariaDB",
            Kind::Postgres => "PostgreSQL",
        }
    }
}

/// One row of `_sqlx_migrations`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    pub version: i64,
    pub description: String,
    pub success: bool,
    pub installed_on: String,
}

/// A database of its own: `sg_<tag>_<pid>_<n>`, dropped (with its user) at
/// the end of the test unless kept.
pub struct TestDb {
    pub kind: Kind,
    pub name: String,
    /// Whom [`TestDb::secret`] names: the server's administrator, or a
    /// user of the database's own.
    pub user: String,
    /// The user's password; empty for the administrator.
    pub password: String,
    own_user: bool,
    keep: bool,
}

impl TestDb {
    /// A fresh database on the MariaDB server. A server that cannot be
    /// reached panics, with the command that starts it.
    pub async fn mariadb(tag: &str) -> TestDb {
        crate::require::ready(Self::create(Kind::MariaDb, &unique(tag), None, false).await)
    }

    /// A fresh database on the PostgreSQL server.
    pub async fn postgres(tag: &str) -> TestDb {
        crate::require::ready(Self::create(Kind::Postgres, &unique(tag), None, false).await)
    }

    /// A fresh MariaDB database and a user of the same name with a random
    /// password (so logs can be searched for it), allowed everything on
    /// the database and nothing else.
    pub async fn mariadb_with_user(tag: &str) -> Result<TestDb> {
        let name = unique(tag);
        Self::create(Kind::MariaDb, &name, Some(&name), false).await
    }

    /// Database `name` (dropped first if it exists) and user `user`
    /// (re-created with a new random password), both kept afterwards: a
    /// database to look at once the program ends (the demo's).
    pub async fn mariadb_kept(name: &str, user: &str) -> Result<TestDb> {
        Self::create(Kind::MariaDb, name, Some(user), true).await
    }

    async fn create(kind: Kind, name: &str, user: Option<&str>, keep: bool) -> Result<TestDb> {
        match kind {
            Kind::MariaDb => {
                let mut c = root_mariadb().await?;
                raw(&mut c, &format!("DROP DATABASE IF EXISTS {name}")).await?;
                raw(&mut c, &format!("CREATE DATABASE {name}")).await?;
                c.close().await.ok();
            }
            Kind::Postgres => {
                let mut c = root_postgres().await?;
                raw(&mut c, &format!("DROP DATABASE IF EXISTS {name}")).await?;
                raw(&mut c, &format!("CREATE DATABASE {name}")).await?;
                c.close().await.ok();
            }
        }
        let db = TestDb {
            kind,
            name: name.to_string(),
            user: user.unwrap_or(kind.root()).to_string(),
            password: if user.is_some() {
                random_alnum(24)
            } else {
                String::new()
            },
            own_user: user.is_some(),
            keep,
        };
        if db.own_user {
            db.create_user().await?;
        }
        Ok(db)
    }

    async fn create_user(&self) -> Result<()> {
        let (name, user, password) = (&self.name, &self.user, &self.password);
        let mut c = root_mariadb().await?;
        for sql in [
            format!("DROP USER IF EXISTS '{user}'@'{HOST}'"),
            format!("CREATE USER '{user}'@'{HOST}' IDENTIFIED BY '{password}'"),
            format!("GRANT ALL PRIVILEGES ON `{name}`.* TO '{user}'@'{HOST}'"),
        ] {
            // The password is in a statement: keep it out of error messages.
            sqlx::raw_sql(AssertSqlSafe(sql.clone()))
                .execute(&mut c)
                .await
                .with_context(|| format!("MariaDB: {}", sql.replace(password, "***")))?;
        }
        c.close().await.ok();
        Ok(())
    }

    /// The database as the administrator sees it:
    /// `mysql://root@127.0.0.1:3306/<name>` or `postgres://postgres@…/<name>`.
    pub fn url(&self) -> String {
        match self.kind {
            Kind::MariaDb => format!("{MARIADB_URL}/{}", self.name),
            Kind::Postgres => format!("{POSTGRES_URL}/{}", self.name),
        }
    }

    /// The RDS-format secret (`engine host port username password dbname`)
    /// for this database and its user.
    pub fn secret(&self) -> serde_json::Value {
        serde_json::json!({
            "engine": self.kind.engine(),
            "host": HOST,
            "port": self.kind.port(),
            "username": self.user,
            "password": self.password,
            "dbname": self.name,
        })
    }

    /// A new connection to the MariaDB database, as root.
    pub async fn my(&self) -> MySqlConnection {
        MySqlConnection::connect(&self.url()).await.unwrap()
    }

    /// A new connection to the PostgreSQL database, as postgres.
    pub async fn pg(&self) -> PgConnection {
        PgConnection::connect(&self.url()).await.unwrap()
    }

    /// Run statements (several, separated by `;`).
    pub async fn exec(&self, sql: &str) {
        let q = sqlx::raw_sql(AssertSqlSafe(sql.to_string()));
        on_server!(self, c => c.execute(q).await.map(|_| ()))
            .unwrap_or_else(|e| panic!("{}: `{sql}`: {e}", self.kind.server()));
    }

    /// The number a query such as `SELECT COUNT(*) FROM t` returns.
    pub async fn count(&self, sql: &str) -> i64 {
        on_server!(self, c => sqlx::query_scalar(AssertSqlSafe(sql.to_string())).fetch_one(&mut c).await)
            .unwrap_or_else(|e| panic!("{}: `{sql}`: {e}", self.kind.server()))
    }

    /// The rows of `table`.
    pub async fn rows(&self, table: &str) -> i64 {
        self.count(&format!("SELECT COUNT(*) FROM {table}")).await
    }

    /// Strings a query returns, one per row.
    async fn strings(&self, sql: &str) -> Vec<String> {
        on_server!(self, c => sqlx::query_scalar(AssertSqlSafe(sql.to_string())).fetch_all(&mut c).await)
            .unwrap_or_else(|e| panic!("{}: `{sql}`: {e}", self.kind.server()))
    }

    /// `column` as text, in the server's dialect.
    fn text(&self, column: &str) -> String {
        match self.kind {
            Kind::MariaDb => format!("CAST({column} AS CHAR)"),
            Kind::Postgres => format!("{column}::text"),
        }
    }

    fn schema_filter(&self) -> String {
        match self.kind {
            Kind::MariaDb => format!("table_schema = '{}'", self.name),
            Kind::Postgres => "table_schema = 'public'".into(),
        }
    }

    /// Every table, the history tables `_sqlx_migrations` and
    /// `_schemagate_history` too.
    pub async fn all_tables(&self) -> BTreeSet<String> {
        let sql = format!(
            "SELECT {} FROM information_schema.tables WHERE {}",
            self.text("table_name"),
            self.schema_filter()
        );
        self.strings(&sql).await.into_iter().collect()
    }

    /// Table names, sorted, without the history tables.
    pub async fn tables(&self) -> Vec<String> {
        let mut t: Vec<String> = self.all_tables().await.into_iter().collect();
        t.retain(|n| n != "_sqlx_migrations" && n != "_schemagate_history");
        t
    }

    /// The columns of `table`, in their order.
    pub async fn columns(&self, table: &str) -> Vec<String> {
        let sql = format!(
            "SELECT {} FROM information_schema.columns WHERE {} AND table_name = '{table}' ORDER BY ordinal_position",
            self.text("column_name"),
            self.schema_filter()
        );
        self.strings(&sql).await
    }

    /// `(version, success)` rows of the history, in version order; empty
    /// without a history table.
    pub async fn history(&self) -> Vec<(i64, bool)> {
        let sql = "SELECT version, success FROM _sqlx_migrations ORDER BY version";
        on_server!(self, c => sqlx::query_as(sql).fetch_all(&mut c).await).unwrap_or_default()
    }

    /// `_sqlx_migrations` with descriptions and times, by version; empty
    /// without a history table.
    pub async fn history_rows(&self) -> Vec<HistoryRow> {
        if !self.all_tables().await.contains("_sqlx_migrations") {
            return Vec::new();
        }
        let sql = format!(
            "SELECT version, {}, success, {} FROM _sqlx_migrations ORDER BY version",
            self.text("description"),
            self.text("installed_on")
        );
        let rows: Vec<(i64, String, bool, String)> =
            on_server!(self, c => sqlx::query_as(AssertSqlSafe(sql)).fetch_all(&mut c).await)
                .unwrap_or_else(|e| panic!("read _sqlx_migrations: {e}"));
        rows.into_iter()
            .map(|(version, description, success, installed_on)| HistoryRow {
                version,
                description,
                success,
                installed_on,
            })
            .collect()
    }

    /// The highest successfully applied version; `None` without history.
    pub async fn schema_version(&self) -> Option<i64> {
        if !self.all_tables().await.contains("_sqlx_migrations") {
            return None;
        }
        let top = self
            .history()
            .await
            .into_iter()
            .filter(|(_, ok)| *ok)
            .map(|(v, _)| v)
            .max();
        Some(top.unwrap_or(0))
    }

    /// Everything a user would compare before and after: tables with their
    /// columns and row counts, and the history.
    pub async fn snapshot(&self) -> String {
        let mut out = String::new();
        for t in self.all_tables().await {
            out.push_str(&format!(
                "{t}({}) rows={}\n",
                self.columns(&t).await.join(","),
                self.rows(&t).await
            ));
        }
        for h in self.history_rows().await {
            out.push_str(&format!(
                "history {} {} success={} at {}\n",
                h.version, h.description, h.success, h.installed_on
            ));
        }
        out
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let (kind, name, user, own_user) = (
            self.kind,
            self.name.clone(),
            self.user.clone(),
            self.own_user,
        );
        // Drop runs inside the test's runtime and cannot await: clean up
        // from a thread with a runtime of its own, best effort.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async move {
                match kind {
                    Kind::MariaDb => {
                        let mut c = root_mariadb().await.ok()?;
                        raw(&mut c, &format!("DROP DATABASE IF EXISTS {name}"))
                            .await
                            .ok();
                        if own_user {
                            raw(&mut c, &format!("DROP USER IF EXISTS '{user}'@'{HOST}'"))
                                .await
                                .ok();
                        }
                        c.close().await.ok()
                    }
                    Kind::Postgres => {
                        let mut c = root_postgres().await.ok()?;
                        raw(
                            &mut c,
                            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                        )
                        .await
                        .ok();
                        c.close().await.ok()
                    }
                }
            })
        })
        .join();
    }
}

/// `sg_<tag>_<pid>_<n>`: unique among the tests running at once (each
/// test of nextest is a process of its own), a valid unquoted name on both
/// servers.
fn unique(tag: &str) -> String {
    let clean: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(32)
        .collect();
    format!(
        "sg_{clean}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

async fn raw<C>(c: &mut C, sql: &str) -> Result<()>
where
    for<'c> &'c mut C: Executor<'c>,
{
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(c)
        .await
        .with_context(|| format!("`{sql}`"))?;
    Ok(())
}

/// The MariaDB server as root, or why not (with the command that starts it).
async fn root_mariadb() -> Result<MySqlConnection> {
    root(Kind::MariaDb, MySqlConnection::connect(MARIADB_URL)).await
}

async fn root_postgres() -> Result<PgConnection> {
    root(
        Kind::Postgres,
        PgConnection::connect(&format!("{POSTGRES_URL}/postgres")),
    )
    .await
}

async fn root<C>(
    kind: Kind,
    connect: impl std::future::Future<Output = Result<C, sqlx::Error>>,
) -> Result<C> {
    let server = format!("{} at {HOST}:{}", kind.server(), kind.port());
    match tokio::time::timeout(Duration::from_secs(10), connect).await {
        Ok(Ok(c)) => Ok(c),
        // Not listening: the server is missing or stopped.
        Ok(Err(e @ sqlx::Error::Io(_))) => Err(unavailable(
            server,
            format!("{e}; run `make services` (scripts/services.sh installs and starts it)"),
        )),
        Ok(Err(e)) => Err(anyhow!(
            "{server} refused {} without a password over TCP: {e}; scripts/services.sh sets that up",
            kind.root()
        )),
        Err(_) => Err(unavailable(server, "no answer in 10 s; run `make services`")),
    }
}

pub fn random_alnum(n: usize) -> String {
    (0..n).map(|_| fastrand::alphanumeric()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_unquoted_and_unique() {
        let (a, b) = (unique("Create-Update"), unique("Create-Update"));
        assert!(a.starts_with("sg_create_update_"), "{a}");
        assert_ne!(a, b);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
    }
}
