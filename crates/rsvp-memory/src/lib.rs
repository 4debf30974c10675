//! # rsvp-memory
//!
//! In-memory adapters of rsvp's ports, for tests, examples and embedding
//! rsvp without a database:
//!
//! * [`InMemoryStore`]: the whole [`Store`](rsvp_app::Store) in one
//!   `std::sync::Mutex`, so that every method is one atomic unit of work. It
//!   passes the same contract suite (`rsvp-store-contract`) as the SQL
//!   stores. Nothing survives the process.
//! * [`ManualClock`]: a [`Clock`](rsvp_app::Clock) that only moves when told
//!   to (`set`, `advance`), so tests control time without sleeping.
//! * [`SequentialIds`]: an [`IdGenerator`](rsvp_app::IdGenerator) whose ids
//!   are 1, 2, 3, ... as UUIDs: deterministic, and growing like production's
//!   UUIDv7.
//!
//! ```
//! use std::sync::Arc;
//! use rsvp_app::{Clock, IdGenerator, Store};
//! use rsvp_memory::{InMemoryStore, ManualClock, SequentialIds};
//! use time::{Duration, OffsetDateTime};
//!
//! let store: Arc<dyn Store> = Arc::new(InMemoryStore::new());
//! let clock = ManualClock::new(OffsetDateTime::UNIX_EPOCH);
//! clock.advance(Duration::days(15));
//! assert_eq!(clock.now(), OffsetDateTime::UNIX_EPOCH + Duration::days(15));
//! let ids = SequentialIds::new();
//! assert!(ids.new_id() < ids.new_id());
//! # drop(store);
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod clock;
mod ids;
mod store;

pub use clock::ManualClock;
pub use ids::SequentialIds;
pub use store::InMemoryStore;

// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
