//! The app stack's resource (`Action=end-maintenance`): CloudFormation
//! updates it after the new groups are in service (it depends on them and
//! carries the schema version), and the handler takes the maintenance page
//! down. It never touches the database.
//!
//! It always answers SUCCESS: a FAILED here would roll the app stack back
//! to the old release, whose groups are drained — the page staying up is
//! the lesser harm, and the Reason and the log say how to remove it.

use crate::cfn::{Request, RequestType, Response};
use crate::props::Maintenance;

use super::reason::page_taken_down;
use super::service::Handler;

impl Handler {
    /// Take the page down on Create, Update and Delete alike (a deleted
    /// app stack leaves no rule behind).
    pub(super) async fn end_maintenance(&self, request: &Request, m: &Maintenance) -> Response {
        let id = request
            .envelope
            .physical_resource_id
            .clone()
            .unwrap_or_else(|| format!("schemagate:maintenance:{}", m.listener_arn));
        let down = self.drainer().await.take_page_down(&m.listener_arn).await;
        let reason = page_taken_down(&down);
        if down.is_err() {
            tracing::error!(%reason, "the maintenance page stays up");
        }
        let reason = match request.request_type {
            RequestType::Delete => format!("deleted: {reason}"),
            _ => reason,
        };
        Response::success(id, reason, Default::default())
    }
}
