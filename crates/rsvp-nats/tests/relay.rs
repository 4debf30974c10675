//! The relay end to end against a real nats-server (`RSVP_TEST_NATS_URL`,
//! or one the test starts): every event of a walk arrives once, as a valid
//! CloudEvent, in order per business; a relay stopped mid-batch and started
//! again still stores each once (the duplicate window); and with the bus
//! down the API answers as fast as before while the lag rises, then drains.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rsvp_app::{
    App, EventBus, EventBusError, EventRelay, EventRelaySettings, EventView, NewBusinessInput, NewUserInput, Ports,
    Settings, Store, ports::Principal,
};
use rsvp_domain::{Action, Event, InvitationInput};
use rsvp_memory::InMemoryStore;
use rsvp_nats::{NatsConfig, NatsEventBus};
use rsvp_runtime::{RelayPacing, RunningWorkers, WorkerSettings, Workers};
use rsvp_system::{RandomSecrets, SystemClock, UuidV7Ids};
use serde_json::Value;
use support::{NatsServer, stored, unique};

struct World {
    ports: Ports,
    app: App,
    acme: Principal,
    globex: Principal,
    initech: Principal,
}

async fn world(store: Arc<dyn Store>) -> World {
    let ports = Ports {
        store,
        clock: Arc::new(SystemClock),
        ids: Arc::new(UuidV7Ids),
        secrets: Arc::new(RandomSecrets),
    };
    let app = App::new(ports.clone(), Settings::default());
    let mut principals = Vec::new();
    for (name, email) in [
        ("Acme", "ann@acme.test"),
        ("Globex", "bob@globex.test"),
        ("Initech", "ivan@initech.test"),
    ] {
        let business = app
            .provision_business(NewBusinessInput {
                name: Some(name.into()),
                user: NewUserInput {
                    email: Some(email.into()),
                    ..Default::default()
                },
                external_id: None,
            })
            .await
            .unwrap();
        principals.push(app.authenticate(business.api_key.expose()).await.unwrap());
    }
    let initech = principals.pop().unwrap();
    let globex = principals.pop().unwrap();
    let acme = principals.pop().unwrap();
    World {
        ports,
        app,
        acme,
        globex,
        initech,
    }
}

async fn invite(world: &World, from: &Principal, email: &str) -> rsvp_domain::InvitationId {
    let request = InvitationInput {
        email: Some(email.into()),
        ..Default::default()
    }
    .validate()
    .unwrap();
    world.app.invite(from, request).await.unwrap().invitation.id()
}

/// Walk "a" (Acme invites Globex's user) or "b" (Initech invites Acme's):
/// invitations both ways, one accepted (with its connection), one
/// cancelled: 7 events.
async fn walk(world: &World, tag: &str) {
    let (from, to, to_email) = if tag == "a" {
        (&world.acme, &world.globex, "bob@globex.test")
    } else {
        (&world.initech, &world.acme, "ann@acme.test")
    };
    let accepted = invite(world, from, to_email).await;
    let cancelled = invite(world, from, &format!("carol-{tag}@umbrella.test")).await;
    invite(world, from, &format!("dan-{tag}@umbrella.test")).await;
    invite(world, to, &format!("erin-{tag}@umbrella.test")).await;
    world.app.change_status(to, accepted, Action::Accept).await.unwrap();
    world.app.change_status(from, cancelled, Action::Cancel).await.unwrap();
}

/// Every event of the store, in its relay order.
async fn log(store: &dyn Store) -> Vec<Event> {
    store.event_relay().relay_events_after(None, 10_000).await.unwrap()
}

async fn bus(server: &NatsServer, subject: &str) -> Arc<NatsEventBus> {
    let mut config = NatsConfig::new(server.url(), subject).with_source("https://rsvp.example.test");
    config.ack_timeout = Duration::from_secs(1);
    Arc::new(NatsEventBus::connect(config).await.unwrap())
}

fn relay(world: &World, bus: Arc<dyn EventBus>, lease: time::Duration) -> EventRelay {
    let settings = EventRelaySettings { batch_size: 4, lease };
    EventRelay::new(world.ports.clone(), bus, settings)
}

fn start(world: &World, relay: EventRelay) -> RunningWorkers {
    let pacing = RelayPacing {
        idle: Duration::from_millis(20),
        standby: Duration::from_millis(100),
        backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(500),
    };
    Workers::new(world.app.clone())
        .with_event_relay(relay)
        .with_settings(WorkerSettings {
            relay: pacing,
            ..WorkerSettings::default()
        })
        .start()
}

/// Waits until the relay is not behind (`deadline` at most).
async fn drained(world: &World, deadline: Duration) {
    let until = Instant::now() + deadline;
    loop {
        let status = world.app.event_relay_status().await;
        if status.lag_events == Some(0) {
            return;
        }
        assert!(Instant::now() < until, "the relay is still behind: {status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The stream holds each event of `events` exactly once, as a valid
/// CloudEvent on its subject with its id as `Nats-Msg-Id`, a business's
/// events in the order the store committed them.
async fn assert_stream_holds_each_once(server: &NatsServer, subject: &str, events: &[Event]) {
    let jetstream = server.jetstream().await;
    let name = NatsConfig::new("", subject).stream_name();
    let messages = stored(&jetstream, &name, events.len() as u64).await;
    let ids: Vec<&str> = messages.iter().map(|m| m.msg_id.as_str()).collect();
    assert_eq!(messages.len(), events.len(), "{ids:?}");
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len(), "each once");
    let by_id: BTreeMap<String, &Event> = events.iter().map(|e| (e.id.to_string(), e)).collect();
    for message in &messages {
        let event = by_id
            .get(&message.msg_id)
            .expect("a stored message is an event of the log");
        let body = &message.body;
        assert_eq!(body["specversion"], "1.0");
        assert_eq!(body["id"], Value::from(message.msg_id.clone()));
        assert_eq!(body["source"], "https://rsvp.example.test");
        assert_eq!(body["type"], Value::from(format!("rsvp.{}", event.kind.as_str())));
        assert_eq!(body["datacontenttype"], "application/json");
        let time = body["time"].as_str().expect("time");
        time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339).expect("RFC 3339");
        let view = serde_json::to_value(EventView::new(event, event.business_id)).unwrap();
        assert_eq!(body["data"], view, "data as GET /v1/events shows it");
        assert_eq!(
            message.subject,
            format!("{subject}.{}.{}", event.business_id, event.kind.as_str())
        );
    }
    // Per business, the stream's order is the store's.
    let businesses: HashSet<_> = events.iter().map(|e| e.business_id).collect();
    for business in businesses {
        let in_store: Vec<String> = events
            .iter()
            .filter(|e| e.business_id == business)
            .map(|e| e.id.to_string())
            .collect();
        let in_stream: Vec<String> = messages
            .iter()
            .filter(|m| by_id[&m.msg_id].business_id == business)
            .map(|m| m.msg_id.clone())
            .collect();
        assert_eq!(in_stream, in_store, "the order of {business}'s events");
    }
}

async fn every_event_of_a_walk_arrives_once(store: Arc<dyn Store>) {
    let server = NatsServer::shared_or_own().await;
    let subject = format!("rsvptest.{}", unique());
    let world = world(store).await;
    walk(&world, "a").await;
    let workers = start(
        &world,
        relay(&world, bus(&server, &subject).await, time::Duration::seconds(15)),
    );
    walk(&world, "b").await;
    drained(&world, Duration::from_secs(30)).await;
    workers.stop().await;
    let events = log(world.ports.store.as_ref()).await;
    assert_eq!(
        events.len(),
        2 * 7,
        "4 created, accepted, connection created, cancelled: twice"
    );
    assert_stream_holds_each_once(&server, &subject, &events).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_of_a_walk_arrives_once_as_a_cloud_event_in_order_per_business() {
    every_event_of_a_walk_arrives_once(Arc::new(InMemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_of_a_walk_on_postgres_arrives_once_in_commit_order() {
    let database = tokio::task::spawn_blocking(rsvp_store_diesel::testing::TestDatabase::postgres)
        .await
        .unwrap();
    every_event_of_a_walk_arrives_once(Arc::new(database.migrated_store().await)).await;
    drop(database);
}

/// A bus that publishes `allowed` events, then hangs as a process killed
/// mid-batch would (its round never finishes, the cursor never moves).
#[derive(Debug)]
struct DiesMidBatch {
    inner: Arc<NatsEventBus>,
    allowed: usize,
    published: AtomicUsize,
}

#[async_trait]
impl EventBus for DiesMidBatch {
    async fn publish(&self, events: &[Event]) -> Result<(), EventBusError> {
        for event in events {
            if self.published.fetch_add(1, Ordering::SeqCst) >= self.allowed {
                std::future::pending::<()>().await;
            }
            self.inner.publish(std::slice::from_ref(event)).await?;
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_killed_mid_batch_and_started_again_stores_each_event_once() {
    let server = NatsServer::shared_or_own().await;
    let subject = format!("rsvptest.{}", unique());
    let world = world(Arc::new(InMemoryStore::new())).await;
    walk(&world, "a").await;
    walk(&world, "b").await;
    let nats = bus(&server, &subject).await;
    let dying = Arc::new(DiesMidBatch {
        inner: nats.clone(),
        allowed: 6,
        published: AtomicUsize::new(0),
    });
    let lease = time::Duration::seconds(1);
    let first = relay(&world, dying.clone(), lease);
    // Batches of 4: the first is published and moves the cursor, the second
    // dies after 2 of its 4, acknowledged but not recorded.
    let killed = tokio::spawn(async move {
        loop {
            first.run_once().await.unwrap();
        }
    });
    let until = Instant::now() + Duration::from_secs(20);
    while dying.published.load(Ordering::SeqCst) <= dying.allowed {
        assert!(Instant::now() < until, "the first relay did not get mid-batch");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    killed.abort();
    let _ = killed.await;
    let lag = world.app.event_relay_status().await.lag_events;
    assert_eq!(lag, Some(14 - 4), "only the first batch is recorded");

    // Another relay (a restarted process) takes over when the lease ends
    // and publishes from the cursor: two of its events again.
    let workers = start(&world, relay(&world, nats, lease));
    drained(&world, Duration::from_secs(30)).await;
    workers.stop().await;
    assert_stream_holds_each_once(&server, &subject, &log(world.ports.store.as_ref()).await).await;
}

/// How long the bus stays down: `RSVP_TEST_NATS_OUTAGE_SECS` (CI's second
/// run sets 30), else 3 s.
fn outage() -> Duration {
    let secs = std::env::var("RSVP_TEST_NATS_OUTAGE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    Duration::from_secs(secs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_bus_down_the_api_answers_as_fast_and_the_lag_rises_then_drains() {
    let mut server = NatsServer::own().await;
    let subject = format!("rsvptest.{}", unique());
    let world = world(Arc::new(InMemoryStore::new())).await;
    let workers = start(
        &world,
        relay(&world, bus(&server, &subject).await, time::Duration::seconds(15)),
    );
    let mut n = 0;
    let mut create = || {
        n += 1;
        let world = &world;
        let email = format!("p{n}@partner.test");
        async move {
            let started = Instant::now();
            invite(world, &world.acme, &email).await;
            started.elapsed()
        }
    };
    let mut before = Duration::ZERO;
    for _ in 0..20 {
        before = before.max(create().await);
    }
    drained(&world, Duration::from_secs(30)).await;

    server.stop();
    let down_since = Instant::now();
    let (mut during, mut created) = (Duration::ZERO, 0u64);
    let mut lags = Vec::new();
    while down_since.elapsed() < outage() {
        during = during.max(create().await);
        created += 1;
        if created % 20 == 0 {
            lags.push(world.app.event_relay_status().await.lag_events.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Generous: a create takes microseconds on this store, and the relay
    // (waiting on a dead bus) has no part in it.
    assert!(
        during < Duration::from_millis(250).max(before * 10),
        "a create took {during:?} with the bus down ({before:?} before)"
    );
    let lag = world.app.event_relay_status().await;
    assert_eq!(lag.lag_events, Some(created), "every create since is behind");
    assert!(lags.windows(2).all(|w| w[0] < w[1]), "the lag rises: {lags:?}");
    assert!(lag.lag_seconds.unwrap() >= outage().as_secs_f64() * 0.5, "{lag:?}");

    server.start_again().await;
    drained(&world, Duration::from_secs(30)).await;
    workers.stop().await;
    let events = log(world.ports.store.as_ref()).await;
    assert_eq!(events.len() as u64, 20 + created);
    assert_stream_holds_each_once(&server, &subject, &events).await;
}
