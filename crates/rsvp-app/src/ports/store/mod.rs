//! The [`Store`] port, in roles. Each role trait is one part of what the use
//! cases need from storage; its methods are its contract, checked on every
//! adapter by `rsvp-store-contract`.

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
mod webhooks;

pub use analytics::*;
pub use event_relay::*;
pub use feedback::*;
pub use idempotency::*;
pub use invitations::*;
pub use join_links::*;
pub use network::*;
pub use operator::*;
pub use opt_outs::*;
pub use outbox::*;
pub use webhooks::*;

use super::*;

/// The store: businesses, users, API keys, invitations, link tokens,
/// connections, events, the email and webhook outboxes, opt-outs and
/// idempotency records.
///
/// One value serves every role: the roles share one database, and one
/// unit of work may write the tables of several (a transition writes the
/// invitation, its connection, its event and its webhook deliveries). A use
/// case reaches the role it needs through an accessor, which says at each
/// call what part of the store it uses:
/// `store.invitations().get_invitation(id)`.
///
/// Each method of a role is one unit of work: it either does all it says or
/// nothing. Emails are compared in their normalized form
/// (`EmailAddress::normalized`: IDNA ASCII domain, NFC lowercased local
/// part) everywhere, and read back as written (`EmailAddress::as_str` keeps
/// the spelling given). Times are compared inclusively: a row whose time
/// equals `now` is due.
#[async_trait]
pub trait Store: Send + Sync {
    /// Businesses, their users and their API keys.
    fn operator(&self) -> &dyn OperatorStore;

    /// Invitations, their link tokens and their transitions.
    fn invitations(&self) -> &dyn InvitationStore;

    /// Connections and the event log.
    fn network(&self) -> &dyn NetworkStore;

    /// Join links and the connection requests they make.
    fn join_links(&self) -> &dyn JoinLinkStore;

    /// The email outbox.
    fn outbox(&self) -> &dyn OutboxStore;

    /// Idempotency records.
    fn idempotency(&self) -> &dyn IdempotencyStore;

    /// Opt-outs and erasure.
    fn opt_outs(&self) -> &dyn OptOutStore;

    /// Webhook endpoints and deliveries.
    fn webhooks(&self) -> &dyn WebhookStore;

    /// The event log in commit order, its relay's cursor and lease.
    fn event_relay(&self) -> &dyn EventRelayStore;

    /// Email providers' reports (delivered, bounced, complained).
    fn feedback(&self) -> &dyn FeedbackStore;

    /// The invitation funnel and the page views it counts.
    fn analytics(&self) -> &dyn AnalyticsStore;

    /// Whether the store answers (for readiness checks).
    async fn ping(&self) -> Result<(), StoreError>;
}

/// A [`Store`] made of one mockall mock per role, for unit tests of the use
/// cases: set expectations on the role a use case should reach
/// (`store.invitations.expect_get_invitation()`); a call to any role
/// without an expectation panics. [`ping`](Store::ping) answers `Ok`.
#[cfg(any(test, feature = "mock"))]
#[derive(Default)]
pub struct MockStore {
    /// The [`OperatorStore`] role.
    pub operator: MockOperatorStore,
    /// The [`InvitationStore`] role.
    pub invitations: MockInvitationStore,
    /// The [`NetworkStore`] role.
    pub network: MockNetworkStore,
    /// The [`JoinLinkStore`] role.
    pub join_links: MockJoinLinkStore,
    /// The [`OutboxStore`] role.
    pub outbox: MockOutboxStore,
    /// The [`IdempotencyStore`] role.
    pub idempotency: MockIdempotencyStore,
    /// The [`OptOutStore`] role.
    pub opt_outs: MockOptOutStore,
    /// The [`WebhookStore`] role.
    pub webhooks: MockWebhookStore,
    /// The [`EventRelayStore`] role.
    pub event_relay: MockEventRelayStore,
    /// The [`FeedbackStore`] role.
    pub feedback: MockFeedbackStore,
    /// The [`AnalyticsStore`] role.
    pub analytics: MockAnalyticsStore,
}

#[cfg(any(test, feature = "mock"))]
impl std::fmt::Debug for MockStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockStore").finish_non_exhaustive()
    }
}

#[cfg(any(test, feature = "mock"))]
impl MockStore {
    /// A store whose every role expects nothing yet.
    pub fn new() -> Self {
        Self::default()
    }
}

#[cfg(any(test, feature = "mock"))]
#[async_trait]
impl Store for MockStore {
    fn operator(&self) -> &dyn OperatorStore {
        &self.operator
    }

    fn invitations(&self) -> &dyn InvitationStore {
        &self.invitations
    }

    fn network(&self) -> &dyn NetworkStore {
        &self.network
    }

    fn join_links(&self) -> &dyn JoinLinkStore {
        &self.join_links
    }

    fn outbox(&self) -> &dyn OutboxStore {
        &self.outbox
    }

    fn idempotency(&self) -> &dyn IdempotencyStore {
        &self.idempotency
    }

    fn opt_outs(&self) -> &dyn OptOutStore {
        &self.opt_outs
    }

    fn webhooks(&self) -> &dyn WebhookStore {
        &self.webhooks
    }

    fn event_relay(&self) -> &dyn EventRelayStore {
        &self.event_relay
    }

    fn feedback(&self) -> &dyn FeedbackStore {
        &self.feedback
    }

    fn analytics(&self) -> &dyn AnalyticsStore {
        &self.analytics
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
