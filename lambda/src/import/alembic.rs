//! `schemagate import alembic`: the driver reads and renders the history
//! ([`super::driver`]), [`super::choose`] decides each script,
//! [`super::merge`] checks the merge points, the files are written to a
//! staging folder ([`super::files`]), linted as any history is, and moved
//! into `--out` only when all of it succeeded.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::choose::{choose, Allow, Chosen, Rendering};
use super::driver::{self, Request, Revision};
use super::error::ImportError;
use super::files::{self, Planned, Staging};
use super::mapping;
use super::merge::{self, Overlap};
use crate::dialect::Dialect;
use crate::lint::{self, Class, Id, MigrationLint, Planned as PlannedStep, Side};
use crate::migrate::MigrationSet;

/// What to import, and how.
#[derive(Debug, Clone)]
pub struct Options {
    pub config: PathBuf,
    pub out: PathBuf,
    /// The database family, when the command line says (`--dialect`, the
    /// scratch URL); else the ini's `sqlalchemy.url` decides.
    pub family: Option<Dialect>,
    pub scratch_url: Option<String>,
    pub python: PathBuf,
    pub strict: bool,
    pub allow_python: bool,
    pub since: Option<String>,
    /// How long Alembic may take, and how long it is given to clean up
    /// (drop the scratch database it made) when it is stopped.
    pub limit: Duration,
    pub cleanup: Duration,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Imported {
    pub out: PathBuf,
    pub dialect: Dialect,
    /// The full id of `--since`.
    pub since: Option<String>,
    pub rows: Vec<Row>,
    pub files: usize,
    pub elapsed: Duration,
    /// Of which Python (Alembic reading and rendering, the capture).
    pub driver: Duration,
}

/// One migration written, for the report.
#[derive(Debug, Clone)]
pub struct Row {
    pub version: i64,
    pub name: String,
    pub revision: String,
    pub message: String,
    pub up: Rendering,
    /// `None`: irreversible.
    pub down: Option<Rendering>,
    pub statements: usize,
    pub class: Class,
    /// What a person should look at.
    pub review: Vec<String>,
}

/// Import the history `o` names; nothing is written unless it all succeeds.
pub async fn import(o: &Options) -> Result<Imported, ImportError> {
    let started = Instant::now();
    let config = std::path::absolute(&o.config).unwrap_or_else(|_| o.config.clone());
    if !config.is_file() {
        return Err(ImportError::NoConfig {
            path: o.config.clone(),
        });
    }
    let root = config.parent().unwrap_or(Path::new("/")).to_path_buf();
    let existing = existing(&o.out, o.since.is_some())?;
    let family = o.family.map(|d| d.as_str());
    let request = Request {
        config: &config,
        family,
        scratch_url: o.scratch_url.as_deref(),
        since: o.since.as_deref(),
    };
    let graph = driver::run(&o.python, &request, o.limit, o.cleanup).await?;
    let driver_time = started.elapsed();
    let dialect = graph.family.parse().unwrap_or(Dialect::MariaDb);
    if let Some(since) = &graph.since {
        check_since(&existing, since, &graph.revisions, &o.out)?;
    }
    let allow = Allow {
        python: o.allow_python,
        strict: o.strict,
    };
    let chosen = choose(&graph.revisions, &root, allow)?;
    let overlaps = merge::overlaps(&graph.revisions, &chosen, dialect);
    if let (true, Some(ov)) = (o.strict, overlaps.first()) {
        return Err(ImportError::MergeOverlap {
            merge: ov.merge.clone(),
            table: ov.table.clone(),
            first: ov.first.clone(),
            second: ov.second.clone(),
        });
    }
    let first = existing.latest().unwrap_or(0) + 1;
    let planned = plan(&chosen, first, &root, &overlaps, dialect);
    let mut rows = Vec::new();
    let mut written = 0;
    if !planned.is_empty() {
        let staging = Staging::new(&o.out)?;
        staging.write(&planned)?;
        let new = MigrationSet::load(&staging.dir)?;
        let lints = check(
            &existing,
            &new,
            dialect,
            o.since.is_some(),
            &staging.dir,
            &o.out,
        )?;
        written = staging.commit(&o.out, &planned)?;
        rows = report_rows(&chosen, &planned, &lints, &overlaps, &root);
    }
    Ok(Imported {
        out: o.out.clone(),
        dialect,
        since: graph.since,
        rows,
        files: written,
        elapsed: started.elapsed(),
        driver: driver_time,
    })
}

/// The migrations already in `out`: none for a first import, which needs
/// a new or empty folder.
fn existing(out: &Path, since: bool) -> Result<MigrationSet, ImportError> {
    if !out.exists() {
        return Ok(MigrationSet::default());
    }
    let set = MigrationSet::load(out)?;
    if !since && !set.files.is_empty() {
        return Err(ImportError::OutNotEmpty {
            out: out.to_path_buf(),
        });
    }
    Ok(set)
}

/// `--since REV`: REV was imported into `out`, and nothing after it was.
fn check_since(
    existing: &MigrationSet,
    since: &str,
    revisions: &[Revision],
    out: &Path,
) -> Result<(), ImportError> {
    let origins = mapping::origins(existing);
    if !origins.iter().any(|o| o.revision == since) {
        return Err(ImportError::SinceNotImported {
            since: since.into(),
            out: out.to_path_buf(),
        });
    }
    for r in revisions.iter().filter(|r| !r.before_since) {
        if let Some(o) = origins.iter().find(|o| o.revision == r.revision) {
            return Err(ImportError::AlreadyImported {
                revision: r.revision.clone(),
                since: since.into(),
                name: o.name.clone(),
            });
        }
    }
    Ok(())
}

/// The files of the chosen revisions, numbered from `first`.
fn plan(
    chosen: &[Chosen],
    first: i64,
    root: &Path,
    overlaps: &[Overlap],
    dialect: Dialect,
) -> Vec<Planned> {
    let last = first + chosen.len() as i64 - 1;
    let width = files::width(last);
    chosen
        .iter()
        .zip(first..)
        .map(|(c, version)| {
            let notes: Vec<String> = overlaps
                .iter()
                .filter(|o| o.merge == c.rev.revision)
                .map(merge_note)
                .collect();
            Planned {
                version,
                name: format!(
                    "{version:0width$}_{}",
                    files::description(&c.rev.revision, &c.rev.message)
                ),
                up: files::up_text(c, root, &notes, dialect),
                down: c
                    .down
                    .as_ref()
                    .map(|d| files::down_text(c, d, root, dialect)),
            }
        })
        .collect()
}

fn merge_note(o: &Overlap) -> String {
    format!(
        "review: merge of branches that both change `{}` (`{}` and `{}`): a database that ran them in another order than this file's may differ",
        o.table, o.first, o.second
    )
}

/// A planned revert of a version, to ask the lint for refusals of its
/// down script.
struct Revert(i64);

impl PlannedStep for Revert {
    fn version(&self) -> i64 {
        self.0
    }
    fn side(&self) -> Option<Side> {
        Some(Side::Down)
    }
}

/// Lint the new migrations as any history is linted (each on top of the
/// ones before it; with `--since`, the new ones as one release) and refuse
/// a file the engine would refuse — other than a placeholder, which is
/// refused on purpose until a person fills it in.
fn check(
    existing: &MigrationSet,
    new: &MigrationSet,
    dialect: Dialect,
    since: bool,
    staging: &Path,
    out: &Path,
) -> Result<Vec<MigrationLint>, ImportError> {
    let mut all = existing.clone();
    all.files.extend(new.files.iter().cloned());
    let versions: Vec<i64> = new.files.iter().map(|m| m.version).collect();
    let lints: Vec<MigrationLint> = if since {
        lint::lint(&all, dialect, &versions)
    } else {
        lint::lint_each(&all, dialect)
    };
    let shown = |s: String| s.replace(&staging.display().to_string(), &out.display().to_string());
    let revision = |text: &str| mapping::origin(text).map(|o| o.0).unwrap_or_default();
    for l in lints.iter().filter(|l| versions.contains(&l.version)) {
        if let Some(f) = l.refused().find(|f| f.rule.id != Id::Placeholder) {
            let sql = new.get(l.version).map_or("", |m| m.up.sql.as_str());
            return Err(ImportError::Refused {
                file: shown(l.path.display().to_string()),
                revision: revision(sql),
                finding: shown(l.diagnostic(f)),
            });
        }
    }
    let reverts: Vec<Revert> = versions.iter().map(|&v| Revert(v)).collect();
    if let Err(r) = lint::refusals(&all, dialect, &reverts) {
        if let Some(f) = r.0.iter().find(|f| f.rule.id != Id::Placeholder) {
            let m = new.files.iter().find(|m| m.name() == f.migration);
            let sql = m.map_or("", |m| m.up.sql.as_str());
            return Err(ImportError::Refused {
                file: shown(f.path.display().to_string()),
                revision: revision(sql),
                finding: shown(format!(
                    "line {}: refused[{}]: {} — {}; fix: {}",
                    f.line, f.rule.id, f.subject, f.rule.reason, f.rule.fix
                )),
            });
        }
    }
    Ok(lints)
}

fn report_rows(
    chosen: &[Chosen],
    planned: &[Planned],
    lints: &[MigrationLint],
    overlaps: &[Overlap],
    root: &Path,
) -> Vec<Row> {
    chosen
        .iter()
        .zip(planned)
        .map(|(c, p)| {
            let lint = lints.iter().find(|l| l.version == p.version);
            let mut review = Vec::new();
            for (side, s) in [("upgrade", Some(&c.up)), ("downgrade", c.down.as_ref())] {
                let Some(s) = s else { continue };
                if let Some(read) = &s.depends_on_data {
                    review.push(format!(
                        "review: depends on data ({side} read `{}` at `{}`)",
                        read.statement,
                        super::choose::at(&c.rev.path, root, read.line)
                    ));
                }
                if s.rendering == Rendering::Placeholder {
                    review.push(format!("placeholder: write the {side}'s SQL"));
                }
            }
            for o in overlaps.iter().filter(|o| o.merge == c.rev.revision) {
                review.push(merge_note(o));
            }
            Row {
                version: p.version,
                name: p.name.clone(),
                revision: c.rev.revision.clone(),
                message: c.rev.message.clone(),
                up: c.up.rendering,
                down: c.down.as_ref().map(|d| d.rendering),
                statements: lint.map_or(c.up.statements.len(), |l| l.statements),
                class: lint.map_or(Class::Unknown, |l| l.class()),
                review,
            }
        })
        .collect()
}
