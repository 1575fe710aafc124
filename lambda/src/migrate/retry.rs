//! One step, tried again while its DDL meets a metadata lock held by
//! another session (a long app transaction): the statement gave way before
//! it ran, so nothing of the step stays and another try is safe. The
//! engine says when that is ([`StepFailed::may_retry`]); this says how
//! often and for how long.

use std::time::Duration;

use super::history::Home;
use super::options::Options;
use super::plan::Step;
use crate::db::{Conn, StepFailed, StepRun};

/// Tries of a step whose DDL keeps meeting a held metadata lock when the run
/// has no deadline; with one, it is retried until the deadline.
const TRIES_WITHOUT_DEADLINE: u32 = 30;

/// Room left at the deadline after a try: for recording the outcome.
const RETRY_MARGIN: Duration = Duration::from_secs(2);

/// Run one step, retrying lock-wait timeouts (nothing ran) until the deadline.
pub async fn one(
    conn: &mut Conn,
    home: &Home,
    step: &Step,
    run: &StepRun<'_>,
    opts: &Options,
) -> Result<(), StepFailed> {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        match conn.engine().run_step(home, run, opts.deadline).await {
            Ok(()) => return Ok(()),
            Err(f) if f.may_retry() && time_left(opts, attempt) => {
                wait_before_retry(step, attempt, &f, opts).await;
            }
            Err(f) => return Err(f),
        }
    }
}

/// Whether another try fits before the deadline: the shortest pause, one
/// whole lock wait (MariaDB's is at least 1 s) and the margin to record.
fn time_left(opts: &Options, attempt: u32) -> bool {
    match opts.deadline {
        Some(d) => d.fits(backoff(0) + try_length(opts) + RETRY_MARGIN),
        None => attempt < TRIES_WITHOUT_DEADLINE,
    }
}

/// How long one try can wait for the lock, as the server applies it.
fn try_length(opts: &Options) -> Duration {
    Duration::from_secs_f64(opts.lock_wait.as_secs_f64().ceil().max(1.0))
}

/// The pause before try `attempt + 1` before jitter: 250 ms, doubling up to
/// 4 s. The app's queries run freely during it; a long transaction makes the
/// tries sparse, a short one is met soon after it ends.
fn backoff(attempt: u32) -> Duration {
    (Duration::from_millis(250) * 2u32.pow(attempt.min(4))).min(Duration::from_secs(4))
}

/// Pause between tries: the backoff with jitter (×1 to ×2, as backon's), so
/// that several runs, or a run and the app's own retries, do not fall into
/// step; never past the point where a whole try no longer fits.
async fn wait_before_retry(step: &Step, attempt: u32, failed: &StepFailed, opts: &Options) {
    let base = backoff(attempt.saturating_sub(1));
    let mut delay = base + base.mul_f64(fastrand::f64());
    if let Some(d) = opts.deadline {
        let room = d.left().saturating_sub(try_length(opts) + RETRY_MARGIN);
        delay = delay.min(room);
    }
    tracing::warn!(migration = %step.name, attempt, error = %failed.error, retry_in_ms = delay.as_millis() as u64,
        "a metadata lock is held by another session (a long transaction?); waiting and retrying");
    tokio::time::sleep(delay).await;
}
