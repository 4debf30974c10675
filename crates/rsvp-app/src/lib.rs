//! # rsvp-app
//!
//! The use cases of rsvp and the ports they run on. It knows the domain
//! (`rsvp-domain`) and nothing else: no database, no HTTP, no runtime.
//!
//! * Ports ([`ports`]): [`Store`] (in roles: [`OperatorStore`],
//!   [`InvitationStore`], [`NetworkStore`], [`OutboxStore`],
//!   [`IdempotencyStore`], [`OptOutStore`], [`WebhookStore`]), [`Clock`], [`IdGenerator`],
//!   [`SecretGenerator`], [`Timer`]. Their rustdoc is their contract; the
//!   `rsvp-store-contract` crate checks every store adapter against it.
//!   With the `mock` feature each has a mockall mock (`MockStore`, ...).
//! * Use cases: [`App`] — provisioning, invite, bulk invite, get, list sent
//!   and received, accept / reject / cancel, resend, link preview / accept /
//!   decline, connections, events, the expiry sweep (with the notice to
//!   each expired invitation's sender), the reminders before expiry
//!   ([`App::send_reminders`]). Each state change
//!   reaches the store as one record holding everything it writes (the
//!   invitation, its event, its email job, the connection), so that the
//!   store commits it as one unit of work.
//! * Idempotent requests: [`App::begin_idempotent`], then
//!   [`App::complete_idempotent`] or [`App::abandon_idempotent`]; records
//!   kept [`IDEMPOTENCY_RETENTION`] and pruned by
//!   [`App::prune_idempotency_records`].
//! * Webhooks: the endpoint use cases on [`App`], the
//!   [`WebhookDispatcher`] (the outbox the store fills with each event), the
//!   [`WebhookSender`] and [`HostResolver`] ports, and [`EventView`], the one
//!   rendering of an event as one business sees it (the API and the
//!   payloads share it).
//! * The event bus: [`EventRelay`] publishes the event log to an
//!   [`EventBus`] in the store's commit order ([`EventRelayStore`]: a
//!   cursor and a lease, one relay at a time across replicas).
//! * Errors: [`AppError`], whose [`code`](AppError::code) is the stable code
//!   of the HTTP API.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod branding;
mod credentials;
mod dispatch;
mod error;
mod list;
pub mod ports;
mod public_links;
mod relay;
mod retention;
mod secret;
mod use_cases;
mod view;
mod webhook_dispatch;

pub use branding::{Branding, BrandingError};
pub use dispatch::{
    AttemptOutcome, DispatchObserver, DispatchReport, DispatchSettings, EmailDispatcher, FailureReason,
};
pub use error::{AppError, error_chain};
pub use list::{
    BusinessQuery, Cursor, DEFAULT_PAGE_SIZE, EventQuery, InvitationFilter, InvitationQuery, MAX_PAGE_SIZE,
    MIN_PAGE_SIZE, Page, PageRequest, PageSize, SuppressionQuery,
};
#[cfg(any(test, feature = "mock"))]
pub use ports::MockAnalyticsStore;
pub use ports::SentEmail;
pub use ports::{AnalyticsStore, FunnelQuery, InvitationFunnel, median_nanos};
pub use ports::{
    AnswerOutcome, ApiKeyRecord, Clock, CreateOutcome, Credential, DisabledNotice, EmailCap, EmailJob, EmailJobStatus,
    EmailKind, EmailOutcome, EmailRenderer, ErasedInvitation, ErasureCounts, ErasureRecord, HostResolver, IdGenerator,
    IdempotencyStore, InvitationContext, InvitationEmail, InvitationStore, JoinLinkStore, LinkTokenRecord, Locale,
    MailError, Mailer, NamedAddress, NetworkStore, NewInvitationRecord, NewInvitee, OperatorStore, OptOutStore,
    OutboxStore, OutgoingEmail, Principal, RedeemRecord, Redemption, RenderError, RenderedEmail, RequestAnswerRecord,
    RequestSide, ResendRecord, SecretGenerator, Store, StoreError, Timer, TokenIdentity, TokenRejected, TokenVerifier,
    TransitionOutcome, TransitionRecord, WebhookAttempt, WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint,
    WebhookOutcome, WebhookRequest, WebhookSendError, WebhookSender, WebhookStore, WorkSignal,
};
pub use ports::{
    EmailProvider, EmailReport, FeedbackStore, ReportOutcome, SnsError, SnsMessage, SnsMessageType, SnsVerifier,
};
pub use ports::{EventBus, EventBusError, EventRelayStore, RelayCursor, RelayLag};
pub use ports::{ExpiryNoticeEmail, ReminderQuery, ReminderRecord};
#[cfg(any(test, feature = "mock"))]
pub use ports::{
    MockClock, MockEmailRenderer, MockHostResolver, MockIdGenerator, MockIdempotencyStore, MockInvitationStore,
    MockJoinLinkStore, MockMailer, MockNetworkStore, MockOperatorStore, MockOptOutStore, MockOutboxStore,
    MockSecretGenerator, MockStore, MockTimer, MockTokenVerifier, MockWebhookSender, MockWebhookStore, MockWorkSignal,
};
#[cfg(any(test, feature = "mock"))]
pub use ports::{MockEventBus, MockEventRelayStore, MockFeedbackStore, MockSnsVerifier};
pub use public_links::{INVITE_PATH, JOIN_PATH, PublicLinks, UNSUBSCRIBE_PATH};
pub use relay::{EventRelay, EventRelayObserver, EventRelaySettings, EventRelayStatus, RelayError, RelayRound};
pub use secret::{Secret, SecretHash};
pub use use_cases::{
    AcceptLinkInput, App, BulkFailure, BulkOutcome, CreatedInvitation, InvitationView, LinkPreview, ListParams,
    MAX_BULK_INVITATIONS, NewBusinessInput, NewUserInput, OptOut, OutboxStatus, Ports, ProvisionedBusiness,
    ProvisionedUser, Settings, Viewer,
};
pub use use_cases::{
    BusinessChange, BusinessDetail, BusinessListParams, CreatedApiKey, ErasureReport, NewApiKeyInput, UserChange,
};
pub use use_cases::{FUNNEL_DEFAULT_DAYS, FUNNEL_MAX_DAYS, FunnelRange, FunnelReport};
pub use use_cases::{
    IDEMPOTENCY_RETENTION, IDEMPOTENCY_TAKEOVER_AFTER, IdempotencyBegin, IdempotencyClaim, IdempotencyKey,
    IdempotencyScope, IdempotencyTicket, IdempotentStart, InvalidIdempotencyKey, RequestFingerprint, StoredResponse,
};
pub use use_cases::{JoinLinkPreview, NewJoinLink};
pub use use_cases::{ProviderReport, REPORT_ID_RETENTION, SNS_MAX_AGE, SnsReceipt};
pub use use_cases::{WebhookEndpointInput, WebhookEndpointPatch};
pub use view::{EventView, rfc3339, webhook_body};
pub use webhook_dispatch::{
    WebhookAttemptResult, WebhookDispatchReport, WebhookDispatchSettings, WebhookDispatcher, WebhookObserver,
};

// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
