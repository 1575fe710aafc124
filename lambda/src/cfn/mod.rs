//! The CloudFormation custom resource protocol: the request ([`request`]),
//! the response body and its size rule ([`response`]), and delivering it to
//! the presigned `ResponseURL` ([`send`]).

pub mod request;
pub mod response;
pub mod send;

pub use request::{Envelope, Request, RequestError, RequestType};
pub use response::{Response, Status, MAX_BODY};
pub use send::{redact_url, send, SendError};
