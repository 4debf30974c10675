//! [`SequentialIds`]: deterministic ids that grow.

use std::sync::atomic::{AtomicU64, Ordering};

use rsvp_app::IdGenerator;
use uuid::Uuid;

/// An [`IdGenerator`] minting `00000000-0000-0000-0000-000000000001`, then
/// `...0002`, and so on: the same ids on every run, each greater than the
/// previous (as production's UUIDv7 ids grow with time, and events are listed
/// in id order). Safe to share between threads: no id is minted twice.
///
/// ```
/// use rsvp_app::IdGenerator;
/// use rsvp_memory::SequentialIds;
/// use uuid::Uuid;
///
/// let ids = SequentialIds::new();
/// assert_eq!(ids.new_id(), Uuid::from_u128(1));
/// assert_eq!(ids.new_id(), Uuid::from_u128(2));
/// assert_eq!(SequentialIds::starting_at(100).new_id(), Uuid::from_u128(100));
/// ```
#[derive(Debug)]
pub struct SequentialIds {
    next: AtomicU64,
}

impl SequentialIds {
    /// Ids from 1.
    pub fn new() -> Self {
        Self::starting_at(1)
    }

    /// Ids from `first` (e.g. to keep two generators' ids apart).
    pub fn starting_at(first: u64) -> Self {
        Self {
            next: AtomicU64::new(first),
        }
    }
}

impl Default for SequentialIds {
    fn default() -> Self {
        Self::new()
    }
}

impl IdGenerator for SequentialIds {
    fn new_id(&self) -> Uuid {
        Uuid::from_u128(u128::from(self.next.fetch_add(1, Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use super::*;

    #[test]
    fn ids_count_up_from_one_and_grow() {
        let ids = SequentialIds::default();
        let minted: Vec<Uuid> = (0..5).map(|_| ids.new_id()).collect();
        assert_eq!(minted, (1..=5).map(Uuid::from_u128).collect::<Vec<_>>());
        assert!(minted.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn ids_shared_between_threads_are_never_minted_twice() {
        let ids = Arc::new(SequentialIds::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let ids = Arc::clone(&ids);
                std::thread::spawn(move || (0..500).map(|_| ids.new_id()).collect::<Vec<_>>())
            })
            .collect();
        let all: BTreeSet<Uuid> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        assert_eq!(all.len(), 2000);
        assert_eq!(all.last(), Some(&Uuid::from_u128(2000)));
    }
}
