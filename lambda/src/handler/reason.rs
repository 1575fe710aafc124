//! The one place a CloudFormation `Reason` is written: from an
//! [`Outcome`], a [`DeployError`], the watchdog's [`TimedOut`], a panic, or
//! a failed drain. The texts are the contract people (and tests, and
//! `make demo`) read; each shape has a test below.

use std::fmt;

use crate::drain::{
    restored_names, AfterFailure, AfterRevert, DrainError, Drained, PageTakenDown, Restored,
    StillDrained, PAGE_TAG, SAVED_TAG,
};
use crate::props::Drain;

use super::outcome::{DeployError, Done, Outcome};
use super::watch::TimedOut;

/// A Delete's Reason: it never changes the database.
pub const DELETED: &str = "delete leaves the schema and its data in place";

pub fn malformed(message: &str) -> String {
    format!("malformed CloudFormation request: {message}")
}

pub fn panicked(what: &str) -> String {
    format!("internal error in schemagate ({what}); please report it with the function's log")
}

/// The watchdog's answer when the run ended in the grace it was given,
/// failing.
pub fn then_stopped(timed_out: &str, e: &DeployError) -> String {
    format!("{timed_out}. The run then stopped: {e}")
}

pub fn success(o: &Outcome) -> String {
    match &o.done {
        Done::Kept {
            at,
            requested,
            still_drained: still,
        } => {
            let mut s = format!(
                "OnRollback=keep: the schema stays at version {at} (target {requested}); no down script was run"
            );
            if let Some(still) = still {
                s.push_str(&still_drained(still));
            }
            s
        }
        Done::Migrated {
            drained,
            after_revert: revert,
            page_down,
            allowed,
        } => {
            let mut s = o.report.summary();
            if let Some(d) = drained {
                s.push_str(&format!(
                    "; before it, {d}. They stay at 0 until the app stack's update replaces them with the new release (the old capacity is kept in their tag `{SAVED_TAG}`)"
                ));
                if let Some(p) = &d.page {
                    s.push_str(&format!(
                        "; {p}, until the app stack's maintenance resource takes it down once the new groups are in service"
                    ));
                }
            }
            if let Some(r) = revert {
                s.push_str(&after_revert(r));
            }
            if let Some(p) = page_down {
                s.push_str(&format!("; {}", page_taken_down(p)));
            }
            if let Some(allowed) = allowed {
                s.push_str(&format!(
                    "; AllowBreaking=true: applied {allowed} with the old release still running"
                ));
            }
            s
        }
    }
}

pub fn failure(e: &DeployError) -> String {
    match e {
        DeployError::Properties(e) => format!("invalid properties: {e}"),
        DeployError::Bundle(e) => format!("the function's bundled migrations: {e}"),
        DeployError::Secret(error)
        | DeployError::Connect { error, .. }
        | DeployError::Run { error, .. } => error.to_string(),
        DeployError::AfterDrain {
            error,
            drained,
            groups,
            page_down,
            ..
        } => {
            let page = match page_down {
                Some(p) => format!("; {}", page_taken_down(p)),
                None => String::new(),
            };
            format!("{error}{}{page}", after_failure(drained, groups))
        }
    }
}

impl fmt::Display for DeployError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&failure(self))
    }
}

pub fn timed_out(t: &TimedOut) -> String {
    let done = if t.done.is_empty() {
        String::new()
    } else {
        format!("applied {} before it; ", t.done.join(", "))
    };
    let (elapsed, left) = (t.elapsed.as_secs_f64(), t.left.as_secs_f64());
    let reason = match &t.running {
        Some((name, running)) => format!(
            "timed out after {elapsed:.0} s, {left:.0} s before the function's deadline: {done}`{name}` was still running after {:.0} s. The server stops the statement (max_statement_time); if it is cut part way the migration is recorded as failed. Give the function a longer timeout or run this migration outside the deploy (`schemagate up`)",
            running.as_secs_f64()
        ),
        None => format!(
            "timed out after {elapsed:.0} s, {left:.0} s before the function's deadline, while {}; {done}nothing else was changed",
            t.phase
        ),
    };
    match &t.drained {
        Some(groups) => format!(
            "{reason}. The Auto Scaling groups {groups} were drained to 0 and stay there (capacity kept in their tag `{SAVED_TAG}`)"
        ),
        None => reason,
    }
}

/// A drain before breaking migrations failed: nothing ran.
pub struct DrainRefused<'a> {
    pub migrations: Vec<String>,
    pub sel: &'a Drain,
    pub error: DrainError,
    /// Giving back what the failed drain took.
    pub restored: Result<Vec<Restored>, DrainError>,
    /// Taking the maintenance page down again.
    pub page_down: Option<PageTakenDown>,
}

pub fn drain_refused(r: &DrainRefused) -> String {
    let restored = match &r.restored {
        Ok(g) if g.is_empty() => String::new(),
        Ok(g) => format!(" Gave the capacity back to {}.", restored_names(g)),
        Err(e) => format!(" {e}."),
    };
    let page = match &r.page_down {
        Some(p) => format!(" {}.", capitalized(&page_taken_down(p))),
        None => String::new(),
    };
    format!(
        "refused before running anything: {} must run after the old release is stopped, but draining the groups tagged `{}={}` failed: {}.{restored}{page} Nothing was applied",
        r.migrations.join(", "),
        r.sel.tag_key,
        r.sel.tag_value,
        r.error
    )
}

/// What became of the maintenance page (`… was up for 42 s and is down`).
pub fn page_taken_down(p: &PageTakenDown) -> String {
    match p {
        Ok(Some(down)) => down.to_string(),
        Ok(None) => "no maintenance page was up".to_string(),
        Err(e) => format!(
            "the maintenance page is still up: {e}. Delete the listener rule tagged `{PAGE_TAG}` by hand once the site can serve"
        ),
    }
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn still_drained(still: &StillDrained) -> String {
    match still {
        Ok(names) if names.is_empty() => String::new(),
        Ok(names) => format!(
            "; the drained groups {} stay at 0, since the old release may not run on this schema",
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Err(e) => format!("; could not check the drained groups: {e}"),
    }
}

fn after_revert(r: &AfterRevert) -> String {
    match r {
        AfterRevert::Kept { blocking, still } => match still_drained(still) {
            kept if kept.is_empty() => kept,
            kept => format!(
                "{kept}: `{}` stays applied and breaks the old release",
                blocking.join("`, `")
            ),
        },
        AfterRevert::Restored(r) if r.is_empty() => String::new(),
        AfterRevert::Restored(r) => format!(
            "; gave the capacity back to {}: the old release runs on the old schema again",
            restored_names(r)
        ),
        AfterRevert::NotRestored(e) => format!("; {e}"),
    }
}

fn after_failure(drained: &Drained, groups: &AfterFailure) -> String {
    match groups {
        AfterFailure::Restored(r) => format!(
            ". Gave the capacity back to {}: no breaking change was applied, so the old release runs on this schema again",
            restored_names(r)
        ),
        AfterFailure::NotRestored(e) => format!(
            ". The groups drained before it ({}) are still at 0: {e}",
            drained.names()
        ),
        AfterFailure::Kept { applied } => format!(
            ". The drained groups {} stay at 0: `{}` was applied, and the old release cannot run on this schema. Their capacity is kept in tag `{SAVED_TAG}`; a CloudFormation rollback reverts the schema with the down scripts and gives it back, or fix the migration and deploy again",
            drained.names(),
            applied.join("`, `"),
        ),
    }
}

#[cfg(test)]
#[path = "reason_tests.rs"]
mod tests;
