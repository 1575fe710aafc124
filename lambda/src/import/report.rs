//! The import's report: per migration its version, revision, how each
//! script was rendered, its statements and its lint class, and what to
//! review; as text or one JSON document.

use serde_json::{json, Value};

use super::alembic::{Imported, Row};
use super::choose::Rendering;

/// The report as a person reads it.
pub fn text(i: &Imported) -> String {
    let mut out = String::new();
    if i.rows.is_empty() {
        out.push_str(&format!(
            "schemagate import alembic: nothing to import{}; `{}` is unchanged\n",
            i.since
                .as_ref()
                .map_or(String::new(), |s| format!(" after `{s}`")),
            i.out.display()
        ));
        return out;
    }
    out.push_str(&format!(
        "  {:<8} {:<14} {:<12} {:<12} {:>10}  {:<9} message\n",
        "version", "revision", "up", "down", "statements", "lint"
    ));
    for r in &i.rows {
        out.push_str(&format!(
            "  {:<8} {:<14} {:<12} {:<12} {:>10}  {:<9} {}\n",
            r.name.split('_').next().unwrap_or(""),
            r.revision,
            r.up.as_str(),
            r.down.map_or("irreversible", Rendering::as_str),
            r.statements,
            r.class.as_str(),
            r.message
        ));
        for note in &r.review {
            out.push_str(&format!("           {note}\n"));
        }
    }
    out.push_str(&format!("schemagate import alembic: {}\n", summary(i)));
    out
}

/// One line: what was written, how, and what needs a person.
pub fn summary(i: &Imported) -> String {
    let count = |f: &dyn Fn(&Row) -> bool| i.rows.iter().filter(|r| f(r)).count();
    let captured: Vec<&str> = i
        .rows
        .iter()
        .filter(|r| r.up == Rendering::Captured || r.down == Some(Rendering::Captured))
        .map(|r| r.revision.as_str())
        .collect();
    let versions = |f: &dyn Fn(&Row) -> bool| -> Vec<String> {
        i.rows
            .iter()
            .filter(|r| f(r))
            .map(|r| r.name.split('_').next().unwrap_or("").to_string())
            .collect()
    };
    let mut parts = vec![format!(
        "wrote {} migrations ({} files) to `{}` for {} in {:.1} s ({:.1} s in Alembic)",
        i.rows.len(),
        i.files,
        i.out.display(),
        i.dialect,
        i.elapsed.as_secs_f64(),
        i.driver.as_secs_f64()
    )];
    parts.push(format!(
        "{} rendered offline",
        count(&|r| r.up != Rendering::Captured && r.down != Some(Rendering::Captured))
    ));
    if !captured.is_empty() {
        parts.push(format!(
            "{} captured on the scratch database ({})",
            captured.len(),
            captured.join(", ")
        ));
    }
    let lists = [
        (
            "placeholders",
            versions(&|r| r.up == Rendering::Placeholder),
        ),
        ("irreversible", versions(&|r| r.down.is_none())),
        ("to review", versions(&|r| !r.review.is_empty())),
    ];
    for (what, v) in lists {
        if !v.is_empty() {
            parts.push(format!("{what}: {}", v.join(", ")));
        }
    }
    parts.join("; ")
}

/// The report as one JSON document.
pub fn json(i: &Imported) -> Value {
    let rows: Vec<Value> = i
        .rows
        .iter()
        .map(|r| {
            json!({
                "version": r.version,
                "name": r.name,
                "revision": r.revision,
                "message": r.message,
                "up": r.up,
                "down": r.down,
                "statements": r.statements,
                "lint": r.class.as_str(),
                "review": r.review,
            })
        })
        .collect();
    json!({
        "ok": true,
        "out": i.out,
        "dialect": i.dialect.as_str(),
        "since": i.since,
        "files": i.files,
        "elapsed_ms": i.elapsed.as_millis() as u64,
        "alembic_ms": i.driver.as_millis() as u64,
        "migrations": rows,
        "summary": if i.rows.is_empty() { "nothing to import".to_string() } else { summary(i) },
    })
}
