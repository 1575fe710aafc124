//! Connecting to a database and reading its schema with the reader of its
//! engine.

use std::time::Duration;

use sqlx::{Connection, MySqlConnection, PgConnection};

use super::schema::Schema;
use super::{mariadb, postgres};
use crate::db::{ConnectOptions, DbError, Server};

/// The schema of the database `opts` names, without the bookkeeping tables.
/// The connection attempt is bounded by `timeout`.
pub async fn read(opts: &ConnectOptions, timeout: Duration) -> Result<Schema, DbError> {
    let target = opts.to_string();
    let fail = |message: String| DbError::Connect {
        target: target.clone(),
        message,
    };
    let late = || fail(format!("no answer within {:.1} s", timeout.as_secs_f64()));
    let schema = match opts.server() {
        Server::MariaDb(o) => {
            let mut c = tokio::time::timeout(timeout, MySqlConnection::connect_with(o))
                .await
                .map_err(|_| late())?
                .map_err(|e| fail(e.to_string()))?;
            let s = mariadb::read(&mut c).await;
            let _ = c.close().await;
            s?
        }
        Server::Postgres(o) => {
            let mut c = tokio::time::timeout(timeout, PgConnection::connect_with(o))
                .await
                .map_err(|_| late())?
                .map_err(|e| fail(e.to_string()))?;
            let s = postgres::read(&mut c).await;
            let _ = c.close().await;
            s?
        }
    };
    Ok(schema.without_bookkeeping())
}
