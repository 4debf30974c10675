//! Email retention on PostgreSQL with several replicas: one prunes at a time.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use rsvp_app::{EmailOutcome, Store};
use rsvp_store_contract::fixtures::{LEASE, Tenant, at, finish_email, invited};
use rsvp_store_diesel::testing::TestDatabase;

/// The pruner's advisory lock key (`PRUNE_LOCK_KEY` in the store).
const PRUNE_LOCK_KEY: i64 = 0x7273_7670_0000_0001;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_replica_finding_another_pruning_skips_its_turn() {
    let database = tokio::task::spawn_blocking(TestDatabase::postgres).await.unwrap();
    let store = database.migrated_store().await;
    let acme = Tenant::create(&store, "Acme", "ann@acme.test", at(0)).await;
    let bob = invited(&store, &acme, "bob@globex.test", at(0)).await;
    store.outbox().claim_email_jobs(at(0), 10, LEASE).await.unwrap();
    finish_email(&store, bob.job().id, &EmailOutcome::sent(), at(1)).await;

    // Another replica is pruning: it holds the lock in its transaction.
    let url = database.url().to_owned();
    let mut other = tokio::task::spawn_blocking(move || {
        let mut conn = PgConnection::establish(&url).unwrap();
        conn.batch_execute(&format!("BEGIN; SELECT pg_advisory_xact_lock({PRUNE_LOCK_KEY})"))
            .unwrap();
        conn
    })
    .await
    .unwrap();
    assert_eq!(
        store.outbox().prune_email_jobs(at(100), 10).await.unwrap(),
        0,
        "skipped, not blocked"
    );
    other.batch_execute("COMMIT").unwrap();
    assert_eq!(
        store.outbox().prune_email_jobs(at(100), 10).await.unwrap(),
        1,
        "its turn once the other is done"
    );
}
