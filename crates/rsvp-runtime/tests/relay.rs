//! The event relay's rounds and loop over the in-memory store, with a fake
//! bus (mockall): the cursor stays where the bus stopped acknowledging, the
//! loop backs off while the bus fails, and a relay whose lease passed to
//! another stops publishing.

mod support;

use support::{World, world};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rsvp_app::{Clock, EventBusError, EventRelay, EventRelaySettings, MockEventBus, RelayError, RelayRound, Store};
use rsvp_domain::{EventId, InvitationInput};
use rsvp_runtime::{RelayPacing, WorkerSettings, Workers};

/// Invites `count` addresses: one `invitation.created` each.
async fn invite(world: &World, count: usize) {
    for n in 0..count {
        let request = InvitationInput {
            email: Some(format!("p{n}@partner.test")),
            ..Default::default()
        }
        .validate()
        .unwrap();
        world.app.invite(&world.ann, request).await.unwrap();
    }
}

/// Every event in the store's order.
async fn log(store: &dyn Store) -> Vec<EventId> {
    let events = store.event_relay().relay_events_after(None, 1000).await.unwrap();
    events.iter().map(|event| event.id).collect()
}

/// A bus that records what it acknowledged, failing as `fail` says: given
/// the batch, `Some(acknowledged)` fails after that many.
fn bus(
    published: Arc<Mutex<Vec<EventId>>>,
    fail: impl Fn(usize) -> Option<usize> + Send + Sync + 'static,
) -> Arc<MockEventBus> {
    let calls = AtomicUsize::new(0);
    let mut bus = MockEventBus::new();
    bus.expect_publish().returning(move |events| {
        let call = calls.fetch_add(1, Ordering::SeqCst);
        let acknowledged = fail(call).unwrap_or(events.len()).min(events.len());
        published
            .lock()
            .unwrap()
            .extend(events[..acknowledged].iter().map(|event| event.id));
        if acknowledged < events.len() {
            Err(EventBusError {
                acknowledged,
                reason: "the bus is down".into(),
            })
        } else {
            Ok(())
        }
    });
    Arc::new(bus)
}

fn settings(batch_size: usize) -> EventRelaySettings {
    EventRelaySettings {
        batch_size,
        ..EventRelaySettings::default()
    }
}

#[tokio::test]
async fn a_failed_publication_keeps_the_cursor_past_what_was_acknowledged_only() {
    let world = world().await;
    invite(&world, 5).await;
    let published = Arc::new(Mutex::new(Vec::new()));
    // The first batch fails after 2 of 5; the second is refused whole.
    let relay = EventRelay::new(
        world.ports.clone(),
        bus(published.clone(), |call| {
            [Some(2), Some(0)].get(call).copied().flatten()
        }),
        settings(10),
    );
    let store = world.ports.store.event_relay();
    let written = log(world.ports.store.as_ref()).await;
    assert!(matches!(relay.run_once().await, Err(RelayError::Publish(_))));
    assert_eq!(
        store.relay_cursor().await.unwrap().map(|c| c.event_id()),
        Some(written[1])
    );
    assert_eq!(store.relay_lag().await.unwrap().events, 3);
    assert!(matches!(relay.run_once().await, Err(RelayError::Publish(_))));
    assert_eq!(
        store.relay_cursor().await.unwrap().map(|c| c.event_id()),
        Some(written[1]),
        "not moved: nothing acknowledged"
    );
    assert_eq!(relay.run_once().await, Ok(RelayRound::Published(3)));
    assert_eq!(relay.run_once().await, Ok(RelayRound::Idle));
    assert_eq!(*published.lock().unwrap(), written);
    assert_eq!(store.relay_lag().await.unwrap().events, 0);
}

#[tokio::test]
async fn a_relay_whose_lease_passed_to_another_stops_publishing_until_it_is_free() {
    let world = world().await;
    invite(&world, 3).await;
    let published = Arc::new(Mutex::new(Vec::new()));
    let relay = EventRelay::new(world.ports.clone(), bus(published.clone(), |_| None), settings(2));
    assert_eq!(relay.run_once().await, Ok(RelayRound::Published(2)));
    // The lease runs out (a replica paused for longer than it) and another
    // relay takes it over.
    world.clock.advance(time::Duration::seconds(16));
    let store = world.ports.store.event_relay();
    assert!(
        store
            .take_relay_lease("other", world.clock.now(), time::Duration::seconds(15))
            .await
            .unwrap()
    );
    assert_eq!(relay.run_once().await, Ok(RelayRound::Standby));
    assert_eq!(relay.run_once().await, Ok(RelayRound::Standby));
    assert_eq!(
        published.lock().unwrap().len(),
        2,
        "nothing published without the lease"
    );
    store.release_relay_lease("other").await.unwrap();
    assert_eq!(relay.run_once().await, Ok(RelayRound::Published(1)));
    let written = log(world.ports.store.as_ref()).await;
    assert_eq!(*published.lock().unwrap(), written);
}

#[tokio::test]
async fn a_relay_that_published_after_losing_its_lease_does_not_move_the_cursor() {
    let world = world().await;
    invite(&world, 2).await;
    let store = world.ports.store.clone();
    let clock = world.clock.clone();
    // While the batch is on the wire, the lease runs out and another
    // relay takes it over.
    let mut bus = MockEventBus::new();
    bus.expect_publish().returning(move |_| {
        clock.advance(time::Duration::seconds(16));
        let now = clock.now();
        let store = store.clone();
        let taken = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(
                store
                    .event_relay()
                    .take_relay_lease("other", now, time::Duration::seconds(15)),
            )
        })
        .join()
        .unwrap();
        assert!(taken.unwrap());
        Ok(())
    });
    let relay = EventRelay::new(world.ports.clone(), Arc::new(bus), settings(10));
    assert_eq!(relay.run_once().await, Ok(RelayRound::LeaseLost));
    let cursor = world.ports.store.event_relay().relay_cursor().await.unwrap();
    assert_eq!(cursor, None, "the other relay publishes from where the cursor stood");
}

#[tokio::test(start_paused = true)]
async fn the_loop_backs_off_while_the_bus_fails_then_catches_up() {
    let world = world().await;
    invite(&world, 3).await;
    let attempts = Arc::new(AtomicUsize::new(0));
    let published = Arc::new(Mutex::new(Vec::new()));
    let counted = attempts.clone();
    // Down for the first 6 attempts.
    let bus = bus(published.clone(), move |call| {
        counted.fetch_add(1, Ordering::SeqCst);
        (call < 6).then_some(0)
    });
    let pacing = RelayPacing {
        idle: Duration::from_millis(100),
        standby: Duration::from_secs(1),
        backoff: Duration::from_millis(500),
        max_backoff: Duration::from_secs(4),
    };
    assert_eq!(pacing.backoff_after(1), Duration::from_millis(500));
    assert_eq!(pacing.backoff_after(3), Duration::from_secs(2));
    assert_eq!(pacing.backoff_after(10), Duration::from_secs(4));
    let workers = Workers::new(world.app.clone())
        .with_event_relay(EventRelay::new(world.ports.clone(), bus, settings(10)))
        .with_settings(WorkerSettings {
            relay: pacing,
            ..WorkerSettings::default()
        })
        .start();
    // Failures at 0, 0.5, 1.5, 3.5, 7.5 and 11.5 s (pauses 0.5, 1, 2, 4, 4).
    tokio::time::sleep(Duration::from_millis(3_400)).await;
    assert_eq!(attempts.load(Ordering::SeqCst), 3, "backing off, not hammering the bus");
    tokio::time::sleep(Duration::from_millis(8_200)).await;
    assert_eq!(attempts.load(Ordering::SeqCst), 6);
    assert!(published.lock().unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(4_000)).await;
    assert_eq!(attempts.load(Ordering::SeqCst), 7, "recovered at 15.5 s");
    let written = log(world.ports.store.as_ref()).await;
    assert_eq!(*published.lock().unwrap(), written);
    workers.stop().await;
    let lease = world
        .ports
        .store
        .event_relay()
        .take_relay_lease("next", world.clock.now(), time::Duration::seconds(15))
        .await;
    assert!(lease.unwrap(), "a stopped relay gives its lease up");
}
