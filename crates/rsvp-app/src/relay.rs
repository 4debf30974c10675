//! [`EventRelay`]: publishes the event log to an [`EventBus`], in the
//! store's commit order, after a stored cursor, one relay at a time across
//! replicas (the store's lease). Each round takes or renews the lease,
//! reads a batch after the cursor, publishes it (every event acknowledged)
//! and only then moves the cursor: at least once, and the bus's duplicate
//! detection (the event id) makes it once. The loop around the rounds
//! (idling, backing off after a failure) is `rsvp-runtime`'s.

use std::sync::{Arc, Mutex, PoisonError};

use time::{Duration, OffsetDateTime};

use crate::ports::{EventBus, EventBusError, RelayCursor, StoreError};
use crate::{App, Ports};

/// Tunables of the relay.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRelaySettings {
    /// Events read and published per round (default 100).
    pub batch_size: usize,
    /// How long the lease lasts once taken or renewed (default 15 s): a
    /// replica that dies holding it is replaced after at most this. It is
    /// renewed when a third of it has passed.
    pub lease: Duration,
}

impl Default for EventRelaySettings {
    fn default() -> Self {
        Self {
            batch_size: 100,
            lease: Duration::seconds(15),
        }
    }
}

/// Told of every publication (for metrics). Keep it quick.
pub trait EventRelayObserver: Send + Sync {
    /// `events` were published and acknowledged.
    fn published(&self, events: usize);

    /// A publication failed (the batch is tried again after a pause).
    fn publish_failed(&self);
}

/// What one round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayRound {
    /// Another replica holds the lease: nothing was read.
    Standby,
    /// Nothing new to publish.
    Idle,
    /// This many events were published and the cursor moved past them.
    Published(usize),
    /// The events were published but the lease had passed to another
    /// replica, which publishes from the cursor (the bus drops the copies).
    LeaseLost,
}

/// Why a round failed; the cursor did not move past what was not
/// acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The bus did not acknowledge every event.
    #[error(transparent)]
    Publish(#[from] EventBusError),
}

/// The lease this relay holds, and where it stands.
#[derive(Debug, Clone, Copy)]
struct Held {
    renew_at: OffsetDateTime,
    until: OffsetDateTime,
    cursor: Option<RelayCursor>,
}

/// Publishes the event log to an [`EventBus`]; see the module doc. Several
/// may run (one per replica): the store's lease lets one publish at a time.
#[derive(Clone)]
pub struct EventRelay {
    ports: Ports,
    bus: Arc<dyn EventBus>,
    settings: EventRelaySettings,
    holder: String,
    observer: Option<Arc<dyn EventRelayObserver>>,
    held: Arc<Mutex<Option<Held>>>,
}

impl std::fmt::Debug for EventRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRelay")
            .field("bus", &self.bus)
            .field("settings", &self.settings)
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

impl EventRelay {
    /// A relay of the store of `ports` to `bus`, under a holder name of its
    /// own (a new id).
    pub fn new(ports: Ports, bus: Arc<dyn EventBus>, settings: EventRelaySettings) -> Self {
        let holder = ports.ids.new_id().to_string();
        Self {
            ports,
            bus,
            settings,
            holder,
            observer: None,
            held: Arc::default(),
        }
    }

    /// Tells `observer` of every publication.
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn EventRelayObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The name under which this relay takes the lease.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    fn held(&self) -> Option<Held> {
        *self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_held(&self, held: Option<Held>) {
        *self.held.lock().unwrap_or_else(PoisonError::into_inner) = held;
    }

    /// One round: the lease, a batch after the cursor, its publication, the
    /// cursor moved past what the bus acknowledged.
    ///
    /// # Errors
    /// [`RelayError::Store`] when the store fails, [`RelayError::Publish`]
    /// when the bus did not acknowledge every event; the cursor then stands
    /// after the last acknowledged one, and the rest is published again by
    /// the next round.
    pub async fn run_once(&self) -> Result<RelayRound, RelayError> {
        let store = self.ports.store.event_relay();
        let now = self.ports.clock.now();
        let held = match self.held() {
            Some(held) if now < held.renew_at => held,
            previous => {
                if !store.take_relay_lease(&self.holder, now, self.settings.lease).await? {
                    self.set_held(None);
                    return Ok(RelayRound::Standby);
                }
                let cursor = match previous {
                    Some(held) if now < held.until => held.cursor,
                    // Newly taken (or taken again after it ran out): another
                    // relay may have moved the cursor meanwhile.
                    _ => store.relay_cursor().await?,
                };
                let held = Held {
                    renew_at: now + self.settings.lease / 3,
                    until: now + self.settings.lease,
                    cursor,
                };
                self.set_held(Some(held));
                held
            }
        };
        let events = store
            .relay_events_after(held.cursor, self.settings.batch_size.max(1))
            .await?;
        let Some(last) = events.last() else {
            return Ok(RelayRound::Idle);
        };
        let last = RelayCursor::after(last.id);
        match self.bus.publish(&events).await {
            Ok(()) => {
                if let Some(observer) = &self.observer {
                    observer.published(events.len());
                }
                if self.advance(held, last).await? {
                    Ok(RelayRound::Published(events.len()))
                } else {
                    Ok(RelayRound::LeaseLost)
                }
            }
            Err(error) => {
                let acknowledged = error.acknowledged.min(events.len());
                if let Some(observer) = &self.observer {
                    observer.publish_failed();
                    if acknowledged > 0 {
                        observer.published(acknowledged);
                    }
                }
                if let Some(event) = acknowledged.checked_sub(1).and_then(|i| events.get(i)) {
                    // What the bus stored is not published again; a lost
                    // lease shows at the next round.
                    self.advance(held, RelayCursor::after(event.id)).await?;
                }
                Err(error.into())
            }
        }
    }

    /// Moves the cursor to `to`; `false` (and the lease forgotten) when the
    /// lease passed to another relay.
    async fn advance(&self, held: Held, to: RelayCursor) -> Result<bool, StoreError> {
        let moved = self
            .ports
            .store
            .event_relay()
            .advance_relay_cursor(&self.holder, to)
            .await?;
        self.set_held(moved.then_some(Held {
            cursor: Some(to),
            ..held
        }));
        Ok(moved)
    }

    /// Gives the lease up (at shutdown), so that another replica's relay
    /// takes over at once instead of when the lease ends.
    pub async fn release(&self) {
        self.set_held(None);
        if let Err(error) = self.ports.store.event_relay().release_relay_lease(&self.holder).await {
            tracing::warn!(%error, "could not release the event relay's lease");
        }
    }
}

/// The relay's lag as metrics show it ([`App::event_relay_status`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EventRelayStatus {
    /// Events not yet relayed (`None`: the store did not answer).
    pub lag_events: Option<u64>,
    /// Seconds since the first event not yet relayed occurred (0 when
    /// none; `None`: the store did not answer).
    pub lag_seconds: Option<f64>,
}

impl App {
    /// How far the event relay is behind the event log, for metrics: `None`
    /// figures when the store could not tell (a store that does not answer
    /// must not take the other metrics down). Read from the store, so every
    /// replica tells the same, whichever holds the relay's lease.
    pub async fn event_relay_status(&self) -> EventRelayStatus {
        match self.ports.store.event_relay().relay_lag().await {
            Ok(lag) => EventRelayStatus {
                lag_events: Some(lag.events),
                lag_seconds: Some(lag.oldest.map_or(0.0, |at| (self.now() - at).as_seconds_f64().max(0.0))),
            },
            Err(error) => {
                tracing::warn!(%error, "event relay lag unavailable");
                EventRelayStatus::default()
            }
        }
    }
}
