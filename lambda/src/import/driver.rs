//! Running the Alembic driver (`alembic_driver.py`, embedded) with the
//! user's Python, and what it answers: the revisions in the order Alembic
//! upgrades them, each with what its source says and its renderings, or the
//! reason it could not go on.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use super::error::{Head, ImportError};

/// The driver's source, run with `python -c`.
const DRIVER: &str = include_str!("alembic_driver.py");

/// What the driver is asked.
#[derive(Debug, Serialize)]
pub struct Request<'a> {
    /// The absolute path of `alembic.ini`.
    pub config: &'a Path,
    /// `mariadb` or `postgres`; `None`: from the ini's `sqlalchemy.url`.
    pub family: Option<&'a str>,
    pub scratch_url: Option<&'a str>,
    pub since: Option<&'a str>,
}

/// What the driver answered.
#[derive(Debug, Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    revisions: Vec<Revision>,
    #[serde(default)]
    family: Option<String>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    error: Option<Failed>,
}

/// The revisions, the database family they were rendered for, and the
/// full id of `--since`.
#[derive(Debug)]
pub struct Graph {
    pub revisions: Vec<Revision>,
    /// `mariadb` or `postgres`.
    pub family: String,
    pub since: Option<String>,
}

/// One revision, as Alembic reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct Revision {
    pub revision: String,
    /// Its `down_revision`s: none for a base, two or more for a merge.
    pub down: Vec<String>,
    /// The first line of its message.
    pub message: String,
    /// Its file.
    pub path: PathBuf,
    /// At or below `--since`: already imported, not rendered.
    pub before_since: bool,
    pub source: Source,
    #[serde(default)]
    pub upgrade: Option<Rendered>,
    #[serde(default)]
    pub downgrade: Option<Rendered>,
}

/// What the revision's Python says, per function.
#[derive(Debug, Clone, Deserialize)]
pub struct Source {
    pub upgrade: Function,
    pub downgrade: Function,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Function {
    /// The module defines it.
    pub defined: bool,
    /// It does nothing (`pass`, `...`, a docstring), or is not defined.
    pub empty: bool,
    /// It changes rows from Python.
    pub python: Option<PythonData>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PythonData {
    pub line: u32,
    pub reason: String,
    /// The function's source.
    pub text: String,
}

/// One side of a revision, rendered.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Rendered {
    /// Offline, when it rendered.
    pub offline: Option<Vec<String>>,
    /// Why it did not render offline.
    pub offline_error: Option<Failure>,
    /// Recorded on the scratch database (only with one).
    #[serde(default)]
    pub captured: Option<Vec<String>>,
    /// It read rows and then wrote.
    #[serde(default)]
    pub depends_on_data: Option<DataRead>,
    /// It opened an autocommit block (offline, online): the file runs
    /// outside a transaction.
    #[serde(default)]
    pub offline_autocommit: bool,
    #[serde(default)]
    pub captured_autocommit: bool,
}

/// Where a revision failed, and why.
#[derive(Debug, Clone, Deserialize)]
pub struct Failure {
    pub line: Option<u32>,
    pub source: Option<String>,
    pub message: String,
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DataRead {
    pub line: Option<u32>,
    pub statement: String,
}

/// Why the driver stopped.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Failed {
    MissingModule {
        module: String,
    },
    RevisionImport {
        module: Option<String>,
        message: String,
        path: Option<PathBuf>,
        line: Option<u32>,
    },
    Alembic {
        message: String,
    },
    NoDialect {
        scheme: String,
    },
    UnmergedHeads {
        heads: Vec<Head>,
    },
    UnknownRevision {
        revision: String,
    },
    ScratchUrl {
        message: String,
    },
    ScratchConnect {
        message: String,
    },
    ScratchNotEmpty {
        database: String,
        tables: Vec<String>,
    },
    #[serde(rename = "capture_failed")]
    Capture {
        revision: String,
        side: String,
        path: PathBuf,
        line: Option<u32>,
        source: Option<String>,
        message: String,
    },
    Driver {
        message: String,
        #[serde(default)]
        traceback: String,
    },
}

/// Run the driver with `python`; the revision graph and its renderings.
/// A driver still running after `limit` is asked to stop (SIGTERM: it drops
/// a scratch database it created) and given `cleanup` before it is killed.
pub async fn run(
    python: &Path,
    req: &Request<'_>,
    limit: Duration,
    cleanup: Duration,
) -> Result<Graph, ImportError> {
    let shown = python.display().to_string();
    let cannot = |e: std::io::Error| ImportError::Python {
        python: shown.clone(),
        message: e.to_string(),
    };
    let mut child = Command::new(python)
        .arg("-c")
        .arg(DRIVER)
        // The revisions' modules are imported: no `__pycache__` left in the
        // user's versions folder.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(cannot)?;
    let request = serde_json::to_vec(req).expect("a request is JSON");
    if let Some(mut stdin) = child.stdin.take() {
        // A driver that exits at once (no Python 3) closes its stdin: the
        // answer below says why.
        let _ = stdin.write_all(&request).await;
    }
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let (mut stdout, mut stderr) = (child.stdout.take(), child.stderr.take());
    let (status, _, _) = tokio::join!(
        wait_for(&mut child, limit, cleanup),
        read(stdout.as_mut(), &mut out),
        read(stderr.as_mut(), &mut err),
    );
    let Some(status) = status.map_err(cannot)? else {
        return Err(ImportError::TimedOut { limit });
    };
    let stderr = tail(&String::from_utf8_lossy(&err), 20);
    let answer: Answer = serde_json::from_slice(&out).map_err(|_| ImportError::Driver {
        python: shown.clone(),
        message: format!("it exited with {status} without an answer"),
        output: stderr.clone(),
    })?;
    if answer.ok {
        return Ok(Graph {
            revisions: answer.revisions,
            family: answer.family.unwrap_or_else(|| "mariadb".into()),
            since: answer.since,
        });
    }
    Err(match answer.error {
        Some(f) => failed(f, &shown, req, stderr),
        None => ImportError::Driver {
            python: shown,
            message: "it answered neither revisions nor an error".into(),
            output: stderr,
        },
    })
}

/// The driver's exit status; `None` when it had to be stopped at `limit`.
async fn wait_for(
    child: &mut Child,
    limit: Duration,
    cleanup: Duration,
) -> std::io::Result<Option<ExitStatus>> {
    if let Ok(status) = tokio::time::timeout(limit, child.wait()).await {
        return status.map(Some);
    }
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: a signal to the child this function started and waits for.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    if tokio::time::timeout(cleanup, child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
    Ok(None)
}

async fn read<R: AsyncRead + Unpin>(pipe: Option<&mut R>, into: &mut Vec<u8>) {
    if let Some(p) = pipe {
        let _ = p.read_to_end(into).await;
    }
}

fn failed(f: Failed, python: &str, req: &Request<'_>, output: String) -> ImportError {
    let python = python.to_string();
    let root = req.config.parent().unwrap_or(Path::new(""));
    let at = |path: Option<&Path>, line| at(path.map(|p| p.strip_prefix(root).unwrap_or(p)), line);
    match f {
        Failed::MissingModule { module } => ImportError::MissingModule { python, module },
        Failed::RevisionImport {
            module,
            message,
            path,
            line,
        } => ImportError::RevisionImport {
            python,
            module: module.unwrap_or_default(),
            message,
            at: at(path.as_deref(), line),
        },
        Failed::Alembic { message } => ImportError::Alembic {
            config: req.config.to_path_buf(),
            message,
        },
        Failed::NoDialect { scheme } => ImportError::NoDialect {
            config: req.config.to_path_buf(),
            scheme,
        },
        Failed::UnmergedHeads { mut heads } => {
            for h in &mut heads {
                h.path = h.path.strip_prefix(root).unwrap_or(&h.path).to_path_buf();
            }
            ImportError::UnmergedHeads { heads }
        }
        Failed::UnknownRevision { revision } => ImportError::UnknownRevision { revision },
        Failed::ScratchUrl { message } | Failed::ScratchConnect { message } => {
            ImportError::Scratch { message }
        }
        Failed::ScratchNotEmpty { database, tables } => {
            ImportError::ScratchNotEmpty { database, tables }
        }
        Failed::Capture {
            revision,
            side,
            path,
            line,
            source,
            message,
        } => ImportError::Capture {
            revision,
            side,
            at: at(Some(&path), line),
            code: source.unwrap_or_default(),
            message,
        },
        Failed::Driver { message, traceback } => ImportError::Driver {
            python,
            message,
            output: if traceback.is_empty() {
                output
            } else {
                tail(&traceback, 20)
            },
        },
    }
}

/// `versions/x.py:21`
pub fn at(path: Option<&Path>, line: Option<u32>) -> String {
    match (path, line) {
        (Some(p), Some(l)) => format!("{}:{l}", p.display()),
        (Some(p), None) => p.display().to_string(),
        (None, _) => "a revision file".into(),
    }
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
