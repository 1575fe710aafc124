//! The history as a run reads it: the session's home and its rows. The
//! table's format (what a row says) is the database layer's,
//! [`crate::db::history`]; each engine writes it.

pub use crate::db::history::{
    Applied, History, Home, Kept, State, DOWN_STARTED, KEPT_TABLE, TABLE, UP_STARTED,
};

use super::error::Error;
use crate::db::Conn;

/// The session's home and its history (`None`: no history table yet).
pub async fn read(conn: &mut Conn) -> Result<(Home, Option<Vec<Applied>>), Error> {
    let engine = conn.engine();
    let home = engine.home().await?;
    let history = engine.history(&home).await?;
    Ok((home, history.map(|h| h.rows)))
}
