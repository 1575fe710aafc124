//! The command line: its flags, with their defaults from
//! [`crate::defaults`], and how a usage error is shown.

use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::db::SslMode;
use crate::props::Drain;
use crate::{defaults, migrate, redact};

#[derive(Debug, Parser)]
#[command(
    name = "schemagate",
    version,
    about = "Apply, plan and revert schema migrations (sqlx file naming) on MariaDB/MySQL and PostgreSQL"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Database URL: mysql://user:pass@host:3306/db, mariadb://…, postgres://…
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Read credentials from this RDS-format secret in Secrets Manager instead.
    #[arg(long, env = "SCHEMAGATE_SECRET_ARN", global = true, value_parser = secret_id)]
    pub secret_arn: Option<String>,
    /// Override the database name from the URL or the secret.
    #[arg(long, global = true)]
    pub database_name: Option<String>,
    /// Migrations folder.
    #[arg(
        long = "migrations",
        env = "SCHEMAGATE_MIGRATIONS_DIR",
        default_value = "migrations",
        global = true
    )]
    pub migrations: PathBuf,
    /// SQL run on the session before anything else (repeatable).
    #[arg(long = "init-sql", global = true)]
    pub init_sql: Vec<String>,
    /// Adopt an existing database: record versions up to V as applied without running them.
    #[arg(long, value_name = "V", global = true)]
    pub baseline: Option<i64>,
    /// Do not adopt a database Alembic made from its `alembic_version`
    /// (by default, an empty history starts at the imported migration of
    /// the revision it holds).
    #[arg(long, global = true)]
    pub no_adopt_alembic: bool,
    /// Seconds to wait for another run's migration lock.
    #[arg(long, default_value_t = defaults::LOCK_TIMEOUT.as_secs(), global = true)]
    pub lock_timeout: u64,
    /// Seconds one DDL statement may wait for a metadata lock (held by a
    /// long app transaction) before it gives way and is retried, with
    /// backoff, until the deadline. Fractions allowed (`0.5`); MariaDB waits
    /// in whole seconds, so it waits at least 1.
    #[arg(long, value_name = "S", default_value = LOCK_WAIT.as_str(), value_parser = seconds, global = true)]
    pub lock_wait: Duration,
    /// Seconds the whole run may take. The server stops a statement at the
    /// deadline and lock waits stop retrying; if the server does not answer,
    /// the CLI gives up shortly after (exit 3), saying what was in progress.
    #[arg(long, value_name = "S", default_value = RUN_TIMEOUT.as_str(), value_parser = seconds, global = true)]
    pub timeout: Duration,
    /// Seconds one connection attempt (TCP, TLS, handshake, login) may take.
    #[arg(long, value_name = "S", default_value = CONNECT_TIMEOUT.as_str(), value_parser = seconds, global = true)]
    pub connect_timeout: Duration,
    /// Seconds to wait for a database that is still starting.
    #[arg(long, default_value_t = 0, global = true)]
    pub connect_wait: u64,
    /// TLS: disabled, preferred, required, verify-ca, verify-full.
    #[arg(long, default_value = "preferred", global = true)]
    pub ssl_mode: SslMode,
    /// CA bundle for verify-ca / verify-full (e.g. the RDS global bundle).
    #[arg(long, global = true)]
    pub ssl_ca: Option<PathBuf>,
    /// One JSON document on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show applied and pending migrations.
    Status,
    /// Show what `up` (or `down`) would run, without running it.
    Plan {
        /// Version to reach (default: the latest in the folder).
        #[arg(long, value_name = "V")]
        to: Option<i64>,
    },
    /// Apply pending migrations. Unmarked breaking (or unknown) migrations
    /// are refused before anything runs (exit 5), as in the deploy, unless
    /// `--drain-tag` or `--allow-breaking` says how to meet them.
    Up {
        /// Stop at this version (default: the latest in the folder).
        #[arg(long, value_name = "V")]
        to: Option<i64>,
        #[command(flatten)]
        gate: GateArgs,
    },
    /// Revert applied migrations down to a version (0 = all). With
    /// `--drain-tag`, the groups drained before the reverted migrations get
    /// their capacity back once the old schema is back.
    Down {
        #[arg(long, value_name = "V")]
        to: i64,
        #[command(flatten)]
        gate: GateArgs,
    },
    /// Record how a migration recorded as failed was resolved by hand:
    /// `--as applied` (all of it is in the database now; records the
    /// current file's checksum) or `--as undone` (none of it is; the next
    /// `up` runs it from its first statement). Runs under the migration lock.
    Resolve {
        /// The version recorded as failed.
        #[arg(value_name = "V")]
        version: i64,
        /// What the database holds now.
        #[arg(long = "as", value_name = "OUTCOME")]
        outcome: Outcome,
    },
    /// Contract every online change that is expanded (MariaDB): drop its
    /// triggers and the old shape now, under the migration lock, instead of
    /// at the start of the next release's deploy. Only once no instance of
    /// the release before the change can run (docs/online-changes.md).
    Contract,
    /// For an instance of a release, at boot and from its health check: can
    /// the release built for schema version V run on the database's schema?
    /// Exit 0 while every migration applied above V is safe for V; 6 (with
    /// a one-line reason naming the migration) once one that breaks V is
    /// applied; 7 while the database is behind V. One short SELECT: a
    /// read-only user is enough; no migrations folder needed.
    Check {
        /// The schema version the release was built for (default:
        /// `SCHEMAGATE_SCHEMA_VERSION` from the environment or from --env-file).
        #[arg(long, value_name = "V", env = "SCHEMAGATE_SCHEMA_VERSION", value_parser = clap::value_parser!(i64).range(0..))]
        release_version: Option<i64>,
        /// The file holding `SCHEMAGATE_SCHEMA_VERSION=<v>` (the construct's
        /// gate() writes it in the launch template's user data).
        #[arg(
            long,
            value_name = "PATH",
            default_value = "/etc/schemagate/schema.env"
        )]
        env_file: PathBuf,
    },
    /// Classify migrations for the release that runs now: expand, breaking
    /// (exit 5 unless marked), blocking. Needs no database: with `--since V`
    /// the versions above V; with a database, its pending ones; with
    /// neither, each migration on top of the ones before it.
    Lint {
        /// The version deployed now: lint the migrations above it.
        #[arg(long, value_name = "V")]
        since: Option<i64>,
        /// SQL dialect when no database is given: mariadb (also mysql) or postgres.
        #[arg(long, value_name = "DIALECT")]
        dialect: Option<String>,
    },
    /// Write migrations from another tool's history (Alembic).
    #[command(subcommand)]
    Import(super::import_args::ImportFrom),
    /// Compare the schemas of two databases (exit 1 when they differ).
    Diff(super::import_args::DiffArgs),
}

/// How `up` and `down` meet breaking migrations (the deploy's `DrainTagKey`
/// / `DrainTagValue` and `AllowBreaking`).
#[derive(Debug, Clone, Default, Args)]
pub struct GateArgs {
    /// Apply breaking (or unknown) migrations that are not marked, with the
    /// old release running.
    #[arg(long)]
    pub allow_breaking: bool,
    /// Before a breaking migration, drain the Auto Scaling groups tagged
    /// KEY=VALUE (capacity kept in their `schemagate:saved-capacity` tag,
    /// scaled to 0, waited for), and give it back when the migration fails
    /// or `down` reverts it. AWS credentials from the usual chain.
    #[arg(long, value_name = "KEY=VALUE", value_parser = drain_tag)]
    pub drain_tag: Option<Drain>,
}

/// `--drain-tag KEY=VALUE`: a tag key and value, both non-empty.
impl Global {
    /// How a database with no history starts: `--baseline`, and whether
    /// its `alembic_version` is adopted.
    pub fn start(&self) -> crate::migrate::Start {
        crate::migrate::Start {
            baseline: self.baseline,
            adopt_alembic: !self.no_adopt_alembic,
        }
    }
}

fn drain_tag(s: &str) -> Result<Drain, String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => Ok(Drain {
            tag_key: k.trim().to_string(),
            tag_value: v.trim().to_string(),
        }),
        _ => Err(format!(
            "`{}` is not a tag: write it as KEY=VALUE (e.g. `schemagate:drain=shop-prod`)",
            redact::value(s)
        )),
    }
}

/// Exit code of `up` and `down` when the gate refuses unmarked breaking
/// migrations (nothing applied): the same as `lint`'s for the same finding.
pub const EXIT_REFUSED_BREAKING: i32 = EXIT_UNMARKED_BREAKING;

/// Exit code of `lint` when a breaking or unreadable migration is not
/// marked, or a migration would be refused whatever its marker.
pub const EXIT_UNMARKED_BREAKING: i32 = 5;

/// `resolve --as`: what the database holds of the failed migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Outcome {
    /// All of it (finished by hand, or a failed revert undone by hand).
    Applied,
    /// None of it (undone by hand, or a failed revert finished by hand).
    Undone,
}

impl From<Outcome> for migrate::ResolveAs {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Applied => migrate::ResolveAs::Applied,
            Outcome::Undone => migrate::ResolveAs::Undone,
        }
    }
}

/// Print a usage error of clap's with every value that may hold a
/// credential redacted (see [`redact::usage_error`]); returns its exit code:
/// 2, or 0 for `--help` and `--version`, which print as clap prints them.
pub fn usage_error(e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    let code = e.exit_code();
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
        }
        _ => err!("{}", redact::usage_error(e, "--database-url")),
    }
    code
}

/// `--secret-arn`: an ARN or a secret's name, never a URL (its credentials
/// would be shown back in the error that the secret does not exist).
fn secret_id(s: &str) -> Result<String, String> {
    if redact::looks_like_url(s) {
        return Err(
            "a secret is named by its ARN (`arn:aws:secretsmanager:…`) or its name, not a URL; give a database URL with --database-url".into(),
        );
    }
    Ok(s.to_string())
}

/// Seconds, fractions allowed: `0.5`, `10`, `3600`.
fn seconds(s: &str) -> Result<Duration, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
        .and_then(|v| Duration::try_from_secs_f64(v).ok())
        .ok_or_else(|| format!("`{s}` is not a number of seconds > 0 (e.g. `0.5`, `10`)"))
}

/// A default number of seconds as `--help` shows it (`0.5`, `3600`).
fn text(d: Duration) -> String {
    format!("{}", d.as_secs_f64())
}

static LOCK_WAIT: LazyLock<String> = LazyLock::new(|| text(defaults::LOCK_WAIT));
static RUN_TIMEOUT: LazyLock<String> = LazyLock::new(|| text(defaults::RUN_TIMEOUT));
static CONNECT_TIMEOUT: LazyLock<String> = LazyLock::new(|| text(defaults::CONNECT_TIMEOUT));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_flags_take_fractional_seconds_and_default_to_the_engines_values() {
        assert_eq!(seconds("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(seconds("10"), Ok(Duration::from_secs(10)));
        for bad in ["0", "-1", "abc", "inf", "NaN", ""] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
        let cli = Cli::try_parse_from(["schemagate", "status"]).unwrap();
        assert_eq!(cli.global.lock_wait, defaults::LOCK_WAIT);
        assert_eq!(cli.global.timeout, Duration::from_secs(3600));
        assert_eq!(cli.global.connect_timeout, defaults::CONNECT_TIMEOUT);
        assert_eq!(cli.global.lock_timeout, defaults::LOCK_TIMEOUT.as_secs());
        let cli =
            Cli::try_parse_from(["schemagate", "up", "--lock-wait", "1.5", "--timeout", "90"])
                .unwrap();
        assert_eq!(cli.global.lock_wait, Duration::from_millis(1500));
        assert_eq!(cli.global.timeout, Duration::from_secs(90));
    }
}
