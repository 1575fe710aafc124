//! Reading a migrations folder in sqlx's naming.
//!
//! `<version>_<description>.up.sql` + `.down.sql` (reversible) or
//! `<version>_<description>.sql` (irreversible). Parsing and checksums are
//! sqlx's own, so a history written by `sqlx migrate run` verifies unchanged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sqlx::migrate::MigrationType;

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

    /// Read `dir`. Fails on a folder that cannot be read, a file name without
    /// a version, a version used twice, and an up without its down (or the
    /// reverse) — each naming the file and the fix.
    pub fn load(dir: &Path) -> Result<Self, SourceError> {
        if !dir.is_dir() {
            return Err(SourceError::NotAFolder {
                dir: dir.to_path_buf(),
            });
        }
        let resolved = sqlx::migrate::resolve_blocking(dir).map_err(|e| SourceError::Read {
            dir: dir.to_path_buf(),
            message: e.to_string(),
        })?;
        let mut ups: BTreeMap<i64, (String, Script)> = BTreeMap::new();
        let mut downs: BTreeMap<i64, Script> = BTreeMap::new();
        let mut simple: BTreeMap<i64, ()> = BTreeMap::new();
        for (m, path) in resolved {
            let script = Script {
                path,
                sql: m.sql.as_str().to_string(),
                checksum: m.checksum.to_vec(),
                no_tx: m.no_tx,
            };
            let duplicate = match m.migration_type {
                MigrationType::ReversibleDown => {
                    downs.insert(m.version, script.clone()).map(|s| s.path)
                }
                up_type => {
                    if up_type == MigrationType::Simple {
                        simple.insert(m.version, ());
                    }
                    ups.insert(m.version, (m.description.to_string(), script.clone()))
                        .map(|(_, s)| s.path)
                }
            };
            if let Some(first) = duplicate {
                return Err(SourceError::Duplicate {
                    version: m.version,
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

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("migrations folder `{}` does not exist or is not a folder", dir.display())]
    NotAFolder { dir: PathBuf },
    #[error("cannot read migrations from `{}`: {message}", dir.display())]
    Read { dir: PathBuf, message: String },
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
}
