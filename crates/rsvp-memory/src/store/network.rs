//! The [`rsvp_app::NetworkStore`] role of [`InMemoryStore`].

use super::*;

#[async_trait]
impl NetworkStore for InMemoryStore {
    async fn connected_among(
        &self,
        business: BusinessId,
        others: &[BusinessId],
    ) -> Result<Vec<BusinessId>, StoreError> {
        self.with(|s| {
            Ok(others
                .iter()
                .copied()
                .filter(|o| s.connections.contains_key(&ordered_pair(business, *o)))
                .collect())
        })
    }

    async fn list_connections(&self, business: BusinessId, page: &PageRequest) -> Result<Page<Connection>, StoreError> {
        self.with(|s| Ok(s.list_connections(business, page)))
    }

    async fn list_events(&self, business: BusinessId, query: &EventQuery) -> Result<Page<Event, EventId>, StoreError> {
        self.with(|s| Ok(s.list_events(business, query)))
    }

    async fn get_event(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        self.with(|s| Ok(s.events.get(&id).cloned()))
    }
}
