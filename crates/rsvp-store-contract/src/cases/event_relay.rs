//! The event relay's reads (`EventRelayStore`): the event log in commit
//! order after a cursor, the cursor only moving forward, the lease held by
//! one holder at a time, and the lag.

use std::sync::Arc;

use rsvp_app::{RelayCursor, Store};
use rsvp_domain::{Event, EventId};
use time::Duration;

use crate::Harness;
use crate::fixtures::{Tenant, accept, at, cancel, create, insert, invite};

/// Writes six events in an order their ids do not follow (the later id
/// first, through both insert paths), returning them in the order written.
async fn six_events(store: &dyn Store) -> Vec<Event> {
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let first = invite(&acme, "bob@globex.test", at(0));
    let second = invite(&acme, "carol@initech.test", at(1));
    let third = invite(&globex, "dan@initech.test", at(2));
    create(store, &second.record).await.expect("create_invitation");
    let first = insert(store, first).await;
    let third = insert(store, third).await;
    let accepted = accept(first.invitation(), globex.id(), at(10));
    store.invitations().apply_transition(&accepted).await.expect("accept");
    let (_, connection_created) = accepted.connection.clone().expect("a connection");
    let cancelled = cancel(second.invitation(), at(20));
    store.invitations().apply_transition(&cancelled).await.expect("cancel");
    settled(store, 6).await;
    vec![
        second.record.event,
        first.record.event,
        third.record.event,
        accepted.event,
        connection_created,
        cancelled.event,
    ]
}

/// Waits until the relay reads `count` events from the start: a store
/// may hold an event back while a unit of work that could still be placed
/// before it runs (on PostgreSQL, any transaction of the server that
/// started earlier), never for long.
async fn settled(store: &dyn Store, count: usize) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let read = store
            .event_relay()
            .relay_events_after(None, count + 1)
            .await
            .expect("relay_events_after");
        if read.len() >= count {
            assert_eq!(read.len(), count, "more events than written");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the relay reads {} of {count} events",
            read.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn ids(events: &[Event]) -> Vec<EventId> {
    events.iter().map(|event| event.id).collect()
}

/// Every event of the store, read a page of `size` at a time after the
/// cursor of the previous page's last event.
async fn read_all(store: &dyn Store, size: usize) -> Vec<Event> {
    let mut read = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .event_relay()
            .relay_events_after(cursor, size)
            .await
            .expect("relay_events_after");
        assert!(page.len() <= size, "a page of {} for {size}", page.len());
        let Some(last) = page.last() else { break };
        cursor = Some(RelayCursor::after(last.id));
        read.extend(page);
    }
    read
}

/// The relay reads the events in the order they were written (commit
/// order), not in id order, whole as written; read a page at a time after
/// each page's last event it reads each once; and an event written after a
/// read comes next.
pub async fn the_relay_reads_events_in_commit_order_after_a_cursor_each_once(h: Harness) {
    let store = h.store.as_ref();
    let written = six_events(store).await;
    for size in [1, 2, 5, 6, 100] {
        assert_eq!(read_all(store, size).await, written, "pages of {size}");
    }
    let all = store
        .event_relay()
        .relay_events_after(None, 100)
        .await
        .expect("relay_events_after");
    let last = RelayCursor::after(all.last().expect("events").id);
    let none_yet = store.event_relay().relay_events_after(Some(last), 100).await;
    assert_eq!(none_yet.expect("relay_events_after"), []);

    let later = Tenant::create(store, "Initech", "eve@initech.test", at(30)).await;
    let late = insert(store, invite(&later, "frank@umbrella.test", at(30))).await;
    settled(store, 7).await;
    let next = store.event_relay().relay_events_after(Some(last), 100).await;
    assert_eq!(ids(&next.expect("relay_events_after")), [late.record.event.id]);
    let from_third = RelayCursor::after(written[2].id);
    let rest = store.event_relay().relay_events_after(Some(from_third), 2).await;
    assert_eq!(ids(&rest.expect("relay_events_after")), ids(&written[3..5]));
}

/// The cursor starts unset, moves only forward (a cursor at or before the
/// stored one leaves it), and only for the holder of the lease.
pub async fn the_relay_cursor_only_moves_forward_and_only_for_the_lease_holder(h: Harness) {
    let store = h.store.as_ref();
    let relay = store.event_relay();
    let written = six_events(store).await;
    let cursor = |n: usize| RelayCursor::after(written[n].id);
    assert_eq!(relay.relay_cursor().await.expect("relay_cursor"), None);
    assert!(
        !relay.advance_relay_cursor("a", cursor(1)).await.expect("advance"),
        "no lease yet"
    );
    assert!(
        relay
            .take_relay_lease("a", at(0), Duration::seconds(10))
            .await
            .expect("take")
    );
    assert!(relay.advance_relay_cursor("a", cursor(2)).await.expect("advance"));
    assert_eq!(relay.relay_cursor().await.expect("relay_cursor"), Some(cursor(2)));
    for back in [0, 1, 2] {
        assert!(
            !relay.advance_relay_cursor("a", cursor(back)).await.expect("advance"),
            "back to {back}"
        );
        assert_eq!(relay.relay_cursor().await.expect("relay_cursor"), Some(cursor(2)));
    }
    assert!(
        !relay.advance_relay_cursor("b", cursor(4)).await.expect("advance"),
        "not the holder"
    );
    assert!(relay.advance_relay_cursor("a", cursor(4)).await.expect("advance"));
    assert_eq!(relay.relay_cursor().await.expect("relay_cursor"), Some(cursor(4)));
    let after = relay.relay_events_after(Some(cursor(4)), 10).await.expect("read");
    assert_eq!(ids(&after), ids(&written[5..]));
    // A lease that ran out still lets its holder move the cursor while
    // nobody took it over.
    assert!(relay.advance_relay_cursor("a", cursor(5)).await.expect("advance"));
}

/// A lease is its holder's until it ends: another holder is refused before
/// (even when many try at once, exactly one gets it), takes it over at its
/// end, and the first can then neither renew it nor move the cursor. A
/// release frees it only when the releaser holds it.
pub async fn the_relay_lease_is_exclusive_until_it_ends_and_then_taken_over(h: Harness) {
    let store = h.store.clone();
    let relay = store.event_relay();
    let written = six_events(store.as_ref()).await;
    let ten = Duration::seconds(10);
    let barrier = Arc::new(tokio::sync::Barrier::new(8));
    let racers: Vec<_> = (0..8)
        .map(|n| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let holder = format!("racer-{n}");
                let taken = store.event_relay().take_relay_lease(&holder, at(0), ten).await;
                (holder, taken.expect("take_relay_lease"))
            })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        let (holder, taken) = racer.await.expect("racer");
        if taken {
            winners.push(holder);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let a = winners.remove(0);
    assert!(!relay.take_relay_lease("b", at(5), ten).await.expect("take"));
    assert!(relay.take_relay_lease(&a, at(5), ten).await.expect("renew"), "renewed");
    assert!(
        !relay.take_relay_lease("b", at(14), ten).await.expect("take"),
        "renewed to 15"
    );
    assert!(
        relay.take_relay_lease("b", at(15), ten).await.expect("take"),
        "ended at 15"
    );
    assert!(!relay.take_relay_lease(&a, at(16), ten).await.expect("take"));
    let cursor = RelayCursor::after(written[0].id);
    assert!(!relay.advance_relay_cursor(&a, cursor).await.expect("advance"));
    assert!(relay.advance_relay_cursor("b", cursor).await.expect("advance"));
    relay.release_relay_lease(&a).await.expect("release");
    assert!(
        !relay.take_relay_lease(&a, at(17), ten).await.expect("take"),
        "not a's to release"
    );
    relay.release_relay_lease("b").await.expect("release");
    assert!(relay.take_relay_lease(&a, at(17), ten).await.expect("take"), "released");
    assert_eq!(relay.relay_cursor().await.expect("relay_cursor"), Some(cursor));
}

/// The lag counts the events after the cursor and tells when the first of
/// them occurred; none behind reads as zero and no time.
pub async fn the_relay_lag_counts_the_events_after_the_cursor_and_when_the_first_occurred(h: Harness) {
    let store = h.store.as_ref();
    let relay = store.event_relay();
    let empty = relay.relay_lag().await.expect("relay_lag");
    assert_eq!((empty.events, empty.oldest), (0, None));
    let written = six_events(store).await;
    let lag = relay.relay_lag().await.expect("relay_lag");
    assert_eq!((lag.events, lag.oldest), (6, Some(written[0].occurred_at)));
    assert!(
        relay
            .take_relay_lease("a", at(0), Duration::seconds(10))
            .await
            .expect("take")
    );
    assert!(
        relay
            .advance_relay_cursor("a", RelayCursor::after(written[2].id))
            .await
            .expect("advance")
    );
    let lag = relay.relay_lag().await.expect("relay_lag");
    assert_eq!((lag.events, lag.oldest), (3, Some(written[3].occurred_at)));
    assert!(
        relay
            .advance_relay_cursor("a", RelayCursor::after(written[5].id))
            .await
            .expect("advance")
    );
    let lag = relay.relay_lag().await.expect("relay_lag");
    assert_eq!((lag.events, lag.oldest), (0, None));
}
