//! Parts that are not on this machine. A missing server or tool fails the
//! test with the command that installs it (`make test` installs and starts
//! everything); nothing is skipped, under `CI=true` or elsewhere.

use std::fmt;
use std::path::PathBuf;

use crate::workspace_root;

/// A tool or server the tests need is missing.
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

/// The value of a set-up; any error panics with the whole error chain, a
/// missing part with the command that installs everything.
pub fn ready<T>(r: anyhow::Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) if e.downcast_ref::<Unavailable>().is_some() => {
            panic!("{e:#} — run `make test` (it installs and starts everything), or `make setup`")
        }
        Err(e) => panic!("{e:?}"),
    }
}

/// Await an async set-up and [`ready`] it: `started!(Rehearsal::start("x"))`.
#[macro_export]
macro_rules! started {
    ($e:expr) => {
        $crate::require::ready($e.await)
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
