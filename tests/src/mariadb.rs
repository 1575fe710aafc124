//! The MariaDB server on 127.0.0.1:3306: a database and a user (with a
//! password, so the logs can be searched for it) per test, and what a user
//! sees in the database afterwards.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Context, Result};
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, MySqlConnection, MySqlPool, Row};

use crate::require::unavailable;

pub const HOST: &str = "127.0.0.1";
pub const PORT: u16 = 3306;

fn root() -> MySqlConnectOptions {
    MySqlConnectOptions::new()
        .host(HOST)
        .port(PORT)
        .username("root")
        .disable_statement_logging()
}

async fn root_connection() -> Result<MySqlConnection> {
    match tokio::time::timeout(Duration::from_secs(10), root().connect()).await {
        Ok(Ok(c)) => Ok(c),
        // Not listening: the server is missing or stopped.
        Ok(Err(e @ sqlx::Error::Io(_))) => Err(unavailable(
            format!("MariaDB at {HOST}:{PORT}"),
            format!("{e}; run `make services` (scripts/services.sh installs and starts it)"),
        )),
        Ok(Err(e)) => Err(anyhow::anyhow!(
            "MariaDB at {HOST}:{PORT} refused root without a password over TCP: {e}; scripts/services.sh sets that up"
        )),
        Err(_) => Err(unavailable(format!("MariaDB at {HOST}:{PORT}"), "no answer in 10 s; run `make services`")),
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

/// A database with its own user. Dropped (database and user) on drop unless
/// `keep` is set.
pub struct Database {
    pub name: String,
    pub user: String,
    pub password: String,
    pool: MySqlPool,
    keep: bool,
}

impl Database {
    /// A fresh database `sg_e2e_<label>_<random>` and a user of the same name.
    pub async fn create(label: &str) -> Result<Database> {
        let clean: String = label
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
        let name = format!("sg_e2e_{clean}_{}", random_alnum(6).to_lowercase());
        Self::create_named(&name, &name, false).await
    }

    /// Database `name` (dropped first if it exists) and user `user`
    /// (re-created with a new random password).
    pub async fn create_named(name: &str, user: &str, keep: bool) -> Result<Database> {
        let mut c = root_connection().await?;
        let password = random_alnum(24);
        for sql in [
            format!("DROP DATABASE IF EXISTS `{name}`"),
            format!("CREATE DATABASE `{name}`"),
            format!("DROP USER IF EXISTS '{user}'@'{HOST}'"),
            format!("CREATE USER '{user}'@'{HOST}' IDENTIFIED BY '{password}'"),
            format!("GRANT ALL PRIVILEGES ON `{name}`.* TO '{user}'@'{HOST}'"),
        ] {
            // The password is in a statement: keep it out of error messages.
            sqlx::raw_sql(AssertSqlSafe(sql.clone()))
                .execute(&mut c)
                .await
                .with_context(|| format!("MariaDB: {}", sql.replace(&password, "***")))?;
        }
        c.close().await.ok();
        let pool = MySqlPoolOptions::new()
            .max_connections(2)
            .connect_with(root().database(name))
            .await
            .context("connect to the test database")?;
        Ok(Database {
            name: name.to_string(),
            user: user.to_string(),
            password,
            pool,
            keep,
        })
    }

    /// The RDS-format secret for this database and user.
    pub fn secret(&self) -> serde_json::Value {
        serde_json::json!({
            "engine": "mariadb",
            "host": HOST,
            "port": PORT,
            "username": self.user,
            "password": self.password,
            "dbname": self.name,
        })
    }

    pub async fn execute(&self, sql: &str) -> Result<()> {
        sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .execute(&self.pool)
            .await
            .with_context(|| format!("MariaDB: {sql}"))?;
        Ok(())
    }

    /// The highest successfully applied version; `None` without history.
    pub async fn schema_version(&self) -> Result<Option<i64>> {
        if !self.tables().await?.contains("_sqlx_migrations") {
            return Ok(None);
        }
        let v: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await
                .context("read the schema version")?;
        Ok(Some(v.unwrap_or(0)))
    }

    /// `_sqlx_migrations`, by version; empty without history.
    pub async fn history(&self) -> Result<Vec<HistoryRow>> {
        if !self.tables().await?.contains("_sqlx_migrations") {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT version, description, success, CAST(installed_on AS CHAR) AS installed_on FROM _sqlx_migrations ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await
        .context("read _sqlx_migrations")?;
        rows.iter()
            .map(|r| {
                Ok(HistoryRow {
                    version: r.try_get("version")?,
                    description: r.try_get("description")?,
                    success: r.try_get::<bool, _>("success")?,
                    installed_on: r.try_get("installed_on")?,
                })
            })
            .collect()
    }

    pub async fn tables(&self) -> Result<BTreeSet<String>> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = ? ORDER BY 1",
        )
        .bind(&self.name)
        .fetch_all(&self.pool)
        .await
        .context("list tables")?;
        Ok(names.into_iter().collect())
    }

    pub async fn columns(&self, table: &str) -> Result<Vec<String>> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(column_name AS CHAR) FROM information_schema.columns WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        )
        .bind(&self.name)
        .bind(table)
        .fetch_all(&self.pool)
        .await
        .context("list columns")?;
        Ok(names)
    }

    pub async fn count(&self, table: &str) -> Result<i64> {
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM `{table}`")))
            .fetch_one(&self.pool)
            .await
            .with_context(|| format!("count rows of `{table}`"))?;
        Ok(n)
    }

    /// Everything a user would compare before and after: tables with their
    /// columns and row counts, and the history.
    pub async fn snapshot(&self) -> Result<String> {
        let mut out = String::new();
        for t in self.tables().await? {
            out.push_str(&format!(
                "{t}({}) rows={}\n",
                self.columns(&t).await?.join(","),
                self.count(&t).await?
            ));
        }
        for h in self.history().await? {
            out.push_str(&format!(
                "history {} {} success={} at {}\n",
                h.version, h.description, h.success, h.installed_on
            ));
        }
        Ok(out)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let (name, user) = (self.name.clone(), self.user.clone());
        // Drop runs inside the test's runtime: clean up from a thread with
        // its own, on a connection of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut c = root_connection().await.ok()?;
                sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{name}`")))
                    .execute(&mut c)
                    .await
                    .ok();
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "DROP USER IF EXISTS '{user}'@'{HOST}'"
                )))
                .execute(&mut c)
                .await
                .ok();
                c.close().await.ok()
            })
        })
        .join();
    }
}

pub fn random_alnum(n: usize) -> String {
    (0..n).map(|_| fastrand::alphanumeric()).collect()
}
