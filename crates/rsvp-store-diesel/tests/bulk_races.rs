//! Concurrent bulk inserts on both backends: two batches of the same emails
//! in opposite orders, racing. Every item either wins or is refused as
//! `AlreadyInvited` — never a deadlock or a lock timeout reported as
//! `Unavailable` — and each email ends up invited exactly once.

use std::sync::Arc;

use rsvp_app::{Store, StoreError};
use rsvp_store_contract::fixtures::{Tenant, all_sent, at, invite, query};
use rsvp_store_diesel::testing::TestDatabase;
use tokio::sync::Barrier;

const EMAILS: usize = 60;

async fn opposite_batches_race_without_deadlock(store: Arc<dyn Store>) {
    let acme = Tenant::create(store.as_ref(), "Acme", "ann@acme.test", at(0)).await;
    let barrier = Arc::new(Barrier::new(2));
    let mut tasks = Vec::new();
    for reversed in [false, true] {
        let mut records: Vec<_> = (0..EMAILS)
            .map(|n| invite(&acme, &format!("buyer{n}@customer.test"), at(1)).record)
            .collect();
        if reversed {
            records.reverse();
        }
        let store = Arc::clone(&store);
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.invitations().insert_invitations(&records, None).await
        }));
    }
    let mut won = 0;
    for task in tasks {
        let results = task
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(results.len(), EMAILS);
        for result in results {
            match result {
                Ok(()) => won += 1,
                Err(StoreError::AlreadyInvited) => {}
                Err(other) => panic!("an item of a racing batch failed with {other:?}"),
            }
        }
    }
    assert_eq!(won, EMAILS, "each email is invited by exactly one of the batches");
    let stored = all_sent(store.as_ref(), acme.id(), query(at(2))).await;
    assert_eq!(stored.len(), EMAILS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_bulk_inserts_on_postgres_never_deadlock() {
    let database = tokio::task::spawn_blocking(TestDatabase::postgres)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let store = database.migrated_store().await;
    opposite_batches_race_without_deadlock(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_bulk_inserts_on_sqlite_never_deadlock() {
    let database = TestDatabase::sqlite();
    let store = database.migrated_store().await;
    opposite_batches_race_without_deadlock(Arc::new(store)).await;
}
