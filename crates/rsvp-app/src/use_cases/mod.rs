//! [`App`]: every use case of rsvp, over the ports, one module per area:
//! [`invitations`] (create, read, answer, resend, expire), [`links`] (the
//! invitee's side: preview, accept, decline, opt out), [`network`]
//! (connections, events), [`join_links`] (links many businesses use to
//! connect, and their connection requests), [`operator`] (provisioning, the lifecycle of
//! businesses, users and API keys, erasure, suppressions), [`webhooks`]
//! and [`idempotency`]. This module holds `App` itself, its settings and
//! ports, and what every area shares (the clock, ids, authentication).

mod analytics;
mod feedback;
mod idempotency;
mod identity;
mod invitations;
mod join_links;
mod links;
mod network;
mod operator;
mod webhooks;

pub use analytics::*;
pub use feedback::{ProviderReport, REPORT_ID_RETENTION, SNS_MAX_AGE, SnsReceipt};
pub use idempotency::*;
pub use invitations::*;
pub use join_links::*;
pub use links::*;
pub(crate) use operator::ValidUser;
pub use operator::*;
pub use webhooks::*;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rsvp_domain::{
    AccessDenied, Action, Actor, ApiKey, ApiKeyId, ApiKeyName, Business, BusinessId, BusinessName, Connection,
    ConnectionId, EmailAddress, EmailJobId, Event, EventId, ExternalId, FieldError, Invitation, InvitationId,
    InvitationRequest, InviteFacts, InviteRefusal, LAST_USED_GRANULARITY, Locale, OptOutScope, PersonName, ResendError,
    Suppression, SuppressionId, SuppressionReason, User, UserId, ValidationErrors, check_access, check_invite,
    suppression_refusal,
};
use time::{Duration, OffsetDateTime};

use crate::list::{EventQuery, InvitationFilter, InvitationQuery, Page, PageRequest, PageSize, SuppressionQuery};
use crate::ports::{
    ApiKeyRecord, Clock, CreateOutcome, Credential, EmailCap, EmailJob, EmailJobStatus, EmailKind, IdGenerator,
    InvitationContext, LinkTokenRecord, NewInvitationRecord, NewInvitee, Principal, ResendRecord, SecretGenerator,
    Store, StoreError, TransitionOutcome, TransitionRecord,
};
use crate::{AppError, Cursor, Secret};

/// Tunables of the use cases.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Minimum time between two sends of one invitation's link (default 60 s).
    pub resend_cooldown: Duration,
    /// Most emails one business may queue in any hour, creates and resends
    /// together (default 10,000; `0` turns the cap off). Counted in the store,
    /// so it holds across replicas.
    pub emails_per_hour: u32,
    /// The language of an invitation created without `locale` (default English).
    pub default_locale: Locale,
    /// The origins a `redirect_url` may point to, as
    /// [`RedirectUrl::origin`](rsvp_domain::RedirectUrl::origin) writes them
    /// (read them with [`rsvp_domain::parse_origin`]). Empty (the default):
    /// no `redirect_url` is allowed.
    pub redirect_origins: Vec<String>,
    /// What webhook endpoints may target beyond public https URLs (default
    /// nothing more).
    pub webhook_policy: rsvp_domain::webhook::UrlPolicy,
    /// How long what an API key leads to (key, user, business) is reused
    /// without reading the store again (default 0.5 s, within the 1 s the
    /// brief allows; zero reads it on every request). A key revoked, a user
    /// deactivated or a business suspended through another replica is
    /// refused within this time; through this one, at once.
    pub credential_cache_ttl: Duration,
    /// How long before its expiry a pending invitation gets its one
    /// reminder, when its last email went out before that (default 72 h;
    /// zero turns reminders off). See [`App::send_reminders`].
    pub reminder_before_expiry: Duration,
    /// Whether the sending user gets an email when an invitation expires
    /// unanswered (default true).
    pub notify_sender_on_expiry: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            resend_cooldown: Duration::seconds(60),
            emails_per_hour: 10_000,
            default_locale: Locale::En,
            redirect_origins: Vec::new(),
            webhook_policy: rsvp_domain::webhook::UrlPolicy::default(),
            credential_cache_ttl: Duration::milliseconds(500),
            reminder_before_expiry: Duration::hours(72),
            notify_sender_on_expiry: true,
        }
    }
}

/// The whole seconds from `now` until `retry_at`, rounded up and at least
/// one: the `Retry-After` of a refusal that lifts at `retry_at`.
fn retry_after_secs(retry_at: OffsetDateTime, now: OffsetDateTime) -> u64 {
    let wait = retry_at - now;
    let secs = u64::try_from(wait.whole_seconds()).unwrap_or(0);
    let secs = if wait.subsec_nanoseconds() > 0 { secs + 1 } else { secs };
    secs.max(1)
}

/// The adapters the use cases run on.
#[derive(Clone)]
pub struct Ports {
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Ids.
    pub ids: Arc<dyn IdGenerator>,
    /// Secrets.
    pub secrets: Arc<dyn SecretGenerator>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports").finish_non_exhaustive()
    }
}

/// The email outbox as metrics show it ([`App::outbox_status`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OutboxStatus {
    /// Queued emails (`None`: the store did not answer).
    pub depth: Option<u64>,
    /// Seconds the oldest queued email has waited (`None`: unknown).
    pub oldest_queued_age_seconds: Option<f64>,
    /// Webhook deliveries pending (`None`: the store did not answer).
    pub webhook_depth: Option<u64>,
}

/// Every use case of rsvp. Cheap to clone.
#[derive(Debug, Clone)]
pub struct App {
    pub(crate) ports: Ports,
    pub(crate) settings: Settings,
    pub(crate) resolver: Resolver,
    pub(crate) credentials: Arc<crate::credentials::CredentialCache>,
    pub(crate) verifier: identity::Verifier,
    pub(crate) principals: Arc<crate::credentials::CredentialCache<Principal>>,
    pub(crate) feedback: feedback::Feedback,
}

/// The host resolver of the webhook URL check, if any.
#[derive(Clone, Default)]
pub(crate) struct Resolver(pub(crate) Option<Arc<dyn crate::ports::HostResolver>>);

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Resolver").field(&self.0.is_some()).finish()
    }
}

pub(crate) fn optional_name(errors: &mut ValidationErrors, field: &str, value: Option<&str>) -> Option<PersonName> {
    value
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| errors.collect(field, PersonName::parse(v)))
}

/// An optional external id field: `None` when absent or blank, else parsed.
pub(crate) fn optional_external_id(
    errors: &mut ValidationErrors,
    field: &str,
    value: Option<&str>,
) -> Option<ExternalId> {
    value
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| errors.collect(field, ExternalId::parse(v)))
}

impl App {
    /// Builds the application over its ports.
    pub fn new(ports: Ports, settings: Settings) -> Self {
        Self {
            ports,
            settings,
            resolver: Resolver::default(),
            credentials: Arc::default(),
            verifier: identity::Verifier::default(),
            principals: Arc::default(),
            feedback: feedback::Feedback::default(),
        }
    }

    /// Resolves the host of a new or changed webhook URL with `resolver`,
    /// refusing it when it resolves to an address the policy forbids.
    /// Without one, only literal addresses and `localhost` names are checked
    /// at registration (every delivery checks what the name resolves to).
    #[must_use]
    pub fn with_resolver(mut self, resolver: Arc<dyn crate::ports::HostResolver>) -> Self {
        self.resolver = Resolver(Some(resolver));
        self
    }

    /// The settings in use.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The ports in use: for this crate only. Adapters get use cases (the
    /// operations below), never the store itself; the composition root that
    /// built the ports keeps its own copy for the dispatchers.
    pub(crate) fn ports(&self) -> &Ports {
        &self.ports
    }

    /// The clock the use cases read (for adapters that count time, such as
    /// a throttle).
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.ports.clock.clone()
    }

    /// A new unique id in its simple form (32 hex digits): request ids.
    pub fn new_request_id(&self) -> String {
        self.new_id().simple().to_string()
    }

    /// Whether `given` is `expected` (an operator or metrics token), compared
    /// as digests of equal length so that the time taken says nothing of it.
    pub fn secret_matches(&self, given: &str, expected: &Secret) -> bool {
        self.ports.secrets.hash(given) == self.ports.secrets.hash(expected.expose())
    }

    /// Readiness: the store answers (and, where it can tell, can write).
    ///
    /// # Errors
    /// [`AppError::Unavailable`] with the store's reason.
    pub async fn check_ready(&self) -> Result<(), AppError> {
        Ok(self.ports.store.ping().await?)
    }

    /// The email outbox as metrics show it: each figure `None` when the
    /// store could not give it (a store that does not answer must not take
    /// the other metrics down).
    pub async fn outbox_status(&self) -> OutboxStatus {
        let depth = match self.ports.store.outbox().outbox_depth().await {
            Ok(depth) => Some(depth),
            Err(error) => {
                tracing::warn!(%error, "outbox depth unavailable");
                None
            }
        };
        let oldest_queued_age_seconds = match depth {
            Some(0) => Some(0.0),
            Some(_) => match self.ports.store.outbox().oldest_queued_email().await {
                Ok(oldest) => Some(oldest.map_or(0.0, |at| (self.now() - at).as_seconds_f64().max(0.0))),
                Err(error) => {
                    tracing::warn!(%error, "oldest queued email unavailable");
                    None
                }
            },
            None => None,
        };
        let webhook_depth = match self.ports.store.webhooks().webhook_outbox_depth().await {
            Ok(depth) => Some(depth),
            Err(error) => {
                tracing::warn!(%error, "webhook outbox depth unavailable");
                None
            }
        };
        OutboxStatus {
            depth,
            oldest_queued_age_seconds,
            webhook_depth,
        }
    }

    /// A business's name, for pages that name the sender (`None` when it
    /// is unknown or cannot be read: the page still says what happened).
    pub async fn business_name(&self, id: BusinessId) -> Option<String> {
        match self.ports.store.operator().get_business(id).await {
            Ok(Some(business)) => Some(business.name.to_string()),
            _ => None,
        }
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        self.ports.clock.now()
    }

    pub(crate) fn new_id(&self) -> uuid::Uuid {
        self.ports.ids.new_id()
    }

    /// A new key for `user_id`: its secret (shown once) and what is stored.
    pub(crate) fn new_api_key(
        &self,
        user_id: UserId,
        name: ApiKeyName,
        expires_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> (Secret, ApiKeyRecord) {
        let secret = Secret::new(format!("rsvp_{}", self.ports.secrets.generate().expose()));
        let record = ApiKeyRecord {
            key: ApiKey {
                id: ApiKeyId::from_uuid(self.new_id()),
                user_id,
                name,
                prefix: ApiKey::prefix_of(secret.expose()),
                created_at: now,
                expires_at,
                last_used_at: None,
            },
            hash: self.ports.secrets.hash(secret.expose()),
        };
        (secret, record)
    }

    /// The caller an API key acts as. What the key leads to is read from the
    /// store at most once per [`Settings::credential_cache_ttl`] (0.5 s), so a
    /// revoked key, a deactivated user or a suspended business is refused at
    /// once on the replica that changed it and within that time on the
    /// others; expiry is checked against the clock on every call. A use is recorded in
    /// `last_used_at` at most once a minute per key.
    ///
    /// # Errors
    /// [`AppError::Unauthorized`] for an unknown, revoked or expired key and
    /// for a deactivated user; [`AppError::BusinessSuspended`] for a
    /// suspended business.
    pub async fn authenticate(&self, api_key: &str) -> Result<Principal, AppError> {
        // The hash lookup compares digests of fixed length, so timing tells nothing of the key.
        let hash = self.ports.secrets.hash(api_key);
        let now = self.now();
        let ttl = self.settings.credential_cache_ttl;
        let credential = match self.credentials.get(&hash, now, ttl) {
            Some(credential) => credential,
            None => {
                let credential = self
                    .ports
                    .store
                    .operator()
                    .find_credential(&hash)
                    .await?
                    .ok_or(AppError::Unauthorized)?;
                if ttl > Duration::ZERO {
                    self.credentials.put(hash, credential.clone(), now);
                }
                credential
            }
        };
        let Credential { key, principal } = credential;
        match check_access(&key, &principal.user, &principal.business, now) {
            Ok(()) => {}
            Err(AccessDenied::KeyExpired | AccessDenied::UserDeactivated) => return Err(AppError::Unauthorized),
            Err(AccessDenied::BusinessSuspended) => return Err(AppError::BusinessSuspended),
        }
        if key.use_is_worth_recording(now) {
            // Noted first, so that concurrent requests of one key do not all write.
            self.credentials.note_use(&hash, now);
            let recorded = self
                .ports
                .store
                .operator()
                .record_api_key_use(key.id, now, now - LAST_USED_GRANULARITY)
                .await;
            // Bookkeeping only: a failed write must not refuse a valid key.
            if let Err(error) = recorded {
                tracing::warn!(api_key_id = %key.id, error = %error, "could not record an API key's use");
            }
        }
        Ok(principal)
    }

    /// Forgets every cached credential: called after each operator change
    /// that can take access away (revoked key, deactivated user, suspended
    /// business, erasure), so that this replica applies it at once.
    pub(crate) fn forget_credentials(&self) {
        self.credentials.clear();
        self.principals.clear();
    }
}
