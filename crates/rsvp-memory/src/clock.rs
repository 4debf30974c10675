//! [`ManualClock`]: time that moves only when a test moves it.

use std::sync::{Mutex, PoisonError};

use rsvp_app::Clock;
use time::{Duration, OffsetDateTime};

/// A [`Clock`] that tells the time it was last set to.
///
/// Share it (`Arc<ManualClock>`) between the code under test and the test:
/// the test [`set`](Self::set)s or [`advance`](Self::advance)s it, the code
/// reads it through [`Clock::now`]. Nothing ever sleeps.
///
/// ```
/// use rsvp_app::Clock;
/// use rsvp_memory::ManualClock;
/// use time::{Duration, OffsetDateTime};
///
/// let start = OffsetDateTime::UNIX_EPOCH;
/// let clock = ManualClock::new(start);
/// assert_eq!(clock.now(), start);
/// clock.advance(Duration::minutes(1));
/// assert_eq!(clock.now(), start + Duration::minutes(1));
/// clock.set(start);
/// assert_eq!(clock.now(), start);
/// ```
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<OffsetDateTime>,
}

impl ManualClock {
    /// A clock reading `now` until told otherwise.
    pub fn new(now: OffsetDateTime) -> Self {
        Self { now: Mutex::new(now) }
    }

    /// Sets the time, forwards or backwards.
    pub fn set(&self, now: OffsetDateTime) {
        *self.lock() = now;
    }

    /// Moves the time by `by` (backwards when negative) and returns the new time.
    pub fn advance(&self, by: Duration) -> OffsetDateTime {
        let mut now = self.lock();
        *now += by;
        *now
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OffsetDateTime> {
        // A timestamp is written in one assignment, so a panic elsewhere
        // while the lock was held cannot have left it half-written.
        self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn start() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn a_new_clock_tells_the_time_it_was_given_until_moved() {
        let clock = ManualClock::new(start());
        assert_eq!(clock.now(), start());
        assert_eq!(clock.now(), start(), "reading does not move it");
    }

    #[test]
    fn advancing_adds_up_and_returns_the_new_time() {
        let clock = ManualClock::new(start());
        assert_eq!(clock.advance(Duration::seconds(30)), start() + Duration::seconds(30));
        assert_eq!(
            clock.advance(Duration::days(14)),
            start() + Duration::seconds(30) + Duration::days(14)
        );
        assert_eq!(clock.now(), start() + Duration::seconds(30) + Duration::days(14));
        clock.advance(Duration::seconds(-30));
        assert_eq!(
            clock.now(),
            start() + Duration::days(14),
            "a negative advance moves back"
        );
    }

    #[test]
    fn setting_moves_to_any_time_forwards_or_backwards() {
        let clock = ManualClock::new(start());
        let later = start() + Duration::days(90);
        clock.set(later);
        assert_eq!(clock.now(), later);
        clock.set(start() - Duration::hours(1));
        assert_eq!(clock.now(), start() - Duration::hours(1));
    }

    #[test]
    fn a_shared_clock_moved_by_the_test_is_seen_through_the_port() {
        let clock = Arc::new(ManualClock::new(start()));
        let port: Arc<dyn Clock> = clock.clone();
        clock.advance(Duration::minutes(5));
        assert_eq!(port.now(), start() + Duration::minutes(5));
    }

    #[test]
    fn concurrent_advances_are_all_counted() {
        let clock = Arc::new(ManualClock::new(start()));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let clock = Arc::clone(&clock);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        clock.advance(Duration::seconds(1));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(clock.now(), start() + Duration::seconds(8000));
    }
}
