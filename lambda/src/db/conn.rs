//! One connection for the whole run: the lock is tied to it, and the
//! migrations ride on it without reconnects.

use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use futures_util::TryStreamExt;
use sqlx::mysql::{MySqlConnection, MySqlDatabaseError};
use sqlx::postgres::{PgConnection, PgDatabaseError};
use sqlx::{AssertSqlSafe, ConnectOptions as _, Connection, Either};

use super::options::{ConnectOptions, Kind};
use super::probe;
use crate::error::DbError;
use crate::migrate::history::Applied;

/// `version, description, success, checksum, execution_time`
type HistoryRow = (i64, String, bool, Vec<u8>, i64);

enum Inner {
    My(MySqlConnection),
    Pg(PgConnection),
}

pub struct Conn {
    inner: Inner,
    target: String,
    database: String,
}

/// A batch stopped at a statement: `completed` statements before it succeeded.
#[derive(Debug)]
pub struct BatchError {
    pub completed: usize,
    pub source: sqlx::Error,
}

/// How long one connection attempt may take (TCP, TLS, handshake,
/// authentication) unless told otherwise: `mysql`'s own `connect_timeout`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a MariaDB/MySQL server may stay silent after accepting before
/// the port is checked for a PostgreSQL server (a MariaDB server greets at
/// once).
const SILENT_BEFORE_PROBE: Duration = Duration::from_secs(1);

/// Why one connection attempt failed.
enum Failure {
    Db(sqlx::Error),
    /// Accepted, but the handshake did not finish within the limit: a
    /// frozen or overloaded server, or no database at all.
    Silent(Duration),
    /// Another protocol answers on the port.
    Wrong(probe::Found),
}

impl Failure {
    fn is_transient(&self) -> bool {
        match self {
            Failure::Db(e) => is_transient(e),
            // A server still starting (or thawing) may answer the next try.
            Failure::Silent(_) => true,
            Failure::Wrong(_) => false,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Db(e) => write!(f, "{e}"),
            Failure::Silent(d) => write!(f, "no answer within {}", secs(*d)),
            Failure::Wrong(found) => write!(f, "{found:?}"),
        }
    }
}

impl Conn {
    /// Connect, waiting up to `wait` for a server that refuses or drops
    /// connections (an RDS instance still starting), each attempt bounded by
    /// [`CONNECT_TIMEOUT`]. Wrong credentials and unknown databases fail at
    /// once: waiting would not fix them.
    pub async fn connect(opts: &ConnectOptions, wait: Duration) -> Result<Conn, DbError> {
        Self::connect_within(opts, wait, CONNECT_TIMEOUT).await
    }

    /// [`Conn::connect`] with each attempt bounded by `timeout` (and, while
    /// waiting, by the time left of `wait`).
    pub async fn connect_within(
        opts: &ConnectOptions,
        wait: Duration,
        timeout: Duration,
    ) -> Result<Conn, DbError> {
        let target = opts.to_string();
        let started = Instant::now();
        let attempt = || async {
            let left = wait.saturating_sub(started.elapsed());
            let limit = if left.is_zero() {
                timeout
            } else {
                timeout.min(left.max(Duration::from_secs(1)))
            };
            match tokio::time::timeout(limit, once(opts)).await {
                Ok(r) => r,
                Err(_) => Err(Failure::Silent(limit)),
            }
        };
        let inner = attempt
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(250))
                    .with_max_delay(Duration::from_secs(5))
                    .with_factor(2.0)
                    .with_max_times(usize::MAX)
                    .with_jitter(),
            )
            .when(|e: &Failure| e.is_transient() && started.elapsed() < wait)
            .notify(|e, d| {
                tracing::warn!(target = %target, error = %e, retry_in_ms = d.as_millis() as u64, "database not reachable yet; waiting")
            })
            .await
            .map_err(|e| classify_connect_error(&target, e, started.elapsed(), wait))?;
        Ok(Conn {
            inner,
            target,
            database: opts.database().to_string(),
        })
    }

    pub fn kind(&self) -> Kind {
        match self.inner {
            Inner::My(_) => Kind::MariaDb,
            Inner::Pg(_) => Kind::Postgres,
        }
    }

    /// `mariadb://host:port/db`, without credentials.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The database name the connection was opened on.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Run statements whose results do not matter.
    pub async fn execute(&mut self, sql: &str) -> Result<(), DbError> {
        let q = sqlx::raw_sql(AssertSqlSafe(sql.to_string()));
        let r = match &mut self.inner {
            Inner::My(c) => q.execute(c).await.map(|_| ()),
            Inner::Pg(c) => q.execute(c).await.map(|_| ()),
        };
        r.map_err(|e| DbError::query(format!("`{}`", first_line(sql)), e))
    }

    /// One nullable integer.
    pub async fn scalar_opt_i64(&mut self, sql: &str) -> Result<Option<i64>, DbError> {
        let text = AssertSqlSafe(sql.to_string());
        let r = match &mut self.inner {
            Inner::My(c) => sqlx::query_scalar(text).fetch_one(c).await,
            Inner::Pg(c) => sqlx::query_scalar(text).fetch_one(c).await,
        };
        r.map_err(|e| DbError::query(format!("`{sql}`"), e))
    }

    /// One row, each column as text (`NULL` as `None`); the SQL casts.
    pub async fn row_text(&mut self, sql: &str) -> Result<Vec<Option<String>>, DbError> {
        use sqlx::Row as _;
        let text = AssertSqlSafe(sql.to_string());
        let r: Result<Vec<Option<String>>, sqlx::Error> = match &mut self.inner {
            Inner::My(c) => sqlx::query(text).fetch_one(c).await.and_then(|row| {
                (0..row.len())
                    .map(|i| row.try_get::<Option<String>, _>(i))
                    .collect()
            }),
            Inner::Pg(c) => sqlx::query(text).fetch_one(c).await.and_then(|row| {
                (0..row.len())
                    .map(|i| row.try_get::<Option<String>, _>(i))
                    .collect()
            }),
        };
        r.map_err(|e| DbError::query(format!("`{sql}`"), e))
    }

    /// Send several statements in one round trip. Returns the number of rows
    /// each statement affected, in order (one entry per statement result),
    /// so bookkeeping that rides along can be checked; on failure, says how
    /// many statements completed before the failing one.
    pub async fn batch(&mut self, sql: String) -> Result<Vec<u64>, BatchError> {
        let q = sqlx::raw_sql(AssertSqlSafe(sql));
        let mut affected: Vec<u64> = Vec::new();
        let result: Result<(), sqlx::Error> = match &mut self.inner {
            Inner::My(c) => {
                let mut s = q.fetch_many(c);
                loop {
                    match s.try_next().await {
                        Ok(Some(Either::Left(r))) => affected.push(r.rows_affected()),
                        Ok(Some(Either::Right(_))) => {}
                        Ok(None) => break Ok(()),
                        Err(e) => break Err(e),
                    }
                }
            }
            Inner::Pg(c) => {
                let mut s = q.fetch_many(c);
                loop {
                    match s.try_next().await {
                        Ok(Some(Either::Left(r))) => affected.push(r.rows_affected()),
                        Ok(Some(Either::Right(_))) => {}
                        Ok(None) => break Ok(()),
                        Err(e) => break Err(e),
                    }
                }
            }
        };
        match result {
            Ok(()) => Ok(affected),
            Err(source) => Err(BatchError {
                completed: affected.len(),
                source,
            }),
        }
    }

    /// The history in `table` (qualified: see [`crate::migrate::history::Home`]),
    /// or `None` when the table does not exist yet.
    pub async fn history(&mut self, table: &str) -> Result<Option<Vec<Applied>>, DbError> {
        let sql = format!(
            "SELECT version, description, success, checksum, execution_time FROM {table} ORDER BY version"
        );
        let rows: Result<Vec<HistoryRow>, sqlx::Error> = match &mut self.inner {
            Inner::My(c) => sqlx::query_as(AssertSqlSafe(sql)).fetch_all(c).await,
            Inner::Pg(c) => sqlx::query_as(AssertSqlSafe(sql)).fetch_all(c).await,
        };
        match rows {
            Ok(rows) => Ok(Some(
                rows.into_iter()
                    .map(
                        |(version, description, success, checksum, execution_time_ns)| Applied {
                            version,
                            description,
                            success,
                            checksum,
                            execution_time_ns,
                        },
                    )
                    .collect(),
            )),
            Err(e) if is_missing_table(&e) => Ok(None),
            Err(e) => Err(DbError::query(format!("reading {table}"), e)),
        }
    }

    pub async fn close(self) {
        let _ = match self.inner {
            Inner::My(c) => c.close().await,
            Inner::Pg(c) => c.close().await,
        };
    }
}

fn first_line(sql: &str) -> &str {
    sql.lines().next().unwrap_or("")
}

/// The server's error number (MariaDB) or SQLSTATE (PostgreSQL).
pub fn error_code(e: &sqlx::Error) -> Option<String> {
    let db = e.as_database_error()?;
    if let Some(my) = db.try_downcast_ref::<MySqlDatabaseError>() {
        return Some(my.number().to_string());
    }
    if let Some(pg) = db.try_downcast_ref::<PgDatabaseError>() {
        return Some(pg.code().to_string());
    }
    db.code().map(|c| c.into_owned())
}

/// Lock wait timeouts: the statement never started, so retrying is safe.
pub fn is_lock_timeout(e: &sqlx::Error) -> bool {
    matches!(error_code(e).as_deref(), Some("1205") | Some("55P03"))
}

fn is_missing_table(e: &sqlx::Error) -> bool {
    matches!(error_code(e).as_deref(), Some("1146") | Some("42P01"))
}

fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => true,
        // "too many connections", server shutting down / starting up
        sqlx::Error::Database(_) => matches!(
            error_code(e).as_deref(),
            Some("1040") | Some("1053") | Some("57P03") | Some("53300")
        ),
        _ => false,
    }
}

/// One connection attempt, unbounded (the caller bounds it), that tells a
/// server of the other engine on the port from a silent one.
async fn once(opts: &ConnectOptions) -> Result<Inner, Failure> {
    match opts {
        ConnectOptions::MariaDb(o) => {
            let connect = o.connect();
            tokio::pin!(connect);
            let tcp = o.get_socket().is_none();
            let check = async {
                tokio::time::sleep(SILENT_BEFORE_PROBE).await;
                probe::postgres(opts.host(), opts.port(), SILENT_BEFORE_PROBE).await
            };
            tokio::select! {
                r = &mut connect => r.map(Inner::My).map_err(Failure::Db),
                Some(found) = check, if tcp => Err(Failure::Wrong(found)),
            }
        }
        ConnectOptions::Postgres(o) => match o.connect().await {
            Ok(c) => Ok(Inner::Pg(c)),
            // Not the PostgreSQL protocol: is it a MariaDB greeting?
            Err(e @ sqlx::Error::Protocol(_)) if o.get_socket().is_none() => {
                match probe::mariadb(opts.host(), opts.port(), SILENT_BEFORE_PROBE).await {
                    Some(found) => Err(Failure::Wrong(found)),
                    None => Err(Failure::Db(e)),
                }
            }
            Err(e) => Err(Failure::Db(e)),
        },
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn classify_connect_error(
    target: &str,
    failure: Failure,
    waited: Duration,
    wait: Duration,
) -> DbError {
    let connect = |message: String| DbError::Connect {
        target: target.to_string(),
        message,
    };
    let still = if wait.is_zero() {
        String::new()
    } else {
        format!(
            " (still failing after waiting {:.0} s)",
            waited.as_secs_f64()
        )
    };
    let e = match failure {
        Failure::Db(e) => e,
        Failure::Silent(limit) => {
            return connect(format!(
                "the server accepted the connection but did not complete the handshake within {}{still}: it is frozen or overloaded, or it is not a database; check the host and port and that the database is running, or allow more time (the CLI's `--connect-timeout`)",
                secs(limit)
            ))
        }
        Failure::Wrong(probe::Found::Postgres) => {
            return connect(
                "this is not a MariaDB/MySQL server (it looks like PostgreSQL: it answered a PostgreSQL SSL request); use a postgres:// URL, or the MariaDB/MySQL port (usually 3306)".into(),
            )
        }
        Failure::Wrong(probe::Found::MariaDb(version)) => {
            let seen = if version.is_empty() {
                String::new()
            } else {
                format!(": it greeted as `{version}`")
            };
            return connect(format!(
                "this is not a PostgreSQL server (it looks like MariaDB/MySQL{seen}); use a mysql:// or mariadb:// URL, or the PostgreSQL port (usually 5432)"
            ));
        }
    };
    let code = error_code(&e);
    match code.as_deref() {
        Some("1045") | Some("28P01") | Some("28000") => DbError::Auth {
            target: target.to_string(),
            message: e.to_string(),
        },
        Some("1049") | Some("3D000") => connect(format!(
            "{e}; create the database first or fix `dbname`/`DatabaseName`"
        )),
        _ if is_transient(&e) => connect(format!(
            "{e}{still}; check the host, port, security group and that the database is running"
        )),
        _ => connect(e.to_string()),
    }
}
