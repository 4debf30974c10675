//! The event relay's order on the real databases, where the contract
//! cannot reach: an event whose transaction commits after a later one's is
//! held back, then read, never skipped (PostgreSQL); and `rsvp
//! copy-database` keeps the relay's place.

use std::time::Duration as StdDuration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use rsvp_app::{EventRelayStore, RelayCursor};
use rsvp_domain::{Event, EventId};
use rsvp_store_contract::fixtures::{Tenant, at, insert, invite, new_uuid};
use rsvp_store_diesel::DieselStore;
use rsvp_store_diesel::testing::TestDatabase;
use time::Duration;

/// What the relay reads after `after`, once it reads at least `count`
/// events (an event may be held back while an older transaction of the
/// server runs), within 20 s.
async fn read_settled(store: &DieselStore, after: Option<RelayCursor>, count: usize) -> Vec<Event> {
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(20);
    loop {
        let read = store.relay_events_after(after, 100).await.unwrap();
        if read.len() >= count || tokio::time::Instant::now() >= deadline {
            return read;
        }
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
}

fn ids(events: &[Event]) -> Vec<EventId> {
    events.iter().map(|event| event.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_committed_late_is_held_back_then_read_never_skipped_on_postgres() {
    let database = tokio::task::spawn_blocking(TestDatabase::postgres).await.unwrap();
    let store = database.migrated_store().await;
    let acme = Tenant::create(&store, "Acme", "ann@acme.test", at(0)).await;
    let first = insert(&store, invite(&acme, "bob@globex.test", at(0))).await;
    let first_id = first.record.event.id;
    let settled = read_settled(&store, None, 1).await;
    assert_eq!(ids(&settled), [first_id]);

    // A transaction writes an event and stays open: its id is older than
    // any the store's next unit of work gets.
    let late_id = EventId::from_uuid(new_uuid());
    let url = database.url().to_owned();
    let (commit, committed) = std::sync::mpsc::channel::<()>();
    let (began, begun) = tokio::sync::oneshot::channel::<()>();
    let first_text = first_id.to_string();
    let late_text = late_id.to_string();
    let open = std::thread::spawn(move || {
        let mut conn = PgConnection::establish(&url).unwrap();
        conn.batch_execute(&format!(
            "BEGIN; INSERT INTO events (id, kind, invitation_id, business_id, invitee_business_id, occurred_at, data) \
             SELECT '{late_text}', kind, invitation_id, business_id, invitee_business_id, occurred_at, data \
             FROM events WHERE id = '{first_text}'"
        ))
        .unwrap();
        began.send(()).unwrap();
        committed.recv().unwrap();
        conn.batch_execute("COMMIT").unwrap();
    });
    begun.await.unwrap();
    // A later transaction commits first.
    let third = insert(&store, invite(&acme, "carol@initech.test", at(1))).await;
    let third_id = third.record.event.id;

    // The relay publishes what it reads and moves on.
    assert!(
        store
            .take_relay_lease("relay", at(0), Duration::minutes(5))
            .await
            .unwrap()
    );
    let cursor = RelayCursor::after(first_id);
    assert!(store.advance_relay_cursor("relay", cursor).await.unwrap());
    for _ in 0..5 {
        let read = store.relay_events_after(Some(cursor), 100).await.unwrap();
        assert_eq!(read, [], "nothing is final while the older transaction runs");
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    assert_eq!(
        store.relay_lag().await.unwrap().events,
        1,
        "the committed one is behind"
    );

    commit.send(()).unwrap();
    tokio::task::spawn_blocking(move || open.join().unwrap()).await.unwrap();
    let read = read_settled(&store, Some(cursor), 2).await;
    assert_eq!(
        ids(&read),
        [late_id, third_id],
        "the late event first, in transaction order"
    );
    assert_eq!(store.relay_lag().await.unwrap().events, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_database_keeps_the_relays_place_and_order() {
    let lite_db = TestDatabase::sqlite();
    let lite = lite_db.migrated_store().await;
    let acme = Tenant::create(&lite, "Acme", "ann@acme.test", at(0)).await;
    // Written in an order the ids do not follow.
    let second = invite(&acme, "carol@initech.test", at(1));
    let first = invite(&acme, "bob@globex.test", at(0));
    let third = invite(&acme, "dan@initech.test", at(2));
    for invite in [second, first, third] {
        insert(&lite, invite).await;
    }
    let written = lite.relay_events_after(None, 100).await.unwrap();
    assert_eq!(written.len(), 3);
    assert!(
        lite.take_relay_lease("relay", at(0), Duration::seconds(10))
            .await
            .unwrap()
    );
    let cursor = RelayCursor::after(written[0].id);
    assert!(lite.advance_relay_cursor("relay", cursor).await.unwrap());

    let pg_db = tokio::task::spawn_blocking(TestDatabase::postgres).await.unwrap();
    let pg = pg_db.migrated_store().await;
    lite.copy_into(&pg).await.unwrap();
    assert_eq!(pg.relay_cursor().await.unwrap(), Some(cursor));
    assert_eq!(read_settled(&pg, Some(cursor), 2).await, written[1..]);
    assert_eq!(read_settled(&pg, None, 3).await, written);
    assert_eq!(pg.relay_lag().await.unwrap().events, 2);
    drop(pg);
}
