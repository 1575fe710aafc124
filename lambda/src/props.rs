//! The custom resource's properties, typed and validated. CloudFormation
//! sends every scalar as a string; numbers and booleans are accepted too.
//!
//! serde reads them ([`Wire`]: PascalCase names, unknown names refused);
//! each field's reader says what it must be, and [`Props::parse`] names the
//! property from the error's path. The construct sends exactly these names:
//! `cdk/lib/properties.json` lists them, and a test on each side checks it.

use std::fmt;
use std::time::Duration;

use serde::de::{self, IgnoredAny};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_path_to_error::Segment;

use crate::defaults::{LOCK_TIMEOUT, LOCK_TIMEOUT_MAX};
use crate::wire::{self, short};

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

/// The maintenance page put in front of the app on an ALB listener while
/// the old release is drained ([`crate::drain::page`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maintenance {
    /// `MaintenanceListenerArn`: the listener the rule goes on.
    pub listener_arn: String,
    /// `MaintenanceHtml`: the 503 response's body (at most
    /// [`MAX_PAGE_BYTES`]).
    pub html: String,
    /// `MaintenancePriority`: the rule's priority (1 to 50000), which no
    /// rule of the app may hold.
    pub priority: i32,
}

/// ELBv2's limit on a fixed response's body.
pub const MAX_PAGE_BYTES: usize = 1024;

/// The page shown when the construct gives no HTML.
pub const DEFAULT_PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Down for maintenance</title><meta http-equiv=\"refresh\" content=\"30\"></head><body style=\"font-family:sans-serif;text-align:center;padding:4em\"><h1>Down for maintenance</h1><p>We are upgrading the site and will be back in a few minutes.</p><p>This page reloads by itself.</p></body></html>";

/// What a request asks for (`Action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Action {
    /// The migrations resource: bring the schema to the target.
    #[default]
    Migrate,
    /// The app stack's resource after the new groups: take the maintenance
    /// page down (no database, no secret).
    EndMaintenance,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Props {
    /// `Action`: what the request asks for.
    pub action: Action,
    pub secret_arn: String,
    pub database_name: Option<String>,
    pub target_version: Option<i64>,
    pub init_sql: Vec<String>,
    pub baseline_version: Option<i64>,
    pub on_rollback: OnRollback,
    pub lock_timeout: Duration,
    pub drain: Option<Drain>,
    pub allow_breaking: bool,
    /// `AdoptAlembic` (default `true`): adopt a database Alembic made from
    /// its `alembic_version` ([`crate::migrate::adopt`]).
    pub adopt_alembic: bool,
    /// The maintenance page while draining (`MaintenanceListenerArn` …).
    pub maintenance: Option<Maintenance>,
    /// `RollingUpdate=true`: the gated groups are updated in place, which
    /// cannot bring drained groups back, so a migration that needs a drain
    /// is refused instead.
    pub rolling_update: bool,
}

/// How long a run waits for another run's migration lock by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = LOCK_TIMEOUT;

/// Properties the CDK puts on every custom resource: accepted, not ours to
/// list in a message.
const FRAMEWORK: [&str; 2] = ["ServiceToken", "ServiceTimeout"];

/// The properties a template may set (without [`FRAMEWORK`]'s).
pub fn known() -> impl Iterator<Item = &'static str> {
    wire::field_names::<Wire>()
        .iter()
        .copied()
        .filter(|n| !FRAMEWORK.contains(n))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PropsError {
    #[error("ResourceProperties must be an object, got {0}")]
    NotAnObject(String),
    #[error("property `SecretArn` is required: the ARN of the database's RDS secret")]
    MissingSecretArn,
    /// `problem`: what it must be and the value it has.
    #[error("property `{name}` {problem}")]
    Invalid { name: String, problem: String },
    #[error("unknown property `{name}`; known properties: {}", known().collect::<Vec<_>>().join(", "))]
    Unknown { name: String },
    #[error("properties `DrainTagKey` and `DrainTagValue` go together; set both or neither")]
    HalfDrain,
    #[error("properties `MaintenanceHtml` and `MaintenancePriority` need `MaintenanceListenerArn`: the ALB listener the maintenance page goes on")]
    PageWithoutListener,
    #[error("property `MaintenanceListenerArn` needs `DrainTagKey` and `DrainTagValue`: the page is shown while the tagged groups are drained")]
    PageWithoutDrain,
    #[error("`Action=end-maintenance` needs `MaintenanceListenerArn`: the listener whose maintenance page to take down")]
    EndWithoutListener,
}

/// The properties as sent, each read by a function that says what it must
/// be. Field order is the order of [`known`].
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Wire {
    #[serde(default)]
    #[allow(dead_code)] // the CDK's: the function to call
    service_token: IgnoredAny,
    #[serde(default)]
    #[allow(dead_code)] // the CDK's: how long CloudFormation waits
    service_timeout: IgnoredAny,
    #[serde(default, deserialize_with = "secret_arn")]
    secret_arn: Option<String>,
    #[serde(default, deserialize_with = "text")]
    database_name: Option<String>,
    #[serde(default, deserialize_with = "version")]
    target_version: Option<i64>,
    /// Checked to be a string and never read: its only work is to change
    /// with the bundled migrations, so that CloudFormation sends an Update.
    #[serde(default, deserialize_with = "unread_text")]
    #[allow(dead_code)]
    migrations_hash: (),
    #[serde(default, deserialize_with = "sql_list")]
    init_sql: Vec<String>,
    #[serde(default, deserialize_with = "version")]
    baseline_version: Option<i64>,
    #[serde(default, deserialize_with = "on_rollback")]
    on_rollback: OnRollback,
    #[serde(default, deserialize_with = "lock_timeout")]
    lock_timeout_seconds: Option<Duration>,
    #[serde(default, deserialize_with = "text")]
    drain_tag_key: Option<String>,
    #[serde(default, deserialize_with = "text")]
    drain_tag_value: Option<String>,
    #[serde(default, deserialize_with = "flag")]
    allow_breaking: bool,
    #[serde(default, deserialize_with = "switch")]
    adopt_alembic: Option<bool>,
    #[serde(default, deserialize_with = "listener_arn")]
    maintenance_listener_arn: Option<String>,
    #[serde(default, deserialize_with = "page")]
    maintenance_html: Option<String>,
    #[serde(default, deserialize_with = "priority")]
    maintenance_priority: Option<i32>,
    #[serde(default, deserialize_with = "action")]
    action: Action,
    /// The app stack's resource: changes with every schema change, so
    /// that CloudFormation sends it an Update after the new groups.
    #[serde(default, deserialize_with = "unread_text")]
    #[allow(dead_code)]
    schema_version: (),
    #[serde(default, deserialize_with = "flag")]
    rolling_update: bool,
}

impl Props {
    pub fn parse(v: &Value) -> Result<Props, PropsError> {
        if !v.is_object() {
            return Err(PropsError::NotAnObject(short(v)));
        }
        let w: Wire = serde_path_to_error::deserialize(v).map_err(|e| {
            let name = match e.path().iter().next() {
                Some(Segment::Map { key }) => key.clone(),
                _ => "ResourceProperties".to_string(),
            };
            if wire::field_names::<Wire>().contains(&name.as_str()) {
                PropsError::Invalid {
                    name,
                    problem: e.into_inner().to_string(),
                }
            } else {
                PropsError::Unknown { name }
            }
        })?;
        let drain = match (w.drain_tag_key, w.drain_tag_value) {
            (None, None) => None,
            (Some(k), Some(v)) if !k.is_empty() => Some(Drain {
                tag_key: k,
                tag_value: v,
            }),
            _ => return Err(PropsError::HalfDrain),
        };
        let maintenance = match w.maintenance_listener_arn {
            Some(listener_arn) => Some(Maintenance {
                listener_arn,
                html: w
                    .maintenance_html
                    .unwrap_or_else(|| DEFAULT_PAGE.to_string()),
                priority: w.maintenance_priority.unwrap_or(1),
            }),
            None if w.maintenance_html.is_some() || w.maintenance_priority.is_some() => {
                return Err(PropsError::PageWithoutListener)
            }
            None => None,
        };
        let secret_arn = match w.action {
            Action::EndMaintenance if maintenance.is_none() => {
                return Err(PropsError::EndWithoutListener)
            }
            Action::EndMaintenance => w.secret_arn.unwrap_or_default(),
            Action::Migrate if maintenance.is_some() && drain.is_none() => {
                return Err(PropsError::PageWithoutDrain)
            }
            Action::Migrate => w.secret_arn.ok_or(PropsError::MissingSecretArn)?,
        };
        Ok(Props {
            action: w.action,
            secret_arn,
            database_name: w.database_name.filter(|s| !s.is_empty()),
            target_version: w.target_version,
            init_sql: w.init_sql,
            baseline_version: w.baseline_version,
            on_rollback: w.on_rollback,
            lock_timeout: w.lock_timeout_seconds.unwrap_or(DEFAULT_LOCK_TIMEOUT),
            drain,
            allow_breaking: w.allow_breaking,
            adopt_alembic: w.adopt_alembic.unwrap_or(true),
            maintenance,
            rolling_update: w.rolling_update,
        })
    }
}

/// `ResourceProperties` as a request carries them: checked as the request
/// is read, and kept with the reason when they are wrong, so that such a
/// request is still answered (a Delete succeeds whatever they hold).
#[derive(Debug, Clone, PartialEq)]
pub struct Properties(pub Result<Props, PropsError>);

impl<'de> Deserialize<'de> for Properties {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Properties(Props::parse(&Value::deserialize(d)?)))
    }
}

/// `aws_lambda_events` bounds a request's properties by `Serialize` too (it
/// can write requests); schemagate only reads them, so nothing is written.
impl Serialize for Properties {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_unit()
    }
}

/// What a property must be, and the value it has.
struct Invalid {
    expected: String,
    value: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, got `{}`", self.expected, self.value)
    }
}

fn invalid<E: de::Error>(expected: impl Into<String>, value: String) -> E {
    E::custom(Invalid {
        expected: expected.into(),
        value,
    })
}

/// A string, or a number taken as its decimal text.
fn text_of<E: de::Error>(v: Value) -> Result<String, E> {
    match v {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(invalid("must be a string", short(&other))),
    }
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<Value>::deserialize(d)?.map(text_of).transpose()
}

fn unread_text<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    text(d).map(drop)
}

fn secret_arn<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match text(d)? {
        Some(arn) if !arn.starts_with("arn:") => Err(invalid(
            "must be a Secrets Manager ARN (`arn:aws:secretsmanager:…`)",
            arn,
        )),
        arn => Ok(arn),
    }
}

/// A whole number ≥ 0 from a number or a string (blank = none); `Err` holds
/// what it must be and the value as shown.
fn whole(v: &Value) -> Result<Option<i64>, (&'static str, String)> {
    let parsed = || {
        wire::number_or_string::<_, i64>(v)
            .ok()
            .flatten()
            .filter(|n| *n >= 0)
    };
    match v {
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => parsed().map(Some).ok_or((
            "must be a whole number ≥ 0 (a migration version)",
            s.clone(),
        )),
        Value::Number(n) => parsed()
            .map(Some)
            .ok_or(("must be a whole number ≥ 0", n.to_string())),
        other => Err(("must be a whole number ≥ 0", short(other))),
    }
}

fn version<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None => Ok(None),
        Some(v) => whole(&v).map_err(|(expected, value)| invalid(expected, value)),
    }
}

fn lock_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let max = LOCK_TIMEOUT_MAX.as_secs() as i64;
    let expected = || format!("must be a whole number of seconds between 1 and {max}");
    let Some(v) = Option::<Value>::deserialize(d)? else {
        return Ok(None);
    };
    match whole(&v) {
        Err(_) => Err(invalid(expected(), short(&v))),
        Ok(None) => Ok(None),
        Ok(Some(s)) if (1..=max).contains(&s) => Ok(Some(Duration::from_secs(s as u64))),
        Ok(Some(s)) => Err(invalid(expected(), s.to_string())),
    }
}

fn sql_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    const EXPECTED: &str = "must be a list of SQL strings";
    match Option::<Value>::deserialize(d)? {
        None => Ok(Vec::new()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s]),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => Ok(s),
                other => Err(invalid(EXPECTED, short(&other))),
            })
            .collect(),
        Some(other) => Err(invalid(EXPECTED, short(&other))),
    }
}

fn on_rollback<'de, D: Deserializer<'de>>(d: D) -> Result<OnRollback, D::Error> {
    match text(d)?.map(|s| s.to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("revert") => Ok(OnRollback::Revert),
        Some("keep") => Ok(OnRollback::Keep),
        Some(other) => Err(invalid("must be `revert` or `keep`", other.to_string())),
    }
}

/// `true` or `false`; `None` when absent or blank.
fn switch<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    const EXPECTED: &str = "must be `true` or `false`";
    match Option::<Value>::deserialize(d)? {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            "" => Ok(None),
            _ => Err(invalid(EXPECTED, s)),
        },
        Some(other) => Err(invalid(EXPECTED, short(&other))),
    }
}

fn listener_arn<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match text(d)? {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(arn) if arn.starts_with("arn:") && arn.contains(":listener/") => Ok(Some(arn)),
        Some(arn) => Err(invalid(
            "must be an ALB listener ARN (`arn:aws:elasticloadbalancing:…:listener/app/…`)",
            arn,
        )),
    }
}

/// The maintenance page's HTML: ELBv2 refuses a fixed response body over
/// [`MAX_PAGE_BYTES`], so it is refused here, before anything is drained.
fn page<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match text(d)? {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) if s.chars().count() > MAX_PAGE_BYTES => Err(de::Error::custom(format!(
            "is {} characters long; an ALB fixed response body holds at most {MAX_PAGE_BYTES}: shorten the page (link a stylesheet or image hosted elsewhere instead of inlining it)",
            s.chars().count()
        ))),
        s => Ok(s),
    }
}

fn priority<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    const EXPECTED: &str = "must be a listener rule priority, a whole number from 1 to 50000";
    let Some(v) = Option::<Value>::deserialize(d)? else {
        return Ok(None);
    };
    match whole(&v) {
        Ok(None) => Ok(None),
        Ok(Some(n)) if (1..=50_000).contains(&n) => Ok(Some(n as i32)),
        Ok(Some(n)) => Err(invalid(EXPECTED, n.to_string())),
        Err(_) => Err(invalid(EXPECTED, short(&v))),
    }
}

fn action<'de, D: Deserializer<'de>>(d: D) -> Result<Action, D::Error> {
    match text(d)?.map(|s| s.to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("migrate") => Ok(Action::Migrate),
        Some("end-maintenance") => Ok(Action::EndMaintenance),
        Some(other) => Err(invalid(
            "must be `migrate` or `end-maintenance`",
            other.to_string(),
        )),
    }
}

/// A switch that is off unless set.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    switch(d).map(|b| b.unwrap_or(false))
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
            "AllowBreaking": "true",
            "AdoptAlembic": "false"
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
        assert!(!p.adopt_alembic);
    }

    #[test]
    fn defaults() {
        let p = Props::parse(&json!({"SecretArn": ARN})).unwrap();
        assert_eq!(p.target_version, None);
        assert_eq!(p.on_rollback, OnRollback::Revert);
        assert_eq!(p.lock_timeout, DEFAULT_LOCK_TIMEOUT);
        assert!(p.init_sql.is_empty() && p.drain.is_none() && !p.allow_breaking);
        // a database Alembic made is adopted unless told not to
        assert!(p.adopt_alembic);
        for on in [json!("true"), json!(true), json!(""), json!("TRUE")] {
            let p = Props::parse(&json!({"SecretArn": ARN, "AdoptAlembic": on})).unwrap();
            assert!(p.adopt_alembic, "{on}");
        }
        let p = Props::parse(&json!({"SecretArn": ARN, "AdoptAlembic": false})).unwrap();
        assert!(!p.adopt_alembic);
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

    /// The whole texts, as they were when the properties were read by hand:
    /// they reach CloudFormation's Reason.
    #[test]
    fn whole_messages_stay_as_they_were() {
        let cases = [
            (json!({"SecretArn": ARN, "TargetVerison": "3"}), "unknown property `TargetVerison`; known properties: SecretArn, DatabaseName, TargetVersion, MigrationsHash, InitSql, BaselineVersion, OnRollback, LockTimeoutSeconds, DrainTagKey, DrainTagValue, AllowBreaking, AdoptAlembic, MaintenanceListenerArn, MaintenanceHtml, MaintenancePriority, Action, SchemaVersion, RollingUpdate"),
            (json!({"SecretArn": 7}), "property `SecretArn` must be a Secrets Manager ARN (`arn:aws:secretsmanager:…`), got `7`"),
            (json!({"SecretArn": ARN, "DatabaseName": ["a"]}), "property `DatabaseName` must be a string, got `[\"a\"]`"),
            (json!({"SecretArn": ARN, "MigrationsHash": {}}), "property `MigrationsHash` must be a string, got `{}`"),
            (json!({"SecretArn": ARN, "BaselineVersion": -1}), "property `BaselineVersion` must be a whole number ≥ 0, got `-1`"),
            (json!({"SecretArn": ARN, "TargetVersion": true}), "property `TargetVersion` must be a whole number ≥ 0, got `true`"),
            (json!({"SecretArn": ARN, "LockTimeoutSeconds": "abc"}), "property `LockTimeoutSeconds` must be a whole number of seconds between 1 and 900, got `\"abc\"`"),
            (json!({"SecretArn": ARN, "LockTimeoutSeconds": " 1000 "}), "property `LockTimeoutSeconds` must be a whole number of seconds between 1 and 900, got `1000`"),
            (json!({"SecretArn": ARN, "OnRollback": "UNDO"}), "property `OnRollback` must be `revert` or `keep`, got `undo`"),
            (json!({"SecretArn": ARN, "InitSql": {"a": 1}}), "property `InitSql` must be a list of SQL strings, got `{\"a\":1}`"),
            (json!({"SecretArn": ARN, "AllowBreaking": 1}), "property `AllowBreaking` must be `true` or `false`, got `1`"),
            (json!({"SecretArn": ARN, "AdoptAlembic": "no"}), "property `AdoptAlembic` must be `true` or `false`, got `no`"),
            (json!({"SecretArn": ARN, "DrainTagKey": "", "DrainTagValue": "v"}), "properties `DrainTagKey` and `DrainTagValue` go together; set both or neither"),
            (json!([1]), "ResourceProperties must be an object, got [1]"),
        ];
        for (v, want) in cases {
            assert_eq!(Props::parse(&v).unwrap_err().to_string(), want, "{v}");
        }
        let p = Props::parse(&json!({"SecretArn": ARN, "TargetVersion": " ", "LockTimeoutSeconds": "", "InitSql": "SELECT 1", "DatabaseName": "", "AllowBreaking": "", "OnRollback": null})).unwrap();
        assert_eq!(p.target_version, None);
        assert_eq!(p.lock_timeout, DEFAULT_LOCK_TIMEOUT);
        assert_eq!(p.init_sql, vec!["SELECT 1".to_string()]);
        assert_eq!(p.database_name, None);
        assert!(!p.allow_breaking);
        assert_eq!(p.on_rollback, OnRollback::Revert);
        assert_eq!(
            Props::parse(&json!({"SecretArn": ARN, "TargetVersion": 9}))
                .unwrap()
                .target_version,
            Some(9)
        );
    }

    const LISTENER: &str =
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2";

    #[test]
    fn the_maintenance_page_defaults_and_its_limits() {
        let drain = json!({"SecretArn": ARN, "DrainTagKey": "k", "DrainTagValue": "v", "MaintenanceListenerArn": LISTENER});
        let p = Props::parse(&drain).unwrap();
        let m = p.maintenance.unwrap();
        assert_eq!((m.listener_arn.as_str(), m.priority), (LISTENER, 1));
        assert_eq!(m.html, DEFAULT_PAGE);
        assert!(DEFAULT_PAGE.len() <= MAX_PAGE_BYTES);
        assert_eq!(p.action, Action::Migrate);
        assert!(!p.rolling_update);

        let mut v = drain.clone();
        v["MaintenanceHtml"] = json!("x".repeat(MAX_PAGE_BYTES));
        v["MaintenancePriority"] = json!("7");
        let m = Props::parse(&v).unwrap().maintenance.unwrap();
        assert_eq!((m.html.len(), m.priority), (MAX_PAGE_BYTES, 7));

        v["MaintenanceHtml"] = json!("x".repeat(MAX_PAGE_BYTES + 1));
        let e = Props::parse(&v).unwrap_err().to_string();
        assert_eq!(e, "property `MaintenanceHtml` is 1025 characters long; an ALB fixed response body holds at most 1024: shorten the page (link a stylesheet or image hosted elsewhere instead of inlining it)");
    }

    #[test]
    fn maintenance_mistakes_name_the_property() {
        for (v, msg) in [
            (json!({"SecretArn": ARN, "MaintenanceListenerArn": LISTENER}), "`MaintenanceListenerArn` needs `DrainTagKey` and `DrainTagValue`"),
            (json!({"SecretArn": ARN, "MaintenanceHtml": "<p>x</p>"}), "`MaintenanceHtml` and `MaintenancePriority` need `MaintenanceListenerArn`"),
            (json!({"SecretArn": ARN, "MaintenanceListenerArn": "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/x/1"}), "property `MaintenanceListenerArn` must be an ALB listener ARN"),
            (json!({"SecretArn": ARN, "DrainTagKey": "k", "DrainTagValue": "v", "MaintenanceListenerArn": LISTENER, "MaintenancePriority": "0"}), "property `MaintenancePriority` must be a listener rule priority, a whole number from 1 to 50000, got `0`"),
            (json!({"Action": "end-maintenance"}), "`Action=end-maintenance` needs `MaintenanceListenerArn`"),
            (json!({"SecretArn": ARN, "Action": "drain"}), "property `Action` must be `migrate` or `end-maintenance`, got `drain`"),
        ] {
            let e = Props::parse(&v).unwrap_err().to_string();
            assert!(e.contains(msg), "{v}: {e}");
        }
    }

    #[test]
    fn the_app_stacks_resource_needs_no_secret() {
        let p = Props::parse(&json!({"Action": "end-maintenance", "MaintenanceListenerArn": LISTENER, "SchemaVersion": "8"})).unwrap();
        assert_eq!(p.action, Action::EndMaintenance);
        assert_eq!(p.maintenance.unwrap().listener_arn, LISTENER);
        assert!(
            Props::parse(&json!({"RollingUpdate": "true", "SecretArn": ARN}))
                .unwrap()
                .rolling_update
        );
    }

    /// The construct's list of the names it sends (`cdk/lib/properties.json`)
    /// and the names accepted here are the same, in both directions.
    #[test]
    fn the_construct_sends_exactly_the_accepted_names() {
        let list: serde_json::Map<String, Value> = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../cdk/lib/properties.json"
        )))
        .expect("cdk/lib/properties.json is a JSON object");
        let mut sent: Vec<&str> = list.keys().map(String::as_str).collect();
        let mut accepted: Vec<&str> = known().collect();
        sent.sort_unstable();
        accepted.sort_unstable();
        assert_eq!(sent, accepted, "cdk/lib/properties.json against `Wire`");
        for name in known() {
            let mut v = json!({"SecretArn": ARN});
            v[name] = json!("");
            let e = Props::parse(&v).err();
            assert!(
                !matches!(e, Some(PropsError::Unknown { .. })),
                "{name}: {e:?}"
            );
        }
    }
}
