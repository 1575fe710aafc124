//! One deadline for a run, and every share of it: the watchdog's margin,
//! the limit of a statement, a lock wait that must end in time, the share
//! of a drain, the client's grace for a server that does not answer.
//! Computed here once, so the Lambda and the CLI agree on them.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// When a run must be over, and when it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    start: Instant,
    end: Instant,
}

impl Deadline {
    /// `limit` from now.
    pub fn after(limit: Duration) -> Deadline {
        let start = Instant::now();
        Deadline {
            start,
            end: start + limit,
        }
    }

    /// Ending at `end`, from now.
    pub fn until(end: Instant) -> Deadline {
        let start = Instant::now();
        Deadline {
            start,
            end: end.max(start),
        }
    }

    /// The Lambda's: the invocation's deadline (epoch milliseconds, from the
    /// runtime's context), or `budget` from now when that is not in the
    /// future (emulators send `600000`, not an epoch time).
    pub fn lambda(deadline_epoch_ms: u64, budget: Duration) -> Deadline {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        match deadline_epoch_ms.checked_sub(now).filter(|&ms| ms > 0) {
            Some(ms) => Deadline::after(Duration::from_millis(ms)),
            None => Deadline::after(budget),
        }
    }

    pub fn end(&self) -> Instant {
        self.end
    }

    /// The whole time the run was given.
    pub fn total(&self) -> Duration {
        self.end.saturating_duration_since(self.start)
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Time left; zero once the deadline has passed.
    pub fn left(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }

    /// Whether `needed` still fits before the end.
    pub fn fits(&self, needed: Duration) -> bool {
        Instant::now() + needed < self.end
    }

    /// How long before the end the Lambda's watchdog answers: a tenth of
    /// the time, between 2 and 30 seconds, so the PUT (with its retries)
    /// still fits.
    pub fn margin(&self) -> Duration {
        (self.total() / 10).clamp(Duration::from_secs(2), Duration::from_secs(30))
    }

    /// The deadline of the work inside the watchdog: [`margin`](Self::margin)
    /// before this one (never before the start).
    pub fn watchdog(&self) -> Deadline {
        Deadline {
            start: self.start,
            end: self
                .end
                .checked_sub(self.margin())
                .unwrap_or(self.start)
                .max(self.start),
        }
    }

    /// How long a statement started now may run (the servers'
    /// `max_statement_time` / `statement_timeout`): the time left, at least
    /// one second (a limit of zero would mean none).
    pub fn statement_limit(&self) -> Duration {
        self.left().max(Duration::from_secs(1))
    }

    /// A wait (for the migration lock) of at most `wanted` that ends a
    /// second before the deadline, so it fails with a clear timeout rather
    /// than being cut; at least one second.
    pub fn clamp(&self, wanted: Duration) -> Duration {
        wanted
            .min(self.left().saturating_sub(Duration::from_secs(1)))
            .max(Duration::from_secs(1))
    }

    /// The instant by which `num/den` of the time left has passed (a drain
    /// may take two thirds, leaving the rest to migrate and answer).
    pub fn share(&self, num: u32, den: u32) -> Instant {
        let now = Instant::now();
        now + self.left() * num / den.max(1)
    }

    /// How long after the end a client gives up on a server that does not
    /// answer at all (the server stops statements at the end itself): a
    /// tenth of the time, between 1 and 10 seconds.
    pub fn grace(&self) -> Duration {
        (self.total() / 10).clamp(Duration::from_secs(1), Duration::from_secs(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn the_watchdog_keeps_a_tenth_between_2_and_30_seconds() {
        assert_eq!(Deadline::after(S(8)).margin(), S(2));
        assert_eq!(Deadline::after(S(100)).margin(), S(10));
        assert_eq!(Deadline::after(S(900)).margin(), S(30));
        let d = Deadline::after(S(100));
        assert_eq!(d.end() - d.watchdog().end(), S(10));
        let tiny = Deadline::after(Duration::from_millis(500));
        assert_eq!(tiny.watchdog().end(), tiny.start, "never before the start");
    }

    #[test]
    fn an_emulator_deadline_that_is_not_an_epoch_time_falls_back_to_the_budget() {
        let d = Deadline::lambda(600_000, S(840));
        assert_eq!(d.total(), S(840));
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let d = Deadline::lambda(now_ms + 30_000, S(840));
        assert!(d.total() <= S(30) && d.total() > S(29), "{:?}", d.total());
    }

    #[test]
    fn waits_and_limits_end_in_time_and_are_never_zero() {
        let d = Deadline::after(S(30));
        assert!(d.clamp(S(60)) <= S(29));
        assert_eq!(d.clamp(S(5)), S(5));
        let gone = Deadline::after(Duration::ZERO);
        assert_eq!(gone.clamp(S(60)), S(1));
        assert_eq!(gone.statement_limit(), S(1));
        assert!(!gone.fits(Duration::from_millis(1)));
        assert!(d.fits(S(10)));
    }

    #[test]
    fn shares_and_grace() {
        let d = Deadline::after(S(90));
        let two_thirds = d.share(2, 3).saturating_duration_since(Instant::now());
        assert!(two_thirds <= S(60) && two_thirds > S(59), "{two_thirds:?}");
        assert_eq!(Deadline::after(S(5)).grace(), S(1));
        assert_eq!(Deadline::after(S(60)).grace(), S(6));
        assert_eq!(Deadline::after(S(3600)).grace(), S(10));
    }
}
