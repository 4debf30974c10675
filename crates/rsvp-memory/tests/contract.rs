//! The store contract suite (`rsvp-store-contract`), run against
//! [`InMemoryStore`]: one test per rule of the `Store` port.

use std::sync::Arc;

use rsvp_memory::InMemoryStore;
use rsvp_store_contract::Harness;

/// A fresh, empty store for each case.
async fn make_harness() -> Harness {
    Harness::new(Arc::new(InMemoryStore::new()))
}

rsvp_store_contract::store_contract_tests!(make_harness);
