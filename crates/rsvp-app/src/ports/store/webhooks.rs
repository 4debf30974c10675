//! The [`WebhookStore`] role of the store port.

use super::super::*;

/// Webhook endpoints and the outbox of their deliveries.
///
/// Part of the [`Store`] port: its methods are its contract, checked on
/// every adapter by `rsvp-store-contract`.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Registers a webhook endpoint.
    async fn insert_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<(), StoreError>;

    /// A webhook endpoint by id (of any business: callers check the owner).
    async fn get_webhook_endpoint(&self, id: WebhookEndpointId) -> Result<Option<WebhookEndpoint>, StoreError>;

    /// The webhook endpoints of `business`, oldest first (`created_at`, then id).
    async fn list_webhook_endpoints(&self, business: BusinessId) -> Result<Vec<WebhookEndpoint>, StoreError>;

    /// Writes an endpoint's settings from `endpoint`: `url`, `event_types`,
    /// `description`, `enabled`, `secret`, `previous_secret`, `updated_at`.
    /// `failing_since` is not taken from the record (attempts own it) but
    /// MUST be cleared when the endpoint goes from disabled to enabled.
    ///
    /// # Errors
    /// MUST return [`StoreError::NotFound`] when there is no such endpoint.
    async fn update_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<(), StoreError>;

    /// Deletes an endpoint and every delivery of it.
    ///
    /// # Errors
    /// MUST return [`StoreError::NotFound`] when there is no such endpoint.
    async fn delete_webhook_endpoint(&self, id: WebhookEndpointId) -> Result<(), StoreError>;

    /// The deliveries of one endpoint, newest first (`created_at`, then id,
    /// descending), keyset paged.
    async fn list_webhook_deliveries(
        &self,
        endpoint: WebhookEndpointId,
        page: &PageRequest,
    ) -> Result<Page<WebhookDelivery>, StoreError>;

    /// Queues one delivery as given (a redelivery).
    ///
    /// # Errors
    /// MUST return [`StoreError::NotFound`] when its endpoint does not exist,
    /// writing nothing.
    async fn insert_webhook_delivery(&self, delivery: &WebhookDelivery) -> Result<(), StoreError>;

    /// Claims up to `limit` pending deliveries due at `now`, oldest
    /// `created_at` first, moving their `next_attempt_at` to `now + lease`
    /// and counting the attempt; the returned deliveries show the new lease
    /// and count. A delivery claimed by one caller MUST NOT be returned to
    /// another before its lease ends, even when several claim at once.
    ///
    /// Every method that writes an event MUST also write, in the same unit
    /// of work, one pending delivery (due at the event's time, id = the
    /// event id, `payload` `None`) for each enabled endpoint of each business
    /// that can see the event (`Event::visible_to`) whose filter matches
    /// its type; disabled endpoints and other businesses get none.
    async fn claim_webhook_deliveries(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<WebhookDelivery>, StoreError>;

    /// Records an attempt: the delivery's status (`succeeded`, `pending`
    /// again at the retry time, `failed`), response status, duration, error
    /// and attempt time; and the endpoint's health: a success clears
    /// `failing_since`, a failure sets it unless set. With `disable`, the
    /// endpoint is disabled and, only if it was enabled until now, a
    /// `webhook_endpoint.disabled` delivery (id = the notice's id) is
    /// queued for each other enabled endpoint of the business whose filter
    /// matches that type — so among racing attempts one notice is written.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such delivery.
    async fn finish_webhook_delivery(&self, attempt: &WebhookAttempt) -> Result<(), StoreError>;

    /// Gives claimed deliveries back unsent, like
    /// [`release_email_jobs`](OutboxStore::release_email_jobs): each still pending
    /// with the lease this claim set becomes due at `now`, its attempt
    /// uncounted; others MUST be left untouched. Returns how many were released.
    async fn release_webhook_deliveries(
        &self,
        deliveries: &[WebhookDelivery],
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// How many deliveries are pending, for the webhook outbox depth metric.
    async fn webhook_outbox_depth(&self) -> Result<u64, StoreError>;
}
