//! What the lint found: one [`Finding`] per rule hit, gathered per
//! migration in a [`MigrationLint`].

use std::fmt;
use std::path::PathBuf;

use super::rules::{Rule, Severity};
use super::split::Intent;

#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: &'static Rule,
    /// 1-based line in the file.
    pub line: usize,
    /// 0-based statement number in the file.
    pub statement: usize,
    /// What the statement does, naming the table and column:
    /// `DROP COLUMN users.legacy_email`.
    pub subject: String,
}

impl Finding {
    pub fn severity(&self) -> Severity {
        self.rule.severity
    }
}

/// What a migration is, for the running release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Holds a statement that breaks the run itself (changes its database,
    /// its transaction, its session): never runs, whatever the deploy
    /// allows.
    Refused,
    /// Safe for the running release.
    Expand,
    /// Marked `-- schemagate: contract`: removes what the running release
    /// no longer uses. Allowed without a drain.
    Contract,
    /// Breaks the running release (by a rule, or marked `breaking`).
    Breaking,
    /// Holds a statement schemagate cannot classify.
    Unknown,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Refused => "refused",
            Class::Expand => "expand",
            Class::Contract => "contract",
            Class::Breaking => "breaking",
            Class::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The lint of one pending migration's up script.
#[derive(Debug, Clone)]
pub struct MigrationLint {
    pub version: i64,
    /// `0043_drop_legacy_email`
    pub name: String,
    /// The up script, as the migrations folder names it.
    pub path: PathBuf,
    pub intent: Intent,
    pub statements: usize,
    pub findings: Vec<Finding>,
    /// Marked `online` and read as a change schemagate runs online: the
    /// engine expands it instead of running the script.
    pub online: Option<crate::online::Change>,
}

impl MigrationLint {
    pub fn class(&self) -> Class {
        if self.refused().next().is_some() {
            return Class::Refused;
        }
        match self.intent {
            Intent::Contract => return Class::Contract,
            Intent::Breaking => return Class::Breaking,
            Intent::None | Intent::Online => {}
        }
        if self
            .findings
            .iter()
            .any(|f| f.severity() == Severity::Breaking)
        {
            Class::Breaking
        } else if self
            .findings
            .iter()
            .any(|f| f.severity() == Severity::Unknown)
        {
            Class::Unknown
        } else {
            Class::Expand
        }
    }

    /// The running release must be gone before this runs (a refused
    /// migration does not run at all).
    pub fn needs_drain(&self) -> bool {
        matches!(
            self.class(),
            Class::Breaking | Class::Unknown | Class::Refused
        )
    }

    /// Findings no marker, drain or `AllowBreaking` lets through.
    pub fn refused(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity() == Severity::Refused)
    }

    /// Findings that stop a deploy (breaking or unknown), in file order.
    pub fn gating(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.severity().gates())
    }

    /// Did the first `statements` statements include one that needs a
    /// drain? (A migration that failed part way on MariaDB.)
    pub fn needs_drain_within(&self, statements: usize) -> bool {
        match self.class() {
            Class::Expand | Class::Contract => false,
            Class::Refused => true,
            // Declared breaking: any statement counts.
            Class::Breaking if self.gating().next().is_none() => statements > 0,
            _ => self.gating().any(|f| f.statement < statements),
        }
    }

    /// `migrations/0043_drop_legacy_email.up.sql:3: breaking[drop-column]: …`
    pub fn diagnostic(&self, f: &Finding) -> String {
        let label = match (self.intent, f.severity()) {
            (_, Severity::Refused) => Severity::Refused.as_str().to_string(),
            (Intent::Contract, s) if s.gates() => format!("{} (marked contract)", s.as_str()),
            (Intent::Online, s) if s.gates() => format!("{} (marked online)", s.as_str()),
            (_, s) => s.as_str().to_string(),
        };
        format!(
            "{}:{}: {label}[{}]: {} — {}; fix: {}",
            self.path.display(),
            f.line,
            f.rule.id,
            f.subject,
            f.rule.reason,
            f.rule.fix
        )
    }
}
