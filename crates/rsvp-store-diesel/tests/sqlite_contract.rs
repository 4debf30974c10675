//! The store contract (`rsvp-store-contract`) on SQLite: every case on a
//! fresh, migrated database file of its own, deleted when the case ends.

use std::sync::Arc;

use rsvp_store_contract::Harness;
use rsvp_store_diesel::testing::TestDatabase;

async fn make_harness() -> Harness {
    let database = TestDatabase::sqlite();
    let store = database.migrated_store().await;
    Harness::with_guard(Arc::new(store), database)
}

rsvp_store_contract::store_contract_tests!(make_harness);
