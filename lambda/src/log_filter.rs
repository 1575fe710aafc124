//! The log filter of both mains: `RUST_LOG`-style directives
//! (`info`, `schemagate=debug,sqlx=warn`) read from one variable.
//!
//! `tracing_subscriber::filter::Targets` rather than `EnvFilter`: it takes
//! the same level and `target=level` directives, without `EnvFilter`'s
//! span and field filters, whose regex engine made the Lambda larger (#11).

use tracing_subscriber::filter::Targets;

/// The directives in `var`, or `default` when it is unset, empty or not
/// directives (a filter is never a reason not to start).
pub fn from_env(var: &str, default: tracing::Level) -> Targets {
    parse(std::env::var(var).ok().as_deref(), default)
}

fn parse(value: Option<&str>, default: tracing::Level) -> Targets {
    value
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(default))
}

#[cfg(test)]
mod tests {
    use tracing::Level;
    use tracing_subscriber::filter::LevelFilter;

    use super::parse;

    #[test]
    fn directives_default_and_garbage() {
        let t = parse(Some("schemagate=debug,sqlx=warn,info"), Level::WARN);
        assert!(t.would_enable("schemagate::migrate", &Level::DEBUG));
        assert!(!t.would_enable("sqlx::query", &Level::INFO));
        assert!(t.would_enable("hyper", &Level::INFO));
        assert_eq!(
            parse(None, Level::WARN).default_level(),
            Some(LevelFilter::WARN)
        );
        assert_eq!(
            parse(Some(" "), Level::INFO).default_level(),
            Some(LevelFilter::INFO)
        );
        assert_eq!(
            parse(Some("[span{x}]=oops"), Level::INFO).default_level(),
            Some(LevelFilter::INFO)
        );
    }
}
