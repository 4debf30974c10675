//! [`InMemoryStore`]: every table in one mutex.

use async_trait::async_trait;
use rsvp_app::{
    ApiKeyRecord, BusinessQuery, CreateOutcome, Credential, Cursor, EmailCap, EmailJob, EmailJobStatus, EmailOutcome,
    ErasureCounts, ErasureRecord, EventQuery, IdempotencyBegin, IdempotencyClaim, IdempotencyKey, IdempotencyScope,
    IdempotencyStore, IdempotencyTicket, InvitationContext, InvitationQuery, InvitationStore, NetworkStore,
    NewInvitationRecord, OperatorStore, OptOutStore, OutboxStore, Page, PageRequest, ResendRecord, SecretHash, Store,
    StoreError, StoredResponse, SuppressionQuery, TransitionOutcome, TransitionRecord, WebhookAttempt, WebhookDelivery,
    WebhookDeliveryStatus, WebhookEndpoint, WebhookStore,
};
use rsvp_domain::{
    ApiKey, ApiKeyId, Business, BusinessId, Connection, EmailAddress, EmailJobId, Event, EventId, ExternalId,
    Invitation, InvitationId, Suppression, SuppressionId, User, UserId, WebhookDeliveryId, WebhookEndpointId,
    fold_for_search, ordered_pair,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

mod analytics;
mod event_relay;
mod feedback;
mod idempotency;
mod invitations;
mod join_links;
mod network;
mod operator;
mod opt_outs;
mod outbox;
mod records;
mod state;
mod sweeps;
mod webhooks;

use records::*;
pub use state::InMemoryStore;

#[async_trait]
impl Store for InMemoryStore {
    fn operator(&self) -> &dyn OperatorStore {
        self
    }

    fn invitations(&self) -> &dyn InvitationStore {
        self
    }

    fn network(&self) -> &dyn NetworkStore {
        self
    }

    fn join_links(&self) -> &dyn rsvp_app::JoinLinkStore {
        self
    }

    fn outbox(&self) -> &dyn OutboxStore {
        self
    }

    fn idempotency(&self) -> &dyn IdempotencyStore {
        self
    }

    fn opt_outs(&self) -> &dyn OptOutStore {
        self
    }

    fn webhooks(&self) -> &dyn WebhookStore {
        self
    }

    fn event_relay(&self) -> &dyn rsvp_app::EventRelayStore {
        self
    }

    fn feedback(&self) -> &dyn rsvp_app::FeedbackStore {
        self
    }

    fn analytics(&self) -> &dyn rsvp_app::AnalyticsStore {
        self
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.lock().map(drop)
    }
}
