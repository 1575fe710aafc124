//! Stopping a run between two migrations (the CLI's SIGTERM/SIGINT).

use std::fmt;
use std::sync::Arc;

use tokio::sync::watch;

use super::plan::Direction;
use super::report::{list, Report};

/// A signal that asks a run to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal {
    /// `SIGTERM`, `SIGINT`
    pub name: &'static str,
    /// The process's exit code when it stopped for it (143, 130).
    pub exit_code: i32,
}

/// Asks a run to stop (the CLI on SIGTERM/SIGINT): the migration in
/// progress finishes and is recorded, nothing more starts, the lock is
/// released and the run returns [`super::Error::Interrupted`]. A wait for the
/// lock is given up at once (nothing was changed).
#[derive(Debug, Clone)]
pub struct Stop(Arc<watch::Sender<Option<Signal>>>);

impl Default for Stop {
    fn default() -> Self {
        Stop(Arc::new(watch::channel(None).0))
    }
}

impl Stop {
    /// The first request counts; later ones change nothing.
    pub fn request(&self, signal: Signal) {
        self.0.send_if_modified(|v| match v {
            None => {
                *v = Some(signal);
                true
            }
            Some(_) => false,
        });
    }

    pub fn requested(&self) -> Option<Signal> {
        *self.0.borrow()
    }

    pub(super) async fn wait(&self) -> Signal {
        let mut rx = self.0.subscribe();
        let got = rx.wait_for(Option::is_some).await.map(|v| *v);
        match got {
            Ok(Some(s)) => s,
            // The sender lives in `self`: it cannot be gone while we wait.
            _ => std::future::pending().await,
        }
    }
}

/// A run stopped by a signal between two migrations.
#[derive(Debug, Clone, thiserror::Error)]
pub struct Interrupted {
    pub signal: Signal,
    /// What was done before it stopped; `None`: it stopped while waiting
    /// for the migration lock, before reading the history.
    pub done: Option<Report>,
    /// The planned migrations that were not started.
    pub pending: Vec<String>,
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(done) = &self.done else {
            return write!(
                f,
                "stopped by {} while waiting for the migration lock; nothing was changed",
                self.signal.name
            );
        };
        write!(f, "stopped by {}", self.signal.name)?;
        let names: Vec<String> = done.steps.iter().map(|s| s.step.name.clone()).collect();
        if names.is_empty() {
            write!(f, " before the first migration")?;
        } else {
            let d = if done.count(Direction::Down) > 0 {
                Direction::Down
            } else {
                Direction::Up
            };
            write!(f, " after {} {}", d.ing(), list(&names))?;
        }
        if !self.pending.is_empty() {
            write!(f, "; not started: {}", list(&self.pending))?;
        }
        write!(
            f,
            "; the schema is at version {} and the migration lock is released. Run the same command again to go on",
            done.to
        )
    }
}
