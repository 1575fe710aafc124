//! The CLI: the same engine as the Lambda, from a laptop or CI.
//!
//! Exit codes: 0 done; 1 a migration failed while running; 2 bad usage;
//! 3 the database, the secret or the lock could not be had, or the database
//! did not answer before `--timeout`; 4 refused before running anything
//! (history, files or target are wrong, a statement that can never run under
//! schemagate; `resolve` of a version that is not recorded as failed); 5
//! `lint` found a breaking (or unreadable) migration that is not marked, or
//! one that would be refused; 130 / 143 `up`/`down` stopped by SIGINT / SIGTERM (the
//! migration in progress finished and is recorded, nothing more started, the
//! lock is released).
//!
//! Signals (`up`, `down`): the first SIGTERM or SIGINT lets the migration in
//! progress finish — its statements are already on the server, and cutting
//! the connection would leave the server to finish them unseen — records
//! it, starts nothing more, releases the lock and says what was done and
//! what was not. A second one exits at once.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;

use crate::db::{Conn, ConnectOptions, Kind, SslMode};
use crate::lint::{self, report, MigrationLint};
use crate::migrate::{
    self, apply, Direction, MigrationSet, Plan, Report, Step, StepOutcome, Target,
};
use crate::redact;
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
    /// Seconds to wait for another run's migration lock.
    #[arg(long, default_value_t = 60, global = true)]
    pub lock_timeout: u64,
    /// Seconds one DDL statement may wait for a metadata lock (held by a
    /// long app transaction) before it gives way and is retried, with
    /// backoff, until the deadline. Fractions allowed (`0.5`); MariaDB waits
    /// in whole seconds, so it waits at least 1.
    #[arg(long, value_name = "S", default_value = "0.5", value_parser = seconds, global = true)]
    pub lock_wait: Duration,
    /// Seconds the whole run may take. The server stops a statement at the
    /// deadline and lock waits stop retrying; if the server does not answer,
    /// the CLI gives up shortly after (exit 3), saying what was in progress.
    #[arg(long, value_name = "S", default_value = "3600", value_parser = seconds, global = true)]
    pub timeout: Duration,
    /// Seconds one connection attempt (TCP, TLS, handshake, login) may take.
    #[arg(long, value_name = "S", default_value = "10", value_parser = seconds, global = true)]
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

/// Run the CLI; returns the process exit code.
pub async fn main(cli: Cli) -> i32 {
    let json = cli.global.json;
    // Every error message passes here: credentials in it (a URL given in the
    // wrong place, a literal of --init-sql quoted back by the server) hidden.
    let secrets = redact::Secrets::default().with_sql(&cli.global.init_sql);
    let limit = cli.global.timeout;
    let track = Arc::new(Track::new(!json));
    let started = Instant::now();
    let deadline = started + limit;
    let work = async {
        if let Command::Lint { since, dialect } = &cli.command {
            return lint_command(&cli.global, *since, dialect.as_deref(), deadline, &track).await;
        }
        dispatch(&cli, deadline, &track).await.map(|()| 0)
    };
    // The server stops statements at the deadline and the engine then
    // records and reports; this bound is for a server that does not answer.
    let result = match tokio::time::timeout(limit + grace(limit), work).await {
        Ok(r) => r,
        Err(_) => Err(track.timed_out(started.elapsed(), limit)),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let error = secrets.redact(&e.to_string());
            if json {
                let out = json!({"ok": false, "error": error, "exit_code": e.exit_code()});
                println!("{out}");
            } else {
                eprintln!("schemagate: error: {error}");
            }
            e.exit_code()
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
        _ => eprint!("{}", redact::usage_error(e, "--database-url")),
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

/// How long after the deadline the client gives up on a server that does
/// not answer: a tenth of the time, between 1 and 10 seconds.
fn grace(limit: Duration) -> Duration {
    (limit / 10).clamp(Duration::from_secs(1), Duration::from_secs(10))
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

/// What the run is doing, for the message when the server does not answer
/// before `--timeout`; prints each finished step (unless `--json`).
struct Track {
    print: bool,
    state: Mutex<TrackState>,
}

#[derive(Default)]
struct TrackState {
    phase: String,
    current: Option<(Step, Instant)>,
    done: Vec<String>,
}

impl Track {
    fn new(print: bool) -> Track {
        Track {
            print,
            state: Mutex::new(TrackState {
                phase: "starting".into(),
                ..Default::default()
            }),
        }
    }

    fn phase(&self, p: impl Into<String>) {
        self.state.lock().expect("track lock").phase = p.into();
    }

    /// The migration in progress, for the signal handler's message.
    fn current(&self) -> Option<String> {
        let s = self.state.lock().expect("track lock");
        s.current.as_ref().map(|(step, _)| step.name.clone())
    }

    fn timed_out(&self, after: Duration, limit: Duration) -> Error {
        let s = self.state.lock().expect("track lock");
        let done = match s.done.len() {
            0 => String::new(),
            _ => format!(
                "{} {} before it; ",
                if s.current
                    .as_ref()
                    .is_some_and(|(st, _)| st.direction == Direction::Down)
                {
                    "reverted"
                } else {
                    "applied"
                },
                s.done.join(", ")
            ),
        };
        let (during, outcome) = match &s.current {
            Some((step, since)) => (
                format!(
                    "{} `{}` (running for {})",
                    if step.direction == Direction::Down { "reverting" } else { "applying" },
                    step.name,
                    apply::secs(since.elapsed())
                ),
                format!(
                    "{done}what `{0}` did is unknown until the server answers; then `schemagate status` shows it: applied if the server finished it, FAILED (success = false) if it was cut part way, and then nothing more runs until it is resolved",
                    step.name
                ),
            ),
            None => (
                s.phase.clone(),
                format!("{done}nothing else was changed"),
            ),
        };
        Error::TimedOut {
            after,
            limit,
            during,
            outcome,
        }
    }
}

impl migrate::Progress for Track {
    fn started(&self, step: &Step) {
        self.state.lock().expect("track lock").current = Some((step.clone(), Instant::now()));
    }
    fn finished(&self, o: &StepOutcome) {
        {
            let mut s = self.state.lock().expect("track lock");
            s.current = None;
            s.done.push(o.step.name.clone());
            s.phase = format!("after `{}`", o.step.name);
        }
        if !self.print {
            return;
        }
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

async fn connect_options(g: &Global, track: &Track) -> Result<ConnectOptions, Error> {
    let opts = match (&g.database_url, &g.secret_arn) {
        (_, Some(arn)) => {
            track.phase(format!("reading secret `{arn}`"));
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

async fn dispatch(cli: &Cli, deadline: Instant, track: &Arc<Track>) -> Result<(), Error> {
    let g = &cli.global;
    let set = MigrationSet::load(&g.migrations)?;
    let mut conn = connect(g, deadline, track).await?;
    let result = command(cli, &set, &mut conn, deadline, track).await;
    conn.close().await;
    result
}

/// Connect within the run's deadline: `--connect-wait` and each attempt's
/// `--connect-timeout` end at it.
async fn connect(g: &Global, deadline: Instant, track: &Track) -> Result<Conn, Error> {
    let opts = connect_options(g, track).await?;
    track.phase(format!("connecting to {opts}"));
    let left = deadline.saturating_duration_since(Instant::now());
    let wait = Duration::from_secs(g.connect_wait).min(left);
    let conn = Conn::connect_within(&opts, wait, g.connect_timeout.min(left)).await?;
    track.phase(format!("reading the history of {opts}"));
    Ok(conn)
}

async fn command(
    cli: &Cli,
    set: &MigrationSet,
    conn: &mut Conn,
    deadline: Instant,
    track: &Arc<Track>,
) -> Result<(), Error> {
    let g = &cli.global;
    let target = conn.target().to_string();
    match cli.command {
        Command::Status => {
            let (_, history) = migrate::history::read(conn).await?;
            let history = history.unwrap_or_default();
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
            let lints = lint::lint(set, conn.kind().dialect(), &pending);
            // `up` would refuse before running anything: say so, exit 4.
            let refused = lint::refusals(set, conn.kind().dialect(), &p.steps);
            if !(g.json && refused.is_err()) {
                print_plan(g.json, &target, &p, &lints);
            }
            refused.map_err(Error::from)
        }
        Command::Up { to } => {
            let to = to.map_or(Target::Latest, Target::Version);
            run(g, set, conn, to, &target, deadline, track).await
        }
        Command::Down { to } => {
            run(g, set, conn, Target::Version(to), &target, deadline, track).await
        }
        Command::Resolve { version, outcome } => {
            resolve(g, set, conn, version, outcome, &target, deadline).await
        }
        Command::Lint { .. } => unreachable!("handled before connecting"),
    }
}

/// `schemagate lint`: returns the exit code (0, or 5 for unmarked breaking
/// migrations) after printing the findings.
async fn lint_command(
    g: &Global,
    since: Option<i64>,
    dialect: Option<&str>,
    deadline: Instant,
    track: &Track,
) -> Result<i32, Error> {
    let set = MigrationSet::load(&g.migrations)?;
    let named = match dialect.map(str::to_ascii_lowercase).as_deref() {
        None => None,
        Some("mariadb" | "mysql") => Some(Kind::MariaDb),
        Some("postgres" | "postgresql") => Some(Kind::Postgres),
        Some(_) => {
            return Err(Error::Db(crate::DbError::Url(format!(
                "unknown dialect `{}`; use `mariadb` (also for MySQL) or `postgres`",
                redact::value(dialect.unwrap_or_default())
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
                lint::lint(&set, kind.dialect(), &lint::after(&set, v)),
                format!("migrations above version {v}"),
            )
        }
        (None, true) => {
            let mut conn = connect(g, deadline, track).await?;
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
                lint::lint(&set, kind.dialect(), &pending),
                format!(
                    "migrations pending on {target} (at version {})",
                    p.current.unwrap_or(0)
                ),
            )
        }
        (None, false) => {
            let kind = named.unwrap_or(Kind::MariaDb);
            (kind, lint::lint_each(&set, kind.dialect()), "every migration, each on top of the ones before it (pass --since V to lint a release)".into())
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

fn engine_options(g: &Global, deadline: Instant) -> apply::Options {
    apply::Options {
        init_sql: g.init_sql.clone(),
        baseline: g.baseline,
        lock_timeout: Duration::from_secs(g.lock_timeout.max(1)),
        lock_wait: g.lock_wait,
        deadline: Some(deadline),
    }
}

async fn run(
    g: &Global,
    set: &MigrationSet,
    conn: &mut Conn,
    target: Target,
    shown: &str,
    deadline: Instant,
    track: &Arc<Track>,
) -> Result<(), Error> {
    let opts = engine_options(g, deadline);
    let stop = migrate::Stop::default();
    let signals = on_signals(stop.clone(), track.clone());
    if !g.json {
        println!("schemagate: {shown}");
    }
    track.phase(format!("waiting for the migration lock on {shown}"));
    let started = Instant::now();
    let hooks = migrate::Hooks {
        stop: Some(&stop),
        ..Default::default()
    };
    let result = migrate::run_with(conn, set, target, &opts, track.as_ref(), hooks).await;
    if let Some(s) = signals {
        s.abort();
    }
    match result {
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
        Err(Error::Interrupted(i)) => {
            let code = i.signal.exit_code;
            if g.json {
                let mut doc = report_json(
                    shown,
                    i.done.as_ref().unwrap_or(&Report::default()),
                    Some(&i.to_string()),
                );
                doc["interrupted"] = json!(i.signal.name);
                doc["not_started"] = json!(i.pending);
                doc["exit_code"] = json!(code);
                println!("{doc}");
            } else {
                eprintln!("schemagate: {i}");
            }
            // The connection may be in the middle of a cut lock wait: do
            // not wait for a polite close, the exit ends the session.
            std::process::exit(code);
        }
        Err(e) => Err(e),
    }
}

/// Listen for SIGTERM/SIGINT while a run goes on: the first asks the
/// engine to stop after the migration in progress, a second exits at once.
fn on_signals(stop: migrate::Stop, track: Arc<Track>) -> Option<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot listen for SIGTERM/SIGINT; they end the run at once");
        return None;
    };
    Some(tokio::spawn(async move {
        loop {
            let got = tokio::select! {
                _ = term.recv() => migrate::Signal { name: "SIGTERM", exit_code: 143 },
                _ = int.recv() => migrate::Signal { name: "SIGINT", exit_code: 130 },
            };
            if stop.requested().is_some() {
                eprintln!(
                    "schemagate: {} again: exiting now; the migration in progress may still run on the server (its history row says so): check with `schemagate status`",
                    got.name
                );
                std::process::exit(got.exit_code);
            }
            stop.request(got);
            let current = track.current();
            match current {
                Some(name) => eprintln!(
                    "schemagate: {}: letting `{name}` finish (its statements are on the server), then stopping; nothing more will start (send it again to exit at once)",
                    got.name
                ),
                None => eprintln!(
                    "schemagate: {}: stopping before the next migration (send it again to exit at once)",
                    got.name
                ),
            }
        }
    }))
}

async fn resolve(
    g: &Global,
    set: &MigrationSet,
    conn: &mut Conn,
    version: i64,
    outcome: Outcome,
    shown: &str,
    deadline: Instant,
) -> Result<(), Error> {
    let r = migrate::resolve(
        conn,
        set,
        version,
        outcome.into(),
        &engine_options(g, deadline),
    )
    .await?;
    let was = match r.failed {
        Direction::Down => "its revert had started and not finished",
        _ => "it had started and not finished",
    };
    let did = match (r.how, r.failed) {
        (migrate::ResolveAs::Applied, _) => format!(
            "recorded it as applied (success = true, with the checksum of `{}`): `schemagate up` goes on with the migrations after it",
            r.file.as_deref().unwrap_or("its file")
        ),
        (migrate::ResolveAs::Undone, Direction::Down) => "recorded it as reverted (its history row is deleted): the schema is at the version below it".to_string(),
        (migrate::ResolveAs::Undone, _) => "recorded it as undone (its history row is deleted): `schemagate up` runs it again from its first statement".to_string(),
    };
    if g.json {
        println!(
            "{}",
            json!({
                "ok": true,
                "database": shown,
                "version": r.version,
                "name": r.name,
                "failed": direction(r.failed),
                "as": match r.how { migrate::ResolveAs::Applied => "applied", migrate::ResolveAs::Undone => "undone" },
                "message": format!("`{}` was recorded as failed ({was}); {did}", r.name),
            })
        );
    } else {
        println!("schemagate: {shown}");
        println!(
            "schemagate: `{}` was recorded as failed ({was}); {did}",
            r.name
        );
    }
    Ok(())
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
    // (version, name, state, ms, the script that failed and which)
    type Row<'a> = (i64, String, &'a str, Option<i64>, Option<(String, &'a str)>);
    let mut rows: Vec<Row> = Vec::new();
    for f in &set.files {
        let (state, failed) = match applied.get(&f.version).map(|a| (a, a.state())) {
            Some((_, migrate::State::UpFailed)) => ("FAILED", Some((f.up.file_name(), "up"))),
            Some((_, migrate::State::DownFailed)) => (
                "FAILED",
                Some((f.down.as_ref().unwrap_or(&f.up).file_name(), "down")),
            ),
            Some((a, _)) if a.checksum != f.up.checksum => ("EDITED", None),
            Some(_) => ("applied", None),
            None => ("pending", None),
        };
        let ms = applied
            .get(&f.version)
            .filter(|a| a.success)
            .map(|a| a.execution_time_ns.max(0) / 1_000_000);
        rows.push((f.version, f.name(), state, ms, failed));
    }
    for a in history.iter().filter(|a| set.get(a.version).is_none()) {
        rows.push((
            a.version,
            format!("{} {}", a.version, a.description),
            if a.success { "MISSING" } else { "FAILED" },
            None,
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
                "migrations": rows.iter().map(|(v, n, s, ms, failed)| {
                    let mut m = json!({"version": v, "name": n, "state": s, "ms": ms});
                    if let Some((file, direction)) = failed {
                        m["failed_script"] = json!(file);
                        m["failed_direction"] = json!(direction);
                    }
                    m
                }).collect::<Vec<_>>(),
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
    for (_, name, state, ms, failed) in &rows {
        match (ms, failed) {
            (_, Some((file, "down"))) => {
                println!("  {state:<9} {name:<50} revert started and did not finish: {file}")
            }
            (_, Some((file, _))) => {
                println!("  {state:<9} {name:<50} started and did not finish: {file}")
            }
            (Some(ms), None) => println!("  {state:<9} {name:<50} {ms:>6} ms"),
            (None, None) => println!("  {state:<9} {name}"),
        }
    }
}

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
        assert_eq!(cli.global.lock_wait, apply::DEFAULT_LOCK_WAIT);
        assert_eq!(cli.global.timeout, Duration::from_secs(3600));
        assert_eq!(cli.global.connect_timeout, crate::db::CONNECT_TIMEOUT);
        let cli =
            Cli::try_parse_from(["schemagate", "up", "--lock-wait", "1.5", "--timeout", "90"])
                .unwrap();
        assert_eq!(cli.global.lock_wait, Duration::from_millis(1500));
        assert_eq!(cli.global.timeout, Duration::from_secs(90));
    }

    #[test]
    fn the_client_gives_up_shortly_after_the_deadline() {
        assert_eq!(grace(Duration::from_secs(5)), Duration::from_secs(1));
        assert_eq!(grace(Duration::from_secs(60)), Duration::from_secs(6));
        assert_eq!(grace(Duration::from_secs(3600)), Duration::from_secs(10));
    }
}
