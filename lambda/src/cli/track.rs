//! What a CLI run is doing: each finished step printed, the step in
//! progress for the message when the server does not answer before
//! `--timeout`, and the signals that stop a run between two migrations.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::migrate::{self, apply, Direction, Step, StepOutcome};
use crate::Error;

/// What the run is doing, for the message when the server does not answer
/// before `--timeout`; prints each finished step (unless `--json`).
pub struct Track {
    print: bool,
    state: Mutex<TrackState>,
}

#[derive(Default)]
struct TrackState {
    phase: String,
    current: Option<(Step, Instant)>,
    done: Vec<String>,
}

impl Track {
    pub fn new(print: bool) -> Track {
        Track {
            print,
            state: Mutex::new(TrackState {
                phase: "starting".into(),
                ..Default::default()
            }),
        }
    }

    pub fn phase(&self, p: impl Into<String>) {
        self.state.lock().expect("track lock").phase = p.into();
    }

    /// The migrations finished so far.
    pub fn done(&self) -> Vec<String> {
        self.state.lock().expect("track lock").done.clone()
    }

    /// The migration in progress, for the signal handler's message.
    pub fn current(&self) -> Option<String> {
        let s = self.state.lock().expect("track lock");
        s.current.as_ref().map(|(step, _)| step.name.clone())
    }

    pub fn timed_out(&self, after: Duration, limit: Duration) -> Error {
        let s = self.state.lock().expect("track lock");
        let d = match &s.current {
            Some((st, _)) if st.direction == Direction::Down => Direction::Down,
            _ => Direction::Up,
        };
        let done = match s.done.len() {
            0 => String::new(),
            _ => format!("{} {} before it; ", d.past(), s.done.join(", ")),
        };
        let (during, outcome) = match &s.current {
            Some((step, since)) => (
                format!(
                    "{} `{}` (running for {})",
                    d.ing(),
                    step.name,
                    apply::secs(since.elapsed())
                ),
                format!(
                    "{done}what `{0}` did is unknown until the server answers; then `schemagate status` shows it: applied if the server finished it, FAILED (success = false) if it was cut part way, and then nothing more runs until it is resolved",
                    step.name
                ),
            ),
            None => (
                s.phase.clone(),
                format!("{done}nothing else was changed"),
            ),
        };
        Error::TimedOut {
            after,
            limit,
            during,
            outcome,
        }
    }
}

impl migrate::Progress for Track {
    fn started(&self, step: &Step) {
        self.state.lock().expect("track lock").current = Some((step.clone(), Instant::now()));
    }
    fn finished(&self, o: &StepOutcome) {
        {
            let mut s = self.state.lock().expect("track lock");
            s.current = None;
            s.done.push(o.step.name.clone());
            s.phase = format!("after `{}`", o.step.name);
        }
        if !self.print {
            return;
        }
        outln!(
            "  {:<9} {:<50} {:>8}",
            o.step.direction.past(),
            o.step.name,
            apply::secs(o.duration)
        );
        let _ = std::io::stdout().flush();
    }
}

/// Listen for SIGTERM/SIGINT while a run goes on: the first asks the
/// engine to stop after the migration in progress, a second exits at once.
pub fn on_signals(stop: migrate::Stop, track: Arc<Track>) -> Option<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot listen for SIGTERM/SIGINT; they end the run at once");
        return None;
    };
    Some(tokio::spawn(async move {
        loop {
            let got = tokio::select! {
                _ = term.recv() => migrate::Signal { name: "SIGTERM", exit_code: 143 },
                _ = int.recv() => migrate::Signal { name: "SIGINT", exit_code: 130 },
            };
            if stop.requested().is_some() {
                errln!(
                    "schemagate: {} again: exiting now; the migration in progress may still run on the server (its history row says so): check with `schemagate status`",
                    got.name
                );
                std::process::exit(got.exit_code);
            }
            stop.request(got);
            let current = track.current();
            match current {
                Some(name) => errln!(
                    "schemagate: {}: letting `{name}` finish (its statements are on the server), then stopping; nothing more will start (send it again to exit at once)",
                    got.name
                ),
                None => errln!(
                    "schemagate: {}: stopping before the next migration (send it again to exit at once)",
                    got.name
                ),
            }
        }
    }))
}
