//! Reading a migrations folder in sqlx's naming.
//!
//! `<version>_<description>.up.sql` + `.down.sql` (reversible) or
//! `<version>_<description>.sql` (irreversible). Checksums are sqlx's own
//! (`sqlx::migrate::Migration::new`), so a history written by `sqlx migrate
//! run` verifies unchanged.
//!
//! Every regular file in the folder is a migration, or ignored by a rule, or
//! an error naming it and the fix — none is passed over without a word, none misread:
//! - a migration's version is a positive whole number (0 means "no migration
//!   applied"), and its suffix is lowercase: `.sql`, `.up.sql`, `.down.sql`;
//! - ignored: subfolders (as sqlx does), names starting with `.`, `README*`
//!   and `*.md` (any case), and names matched by a line of the folder's
//!   `.schemagateignore` (`*` and `?` wildcards, `#` comments). A valid
//!   migration name is never ignored.
//!
//! The CDK construct (`cdk/lib/migrations-source.ts`) applies the same rules
//! at synth, so the construct and the Lambda agree on what a migration is.
//!
//! The folder is listed here rather than by `sqlx::migrate::resolve_blocking`:
//! sqlx skips misnamed files silently, reads `0001_x.UP.sql` as an
//! irreversible `x.UP`, accepts negative versions, and fails on an ignored
//! name like `README_old.sql` or an editor's dangling `.#0001_x.sql` link.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sqlx::migrate::{Migration, MigrationType};

pub use error::SourceError;
pub use ignore::{wildcard_match, IGNORE_FILE};
pub use name::{parse_name, Misnamed, NameProblem, ParsedName};

use ignore::{builtin_ignored, IgnoreList};

mod error;
mod ignore;
mod name;

/// One SQL file of a migration.
#[derive(Debug, Clone)]
pub struct Script {
    pub path: PathBuf,
    pub sql: String,
    /// sqlx's checksum, SHA-384 of the file's text, for an up (or simple)
    /// script, the one the history compares; empty for a down script.
    pub checksum: Vec<u8>,
    /// The file starts with `-- no-transaction` (sqlx's opt-out).
    pub no_tx: bool,
}

impl Script {
    /// File name without the folder, for messages.
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// A version with its up script and, when reversible, its down script.
#[derive(Debug, Clone)]
pub struct MigrationFile {
    pub version: i64,
    /// sqlx's description: the name after the version, `_` read as space.
    pub description: String,
    pub up: Script,
    /// `None` for an irreversible (`<version>_<desc>.sql`) migration.
    pub down: Option<Script>,
}

impl MigrationFile {
    /// `0043_drop_legacy_email`: the file name without its suffix.
    pub fn name(&self) -> String {
        let file = self.up.file_name();
        file.trim_end_matches(".sql")
            .trim_end_matches(".up")
            .to_string()
    }

    pub fn reversible(&self) -> bool {
        self.down.is_some()
    }
}

/// The migrations of a folder, sorted by version.
#[derive(Debug, Clone, Default)]
pub struct MigrationSet {
    pub dir: PathBuf,
    pub files: Vec<MigrationFile>,
}

impl MigrationSet {
    pub fn get(&self, version: i64) -> Option<&MigrationFile> {
        self.files
            .binary_search_by_key(&version, |m| m.version)
            .ok()
            .map(|i| &self.files[i])
    }

    pub fn latest(&self) -> Option<i64> {
        self.files.last().map(|m| m.version)
    }

    /// Read `dir`. Fails on a folder that cannot be read, a file that is
    /// neither a migration nor ignored (every such file is named, with the
    /// rename that fixes it), a version used twice, and an up without its
    /// down (or the reverse) — each naming the file and the fix.
    pub fn load(dir: &Path) -> Result<Self, SourceError> {
        if !dir.is_dir() {
            return Err(SourceError::NotAFolder {
                dir: dir.to_path_buf(),
            });
        }
        let scripts = read_scripts(named(dir)?)?;
        Ok(MigrationSet {
            dir: dir.to_path_buf(),
            files: scripts.pair()?,
        })
    }
}

/// The folder's migration files by name, in name order; every other file
/// is ignored by a rule or refused, all of them named at once.
fn named(dir: &Path) -> Result<Vec<(ParsedName, PathBuf)>, SourceError> {
    let read_err = |e: std::io::Error| SourceError::Read {
        dir: dir.to_path_buf(),
        message: e.to_string(),
    };
    let ignore = IgnoreList::read(dir)?;
    // The listing says what each entry is (no `stat` per file); only a
    // link, or an entry it cannot tell, is looked up.
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let kind = entry.file_type().ok();
        entries.push((entry.file_name(), kind));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));

    let mut found = Vec::new();
    let mut misnamed = Vec::new();
    for (os_name, kind) in entries {
        let path = dir.join(&os_name);
        let Some(name) = os_name.to_str() else {
            misnamed.push(Misnamed {
                path,
                problem: NameProblem::NotUtf8,
            });
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let parsed = parse_name(name);
        let ignored = parsed.is_err() && (builtin_ignored(name) || ignore.matches(name));
        if ignored {
            continue;
        }
        // Followed like sqlx follows it: a link to a file is a file.
        let is_file = match kind {
            Some(k) if !k.is_symlink() => k.is_file(),
            _ => match std::fs::metadata(&path) {
                Ok(m) => m.is_file(),
                Err(source) => return Err(SourceError::Unreadable { path, source }),
            },
        };
        if !is_file {
            continue;
        }
        match parsed {
            Ok(p) => found.push((p, path)),
            Err(problem) => misnamed.push(Misnamed { path, problem }),
        }
    }
    if !misnamed.is_empty() {
        return Err(SourceError::Misnamed {
            ignore_file: dir.join(IGNORE_FILE),
            files: misnamed,
        });
    }
    Ok(found)
}

/// The scripts read, by version: up (and simple) scripts with their
/// description, down scripts, and which versions are simple.
#[derive(Default)]
struct Scripts {
    ups: BTreeMap<i64, (String, Script)>,
    downs: BTreeMap<i64, Script>,
    simple: BTreeSet<i64>,
}

/// Read each file with sqlx's checksum; a version used twice is refused.
fn read_scripts(found: Vec<(ParsedName, PathBuf)>) -> Result<Scripts, SourceError> {
    let mut s = Scripts::default();
    for (p, script) in read_all(found)? {
        let version = p.version;
        let (first, second) = match p.kind {
            MigrationType::ReversibleDown => match s.downs.insert(version, script) {
                Some(first) => (first.path, &s.downs[&version].path),
                None => continue,
            },
            kind => {
                if kind == MigrationType::Simple {
                    s.simple.insert(version);
                }
                match s.ups.insert(version, (p.description, script)) {
                    Some((_, first)) => (first.path, &s.ups[&version].1.path),
                    None => continue,
                }
            }
        };
        return Err(SourceError::Duplicate {
            version,
            first,
            second: second.clone(),
        });
    }
    Ok(s)
}

/// Folders at least this large are read on every core (each thread reads
/// and hashes a share of the files); below it, threads cost more than
/// they save.
const READ_IN_PARALLEL: usize = 256;

/// The files read and hashed, in the order given; the first that cannot
/// be read is the error.
fn read_all(found: Vec<(ParsedName, PathBuf)>) -> Result<Vec<(ParsedName, Script)>, SourceError> {
    let cores = match found.len() >= READ_IN_PARALLEL {
        true => std::thread::available_parallelism().map_or(1, |n| n.get()),
        false => 1,
    };
    if cores == 1 {
        return found.into_iter().map(read_one).collect();
    }
    let share = found.len().div_ceil(cores);
    let mut shares = Vec::new();
    let mut rest = found;
    while rest.len() > share {
        let tail = rest.split_off(share);
        shares.push(std::mem::replace(&mut rest, tail));
    }
    shares.push(rest);
    std::thread::scope(|scope| {
        let threads: Vec<_> = shares
            .into_iter()
            .map(|part| {
                scope.spawn(move || {
                    part.into_iter()
                        .map(read_one)
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in threads {
            all.extend(t.join().expect("reading a file does not panic")?);
        }
        Ok(all)
    })
}

/// One file: its text, and sqlx's checksum when it is an up (or simple)
/// script — the history keeps no checksum of a down script, so none is
/// computed.
fn read_one((p, path): (ParsedName, PathBuf)) -> Result<(ParsedName, Script), SourceError> {
    let sql = match std::fs::read_to_string(&path) {
        Ok(sql) => sql,
        Err(source) => return Err(SourceError::Unreadable { path, source }),
    };
    let no_tx = sql.starts_with("-- no-transaction");
    let checksum = match p.kind {
        MigrationType::ReversibleDown => Vec::new(),
        kind => Migration::new(
            p.version,
            p.description.clone().into(),
            kind,
            sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(sql.as_str())),
            no_tx,
        )
        .checksum
        .to_vec(),
    };
    let script = Script {
        path,
        sql,
        checksum,
        no_tx,
    };
    Ok((p, script))
}

impl Scripts {
    /// Each up with its down: a reversible up needs one, a simple
    /// migration must have none, and no down is left without its up.
    fn pair(mut self) -> Result<Vec<MigrationFile>, SourceError> {
        let mut files = Vec::with_capacity(self.ups.len());
        for (version, (description, up)) in self.ups {
            let down = self.downs.remove(&version);
            match (&down, self.simple.contains(&version)) {
                (None, false) => return Err(SourceError::MissingDown { up: up.path }),
                (Some(d), true) => {
                    return Err(SourceError::Ambiguous {
                        simple: up.path,
                        down: d.path.clone(),
                    })
                }
                _ => {}
            }
            files.push(MigrationFile {
                version,
                description,
                up,
                down,
            });
        }
        if let Some((_, orphan)) = self.downs.into_iter().next() {
            return Err(SourceError::OrphanDown { down: orphan.path });
        }
        Ok(files)
    }
}

/// What the lint reads of the folder (it depends on no engine type).
impl crate::lint::Migrations for MigrationSet {
    fn migrations(&self) -> Vec<crate::lint::Migration<'_>> {
        fn text(s: &Script) -> crate::lint::Text<'_> {
            crate::lint::Text {
                path: &s.path,
                sql: &s.sql,
            }
        }
        self.files
            .iter()
            .map(|f| crate::lint::Migration {
                version: f.version,
                name: f.name(),
                up: text(&f.up),
                down: f.down.as_ref().map(text),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
