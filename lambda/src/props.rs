//! The custom resource's properties, typed and validated. CloudFormation
//! sends every scalar as a string; numbers and booleans are accepted too.

use std::time::Duration;

use serde_json::{Map, Value};

/// What a rollback (an Update to a lower `TargetVersion`) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnRollback {
    /// Run the down scripts back to the old version.
    #[default]
    Revert,
    /// Leave the schema as it is and succeed.
    Keep,
}

/// Which Auto Scaling groups to empty before a breaking migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drain {
    pub tag_key: String,
    pub tag_value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Props {
    pub secret_arn: String,
    pub database_name: Option<String>,
    pub target_version: Option<i64>,
    pub migrations_hash: Option<String>,
    pub init_sql: Vec<String>,
    pub baseline_version: Option<i64>,
    pub on_rollback: OnRollback,
    pub lock_timeout: Duration,
    pub drain: Option<Drain>,
    pub allow_breaking: bool,
}

pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

const KNOWN: &[&str] = &[
    "ServiceToken",
    "ServiceTimeout",
    "SecretArn",
    "DatabaseName",
    "TargetVersion",
    "MigrationsHash",
    "InitSql",
    "BaselineVersion",
    "OnRollback",
    "LockTimeoutSeconds",
    "DrainTagKey",
    "DrainTagValue",
    "AllowBreaking",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PropsError {
    #[error("ResourceProperties must be an object, got {0}")]
    NotAnObject(String),
    #[error("property `SecretArn` is required: the ARN of the database's RDS secret")]
    MissingSecretArn,
    #[error("property `{name}` {expected}, got `{value}`")]
    Invalid {
        name: &'static str,
        expected: &'static str,
        value: String,
    },
    #[error("unknown property `{name}`; known properties: {}", KNOWN[2..].join(", "))]
    Unknown { name: String },
    #[error("properties `DrainTagKey` and `DrainTagValue` go together; set both or neither")]
    HalfDrain,
}

impl Props {
    pub fn parse(v: &Value) -> Result<Props, PropsError> {
        let m = v
            .as_object()
            .ok_or_else(|| PropsError::NotAnObject(short(v)))?;
        if let Some(name) = m.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(PropsError::Unknown { name: name.clone() });
        }
        let secret_arn = string(m, "SecretArn")?.ok_or(PropsError::MissingSecretArn)?;
        if !secret_arn.starts_with("arn:") {
            return Err(PropsError::Invalid {
                name: "SecretArn",
                expected: "must be a Secrets Manager ARN (`arn:aws:secretsmanager:…`)",
                value: secret_arn,
            });
        }
        let version = |name: &'static str| -> Result<Option<i64>, PropsError> {
            match m.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => {
                    n.as_i64()
                        .filter(|v| *v >= 0)
                        .map(Some)
                        .ok_or_else(|| PropsError::Invalid {
                            name,
                            expected: "must be a whole number ≥ 0",
                            value: n.to_string(),
                        })
                }
                Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
                Some(Value::String(s)) => s
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|v| *v >= 0)
                    .map(Some)
                    .ok_or_else(|| PropsError::Invalid {
                        name,
                        expected: "must be a whole number ≥ 0 (a migration version)",
                        value: s.clone(),
                    }),
                Some(other) => Err(PropsError::Invalid {
                    name,
                    expected: "must be a whole number ≥ 0",
                    value: short(other),
                }),
            }
        };
        let init_sql = match m.get("InitSql") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) if s.trim().is_empty() => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(PropsError::Invalid {
                        name: "InitSql",
                        expected: "must be a list of SQL strings",
                        value: short(other),
                    }),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(PropsError::Invalid {
                    name: "InitSql",
                    expected: "must be a list of SQL strings",
                    value: short(other),
                })
            }
        };
        let on_rollback = match string(m, "OnRollback")?
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("") | Some("revert") => OnRollback::Revert,
            Some("keep") => OnRollback::Keep,
            Some(other) => {
                return Err(PropsError::Invalid {
                    name: "OnRollback",
                    expected: "must be `revert` or `keep`",
                    value: other.to_string(),
                })
            }
        };
        let lock_timeout = match version("LockTimeoutSeconds").map_err(|_| PropsError::Invalid {
            name: "LockTimeoutSeconds",
            expected: "must be a whole number of seconds between 1 and 900",
            value: m.get("LockTimeoutSeconds").map(short).unwrap_or_default(),
        })? {
            None => DEFAULT_LOCK_TIMEOUT,
            Some(s) if (1..=900).contains(&s) => Duration::from_secs(s as u64),
            Some(s) => {
                return Err(PropsError::Invalid {
                    name: "LockTimeoutSeconds",
                    expected: "must be a whole number of seconds between 1 and 900",
                    value: s.to_string(),
                })
            }
        };
        let drain = match (string(m, "DrainTagKey")?, string(m, "DrainTagValue")?) {
            (None, None) => None,
            (Some(k), Some(v)) if !k.is_empty() => Some(Drain {
                tag_key: k,
                tag_value: v,
            }),
            _ => return Err(PropsError::HalfDrain),
        };
        let allow_breaking = match m.get("AllowBreaking") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" | "" => false,
                _ => {
                    return Err(PropsError::Invalid {
                        name: "AllowBreaking",
                        expected: "must be `true` or `false`",
                        value: s.clone(),
                    })
                }
            },
            Some(other) => {
                return Err(PropsError::Invalid {
                    name: "AllowBreaking",
                    expected: "must be `true` or `false`",
                    value: short(other),
                })
            }
        };
        Ok(Props {
            secret_arn,
            database_name: string(m, "DatabaseName")?.filter(|s| !s.is_empty()),
            target_version: version("TargetVersion")?,
            migrations_hash: string(m, "MigrationsHash")?,
            init_sql,
            baseline_version: version("BaselineVersion")?,
            on_rollback,
            lock_timeout,
            drain,
            allow_breaking,
        })
    }
}

fn string(m: &Map<String, Value>, name: &'static str) -> Result<Option<String>, PropsError> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(PropsError::Invalid {
            name,
            expected: "must be a string",
            value: short(other),
        }),
    }
}

/// A value for a message, cut to a readable length.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf";

    #[test]
    fn strings_as_cloudformation_sends_them() {
        let p = Props::parse(&json!({
            "ServiceToken": "arn:aws:lambda:…",
            "SecretArn": ARN,
            "DatabaseName": "app",
            "TargetVersion": "42",
            "MigrationsHash": "abc",
            "InitSql": ["SET FOREIGN_KEY_CHECKS=0"],
            "BaselineVersion": "3",
            "OnRollback": "keep",
            "LockTimeoutSeconds": "30",
            "DrainTagKey": "schemagate:drain",
            "DrainTagValue": "prod-app",
            "AllowBreaking": "true"
        }))
        .unwrap();
        assert_eq!(p.target_version, Some(42));
        assert_eq!(p.baseline_version, Some(3));
        assert_eq!(p.on_rollback, OnRollback::Keep);
        assert_eq!(p.lock_timeout, Duration::from_secs(30));
        assert_eq!(p.init_sql, vec!["SET FOREIGN_KEY_CHECKS=0".to_string()]);
        assert_eq!(
            p.drain,
            Some(Drain {
                tag_key: "schemagate:drain".into(),
                tag_value: "prod-app".into()
            })
        );
        assert!(p.allow_breaking);
    }

    #[test]
    fn defaults() {
        let p = Props::parse(&json!({"SecretArn": ARN})).unwrap();
        assert_eq!(p.target_version, None);
        assert_eq!(p.on_rollback, OnRollback::Revert);
        assert_eq!(p.lock_timeout, DEFAULT_LOCK_TIMEOUT);
        assert!(p.init_sql.is_empty() && p.drain.is_none() && !p.allow_breaking);
    }

    #[test]
    fn errors_name_the_property_and_the_value() {
        let cases = [
            (json!({}), "property `SecretArn` is required"),
            (json!({"SecretArn": "db-secret"}), "`SecretArn` must be a Secrets Manager ARN"),
            (json!({"SecretArn": ARN, "TargetVersion": "v7"}), "property `TargetVersion` must be a whole number ≥ 0 (a migration version), got `v7`"),
            (json!({"SecretArn": ARN, "OnRollback": "undo"}), "property `OnRollback` must be `revert` or `keep`, got `undo`"),
            (json!({"SecretArn": ARN, "LockTimeoutSeconds": "0"}), "`LockTimeoutSeconds` must be a whole number of seconds between 1 and 900, got `0`"),
            (json!({"SecretArn": ARN, "InitSql": [1]}), "`InitSql` must be a list of SQL strings, got `1`"),
            (json!({"SecretArn": ARN, "TargetVerison": "3"}), "unknown property `TargetVerison`"),
            (json!({"SecretArn": ARN, "DrainTagKey": "k"}), "`DrainTagKey` and `DrainTagValue` go together"),
            (json!({"SecretArn": ARN, "AllowBreaking": "yes"}), "`AllowBreaking` must be `true` or `false`, got `yes`"),
            (json!("SecretArn"), "ResourceProperties must be an object"),
        ];
        for (v, want) in cases {
            let err = Props::parse(&v).unwrap_err().to_string();
            assert!(err.contains(want), "{v}: {err}");
        }
    }
}
