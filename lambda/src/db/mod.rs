//! Database access: connection options, connecting (with waiting for a
//! server that is still starting), and the per-engine SQL.

mod conn;
pub mod options;
mod probe;
pub mod sql;

pub use conn::{error_code, is_lock_timeout, BatchError, Conn, CONNECT_TIMEOUT};
pub use options::{ConnectOptions, Kind, SslMode};
