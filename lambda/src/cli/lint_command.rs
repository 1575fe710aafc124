//! `schemagate lint`: classify migrations for the release that runs now,
//! with or without a database.

use serde_json::json;

use super::args::{Global, EXIT_UNMARKED_BREAKING};
use super::connect;
use super::track::Track;
use crate::db::ConnectOptions;
use crate::deadline::Deadline;
use crate::dialect::Dialect;
use crate::lint::{self, report, MigrationLint};
use crate::migrate::{apply, Direction, MigrationSet, Target};
use crate::{redact, Error};

/// Returns the exit code (0, or 5 for unmarked breaking migrations) after
/// printing the findings.
pub async fn run(
    g: &Global,
    since: Option<i64>,
    dialect: Option<&str>,
    deadline: Deadline,
    track: &Track,
) -> Result<i32, Error> {
    let set = MigrationSet::load(&g.migrations)?;
    let named = match dialect {
        None => None,
        Some(d) => Some(d.parse::<Dialect>().map_err(|()| {
            Error::Usage(format!(
                "unknown dialect `{}`; use `mariadb` (also for MySQL) or `postgres`",
                redact::value(d)
            ))
        })?),
    };
    let has_db = g.database_url.is_some() || g.secret_arn.is_some();
    let (dialect, lints, scope) = match (since, has_db) {
        (Some(v), _) => {
            let dialect = named
                .or_else(|| g.database_url.as_deref().and_then(url_dialect))
                .unwrap_or(Dialect::MariaDb);
            (
                dialect,
                lint::lint(&set, dialect, &lint::after(&set, v)),
                format!("migrations above version {v}"),
            )
        }
        (None, true) => pending(g, &set, deadline, track).await?,
        (None, false) => {
            let dialect = named.unwrap_or(Dialect::MariaDb);
            (dialect, lint::lint_each(&set, dialect), "every migration, each on top of the ones before it (pass --since V to lint a release)".into())
        }
    };
    Ok(print(g, dialect, since, &scope, &lints))
}

/// The migrations pending on the database, linted in its dialect.
async fn pending(
    g: &Global,
    set: &MigrationSet,
    deadline: Deadline,
    track: &Track,
) -> Result<(Dialect, Vec<MigrationLint>, String), Error> {
    let mut conn = connect(g, deadline, track).await?;
    let planned = apply::inspect(&mut conn, set, Target::Latest, g.start()).await;
    let dialect = conn.dialect();
    let target = conn.target().to_string();
    conn.close().await;
    let (_, p) = planned?;
    let pending: Vec<i64> = p
        .steps
        .iter()
        .filter(|s| s.direction == Direction::Up)
        .map(|s| s.version)
        .collect();
    let scope = format!(
        "migrations pending on {target} (at version {})",
        p.current.unwrap_or(0)
    );
    Ok((dialect, lint::lint(set, dialect, &pending), scope))
}

fn url_dialect(url: &str) -> Option<Dialect> {
    ConnectOptions::from_url(url)
        .ok()
        .map(|o| o.kind().dialect())
}

/// Print the findings; returns the exit code.
fn print(
    g: &Global,
    dialect: Dialect,
    since: Option<i64>,
    scope: &str,
    lints: &[MigrationLint],
) -> i32 {
    let s = report::summary(lints);
    let code = if s.fails() { EXIT_UNMARKED_BREAKING } else { 0 };
    if g.json {
        let mut doc = report::json(lints);
        doc["dialect"] = json!(dialect.as_str());
        doc["since"] = json!(since);
        doc["scope"] = json!(scope);
        doc["exit_code"] = json!(code);
        outln!("{doc}");
    } else {
        out!("{}", report::text(lints));
        outln!("schemagate lint: {scope}: {}", s.line());
        if s.refused > 0 {
            errln!(
                "schemagate: error: {} migration{} refused: {} a statement that breaks the run itself, which no marker, drain target or AllowBreaking lets run; change {} as each finding's fix says",
                s.refused,
                if s.refused == 1 { " is" } else { "s are" },
                if s.refused == 1 { "it holds" } else { "each holds" },
                if s.refused == 1 { "it" } else { "them" },
            );
        }
        if s.unmarked > 0 {
            errln!(
                "schemagate: error: {} breaking migration{} not marked: mark {} \"-- schemagate: contract\" (the running release no longer uses what it changes) or \"-- schemagate: breaking\" (deploy with a drain target), or change {}",
                s.unmarked,
                if s.unmarked == 1 { " is" } else { "s are" },
                if s.unmarked == 1 { "it" } else { "each" },
                if s.unmarked == 1 { "it" } else { "them" },
            );
        }
    }
    code
}
