//! Why an import did not write anything: each case names what was found
//! (the revision, its file and line) and what to do. Nothing is written
//! when any of these is returned.

use std::path::PathBuf;

use serde::Deserialize;

use crate::migrate::SourceError;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("`{}` does not exist: pass --config with the path of the project's alembic.ini; nothing was written", path.display())]
    NoConfig { path: PathBuf },
    #[error("cannot run `{python}`: {message}; install Python 3 with Alembic, or pass --python with the interpreter of the app's virtualenv (the one `alembic` runs with); nothing was written")]
    Python { python: String, message: String },
    #[error("`{python}` has no `{module}` module: install it there (`{python} -m pip install {}`), or pass --python with the interpreter of the app's virtualenv (the one `alembic` runs with); nothing was written", pip_name(module))]
    MissingModule { python: String, module: String },
    #[error("`{at}` imports `{module}`, which `{python}` cannot import ({message}): run the import with the app's PYTHONPATH and virtualenv, as `alembic` runs; nothing was written")]
    RevisionImport {
        python: String,
        module: String,
        message: String,
        at: String,
    },
    #[error("alembic cannot read `{}`: {message}; nothing was written", config.display())]
    Alembic { config: PathBuf, message: String },
    #[error("cannot tell the database from `sqlalchemy.url` in `{}` (scheme `{scheme}`): pass --dialect mariadb (also for MySQL) or --dialect postgres, or --scratch-url; nothing was written", config.display())]
    NoDialect { config: PathBuf, scheme: String },
    #[error("the history has {} heads ({}): schemagate writes one line of migrations, so the branches must be joined first: run `alembic merge heads -m \"merge\"`, commit the merge revision and import again; nothing was written", heads.len(), heads_list(heads))]
    UnmergedHeads { heads: Vec<Head> },
    #[error("revision `{revision}` is not in the history; pass --since with the id of the last revision imported (its file's `-- alembic:` line); nothing was written")]
    UnknownRevision { revision: String },
    #[error("{}; pass --scratch-url with an empty database (or one that does not exist yet) on a server like production's: schemagate runs the revisions there and records what they send; nothing was written", blocked_list(.0))]
    NeedsDatabase(Vec<Blocked>),
    #[error("revision `{revision}` (`{at}`) is a Python data migration: {reason}, which cannot be recorded as SQL; write it as SQL (an `op.execute` of the statements) and import again, or pass --allow-python to write a placeholder that `schemagate plan` and `up` refuse until a person fills it in; nothing was written")]
    PythonData {
        revision: String,
        at: String,
        reason: String,
    },
    #[error("revision `{revision}` depends on data: it read rows (`{read}`, `{at}`) and then wrote, so what it writes on another database may differ from what it wrote on the scratch database; --strict stops here: rewrite it without reading rows back, or import without --strict and review the marked file; nothing was written")]
    DependsOnData {
        revision: String,
        at: String,
        read: String,
    },
    #[error("merge revision `{merge}` joins branches that both change `{table}` (`{first}` and `{second}`): the order schemagate writes them in (Alembic's) may not be the order every database ran them in; --strict stops here: check the two revisions, or import without --strict and review the marked file; nothing was written")]
    MergeOverlap {
        merge: String,
        table: String,
        first: String,
        second: String,
    },
    #[error("revision `{revision}` failed on the scratch database during its {side} (`{at}` `{code}`): {message}; fix the revision (`alembic upgrade` on an empty database fails the same way), then import again; nothing was written")]
    Capture {
        revision: String,
        side: String,
        at: String,
        code: String,
        message: String,
    },
    #[error("cannot use the scratch database: {message}; nothing was written")]
    Scratch { message: String },
    #[error("the scratch database `{database}` is not empty (it holds `{}`): give an empty database, or one that does not exist yet (schemagate creates it and drops it at the end); nothing was written", tables.join("`, `"))]
    ScratchNotEmpty {
        database: String,
        tables: Vec<String>,
    },
    #[error("`{}` already holds migrations: import into a new or empty folder, or pass --since REV to append the revisions after REV; nothing was written", out.display())]
    OutNotEmpty { out: PathBuf },
    #[error("--since `{since}`: no migration in `{}` was imported from that revision (an `-- alembic: {since}` line); pass the revision of the last migration imported; nothing was written", out.display())]
    SinceNotImported { since: String, out: PathBuf },
    #[error("revision `{revision}` comes after --since `{since}` but is imported already, as `{name}`: pass --since with the last revision imported; nothing was written")]
    AlreadyImported {
        revision: String,
        since: String,
        name: String,
    },
    #[error("`{file}` (revision `{revision}`) would be refused: {finding}; nothing was written")]
    Refused {
        file: String,
        revision: String,
        finding: String,
    },
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("cannot write `{}`: {source}; nothing was written", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the import did not finish within {:.1} s (`--timeout`): the Alembic driver was stopped (a scratch database it created is dropped); raise --timeout; nothing was written", limit.as_secs_f64())]
    TimedOut { limit: std::time::Duration },
    #[error("the Alembic driver run by `{python}` failed: {message}{}; nothing was written", if output.is_empty() { String::new() } else { format!("; its last output: {output}") })]
    Driver {
        python: String,
        message: String,
        output: String,
    },
}

/// A head of a history with several.
#[derive(Debug, Clone, Deserialize)]
pub struct Head {
    pub revision: String,
    pub message: String,
    pub path: PathBuf,
}

/// A revision that cannot render without a database.
#[derive(Debug, Clone)]
pub struct Blocked {
    pub revision: String,
    /// `upgrade` or `downgrade`
    pub side: &'static str,
    pub at: String,
    pub source: String,
    pub reason: String,
}

impl ImportError {
    /// The CLI's exit code: 2 the command line names something that is not
    /// there; 3 Python, Alembic or the scratch database cannot be had; 4
    /// the history cannot be imported as it is (refused, nothing written);
    /// 1 a revision or the driver failed while running.
    pub fn exit_code(&self) -> i32 {
        use ImportError as E;
        match self {
            E::NoConfig { .. } | E::NoDialect { .. } => 2,
            E::Python { .. }
            | E::MissingModule { .. }
            | E::RevisionImport { .. }
            | E::Scratch { .. }
            | E::TimedOut { .. } => 3,
            E::Alembic { .. }
            | E::UnmergedHeads { .. }
            | E::UnknownRevision { .. }
            | E::NeedsDatabase(_)
            | E::PythonData { .. }
            | E::DependsOnData { .. }
            | E::MergeOverlap { .. }
            | E::ScratchNotEmpty { .. }
            | E::OutNotEmpty { .. }
            | E::SinceNotImported { .. }
            | E::AlreadyImported { .. }
            | E::Refused { .. }
            | E::Source(_) => 4,
            E::Capture { .. } | E::Write { .. } | E::Driver { .. } => 1,
        }
    }
}

/// The name pip installs `module` under.
fn pip_name(module: &str) -> &str {
    match module {
        "sqlalchemy" => "SQLAlchemy",
        "pymysql" => "PyMySQL",
        "psycopg2" => "psycopg2-binary",
        other => other,
    }
}

fn heads_list(heads: &[Head]) -> String {
    heads
        .iter()
        .map(|h| format!("`{}` “{}” in `{}`", h.revision, h.message, h.path.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn blocked_list(blocked: &[Blocked]) -> String {
    let mut parts: Vec<String> = blocked
        .iter()
        .take(3)
        .map(|b| {
            format!(
                "revision `{}` cannot be rendered offline ({}, `{}` `{}`): {}",
                b.revision, b.side, b.at, b.source, b.reason
            )
        })
        .collect();
    if blocked.len() > 3 {
        parts.push(format!("and {} more", blocked.len() - 3));
    }
    parts.join("; ")
}
