//! Database access: connection options and TLS ([`tls`]), connecting (with waiting for a
//! server that is still starting), and one engine per database behind
//! [`Engine`] — [`mariadb`] and [`postgres`], each in its own file, with
//! the bookkeeping SQL they share ([`rows`]) and how a failed step is read
//! back ([`step`]).

mod conn;
mod driver;
pub mod engine;
pub mod error;
pub mod history;
#[cfg(test)]
mod kill_tests;
pub mod mariadb;
pub mod options;
pub mod postgres;
mod probe;
pub mod rows;
pub mod step;
pub mod tls;

pub use conn::Conn;
pub use engine::{Engine, Limits, LockError, LockId, StepRun};
pub use error::{DbError, ErrorKind, ServerError};
pub use options::{ConnectOptions, Kind, Server};
pub use step::{Left, StepError, StepFailed};
pub use tls::{SslMode, Tls, TlsError};
