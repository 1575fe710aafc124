//! CloudFormation's side of the custom resource protocol: the request
//! events it sends and the response it reads back from the `ResponseURL`.
//! The events of the lambda crate's own tests come from its fixtures
//! (`lambda/tests/fixtures/`); [`Delivery`] builds them as CloudFormation
//! does for a resource of a stack.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::moto::{ACCOUNT, REGION};
use crate::response_url::ResponseUrl;

/// The bucket CloudFormation's response URLs point into.
pub const RESPONSE_BUCKET: &str = "cloudformation-custom-resource-response-useast1";
pub const RESOURCE_TYPE: &str = "Custom::SchemaMigrations";
/// The most CloudFormation reads of a response body, in bytes.
pub const MAX_BODY: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

impl fmt::Display for RequestType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The resource as CloudFormation knows it.
#[derive(Debug, Clone)]
pub struct Resource {
    pub stack_id: String,
    pub logical_id: String,
    pub service_token: String,
    /// Set from the Create's response, as CloudFormation does.
    pub physical_id: Option<String>,
}

impl Resource {
    pub fn new(stack_name: &str, logical_id: &str) -> Resource {
        Resource {
            stack_id: format!(
                "arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack_name}/{}",
                uuid()
            ),
            logical_id: logical_id.to_string(),
            service_token: format!(
                "arn:aws:lambda:{REGION}:{ACCOUNT}:function:{stack_name}-SchemaMigrations"
            ),
            physical_id: None,
        }
    }
}

/// One request, ready to be delivered (as often as a test likes).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub request_type: RequestType,
    pub request_id: String,
    /// The S3 object the response lands in.
    pub key: String,
    pub response_url: String,
    pub event: Value,
}

impl Delivery {
    /// The event as CloudFormation sends it. `properties` gets the
    /// `ServiceToken` CloudFormation adds.
    pub fn new(
        resource: &Resource,
        request_type: RequestType,
        properties: &Value,
        old_properties: Option<&Value>,
        key: String,
        response_url: String,
        request_id: String,
    ) -> Result<Delivery> {
        let with_token = |p: &Value| -> Result<Value> {
            let mut p = p.clone();
            p.as_object_mut()
                .context("properties must be a JSON object")?
                .insert("ServiceToken".into(), json!(resource.service_token));
            Ok(p)
        };
        let mut event = json!({
            "RequestType": request_type.to_string(),
            "ServiceToken": resource.service_token,
            "ResponseURL": response_url,
            "StackId": resource.stack_id,
            "RequestId": request_id,
            "LogicalResourceId": resource.logical_id,
            "ResourceType": RESOURCE_TYPE,
            "ResourceProperties": with_token(properties)?,
        });
        if request_type != RequestType::Create {
            let id = resource
                .physical_id
                .clone()
                .context("an Update or Delete needs the PhysicalResourceId the Create returned")?;
            event["PhysicalResourceId"] = json!(id);
        }
        if request_type == RequestType::Update {
            event["OldResourceProperties"] =
                with_token(old_properties.context("an Update needs OldResourceProperties")?)?;
        }
        Ok(Delivery {
            request_type,
            request_id,
            key,
            response_url,
            event,
        })
    }

    /// The same request with another `ResponseURL` (a flaky front).
    pub fn via(&self, response_url: String) -> Delivery {
        let mut d = self.clone();
        d.event["ResponseURL"] = json!(response_url);
        d.response_url = response_url;
        d
    }

    /// The presigned URL's query string (the signature): must never be logged.
    pub fn url_query(&self) -> Option<&str> {
        self.response_url.split_once('?').map(|(_, q)| q)
    }
}

/// The S3 key CloudFormation uses: `<stack id>|<logical id>|<request id>`.
pub fn response_key(resource: &Resource, request_id: &str) -> String {
    format!("{}|{}|{request_id}", resource.stack_id, resource.logical_id)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    Failed,
}

/// The response body PUT to the `ResponseURL`, as CloudFormation reads it.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: Status,
    pub reason: String,
    pub physical_id: String,
    pub data: BTreeMap<String, String>,
    pub stack_id: String,
    pub request_id: String,
    pub logical_id: String,
    /// The body as it arrived.
    pub raw: String,
    /// From the invocation to the response object being there.
    pub elapsed: Duration,
}

impl Response {
    /// Parse like CloudFormation: valid JSON with `Status` SUCCESS or FAILED
    /// and the ids of the request; `Data` values are strings.
    pub fn parse(raw: &str, elapsed: Duration) -> Result<Response> {
        let v: Value = serde_json::from_str(raw)
            .with_context(|| format!("the response is not JSON: {raw}"))?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let status = match s("Status").as_deref() {
            Some("SUCCESS") => Status::Success,
            Some("FAILED") => Status::Failed,
            other => bail!("response Status is {other:?}, not SUCCESS or FAILED: {raw}"),
        };
        let mut data = BTreeMap::new();
        if let Some(d) = v.get("Data").and_then(Value::as_object) {
            for (k, val) in d {
                let val = val
                    .as_str()
                    .with_context(|| format!("Data.{k} is not a string: {raw}"))?;
                data.insert(k.clone(), val.to_string());
            }
        }
        Ok(Response {
            status,
            reason: s("Reason").unwrap_or_default(),
            physical_id: s("PhysicalResourceId")
                .with_context(|| format!("no PhysicalResourceId: {raw}"))?,
            data,
            stack_id: s("StackId").unwrap_or_default(),
            request_id: s("RequestId").unwrap_or_default(),
            logical_id: s("LogicalResourceId").unwrap_or_default(),
            raw: raw.to_string(),
            elapsed,
        })
    }

    /// `Data.SchemaVersion` as a number.
    pub fn schema_version(&self) -> Option<i64> {
        self.data.get("SchemaVersion")?.parse().ok()
    }

    pub fn data_number(&self, key: &str) -> Option<i64> {
        self.data.get(key)?.parse().ok()
    }

    /// `SchemaVersion=8 Applied=2 Reverted=0`.
    pub fn data_line(&self) -> String {
        if self.data.is_empty() {
            return "-".into();
        }
        self.data
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Success => "SUCCESS",
            Status::Failed => "FAILED",
        })
    }
}

/// A random UUID-shaped id (CloudFormation's request ids look like this).
pub fn uuid() -> String {
    let h = |n: usize| {
        (0..n)
            .map(|_| format!("{:x}", fastrand::u8(0..16)))
            .collect::<String>()
    };
    format!("{}-{}-4{}-{}-{}", h(8), h(4), h(3), h(4), h(12))
}

/// A local ResponseURL that accepts every request (and records it).
pub async fn server() -> ResponseUrl {
    ResponseUrl::accepting()
}

/// The last body PUT to the ResponseURL, parsed; it must fit in what
/// CloudFormation reads.
pub async fn last(s: &ResponseUrl) -> Value {
    let put = s.puts().pop().expect("a response was PUT");
    assert!(put.body.len() <= MAX_BODY, "{} bytes", put.body.len());
    serde_json::from_slice(&put.body).expect("JSON")
}

/// The body's `Reason`, empty without one.
pub fn reason(body: &Value) -> &str {
    body["Reason"].as_str().unwrap_or_default()
}
