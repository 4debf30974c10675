//! The ports: what the use cases need from the outside world. Each adapter
//! crate implements them; `rsvp-store-contract` checks every store adapter
//! against the sentences written here.
//!
//! `records`: what the store reads and writes; `store`: the [`Store`] port
//! and its contract; `outbound`: emails, webhooks and time (the mailer,
//! renderer, sender, resolver, timer and work signal ports); `identity`: the
//! host platform's bearer JWTs ([`TokenVerifier`]); `bus`: the event bus
//! the relay publishes the event log to ([`EventBus`]); `feedback`: what
//! email providers report after a send ([`SnsVerifier`]).

mod bus;
mod feedback;
mod identity;
mod outbound;
mod records;
mod store;

pub use bus::*;
pub use feedback::*;
pub use identity::*;
pub use outbound::*;
pub use records::*;
pub use rsvp_domain::Locale;
pub use store::*;

use async_trait::async_trait;
use rsvp_domain::webhook::{EventTypeFilter, WebhookSecret};
use rsvp_domain::{
    ApiKey, ApiKeyId, Business, BusinessId, Connection, EmailAddress, EmailJobId, Event, EventId, ExternalId,
    Invitation, InvitationId, InvitationStatus, Suppression, SuppressionId, User, UserId, WebhookDeliveryId,
    WebhookEndpointId,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::list::{BusinessQuery, EventQuery, InvitationQuery, Page, PageRequest, SuppressionQuery};
use crate::use_cases::{IdempotencyBegin, IdempotencyClaim, IdempotencyTicket, StoredResponse};
use crate::{Secret, SecretHash};

/// Tells the time. The only place `now` comes from.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// The current UTC time.
    fn now(&self) -> OffsetDateTime;
}

/// Mints ids for new rows.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait IdGenerator: Send + Sync {
    /// A new unique id. Production ids are UUIDv7, so that ids grow with time
    /// (events are listed in id order).
    fn new_id(&self) -> Uuid;
}

/// Makes and hashes secrets (API keys, link tokens).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait SecretGenerator: Send + Sync {
    /// A new secret: at least 128 bits from a CSPRNG, URL-safe.
    fn generate(&self) -> Secret;

    /// The hash under which `secret` is stored and looked up.
    fn hash(&self, secret: &str) -> SecretHash;
}
