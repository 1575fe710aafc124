//! schemagate: schema migrations as a CloudFormation custom resource.
//!
//! The engine ([`migrate`]) is shared by the CLI ([`cli`]) and the Lambda
//! ([`handler`]); [`cfn`] speaks the custom resource protocol, [`props`]
//! validates its properties, [`secrets`] reads RDS-format secrets and [`db`]
//! connects and holds one engine per database behind one trait
//! ([`db::Engine`]). Each layer's error lives in it; [`Error`] wraps them
//! for the CLI and the Lambda. [`lint`] classifies pending
//! migrations for the running release and [`drain`] empties its Auto Scaling
//! groups before a breaking one. [`redact`] hides credentials in every
//! message a person is shown; [`log_filter`] reads both mains' log level.

pub mod cfn;
pub mod cli;
pub mod db;
pub mod deadline;
pub mod defaults;
pub mod dialect;
pub mod diff;
pub mod drain;
pub mod error;
pub mod handler;
pub mod import;
pub mod lint;
pub mod log_filter;
pub mod migrate;
pub mod online;
pub mod props;
pub mod redact;
pub mod secrets;
pub mod wire;

pub use db::DbError;
pub use error::Error;
