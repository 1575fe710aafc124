//! The Lambda's settings, from its environment.

use std::path::PathBuf;
use std::time::Duration;

use crate::db::SslMode;
use crate::defaults;

/// Settings from the Lambda's environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `SCHEMAGATE_MIGRATIONS_DIR`, default `$LAMBDA_TASK_ROOT/migrations`.
    pub migrations_dir: PathBuf,
    /// `SCHEMAGATE_SSL_MODE`, default `preferred` (the construct sets
    /// `verify-full`).
    pub ssl_mode: SslMode,
    /// `SCHEMAGATE_SSL_CA`: the CA bundle (PEM) for `verify-ca` and
    /// `verify-full`; a relative path is in the package
    /// (`$LAMBDA_TASK_ROOT`), as the construct ships it (`ca-bundle.pem`).
    pub ssl_ca: Option<PathBuf>,
    /// `SCHEMAGATE_BUDGET_SECONDS`: the time allowed when the invocation's
    /// deadline is unknown or not in the future (the emulator's is not an
    /// epoch time). Default [`defaults::LAMBDA_BUDGET`].
    pub budget: Duration,
    /// `SCHEMAGATE_LOCK_WAIT_SECONDS`: how long one DDL may wait for a
    /// metadata lock before it gives way and is retried (session
    /// `lock_wait_timeout` / `lock_timeout`). Fractions allowed; default
    /// [`defaults::LOCK_WAIT`] (MariaDB rounds up to 1 s).
    pub lock_wait: Duration,
    /// `SCHEMAGATE_RESPONSE_ATTEMPTS`: PUT attempts. Default
    /// [`defaults::RESPONSE_ATTEMPTS`].
    pub response_attempts: usize,
}

/// A setting in the environment that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} must be a whole number of seconds > 0, got `{value}`")]
    Seconds { name: &'static str, value: String },
    #[error(
        "SCHEMAGATE_LOCK_WAIT_SECONDS must be a number of seconds > 0 (e.g. `0.5`), got `{0}`"
    )]
    LockWait(String),
    #[error("SCHEMAGATE_SSL_MODE: {0}")]
    SslMode(String),
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_vars(|k| std::env::var(k).ok())
    }

    /// [`Config::from_env`] reading the variables from `get`.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let secs = |name: &'static str, default: Duration| match var(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|s| *s > 0)
                .map(Duration::from_secs)
                .ok_or(ConfigError::Seconds { name, value: v }),
        };
        let task_root = PathBuf::from(var("LAMBDA_TASK_ROOT").unwrap_or_else(|| ".".into()));
        let migrations_dir = match var("SCHEMAGATE_MIGRATIONS_DIR") {
            Some(d) => PathBuf::from(d),
            None => task_root.join("migrations"),
        };
        Ok(Config {
            migrations_dir,
            ssl_mode: match var("SCHEMAGATE_SSL_MODE") {
                None => SslMode::Preferred,
                Some(m) => m
                    .parse::<SslMode>()
                    .map_err(|e| ConfigError::SslMode(e.to_string()))?,
            },
            ssl_ca: var("SCHEMAGATE_SSL_CA").map(|ca| task_root.join(ca)),
            budget: secs("SCHEMAGATE_BUDGET_SECONDS", defaults::LAMBDA_BUDGET)?,
            lock_wait: match var("SCHEMAGATE_LOCK_WAIT_SECONDS") {
                None => defaults::LOCK_WAIT,
                Some(v) => v
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                    .ok_or(ConfigError::LockWait(v))?,
            },
            response_attempts: var("SCHEMAGATE_RESPONSE_ATTEMPTS")
                .and_then(|v| v.parse().ok())
                .unwrap_or(defaults::RESPONSE_ATTEMPTS),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_and_settings() {
        let c = from(&[("LAMBDA_TASK_ROOT", "/var/task")]).unwrap();
        assert_eq!(c.migrations_dir, PathBuf::from("/var/task/migrations"));
        assert_eq!(c.budget, defaults::LAMBDA_BUDGET);
        assert_eq!(c.lock_wait, defaults::LOCK_WAIT);
        assert_eq!(c.response_attempts, defaults::RESPONSE_ATTEMPTS);
        let c = from(&[
            ("SCHEMAGATE_LOCK_WAIT_SECONDS", "0.25"),
            ("SCHEMAGATE_BUDGET_SECONDS", "60"),
        ])
        .unwrap();
        assert_eq!(c.lock_wait, Duration::from_millis(250));
        assert_eq!(c.budget, Duration::from_secs(60));
    }

    #[test]
    fn the_ca_bundle_is_found_in_the_package_unless_given_absolute() {
        let c = from(&[
            ("LAMBDA_TASK_ROOT", "/var/task"),
            ("SCHEMAGATE_SSL_MODE", "verify-full"),
            ("SCHEMAGATE_SSL_CA", "ca-bundle.pem"),
        ])
        .unwrap();
        assert_eq!(c.ssl_mode, SslMode::VerifyFull);
        assert_eq!(c.ssl_ca, Some(PathBuf::from("/var/task/ca-bundle.pem")));
        let c = from(&[
            ("LAMBDA_TASK_ROOT", "/var/task"),
            ("SCHEMAGATE_SSL_CA", "/opt/ca.pem"),
        ])
        .unwrap();
        assert_eq!(c.ssl_mode, SslMode::Preferred);
        assert_eq!(c.ssl_ca, Some(PathBuf::from("/opt/ca.pem")));
        assert_eq!(from(&[]).unwrap().ssl_ca, None);
    }

    #[test]
    fn a_bad_setting_is_named_with_its_value() {
        assert_eq!(
            from(&[("SCHEMAGATE_BUDGET_SECONDS", "0")])
                .unwrap_err()
                .to_string(),
            "SCHEMAGATE_BUDGET_SECONDS must be a whole number of seconds > 0, got `0`"
        );
        assert_eq!(
            from(&[("SCHEMAGATE_LOCK_WAIT_SECONDS", "soon")])
                .unwrap_err()
                .to_string(),
            "SCHEMAGATE_LOCK_WAIT_SECONDS must be a number of seconds > 0 (e.g. `0.5`), got `soon`"
        );
    }
}
