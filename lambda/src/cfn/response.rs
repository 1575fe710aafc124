//! The response body: JSON of at most 4096 bytes. When it would be larger
//! the `Reason` is cut (on a character boundary, marked with `…`), never the
//! JSON.

use std::collections::HashMap;

use aws_lambda_events::event::cloudformation::{
    CloudFormationCustomResourceResponse, CloudFormationCustomResourceResponseStatus,
};

use super::request::Envelope;

/// CloudFormation's limit for the whole response body.
pub const MAX_BODY: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: Status,
    pub reason: String,
    pub physical_resource_id: String,
    pub data: HashMap<String, String>,
}

impl Response {
    pub fn success(
        physical_resource_id: String,
        reason: String,
        data: HashMap<String, String>,
    ) -> Self {
        Response {
            status: Status::Success,
            reason,
            physical_resource_id,
            data,
        }
    }

    pub fn failed(physical_resource_id: String, reason: String) -> Self {
        Response {
            status: Status::Failed,
            reason,
            physical_resource_id,
            data: HashMap::new(),
        }
    }

    /// The JSON body for `envelope`, at most [`MAX_BODY`] bytes.
    pub fn body(&self, envelope: &Envelope) -> String {
        let mut r = CloudFormationCustomResourceResponse::default();
        r.status = match self.status {
            Status::Success => CloudFormationCustomResourceResponseStatus::Success,
            Status::Failed => CloudFormationCustomResourceResponseStatus::Failed,
        };
        r.physical_resource_id = self.physical_resource_id.clone();
        r.stack_id = envelope.stack_id.clone();
        r.request_id = envelope.request_id.clone();
        r.logical_resource_id = envelope.logical_resource_id.clone();
        r.data = self.data.clone();
        r.reason = Some(self.reason.clone());
        let full = serde_json::to_string(&r).expect("a response serializes");
        if full.len() <= MAX_BODY {
            return full;
        }
        // The longest prefix of the reason (on a char boundary) whose body
        // fits: JSON escaping makes bytes in memory and in the body differ,
        // so search rather than compute.
        let render = |keep: usize, r: &mut CloudFormationCustomResourceResponse| {
            r.reason = Some(format!("{}…", &self.reason[..keep]));
            serde_json::to_string(r).expect("a response serializes")
        };
        let (mut lo, mut hi) = (0usize, self.reason.len());
        while lo < hi {
            let mut mid = (lo + hi).div_ceil(2);
            while !self.reason.is_char_boundary(mid) {
                mid -= 1;
            }
            if mid <= lo {
                break;
            }
            if render(mid, &mut r).len() <= MAX_BODY {
                lo = mid;
            } else {
                hi = mid - 1;
                while !self.reason.is_char_boundary(hi) {
                    hi -= 1;
                }
            }
        }
        render(lo, &mut r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> Envelope {
        Envelope {
            response_url: "https://bucket.s3.amazonaws.com/x?sig=1".into(),
            stack_id: "arn:aws:cloudformation:eu-west-1:123456789012:stack/data/1".into(),
            request_id: "req-1".into(),
            logical_resource_id: "Schema".into(),
            physical_resource_id: None,
        }
    }

    #[test]
    fn body_has_the_protocol_fields() {
        let mut data = HashMap::new();
        data.insert("SchemaVersion".to_string(), "7".to_string());
        let body = Response::success("schemagate:db".into(), "ok".into(), data).body(&envelope());
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["Status"], "SUCCESS");
        assert_eq!(v["PhysicalResourceId"], "schemagate:db");
        assert_eq!(v["RequestId"], "req-1");
        assert_eq!(v["LogicalResourceId"], "Schema");
        assert_eq!(v["StackId"], envelope().stack_id);
        assert_eq!(v["Data"]["SchemaVersion"], "7");
        assert_eq!(v["Reason"], "ok");
    }

    #[test]
    fn a_huge_reason_is_cut_and_the_json_stays_valid() {
        for unit in ["x", "é", "\"", "\n", "🦀", "\u{1}"] {
            let reason = unit.repeat(100_000);
            let body = Response::failed("id".into(), reason).body(&envelope());
            assert!(body.len() <= MAX_BODY, "{unit:?}: {}", body.len());
            assert!(
                body.len() > MAX_BODY - 16,
                "{unit:?}: cut too much: {}",
                body.len()
            );
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["Status"], "FAILED");
            assert!(v["Reason"].as_str().unwrap().ends_with('…'));
        }
    }
}
