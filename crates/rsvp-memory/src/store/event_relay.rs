//! The [`rsvp_app::EventRelayStore`] role of [`InMemoryStore`]: every unit
//! of work runs under the one lock, so insertion order is commit order.

use rsvp_app::{EventRelayStore, RelayCursor, RelayLag};

use super::*;

/// The event log in insertion order, the relay's cursor and its lease.
#[derive(Debug, Default)]
pub(crate) struct RelayLog {
    /// Every event id, in the order the events were written.
    pub(crate) log: Vec<EventId>,
    /// How many events of `log` are relayed.
    relayed: usize,
    /// The cursor as the relay gave it.
    cursor: Option<RelayCursor>,
    /// Who holds the lease, and until when.
    lease: Option<(String, OffsetDateTime)>,
}

impl RelayLog {
    /// The place in `log` just after `cursor`.
    fn place_after(&self, cursor: Option<RelayCursor>) -> Result<usize, StoreError> {
        match cursor {
            None => Ok(0),
            Some(cursor) if Some(cursor) == self.cursor => Ok(self.relayed),
            Some(cursor) => self
                .log
                .iter()
                .position(|id| *id == cursor.event_id())
                .map(|at| at + 1)
                .ok_or_else(|| StoreError::Unavailable(format!("no event {} in the log", cursor.event_id()))),
        }
    }

    fn held_by(&self, holder: &str) -> bool {
        self.lease.as_ref().is_some_and(|(by, _)| by == holder)
    }
}

#[async_trait]
impl EventRelayStore for InMemoryStore {
    async fn take_relay_lease(&self, holder: &str, now: OffsetDateTime, lease: Duration) -> Result<bool, StoreError> {
        self.with(|s| {
            let relay = &mut s.relay;
            let free = match &relay.lease {
                None => true,
                Some((by, until)) => by == holder || *until <= now,
            };
            if free {
                relay.lease = Some((holder.to_owned(), now + lease));
            }
            Ok(free)
        })
    }

    async fn release_relay_lease(&self, holder: &str) -> Result<(), StoreError> {
        self.with(|s| {
            if s.relay.held_by(holder) {
                s.relay.lease = None;
            }
            Ok(())
        })
    }

    async fn relay_cursor(&self) -> Result<Option<RelayCursor>, StoreError> {
        self.with(|s| Ok(s.relay.cursor))
    }

    async fn relay_events_after(&self, after: Option<RelayCursor>, limit: usize) -> Result<Vec<Event>, StoreError> {
        self.with(|s| {
            let from = s.relay.place_after(after)?;
            Ok(s.relay
                .log
                .iter()
                .skip(from)
                .take(limit)
                .filter_map(|id| s.events.get(id).cloned())
                .collect())
        })
    }

    async fn advance_relay_cursor(&self, holder: &str, to: RelayCursor) -> Result<bool, StoreError> {
        self.with(|s| {
            let relay = &mut s.relay;
            let place = relay.place_after(Some(to))?;
            if !relay.held_by(holder) || place <= relay.relayed {
                return Ok(false);
            }
            relay.relayed = place;
            relay.cursor = Some(to);
            Ok(true)
        })
    }

    async fn relay_lag(&self) -> Result<RelayLag, StoreError> {
        self.with(|s| {
            let behind = &s.relay.log[s.relay.relayed.min(s.relay.log.len())..];
            Ok(RelayLag {
                events: behind.len() as u64,
                oldest: behind.first().and_then(|id| s.events.get(id)).map(|e| e.occurred_at),
            })
        })
    }
}
