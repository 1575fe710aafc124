//! What a run did ([`Report`]), told step by step ([`Progress`]).

use std::time::Duration;

use super::history::KEPT_TABLE;
use super::plan::{Adopted, Direction, Step, Stopped};

/// Told about each step as it starts and ends (CLI output, the Lambda's
/// watchdog).
pub trait Progress: Send + Sync {
    fn started(&self, _step: &Step) {}
    fn finished(&self, _outcome: &StepOutcome) {}
}

impl Progress for () {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutcome {
    pub step: Step,
    pub duration: Duration,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Highest applied version before the run.
    pub from: Option<i64>,
    /// Version the database is at now (0 = none applied).
    pub to: i64,
    pub steps: Vec<StepOutcome>,
    pub elapsed: Duration,
    /// A revert that stopped at an irreversible migration
    /// ([`super::OnIrreversible::Stop`]).
    pub stopped: Option<Stopped>,
    /// The database was adopted from Alembic's `alembic_version`.
    pub adopted: Option<Adopted>,
}

impl Report {
    pub fn count(&self, d: Direction) -> usize {
        self.steps.iter().filter(|s| s.step.direction == d).count()
    }

    /// `applied 0041, 0042` / `reverted 0042` / `already at version 42`,
    /// and which down scripts came from the database.
    pub fn summary(&self) -> String {
        let names = |d: Direction| -> Vec<String> {
            self.steps
                .iter()
                .filter(|s| s.step.direction == d)
                .map(|s| s.step.name.clone())
                .collect()
        };
        let mut parts = Vec::new();
        for d in [Direction::Baseline, Direction::Up, Direction::Down] {
            let n = names(d);
            if n.is_empty() {
                continue;
            }
            match (&self.adopted, d) {
                (Some(a), Direction::Baseline) => parts.push(format!(
                    "adopted from `alembic_version` {}: {} {}",
                    a.revisions.join(", "),
                    d.past(),
                    list(&n)
                )),
                _ => parts.push(format!("{} {}", d.past(), list(&n))),
            }
        }
        let mut s = if parts.is_empty() {
            format!("already at version {}; nothing to do", self.to)
        } else {
            format!(
                "{} in {}; schema at version {}",
                parts.join("; "),
                secs(self.elapsed),
                self.to
            )
        };
        let stored: Vec<String> = self
            .steps
            .iter()
            .filter(|s| s.step.stored_down)
            .map(|s| s.step.name.clone())
            .collect();
        if !stored.is_empty() {
            s.push_str(&format!(
                "; the down {} of {} came from the database (`{KEPT_TABLE}`): this migrations folder does not hold {}",
                if stored.len() == 1 { "script" } else { "scripts" },
                list(&stored),
                if stored.len() == 1 { "its file" } else { "their files" },
            ));
        }
        if let Some(st) = &self.stopped {
            s.push_str(&format!(
                "; the revert to version {} STOPPED at `{}`, which is irreversible (no down script): the schema stays at version {}",
                st.requested, st.name, self.to
            ));
        }
        s
    }
}

/// Names, or the first three and the last of a long list.
pub fn list(names: &[String]) -> String {
    if names.len() <= 6 {
        names.join(", ")
    } else {
        format!(
            "{}, … , {} ({} migrations)",
            names[..3].join(", "),
            names[names.len() - 1],
            names.len()
        )
    }
}

/// `850 ms`, `4.1 s`.
pub fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}
