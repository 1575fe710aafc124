//! The CLI: the same engine as the Lambda, from a laptop or CI.
//!
//! Exit codes: 0 done; 1 a migration failed while running; 2 bad usage;
//! 3 the database, the secret or the lock could not be had; 4 refused before
//! running anything (history, files or target are wrong, or a statement that
//! can never run under schemagate); 5 `lint` found a breaking (or
//! unreadable) migration that is not marked, or one that would be refused.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::db::{Conn, ConnectOptions, Kind, SslMode};
use crate::lint::{self, report, MigrationLint};
use crate::migrate::{
    self, apply, Direction, MigrationSet, Plan, Report, Step, StepOutcome, Target,
};
use crate::secrets::{RdsSecret, SecretSource, SecretsManager};
use crate::Error;

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
    #[arg(long, env = "SCHEMAGATE_SECRET_ARN", global = true)]
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
    /// Seconds to wait for another run's migration lock.
    #[arg(long, default_value_t = 60, global = true)]
    pub lock_timeout: u64,
    /// Seconds one DDL statement may wait for a metadata lock before it is retried.
    #[arg(long, default_value_t = 10, global = true)]
    pub lock_wait: u64,
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
    /// Apply pending migrations.
    Up {
        /// Stop at this version (default: the latest in the folder).
        #[arg(long, value_name = "V")]
        to: Option<i64>,
    },
    /// Revert applied migrations down to a version (0 = all).
    Down {
        #[arg(long, value_name = "V")]
        to: i64,
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
}

/// Exit code of `lint` when a breaking or unreadable migration is not
/// marked, or a migration would be refused whatever its marker.
pub const EXIT_UNMARKED_BREAKING: i32 = 5;

/// Run the CLI; returns the process exit code.
pub async fn main(cli: Cli) -> i32 {
    let json = cli.global.json;
    if let Command::Lint { since, dialect } = &cli.command {
        return match lint_command(&cli.global, *since, dialect.as_deref()).await {
            Ok(code) => code,
            Err(e) => {
                if json {
                    println!(
                        "{}",
                        json!({"ok": false, "error": e.to_string(), "exit_code": e.exit_code()})
                    );
                } else {
                    eprintln!("schemagate: error: {e}");
                }
                e.exit_code()
            }
        };
    }
    match dispatch(cli).await {
        Ok(()) => 0,
        Err(e) => {
            if json {
                let out = json!({"ok": false, "error": e.to_string(), "exit_code": e.exit_code()});
                println!("{out}");
            } else {
                eprintln!("schemagate: error: {e}");
            }
            e.exit_code()
        }
    }
}

async fn connect_options(g: &Global) -> Result<ConnectOptions, Error> {
    let opts = match (&g.database_url, &g.secret_arn) {
        (_, Some(arn)) => {
            let aws = aws_config::load_from_env().await;
            let text = SecretsManager::new(&aws).get(arn).await?;
            RdsSecret::parse(arn, &text)?.connect_options(
                arn,
                g.database_name.as_deref(),
                Kind::MariaDb,
            )?
        }
        (Some(url), None) => {
            let o = ConnectOptions::from_url(url)?;
            match &g.database_name {
                Some(d) => o.with_database(d),
                None => o,
            }
        }
        (None, None) => {
            return Err(Error::Db(crate::DbError::Url(
                "no database given: pass --database-url (or set DATABASE_URL) or --secret-arn"
                    .into(),
            )))
        }
    };
    Ok(opts.with_ssl(g.ssl_mode, g.ssl_ca.clone()))
}

async fn dispatch(cli: Cli) -> Result<(), Error> {
    let g = &cli.global;
    let set = MigrationSet::load(&g.migrations)?;
    let opts = connect_options(g).await?;
    let mut conn = Conn::connect(&opts, Duration::from_secs(g.connect_wait)).await?;
    let result = command(&cli, &set, &mut conn).await;
    conn.close().await;
    result
}

async fn command(cli: &Cli, set: &MigrationSet, conn: &mut Conn) -> Result<(), Error> {
    let g = &cli.global;
    let target = conn.target().to_string();
    match cli.command {
        Command::Status => {
            let history = conn.history().await?.unwrap_or_default();
            let planned = migrate::plan(set, &history, Target::Latest, g.baseline);
            print_status(g.json, &target, set, &history, &planned);
            planned.map(|_| ()).map_err(Error::from)
        }
        Command::Plan { to } => {
            let (_, p) = apply::inspect(
                conn,
                set,
                to.map_or(Target::Latest, Target::Version),
                g.baseline,
            )
            .await?;
            let pending: Vec<i64> = p
                .steps
                .iter()
                .filter(|s| s.direction == Direction::Up)
                .map(|s| s.version)
                .collect();
            let lints = lint::lint(set, conn.kind(), &pending);
            // `up` would refuse before running anything: say so, exit 4.
            let refused = lint::refusals(set, conn.kind(), &p.steps);
            if !(g.json && refused.is_err()) {
                print_plan(g.json, &target, &p, &lints);
            }
            refused.map_err(Error::from)
        }
        Command::Up { to } => {
            run(
                g,
                set,
                conn,
                to.map_or(Target::Latest, Target::Version),
                &target,
            )
            .await
        }
        Command::Down { to } => run(g, set, conn, Target::Version(to), &target).await,
        Command::Lint { .. } => unreachable!("handled before connecting"),
    }
}

/// `schemagate lint`: returns the exit code (0, or 5 for unmarked breaking
/// migrations) after printing the findings.
async fn lint_command(g: &Global, since: Option<i64>, dialect: Option<&str>) -> Result<i32, Error> {
    let set = MigrationSet::load(&g.migrations)?;
    let named = match dialect.map(str::to_ascii_lowercase).as_deref() {
        None => None,
        Some("mariadb" | "mysql") => Some(Kind::MariaDb),
        Some("postgres" | "postgresql") => Some(Kind::Postgres),
        Some(other) => {
            return Err(Error::Db(crate::DbError::Url(format!(
                "unknown dialect `{other}`; use `mariadb` (also for MySQL) or `postgres`"
            ))))
        }
    };
    let has_db = g.database_url.is_some() || g.secret_arn.is_some();
    let (kind, lints, scope) = match (since, has_db) {
        (Some(v), _) => {
            let kind = named
                .or_else(|| g.database_url.as_deref().and_then(url_kind))
                .unwrap_or(Kind::MariaDb);
            (
                kind,
                lint::lint(&set, kind, &lint::after(&set, v)),
                format!("migrations above version {v}"),
            )
        }
        (None, true) => {
            let opts = connect_options(g).await?;
            let mut conn = Conn::connect(&opts, Duration::from_secs(g.connect_wait)).await?;
            let planned = apply::inspect(&mut conn, &set, Target::Latest, g.baseline).await;
            let kind = conn.kind();
            let target = conn.target().to_string();
            conn.close().await;
            let (_, p) = planned?;
            let pending: Vec<i64> = p
                .steps
                .iter()
                .filter(|s| s.direction == Direction::Up)
                .map(|s| s.version)
                .collect();
            (
                kind,
                lint::lint(&set, kind, &pending),
                format!(
                    "migrations pending on {target} (at version {})",
                    p.current.unwrap_or(0)
                ),
            )
        }
        (None, false) => {
            let kind = named.unwrap_or(Kind::MariaDb);
            (kind, lint::lint_each(&set, kind), "every migration, each on top of the ones before it (pass --since V to lint a release)".into())
        }
    };
    let s = report::summary(&lints);
    let code = if s.fails() { EXIT_UNMARKED_BREAKING } else { 0 };
    if g.json {
        let mut doc = report::json(&lints);
        doc["dialect"] = json!(match kind {
            Kind::MariaDb => "mariadb",
            Kind::Postgres => "postgres",
        });
        doc["since"] = json!(since);
        doc["scope"] = json!(scope);
        doc["exit_code"] = json!(code);
        println!("{doc}");
    } else {
        print!("{}", report::text(&lints));
        println!("schemagate lint: {scope}: {}", s.line());
        if s.refused > 0 {
            eprintln!(
                "schemagate: error: {} migration{} refused: {} a statement that breaks the run itself, which no marker, drain target or AllowBreaking lets run; change {} as each finding's fix says",
                s.refused,
                if s.refused == 1 { " is" } else { "s are" },
                if s.refused == 1 { "it holds" } else { "each holds" },
                if s.refused == 1 { "it" } else { "them" },
            );
        }
        if s.unmarked > 0 {
            eprintln!(
                "schemagate: error: {} breaking migration{} not marked: mark {} \"-- schemagate: contract\" (the running release no longer uses what it changes) or \"-- schemagate: breaking\" (deploy with a drain target), or change {}",
                s.unmarked,
                if s.unmarked == 1 { " is" } else { "s are" },
                if s.unmarked == 1 { "it" } else { "each" },
                if s.unmarked == 1 { "it" } else { "them" },
            );
        }
    }
    Ok(code)
}

fn url_kind(url: &str) -> Option<Kind> {
    ConnectOptions::from_url(url).ok().map(|o| o.kind())
}

async fn run(
    g: &Global,
    set: &MigrationSet,
    conn: &mut Conn,
    target: Target,
    shown: &str,
) -> Result<(), Error> {
    let opts = apply::Options {
        init_sql: g.init_sql.clone(),
        baseline: g.baseline,
        lock_timeout: Duration::from_secs(g.lock_timeout.max(1)),
        lock_wait: Duration::from_secs(g.lock_wait.max(1)),
        deadline: None,
    };
    let printer: Arc<dyn migrate::Progress> = if g.json {
        Arc::new(())
    } else {
        Arc::new(Lines)
    };
    if !g.json {
        println!("schemagate: {shown}");
    }
    let started = Instant::now();
    match migrate::run(conn, set, target, &opts, printer.as_ref()).await {
        Ok(report) => {
            if g.json {
                println!("{}", report_json(shown, &report, None));
            } else {
                println!("schemagate: {}", report.summary());
            }
            Ok(())
        }
        Err(Error::Apply(e)) => {
            if g.json {
                println!("{}", report_json(shown, &e.done, Some(&e.to_string())));
                // Already printed as JSON; keep the exit code.
                std::process::exit(1);
            }
            eprintln!(
                "  FAILED    {}  after {}",
                e.failed.name,
                apply::secs(started.elapsed())
            );
            Err(Error::Apply(e))
        }
        Err(e) => Err(e),
    }
}

struct Lines;

impl migrate::Progress for Lines {
    fn started(&self, _step: &Step) {}
    fn finished(&self, o: &StepOutcome) {
        let verb = match o.step.direction {
            Direction::Up => "applied",
            Direction::Down => "reverted",
            Direction::Baseline => "baselined",
        };
        println!(
            "  {verb:<9} {:<50} {:>8}",
            o.step.name,
            apply::secs(o.duration)
        );
        let _ = std::io::stdout().flush();
    }
}

fn direction(d: Direction) -> &'static str {
    match d {
        Direction::Up => "up",
        Direction::Down => "down",
        Direction::Baseline => "baseline",
    }
}

fn report_json(database: &str, r: &Report, error: Option<&str>) -> serde_json::Value {
    json!({
        "ok": error.is_none(),
        "database": database,
        "from": r.from,
        "to": r.to,
        "applied": r.count(Direction::Up),
        "reverted": r.count(Direction::Down),
        "baselined": r.count(Direction::Baseline),
        "elapsed_ms": (r.elapsed.as_secs_f64() * 1e6).round() / 1e3,
        "steps": r.steps.iter().map(|s| json!({
            "version": s.step.version,
            "name": s.step.name,
            "direction": direction(s.step.direction),
            "ms": s.duration.as_millis() as u64,
        })).collect::<Vec<_>>(),
        "error": error,
    })
}

fn print_plan(json_out: bool, database: &str, p: &Plan, lints: &[MigrationLint]) {
    let lint_of = |v: i64| lints.iter().find(|l| l.version == v);
    if json_out {
        println!(
            "{}",
            json!({
                "database": database,
                "current": p.current,
                "target": p.target,
                "steps": p.steps.iter().map(|s| {
                    let mut step = json!({"version": s.version, "name": s.name, "direction": direction(s.direction)});
                    if let Some(l) = lint_of(s.version).filter(|_| s.direction == Direction::Up) {
                        step["lint"] = report::migration_json(l);
                    }
                    step
                }).collect::<Vec<_>>(),
                "lint": report::json(lints)["summary"],
            })
        );
        return;
    }
    println!(
        "schemagate: {database} at version {} → {}",
        p.current.unwrap_or(0),
        p.target
    );
    if p.is_empty() {
        println!("  nothing to do");
    }
    for s in &p.steps {
        let verb = match s.direction {
            Direction::Up => "apply",
            Direction::Down => "revert",
            Direction::Baseline => "baseline",
        };
        match lint_of(s.version).filter(|_| s.direction == Direction::Up) {
            Some(l) => println!("  {verb:<9} {:<50} {}", s.name, report::one_line(l)),
            None => println!("  {verb:<9} {}", s.name),
        }
    }
    if lints.iter().any(|l| !l.findings.is_empty()) {
        for l in lints {
            for f in &l.findings {
                println!("{}", l.diagnostic(f));
            }
        }
    }
    if !lints.is_empty() {
        println!("lint: {}", report::summary(lints).line());
    }
}

fn print_status(
    json_out: bool,
    database: &str,
    set: &MigrationSet,
    history: &[migrate::Applied],
    planned: &Result<Plan, migrate::PlanError>,
) {
    let applied: std::collections::BTreeMap<i64, &migrate::Applied> =
        history.iter().map(|a| (a.version, a)).collect();
    let current = history
        .iter()
        .filter(|a| a.success)
        .map(|a| a.version)
        .max();
    let mut rows = Vec::new();
    for f in &set.files {
        let state = match applied.get(&f.version) {
            Some(a) if !a.success => "FAILED",
            Some(a) if a.checksum != f.up.checksum => "EDITED",
            Some(_) => "applied",
            None => "pending",
        };
        let ms = applied
            .get(&f.version)
            .map(|a| a.execution_time_ns.max(0) / 1_000_000);
        rows.push((f.version, f.name(), state, ms));
    }
    for a in history.iter().filter(|a| set.get(a.version).is_none()) {
        rows.push((
            a.version,
            format!("{} {}", a.version, a.description),
            "MISSING",
            None,
        ));
    }
    rows.sort_by_key(|r| r.0);
    if json_out {
        println!(
            "{}",
            json!({
                "database": database,
                "version": current,
                "latest": set.latest(),
                "ok": planned.is_ok(),
                "problem": planned.as_ref().err().map(|e| e.to_string()),
                "migrations": rows.iter().map(|(v, n, s, ms)| json!({"version": v, "name": n, "state": s, "ms": ms})).collect::<Vec<_>>(),
            })
        );
        return;
    }
    println!(
        "schemagate: {database} at version {} (latest in {}: {})",
        current.unwrap_or(0),
        set.dir.display(),
        set.latest().unwrap_or(0)
    );
    for (_, name, state, ms) in &rows {
        match ms {
            Some(ms) => println!("  {state:<9} {name:<50} {ms:>6} ms"),
            None => println!("  {state:<9} {name}"),
        }
    }
}
