//! The readiness of a store.

use crate::Harness;

/// `ping` answers `Ok` when the store is reachable.
pub async fn a_store_answers_ping(h: Harness) {
    assert_eq!(h.store.ping().await, Ok(()));
}
