//! The protocol shell around [`Handler::deploy`] (as the CDK provider
//! framework's `cfn-response` wraps `onEvent`): read the request, keep the
//! deadline with a watchdog, turn a panic into FAILED, and PUT exactly one
//! response.
//!
//! Domain failures are FAILED responses, not `Err`: the only `Err` is a
//! response that could not be delivered (Lambda then retries the whole
//! invocation, which is idempotent), or an event with nowhere to answer.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::time::Instant;

use futures_util::FutureExt;
use serde_json::Value;

use crate::cfn::{self, Envelope, Request, RequestError, RequestType, Response};
use crate::db::ConnectOptions;
use crate::deadline::Deadline;
use crate::props::Action;

use super::outcome::{DeployError, Outcome};
use super::reason;
use super::service::Handler;
use super::watch::Watch;

/// The handler was unable to answer CloudFormation.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Send(#[from] cfn::SendError),
}

/// What the work came to: its result, or the panic that ended it.
type Ended = Result<Result<Outcome, DeployError>, Box<dyn Any + Send>>;

impl Handler {
    /// Answer one request by `deadline`; `None` = the configured budget.
    pub async fn handle(
        &self,
        event: Value,
        deadline: Option<Instant>,
    ) -> Result<Response, HandlerError> {
        let deadline = Deadline::after(match deadline {
            Some(end) => end.saturating_duration_since(Instant::now()),
            None => self.config.budget,
        });
        self.answer(event, deadline).await
    }

    /// Answer one request by `deadline`: exactly one response is PUT.
    pub async fn answer(&self, event: Value, deadline: Deadline) -> Result<Response, HandlerError> {
        let request = match Request::parse(event) {
            Ok(r) => r,
            Err(RequestError::Malformed { envelope, message }) => {
                tracing::error!(error = %message, "malformed request");
                let id = envelope
                    .physical_resource_id
                    .clone()
                    .unwrap_or_else(|| fallback_id(&envelope));
                let response = Response::failed(id, reason::malformed(&message));
                self.deliver(&envelope, &response).await?;
                return Ok(response);
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot answer: no ResponseURL in the event");
                return Err(e.into());
            }
        };
        let env = &request.envelope;
        tracing::info!(
            request_type = ?request.request_type,
            request_id = %env.request_id,
            stack_id = %env.stack_id,
            logical_resource_id = %env.logical_resource_id,
            response_url = %cfn::redact_url(&env.response_url),
            "request"
        );
        let end_maintenance = match &request.properties {
            Ok(p) if p.action == Action::EndMaintenance => p.maintenance.as_ref(),
            _ => None,
        };
        let response = match (end_maintenance, request.request_type) {
            (Some(m), _) => self.end_maintenance(&request, m).await,
            (None, RequestType::Delete) => Response::success(
                physical_id(&request, None),
                reason::DELETED.into(),
                Default::default(),
            ),
            (None, RequestType::Create | RequestType::Update) => {
                self.watched(&request, deadline).await
            }
        };
        match response.status {
            cfn::Status::Success => {
                tracing::info!(reason = %response.reason, data = ?response.data, "SUCCESS")
            }
            cfn::Status::Failed => tracing::error!(reason = %response.reason, "FAILED"),
        }
        self.deliver(env, &response).await?;
        Ok(response)
    }

    /// Run [`Handler::deploy`] under a watchdog that answers FAILED a
    /// margin before the deadline, naming what was in progress.
    async fn watched(&self, request: &Request, deadline: Deadline) -> Response {
        let watchdog = deadline.watchdog();
        let watch = Watch::default();
        let mut work =
            pin!(AssertUnwindSafe(self.deploy(request, watchdog, &watch)).catch_unwind());
        tokio::select! {
            ended = &mut work => respond(request, ended),
            _ = tokio::time::sleep_until(watchdog.end().into()) => {
                let id = physical_id(request, watch.target().as_ref());
                let timed_out = reason::timed_out(&watch.timed_out(deadline.elapsed(), deadline.left()));
                // The server stops the running statement about now
                // (`max_statement_time` ends at the watchdog): a moment for
                // the engine to record the outcome itself, so a stopped
                // first statement leaves no failed migration on record to
                // refuse the rollback that follows.
                match tokio::time::timeout(deadline.margin() / 4, &mut work).await {
                    Ok(Ok(Err(e))) => Response::failed(id, reason::then_stopped(&timed_out, &e)),
                    Ok(ended) => respond(request, ended),
                    Err(_) => Response::failed(id, timed_out),
                }
            }
        }
    }

    async fn deliver(&self, env: &Envelope, response: &Response) -> Result<(), cfn::SendError> {
        let body = response.body(env);
        cfn::send(self.http(), &env.response_url, body, self.config.response_attempts).await.inspect_err(|e| {
            tracing::error!(error = %e, "the response could not be delivered; CloudFormation will wait for it")
        })
    }
}

fn respond(request: &Request, ended: Ended) -> Response {
    match ended {
        Ok(Ok(o)) => Response::success(
            physical_id(request, Some(&o.target)),
            reason::success(&o),
            o.data(),
        ),
        Ok(Err(e)) => Response::failed(physical_id(request, e.target()), reason::failure(&e)),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Response::failed(physical_id(request, None), reason::panicked(&what))
        }
    }
}

/// The physical id: stable, from the database identity (no credentials).
/// An Update always keeps the id it was given, so it never becomes a
/// replacement.
fn physical_id(request: &Request, target: Option<&ConnectOptions>) -> String {
    if let Some(id) = &request.envelope.physical_resource_id {
        return id.clone();
    }
    match target {
        Some(t) => format!("schemagate:{t}"),
        None => fallback_id(&request.envelope),
    }
}

fn fallback_id(env: &Envelope) -> String {
    format!("schemagate:unresolved:{}", env.logical_resource_id)
}

#[cfg(test)]
#[path = "shell_tests.rs"]
mod tests;
