//! The store contract (`rsvp-store-contract`) on PostgreSQL: every case on a
//! fresh, migrated database of its own, dropped when the case ends. The
//! server is found or started as `rsvp_store_diesel::testing` says; without
//! one the cases fail, saying how to install PostgreSQL.

use std::sync::Arc;

use rsvp_store_contract::Harness;
use rsvp_store_diesel::testing::TestDatabase;

async fn make_harness() -> Harness {
    let database = tokio::task::spawn_blocking(TestDatabase::postgres)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let store = database.migrated_store().await;
    Harness::with_guard(Arc::new(store), database)
}

rsvp_store_contract::store_contract_tests!(make_harness);
