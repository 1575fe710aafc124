//! The CLI: the same engine as the Lambda, from a laptop or CI.
//!
//! Exit codes: 0 done; 1 a migration failed while running; 2 bad usage
//! (also: no database given, an unknown `lint --dialect`);
//! 3 the database, the secret or the lock could not be had, or the database
//! did not answer before `--timeout`, or a `--drain-tag` drain failed
//! (nothing applied); 4 refused before running anything (history, files or
//! target are wrong, a statement that can never run under schemagate;
//! `resolve` of a version that is not recorded as failed); 5 `lint` found a
//! breaking (or unreadable) migration that is not marked, or one that would
//! be refused — and `up`/`down` refused such a migration before running
//! anything ([`EXIT_REFUSED_BREAKING`]: the same code for the same finding);
//! 6 / 7 `check`: a migration that breaks the release is applied / the
//! database is behind it; 130 / 143 `up`/`down` stopped by SIGINT / SIGTERM
//! (the migration in progress finished and is recorded, nothing more
//! started, the lock is released).
//!
//! Signals (`up`, `down`): the first SIGTERM or SIGINT lets the migration in
//! progress finish — its statements are already on the server, and cutting
//! the connection would leave the server to finish them unseen — records
//! it, starts nothing more, releases the lock and says what was done and
//! what was not. A second one exits at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

pub use args::{
    usage_error, Cli, Command, GateArgs, Global, Outcome, EXIT_REFUSED_BREAKING,
    EXIT_UNMARKED_BREAKING,
};

use crate::db::{Conn, ConnectOptions, Kind};
use crate::deadline::Deadline;
use crate::drain::gate::{GateState, Stopped};
use crate::lint;
use crate::migrate::{self, apply, Direction, MigrationSet, Plan, Report, Target};
use crate::redact;
use crate::secrets::{RdsSecret, SecretSource, SecretsManager};
use crate::Error;
use gate::CliGate;
use output::{print_plan, print_status, report_json};
use track::{on_signals, Track};

// What the CLI prints goes through these, not `println!`: a reader that
// closes the pipe early (`schemagate status | head`) must not panic the
// process — and must not stop an `up` half-way. A line that cannot be
// written is dropped; the exit code still says how the run went.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($t)*);
    }};
}
macro_rules! errln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}
macro_rules! err {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($t)*);
    }};
}

mod args;
pub mod check;
mod gate;
mod import;
mod import_args;
mod lint_command;
mod output;
mod track;

/// Run the CLI; returns the process exit code.
pub async fn main(cli: Cli) -> i32 {
    let json = cli.global.json;
    // Every error message passes here: credentials in it (a URL given in the
    // wrong place, a literal of --init-sql quoted back by the server) hidden.
    let secrets = redact::Secrets::default().with_sql(&cli.global.init_sql);
    let track = Arc::new(Track::new(!json));
    let deadline = Deadline::after(cli.global.timeout);
    let work = async {
        match &cli.command {
            Command::Lint { since, dialect } => {
                let dialect = dialect.as_deref();
                return lint_command::run(&cli.global, *since, dialect, deadline, &track).await;
            }
            Command::Check {
                release_version,
                env_file,
            } => {
                return check::run(&cli.global, *release_version, env_file, deadline, &track).await
            }
            _ => {}
        }
        if let Some(done) = import::dispatch(&cli, deadline).await {
            return done;
        }
        dispatch(&cli, deadline, &track).await
    };
    // The server stops statements at the deadline and the engine then
    // records and reports; this bound is for a server that does not answer.
    let result = match tokio::time::timeout(deadline.total() + deadline.grace(), work).await {
        Ok(r) => r,
        Err(_) => Err(track.timed_out(deadline.elapsed(), deadline.total())),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let error = secrets.redact(&e.to_string());
            if json {
                let out = json!({"ok": false, "error": error, "exit_code": e.exit_code()});
                outln!("{out}");
            } else {
                errln!("schemagate: error: {error}");
            }
            e.exit_code()
        }
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
            return Err(Error::Usage(
                "no database given: pass --database-url (or set DATABASE_URL) or --secret-arn"
                    .into(),
            ))
        }
    };
    Ok(opts.with_ssl(g.ssl_mode, g.ssl_ca.clone())?)
}

/// Connect, run the command, close the connection (on every path). `Ok`:
/// the command said what it had to; its exit code.
async fn dispatch(cli: &Cli, deadline: Deadline, track: &Arc<Track>) -> Result<i32, Error> {
    let g = &cli.global;
    let set = MigrationSet::load(&g.migrations)?;
    let mut conn = connect(g, deadline, track).await?;
    let result = command(cli, &set, &mut conn, deadline, track).await;
    conn.close().await;
    result
}

/// Connect within the run's deadline: `--connect-wait` and each attempt's
/// `--connect-timeout` end at it.
async fn connect(g: &Global, deadline: Deadline, track: &Track) -> Result<Conn, Error> {
    let opts = connect_options(g, track).await?;
    track.phase(format!("connecting to {opts}"));
    let left = deadline.left();
    let wait = Duration::from_secs(g.connect_wait).min(left);
    let conn = Conn::connect_within(&opts, wait, g.connect_timeout.min(left)).await?;
    track.phase(format!("reading the history of {opts}"));
    Ok(conn)
}

async fn command(
    cli: &Cli,
    set: &MigrationSet,
    conn: &mut Conn,
    deadline: Deadline,
    track: &Arc<Track>,
) -> Result<i32, Error> {
    let g = &cli.global;
    let target = conn.target().to_string();
    match cli.command {
        Command::Status => status(g, set, conn, &target).await,
        Command::Plan { to } => {
            let (_, p) = apply::inspect(
                conn,
                set,
                to.map_or(Target::Latest, Target::Version),
                g.start(),
            )
            .await?;
            let pending: Vec<i64> = p
                .steps
                .iter()
                .filter(|s| s.direction == Direction::Up)
                .map(|s| s.version)
                .collect();
            let lints = lint::lint(set, conn.dialect(), &pending);
            // `up` would refuse before running anything: say so, exit 4.
            let refused = lint::refusals(set, conn.dialect(), &p.steps);
            if !(g.json && refused.is_err()) {
                print_plan(g.json, &target, &p, &lints);
            }
            refused.map(|()| 0).map_err(Error::from)
        }
        Command::Up { to, ref gate } => {
            let to = to.map_or(Target::Latest, Target::Version);
            let r = RunOf {
                g,
                set,
                shown: &target,
                deadline,
                track,
            };
            r.run(conn, to, gate).await
        }
        Command::Down { to, ref gate } => {
            let r = RunOf {
                g,
                set,
                shown: &target,
                deadline,
                track,
            };
            r.run(conn, Target::Version(to), gate).await
        }
        Command::Contract => contract(g, conn, deadline).await,
        Command::Resolve { version, outcome } => {
            resolve(g, set, conn, version, outcome, &target, deadline).await?;
            Ok(0)
        }
        Command::Lint { .. } | Command::Check { .. } | Command::Import(_) | Command::Diff(_) => {
            unreachable!("handled before reading the folder")
        }
    }
}

/// `schemagate status`: the history, and the plan to the newest file
/// (with what adopting an Alembic database would baseline); exit 4 when
/// that plan is refused.
async fn status(
    g: &Global,
    set: &MigrationSet,
    conn: &mut Conn,
    target: &str,
) -> Result<i32, Error> {
    let (home, history) = migrate::history::read(conn).await?;
    let begin = migrate::adopt::start(conn, &home, set, history.as_deref(), g.start()).await;
    let history = history.unwrap_or_default();
    let planned = match begin {
        Ok(begin) => migrate::plan(set, &history, Target::Latest, begin.baseline).map(|p| Plan {
            adopted: begin.adopted,
            ..p
        }),
        Err(migrate::Error::Plan(e)) => Err(e),
        Err(e) => return Err(e.into()),
    };
    print_status(g.json, target, set, &history, &planned);
    planned.map(|_| 0).map_err(Error::from)
}

/// `schemagate contract`: every live online expand contracted.
async fn contract(g: &Global, conn: &mut Conn, deadline: Deadline) -> Result<i32, Error> {
    let done = migrate::online::contract(conn, &engine_options(g, deadline)).await?;
    let list: Vec<String> = done.iter().map(|v| v.to_string()).collect();
    match (g.json, list.is_empty()) {
        (true, _) => outln!("{}", serde_json::json!({ "contracted": done })),
        (false, true) => outln!("no online change is expanded; nothing to contract"),
        (false, false) => outln!("contracted {}", list.join(", ")),
    }
    Ok(0)
}

fn engine_options(g: &Global, deadline: Deadline) -> apply::Options {
    apply::Options {
        init_sql: g.init_sql.clone(),
        baseline: g.baseline,
        adopt_alembic: !g.no_adopt_alembic,
        lock_timeout: Duration::from_secs(g.lock_timeout.max(1)),
        lock_wait: g.lock_wait,
        deadline: Some(deadline),
    }
}

/// What `up` and `down` run with.
struct RunOf<'a> {
    g: &'a Global,
    set: &'a MigrationSet,
    /// The database, as shown.
    shown: &'a str,
    deadline: Deadline,
    track: &'a Arc<Track>,
}

impl RunOf<'_> {
    /// `up`, `down`: run behind the breaking-change gate, printing each
    /// step and the outcome, then what became of drained groups.
    /// `Ok(code)`: the outcome is printed (a failure in `--json`, a stop by
    /// a signal, a refusal).
    async fn run(&self, conn: &mut Conn, target: Target, args: &GateArgs) -> Result<i32, Error> {
        let (g, track) = (self.g, self.track);
        let opts = engine_options(g, self.deadline);
        let stop = migrate::Stop::default();
        let signals = on_signals(stop.clone(), track.clone());
        if !g.json {
            outln!("schemagate: {}", self.shown);
        }
        track.phase(format!("waiting for the migration lock on {}", self.shown));
        let started = Instant::now();
        let gate = CliGate {
            args,
            until: self.deadline,
            track,
            print: !g.json,
            state: Default::default(),
        };
        let hooks = migrate::Hooks {
            stop: Some(&stop),
            gate: Some(&gate),
            ..Default::default()
        };
        let result = migrate::run_with(conn, self.set, target, &opts, track.as_ref(), hooks).await;
        if let Some(s) = signals {
            s.abort();
        }
        let state = std::mem::take(&mut *gate.state());
        let groups = gate::after(args, &state, &result, track).await;
        self.outcome(result, &state, groups, started)
    }

    /// The gate refused: breaking migrations (exit 5, as `lint`), or the
    /// drain before them failed (exit 3: the groups could not be had).
    fn refused(&self, reason: &str, state: &GateState, groups: &Option<String>) -> i32 {
        let code = match state.stopped {
            Some(Stopped::Drain) => 3,
            _ => EXIT_REFUSED_BREAKING,
        };
        if self.g.json {
            let mut doc = json!({"ok": false, "error": reason, "exit_code": code});
            doc["lint"] = lint::report::json(&state.lints);
            if let Some(m) = groups {
                doc["groups"] = json!(m);
            }
            outln!("{doc}");
        } else {
            errln!("schemagate: error: {reason}");
        }
        code
    }

    /// Print the run's outcome; the exit code.
    fn outcome(
        &self,
        result: Result<Report, migrate::Error>,
        state: &GateState,
        groups: Option<String>,
        started: Instant,
    ) -> Result<i32, Error> {
        let (g, shown) = (self.g, self.shown);
        let say_groups = |doc: &mut serde_json::Value| {
            if let Some(m) = &groups {
                doc["groups"] = json!(m);
            }
        };
        let text_groups = || {
            if let Some(m) = &groups {
                errln!("schemagate: {m}");
            }
        };
        match result {
            Ok(report) => {
                if g.json {
                    let mut doc = report_json(shown, &report, None);
                    say_groups(&mut doc);
                    outln!("{doc}");
                } else {
                    outln!("schemagate: {}", report.summary());
                    if let Some(m) = &groups {
                        outln!("schemagate: {m}");
                    }
                }
                Ok(0)
            }
            Err(migrate::Error::Refused(reason)) => Ok(self.refused(&reason, state, &groups)),
            Err(migrate::Error::Apply(e)) => {
                if g.json {
                    // Printed as JSON with its report: exit 1 without another document.
                    let mut doc = report_json(shown, &e.done, Some(&e.to_string()));
                    say_groups(&mut doc);
                    outln!("{doc}");
                    return Ok(1);
                }
                errln!(
                    "  FAILED    {}  after {}",
                    e.failed.name,
                    apply::secs(started.elapsed())
                );
                text_groups();
                Err(migrate::Error::Apply(e).into())
            }
            Err(migrate::Error::Interrupted(i)) => {
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
                    say_groups(&mut doc);
                    outln!("{doc}");
                } else {
                    errln!("schemagate: {i}");
                    text_groups();
                }
                // The connection is closed on the way out (a lock wait it was
                // in is cut: closing it ends the server's wait too).
                Ok(code)
            }
            Err(e) => {
                text_groups();
                Err(e.into())
            }
        }
    }
}

async fn resolve(
    g: &Global,
    set: &MigrationSet,
    conn: &mut Conn,
    version: i64,
    outcome: Outcome,
    shown: &str,
    deadline: Deadline,
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
        outln!(
            "{}",
            json!({
                "ok": true,
                "database": shown,
                "version": r.version,
                "name": r.name,
                "failed": r.failed.as_str(),
                "as": match r.how { migrate::ResolveAs::Applied => "applied", migrate::ResolveAs::Undone => "undone" },
                "message": format!("`{}` was recorded as failed ({was}); {did}", r.name),
            })
        );
    } else {
        outln!("schemagate: {shown}");
        outln!(
            "schemagate: `{}` was recorded as failed ({was}); {did}",
            r.name
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_gives_up_shortly_after_the_deadline() {
        let grace = |limit| Deadline::after(limit).grace();
        assert_eq!(grace(Duration::from_secs(5)), Duration::from_secs(1));
        assert_eq!(grace(Duration::from_secs(60)), Duration::from_secs(6));
        assert_eq!(grace(Duration::from_secs(3600)), Duration::from_secs(10));
    }
}
