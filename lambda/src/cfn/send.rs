//! Delivering the response: a PUT of the JSON body with an empty
//! `Content-Type` (the presigned URL is signed without one), retried on
//! connection errors and 5xx with exponential backoff.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{HeaderValue, CONTENT_TYPE};

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the response to `{url}` was refused with HTTP {status}: {body}")]
    Refused {
        url: String,
        status: u16,
        body: String,
    },
    #[error("the response to `{url}` could not be delivered: {message}")]
    Network { url: String, message: String },
}

impl SendError {
    fn transient(&self) -> bool {
        match self {
            SendError::Refused { status, .. } => *status >= 500 || *status == 429,
            SendError::Network { .. } => true,
        }
    }
}

/// `https://host/path` without the query string (it holds the signature).
pub fn redact_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => url.to_string(),
    }
}

/// PUT `body` to `url`, retrying transient failures up to `attempts` times.
pub async fn send(
    client: &reqwest::Client,
    url: &str,
    body: String,
    attempts: usize,
) -> Result<(), SendError> {
    let shown = redact_url(url);
    let once = || async {
        let res = client
            .put(url)
            .header(CONTENT_TYPE, HeaderValue::from_static(""))
            .body(body.clone())
            .timeout(Duration::from_secs(20))
            .send()
            .await
            .map_err(|e| SendError::Network {
                url: shown.clone(),
                message: chain(&e.without_url()),
            })?;
        let status = res.status();
        if status.is_success() {
            Ok(())
        } else {
            let text = res.text().await.unwrap_or_default();
            Err(SendError::Refused {
                url: shown.clone(),
                status: status.as_u16(),
                body: text.chars().take(300).collect(),
            })
        }
    };
    once.retry(
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(5))
            .with_max_times(attempts.saturating_sub(1))
            .with_jitter(),
    )
    .when(SendError::transient)
    .notify(|e, d| tracing::warn!(error = %e, retry_in_ms = d.as_millis() as u64, "response not delivered; retrying"))
    .await
}

/// An error and its causes. Called on reqwest errors stripped of their URL
/// (which would carry the signature).
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        parts.push(s.to_string());
        cur = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_never_shown() {
        assert_eq!(
            redact_url(
                "https://b.s3.amazonaws.com/arn%3A/x?X-Amz-Signature=abc&X-Amz-Credential=k"
            ),
            "https://b.s3.amazonaws.com/arn%3A/x?…"
        );
    }
}
