use clap::Parser;
use schemagate::log_filter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .finish()
        .with(log_filter::from_env("SCHEMAGATE_LOG", tracing::Level::WARN))
        .init();
    // Usage errors are printed with credentials redacted (clap's own
    // rendering would quote a URL given in the wrong place as it is).
    let cli = match schemagate::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => std::process::exit(schemagate::cli::usage_error(e)),
    };
    let code = schemagate::cli::main(cli).await;
    std::process::exit(code);
}
