//! The migration lock: one run at a time per database. Each engine takes
//! it its own way ([`crate::db::Engine::lock`]: MariaDB `GET_LOCK` with a
//! positive timeout and its result checked, PostgreSQL a session advisory
//! lock); both are tied to the connection, so a crashed run frees the lock
//! when it disconnects. Here: its name, and what its failures mean.

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::error::Error;
use crate::db::{Conn, LockError, LockId};

/// The lock's name (MariaDB) for a database.
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

/// The lock's key (PostgreSQL) for a database.
fn key(database: &str) -> i64 {
    let d = Sha256::digest(format!("schemagate:{database}").as_bytes());
    i64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

/// The lock of a database.
pub fn id(database: &str) -> LockId {
    LockId {
        name: name(database),
        key: key(database),
    }
}

/// Wait up to `timeout` for the lock.
pub async fn acquire(conn: &mut Conn, lock: &LockId, timeout: Duration) -> Result<(), Error> {
    conn.engine()
        .lock(lock, timeout)
        .await
        .map_err(|e| match e {
            LockError::Timeout { seconds } => Error::LockTimeout {
                name: lock.name.clone(),
                seconds,
            },
            LockError::NotTaken { detail } => Error::LockNotTaken {
                name: lock.name.clone(),
                detail,
            },
            LockError::Db(e) => Error::Db(e),
        })
}

/// Release the lock. Called on every path after [`acquire`] succeeded.
pub async fn release(conn: &mut Conn, lock: &LockId) -> Result<(), Error> {
    Ok(conn.engine().unlock(lock).await?)
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
