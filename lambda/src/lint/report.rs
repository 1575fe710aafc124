//! Showing the lint: compiler-style lines for people, one JSON document for
//! CI, and the counts both end with.

use serde_json::{json, Value};

use super::finding::{Class, MigrationLint};
use super::rules::Severity;
use super::split::Intent;

/// Counts over a set of linted migrations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub migrations: usize,
    pub expand: usize,
    pub contract: usize,
    pub breaking: usize,
    pub unknown: usize,
    /// Never run, whatever the deploy allows: these fail `schemagate lint`.
    pub refused: usize,
    /// Breaking or unknown, and not marked: these fail `schemagate lint`.
    pub unmarked: usize,
    pub blocking: usize,
    pub warnings: usize,
}

pub fn summary(lints: &[MigrationLint]) -> Summary {
    let mut s = Summary {
        migrations: lints.len(),
        ..Default::default()
    };
    for l in lints {
        match l.class() {
            Class::Refused => s.refused += 1,
            Class::Expand => s.expand += 1,
            Class::Contract => s.contract += 1,
            Class::Breaking => s.breaking += 1,
            Class::Unknown => s.unknown += 1,
        }
        if l.intent == Intent::None && matches!(l.class(), Class::Breaking | Class::Unknown) {
            s.unmarked += 1;
        }
        s.blocking += l
            .findings
            .iter()
            .filter(|f| f.severity() == Severity::Blocking)
            .count();
        s.warnings += l
            .findings
            .iter()
            .filter(|f| f.severity() == Severity::Warning)
            .count();
    }
    s
}

impl Summary {
    /// `schemagate lint` fails (exit 5): something would be refused.
    pub fn fails(&self) -> bool {
        self.unmarked > 0 || self.refused > 0
    }

    /// `3 migrations: 2 expand, 1 breaking (1 unmarked); 1 blocking`
    pub fn line(&self) -> String {
        let mut classes = Vec::new();
        for (n, what) in [
            (self.expand, "expand"),
            (self.contract, "contract"),
            (self.breaking, "breaking"),
            (self.unknown, "unknown"),
            (self.refused, "refused"),
        ] {
            if n > 0 {
                classes.push(format!("{n} {what}"));
            }
        }
        let mut s = format!(
            "{} migration{}: {}",
            self.migrations,
            if self.migrations == 1 { "" } else { "s" },
            if classes.is_empty() {
                "nothing to check".to_string()
            } else {
                classes.join(", ")
            }
        );
        if self.unmarked > 0 {
            s.push_str(&format!(" ({} unmarked)", self.unmarked));
        }
        let mut notes = Vec::new();
        if self.blocking > 0 {
            notes.push(format!("{} blocking", self.blocking));
        }
        if self.warnings > 0 {
            notes.push(format!(
                "{} warning{}",
                self.warnings,
                if self.warnings == 1 { "" } else { "s" }
            ));
        }
        if !notes.is_empty() {
            s.push_str(&format!("; {}", notes.join(", ")));
        }
        s
    }
}

/// Every finding as a compiler-style line, then one line per migration.
pub fn text(lints: &[MigrationLint]) -> String {
    let mut out = String::new();
    for l in lints {
        for f in &l.findings {
            out.push_str(&l.diagnostic(f));
            out.push('\n');
        }
    }
    let width = lints.iter().map(|l| l.name.len()).max().unwrap_or(0);
    for l in lints {
        out.push_str(&format!("  {:<width$}  {}", l.name, one_line(l)));
        out.push('\n');
    }
    out
}

/// `breaking — drop-column (line 3)` / `expand` / `expand — blocking
/// copy-type-change (line 4)` / `contract (marked) — drop-column (line 2)`.
pub fn one_line(l: &MigrationLint) -> String {
    let class = l.class();
    let mut s = class.as_str().to_string();
    match (class, l.intent) {
        (Class::Contract, _) => s.push_str(" (marked)"),
        (Class::Breaking, Intent::Breaking) => s.push_str(" (marked: drain required)"),
        _ => {}
    }
    let mut ids: Vec<String> = Vec::new();
    for f in &l.findings {
        let sev = f.severity().as_str();
        let prefix = if sev == class.as_str() || (class == Class::Contract && f.severity().gates())
        {
            String::new()
        } else {
            format!("{sev} ")
        };
        let id = format!("{prefix}{} (line {})", f.rule.id, f.line);
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if !ids.is_empty() {
        let shown: Vec<String> = ids.iter().take(3).cloned().collect();
        s.push_str(&format!(" — {}", shown.join(", ")));
        if ids.len() > 3 {
            s.push_str(&format!(", … ({} findings)", l.findings.len()));
        }
    }
    s
}

pub fn json(lints: &[MigrationLint]) -> Value {
    let s = summary(lints);
    json!({
        "ok": !s.fails(),
        "summary": {
            "migrations": s.migrations,
            "expand": s.expand,
            "contract": s.contract,
            "breaking": s.breaking,
            "unknown": s.unknown,
            "refused": s.refused,
            "unmarked": s.unmarked,
            "blocking": s.blocking,
            "warnings": s.warnings,
        },
        "migrations": lints.iter().map(migration_json).collect::<Vec<_>>(),
    })
}

pub fn migration_json(l: &MigrationLint) -> Value {
    json!({
        "version": l.version,
        "name": l.name,
        "path": l.path.display().to_string(),
        "class": l.class().as_str(),
        "intent": l.intent.as_str(),
        "needs_drain": l.needs_drain(),
        "statements": l.statements,
        "findings": l.findings.iter().map(|f| json!({
            "line": f.line,
            "statement": f.statement + 1,
            "severity": f.severity().as_str(),
            "rule": f.rule.id.as_str(),
            "subject": f.subject,
            "reason": f.rule.reason,
            "fix": f.rule.fix,
            "diagnostic": l.diagnostic(f),
        })).collect::<Vec<_>>(),
    })
}
