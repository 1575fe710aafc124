use clap::Parser;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SCHEMAGATE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
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
