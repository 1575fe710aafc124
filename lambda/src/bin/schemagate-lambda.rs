use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use schemagate::handler::{Config, Handler};
use schemagate::log_filter;
use schemagate::secrets::SecretsManager;
use serde_json::Value;

// The handler turns a panic into a FAILED response (catch_unwind): a build
// that aborts on panic would leave CloudFormation waiting for an answer
// until its timeout. `cargo lambda build --release` adds panic = "abort"
// to a profile that does not say (bench/lambda.md, #11).
#[cfg(not(panic = "unwind"))]
compile_error!(
    "schemagate-lambda must be built with panic = \"unwind\" (see [profile.release] in Cargo.toml)"
);
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .without_time()
        .finish()
        .with(log_filter::from_env("RUST_LOG", tracing::Level::INFO))
        .init();
    let config = Config::from_env()?;
    // The AWS clients (Secrets Manager, Auto Scaling) and the response's
    // HTTP client are made on first use, so the first request to the
    // runtime API goes out before any AWS config or CA file is read (#11).
    let handler = Arc::new(Handler::new(config, Arc::new(SecretsManager::from_env())));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = handler.clone();
        async move {
            let deadline = handler.deadline(event.context.deadline);
            handler
                .answer(event.payload, deadline)
                .await
                .map(|r| serde_json::json!({"Status": format!("{:?}", r.status)}))
                .map_err(|e| lambda_runtime::Error::from(e.to_string()))
        }
    }))
    .await
}
