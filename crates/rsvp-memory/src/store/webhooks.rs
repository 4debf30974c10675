//! The [`rsvp_app::WebhookStore`] role of [`InMemoryStore`].

use super::*;

#[async_trait]
impl WebhookStore for InMemoryStore {
    async fn insert_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<(), StoreError> {
        self.with(|s| {
            s.webhook_endpoints.insert(endpoint.id, endpoint.clone());
            Ok(())
        })
    }

    async fn get_webhook_endpoint(&self, id: WebhookEndpointId) -> Result<Option<WebhookEndpoint>, StoreError> {
        self.with(|s| Ok(s.webhook_endpoints.get(&id).cloned()))
    }

    async fn list_webhook_endpoints(&self, business: BusinessId) -> Result<Vec<WebhookEndpoint>, StoreError> {
        self.with(|s| {
            let mut endpoints: Vec<WebhookEndpoint> = s
                .webhook_endpoints
                .values()
                .filter(|e| e.business_id == business)
                .cloned()
                .collect();
            endpoints.sort_by_key(|e| (e.created_at, e.id));
            Ok(endpoints)
        })
    }

    async fn update_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<(), StoreError> {
        self.with(|s| {
            let stored = s.webhook_endpoints.get_mut(&endpoint.id).ok_or(StoreError::NotFound)?;
            if endpoint.enabled && !stored.enabled {
                stored.failing_since = None;
            }
            stored.url.clone_from(&endpoint.url);
            stored.event_types = endpoint.event_types.clone();
            stored.description.clone_from(&endpoint.description);
            stored.enabled = endpoint.enabled;
            stored.secret = endpoint.secret.clone();
            stored.previous_secret.clone_from(&endpoint.previous_secret);
            stored.updated_at = endpoint.updated_at;
            Ok(())
        })
    }

    async fn delete_webhook_endpoint(&self, id: WebhookEndpointId) -> Result<(), StoreError> {
        self.with(|s| {
            s.webhook_endpoints.remove(&id).ok_or(StoreError::NotFound)?;
            s.webhook_deliveries.retain(|(endpoint, _), _| *endpoint != id);
            Ok(())
        })
    }

    async fn list_webhook_deliveries(
        &self,
        endpoint: WebhookEndpointId,
        page: &PageRequest,
    ) -> Result<Page<WebhookDelivery>, StoreError> {
        self.with(|s| {
            let rows = s
                .webhook_deliveries
                .values()
                .filter(|d| d.endpoint_id == endpoint)
                .cloned();
            let cursor = |d: &WebhookDelivery| Cursor {
                created_at: d.created_at,
                id: d.id.as_uuid(),
            };
            Ok(newest_first_page(rows, cursor, page.after, page.limit))
        })
    }

    async fn insert_webhook_delivery(&self, delivery: &WebhookDelivery) -> Result<(), StoreError> {
        self.with(|s| {
            if !s.webhook_endpoints.contains_key(&delivery.endpoint_id) {
                return Err(StoreError::NotFound);
            }
            s.webhook_deliveries
                .insert((delivery.endpoint_id, delivery.id), delivery.clone());
            Ok(())
        })
    }

    async fn claim_webhook_deliveries(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        self.with(|s| {
            let mut due: Vec<(OffsetDateTime, WebhookDeliveryId, WebhookEndpointId)> = s
                .webhook_deliveries
                .values()
                .filter(|d| d.status == WebhookDeliveryStatus::Pending && d.next_attempt_at <= now)
                .map(|d| (d.created_at, d.id, d.endpoint_id))
                .collect();
            due.sort();
            due.truncate(limit);
            let mut claimed = Vec::with_capacity(due.len());
            for (_, id, endpoint) in due {
                if let Some(delivery) = s.webhook_deliveries.get_mut(&(endpoint, id)) {
                    delivery.next_attempt_at = now + lease;
                    delivery.attempts = delivery.attempts.saturating_add(1);
                    claimed.push(delivery.clone());
                }
            }
            Ok(claimed)
        })
    }

    async fn finish_webhook_delivery(&self, attempt: &WebhookAttempt) -> Result<(), StoreError> {
        self.with(|s| s.finish_webhook_delivery(attempt))
    }

    async fn release_webhook_deliveries(
        &self,
        deliveries: &[WebhookDelivery],
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.with(|s| {
            let mut released = 0;
            for claimed in deliveries {
                if let Some(delivery) = s.webhook_deliveries.get_mut(&(claimed.endpoint_id, claimed.id))
                    && delivery.status == WebhookDeliveryStatus::Pending
                {
                    released += super::outbox::give_back(
                        &mut delivery.next_attempt_at,
                        &mut delivery.attempts,
                        claimed.next_attempt_at,
                        now,
                    );
                }
            }
            Ok(released)
        })
    }

    async fn webhook_outbox_depth(&self) -> Result<u64, StoreError> {
        self.with(|s| {
            Ok(s.webhook_deliveries
                .values()
                .filter(|d| d.status == WebhookDeliveryStatus::Pending)
                .count() as u64)
        })
    }
}
