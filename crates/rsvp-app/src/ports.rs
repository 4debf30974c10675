//! The ports: what the use cases need from the outside world. Each adapter
//! crate implements them; `rsvp-store-contract` checks every store adapter
//! against the sentences written here.

use async_trait::async_trait;
use rsvp_domain::webhook::{EventTypeFilter, WebhookSecret};
use rsvp_domain::{
    ApiKey, ApiKeyId, Business, BusinessId, Connection, EmailAddress, EmailJobId, Event, EventId, Invitation,
    InvitationId, InvitationStatus, Suppression, SuppressionId, User, UserId, WebhookDeliveryId, WebhookEndpointId,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::idempotency::{IdempotencyBegin, IdempotencyClaim, IdempotencyKey, IdempotencyScope, StoredResponse};
use crate::list::{BusinessQuery, EventQuery, InvitationQuery, Page, PageRequest, SuppressionQuery};
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

/// Why the store refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A pending invitation from this business to this (normalized) email exists.
    #[error("a pending invitation to this email already exists")]
    AlreadyInvited,
    /// A user with this (normalized) email exists.
    #[error("a user with this email already exists")]
    EmailTaken,
    /// The row to change is not there.
    #[error("not found")]
    NotFound,
    /// The invitation was not in the expected state; `current` is what it
    /// reads as now.
    #[error("the invitation is {current}")]
    Conflict {
        /// The status the invitation reads as.
        current: InvitationStatus,
    },
    /// A resend came too soon after the last send.
    #[error("resent too recently")]
    Cooldown {
        /// When the link was last sent.
        last_sent_at: OffsetDateTime,
    },
    /// The database could not be reached or failed; the message is for logs.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// An API key as stored: the key and the hash of its secret, never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// The key (its id, user, name, prefix, times).
    pub key: ApiKey,
    /// Hash of the secret.
    pub hash: SecretHash,
}

/// Who is calling: one user of one business.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The caller's business.
    pub business: Business,
    /// The user the API key acts as.
    pub user: User,
}

/// What an API key's hash leads to: the key, its user and the user's
/// business, as stored (whether they may act is for the caller to decide:
/// [`rsvp_domain::check_access`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    /// The key.
    pub key: ApiKey,
    /// Its user and business.
    pub principal: Principal,
}

/// One invitation to erase (see [`Store::erase_invitations`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ErasedInvitation {
    /// The stored status read before the erasure was decided: the erasure
    /// applies only if the row still has it.
    pub expected: InvitationStatus,
    /// The invitation after the erasure ([`Invitation::erased`]).
    pub invitation: Invitation,
    /// Its `invitation.erased` event.
    pub event: Event,
}

impl ErasedInvitation {
    /// Whether the erasure resolves the invitation (it was pending).
    pub fn resolves(&self) -> bool {
        self.expected == InvitationStatus::Pending && self.invitation.status != InvitationStatus::Pending
    }
}

/// The erasure of one person's data from invitations (GDPR art. 17).
#[derive(Debug, Clone, PartialEq)]
pub struct ErasureRecord {
    /// The erased address (compared normalized).
    pub email: EmailAddress,
    /// The time of the erasure.
    pub now: OffsetDateTime,
    /// The invitations to that address, as read.
    pub invitations: Vec<ErasedInvitation>,
}

/// What one [`Store::erase_invitations`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErasureCounts {
    /// Invitations whose personal data was replaced.
    pub invitations: u64,
    /// Of those, how many were pending and got cancelled (or expired).
    pub resolved: u64,
    /// Queued emails dropped.
    pub emails_dropped: u64,
}

/// A link token as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTokenRecord {
    /// Hash of the token.
    pub hash: SecretHash,
    /// The invitation it answers.
    pub invitation_id: InvitationId,
    /// When it was issued.
    pub created_at: OffsetDateTime,
}

/// State of an email job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailJobStatus {
    /// Waiting for (another) attempt.
    Queued,
    /// Handed to the transport.
    Sent,
    /// Given up.
    Failed,
}

/// One email to send, written to the outbox in the same transaction as the
/// change that asks for it.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailJob {
    /// Its id; also the stable Message-ID of the email.
    pub id: EmailJobId,
    /// The invitation it is about.
    pub invitation_id: InvitationId,
    /// The recipient.
    pub to: EmailAddress,
    /// The link token to put in the email. Held only until the email is sent
    /// (then the store wipes it); only its hash lives on in the link table.
    pub link_token: Option<Secret>,
    /// Attempts made so far.
    pub attempts: u32,
    /// Where the job stands.
    pub status: EmailJobStatus,
    /// Not to be tried before this time (also the lease of a claimed job).
    pub next_attempt_at: OffsetDateTime,
    /// Last failure, for operators.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: OffsetDateTime,
}

/// What came of one delivery attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum EmailOutcome {
    /// The transport accepted the message.
    Sent,
    /// A transient failure: try again at `retry_at`.
    Retry {
        /// When to try again.
        retry_at: OffsetDateTime,
        /// What went wrong.
        error: String,
    },
    /// A permanent failure, or the last attempt failed.
    Failed {
        /// What went wrong.
        error: String,
    },
}

/// The email jobs one business queued within a window (see
/// [`Store::emails_queued_since`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EmailsQueued {
    /// How many.
    pub count: u64,
    /// When the oldest of them was queued (`None` when there are none).
    pub oldest: Option<OffsetDateTime>,
}

/// A business's webhook endpoint, as stored (its secrets in clear: they sign
/// every delivery).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEndpoint {
    /// Its id.
    pub id: WebhookEndpointId,
    /// The business that receives on it.
    pub business_id: BusinessId,
    /// Where deliveries go (checked by `WebhookUrl::parse` when written).
    pub url: String,
    /// Which event types it receives.
    pub event_types: EventTypeFilter,
    /// The business's note.
    pub description: Option<String>,
    /// Whether deliveries are queued for it.
    pub enabled: bool,
    /// The current signing secret.
    pub secret: WebhookSecret,
    /// The secret before the last rotation, and until when it still signs.
    pub previous_secret: Option<(WebhookSecret, OffsetDateTime)>,
    /// Since when its deliveries fail without a success in between (`None`
    /// when the last attempt succeeded, or there was none).
    pub failing_since: Option<OffsetDateTime>,
    /// When it was registered.
    pub created_at: OffsetDateTime,
    /// Its last change.
    pub updated_at: OffsetDateTime,
}

impl WebhookEndpoint {
    /// The secrets that sign at `now`: the current one, and the previous one
    /// until its overlap ends.
    pub fn signing_secrets(&self, now: OffsetDateTime) -> Vec<&WebhookSecret> {
        let mut secrets = vec![&self.secret];
        if let Some((previous, until)) = &self.previous_secret
            && now < *until
        {
            secrets.push(previous);
        }
        secrets
    }
}

/// Where a webhook delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookDeliveryStatus {
    /// Waiting for its first or next attempt.
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Given up.
    Failed,
}

impl WebhookDeliveryStatus {
    /// `pending`, `succeeded`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Reads [`as_str`](Self::as_str) back.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Succeeded, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One event to deliver to one endpoint, with the fate of its attempts.
/// Written by the store with the event (one per matching endpoint), or by a
/// redelivery.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDelivery {
    /// Its id (for the deliveries written with an event: the event's id,
    /// unique within the endpoint).
    pub id: WebhookDeliveryId,
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// The endpoint's business (whose view of the event is sent).
    pub business_id: BusinessId,
    /// The event: `webhook-id`, the same on every attempt.
    pub event_id: EventId,
    /// The event's type, e.g. `invitation.accepted`.
    pub event_type: String,
    /// The `data` to send when the event is not in the event log (the
    /// `webhook_endpoint.disabled` notice); `None`: the event as listed.
    pub payload: Option<String>,
    /// When the event happened (the payload's `timestamp`).
    pub occurred_at: OffsetDateTime,
    /// Attempts made (counted when claimed).
    pub attempts: u32,
    /// Where it stands.
    pub status: WebhookDeliveryStatus,
    /// Not to be tried before this time (also the lease of a claimed delivery).
    pub next_attempt_at: OffsetDateTime,
    /// The HTTP status of the last attempt, when there was an answer.
    pub response_status: Option<u16>,
    /// How long the last attempt took.
    pub duration_ms: Option<u64>,
    /// When the last attempt was made.
    pub attempted_at: Option<OffsetDateTime>,
    /// Why the last attempt failed, for the business and operators.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: OffsetDateTime,
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// 2xx: delivered.
    Succeeded,
    /// Failed; try again at this time.
    Retry(OffsetDateTime),
    /// Failed for the last time.
    Failed,
}

/// The `webhook_endpoint.disabled` notice to write when an attempt's failure
/// disables its endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct DisabledNotice {
    /// The notice's id (`webhook-id`).
    pub event_id: EventId,
    /// Its `data`, JSON.
    pub payload: String,
}

/// One attempt's outcome, as [`Store::finish_webhook_delivery`] records it.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookAttempt {
    /// The delivery.
    pub delivery_id: WebhookDeliveryId,
    /// Its endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// What came of it.
    pub outcome: WebhookOutcome,
    /// The HTTP status, when there was an answer.
    pub response_status: Option<u16>,
    /// How long it took.
    pub duration_ms: u64,
    /// Why it failed.
    pub error: Option<String>,
    /// When it was made (and recorded).
    pub attempted_at: OffsetDateTime,
    /// Set when this failure disables the endpoint.
    pub disable: Option<DisabledNotice>,
}

/// Everything a new invitation writes, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct NewInvitationRecord {
    /// The pending invitation.
    pub invitation: Invitation,
    /// Its first link token.
    pub link: LinkTokenRecord,
    /// `invitation.created`.
    pub event: Event,
    /// Its email, unless created with `send_email: false`.
    pub email_job: Option<EmailJob>,
}

/// A new business with its first user, created in the transaction of an
/// acceptance by link.
#[derive(Debug, Clone, PartialEq)]
pub struct NewInvitee {
    /// The business.
    pub business: Business,
    /// Its first user, with the invited email.
    pub user: User,
}

/// A change of status, and everything it writes, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitionRecord {
    /// The invitation after the change (its status is the new status).
    pub invitation: Invitation,
    /// The status the stored row must have for the change to apply
    /// (always `pending`).
    pub expected: InvitationStatus,
    /// The time of the change: unless the new status is `expired`, the row
    /// must also not be past `expires_at` at this time.
    pub now: OffsetDateTime,
    /// The transition's event.
    pub event: Event,
    /// On acceptance: the connection to create and its `connection.created`
    /// event, both skipped if the two businesses are already connected.
    pub connection: Option<(Connection, Event)>,
    /// On acceptance by link of an email without a user: the business and
    /// user to create.
    pub new_invitee: Option<NewInvitee>,
}

/// What a transition left behind.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitionOutcome {
    /// The invitation as stored after the change.
    pub invitation: Invitation,
    /// The connection between the two businesses: the new one, or the one
    /// that already existed. `None` when the transition is not an acceptance.
    pub connection: Option<Connection>,
}

/// A resend and everything it writes, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct ResendRecord {
    /// The invitation.
    pub invitation_id: InvitationId,
    /// The time of the resend.
    pub now: OffsetDateTime,
    /// The last send must be at or before this time (now minus the cooldown).
    pub not_sent_after: OffsetDateTime,
    /// The new link.
    pub link: LinkTokenRecord,
    /// Whether every earlier link of the invitation dies.
    pub revoke_previous_links: bool,
    /// `invitation.resent`.
    pub event: Event,
    /// The new email.
    pub email_job: EmailJob,
}

/// The store: businesses, users, API keys, invitations, link tokens,
/// connections, events, the email outbox and idempotency records.
///
/// Each method is one unit of work: it either does all it says or nothing.
/// Emails are compared in their normalized form (`EmailAddress::normalized`:
/// IDNA ASCII domain, NFC lowercased local part) everywhere, and
/// read back as written (`EmailAddress::as_str` keeps the spelling given).
/// Times are compared inclusively: a row whose time equals `now` is due.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait Store: Send + Sync {
    /// Creates a business, its first user and that user's API key.
    ///
    /// # Errors
    /// MUST return [`StoreError::EmailTaken`] when a user with the same
    /// normalized email exists, creating nothing.
    async fn create_business(&self, business: &Business, user: &User, key: &ApiKeyRecord) -> Result<(), StoreError>;

    /// Adds a user, with its API key, to an existing business.
    ///
    /// # Errors
    /// MUST return [`StoreError::NotFound`] when the business does not exist
    /// and [`StoreError::EmailTaken`] when the email is taken.
    async fn add_user(&self, user: &User, key: &ApiKeyRecord) -> Result<(), StoreError>;

    /// A business by id.
    async fn get_business(&self, id: BusinessId) -> Result<Option<Business>, StoreError>;

    /// The key whose secret has this hash, with its user and business, in
    /// whatever state they are (expired, deactivated, suspended: the caller
    /// decides). A revoked key is found by nothing: it MUST be `None` as soon
    /// as [`revoke_api_key`](Self::revoke_api_key) returned, on every
    /// connection (nothing may cache it).
    async fn find_credential(&self, key_hash: &SecretHash) -> Result<Option<Credential>, StoreError>;

    /// Adds an API key to an existing user (a user may hold several).
    ///
    /// # Errors
    /// MUST return [`StoreError::NotFound`] when the user does not exist,
    /// writing nothing.
    async fn create_api_key(&self, record: &ApiKeyRecord) -> Result<(), StoreError>;

    /// The keys of `user`, newest first (`created_at`, then id, descending);
    /// empty for an unknown user.
    async fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKey>, StoreError>;

    /// Revokes a key for good: its row is deleted, so its hash finds nothing.
    ///
    /// # Errors
    /// MUST return [`StoreError::NotFound`] when there is no such key (also
    /// when it was revoked already), changing nothing.
    async fn revoke_api_key(&self, id: ApiKeyId) -> Result<(), StoreError>;

    /// Records a use of a key at `now`: `last_used_at` becomes `now` only if
    /// it is unset or at or before `not_used_since` (so a busy key is written
    /// once a minute, not per request). MUST never move `last_used_at`
    /// backwards, and MUST do nothing for an unknown key.
    async fn record_api_key_use(
        &self,
        id: ApiKeyId,
        now: OffsetDateTime,
        not_used_since: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Businesses, newest first (`created_at`, then id, descending), keyset
    /// paged; with `query.name`, only those whose name, trimmed and
    /// lowercased ([`rsvp_domain::fold_for_search`]), contains it (`%` and
    /// `_` in it are plain characters, not wildcards).
    async fn list_businesses(&self, query: &BusinessQuery) -> Result<Page<Business>, StoreError>;

    /// Writes a business's `name` and `suspended_at` (nothing else).
    ///
    /// # Errors
    /// MUST return [`StoreError::NotFound`] when there is no such business.
    async fn update_business(&self, business: &Business) -> Result<(), StoreError>;

    /// The users of `business`, newest first, keyset paged; empty for an
    /// unknown business.
    async fn list_users(&self, business: BusinessId, page: &PageRequest) -> Result<Page<User>, StoreError>;

    /// Writes a user's `first_name`, `last_name` and `deactivated_at`
    /// (nothing else: the email and the business stay).
    ///
    /// # Errors
    /// MUST return [`StoreError::NotFound`] when there is no such user.
    async fn update_user(&self, user: &User) -> Result<(), StoreError>;

    /// Every invitation to this normalized email, from any business, in any
    /// stored status, in any order (the input of an erasure).
    async fn invitations_to_email(&self, email: &EmailAddress) -> Result<Vec<Invitation>, StoreError>;

    /// Erases a person's data from invitations, in one transaction. For each
    /// item whose stored row still has the normalized `record.email` and the
    /// status `expected` (others are skipped: they changed since they were
    /// read, and the caller reads again): writes the item's `email`,
    /// `first_name`, `last_name`, `phone`, `message`, `custom_data`,
    /// `status`, `updated_at` and `resolved_at`; revokes every link token of
    /// the invitation; deletes its queued email jobs (their link tokens and
    /// the address with them) and replaces the address and error of its
    /// finished ones with the placeholder and nothing; writes the event.
    /// Returns what it did; an empty record does nothing.
    async fn erase_invitations(&self, record: &ErasureRecord) -> Result<ErasureCounts, StoreError>;

    /// The user with this normalized email, if any.
    async fn find_user_by_email(&self, email: &EmailAddress) -> Result<Option<User>, StoreError>;

    /// A user by id.
    async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// The users owning any of these normalized emails, in any order (one
    /// query for a whole bulk request).
    async fn find_users_by_emails(&self, emails: &[EmailAddress]) -> Result<Vec<User>, StoreError>;

    /// Which of `others` are connected to `business`, in any order.
    async fn connected_among(&self, business: BusinessId, others: &[BusinessId])
    -> Result<Vec<BusinessId>, StoreError>;

    /// The invitations from `business` to any of these normalized emails
    /// whose stored status is `pending`, in any order.
    async fn find_pending_for_emails(
        &self,
        business: BusinessId,
        emails: &[EmailAddress],
    ) -> Result<Vec<Invitation>, StoreError>;

    /// Whether the two businesses are connected (in either direction).
    async fn are_connected(&self, a: BusinessId, b: BusinessId) -> Result<bool, StoreError>;

    /// The invitation from `business` to `email` whose stored status is
    /// `pending` (it may be past its expiry), if any.
    async fn find_pending(&self, business: BusinessId, email: &EmailAddress) -> Result<Option<Invitation>, StoreError>;

    /// Writes a new invitation with its link token, event and email job.
    ///
    /// # Errors
    /// MUST return [`StoreError::AlreadyInvited`], writing nothing, when an
    /// invitation from the same business to the same normalized email has
    /// the stored status `pending` — also when several such inserts race:
    /// exactly one succeeds.
    async fn insert_invitation(&self, record: &NewInvitationRecord) -> Result<(), StoreError>;

    /// Writes several new invitations, each independently: one item's
    /// failure writes nothing of that item and does not affect the others.
    /// Returns one result per item, in order, with the errors of
    /// [`insert_invitation`](Self::insert_invitation).
    async fn insert_invitations(
        &self,
        records: &[NewInvitationRecord],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError>;

    /// An invitation by id, as stored.
    async fn get_invitation(&self, id: InvitationId) -> Result<Option<Invitation>, StoreError>;

    /// The invitations of `ids` that exist, as stored, in any order (each
    /// once, even if its id is given twice): the dispatcher reads a round's
    /// invitations at once.
    ///
    /// The default runs `get_invitation` for each.
    async fn get_invitations(&self, ids: &[InvitationId]) -> Result<Vec<Invitation>, StoreError> {
        let mut unique = ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let mut found = Vec::with_capacity(unique.len());
        for id in unique {
            if let Some(invitation) = self.get_invitation(id).await? {
                found.push(invitation);
            }
        }
        Ok(found)
    }

    /// Invitations sent by `business`, newest first (`created_at`, then `id`,
    /// descending), filtered, keyset paged. A page never repeats or skips a
    /// row, whatever is inserted meanwhile.
    async fn list_sent(&self, business: BusinessId, query: &InvitationQuery) -> Result<Page<Invitation>, StoreError>;

    /// Invitations addressed to the normalized email of any user of
    /// `business`, from any business, except those with the stored status
    /// `cancelled`; ordered, filtered and paged as [`list_sent`](Self::list_sent).
    async fn list_received(
        &self,
        business: BusinessId,
        query: &InvitationQuery,
    ) -> Result<Page<Invitation>, StoreError>;

    /// Applies a transition: the stored row changes only if its status is
    /// `record.expected` and, unless the new status is `expired`, `record.now`
    /// is before `expires_at` (answering exactly at `expires_at` is a
    /// conflict with `expired`). Only `status`, `updated_at`, `resolved_at`
    /// and `invitee_business_id` are written from `record.invitation`: the
    /// record is a copy taken at read time, and fields changed since (such as
    /// `email_delivery`) must survive. With it, in one transaction: the
    /// event, the connection and its event (skipped when the pair is already
    /// connected), the new invitee's business and user.
    ///
    /// # Errors
    /// MUST return [`StoreError::Conflict`] with the status the invitation
    /// reads as at `record.now` when the condition fails, writing nothing —
    /// so among concurrent transitions of one invitation exactly one wins;
    /// [`StoreError::NotFound`] when there is no such invitation;
    /// [`StoreError::EmailTaken`] when `new_invitee`'s email got a user.
    async fn apply_transition(&self, record: &TransitionRecord) -> Result<TransitionOutcome, StoreError>;

    /// Records a resend: a new link token, optionally revoking the earlier
    /// ones, the event and the email job; sets `last_sent_at` to `now` and
    /// `email_delivery` to `queued`.
    ///
    /// `updated_at` is set to `now`. A send exactly at `not_sent_after` is
    /// allowed.
    ///
    /// # Errors
    /// MUST return [`StoreError::Conflict`] when the invitation does not read
    /// as pending at `now`, and [`StoreError::Cooldown`] when it was last sent
    /// after `not_sent_after`, writing nothing; [`StoreError::NotFound`] when
    /// there is no such invitation.
    async fn record_resend(&self, record: &ResendRecord) -> Result<Invitation, StoreError>;

    /// The invitation a link token belongs to, unless the token was revoked.
    /// (Whether the invitation can still be answered is for the caller to read.)
    async fn find_invitation_by_link(&self, token_hash: &SecretHash) -> Result<Option<Invitation>, StoreError>;

    /// Up to `limit` invitations whose stored status is `pending` and whose
    /// `expires_at` is at or before `now`, oldest expiry first.
    async fn due_for_expiry(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Invitation>, StoreError>;

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

    /// Claims up to `limit` queued email jobs due at `now` (`next_attempt_at
    /// <= now`), oldest `created_at` first, by moving their `next_attempt_at`
    /// to `now + lease` and counting the attempt; the returned jobs show the
    /// new lease and attempt count. A job claimed by one caller is not returned to another before
    /// its lease ends, even when several claim at once.
    async fn claim_email_jobs(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<EmailJob>, StoreError>;

    /// Records the outcome of an attempt, and mirrors it on the invitation's
    /// `email_delivery` (`sent`, `failed`; `queued` while retrying) only if
    /// this job is the invitation's latest (newest `created_at`): the field
    /// tells the fate of the latest email, so an older job finishing after a
    /// resend does not overwrite it. When the
    /// job is done (sent or failed) its link token is wiped: only the link
    /// table's hash remains.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such job.
    async fn finish_email_job(
        &self,
        id: EmailJobId,
        outcome: &EmailOutcome,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Records the outcomes of several attempts, each exactly as
    /// [`finish_email_job`](Self::finish_email_job) would, in one unit of
    /// work where the backend allows (the dispatcher records a round's
    /// outcomes in groups). A job that does not exist is skipped, not an
    /// error. Returns how many jobs were found.
    ///
    /// The default runs `finish_email_job` for each.
    async fn finish_email_jobs(
        &self,
        outcomes: &[(EmailJobId, EmailOutcome)],
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut found = 0;
        for (id, outcome) in outcomes {
            match self.finish_email_job(*id, outcome, now).await {
                Ok(()) => found += 1,
                Err(StoreError::NotFound) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(found)
    }

    /// The email jobs queued for the invitations of `business` at or after
    /// `since` (by the job's `created_at`, whatever its status now): how many,
    /// and when the oldest of them was queued. Read for the per-business email
    /// cap, so it is counted in the store and holds across replicas.
    ///
    /// MUST count only jobs of invitations sent by `business`, and only those
    /// with `created_at >= since`; a resend's job counts like a create's, and
    /// an invitation created without an email (`send_email: false`) queued no
    /// job and counts nothing.
    async fn emails_queued_since(
        &self,
        business: BusinessId,
        since: OffsetDateTime,
    ) -> Result<EmailsQueued, StoreError>;

    /// Gives claimed jobs back unsent: each job whose stored row is still
    /// `queued` with the lease this claim set (`job.next_attempt_at` as
    /// returned by [`claim_email_jobs`](Self::claim_email_jobs)) becomes due
    /// at `now` again and its attempt is uncounted. A job since finished, or
    /// claimed again by another caller after the lease ended, MUST be left
    /// untouched. Returns how many were released.
    async fn release_email_jobs(&self, jobs: &[EmailJob], now: OffsetDateTime) -> Result<u64, StoreError>;

    /// The `created_at` of the oldest queued email job (due or waiting for a
    /// retry), `None` when nothing is queued: for the "oldest queued email"
    /// age metric.
    async fn oldest_queued_email(&self) -> Result<Option<OffsetDateTime>, StoreError>;

    /// Deletes up to `limit` finished email jobs (sent or failed) that
    /// finished (their outcome was recorded) before `finished_before`,
    /// oldest first; queued jobs are never deleted. Returns how many were
    /// deleted. Callers on several replicas may prune at once: a store MAY
    /// let only one of them work at a time (the others get 0).
    async fn prune_email_jobs(&self, finished_before: OffsetDateTime, limit: usize) -> Result<u64, StoreError>;

    /// How many email jobs are queued (due now or waiting for a retry), for
    /// the outbox depth metric.
    async fn outbox_depth(&self) -> Result<u64, StoreError>;

    /// Begins an idempotent request: looks up the record of
    /// (`claim.scope`, `claim.key`) and, atomically with that look-up:
    ///
    /// * MUST write a record in progress (`claim.fingerprint`,
    ///   `claim.attempt`, started at `claim.now`, kept until
    ///   `claim.expires_at`) and return [`IdempotencyBegin::Started`] when
    ///   there is none, or when the one there expired (`expires_at <=
    ///   claim.now`, whatever it held) — also when several begin at once
    ///   with one scope and key: exactly one of them gets `Started`, the
    ///   others see its record;
    /// * MUST return [`IdempotencyBegin::Mismatch`], writing nothing, when
    ///   the record holds another fingerprint (in progress or completed);
    /// * MUST return [`IdempotencyBegin::Replay`] with the stored response,
    ///   exactly as completed, writing nothing, when the record is completed;
    /// * MUST return [`IdempotencyBegin::InProgress`], writing nothing, when
    ///   the record is in progress and started after `claim.stale_before`;
    ///   one started at or before `claim.stale_before` is taken over: it
    ///   becomes `claim.attempt`'s (started at `claim.now`, kept until
    ///   `claim.expires_at`) and the answer is `Started`.
    ///
    /// Scopes are independent: the same key in another scope is another
    /// record.
    async fn begin_idempotent(&self, claim: &IdempotencyClaim) -> Result<IdempotencyBegin, StoreError>;

    /// Completes an idempotent request: its record becomes completed with
    /// `response`, to be replayed by later begins. MUST apply only when the
    /// record is in progress and held by `attempt`, and return `true`;
    /// otherwise (taken over, abandoned, pruned, already completed) it MUST
    /// write nothing and return `false`.
    async fn complete_idempotent(
        &self,
        scope: &IdempotencyScope,
        key: &IdempotencyKey,
        attempt: Uuid,
        response: &StoredResponse,
    ) -> Result<bool, StoreError>;

    /// Abandons an idempotent request: its record is deleted, so that the
    /// next begin with the key starts afresh. MUST apply only when the
    /// record is in progress and held by `attempt`, and return `true`;
    /// otherwise it MUST write nothing and return `false` (a completed
    /// record is never deleted this way).
    async fn abandon_idempotent(
        &self,
        scope: &IdempotencyScope,
        key: &IdempotencyKey,
        attempt: Uuid,
    ) -> Result<bool, StoreError>;

    /// Deletes up to `limit` idempotency records (in progress or completed)
    /// whose `expires_at` is at or before `expired_by`, earliest expiry
    /// first; MUST leave every record expiring later. Returns how many were
    /// deleted. Callers on several replicas may prune at once: a store MAY
    /// let only one of them work at a time (the others get 0).
    async fn prune_idempotency_records(&self, expired_by: OffsetDateTime, limit: usize) -> Result<u64, StoreError>;

    /// Records a recipient's opt-out. A suppression with the same
    /// normalized email and the same `business_id` (both `None` included)
    /// already stored is kept and returned; then nothing is written, so a
    /// repeated opt-out (a mailbox provider retrying the one-click POST) is
    /// harmless.
    ///
    /// MUST write at most one suppression per (normalized email,
    /// `business_id`), also when several calls race, and return the stored
    /// one.
    async fn add_suppression(&self, suppression: &Suppression) -> Result<Suppression, StoreError>;

    /// The suppressions that forbid `business` to invite any of these
    /// emails: those of the same normalized email whose `business_id` is
    /// `business` or `None` (everyone), in any order (one query for a whole
    /// bulk request).
    ///
    /// MUST NOT return a suppression of another business, nor one of
    /// another address.
    async fn suppressions_for(
        &self,
        business: BusinessId,
        emails: &[EmailAddress],
    ) -> Result<Vec<Suppression>, StoreError>;

    /// Every suppression (of every business), newest first (`created_at`,
    /// then `id`, descending), keyset paged, only those of `query.email`
    /// (normalized) when given. A page never repeats or skips a row.
    async fn list_suppressions(&self, query: &SuppressionQuery) -> Result<Page<Suppression>, StoreError>;

    /// Lifts a suppression: the address may be invited again by those it
    /// blocked.
    ///
    /// # Errors
    /// MUST return [`StoreError::NotFound`] when there is no such
    /// suppression, deleting nothing.
    async fn delete_suppression(&self, id: SuppressionId) -> Result<(), StoreError>;

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

    /// An event by id.
    async fn get_event(&self, id: EventId) -> Result<Option<Event>, StoreError>;

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
    /// [`release_email_jobs`](Self::release_email_jobs): each still pending
    /// with the lease this claim set becomes due at `now`, its attempt
    /// uncounted; others MUST be left untouched. Returns how many were released.
    async fn release_webhook_deliveries(
        &self,
        deliveries: &[WebhookDelivery],
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// How many deliveries are pending, for the webhook outbox depth metric.
    async fn webhook_outbox_depth(&self) -> Result<u64, StoreError>;

    /// Whether the store answers (for readiness checks).
    async fn ping(&self) -> Result<(), StoreError>;
}

pub use rsvp_domain::Locale;

/// What an invitation email must say; the renderer turns it into text.
#[derive(Debug, Clone, PartialEq)]
pub struct InvitationEmail {
    /// Language.
    pub locale: Locale,
    /// The sending business's name.
    pub sender_business: String,
    /// The sending user's display name.
    pub sender_user: String,
    /// The invitee's name, if the sender gave it.
    pub invitee_name: Option<String>,
    /// The sender's note.
    pub message: Option<String>,
    /// When the link stops working.
    pub expires_at: OffsetDateTime,
    /// `<public url>/invite/<token>`.
    pub accept_url: String,
    /// `<public url>/unsubscribe/<token>`: the page (GET) and the RFC 8058
    /// one-click target (POST) to stop invitations.
    pub unsubscribe_url: String,
    /// The invited address, as the sender wrote it.
    pub invitee_email: String,
    /// Whether this is a resend (a reminder) rather than the first email.
    pub is_reminder: bool,
}

/// A rendered email body pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body (every value escaped).
    pub html: String,
}

/// A person's address with an optional display name (`Reply-To`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedAddress {
    /// Display name, if any.
    pub name: Option<String>,
    /// The address.
    pub email: EmailAddress,
}

/// An email ready for a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// Stable Message-ID (without angle brackets), the same on every retry of
    /// one job, so a retried send can be recognised as the same message.
    pub message_id: String,
    /// Recipient.
    pub to: EmailAddress,
    /// Subject and bodies.
    pub content: RenderedEmail,
    /// The display name of `From` (e.g. `Ann Lee (Acme) via rsvp`); the
    /// transport keeps its configured address. `None`: the configured name.
    pub from_name: Option<String>,
    /// `Reply-To`: the inviting user.
    pub reply_to: Option<NamedAddress>,
    /// The HTTPS one-click unsubscribe URL: sent as `List-Unsubscribe:
    /// <url>` with `List-Unsubscribe-Post: List-Unsubscribe=One-Click`
    /// (RFC 8058).
    pub list_unsubscribe: Option<String>,
}

impl OutgoingEmail {
    /// An email with only the required parts (no display name, `Reply-To`
    /// or `List-Unsubscribe`).
    pub fn new(message_id: impl Into<String>, to: EmailAddress, content: RenderedEmail) -> Self {
        Self {
            message_id: message_id.into(),
            to,
            content,
            from_name: None,
            reply_to: None,
            list_unsubscribe: None,
        }
    }
}

/// Why a render failed (a broken operator template, say).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot render email: {0}")]
pub struct RenderError(pub String);

/// Turns an [`InvitationEmail`] into subject, text and HTML.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait EmailRenderer: Send + Sync {
    /// Renders one email.
    ///
    /// # Errors
    /// [`RenderError`] when a template fails.
    fn render(&self, email: &InvitationEmail) -> Result<RenderedEmail, RenderError>;
}

/// Waits: the only place a delay comes from (the dispatcher's per-send
/// timeout), so that `rsvp-app` needs no runtime.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait Timer: Send + Sync {
    /// Resolves after `duration`.
    async fn sleep(&self, duration: std::time::Duration);
}

/// Tells the email dispatcher that jobs may have been queued, so that it
/// claims them at once instead of at its next poll (a store adapter raises
/// it: PostgreSQL's `LISTEN/NOTIFY` across replicas, an in-process signal on
/// SQLite). A hint only: a wake-up may be spurious or lost (a listener
/// reconnecting), so the dispatcher keeps polling too.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait WorkSignal: Send + Sync {
    /// Resolves when jobs may have been queued since the last wake-up was
    /// taken (`true`), or after `timeout` (`false`). A wake-up raised while
    /// nobody waits is kept for the next call.
    async fn wait_for_work(&self, timeout: std::time::Duration) -> bool;
}

/// Why a send failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// Worth retrying (timeouts, 5xx, connection refused, 4xx SMTP replies).
    #[error("transient mail failure: {0}")]
    Transient(String),
    /// Not worth retrying (4xx HTTP answers, 5xx SMTP replies, bad address).
    #[error("permanent mail failure: {0}")]
    Permanent(String),
}

/// Hands emails to a transport (log file, SMTP, an HTTP provider).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends one email.
    ///
    /// # Errors
    /// [`MailError::Transient`] when a retry may succeed,
    /// [`MailError::Permanent`] when it cannot.
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError>;
}

/// A signed webhook request, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    /// The endpoint URL.
    pub url: String,
    /// `webhook-id`, `webhook-timestamp`, `webhook-signature`, `content-type`.
    pub headers: Vec<(String, String)>,
    /// The JSON body, exactly as signed.
    pub body: Vec<u8>,
}

/// Why a webhook request got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookSendError {
    /// The URL, or what its host resolves to now, is not allowed (SSRF guard).
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// No connection, or it broke (refused, reset, TLS, DNS).
    #[error("connection failed: {0}")]
    Connection(String),
    /// No answer in time.
    #[error("timed out")]
    Timeout,
}

/// Sends webhook requests: POST, no redirects followed, only to addresses
/// allowed by the operator's policy (checked after DNS resolution, at
/// connection).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// Sends one request; the answer's status when there was one (any
    /// status, 2xx or not).
    ///
    /// # Errors
    /// [`WebhookSendError`] when there was no answer.
    async fn send(&self, request: &WebhookRequest) -> Result<u16, WebhookSendError>;
}

/// Resolves host names (the SSRF check of an endpoint's host at creation).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait HostResolver: Send + Sync {
    /// The addresses of `host`.
    ///
    /// # Errors
    /// A message when the name does not resolve.
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<std::net::IpAddr>, String>;
}
