//! Reading CloudFormation's request. A request that does not parse still
//! gets a FAILED answer when its `ResponseURL` can be found.

use aws_lambda_events::event::cloudformation::CloudFormationCustomResourceRequest as Event;
use serde::de::{Deserialize, Deserializer, IgnoredAny};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::props::{Properties, Props, PropsError};

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
    /// `ResourceProperties`, typed, or why they are not valid. A Delete
    /// reads nothing of them.
    pub properties: Result<Props, PropsError>,
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

/// `OldResourceProperties`: an Update must carry them, schemagate never
/// reads them (the target is in the new ones, also during a rollback).
#[derive(Debug, Clone, PartialEq)]
struct Unread;

impl<'de> Deserialize<'de> for Unread {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(d).map(|_| Unread)
    }
}

/// `aws_lambda_events` bounds a request's properties by `Serialize` too;
/// schemagate only reads requests.
impl Serialize for Unread {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_unit()
    }
}

impl Envelope {
    /// Best effort, from any JSON: for an event that does not parse.
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
    /// Read the event once, properties included. When it does not parse,
    /// the fields needed to answer are looked for in it.
    pub fn parse(v: Value) -> Result<Request, RequestError> {
        let event = match Event::<Unread, Properties>::deserialize(&v) {
            Ok(e) => e,
            Err(e) => {
                return Err(match Envelope::lenient(&v) {
                    Some(envelope) => RequestError::Malformed {
                        envelope: Box::new(envelope),
                        message: e.to_string(),
                    },
                    None => RequestError::NoResponseUrl(e.to_string()),
                })
            }
        };
        let envelope =
            |response_url, stack_id, request_id, logical_resource_id, physical| Envelope {
                response_url,
                stack_id,
                request_id,
                logical_resource_id,
                physical_resource_id: physical,
            };
        let (request_type, envelope, Properties(properties)) = match event {
            Event::Create(r) => (
                RequestType::Create,
                envelope(
                    r.response_url,
                    r.stack_id,
                    r.request_id,
                    r.logical_resource_id,
                    None,
                ),
                r.resource_properties,
            ),
            Event::Update(r) => (
                RequestType::Update,
                envelope(
                    r.response_url,
                    r.stack_id,
                    r.request_id,
                    r.logical_resource_id,
                    Some(r.physical_resource_id),
                ),
                r.resource_properties,
            ),
            Event::Delete(r) => (
                RequestType::Delete,
                envelope(
                    r.response_url,
                    r.stack_id,
                    r.request_id,
                    r.logical_resource_id,
                    Some(r.physical_resource_id),
                ),
                r.resource_properties,
            ),
            _ => return Err(RequestError::NoResponseUrl("unknown RequestType".into())),
        };
        Ok(Request {
            request_type,
            envelope,
            properties,
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
        assert_eq!(u.properties.unwrap().target_version, Some(8));
        // An Update carries the properties it replaces, though they are
        // never read.
        let mut no_old = fixture("update.json");
        no_old
            .as_object_mut()
            .unwrap()
            .remove("OldResourceProperties");
        assert!(matches!(
            Request::parse(no_old),
            Err(RequestError::Malformed { .. })
        ));
        let d = Request::parse(fixture("delete.json")).unwrap();
        assert_eq!(d.request_type, RequestType::Delete);
        assert!(d.envelope.physical_resource_id.is_some());
    }

    #[test]
    fn properties_that_are_wrong_leave_the_request_answerable() {
        let mut v = fixture("delete.json");
        v["ResourceProperties"]["TargetVerison"] = "3".into();
        let d = Request::parse(v).unwrap();
        assert_eq!(d.request_type, RequestType::Delete);
        assert!(matches!(
            d.properties,
            Err(PropsError::Unknown { ref name }) if name == "TargetVerison"
        ));
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
