//! `insert_invitations` beyond the contract, on both backends: a batch
//! larger than one PostgreSQL statement's chunk, and an item the database
//! itself refuses (which fails PostgreSQL's multi-row statement as a whole,
//! so the batch runs again item by item) — each item keeps its own outcome.

use rsvp_app::{Store, StoreError};
use rsvp_store_contract::fixtures::{
    Tenant, all_events, all_sent, at, email, invite, invited, pending_invitation, query,
};
use rsvp_store_diesel::DieselStore;
use rsvp_store_diesel::testing::TestDatabase;

/// Several statements' worth of items on PostgreSQL (250 each), and more
/// than a bulk request may hold.
const ITEMS: usize = 2_100;

async fn postgres() -> (TestDatabase, DieselStore) {
    let database = tokio::task::spawn_blocking(TestDatabase::postgres)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let store = database.migrated_store().await;
    (database, store)
}

async fn sqlite() -> (TestDatabase, DieselStore) {
    let database = TestDatabase::sqlite();
    let store = database.migrated_store().await;
    (database, store)
}

/// 2,100 distinct emails, the first one already invited, each email also
/// sent again (in upper case) as the batch's last items, one item every 700
/// without an email, and one item the store cannot convert (its expiry is
/// past 2262).
async fn a_large_batch_writes_each_email_once_with_its_rows(store: &DieselStore) {
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    invited(store, &acme, "buyer0@customer.test", at(0)).await;
    let mut batch: Vec<_> = (0..ITEMS)
        .map(|n| {
            let item = invite(&acme, &format!("buyer{n}@customer.test"), at(1));
            if n % 700 == 1 { item.without_email() } else { item }
        })
        .collect();
    batch.extend((0..ITEMS).map(|n| invite(&acme, &format!("BUYER{n}@customer.test"), at(1))));
    batch.push(invite(&acme, "late@customer.test", at(1)).expiring_at(at(10_000_000_000)));
    let records: Vec<_> = batch.iter().map(|i| i.record.clone()).collect();

    let results = store
        .invitations()
        .insert_invitations(&records, None)
        .await
        .expect("insert_invitations");

    assert_eq!(results.len(), batch.len());
    assert_eq!(
        results[0],
        Err(StoreError::AlreadyInvited),
        "already pending before the batch"
    );
    assert!(
        results[1..ITEMS].iter().all(Result::is_ok),
        "every other first spelling wins"
    );
    assert!(
        results[ITEMS..2 * ITEMS]
            .iter()
            .all(|r| *r == Err(StoreError::AlreadyInvited)),
        "every second spelling is refused"
    );
    assert!(
        matches!(&results[2 * ITEMS], Err(StoreError::Unavailable(m)) if m.contains("storable range")),
        "the item that cannot be stored keeps its own error: {:?}",
        results[2 * ITEMS]
    );

    assert_eq!(all_sent(store, acme.id(), query(at(2))).await.len(), ITEMS);
    assert_eq!(all_events(store, acme.id()).await.len(), ITEMS);
    let without_email = (0..ITEMS).filter(|n| n % 700 == 1).count();
    let jobs = store.outbox().outbox_depth().await.expect("outbox_depth");
    assert_eq!(
        jobs,
        (ITEMS - without_email) as u64,
        "the first invitation's job and one per new email"
    );
    for n in [1, 249, 250, 251, 999, 1_000, ITEMS - 1] {
        let item = &batch[n];
        let by_link = store
            .invitations()
            .find_invitation_by_link(&item.link_hash())
            .await
            .expect("find_invitation_by_link");
        assert_eq!(by_link.as_ref(), Some(item.invitation()), "item {n}");
    }
    let refused = &batch[ITEMS + 5];
    let link = store
        .invitations()
        .find_invitation_by_link(&refused.link_hash())
        .await
        .expect("find_invitation_by_link");
    assert_eq!(link, None, "a refused item writes no link");
    let pending = pending_invitation(store, acme.id(), &email("buyer5@customer.test")).await;
    assert_eq!(pending.as_ref(), Some(batch[5].invitation()));
}

/// An item from a business that does not exist breaks a foreign key: that
/// item alone fails, as `Unavailable`; the others are written.
async fn an_item_the_database_refuses_fails_alone(store: &DieselStore) {
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let ghost = Tenant::build("Ghost", "gus@ghost.test", at(0));
    let batch = [
        invite(&acme, "one@partner.test", at(1)),
        invite(&ghost, "two@partner.test", at(1)),
        invite(&acme, "three@partner.test", at(1)),
        invite(&acme, "ONE@partner.test", at(1)),
    ];
    let records: Vec<_> = batch.iter().map(|i| i.record.clone()).collect();

    let results = store
        .invitations()
        .insert_invitations(&records, None)
        .await
        .expect("insert_invitations");

    assert_eq!(results[0], Ok(()));
    assert!(
        matches!(&results[1], Err(StoreError::Unavailable(_))),
        "{:?}",
        results[1]
    );
    assert_eq!(results[2], Ok(()));
    assert_eq!(results[3], Err(StoreError::AlreadyInvited));
    assert_eq!(all_sent(store, acme.id(), query(at(2))).await.len(), 2);
    assert_eq!(
        store
            .invitations()
            .get_invitation(batch[1].id())
            .await
            .expect("get_invitation"),
        None
    );
    assert_eq!(all_events(store, acme.id()).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_larger_than_one_statement_on_postgres_writes_each_email_once_with_its_rows() {
    let (_database, store) = postgres().await;
    a_large_batch_writes_each_email_once_with_its_rows(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_bulk_on_sqlite_writes_each_email_once_with_its_rows() {
    let (_database, store) = sqlite().await;
    a_large_batch_writes_each_email_once_with_its_rows(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_item_postgres_refuses_fails_alone_and_the_others_are_written() {
    let (_database, store) = postgres().await;
    an_item_the_database_refuses_fails_alone(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_item_sqlite_refuses_fails_alone_and_the_others_are_written() {
    let (_database, store) = sqlite().await;
    an_item_the_database_refuses_fails_alone(&store).await;
}
