//! What the CLI prints: the run's report, the plan, the status — as text
//! or as one JSON document.

use serde_json::json;

use crate::lint::{report, MigrationLint};
use crate::migrate::{self, Adopted, Direction, MigrationSet, Plan, Report};

pub fn report_json(database: &str, r: &Report, error: Option<&str>) -> serde_json::Value {
    json!({
        "ok": error.is_none(),
        "database": database,
        "from": r.from,
        "to": r.to,
        "applied": r.count(Direction::Up),
        "reverted": r.count(Direction::Down),
        "baselined": r.count(Direction::Baseline),
        "adopted": r.adopted.as_ref().map(adopted_json),
        "elapsed_ms": (r.elapsed.as_secs_f64() * 1e6).round() / 1e3,
        "steps": r.steps.iter().map(|s| json!({
            "version": s.step.version,
            "name": s.step.name,
            "direction": s.step.direction.as_str(),
            "ms": s.duration.as_millis() as u64,
        })).collect::<Vec<_>>(),
        "error": error,
    })
}

pub fn print_plan(json_out: bool, database: &str, p: &Plan, lints: &[MigrationLint]) {
    let lint_of = |v: i64| lints.iter().find(|l| l.version == v);
    if json_out {
        outln!(
            "{}",
            json!({
                "database": database,
                "current": p.current,
                "target": p.target,
                "steps": p.steps.iter().map(|s| {
                    let mut step = json!({"version": s.version, "name": s.name, "direction": s.direction.as_str()});
                    if let Some(l) = lint_of(s.version).filter(|_| s.direction == Direction::Up) {
                        step["lint"] = report::migration_json(l);
                    }
                    step
                }).collect::<Vec<_>>(),
                "lint": report::json(lints)["summary"],
                "adopted": p.adopted.as_ref().map(adopted_json),
            })
        );
        return;
    }
    outln!(
        "schemagate: {database} at version {} → {}",
        p.current.unwrap_or(0),
        p.target
    );
    if let Some(a) = &p.adopted {
        outln!("  {}", adopted_line(a));
    }
    if p.is_empty() {
        outln!("  nothing to do");
    }
    for s in &p.steps {
        let verb = s.direction.verb();
        match lint_of(s.version).filter(|_| s.direction == Direction::Up) {
            Some(l) => outln!("  {verb:<9} {:<50} {}", s.name, report::one_line(l)),
            None => outln!("  {verb:<9} {}", s.name),
        }
    }
    if lints.iter().any(|l| !l.findings.is_empty()) {
        for l in lints {
            for f in &l.findings {
                outln!("{}", l.diagnostic(f));
            }
        }
    }
    if !lints.is_empty() {
        outln!("lint: {}", report::summary(lints).line());
    }
}

/// A database adopted from `alembic_version`, as JSON.
fn adopted_json(a: &Adopted) -> serde_json::Value {
    json!({"alembic_version": a.revisions, "version": a.version, "name": a.name})
}

/// `adopting the database Alembic made: `alembic_version` … is …`
fn adopted_line(a: &Adopted) -> String {
    format!(
        "adopting the database Alembic made: `alembic_version` {} is `{}`, so versions up to {} are recorded as baselined, not run",
        a.revisions.join(", "),
        a.name,
        a.version
    )
}

/// One line of `status`.
struct StatusRow<'a> {
    version: i64,
    name: String,
    /// `applied`, `pending`, `FAILED`, `EDITED`, `MISSING`
    state: &'a str,
    ms: Option<i64>,
    /// The script that started and did not finish, and which (`up`, `down`).
    failed: Option<(String, &'a str)>,
}

/// Every migration of the folder and of the history, in version order.
fn status_rows<'a>(set: &MigrationSet, history: &'a [migrate::Applied]) -> Vec<StatusRow<'a>> {
    let applied: std::collections::BTreeMap<i64, &migrate::Applied> =
        history.iter().map(|a| (a.version, a)).collect();
    let mut rows: Vec<StatusRow> = Vec::new();
    for f in &set.files {
        let (state, failed) = match applied.get(&f.version).map(|a| (a, a.state())) {
            Some((_, migrate::State::UpFailed)) => ("FAILED", Some((f.up.file_name(), "up"))),
            Some((_, migrate::State::DownFailed)) => (
                "FAILED",
                Some((f.down.as_ref().unwrap_or(&f.up).file_name(), "down")),
            ),
            Some((a, _)) if a.checksum != f.up.checksum => ("EDITED", None),
            Some(_) => ("applied", None),
            None => ("pending", None),
        };
        let ms = applied
            .get(&f.version)
            .filter(|a| a.success)
            .map(|a| a.execution_time_ns.max(0) / 1_000_000);
        rows.push(StatusRow {
            version: f.version,
            name: f.name(),
            state,
            ms,
            failed,
        });
    }
    for a in history.iter().filter(|a| set.get(a.version).is_none()) {
        rows.push(StatusRow {
            version: a.version,
            name: format!("{} {}", a.version, a.description),
            state: if a.success { "MISSING" } else { "FAILED" },
            ms: None,
            failed: None,
        });
    }
    rows.sort_by_key(|r| r.version);
    rows
}

pub fn print_status(
    json_out: bool,
    database: &str,
    set: &MigrationSet,
    history: &[migrate::Applied],
    planned: &Result<Plan, migrate::PlanError>,
) {
    let current = history
        .iter()
        .filter(|a| a.success)
        .map(|a| a.version)
        .max();
    let rows = status_rows(set, history);
    if json_out {
        outln!(
            "{}",
            json!({
                "database": database,
                "version": current,
                "latest": set.latest(),
                "ok": planned.is_ok(),
                "problem": planned.as_ref().err().map(|e| e.to_string()),
                "adopted": planned.as_ref().ok().and_then(|p| p.adopted.as_ref()).map(adopted_json),
                "migrations": rows.iter().map(|r| {
                    let mut m = json!({"version": r.version, "name": r.name, "state": r.state, "ms": r.ms});
                    if let Some((file, direction)) = &r.failed {
                        m["failed_script"] = json!(file);
                        m["failed_direction"] = json!(direction);
                    }
                    m
                }).collect::<Vec<_>>(),
            })
        );
        return;
    }
    outln!(
        "schemagate: {database} at version {} (latest in {}: {})",
        current.unwrap_or(0),
        set.dir.display(),
        set.latest().unwrap_or(0)
    );
    if let Some(a) = planned.as_ref().ok().and_then(|p| p.adopted.as_ref()) {
        outln!("  {}", adopted_line(a));
    }
    for StatusRow {
        name,
        state,
        ms,
        failed,
        ..
    } in &rows
    {
        match (ms, failed) {
            (_, Some((file, "down"))) => {
                outln!("  {state:<9} {name:<50} revert started and did not finish: {file}")
            }
            (_, Some((file, _))) => {
                outln!("  {state:<9} {name:<50} started and did not finish: {file}")
            }
            (Some(ms), None) => outln!("  {state:<9} {name:<50} {ms:>6} ms"),
            (None, None) => outln!("  {state:<9} {name}"),
        }
    }
}
