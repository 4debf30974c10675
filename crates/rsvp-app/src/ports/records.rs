//! What the store reads and writes, and why it refuses.

use super::*;

/// Why the store refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A pending invitation from this business to this (normalized) email exists.
    #[error("a pending invitation to this email already exists")]
    AlreadyInvited,
    /// A user with this (normalized) email exists.
    #[error("a user with this email already exists")]
    EmailTaken,
    /// Another business (or user) already has this host platform id.
    #[error("this external_id belongs to another business or user")]
    ExternalIdTaken,
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
    /// The email this write would queue is over the business's hourly cap
    /// ([`EmailCap`]); nothing was written.
    #[error("the business's email cap is reached")]
    EmailCapReached {
        /// When the oldest email counted leaves the window, making room.
        retry_at: OffsetDateTime,
    },
    /// A resend came too soon after the last send.
    #[error("resent too recently")]
    Cooldown {
        /// When the link was last sent.
        last_sent_at: OffsetDateTime,
    },
    /// A join link redemption is refused; nothing was written.
    #[error("{0}")]
    JoinRefused(rsvp_domain::JoinRefusal),
    /// The connection request is answered already.
    #[error("the connection request is {current}")]
    RequestAnswered {
        /// Where it stands.
        current: rsvp_domain::ConnectionRequestStatus,
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

/// The facts the checks of a new invitation read (see
/// [`CreateOutcome::Refused`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InvitationContext {
    /// The user owning the email, if any.
    pub invitee: Option<User>,
    /// Whether that user's business is connected to the sender's.
    pub connected: bool,
    /// The sender's invitation to the email whose stored status is pending.
    pub pending: Option<Invitation>,
    /// Why the email must not be invited by the sender, if it must not:
    /// the strongest reason among its suppressions
    /// ([`SuppressionReason::strongest`](rsvp_domain::SuppressionReason::strongest)).
    pub suppressed: Option<rsvp_domain::SuppressionReason>,
}

impl InvitationContext {
    /// Whether a fact holds that may refuse an invitation from `sender`
    /// (the store writes nothing then: [`CreateOutcome::Refused`]). Only a
    /// pending invitation that reads as expired lets the domain accept.
    pub fn may_refuse(&self, sender: BusinessId) -> bool {
        self.invitee.as_ref().is_some_and(|user| user.business_id == sender)
            || self.connected
            || self.pending.is_some()
            || self.suppressed.is_some()
    }
}

/// One invitation to erase (see [`OptOutStore::erase_invitations`]).
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
        self.expected == InvitationStatus::Pending && self.invitation.status() != InvitationStatus::Pending
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

/// What one [`OptOutStore::erase_invitations`] call did.
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
    /// What the email is.
    pub kind: EmailKind,
}

/// What an email job sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EmailKind {
    /// The invitation to the invitee (the first email, a resend or the
    /// reminder before expiry), with its link.
    #[default]
    Invitation,
    /// The notice to the sending user that the invitation expired
    /// unanswered (no link).
    ExpiryNotice,
}

impl EmailKind {
    /// The stored name: `invitation`, `expiry_notice`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invitation => "invitation",
            Self::ExpiryNotice => "expiry_notice",
        }
    }

    /// The kind of a stored name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Invitation, Self::ExpiryNotice]
            .into_iter()
            .find(|kind| kind.as_str() == s)
    }
}

/// What came of one delivery attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum EmailOutcome {
    /// The transport accepted the message.
    Sent {
        /// The provider's id of the message, when the transport returned
        /// one ([`SentEmail`](crate::SentEmail)): stored with the job.
        provider_message_id: Option<String>,
    },
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

impl EmailOutcome {
    /// Sent, without a provider message id.
    pub fn sent() -> Self {
        Self::Sent {
            provider_message_id: None,
        }
    }
}

/// The per-business email cap a write that queues an email must respect:
/// at most `limit` emails queued by one business in any rolling hour, on
/// every replica (the brief's `RSVP_EMAILS_PER_HOUR`).
///
/// Stores count in minute buckets, in constant time whatever the volume: an
/// email queued in minute `m` (unix minutes) counts while the current minute
/// is at most `m + 60`, so it counts for at least a full hour (at most a
/// minute more): the rule holds, never looser. The check and the count are
/// one atomic step with the write, so concurrent writers never overshoot.
///
/// ```
/// use rsvp_app::EmailCap;
/// use time::macros::datetime;
///
/// let queued = datetime!(2026-12-05 10:00:30 UTC);
/// let minute = EmailCap::minute_of(queued);
/// // Counted through 11:00:59, free again at 11:01:00.
/// assert_eq!(EmailCap::leaves_window_at(minute), datetime!(2026-12-05 11:01:00 UTC));
/// assert!(EmailCap::counts(minute, EmailCap::minute_of(datetime!(2026-12-05 11:00:59 UTC))));
/// assert!(!EmailCap::counts(minute, EmailCap::minute_of(datetime!(2026-12-05 11:01:00 UTC))));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmailCap {
    /// The most emails in the window (at least 1: no cap is `None`).
    pub limit: u32,
}

impl EmailCap {
    /// How many whole minutes before the current one still count.
    pub const MINUTES_BACK: i64 = 60;

    /// The unix minute of `at` (the bucket an email queued then counts in).
    pub fn minute_of(at: OffsetDateTime) -> i64 {
        at.unix_timestamp().div_euclid(60)
    }

    /// The first minute bucket still counted when the current minute is `now_minute`.
    pub fn window_start(now_minute: i64) -> i64 {
        now_minute - Self::MINUTES_BACK
    }

    /// Whether an email of bucket `minute` counts when the current minute is `now_minute`.
    pub fn counts(minute: i64, now_minute: i64) -> bool {
        minute >= Self::window_start(now_minute)
    }

    /// When the emails of bucket `minute` stop counting.
    pub fn leaves_window_at(minute: i64) -> OffsetDateTime {
        let seconds = minute.saturating_add(Self::MINUTES_BACK + 1).saturating_mul(60);
        OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// What [`InvitationStore::create_invitation`] did.
// Returned by value once per create and matched at once: a box would cost
// an allocation on the (rare) refusal for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    /// Written, with the business of the user who owns the email (if any),
    /// which the store also recorded on the invitation and its event.
    Created {
        /// The invitee's business, when the email belongs to a user.
        invitee_business: Option<BusinessId>,
    },
    /// Nothing written: a fact that may refuse the invitation holds. The
    /// caller decides with [`rsvp_domain::check_invite`].
    Refused(InvitationContext),
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

/// One attempt's outcome, as [`WebhookStore::finish_webhook_delivery`] records it.
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

impl NewInvitationRecord {
    /// The record with `invitee_business` as the invitee's business of the
    /// invitation and its event (what a store found when creating it).
    #[must_use]
    pub fn with_invitee_business(self, invitee_business: Option<BusinessId>) -> Self {
        let mut event = self.event;
        event.invitee_business_id = invitee_business;
        Self {
            invitation: self.invitation.with_invitee_business(invitee_business),
            event,
            ..self
        }
    }
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
    /// On expiry: the notice to the sending user
    /// ([`EmailKind::ExpiryNotice`]), queued only if the transition applies
    /// (so once per invitation, whichever replica or request persists it).
    pub email_job: Option<EmailJob>,
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
    /// The cap the new email counts against (`None`: uncapped).
    pub email_cap: Option<EmailCap>,
}
