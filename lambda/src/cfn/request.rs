//! Reading CloudFormation's request. A request that does not parse still
//! gets a FAILED answer when its `ResponseURL` can be found.

use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

/// The fields needed to answer, whatever else is wrong with the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub physical_resource_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub request_type: RequestType,
    pub envelope: Envelope,
    pub properties: Value,
    /// Update only: the properties before this update (during a rollback,
    /// the newer ones).
    pub old_properties: Option<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Nothing to answer to: only a log line can tell.
    #[error("not a CloudFormation custom resource request (no `ResponseURL`): {0}")]
    NoResponseUrl(String),
    /// Answerable with FAILED.
    #[error("malformed CloudFormation request: {message}")]
    Malformed {
        envelope: Box<Envelope>,
        message: String,
    },
}

impl Envelope {
    /// Best effort, from any JSON.
    pub fn lenient(v: &Value) -> Option<Envelope> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Some(Envelope {
            response_url: s("ResponseURL")?,
            stack_id: s("StackId").unwrap_or_default(),
            request_id: s("RequestId").unwrap_or_default(),
            logical_resource_id: s("LogicalResourceId").unwrap_or_default(),
            physical_resource_id: s("PhysicalResourceId"),
        })
    }
}

impl Request {
    pub fn parse(v: Value) -> Result<Request, RequestError> {
        let envelope = Envelope::lenient(&v);
        let typed: CloudFormationCustomResourceRequest = match serde_json::from_value(v) {
            Ok(r) => r,
            Err(e) => {
                return Err(match envelope {
                    Some(envelope) => RequestError::Malformed {
                        envelope: Box::new(envelope),
                        message: e.to_string(),
                    },
                    None => RequestError::NoResponseUrl(e.to_string()),
                })
            }
        };
        Ok(match typed {
            CloudFormationCustomResourceRequest::Create(r) => Request {
                request_type: RequestType::Create,
                envelope: Envelope {
                    response_url: r.response_url,
                    stack_id: r.stack_id,
                    request_id: r.request_id,
                    logical_resource_id: r.logical_resource_id,
                    physical_resource_id: None,
                },
                properties: r.resource_properties,
                old_properties: None,
            },
            CloudFormationCustomResourceRequest::Update(r) => Request {
                request_type: RequestType::Update,
                envelope: Envelope {
                    response_url: r.response_url,
                    stack_id: r.stack_id,
                    request_id: r.request_id,
                    logical_resource_id: r.logical_resource_id,
                    physical_resource_id: Some(r.physical_resource_id),
                },
                properties: r.resource_properties,
                old_properties: Some(r.old_resource_properties),
            },
            CloudFormationCustomResourceRequest::Delete(r) => Request {
                request_type: RequestType::Delete,
                envelope: Envelope {
                    response_url: r.response_url,
                    stack_id: r.stack_id,
                    request_id: r.request_id,
                    logical_resource_id: r.logical_resource_id,
                    physical_resource_id: Some(r.physical_resource_id),
                },
                properties: r.resource_properties,
                old_properties: None,
            },
            _ => {
                return Err(RequestError::NoResponseUrl("unknown RequestType".into()));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    #[test]
    fn parses_each_request_type_from_fixtures() {
        let c = Request::parse(fixture("create.json")).unwrap();
        assert_eq!(c.request_type, RequestType::Create);
        assert_eq!(c.envelope.physical_resource_id, None);
        let u = Request::parse(fixture("update.json")).unwrap();
        assert_eq!(u.request_type, RequestType::Update);
        assert!(u.old_properties.is_some());
        let d = Request::parse(fixture("delete.json")).unwrap();
        assert_eq!(d.request_type, RequestType::Delete);
        assert!(d.envelope.physical_resource_id.is_some());
    }

    #[test]
    fn a_malformed_request_with_a_response_url_can_still_be_answered() {
        let v = serde_json::json!({"RequestType": "Create", "ResponseURL": "http://x/y", "RequestId": "r1"});
        match Request::parse(v) {
            Err(RequestError::Malformed { envelope, message }) => {
                assert_eq!(envelope.response_url, "http://x/y");
                assert!(message.contains("missing field"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Request::parse(serde_json::json!({"hello": 1})),
            Err(RequestError::NoResponseUrl(_))
        ));
    }
}
