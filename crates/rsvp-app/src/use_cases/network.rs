//! The network area: a business's connections and its events.

use super::*;

impl App {
    /// The caller's business's connections, newest first.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn list_connections(
        &self,
        principal: &Principal,
        page: PageRequest,
    ) -> Result<Page<Connection>, AppError> {
        Ok(self
            .ports
            .store
            .network()
            .list_connections(principal.business.id, &page)
            .await?)
    }

    /// The caller's business's events, oldest first.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn list_events(
        &self,
        principal: &Principal,
        query: EventQuery,
    ) -> Result<Page<Event, EventId>, AppError> {
        Ok(self
            .ports
            .store
            .network()
            .list_events(principal.business.id, &query)
            .await?)
    }
}
