//! A database Alembic made, and the history imported from it, for the
//! adoption tests: the shop project (`lambda/tests/fixtures/alembic/shop`)
//! run by real Alembic (the Python on PATH or in `.venv`, with `alembic`,
//! SQLAlchemy and PyMySQL), and `schemagate import alembic` run as a user
//! runs it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use testkit::release::Migrations;
use testkit::{require, text, workspace_root, TestDb};

/// A copy of the shop project in `dir`.
pub struct Shop {
    pub dir: PathBuf,
    python: PathBuf,
}

impl Shop {
    pub fn copy_to(dir: &Path) -> Result<Shop> {
        let from = workspace_root().join("lambda/tests/fixtures/alembic/shop");
        copy(&from, dir)?;
        let python = require::tool("python3")?;
        let ok = Command::new(&python)
            .args(["-c", "import alembic, sqlalchemy, pymysql"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            bail!(
                "`{}` lacks alembic, SQLAlchemy or PyMySQL: run `make python-tools`",
                python.display()
            );
        }
        Ok(Shop {
            dir: dir.to_path_buf(),
            python,
        })
    }

    fn ini(&self) -> String {
        self.dir.join("alembic.ini").display().to_string()
    }

    /// `alembic upgrade <rev>` on `db` (MariaDB), online, with the shop's env.py.
    pub fn alembic_upgrade(&self, db: &TestDb, rev: &str) -> Result<()> {
        let url = db.url().replace("mysql://", "mysql+pymysql://");
        let o = Command::new(&self.python)
            .args(["-m", "alembic", "-c", &self.ini(), "upgrade", rev])
            .env("PYTHONPATH", &self.dir)
            .env("SHOP_DATABASE_URL", url)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()?;
        if !o.status.success() {
            bail!("alembic upgrade {rev}: {:?}", text(&o));
        }
        Ok(())
    }

    /// `schemagate import alembic` of the whole shop into `out`, captured
    /// on a scratch database of `db`'s server, with the placeholder of its
    /// Python data migration filled in as a person would.
    pub fn import(&self, db: &TestDb, out: &Path) -> Result<Migrations> {
        let cli = testkit::lambda::cli_binary()?;
        let scratch = format!(
            "{}/sg_scratch_e2e_{}",
            testkit::db::MARIADB_URL,
            std::process::id()
        );
        let o = Command::new(cli)
            .args(["import", "alembic", "--config", &self.ini(), "--out"])
            .arg(out)
            .args(["--python"])
            .arg(&self.python)
            .args(["--scratch-url", &scratch, "--allow-python"])
            .env("PYTHONPATH", &self.dir)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env_remove("DATABASE_URL")
            .output()?;
        if !o.status.success() {
            bail!("schemagate import alembic for {}: {:?}", db.name, text(&o));
        }
        let p = out.join("0014_e49a1d7e3b8d_normalize_account_emails.sql");
        let t = std::fs::read_to_string(&p).with_context(|| format!("read {}", p.display()))?;
        let filled = t.replace("-- schemagate: placeholder\n", "")
            + "\nUPDATE account SET email = LOWER(TRIM(email));\n";
        std::fs::write(&p, filled)?;
        Migrations::read(out)
    }
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from).with_context(|| format!("read {}", from.display()))? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            if e.file_name() != "__pycache__" {
                copy(&e.path(), &target)?;
            }
        } else {
            std::fs::copy(e.path(), target)?;
        }
    }
    Ok(())
}
