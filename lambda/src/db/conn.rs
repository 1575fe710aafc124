//! One connection for the whole run: the lock is tied to it, and the
//! migrations ride on it without reconnects. Connecting is where an engine
//! is chosen (by the URL's or the secret's engine, [`ConnectOptions`]);
//! after that everything goes through its [`Engine`].

use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};

use super::engine::Engine;
use super::error::{Attempt, DbError, ErrorKind};
use super::options::{ConnectOptions, Kind, Server};
use super::tls::TlsError;
use super::{mariadb, postgres, probe};
use crate::defaults;
use crate::dialect::Dialect;

pub struct Conn {
    engine: Box<dyn Engine>,
    target: String,
    database: String,
}

impl Conn {
    /// Connect, waiting up to `wait` for a server that refuses or drops
    /// connections (an RDS instance still starting), each attempt bounded by
    /// [`defaults::CONNECT_TIMEOUT`]. Wrong credentials and unknown
    /// databases fail at once: waiting would not fix them.
    pub async fn connect(opts: &ConnectOptions, wait: Duration) -> Result<Conn, DbError> {
        Self::connect_within(opts, wait, defaults::CONNECT_TIMEOUT).await
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
                Err(_) => Err(Attempt::Silent(limit)),
            }
        };
        let engine = attempt
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(250))
                    .with_max_delay(Duration::from_secs(5))
                    .with_factor(2.0)
                    .with_max_times(usize::MAX)
                    .with_jitter(),
            )
            .when(|e: &Attempt| e.is_transient() && started.elapsed() < wait)
            .notify(|e, d| {
                tracing::warn!(target = %target, error = %e, retry_in_ms = d.as_millis() as u64, "database not reachable yet; waiting")
            })
            .await
            .map_err(|e| classify_connect_error(opts, &target, e, started.elapsed(), wait))?;
        Ok(Conn {
            engine,
            target,
            database: opts.database().to_string(),
        })
    }

    pub fn kind(&self) -> Kind {
        self.engine.kind()
    }

    /// The dialect the migrations are read in.
    pub fn dialect(&self) -> Dialect {
        self.engine.dialect()
    }

    /// `mariadb://host:port/db`, without credentials.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The database name the connection was opened on.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// What the migration run asks of the database.
    pub fn engine(&mut self) -> &mut dyn Engine {
        self.engine.as_mut()
    }

    pub async fn close(self) {
        self.engine.close().await
    }
}

/// One connection attempt with the engine the options name.
async fn once(opts: &ConnectOptions) -> Result<Box<dyn Engine>, Attempt> {
    Ok(match opts.server() {
        Server::MariaDb(o) => Box::new(mariadb::connect(o).await?),
        Server::Postgres(o) => Box::new(postgres::connect(o).await?),
    })
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn classify_connect_error(
    opts: &ConnectOptions,
    target: &str,
    failure: Attempt,
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
        Attempt::Db(e) => e,
        Attempt::Silent(limit) => {
            return connect(format!(
                "the server accepted the connection but did not complete the handshake within {}{still}: it is frozen or overloaded, or it is not a database; check the host and port and that the database is running, or allow more time (the CLI's `--connect-timeout`)",
                secs(limit)
            ))
        }
        Attempt::Wrong(probe::Found::Postgres) => {
            return connect(
                "this is not a MariaDB/MySQL server (it looks like PostgreSQL: it answered a PostgreSQL SSL request); use a postgres:// URL, or the MariaDB/MySQL port (usually 3306)".into(),
            )
        }
        Attempt::Wrong(probe::Found::MariaDb(version)) => {
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
    let kind = e.kind;
    let e = e.source;
    match kind {
        ErrorKind::Auth => DbError::Auth {
            target: target.to_string(),
            message: e.to_string(),
        },
        ErrorKind::Tls => TlsError::handshake(target, opts.host(), opts.tls(), &e).into(),
        ErrorKind::UnknownDatabase => connect(format!(
            "{e}; create the database first or fix `dbname`/`DatabaseName`"
        )),
        _ if kind.is_transient() => connect(format!(
            "{e}{still}; check the host, port, security group and that the database is running"
        )),
        _ => connect(e.to_string()),
    }
}
