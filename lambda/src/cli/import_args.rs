//! The arguments of `schemagate import alembic` and `schemagate diff`
//! (run by `cli/import.rs`).

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `schemagate import <source>`.
#[derive(Debug, Subcommand)]
pub enum ImportFrom {
    /// Write a migration file pair for each revision of an Alembic history
    /// (`versions/*.py`), rendered with Alembic's offline mode, or captured
    /// on a scratch database where offline rendering cannot work. Writes
    /// all files or none.
    Alembic(AlembicArgs),
}

#[derive(Debug, Args)]
pub struct AlembicArgs {
    /// The project's alembic.ini.
    #[arg(long, value_name = "FILE", default_value = "alembic.ini")]
    pub config: PathBuf,
    /// The folder to write (default: --migrations, ./migrations); new or
    /// empty, or holding an earlier import with --since.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// An empty database (or one that does not exist yet) to run the
    /// revisions that cannot be rendered offline on, recording what they
    /// send: mysql://…, mariadb://…, postgres://…
    #[arg(long, value_name = "URL")]
    pub scratch_url: Option<String>,
    /// The Python that has Alembic and what the revisions import (the
    /// app's virtualenv); PYTHONPATH is passed on.
    #[arg(long, value_name = "PATH", default_value = "python3")]
    pub python: PathBuf,
    /// mariadb (also mysql) or postgres; default: the scratch URL's, else
    /// alembic.ini's `sqlalchemy.url`.
    #[arg(long, value_name = "DIALECT")]
    pub dialect: Option<String>,
    /// Stop at a revision whose statements depend on the data it read, or
    /// at a merge of branches that change the same table, instead of
    /// writing it marked for review.
    #[arg(long)]
    pub strict: bool,
    /// Write a placeholder for a Python data migration, which `plan` and
    /// `up` refuse until a person writes its SQL, instead of stopping.
    #[arg(long)]
    pub allow_python: bool,
    /// Append the revisions after REV (the last one imported) to --out.
    #[arg(long, value_name = "REV")]
    pub since: Option<String>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The two databases, as `--url A --url B` (mysql://…, mariadb://…,
    /// postgres://…, of the same engine).
    #[arg(long = "url", value_name = "URL", required = true)]
    pub urls: Vec<String>,
}
