//! Credentials from an RDS-format secret in Secrets Manager:
//! `{"engine","host","port","username","password","dbname"}`.
//! The secret string and the password never reach a log or an error.

use std::fmt;

use serde::Deserialize;

use crate::db::{options::Parts, ConnectOptions, Kind};

/// Where secrets come from: Secrets Manager in the Lambda and CLI; a fixed
/// value in unit tests.
pub trait SecretSource: Send + Sync {
    fn get<'a>(
        &'a self,
        arn: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, SecretError>> + Send + 'a>>;
}

/// Secrets Manager through the AWS SDK (honours `AWS_ENDPOINT_URL`).
pub struct SecretsManager {
    client: tokio::sync::OnceCell<aws_sdk_secretsmanager::Client>,
}

impl SecretsManager {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        SecretsManager {
            client: tokio::sync::OnceCell::from(aws_sdk_secretsmanager::Client::new(config)),
        }
    }

    /// The client made from the environment's AWS config on the first
    /// request: the Lambda loads nothing (AWS config, CA certificates)
    /// before it asks the runtime API for its first event (#11).
    pub fn from_env() -> Self {
        SecretsManager {
            client: tokio::sync::OnceCell::new(),
        }
    }

    async fn client(&self) -> &aws_sdk_secretsmanager::Client {
        self.client
            .get_or_init(|| async {
                aws_sdk_secretsmanager::Client::new(&aws_config::load_from_env().await)
            })
            .await
    }
}

impl SecretSource for SecretsManager {
    fn get<'a>(
        &'a self,
        arn: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, SecretError>> + Send + 'a>>
    {
        Box::pin(async move {
            let out = self
                .client()
                .await
                .get_secret_value()
                .secret_id(arn)
                .send()
                .await
                .map_err(|e| {
                    let service = e.as_service_error().map(|s| s.to_string());
                    SecretError::Fetch {
                        arn: arn.to_string(),
                        message: service.unwrap_or_else(|| aws_error_chain(&e)),
                    }
                })?;
            out.secret_string.ok_or_else(|| SecretError::Format {
                arn: arn.to_string(),
                message: "the secret has no SecretString (binary secrets are not supported)".into(),
            })
        })
    }
}

fn aws_error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        parts.push(s.to_string());
        cur = s.source();
    }
    parts.join(": ")
}

/// The fields of an RDS secret schemagate uses.
#[derive(Deserialize)]
pub struct RdsSecret {
    pub engine: Option<String>,
    pub host: String,
    #[serde(default, deserialize_with = "crate::wire::number_or_string")]
    pub port: Option<u16>,
    pub username: String,
    pub password: String,
    pub dbname: Option<String>,
}

impl fmt::Debug for RdsSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RdsSecret")
            .field("engine", &self.engine)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &"***")
            .field("dbname", &self.dbname)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read secret `{arn}`: {message}; check that it exists and the role may call secretsmanager:GetSecretValue on it")]
    Fetch { arn: String, message: String },
    #[error("secret `{arn}` is not an RDS secret: {message}; it needs JSON with host, port, username, password and dbname (and engine)")]
    Format { arn: String, message: String },
}

impl RdsSecret {
    /// Parse without ever echoing the secret's text.
    pub fn parse(arn: &str, text: &str) -> Result<Self, SecretError> {
        serde_json::from_str(text).map_err(|e| {
            let raw = e.to_string();
            // "missing field `x`" is safe to show; "invalid type: string \"…\""
            // and syntax errors may quote the secret's text, so say where only.
            let message = if raw.starts_with("missing field") {
                raw
            } else if e.is_syntax() || e.is_eof() {
                format!("not valid JSON (line {} column {})", e.line(), e.column())
            } else {
                format!(
                    "a field has the wrong type (line {} column {})",
                    e.line(),
                    e.column()
                )
            };
            SecretError::Format {
                arn: arn.to_string(),
                message,
            }
        })
    }

    /// Connection options; `database` overrides the secret's `dbname`, and
    /// `default_kind` is used when the secret has no `engine`.
    pub fn connect_options(
        &self,
        arn: &str,
        database: Option<&str>,
        default_kind: Kind,
    ) -> Result<ConnectOptions, SecretError> {
        let kind = match &self.engine {
            None => default_kind,
            Some(e) => Kind::from_engine(e).ok_or_else(|| SecretError::Format {
                arn: arn.to_string(),
                message: format!("engine `{e}` is not supported; use mariadb, mysql or postgres"),
            })?,
        };
        let database = database
            .or(self.dbname.as_deref())
            .ok_or_else(|| SecretError::Format {
                arn: arn.to_string(),
                message: "no `dbname` in the secret and no `DatabaseName` property".into(),
            })?;
        let port = self.port.unwrap_or(kind.default_port());
        Ok(ConnectOptions::from_parts(&Parts {
            kind,
            host: &self.host,
            port,
            username: &self.username,
            password: &self.password,
            database,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_rds_secret_with_port_as_number_or_string() {
        let s = RdsSecret::parse("arn", r#"{"engine":"mariadb","host":"h","port":"3307","username":"u","password":"p4ss","dbname":"app"}"#).unwrap();
        assert_eq!(s.port, Some(3307));
        let o = s.connect_options("arn", None, Kind::MariaDb).unwrap();
        assert_eq!(o.to_string(), "mariadb://h:3307/app");
        let o = s
            .connect_options("arn", Some("other"), Kind::MariaDb)
            .unwrap();
        assert_eq!(o.database(), "other");
        assert!(!format!("{s:?}").contains("p4ss"));
    }

    #[test]
    fn errors_name_the_problem_not_the_secret() {
        let err = RdsSecret::parse("arn:x", r#"{"host":"h","username":"u","pass":"hunter2"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing field `password`"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = RdsSecret::parse("arn:x", "not json hunter2")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        let err = RdsSecret::parse("arn:x", r#"{"host":"h","username":"u","password":123456}"#)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("123456"), "{err}");
        assert!(err.contains("wrong type"), "{err}");
    }

    #[test]
    fn unsupported_engine_and_missing_dbname() {
        let s = RdsSecret::parse(
            "a",
            r#"{"engine":"oracle-ee","host":"h","username":"u","password":"p"}"#,
        )
        .unwrap();
        assert!(s
            .connect_options("a", None, Kind::MariaDb)
            .unwrap_err()
            .to_string()
            .contains("engine `oracle-ee`"));
        let s = RdsSecret::parse("a", r#"{"host":"h","username":"u","password":"p"}"#).unwrap();
        assert!(s
            .connect_options("a", None, Kind::MariaDb)
            .unwrap_err()
            .to_string()
            .contains("no `dbname`"));
    }
}
