//! What is written for each revision: the offline rendering where there is
//! one, the captured statements where offline failed, a placeholder for a
//! Python data migration (with `--allow-python`), nothing for a function
//! that does nothing — and which revisions stop the import. Pure: the
//! driver's answer in, the scripts out.

use std::path::Path;

use serde::Serialize;

use super::driver::{DataRead, Function, Rendered, Revision};
use super::error::{Blocked, ImportError};

/// How a script's statements were had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rendering {
    /// Alembic's offline (`--sql`) mode.
    Offline,
    /// Recorded while the revision ran on the scratch database.
    Captured,
    /// The function does nothing (a merge point's, say).
    Empty,
    /// A Python data migration: a person writes the SQL.
    Placeholder,
}

impl Rendering {
    pub fn as_str(self) -> &'static str {
        match self {
            Rendering::Offline => "offline",
            Rendering::Captured => "captured",
            Rendering::Empty => "empty",
            Rendering::Placeholder => "placeholder",
        }
    }
}

/// One script to write.
#[derive(Debug, Clone)]
pub struct Script {
    pub rendering: Rendering,
    pub statements: Vec<String>,
    /// It read rows and then wrote (captured only).
    pub depends_on_data: Option<DataRead>,
    /// For a placeholder: why, where, and the function's source.
    pub python: Option<(String, u32, String)>,
    /// It opened an autocommit block: on PostgreSQL the file runs
    /// statement by statement (`-- no-transaction`).
    pub autocommit: bool,
}

/// A revision with what is written for it.
#[derive(Debug, Clone)]
pub struct Chosen {
    pub rev: Revision,
    pub up: Script,
    /// `None`: irreversible (its downgrade does nothing while its upgrade
    /// does something).
    pub down: Option<Script>,
}

/// What the person running the import allowed.
#[derive(Debug, Clone, Copy)]
pub struct Allow {
    pub python: bool,
    pub strict: bool,
}

/// The scripts of every revision after `--since`, or the first reason the
/// import stops (all revisions that need a database at once: one flag fixes
/// them all).
pub fn choose(revs: &[Revision], root: &Path, allow: Allow) -> Result<Vec<Chosen>, ImportError> {
    let mut out = Vec::new();
    let mut blocked = Vec::new();
    for rev in revs.iter().filter(|r| !r.before_since) {
        match chosen(rev, root, allow) {
            Ok(c) => out.push(c),
            Err(Problem::Blocked(b)) => blocked.push(b),
            Err(Problem::Stop(e)) if blocked.is_empty() => return Err(e),
            Err(Problem::Stop(_)) => {}
        }
    }
    if blocked.is_empty() {
        Ok(out)
    } else {
        Err(ImportError::NeedsDatabase(blocked))
    }
}

enum Problem {
    Blocked(Blocked),
    Stop(ImportError),
}

fn chosen(rev: &Revision, root: &Path, allow: Allow) -> Result<Chosen, Problem> {
    let src = &rev.source;
    let up = script(
        rev,
        "upgrade",
        &src.upgrade,
        rev.upgrade.as_ref(),
        root,
        allow,
    )?;
    let down = if src.downgrade.empty && !src.upgrade.empty {
        None
    } else {
        let r = rev.downgrade.as_ref();
        Some(script(rev, "downgrade", &src.downgrade, r, root, allow)?)
    };
    for s in std::iter::once(&up).chain(down.as_ref()) {
        if let (Some(read), true) = (&s.depends_on_data, allow.strict) {
            return Err(Problem::Stop(ImportError::DependsOnData {
                revision: rev.revision.clone(),
                at: at(&rev.path, root, read.line),
                read: read.statement.clone(),
            }));
        }
    }
    Ok(Chosen {
        rev: rev.clone(),
        up,
        down,
    })
}

fn script(
    rev: &Revision,
    side: &'static str,
    f: &Function,
    r: Option<&Rendered>,
    root: &Path,
    allow: Allow,
) -> Result<Script, Problem> {
    let r = r.cloned().unwrap_or_default();
    let plain = |rendering, statements| Script {
        rendering,
        statements,
        depends_on_data: None,
        python: None,
        autocommit: false,
    };
    if let Some(p) = &f.python {
        if !allow.python {
            return Err(Problem::Stop(ImportError::PythonData {
                revision: rev.revision.clone(),
                at: at(&rev.path, root, Some(p.line)),
                reason: p.reason.clone(),
            }));
        }
        let statements = r.offline.or(r.captured).unwrap_or_default();
        let mut s = plain(Rendering::Placeholder, statements);
        s.python = Some((p.reason.clone(), p.line, p.text.clone()));
        return Ok(s);
    }
    if f.empty {
        return Ok(plain(Rendering::Empty, Vec::new()));
    }
    if let Some(statements) = r.offline {
        let mut s = plain(Rendering::Offline, statements);
        s.autocommit = r.offline_autocommit;
        return Ok(s);
    }
    if let Some(statements) = r.captured {
        let mut s = plain(Rendering::Captured, statements);
        s.depends_on_data = r.depends_on_data;
        s.autocommit = r.captured_autocommit;
        return Ok(s);
    }
    let e = r.offline_error;
    Err(Problem::Blocked(Blocked {
        revision: rev.revision.clone(),
        side,
        at: at(&rev.path, root, e.as_ref().and_then(|e| e.line)),
        source: e
            .as_ref()
            .and_then(|e| e.source.clone())
            .unwrap_or_default(),
        reason: e.map_or_else(|| "it needs a live database".into(), |e| e.reason),
    }))
}

/// `migrations/versions/x.py:21`, relative to the folder of alembic.ini.
pub fn at(path: &Path, root: &Path, line: Option<u32>) -> String {
    let shown = path.strip_prefix(root).unwrap_or(path);
    super::driver::at(Some(shown), line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::driver::{Failure, PythonData, Source};
    use std::path::PathBuf;

    fn function(empty: bool, python: bool) -> Function {
        Function {
            defined: true,
            empty,
            python: python.then(|| PythonData {
                line: 19,
                reason: "it loops over rows it reads and writes each one from Python".into(),
                text: "def upgrade():\n    ...".into(),
            }),
        }
    }

    fn rev(up: Function, down: Function, offline: Option<Vec<&str>>) -> Revision {
        let rendered = Rendered {
            offline: offline.map(|v| v.into_iter().map(String::from).collect()),
            offline_error: Some(Failure {
                line: Some(21),
                source: Some("sa.inspect(op.get_bind())".into()),
                message: "NoInspectionAvailable".into(),
                reason: "it reflects the live schema".into(),
            }),
            captured: None,
            depends_on_data: None,
            offline_autocommit: false,
            captured_autocommit: false,
        };
        Revision {
            revision: "b16d8a4b0e5a".into(),
            down: vec!["a05c7f3a9d49".into()],
            message: "m".into(),
            path: PathBuf::from("/p/migrations/versions/b16d.py"),
            before_since: false,
            source: Source {
                upgrade: up,
                downgrade: down,
            },
            upgrade: Some(rendered.clone()),
            downgrade: Some(rendered),
        }
    }

    const ALLOW: Allow = Allow {
        python: false,
        strict: false,
    };

    #[test]
    fn a_downgrade_that_does_nothing_makes_the_migration_irreversible_unless_both_do_nothing() {
        let root = Path::new("/p");
        let r = rev(
            function(false, false),
            function(true, false),
            Some(vec!["X;"]),
        );
        let c = choose(&[r], root, ALLOW).unwrap();
        assert!(c[0].down.is_none());
        assert_eq!(c[0].up.rendering, Rendering::Offline);
        let merge = rev(function(true, false), function(true, false), Some(vec![]));
        let c = choose(&[merge], root, ALLOW).unwrap();
        assert_eq!(c[0].down.as_ref().unwrap().rendering, Rendering::Empty);
    }

    #[test]
    fn revisions_that_need_a_database_are_named_together_with_file_and_line() {
        let root = Path::new("/p");
        let r = rev(function(false, false), function(false, false), None);
        let e = choose(&[r.clone(), r.clone(), r.clone(), r], root, ALLOW).unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(&e, ImportError::NeedsDatabase(b) if b.len() == 4),
            "{text}"
        );
        assert!(
            text.starts_with("revision `b16d8a4b0e5a` cannot be rendered offline (upgrade, `migrations/versions/b16d.py:21` `sa.inspect(op.get_bind())`): it reflects the live schema;"),
            "{text}"
        );
        assert!(text.contains("and 1 more; pass --scratch-url"), "{text}");
    }

    #[test]
    fn a_python_data_migration_stops_or_becomes_a_placeholder() {
        let root = Path::new("/p");
        let r = rev(function(false, true), function(true, false), None);
        let e = choose(std::slice::from_ref(&r), root, ALLOW).unwrap_err();
        assert!(
            e.to_string().contains(
                "(`migrations/versions/b16d.py:19`) is a Python data migration: it loops over rows"
            ),
            "{e}"
        );
        let allow = Allow {
            python: true,
            strict: false,
        };
        let c = choose(&[r], root, allow).unwrap();
        assert_eq!(c[0].up.rendering, Rendering::Placeholder);
        assert!(c[0].down.is_none());
    }
}
