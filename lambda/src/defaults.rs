//! Every default the CLI, the Lambda and the construct share, in one place.
//! The CLI's `--help`, the Lambda's `Config::from_env`, the custom
//! resource's properties and the engine's `Options` all read them here.

use std::time::Duration;

/// How long a run waits for another run's migration lock
/// (`--lock-timeout`, `LockTimeoutSeconds`).
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest lock wait `LockTimeoutSeconds` accepts.
pub const LOCK_TIMEOUT_MAX: Duration = Duration::from_secs(900);

/// How long one DDL may wait for a metadata lock before it gives way and is
/// retried (`--lock-wait`, `SCHEMAGATE_LOCK_WAIT_SECONDS`). MariaDB takes
/// whole seconds only and rounds it up to 1 s.
pub const LOCK_WAIT: Duration = Duration::from_millis(500);

/// The CLI's run deadline (`--timeout`): what a Jenkins stage can live with.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(3600);

/// Each connection attempt's bound for TCP, TLS, handshake and login
/// (`--connect-timeout`).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The Lambda's time when the invocation's deadline is unknown or not in
/// the future, as under emulators (`SCHEMAGATE_BUDGET_SECONDS`).
pub const LAMBDA_BUDGET: Duration = Duration::from_secs(840);

/// PUT attempts for the CloudFormation response (`SCHEMAGATE_RESPONSE_ATTEMPTS`).
pub const RESPONSE_ATTEMPTS: usize = 6;
