//! Reading a migrations folder in sqlx's naming.
//!
//! `<version>_<description>.up.sql` + `.down.sql` (reversible) or
//! `<version>_<description>.sql` (irreversible). Checksums are sqlx's own
//! (`sqlx::migrate::Migration::new`), so a history written by `sqlx migrate
//! run` verifies unchanged.
//!
//! Every regular file in the folder is a migration, or ignored by a rule, or
//! an error naming it and the fix — never silently skipped or misread:
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

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use sqlx::migrate::{Migration, MigrationType};

/// The folder's own ignore list: one file name or pattern per line.
pub const IGNORE_FILE: &str = ".schemagateignore";

/// One SQL file of a migration.
#[derive(Debug, Clone)]
pub struct Script {
    pub path: PathBuf,
    pub sql: String,
    /// sqlx's checksum: SHA-384 of the file's text.
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
        let read_err = |e: std::io::Error| SourceError::Read {
            dir: dir.to_path_buf(),
            message: e.to_string(),
        };
        let ignore = IgnoreList::read(dir)?;
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(read_err)? {
            names.push(entry.map_err(read_err)?.file_name());
        }
        names.sort();

        let mut found = Vec::new();
        let mut misnamed = Vec::new();
        for os_name in names {
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
            // Followed like sqlx follows it: a link to a file is a file.
            let meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(_) if ignored => continue,
                Err(source) => return Err(SourceError::Unreadable { path, source }),
            };
            if !meta.is_file() || ignored {
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

        let mut ups: BTreeMap<i64, (String, Script)> = BTreeMap::new();
        let mut downs: BTreeMap<i64, Script> = BTreeMap::new();
        let mut simple: BTreeMap<i64, ()> = BTreeMap::new();
        for (p, path) in found {
            let sql = std::fs::read_to_string(&path).map_err(|source| SourceError::Unreadable {
                path: path.clone(),
                source,
            })?;
            let no_tx = sql.starts_with("-- no-transaction");
            let checksum = Migration::new(
                p.version,
                p.description.clone().into(),
                p.kind,
                sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(sql.as_str())),
                no_tx,
            )
            .checksum
            .to_vec();
            let script = Script {
                path,
                sql,
                checksum,
                no_tx,
            };
            let duplicate = match p.kind {
                MigrationType::ReversibleDown => {
                    downs.insert(p.version, script.clone()).map(|s| s.path)
                }
                up_type => {
                    if up_type == MigrationType::Simple {
                        simple.insert(p.version, ());
                    }
                    ups.insert(p.version, (p.description, script.clone()))
                        .map(|(_, s)| s.path)
                }
            };
            if let Some(first) = duplicate {
                return Err(SourceError::Duplicate {
                    version: p.version,
                    first,
                    second: script.path,
                });
            }
        }
        let mut files = Vec::with_capacity(ups.len());
        for (version, (description, up)) in ups {
            let down = downs.remove(&version);
            let is_simple = simple.contains_key(&version);
            match (&down, is_simple) {
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
        if let Some((_, orphan)) = downs.into_iter().next() {
            return Err(SourceError::OrphanDown { down: orphan.path });
        }
        Ok(MigrationSet {
            dir: dir.to_path_buf(),
            files,
        })
    }
}

/// A file name read as a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedName {
    pub version: i64,
    /// sqlx's description: the text between `_` and the suffix, `_` as space.
    pub description: String,
    pub kind: MigrationType,
}

/// Why a file name is not a migration's, with the rename that fixes it
/// where there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameProblem {
    /// `0001_x.SQL`, `0001_x.UP.sql`: the suffix is read one way, lowercase.
    SuffixCase { rename: String },
    /// `0001_x.sql.sql`, `0001_x.up.up.sql`.
    DoubledSuffix { rename: String },
    /// `-1_x.sql`, `0_x.sql`.
    VersionNotPositive { version: String },
    /// More than `i64::MAX`.
    VersionTooLarge { version: String },
    /// `abc.sql`, `abc_x.sql`.
    NoVersion,
    /// `0001add.sql`.
    NoSeparator { rename: String },
    /// `1.sql`, `0001_.sql`.
    NoDescription { version: String },
    /// A leading or trailing space.
    Whitespace { rename: String },
    /// `0001_x.sql.bak`, `notes.txt`: not a `.sql` file at all.
    NotSql,
    /// The name is not UTF-8.
    NotUtf8,
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameProblem::SuffixCase { rename } => {
                write!(f, "the suffix must be lowercase; rename it to `{rename}`")
            }
            NameProblem::DoubledSuffix { rename } => {
                write!(f, "the suffix is doubled; rename it to `{rename}`")
            }
            NameProblem::VersionNotPositive { version } => write!(
                f,
                "version `{version}` is not positive (versions start at 1; 0 means no migration applied); renumber it"
            ),
            NameProblem::VersionTooLarge { version } => write!(
                f,
                "version `{version}` is larger than {}; renumber it",
                i64::MAX
            ),
            NameProblem::NoVersion => write!(
                f,
                "it has no version; name it `<version>_<description>.sql` (or `.up.sql` + `.down.sql`)"
            ),
            NameProblem::NoSeparator { rename } => write!(
                f,
                "the version is not followed by `_`; rename it to `{rename}`"
            ),
            NameProblem::NoDescription { version } => write!(
                f,
                "it has no description; name it `{version}_<description>.sql` (or `.up.sql` + `.down.sql`)"
            ),
            NameProblem::Whitespace { rename } => {
                write!(f, "the name starts or ends with a space; rename it to `{rename}`")
            }
            NameProblem::NotSql => write!(
                f,
                "only `<version>_<description>.sql`, `.up.sql` and `.down.sql` files are migrations; rename or remove it"
            ),
            NameProblem::NotUtf8 => write!(f, "the name is not UTF-8; rename it"),
        }
    }
}

/// One file that is neither a migration nor ignored.
#[derive(Debug)]
pub struct Misnamed {
    pub path: PathBuf,
    pub problem: NameProblem,
}

/// Read a file name as a migration's: `<version>_<description>` and a
/// lowercase `.sql`, `.up.sql` or `.down.sql`, the version a positive `i64`.
pub fn parse_name(name: &str) -> Result<ParsedName, NameProblem> {
    let trimmed = name.trim();
    if trimmed != name {
        return Err(NameProblem::Whitespace {
            rename: trimmed.to_string(),
        });
    }
    let lower = name.to_ascii_lowercase();
    let kinds = [
        MigrationType::ReversibleUp,
        MigrationType::ReversibleDown,
        MigrationType::Simple,
    ];
    let Some(kind) = kinds.into_iter().find(|k| lower.ends_with(k.suffix())) else {
        return Err(NameProblem::NotSql);
    };
    let suffix = kind.suffix();
    let stem = &name[..name.len() - suffix.len()];
    if &name[stem.len()..] != suffix {
        return Err(NameProblem::SuffixCase {
            rename: format!("{stem}{suffix}"),
        });
    }
    // `x.UP.sql`: an up script whose suffix case sqlx would misread as an
    // irreversible migration named `x.UP`.
    let stem_lower = stem.to_ascii_lowercase();
    for tail in [".up", ".down", ".sql"] {
        if stem_lower.ends_with(tail) {
            let base = &stem[..stem.len() - tail.len()];
            return Err(if kind == MigrationType::Simple && tail != ".sql" {
                NameProblem::SuffixCase {
                    rename: format!("{base}{tail}.sql"),
                }
            } else {
                NameProblem::DoubledSuffix {
                    rename: format!("{base}{suffix}"),
                }
            });
        }
    }
    let Some((version, description)) = stem.split_once('_') else {
        let digits = stem.bytes().take_while(u8::is_ascii_digit).count();
        return Err(if digits == 0 {
            NameProblem::NoVersion
        } else if digits == stem.len() {
            NameProblem::NoDescription {
                version: stem.to_string(),
            }
        } else {
            NameProblem::NoSeparator {
                rename: format!("{}_{}{suffix}", &stem[..digits], &stem[digits..]),
            }
        });
    };
    let unsigned = version.strip_prefix('-').unwrap_or(version);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NameProblem::NoVersion);
    }
    let v: i64 = match unsigned.parse::<i64>() {
        Ok(v) if version.starts_with('-') && v != 0 => {
            return Err(NameProblem::VersionNotPositive {
                version: version.to_string(),
            })
        }
        Ok(v) => v,
        Err(_) => {
            return Err(if version.starts_with('-') {
                NameProblem::VersionNotPositive {
                    version: version.to_string(),
                }
            } else {
                NameProblem::VersionTooLarge {
                    version: version.to_string(),
                }
            })
        }
    };
    if v == 0 {
        return Err(NameProblem::VersionNotPositive {
            version: version.to_string(),
        });
    }
    if description.is_empty() {
        return Err(NameProblem::NoDescription {
            version: version.to_string(),
        });
    }
    Ok(ParsedName {
        version: v,
        description: description.replace('_', " "),
        kind,
    })
}

/// Ignored without being listed: `README*` and `*.md`, in any case.
/// (Names starting with `.` are ignored before this is asked.)
fn builtin_ignored(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("readme") || lower.ends_with(".md")
}

/// The patterns of a folder's `.schemagateignore`.
#[derive(Debug, Default)]
struct IgnoreList {
    patterns: Vec<String>,
}

impl IgnoreList {
    fn read(dir: &Path) -> Result<Self, SourceError> {
        let path = dir.join(IGNORE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => return Err(SourceError::Unreadable { path, source }),
        };
        Ok(Self::parse(&text))
    }

    fn parse(text: &str) -> Self {
        IgnoreList {
            patterns: text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string)
                .collect(),
        }
    }

    fn matches(&self, name: &str) -> bool {
        self.patterns.iter().any(|p| wildcard_match(p, name))
    }
}

/// `*` matches any run of characters, `?` one character, anything else
/// itself (case-sensitive). Written here rather than taken from a glob crate
/// on purpose: the grammar is two wildcards so that the CDK construct's
/// TypeScript copy (`cdk/lib/migrations-source.ts`) matches exactly the same
/// names; a glob crate's classes, braces and `**` would have to be copied too.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    // The last `*` seen, and where in the name its match ends so far.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("migrations folder `{}` does not exist or is not a folder", dir.display())]
    NotAFolder { dir: PathBuf },
    #[error("cannot read migrations from `{}`: {message}", dir.display())]
    Read { dir: PathBuf, message: String },
    #[error("cannot read `{}`: {source}; migrations are UTF-8 text files the process may read", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}; a file that is not a migration can be listed in `{}`", misnamed_list(files), ignore_file.display())]
    Misnamed {
        ignore_file: PathBuf,
        files: Vec<Misnamed>,
    },
    #[error("version {version} is used by `{}` and `{}`; give one of them a new version", first.display(), second.display())]
    Duplicate {
        version: i64,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("`{}` has no matching `.down.sql`; add one (an empty one is a deliberate no-op) or rename it to `<version>_<name>.sql` to mark it irreversible", up.display())]
    MissingDown { up: PathBuf },
    #[error("`{}` has no matching `.up.sql`; rename or remove it", down.display())]
    OrphanDown { down: PathBuf },
    #[error("`{}` is an irreversible migration but `{}` exists too; rename the first to `.up.sql` or remove the second", simple.display(), down.display())]
    Ambiguous { simple: PathBuf, down: PathBuf },
}

fn misnamed_list(files: &[Misnamed]) -> String {
    let one = |m: &Misnamed| {
        format!(
            "`{}` is not a migration file name: {}",
            m.path.to_string_lossy(),
            m.problem
        )
    };
    files.iter().map(one).collect::<Vec<_>>().join("; ")
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
mod tests {
    use super::*;
    use std::fs;

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, sql) in files {
            fs::write(dir.path().join(name), sql).unwrap();
        }
        dir
    }

    #[test]
    fn reads_reversible_and_irreversible_files_in_version_order() {
        let dir = folder(&[
            ("2_add_email.up.sql", "ALTER TABLE u ADD email TEXT;"),
            ("2_add_email.down.sql", "ALTER TABLE u DROP email;"),
            ("1_create_users.sql", "CREATE TABLE u (id INT);"),
            ("README.md", "not a migration"),
        ]);
        let set = MigrationSet::load(dir.path()).unwrap();
        assert_eq!(
            set.files.iter().map(|f| f.version).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert!(!set.files[0].reversible());
        assert!(set.files[1].reversible());
        assert_eq!(set.files[1].name(), "2_add_email");
        assert_eq!(set.files[1].description, "add email");
        assert_eq!(set.latest(), Some(2));
    }

    #[test]
    fn checksum_is_sqlx_sha384_of_the_file() {
        let dir = folder(&[("1_a.sql", "SELECT 1;\n")]);
        let set = MigrationSet::load(dir.path()).unwrap();
        assert_eq!(
            set.files[0].up.checksum,
            sqlx::migrate::Migration::new(
                1,
                "a".into(),
                MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe("SELECT 1;\n".to_string())),
                false
            )
            .checksum
            .to_vec()
        );
        assert_eq!(set.files[0].up.checksum.len(), 48);
    }

    #[test]
    fn up_without_down_names_the_file_and_the_fix() {
        let dir = folder(&[("3_x.up.sql", "SELECT 1;")]);
        let err = MigrationSet::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("3_x.up.sql"), "{err}");
        assert!(err.contains("no matching `.down.sql`"), "{err}");
    }

    #[test]
    fn duplicate_version_is_refused() {
        let dir = folder(&[("3_x.sql", "SELECT 1;"), ("3_y.sql", "SELECT 2;")]);
        let err = MigrationSet::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("version 3 is used by"), "{err}");
    }

    #[test]
    fn orphan_down_and_missing_folder_are_errors() {
        let dir = folder(&[("4_x.down.sql", "SELECT 1;")]);
        assert!(matches!(
            MigrationSet::load(dir.path()),
            Err(SourceError::OrphanDown { .. })
        ));
        assert!(matches!(
            MigrationSet::load(&dir.path().join("nope")),
            Err(SourceError::NotAFolder { .. })
        ));
    }

    fn problem(name: &str) -> NameProblem {
        parse_name(name).expect_err(name)
    }

    fn rename(to: &str) -> String {
        to.to_string()
    }

    #[test]
    fn valid_names_parse_as_sqlx_reads_them() {
        let p = parse_name("0001_create_users.up.sql").unwrap();
        assert_eq!(
            (p.version, p.description.as_str(), p.kind),
            (1, "create users", MigrationType::ReversibleUp)
        );
        let p = parse_name("20240101120000_add.v2.sql").unwrap();
        assert_eq!(
            (p.version, p.description.as_str(), p.kind),
            (20240101120000, "add.v2", MigrationType::Simple)
        );
        assert_eq!(
            parse_name("7_x.down.sql").unwrap().kind,
            MigrationType::ReversibleDown
        );
    }

    #[test]
    fn each_misnamed_file_of_the_issue_is_refused_with_its_fix() {
        assert_eq!(problem("abc.sql"), NameProblem::NoVersion);
        assert_eq!(problem("abc_x.sql"), NameProblem::NoVersion);
        assert_eq!(
            problem("1.sql"),
            NameProblem::NoDescription {
                version: "1".into()
            }
        );
        assert_eq!(
            problem("0001_.sql"),
            NameProblem::NoDescription {
                version: "0001".into()
            }
        );
        assert_eq!(
            problem("0001add.sql"),
            NameProblem::NoSeparator {
                rename: rename("0001_add.sql")
            }
        );
        assert_eq!(
            problem("0001_x.SQL"),
            NameProblem::SuffixCase {
                rename: rename("0001_x.sql")
            }
        );
        assert_eq!(problem("0001_x.sql.bak"), NameProblem::NotSql);
        assert_eq!(problem("0001_x.sql~"), NameProblem::NotSql);
        assert_eq!(
            problem("0001_x.sql "),
            NameProblem::Whitespace {
                rename: rename("0001_x.sql")
            }
        );
        assert_eq!(
            problem(" 0001_x.sql"),
            NameProblem::Whitespace {
                rename: rename("0001_x.sql")
            }
        );
        assert_eq!(
            problem("0001_x.UP.sql"),
            NameProblem::SuffixCase {
                rename: rename("0001_x.up.sql")
            }
        );
        assert_eq!(
            problem("0001_x.Down.sql"),
            NameProblem::SuffixCase {
                rename: rename("0001_x.down.sql")
            }
        );
        assert_eq!(
            problem("0001_x.up.SQL"),
            NameProblem::SuffixCase {
                rename: rename("0001_x.up.sql")
            }
        );
        assert_eq!(
            problem("0001_x.sql.sql"),
            NameProblem::DoubledSuffix {
                rename: rename("0001_x.sql")
            }
        );
        assert_eq!(
            problem("0001_x.up.up.sql"),
            NameProblem::DoubledSuffix {
                rename: rename("0001_x.up.sql")
            }
        );
        for v in ["-1", "0", "0000", "-0"] {
            assert_eq!(
                problem(&format!("{v}_x.sql")),
                NameProblem::VersionNotPositive { version: v.into() },
                "{v}"
            );
        }
        assert_eq!(
            problem("99999999999999999999_x.sql"),
            NameProblem::VersionTooLarge {
                version: "99999999999999999999".into()
            }
        );
        assert_eq!(problem("+1_x.sql"), NameProblem::NoVersion);
    }

    #[test]
    fn the_message_names_every_misnamed_file_and_the_rename() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["0001_x.UP.sql", "0002_y.sql", "-1_z.sql", "notes.txt"] {
            fs::write(dir.path().join(name), "SELECT 1;").unwrap();
        }
        let err = MigrationSet::load(dir.path()).unwrap_err();
        assert!(matches!(&err, SourceError::Misnamed { files, .. } if files.len() == 3));
        let msg = err.to_string();
        assert!(msg.contains("0001_x.UP.sql` is not a migration file name: the suffix must be lowercase; rename it to `0001_x.up.sql`"), "{msg}");
        assert!(
            msg.contains("-1_z.sql` is not a migration file name: version `-1` is not positive"),
            "{msg}"
        );
        assert!(
            msg.contains("notes.txt` is not a migration file name"),
            "{msg}"
        );
        assert!(msg.contains(".schemagateignore`"), "{msg}");
        assert!(!msg.contains("0002_y.sql"), "{msg}");
    }

    #[test]
    fn readmes_dotfiles_subfolders_and_listed_names_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("0001_a.sql"), "SELECT 1;").unwrap();
        fs::write(d.join("README"), "").unwrap();
        fs::write(d.join("readme.txt"), "").unwrap();
        fs::write(d.join("CHANGES.MD"), "").unwrap();
        fs::write(d.join(".gitkeep"), "").unwrap();
        fs::write(d.join(".0002_b.sql.swp"), "").unwrap();
        // An editor's lock file: a dangling link with a dot name.
        std::os::unix::fs::symlink("nowhere", d.join(".#0001_a.sql")).unwrap();
        fs::create_dir(d.join("drafts")).unwrap();
        fs::write(d.join("drafts").join("0003_c.SQL"), "").unwrap();
        fs::create_dir(d.join("0004_dir.sql")).unwrap();
        fs::write(d.join("0001_a.sql.bak"), "").unwrap();
        fs::write(d.join("schema.sql"), "").unwrap();
        fs::write(d.join("seed_data.sql"), "").unwrap();
        let set = MigrationSet::load(d).unwrap_err();
        assert!(
            matches!(&set, SourceError::Misnamed { files, .. } if files.len() == 3),
            "{set}"
        );

        fs::write(
            d.join(IGNORE_FILE),
            "# not migrations\n*.bak\n\n  schema.sql  \nseed_????.sql\n",
        )
        .unwrap();
        let set = MigrationSet::load(d).unwrap();
        assert_eq!(
            set.files.iter().map(|f| f.name()).collect::<Vec<_>>(),
            ["0001_a"]
        );
    }

    #[test]
    fn an_ignore_pattern_never_hides_a_migration() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("0001_a.sql"), "SELECT 1;").unwrap();
        fs::write(dir.path().join("README_0002_b.sql"), "").unwrap();
        fs::write(dir.path().join(IGNORE_FILE), "*.sql\n").unwrap();
        let set = MigrationSet::load(dir.path()).unwrap();
        assert_eq!(set.latest(), Some(1));
    }

    #[test]
    fn an_unreadable_or_non_utf8_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("0001_a.sql"), b"SELECT '\xff';").unwrap();
        let err = MigrationSet::load(dir.path()).unwrap_err();
        assert!(matches!(err, SourceError::Unreadable { .. }));
        assert!(err.to_string().contains("0001_a.sql"), "{err}");
        std::os::unix::fs::symlink("0002_b.sql", dir.path().join("0002_b.sql")).unwrap();
        fs::remove_file(dir.path().join("0001_a.sql")).unwrap();
        let err = MigrationSet::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("0002_b.sql"), "{err}");
    }

    #[test]
    fn wildcards_match_whole_names() {
        assert!(wildcard_match("*.bak", "0001_x.sql.bak"));
        assert!(!wildcard_match("*.bak", "0001_x.bak.sql"));
        assert!(wildcard_match("seed_????.sql", "seed_data.sql"));
        assert!(!wildcard_match("seed_????.sql", "seed_dat.sql"));
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match("a*b*c", "axxbyyc"));
        assert!(!wildcard_match("a*b*c", "axxbyy"));
        assert!(wildcard_match("notes.txt", "notes.txt"));
        assert!(!wildcard_match("Notes.txt", "notes.txt"));
        assert!(wildcard_match("**x", "x"));
        assert!(wildcard_match("é?", "éa"));
    }

    #[test]
    fn the_example_history_reads_as_sqlx_reads_it() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
        let ours = MigrationSet::load(&dir).unwrap();
        let theirs = sqlx::migrate::resolve_blocking(&dir).unwrap();
        let mut scripts: Vec<(i64, String, Vec<u8>, bool)> = ours
            .files
            .iter()
            .flat_map(|f| {
                std::iter::once(&f.up).chain(f.down.as_ref()).map(|s| {
                    (
                        f.version,
                        f.description.clone(),
                        s.checksum.clone(),
                        s.no_tx,
                    )
                })
            })
            .collect();
        let mut sqlx_scripts: Vec<(i64, String, Vec<u8>, bool)> = theirs
            .iter()
            .map(|(m, _)| {
                (
                    m.version,
                    m.description.to_string(),
                    m.checksum.to_vec(),
                    m.no_tx,
                )
            })
            .collect();
        scripts.sort();
        sqlx_scripts.sort();
        assert_eq!(scripts.len(), 12);
        assert_eq!(scripts, sqlx_scripts);
    }
}
