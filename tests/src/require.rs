//! Parts that are not on this machine. A missing server or tool fails the
//! test with the command that installs it (`make test` installs everything);
//! nothing is skipped, under `CI=true` or elsewhere.

use std::fmt;
use std::path::PathBuf;

use crate::workspace_root;

/// A tool or server the rehearsal needs is missing.
#[derive(Debug)]
pub struct Unavailable {
    pub what: String,
    pub hint: String,
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not available: {}", self.what, self.hint)
    }
}

impl std::error::Error for Unavailable {}

pub fn unavailable(what: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Unavailable {
        what: what.into(),
        hint: hint.into(),
    })
}

/// `CI=true` (or `1`): nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// `Ok(v)` → `Some(v)`. Any error, a missing part included, panics with
/// the whole error chain: a test never skips.
pub fn or_skip<T>(r: anyhow::Result<T>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) if e.downcast_ref::<Unavailable>().is_some() => {
            panic!("{e:#} — run `make test` (it installs and starts everything), or `make setup`")
        }
        Err(e) => panic!("{e:?}"),
    }
}

/// Run an async set-up; on a missing part outside CI, skip the test.
#[macro_export]
macro_rules! start_or_skip {
    ($e:expr) => {
        match $crate::require::or_skip($e.await) {
            Some(v) => v,
            None => return,
        }
    };
}

/// An executable from the project's `.venv/bin` (where `make python-tools`
/// installs moto and cargo-lambda), else from `PATH`.
pub fn tool(name: &str) -> anyhow::Result<PathBuf> {
    let venv = workspace_root().join(".venv/bin").join(name);
    if venv.is_file() {
        return Ok(venv);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(unavailable(
        format!("`{name}`"),
        "run `make python-tools` (installs moto[server] and cargo-lambda into .venv)",
    ))
}
