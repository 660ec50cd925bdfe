//! Rate limiting: the account-wide request rate and the per-process polling interval, both off
//! by default. ArqSign documents neither the numbers nor the answer (contract §5.4); the
//! sandbox answers 429 with `Retry-After`, as the Azure API Management gateway in front of the
//! real API would.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The routes polled for one process, each with its own interval clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Poll {
    /// `GET /api/v1/processo/{id}/status-do-processo`.
    Status,
    /// `GET /api/v2/processo/{id}`.
    Process,
}

const WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub(crate) struct Limiter {
    /// When each request of the last second was admitted, oldest first.
    recent: VecDeque<Instant>,
    /// When each (route, process) was last polled.
    polls: HashMap<(Poll, String), Instant>,
}

impl Limiter {
    /// Admits one request under `per_second` (0 = no limit) over a sliding one-second window,
    /// or says how long to wait.
    pub fn admit(&mut self, per_second: u32, now: Instant) -> Result<(), Duration> {
        if per_second == 0 {
            self.recent.clear();
            return Ok(());
        }
        while self.recent.front().is_some_and(|&at| now.duration_since(at) >= WINDOW) {
            self.recent.pop_front();
        }
        let limit = usize::try_from(per_second).unwrap_or(usize::MAX);
        if self.recent.len() >= limit {
            // The request can pass once the oldest of the window leaves it.
            let oldest = self.recent[self.recent.len() - limit];
            return Err(WINDOW.saturating_sub(now.duration_since(oldest)));
        }
        self.recent.push_back(now);
        Ok(())
    }

    /// Admits a poll of `process` on `route` if the last one was at least `interval` ago
    /// (zero = no limit), or says how long to wait. Refused polls do not restart the clock.
    pub fn poll(
        &mut self,
        route: Poll,
        process: &str,
        interval: Duration,
        now: Instant,
    ) -> Result<(), Duration> {
        if interval.is_zero() {
            return Ok(());
        }
        let key = (route, process.to_ascii_lowercase());
        if let Some(&last) = self.polls.get(&key) {
            let elapsed = now.duration_since(last);
            if elapsed < interval {
                return Err(interval - elapsed);
            }
        }
        self.polls.insert(key, now);
        Ok(())
    }
}

/// `Retry-After` in whole seconds: rounded up, at least 1.
pub(crate) fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_admits_n_per_second() {
        let mut limiter = Limiter::default();
        let start = Instant::now();
        assert!(limiter.admit(2, start).is_ok());
        assert!(limiter.admit(2, start + Duration::from_millis(100)).is_ok());
        let wait = limiter.admit(2, start + Duration::from_millis(400)).unwrap_err();
        assert_eq!(wait, Duration::from_millis(600));
        assert!(limiter.admit(2, start + Duration::from_millis(1000)).is_ok());
        assert!(limiter.admit(0, start).is_ok(), "0 turns the limit off");
    }

    #[test]
    fn polls_are_spaced_per_route_and_process() {
        let mut limiter = Limiter::default();
        let start = Instant::now();
        let interval = Duration::from_secs(2);
        assert!(limiter.poll(Poll::Status, "A", interval, start).is_ok());
        assert!(limiter.poll(Poll::Status, "b", interval, start).is_ok());
        assert!(limiter.poll(Poll::Process, "a", interval, start).is_ok());
        let half = start + Duration::from_millis(500);
        assert_eq!(
            limiter.poll(Poll::Status, "a", interval, half),
            Err(Duration::from_millis(1500))
        );
        // The refused poll did not restart the clock.
        assert!(limiter.poll(Poll::Status, "a", interval, start + interval).is_ok());
        assert!(limiter.poll(Poll::Status, "a", Duration::ZERO, start).is_ok());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }
}
