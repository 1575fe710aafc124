//! Releases: a migrations folder (the example app's `migrations/` plus what
//! a scenario adds, written as real files) and the Lambda package built from
//! it, laid out as CDK stages it: `bootstrap` and `migrations/`.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::workspace_root;

/// The next release of the example app: two expand migrations.
pub const CREATE_INVOICES: (&str, &str, &str) = (
    "0007_create_invoices",
    "CREATE TABLE invoices (\n    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,\n    order_id BIGINT UNSIGNED NOT NULL,\n    amount_cents BIGINT NOT NULL,\n    issued_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,\n    CONSTRAINT fk_invoices_order FOREIGN KEY (order_id) REFERENCES orders (id)\n);\n",
    "DROP TABLE invoices;\n",
);
pub const ADD_ORDERS_STATUS: (&str, &str, &str) = (
    "0008_add_orders_status",
    "-- Expand: nullable with a default, safe for the running release.\nALTER TABLE orders ADD COLUMN status VARCHAR(16) NULL DEFAULT 'new';\n",
    "ALTER TABLE orders DROP COLUMN status;\n",
);
/// A broken migration whose first statement fails: nothing of it runs.
pub const BROKEN_INDEX: (&str, &str, &str) = (
    "0009_index_orders_shipped",
    "-- Typo: the column is not there (yet).\nCREATE INDEX idx_orders_shipped_at ON orders (shipped_at);\n",
    "DROP INDEX idx_orders_shipped_at ON orders;\n",
);
/// What the broken migration's first statement fails with.
pub const BROKEN_INDEX_ERROR: &str = "Key column 'shipped_at' doesn't exist in table";

/// A migrations folder's content: file name → SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrations {
    files: BTreeMap<String, String>,
}

impl Migrations {
    /// No migration yet (a scenario's own history, built with [`Migrations::with`]).
    pub fn none() -> Migrations {
        Migrations {
            files: BTreeMap::new(),
        }
    }

    /// The example app's history, `migrations/` at the repository root.
    pub fn example() -> Result<Migrations> {
        Self::read(&workspace_root().join("migrations"))
    }

    pub fn read(dir: &Path) -> Result<Migrations> {
        let mut files = BTreeMap::new();
        for entry in std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".sql") {
                files.insert(name, std::fs::read_to_string(entry.path())?);
            }
        }
        if files.is_empty() {
            bail!("no migrations in {}", dir.display());
        }
        Ok(Migrations { files })
    }

    /// Add a reversible migration `name` (`<version>_<description>`).
    pub fn with(mut self, (name, up, down): (&str, &str, &str)) -> Migrations {
        self.files.insert(format!("{name}.up.sql"), up.to_string());
        self.files
            .insert(format!("{name}.down.sql"), down.to_string());
        self
    }

    /// The release after the example: `0007_create_invoices`, `0008_add_orders_status`.
    pub fn next_release(self) -> Migrations {
        self.with(CREATE_INVOICES).with(ADD_ORDERS_STATUS)
    }

    /// An older build's migrations: the files above `version` left out.
    pub fn until(mut self, version: i64) -> Migrations {
        self.files
            .retain(|n, _| version_of(n).is_some_and(|v| v <= version));
        self
    }

    pub fn latest_version(&self) -> i64 {
        self.files
            .keys()
            .filter_map(|n| version_of(n))
            .max()
            .unwrap_or(0)
    }

    /// Stands in for the construct's sha256: any change changes it.
    pub fn hash(&self) -> String {
        let mut h = DefaultHasher::new();
        self.files.hash(&mut h);
        format!("{:016x}", h.finish())
    }

    pub fn count(&self) -> usize {
        self.files
            .keys()
            .filter(|n| !n.ends_with(".down.sql"))
            .count()
    }

    pub fn write_to(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        for (name, sql) in &self.files {
            std::fs::write(dir.join(name), sql).with_context(|| format!("write {name}"))?;
        }
        Ok(())
    }
}

/// The version a migration file's name starts with.
fn version_of(name: &str) -> Option<i64> {
    name.split('_').next()?.parse().ok()
}

/// A Lambda package: a folder with `bootstrap` and `migrations/`, what the
/// function's `LAMBDA_TASK_ROOT` points at.
#[derive(Debug, Clone)]
pub struct Package {
    pub dir: PathBuf,
}

impl Package {
    /// Lay out `dir`: `bootstrap` is a link to `binary` (the tests' packages
    /// all share one build), `migrations/` holds `migrations`.
    pub fn create(dir: &Path, binary: &Path, migrations: &Migrations) -> Result<Package> {
        if dir.exists() {
            bail!("package folder {} exists already", dir.display());
        }
        std::fs::create_dir_all(dir)?;
        std::os::unix::fs::symlink(binary, dir.join("bootstrap")).context("link bootstrap")?;
        migrations.write_to(&dir.join("migrations"))?;
        Ok(Package {
            dir: dir.to_path_buf(),
        })
    }

    /// An existing package (a `cdk synth` asset).
    pub fn existing(dir: &Path) -> Result<Package> {
        if !dir.join("bootstrap").is_file() || !dir.join("migrations").is_dir() {
            bail!(
                "{} is not a Lambda package (needs `bootstrap` and `migrations/`)",
                dir.display()
            );
        }
        Ok(Package {
            dir: dir.to_path_buf(),
        })
    }

    pub fn bootstrap(&self) -> PathBuf {
        self.dir.join("bootstrap")
    }
}
