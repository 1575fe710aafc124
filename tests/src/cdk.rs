//! What `cdk synth` produced: the `Custom::SchemaMigrations` resource of the
//! data stack, with the Lambda behind its `ServiceToken` and that Lambda's
//! package (the asset folder: `bootstrap` + `migrations/`). The demo plays
//! CloudFormation with exactly these properties.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{Map, Value};

use testkit::cfn::RESOURCE_TYPE;
use testkit::process::{wait_for, Proc};

/// `npx cdk synth` in `cdk_dir`, the Lambda's `bootstrap` taken from
/// `lambda_dir` and the migrations from `migrations_dir`, into `out`.
/// Returns the running process (its output goes to `log`).
pub fn start_synth(
    cdk_dir: &Path,
    lambda_dir: &Path,
    migrations_dir: &Path,
    out: &Path,
    log: &Path,
) -> Result<Proc> {
    let mut cmd = Command::new("npx");
    cmd.current_dir(cdk_dir)
        .args(["cdk", "synth", "--quiet", "--no-notices", "-c"])
        .arg(format!("schemagateLambdaDir={}", lambda_dir.display()))
        .arg("-c")
        .arg(format!(
            "schemagateMigrationsDir={}",
            migrations_dir.display()
        ))
        .arg("-o")
        .arg(out)
        .env("CDK_DISABLE_VERSION_CHECK", "true");
    Proc::spawn("cdk synth", cmd, log)
}

/// Wait (at most `timeout`) for a synth started by [`start_synth`].
pub async fn finish_synth(mut proc: Proc, timeout: Duration) -> Result<()> {
    let status = wait_for(
        "cdk synth",
        timeout,
        || Ok(()),
        || std::future::ready(proc.exited()),
    )
    .await?;
    if !status.success() {
        bail!("`cdk synth` failed ({status}):\n{}", proc.log_tail(30));
    }
    Ok(())
}

/// The migrations custom resource and its function, as synthesized.
#[derive(Debug, Clone)]
pub struct SynthesizedMigrations {
    /// The stack (cloud assembly artifact id, e.g. `dev-data`).
    pub stack: String,
    pub logical_id: String,
    /// `Properties` as in the template: strings and intrinsic functions.
    pub properties: Value,
    pub function_logical_id: String,
    /// The function's `Environment.Variables`.
    pub function_env: Vec<(String, String)>,
    pub timeout_seconds: Option<u64>,
    pub architectures: Vec<String>,
    /// The asset folder in the cloud assembly: the Lambda package.
    pub package_dir: PathBuf,
    /// The logical id of the secret `SecretArn` points at (through a
    /// `SecretTargetAttachment` if there is one).
    pub secret_logical_id: Option<String>,
    /// `username` from the secret's `GenerateSecretString` template.
    pub secret_username: Option<String>,
}

/// Find the one `Custom::SchemaMigrations` resource in the cloud assembly `out`.
pub fn read(out: &Path) -> Result<SynthesizedMigrations> {
    let manifest = load(&out.join("manifest.json"))?;
    let mut found = Vec::new();
    for (id, artifact) in manifest["artifacts"]
        .as_object()
        .context("manifest.json has no artifacts")?
    {
        if artifact["type"] != "aws:cloudformation:stack" {
            continue;
        }
        let file = artifact["properties"]["templateFile"]
            .as_str()
            .with_context(|| format!("stack {id} has no templateFile"))?;
        let template = load(&out.join(file))?;
        let Some(resources) = template["Resources"].as_object() else {
            continue;
        };
        for (logical_id, r) in resources {
            if r["Type"] == RESOURCE_TYPE {
                found.push(from_template(out, id, logical_id, r, resources)?);
            }
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!(
            "no {RESOURCE_TYPE} resource in the templates of {}",
            out.display()
        ),
        n => bail!(
            "{n} {RESOURCE_TYPE} resources in {}; the demo plays one",
            out.display()
        ),
    }
}

fn from_template(
    out: &Path,
    stack: &str,
    logical_id: &str,
    resource: &Value,
    resources: &Map<String, Value>,
) -> Result<SynthesizedMigrations> {
    let properties = resource["Properties"].clone();
    let function_logical_id = match properties["ServiceToken"].get("Fn::GetAtt") {
        Some(Value::Array(a)) if a.len() == 2 && a[1] == "Arn" => a[0]
            .as_str()
            .context("GetAtt names no resource")?
            .to_string(),
        _ => bail!(
            "{logical_id}'s ServiceToken is not the Arn of a function in the stack: {}",
            properties["ServiceToken"]
        ),
    };
    let function = resources
        .get(&function_logical_id)
        .with_context(|| format!("no resource {function_logical_id}"))?;
    if function["Type"] != "AWS::Lambda::Function" {
        bail!(
            "{function_logical_id} is a {}, not an AWS::Lambda::Function",
            function["Type"]
        );
    }
    let fp = &function["Properties"];
    let mut function_env = Vec::new();
    if let Some(vars) = fp["Environment"]["Variables"].as_object() {
        for (k, v) in vars {
            let v = v.as_str().with_context(|| {
                format!("{function_logical_id}: variable {k} is not a plain string: {v}")
            })?;
            function_env.push((k.clone(), v.to_string()));
        }
    }
    let asset = function["Metadata"]["aws:asset:path"]
        .as_str()
        .with_context(|| {
            format!("{function_logical_id} has no aws:asset:path metadata (is its code an asset?)")
        })?;
    let (secret_logical_id, secret_username) = secret_of(&properties["SecretArn"], resources);
    Ok(SynthesizedMigrations {
        stack: stack.to_string(),
        logical_id: logical_id.to_string(),
        properties,
        function_logical_id,
        function_env,
        timeout_seconds: fp["Timeout"].as_u64(),
        architectures: fp["Architectures"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        package_dir: out.join(asset),
        secret_logical_id,
        secret_username,
    })
}

/// `{"Ref": attachment}` → the attachment's `SecretId` → the secret, and the
/// username in its generation template.
fn secret_of(
    secret_arn: &Value,
    resources: &Map<String, Value>,
) -> (Option<String>, Option<String>) {
    let Some(mut id) = secret_arn
        .get("Ref")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return (None, None);
    };
    let referenced = id.clone();
    if let Some(r) = resources.get(&id) {
        if r["Type"] == "AWS::SecretsManager::SecretTargetAttachment" {
            if let Some(s) = r["Properties"]["SecretId"]
                .get("Ref")
                .and_then(Value::as_str)
            {
                id = s.to_string();
            }
        }
    }
    let username = resources
        .get(&id)
        .and_then(|s| s["Properties"]["GenerateSecretString"]["SecretStringTemplate"].as_str())
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .and_then(|t| t["username"].as_str().map(str::to_string));
    (Some(referenced), username)
}

/// Replace the intrinsic functions CloudFormation would resolve: `Ref` and
/// `Fn::GetAtt` through `lookup(logical id, attribute)`. Anything else, or
/// an unknown resource, is an error naming it.
pub fn resolve(v: &Value, lookup: &dyn Fn(&str, Option<&str>) -> Option<String>) -> Result<Value> {
    match v {
        Value::Object(m)
            if m.len() == 1 && (m.contains_key("Ref") || m.contains_key("Fn::GetAtt")) =>
        {
            let (id, attr) = match (m.get("Ref"), m.get("Fn::GetAtt")) {
                (Some(Value::String(id)), _) => (id.as_str(), None),
                (_, Some(Value::Array(a))) if a.len() == 2 => {
                    (a[0].as_str().unwrap_or_default(), a[1].as_str())
                }
                _ => bail!("cannot resolve {v}"),
            };
            lookup(id, attr)
                .map(Value::String)
                .ok_or_else(|| anyhow!("the demo has no value for {v}"))
        }
        // An export of another stack (the example's ALB listener, from the
        // network stack): asked of `lookup` as (export name, "Fn::ImportValue").
        Value::Object(m) if m.len() == 1 && m.contains_key("Fn::ImportValue") => {
            match m.get("Fn::ImportValue") {
                Some(Value::String(name)) => lookup(name, Some("Fn::ImportValue"))
                    .map(Value::String)
                    .ok_or_else(|| anyhow!("the demo has no value for {v}")),
                _ => bail!("the demo cannot resolve {v}"),
            }
        }
        Value::Object(m) if m.keys().any(|k| k.starts_with("Fn::")) => {
            bail!("the demo cannot resolve {v}")
        }
        Value::Object(m) => Ok(Value::Object(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), resolve(x, lookup)?)))
                .collect::<Result<_>>()?,
        )),
        Value::Array(a) => Ok(Value::Array(
            a.iter()
                .map(|x| resolve(x, lookup))
                .collect::<Result<_>>()?,
        )),
        other => Ok(other.clone()),
    }
}

fn load(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn assembly() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let template = json!({"Resources": {
            "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {"GenerateSecretString": {"SecretStringTemplate": "{\"username\":\"app_admin\"}"}}},
            "Attachment": {"Type": "AWS::SecretsManager::SecretTargetAttachment", "Properties": {"SecretId": {"Ref": "Secret"}}},
            "Fn": {"Type": "AWS::Lambda::Function", "Metadata": {"aws:asset:path": "asset.abc"},
                   "Properties": {"Timeout": 600, "Architectures": ["arm64"], "Environment": {"Variables": {"RUST_LOG": "info"}}}},
            "Migrations": {"Type": "Custom::SchemaMigrations", "Properties": {
                "ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]}, "SecretArn": {"Ref": "Attachment"}, "TargetVersion": "6"}}
        }});
        std::fs::write(dir.path().join("data.template.json"), template.to_string()).unwrap();
        let manifest = json!({"artifacts": {
            "dev-data": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "data.template.json"}},
            "dev-data.assets": {"type": "cdk:asset-manifest", "properties": {"file": "x"}}
        }});
        std::fs::write(dir.path().join("manifest.json"), manifest.to_string()).unwrap();
        dir
    }

    #[test]
    fn finds_the_resource_its_function_package_and_secret() {
        let dir = assembly();
        let m = read(dir.path()).unwrap();
        assert_eq!(
            (
                m.stack.as_str(),
                m.logical_id.as_str(),
                m.function_logical_id.as_str()
            ),
            ("dev-data", "Migrations", "Fn")
        );
        assert_eq!(
            m.function_env,
            vec![("RUST_LOG".to_string(), "info".to_string())]
        );
        assert_eq!(
            (m.timeout_seconds, m.architectures.clone()),
            (Some(600), vec!["arm64".to_string()])
        );
        assert_eq!(m.package_dir, dir.path().join("asset.abc"));
        assert_eq!(
            (m.secret_logical_id.as_deref(), m.secret_username.as_deref()),
            (Some("Attachment"), Some("app_admin"))
        );
    }

    #[test]
    fn resolves_ref_and_getatt_and_refuses_the_rest() {
        let lookup = |id: &str, attr: Option<&str>| match (id, attr) {
            ("Attachment", None) => Some("arn:secret".to_string()),
            ("Fn", Some("Arn")) => Some("arn:fn".to_string()),
            _ => None,
        };
        let v = json!({"ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]}, "SecretArn": {"Ref": "Attachment"}, "InitSql": ["SET x=1"]});
        assert_eq!(
            resolve(&v, &lookup).unwrap(),
            json!({"ServiceToken": "arn:fn", "SecretArn": "arn:secret", "InitSql": ["SET x=1"]})
        );
        assert!(resolve(&json!({"Ref": "Other"}), &lookup)
            .unwrap_err()
            .to_string()
            .contains("Other"));
        assert!(resolve(&json!({"Fn::Join": ["", []]}), &lookup).is_err());
        let imports = |id: &str, attr: Option<&str>| {
            (attr == Some("Fn::ImportValue") && id == "net:Listener").then(|| "arn:l".to_string())
        };
        assert_eq!(
            resolve(&json!({"L": {"Fn::ImportValue": "net:Listener"}}), &imports).unwrap(),
            json!({"L": "arn:l"})
        );
        assert!(resolve(&json!({"Fn::ImportValue": "net:Other"}), &imports)
            .unwrap_err()
            .to_string()
            .contains("net:Other"));
    }
}
