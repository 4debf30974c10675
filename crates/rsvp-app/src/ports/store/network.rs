//! The [`NetworkStore`] role of the store port.

use super::super::*;

/// What the invitations built: connections between businesses and the event log.
///
/// Part of the [`Store`] port: its methods are its contract, checked on
/// every adapter by `rsvp-store-contract`.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait NetworkStore: Send + Sync {
    /// Which of `others` are connected to `business`, in any order.
    async fn connected_among(&self, business: BusinessId, others: &[BusinessId])
    -> Result<Vec<BusinessId>, StoreError>;

    /// Connections of `business` (either end), newest first, keyset paged.
    async fn list_connections(&self, business: BusinessId, page: &PageRequest) -> Result<Page<Connection>, StoreError>;

    /// Events visible to `business`: those whose `business_id` is it (the
    /// sender) or whose own `invitee_business_id` is it (the invitee, as
    /// known when the event was written); oldest first by id, keyset paged
    /// on the id.
    async fn list_events(
        &self,
        business: BusinessId,
        query: &EventQuery,
    ) -> Result<Page<Event, rsvp_domain::EventId>, StoreError>;

    /// An event by id.
    async fn get_event(&self, id: EventId) -> Result<Option<Event>, StoreError>;
}
