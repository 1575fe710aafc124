//! What the run is doing, kept for the watchdog: the shell reads it when
//! time runs out, the domain writes it as it goes.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::db::ConnectOptions;
use crate::drain::Drained;
use crate::migrate::{self, Step, StepOutcome};

#[derive(Default)]
pub struct Watch {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    phase: String,
    target: Option<ConnectOptions>,
    current: Option<(Step, Instant)>,
    done: Vec<String>,
    /// Set once groups were drained: the watchdog's Reason says so.
    drained: Option<String>,
}

/// Where the run was when the watchdog answered, for the Reason.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedOut {
    pub elapsed: Duration,
    /// Left before the function's deadline.
    pub left: Duration,
    /// `reading secret `arn:…``, `waiting for the migration lock`, …
    pub phase: String,
    /// The migration running, and for how long.
    pub running: Option<(String, Duration)>,
    /// Migrations finished before.
    pub done: Vec<String>,
    /// The drained groups, named with their capacity.
    pub drained: Option<String>,
}

impl Watch {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not silence the watchdog.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn phase(&self, p: &str) {
        self.state().phase = p.to_string();
    }

    pub fn set_target(&self, t: &ConnectOptions) {
        self.state().target = Some(t.clone());
    }

    pub fn target(&self) -> Option<ConnectOptions> {
        self.state().target.clone()
    }

    pub fn drained(&self, d: &Drained) {
        self.state().drained = Some(d.names());
    }

    /// The migrations finished so far, in order.
    pub fn done(&self) -> Vec<String> {
        self.state().done.clone()
    }

    pub fn timed_out(&self, elapsed: Duration, left: Duration) -> TimedOut {
        let s = self.state();
        TimedOut {
            elapsed,
            left,
            phase: s.phase.clone(),
            running: s
                .current
                .as_ref()
                .map(|(step, since)| (step.name.clone(), since.elapsed())),
            done: s.done.clone(),
            drained: s.drained.clone(),
        }
    }
}

impl migrate::Progress for Watch {
    fn started(&self, step: &Step) {
        let mut s = self.state();
        s.phase = format!("applying `{}`", step.name);
        s.current = Some((step.clone(), Instant::now()));
        tracing::info!(migration = %step.name, direction = ?step.direction, "migration started");
    }

    fn finished(&self, outcome: &StepOutcome) {
        let mut s = self.state();
        s.current = None;
        s.done.push(outcome.step.name.clone());
        tracing::info!(migration = %outcome.step.name, ms = outcome.duration.as_millis() as u64, "migration finished");
    }
}
