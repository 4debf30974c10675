//! The event bus: where the relay publishes the event log (NATS JetStream
//! in `rsvp-nats`).

use super::*;

/// Why a publication stopped short. The first `acknowledged` events were
/// stored by the bus; the rest may or may not have been (an answer lost on
/// the way), so the relay publishes them again and the bus's duplicate
/// detection (the event id) keeps one copy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event bus: {reason} (after {acknowledged} acknowledged)")]
pub struct EventBusError {
    /// How many events, from the first, the bus acknowledged.
    pub acknowledged: usize,
    /// What went wrong, for logs.
    pub reason: String,
}

/// Publishes events to a bus, each identified by its event id so that the
/// bus drops a copy published again.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait EventBus: Send + Sync + std::fmt::Debug {
    /// Publishes `events` one after another, in the order given, each only
    /// after the previous one was acknowledged; returns once the bus
    /// acknowledged (durably stored) every one.
    ///
    /// # Errors
    /// [`EventBusError`] at the first event that was not acknowledged
    /// (the bus unreachable, a timeout, a refusal); the events after it
    /// were not sent.
    async fn publish(&self, events: &[Event]) -> Result<(), EventBusError>;
}
