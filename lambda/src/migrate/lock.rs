//! The migration lock: one run at a time per database.
//!
//! MariaDB ignores `GET_LOCK(name, -1)` (returns NULL, takes nothing), which
//! is what sqlx's MySQL migrator sends; here the timeout is positive and the
//! result is checked. PostgreSQL uses a session advisory lock. Both are tied
//! to the connection, so a crashed run frees the lock when it disconnects.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::db::{Conn, Kind};
use crate::error::Error;

/// The lock's name (MariaDB) or key (PostgreSQL) for a database.
pub fn name(database: &str) -> String {
    let full = format!("schemagate:{database}");
    let plain = database
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_$-".contains(c));
    if plain && full.len() <= 64 {
        full
    } else {
        // GET_LOCK names are limited to 64 characters.
        format!(
            "schemagate:{}",
            hex::encode(&Sha256::digest(database.as_bytes())[..20])
        )
    }
}

fn key(database: &str) -> i64 {
    let d = Sha256::digest(format!("schemagate:{database}").as_bytes());
    i64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

/// Wait up to `timeout` for the lock.
pub async fn acquire(conn: &mut Conn, database: &str, timeout: Duration) -> Result<(), Error> {
    let lock = name(database);
    match conn.kind() {
        Kind::MariaDb => {
            let secs = timeout.as_secs().max(1);
            let got: Option<i64> = conn
                .scalar_opt_i64(&format!("SELECT GET_LOCK('{lock}', {secs})"))
                .await?;
            match got {
                Some(1) => Ok(()),
                Some(0) => Err(Error::LockTimeout { name: lock, seconds: secs }),
                _ => Err(Error::LockNotTaken {
                    name: lock,
                    detail: format!(
                        "GET_LOCK(…, {secs}) returned NULL instead of 1 (the wait was interrupted, e.g. by max_statement_time near the deadline, or the server does not support the lock)"
                    ),
                }),
            }
        }
        Kind::Postgres => {
            let start = Instant::now();
            loop {
                let got = conn
                    .scalar_opt_i64(&format!(
                        "SELECT pg_try_advisory_lock({})::int::bigint",
                        key(database)
                    ))
                    .await?;
                if got == Some(1) {
                    return Ok(());
                }
                if start.elapsed() >= timeout {
                    return Err(Error::LockTimeout {
                        name: lock,
                        seconds: timeout.as_secs(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Release the lock. Called on every path after [`acquire`] succeeded.
pub async fn release(conn: &mut Conn, database: &str) -> Result<(), Error> {
    let sql = match conn.kind() {
        Kind::MariaDb => format!("SELECT RELEASE_LOCK('{}')", name(database)),
        Kind::Postgres => format!("SELECT pg_advisory_unlock({})::int::bigint", key(database)),
    };
    conn.scalar_opt_i64(&sql).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_fit_get_lock_limit() {
        assert_eq!(super::name("app"), "schemagate:app");
        assert!(super::name(&"x".repeat(200)).len() <= 64);
        assert!(!super::name("it's").contains('\''));
    }
}
