//! `schemagate import alembic` and `schemagate diff`: their arguments and
//! how they run and print. Neither needs `--database-url`: the import reads
//! an Alembic project (and may use a scratch database), the diff reads two
//! databases given with `--url`.

use serde_json::json;

use super::args::{Cli, Command, Global};
use super::import_args::{AlembicArgs, DiffArgs, ImportFrom};
use crate::db::ConnectOptions;
use crate::deadline::Deadline;
use crate::dialect::Dialect;
use crate::error::Error;
use crate::{diff, import, redact};

/// Run `import` or `diff`; `None` for the other commands.
pub async fn dispatch(cli: &Cli, deadline: Deadline) -> Option<Result<i32, Error>> {
    match &cli.command {
        Command::Import(ImportFrom::Alembic(a)) => Some(alembic(&cli.global, a, deadline).await),
        Command::Diff(d) => Some(diff(&cli.global, d).await),
        _ => None,
    }
}

async fn alembic(g: &Global, a: &AlembicArgs, deadline: Deadline) -> Result<i32, Error> {
    let named = match &a.dialect {
        None => None,
        Some(d) => Some(d.parse::<Dialect>().map_err(|()| {
            Error::Usage(format!(
                "unknown dialect `{}`; use `mariadb` (also for MySQL) or `postgres`",
                redact::value(d)
            ))
        })?),
    };
    let scratch = match &a.scratch_url {
        None => None,
        Some(url) => Some(scratch_dialect(url)?),
    };
    if let (Some(n), Some(s)) = (named, scratch) {
        if n != s {
            return Err(Error::Usage(format!(
                "--dialect {n} and a {s} --scratch-url disagree: the scratch database must be of the engine the migrations are for"
            )));
        }
    }
    let options = import::Options {
        config: a.config.clone(),
        out: a.out.clone().unwrap_or_else(|| g.migrations.clone()),
        family: named.or(scratch),
        scratch_url: a.scratch_url.clone(),
        python: a.python.clone(),
        strict: a.strict,
        allow_python: a.allow_python,
        since: a.since.clone(),
        limit: deadline.left(),
        cleanup: deadline.grace() / 2,
    };
    let imported = import::import(&options).await?;
    if g.json {
        outln!("{}", import::report::json(&imported));
    } else {
        out!("{}", import::report::text(&imported));
    }
    Ok(0)
}

/// The engine a scratch URL names (its scheme; SQLAlchemy's
/// `mysql+pymysql://` forms too).
fn scratch_dialect(url: &str) -> Result<Dialect, Error> {
    let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("");
    let base = scheme.split('+').next().unwrap_or("");
    base.parse::<Dialect>().map_err(|()| {
        Error::Usage(format!(
            "--scratch-url `{}`: write it as mysql://…, mariadb://… or postgres://…",
            redact::value(url)
        ))
    })
}

/// Exit code of `diff` when the schemas differ.
pub const EXIT_DIFFERENT: i32 = 1;

async fn diff(g: &Global, d: &DiffArgs) -> Result<i32, Error> {
    let [a, b] = d.urls.as_slice() else {
        return Err(Error::Usage(format!(
            "diff compares two databases: give --url twice (got {})",
            d.urls.len()
        )));
    };
    let (a, b) = (options(g, a)?, options(g, b)?);
    if a.kind() != b.kind() {
        return Err(Error::Usage(format!(
            "`{a}` and `{b}` are of different engines; diff compares two MariaDB or two PostgreSQL databases"
        )));
    }
    let sa = diff::read(&a, g.connect_timeout).await?;
    let sb = diff::read(&b, g.connect_timeout).await?;
    let found = diff::compare(&sa, &sb);
    let code = if found.is_empty() { 0 } else { EXIT_DIFFERENT };
    if g.json {
        let list: Vec<_> = found
            .iter()
            .map(|f| json!({"what": f.what, "a": f.a, "b": f.b, "text": f.to_string()}))
            .collect();
        let doc = json!({"ok": true, "a": a.to_string(), "b": b.to_string(), "same": found.is_empty(),
            "differences": list, "ignored": diff::IGNORED, "exit_code": code});
        outln!("{doc}");
    } else if found.is_empty() {
        outln!(
            "schemagate diff: A `{a}` and B `{b}` have the same schema: {} (not compared: {})",
            sa.counts(),
            diff::IGNORED.join(", ")
        );
    } else {
        outln!("schemagate diff: A `{a}` and B `{b}` differ:");
        for f in &found {
            outln!("  {f}");
        }
        outln!("schemagate diff: {} differences", found.len());
    }
    Ok(code)
}

fn options(g: &Global, url: &str) -> Result<ConnectOptions, Error> {
    let o = ConnectOptions::from_url(url)?;
    Ok(o.with_ssl(g.ssl_mode, g.ssl_ca.clone())?)
}
