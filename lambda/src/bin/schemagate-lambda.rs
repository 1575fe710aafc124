use std::sync::Arc;

use lambda_runtime::{service_fn, LambdaEvent};
use schemagate::handler::{Config, Handler};
use schemagate::log_filter;
use schemagate::secrets::SecretsManager;
use serde_json::Value;
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
    let aws = aws_config::load_from_env().await;
    let handler = Arc::new(
        Handler::new(config, Arc::new(SecretsManager::new(&aws)))
            .with_autoscaling(aws_sdk_autoscaling::Client::new(&aws)),
    );
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
