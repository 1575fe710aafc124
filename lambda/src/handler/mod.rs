//! The custom resource handler: request in, exactly one response out.
//!
//! Three parts, like the CDK provider framework's `cfn-response` around
//! `onEvent`: the protocol [`shell`] (request, deadline and watchdog, panic
//! guard, the one PUT), the domain [`deploy`] (plan, gate, drain, apply,
//! restore; the restore policy is [`crate::drain::restore`]) returning an
//! [`Outcome`] or a [`DeployError`], and [`reason`], the one renderer of
//! the Reason from them. [`watch`] is what the run is doing, for the
//! watchdog; [`gate`] the breaking-change gate the engine calls under its
//! lock; [`config`] the Lambda's environment.

pub mod config;
pub mod deploy;
pub mod gate;
pub mod maintenance;
pub mod outcome;
pub mod reason;
pub mod service;
pub mod shell;
pub mod watch;

pub use config::{Config, ConfigError};
pub use outcome::{DeployError, Done, Outcome};
pub use service::Handler;
pub use shell::HandlerError;
pub use watch::{TimedOut, Watch};
