//! `schemagate check`: run by an instance of release V at boot and from
//! its health check. Exit 0 while every migration applied above V is safe
//! for V ([`safe`]); [`EXIT_BREAKS`] with a one-line reason naming the
//! migration as soon as one that breaks V is applied; [`EXIT_BEHIND`] when
//! the database has not reached V yet. One short `SELECT` ([`read`]), so a
//! read-only user is enough; no migrations folder is needed.
//!
//! V is `--release-version`, else `SCHEMAGATE_SCHEMA_VERSION` from the
//! environment or from `--env-file` (default `/etc/schemagate/schema.env`,
//! which the construct's `gate()` writes into the launch template's user
//! data).

use std::path::Path;

use serde_json::json;

use super::args::Global;
use super::connect;
use super::track::Track;
use crate::deadline::Deadline;
use crate::Error;

pub mod read;
pub mod safe;

use safe::{Reason, Verdict};

/// A migration that release V cannot run on is applied (or one whose class
/// is not recorded).
pub const EXIT_BREAKS: i32 = 6;
/// The database is behind release V: V's own migrations are not applied.
pub const EXIT_BEHIND: i32 = 7;

/// The variable the construct's `gate()` writes.
pub const VARIABLE: &str = "SCHEMAGATE_SCHEMA_VERSION";

/// Run the check; the exit code after printing the verdict.
pub async fn run(
    g: &Global,
    release: Option<i64>,
    env_file: &Path,
    deadline: Deadline,
    track: &Track,
) -> Result<i32, Error> {
    let release = match release {
        Some(v) => v,
        None => from_env_file(env_file)?,
    };
    let mut conn = connect(g, deadline, track).await?;
    track.phase(format!(
        "reading the history of {} for release {release}",
        conn.target()
    ));
    let read = read::read(&mut conn, release).await;
    let target = conn.target().to_string();
    conn.close().await;
    let found = read?;
    let verdict = safe::judge(release, &found);
    let code = match verdict {
        Verdict::Safe => 0,
        Verdict::Behind => EXIT_BEHIND,
        Verdict::Breaks { .. } => EXIT_BREAKS,
    };
    let reason = Reason {
        release,
        found: &found,
        verdict: &verdict,
    }
    .to_string();
    if g.json {
        let migrations: Vec<_> = found
            .above
            .iter()
            .map(|a| {
                let r = a.recorded.as_ref();
                json!({
                    "version": a.version,
                    "name": r.and_then(|r| r.name.clone()),
                    "description": a.description,
                    "success": a.success,
                    "class": r.map(|r| r.class.clone()),
                    "rules": r.map(|r| r.rules.split(',').map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>()),
                    "since": r.and_then(|r| r.since),
                    "safe": a.unsafe_for(release).is_none(),
                })
            })
            .collect();
        let doc = json!({
            "ok": code == 0,
            "database": target,
            "release": release,
            "schema_version": found.head,
            "exit_code": code,
            "reason": reason,
            "migrations": migrations,
        });
        outln!("{doc}");
    } else if code == 0 {
        outln!("schemagate check: {reason}");
    } else {
        errln!("schemagate check: {reason}");
    }
    Ok(code)
}

/// `SCHEMAGATE_SCHEMA_VERSION` from an environment file as systemd's
/// `EnvironmentFile=` reads it: `KEY=VALUE` lines, `#` comments, optional
/// quotes. Written here: one key of a simple format, which no crate reads
/// exactly as systemd does.
pub fn from_env_file(path: &Path) -> Result<i64, Error> {
    let how = "give the release's schema version with --release-version V, or the file the construct's gate() writes (`SCHEMAGATE_SCHEMA_VERSION=<version>`) with --env-file PATH";
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("cannot read `{}`: {e}; {how}", path.display())))?;
    let value = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with(';'))
        .filter_map(|l| l.strip_prefix("export ").unwrap_or(l).split_once('='))
        .filter(|(k, _)| k.trim() == VARIABLE)
        .map(|(_, v)| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
        .next_back()
        .ok_or_else(|| {
            Error::Usage(format!(
                "`{}` does not set {VARIABLE}; {how}",
                path.display()
            ))
        })?;
    value.parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(|| {
        Error::Usage(format!(
            "`{}` sets {VARIABLE} to `{}`, which is not a schema version (a whole number ≥ 0); {how}",
            path.display(),
            crate::redact::value(&value)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_env_file_is_read_as_systemd_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("schema.env");
        for (text, want) in [
            ("SCHEMAGATE_SCHEMA_VERSION=6\n", Some(6)),
            (
                "# gate()\nOTHER=1\nSCHEMAGATE_SCHEMA_VERSION=\"12\"\n",
                Some(12),
            ),
            ("export SCHEMAGATE_SCHEMA_VERSION = '3'", Some(3)),
            ("SCHEMAGATE_SCHEMA_VERSION=six", None),
            ("SCHEMAGATE_SCHEMA_VERSION=-1", None),
            ("#SCHEMAGATE_SCHEMA_VERSION=4\n", None),
        ] {
            std::fs::write(&p, text).unwrap();
            assert_eq!(from_env_file(&p).ok(), want, "{text}");
        }
        let e = from_env_file(&dir.path().join("nope.env")).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("--release-version V"), "{e}");
    }
}
