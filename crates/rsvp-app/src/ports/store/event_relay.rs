//! The [`EventRelayStore`] role of the store port: the event log read in
//! commit order, for the relay that publishes it to an event bus.

use super::super::*;

/// Where the relay stands in the event log: every event up to and including
/// this one, in the store's commit order, is published.
///
/// Opaque to the use cases: only the store knows the order (commit order,
/// which neither ids nor times follow), so positions are never compared
/// outside it. A cursor is made from the last event of a batch the store
/// returned ([`RelayCursor::after`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RelayCursor(EventId);

impl RelayCursor {
    /// The position just after `event`.
    pub fn after(event: EventId) -> Self {
        Self(event)
    }

    /// The last event the position covers (for stores, which find its place
    /// in their order).
    pub fn event_id(&self) -> EventId {
        self.0
    }
}

/// How far the relay is behind the event log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayLag {
    /// Events stored after the cursor.
    pub events: u64,
    /// When the first of them (in commit order) occurred; `None` when none.
    pub oldest: Option<OffsetDateTime>,
}

/// The event log as a relay reads it: in commit order, after a stored
/// cursor, by one relay at a time across replicas (a lease).
///
/// Part of the [`Store`] port: its methods are its contract, checked on
/// every adapter by `rsvp-store-contract`.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait EventRelayStore: Send + Sync {
    /// Takes the relay's lease for `holder` until `now + lease`, or renews
    /// it when `holder` holds it already: `true`. A lease held by another
    /// holder and ending after `now` MUST be refused (`false`, nothing
    /// changed), even when several holders try at once; one that ended at
    /// or before `now` is taken over.
    async fn take_relay_lease(&self, holder: &str, now: OffsetDateTime, lease: Duration) -> Result<bool, StoreError>;

    /// Gives the lease up when `holder` holds it, so that another relay
    /// takes over at once; a lease held by another holder is left alone.
    async fn release_relay_lease(&self, holder: &str) -> Result<(), StoreError>;

    /// The stored cursor; `None` before the first event was relayed.
    async fn relay_cursor(&self) -> Result<Option<RelayCursor>, StoreError>;

    /// Up to `limit` events after `after` (from the first event when
    /// `None`), in commit order. The order is final: an event MUST NOT be
    /// returned after `after` moved past its place, so an event whose unit
    /// of work commits late (after a later-started one was read) is held
    /// back until nothing can be placed before it, never skipped.
    async fn relay_events_after(&self, after: Option<RelayCursor>, limit: usize) -> Result<Vec<Event>, StoreError>;

    /// Moves the stored cursor to `to` when `holder` holds the lease (its
    /// end may have passed, as long as no other holder took it over) and
    /// `to` comes after the stored cursor: `true`. The cursor MUST only move
    /// forward: `to` at or before it leaves it unchanged (`false`), as does
    /// another holder's lease.
    async fn advance_relay_cursor(&self, holder: &str, to: RelayCursor) -> Result<bool, StoreError>;

    /// How far the stored cursor is behind the event log (for the lag
    /// metrics).
    async fn relay_lag(&self) -> Result<RelayLag, StoreError>;
}
