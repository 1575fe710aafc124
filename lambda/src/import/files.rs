//! The files an import writes: sqlx names with versions that keep room
//! (`0001_1975ea83b712_add_account_table.up.sql`), the revision id and
//! message in a leading comment that [`super::mapping`] reads back, and
//! the statements. Written to a staging folder beside `--out` first and
//! moved in only when everything succeeded.

use std::path::{Path, PathBuf};

use super::choose::{Chosen, Rendering, Script};
use super::error::ImportError;
use super::mapping::{ORIGIN, REVISES};
use crate::dialect::Dialect;

/// One migration to write.
#[derive(Debug, Clone)]
pub struct Planned {
    pub version: i64,
    /// `0001_1975ea83b712_add_account_table`
    pub name: String,
    pub up: String,
    /// `None`: irreversible (`<name>.sql`).
    pub down: Option<String>,
}

impl Planned {
    /// `(file name, text)` of each file.
    pub fn files(&self) -> Vec<(String, &str)> {
        match &self.down {
            Some(down) => vec![
                (format!("{}.up.sql", self.name), self.up.as_str()),
                (format!("{}.down.sql", self.name), down.as_str()),
            ],
            None => vec![(format!("{}.sql", self.name), self.up.as_str())],
        }
    }
}

/// Zero-padded width of versions up to `last`: 4 digits at least, so the
/// folder lists in order and later migrations fit.
pub fn width(last: i64) -> usize {
    last.to_string().len().max(4)
}

/// `1975ea83b712_add_account_table`: what sqlx reads as the description
/// "1975ea83b712 add account table".
pub fn description(revision: &str, message: &str) -> String {
    let mut out = slug(revision, 40);
    let m = slug(message, 60);
    if !m.is_empty() {
        out.push('_');
        out.push_str(&m);
    }
    out
}

/// Lowercase letters and digits, runs of anything else as one `_`, at most
/// `max` characters (cut at a `_`).
fn slug(text: &str, max: usize) -> String {
    let mut s = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            s.push(c);
        } else if !s.ends_with('_') {
            s.push('_');
        }
    }
    let mut s = s.trim_matches('_').to_string();
    if s.len() > max {
        let cut = s[..max].rfind('_').unwrap_or(max);
        s.truncate(cut);
    }
    s
}

/// The up file's text: the origin lines, how it was rendered, what to
/// review, then the statements.
pub fn up_text(c: &Chosen, root: &Path, notes: &[String], dialect: Dialect) -> String {
    let mut t = header(c, &c.up, dialect);
    t.push_str(&format!("{REVISES} {}\n", revises(&c.rev.down)));
    t.push_str(&format!(
        "-- imported by `schemagate import alembic` from `{}` (upgrade, {})\n",
        relative(&c.rev.path, root),
        c.up.rendering.as_str()
    ));
    for n in notes {
        t.push_str(&format!("-- {n}\n"));
    }
    body(&mut t, &c.up, c, root, "upgrade");
    t
}

/// The down file's text.
pub fn down_text(c: &Chosen, down: &Script, root: &Path, dialect: Dialect) -> String {
    let mut t = header(c, down, dialect);
    t.push_str(&format!(
        "-- imported by `schemagate import alembic` from `{}` (downgrade, {})\n",
        relative(&c.rev.path, root),
        down.rendering.as_str()
    ));
    body(&mut t, down, c, root, "downgrade");
    t
}

/// The origin line — after `-- no-transaction` (which must be the first
/// line) when a PostgreSQL script opened an autocommit block.
fn header(c: &Chosen, s: &Script, dialect: Dialect) -> String {
    let message = c.rev.message.replace(['\r', '\n'], " ");
    let line = format!("{ORIGIN} {} {}", c.rev.revision, message.trim());
    let mut t = String::new();
    if s.autocommit && dialect == Dialect::Postgres {
        t.push_str("-- no-transaction\n");
    }
    t.push_str(line.trim_end());
    t.push('\n');
    if s.autocommit && dialect == Dialect::Postgres {
        t.push_str("-- the revision opens an autocommit block: this file runs statement by statement, outside a transaction\n");
    }
    t
}

fn revises(down: &[String]) -> String {
    if down.is_empty() {
        "(base)".into()
    } else {
        down.join(", ")
    }
}

fn body(t: &mut String, s: &Script, c: &Chosen, root: &Path, side: &str) {
    if let Some(read) = &s.depends_on_data {
        t.push_str(&format!(
            "-- review: depends on data\n\
             -- The {side} read rows and then wrote:\n\
             --   `{}`\n\
             --   at {}\n\
             -- The statements below are what it wrote on the scratch database, whose rows\n\
             -- may differ from production's: check them before this file is deployed.\n",
            one_line(&read.statement),
            super::choose::at(&c.rev.path, root, read.line),
        ));
    }
    if let Some((reason, line, text)) = &s.python {
        let p = Python {
            reason,
            line: *line,
            text,
            statements: &s.statements,
        };
        placeholder(t, &p, c, root, side);
    }
    if s.rendering == Rendering::Empty {
        t.push_str(&format!("-- the {side} does nothing\n"));
    }
    for st in &s.statements {
        t.push('\n');
        t.push_str(&statement(st));
        t.push('\n');
    }
}

struct Python<'a> {
    reason: &'a str,
    line: u32,
    text: &'a str,
    statements: &'a [String],
}

fn placeholder(t: &mut String, p: &Python<'_>, c: &Chosen, root: &Path, side: &str) {
    let Python {
        reason,
        line,
        text,
        statements,
    } = *p;
    t.push_str("-- schemagate: placeholder\n");
    t.push_str(&format!(
        "-- The {side} changes rows from Python, which cannot be recorded as SQL:\n\
         --   {reason}\n\
         --   at {}\n\
         -- Write SQL that does the same below, then delete the\n\
         -- `-- schemagate: placeholder` line: `schemagate plan` and `up` refuse this\n\
         -- file until then.\n",
        super::choose::at(&c.rev.path, root, Some(line)),
    ));
    if !text.is_empty() {
        t.push_str(&format!("-- The revision's {side}:\n"));
    }
    for l in text.lines() {
        t.push_str(format!("--     {l}").trim_end());
        t.push('\n');
    }
    if !statements.is_empty() {
        t.push_str("-- What it sent when it ran (on the scratch database, whose rows differ):\n");
    }
}

/// A statement as a file holds it: formatting tabs as spaces, ending with
/// `;` (on a line of its own after a trailing comment).
fn statement(s: &str) -> String {
    let s = s.replace("\n\t", "\n    ");
    let s = s.trim();
    if s.ends_with(';') {
        return s.to_string();
    }
    let last = s.lines().last().unwrap_or("");
    if last.contains("--") || last.contains('#') {
        format!("{s}\n;")
    } else {
        format!("{s};")
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `path` relative to `root`, with `/`.
pub fn relative(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// A folder beside `out` to write into first.
pub struct Staging {
    pub dir: PathBuf,
}

impl Staging {
    pub fn new(out: &Path) -> Result<Staging, ImportError> {
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "migrations".into());
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = parent.join(format!(".{name}.import-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|source| ImportError::Write {
            path: dir.clone(),
            source,
        })?;
        Ok(Staging { dir })
    }

    /// Write every file of `planned` into the staging folder.
    pub fn write(&self, planned: &[Planned]) -> Result<(), ImportError> {
        for p in planned {
            for (name, text) in p.files() {
                let path = self.dir.join(&name);
                std::fs::write(&path, text)
                    .map_err(|source| ImportError::Write { path, source })?;
            }
        }
        Ok(())
    }

    /// Move the staged files into `out` (created if missing); on a failure
    /// the files moved so far are taken out again.
    pub fn commit(self, out: &Path, planned: &[Planned]) -> Result<usize, ImportError> {
        let fail = |path: &Path, source| ImportError::Write {
            path: path.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(out).map_err(|e| fail(out, e))?;
        let mut moved: Vec<PathBuf> = Vec::new();
        for p in planned {
            for (name, _) in p.files() {
                let to = out.join(&name);
                if let Err(e) = std::fs::rename(self.dir.join(&name), &to) {
                    for m in &moved {
                        let _ = std::fs::remove_file(m);
                    }
                    return Err(fail(&to, e));
                }
                moved.push(to);
            }
        }
        Ok(moved.len())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_room_and_read_as_the_revision_and_message() {
        assert_eq!(width(15), 4);
        assert_eq!(width(12345), 5);
        assert_eq!(
            description("1975ea83b712", "Add account table (v2)!"),
            "1975ea83b712_add_account_table_v2"
        );
        assert_eq!(description("ae10_x", ""), "ae10_x");
        let long = description("a1", &"word ".repeat(30));
        assert!(long.len() <= 63 && !long.ends_with('_'), "{long}");
    }

    #[test]
    fn statements_end_with_a_semicolon_a_trailing_comment_cannot_swallow() {
        assert_eq!(
            statement("CREATE TABLE a (\n\tid INT\n)"),
            "CREATE TABLE a (\n    id INT\n);"
        );
        assert_eq!(statement("UPDATE a SET b = 1;"), "UPDATE a SET b = 1;");
        assert_eq!(
            statement("UPDATE a SET b = 1 -- all"),
            "UPDATE a SET b = 1 -- all\n;"
        );
    }
}
