//! What every run does first on its connection: the session limits
//! (`lock_wait_timeout`, the statement limit from the deadline), the
//! user's `InitSql`, then where the bookkeeping goes ([`Home`]). Shared by
//! a run ([`super::apply`]), `resolve` and `contract` ([`super::online`]).

use super::error::Error;
use super::history::Home;
use super::options::Options;
use crate::db::{Conn, Limits};

/// Session limits and `InitSql`, then where the bookkeeping goes.
pub(super) async fn prepare(conn: &mut Conn, opts: &Options) -> Result<Home, Error> {
    let engine = conn.engine();
    let limits = Limits {
        lock_wait: opts.lock_wait,
        statement: opts.deadline.map(|d| d.statement_limit()),
    };
    engine.set_up(limits).await?;
    for init in &opts.init_sql {
        engine.execute(init).await?;
    }
    Ok(engine.home().await?)
}
