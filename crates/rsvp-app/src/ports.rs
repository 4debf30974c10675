//! The ports: what the use cases need from the outside world. Each adapter
//! crate implements them; `rsvp-store-contract` checks every store adapter
//! against the sentences written here.

use async_trait::async_trait;
use rsvp_domain::{
    ApiKeyId, Business, BusinessId, Connection, EmailAddress, EmailJobId, Event, Invitation, InvitationId,
    InvitationStatus, User, UserId,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::list::{EventQuery, InvitationQuery, Page, PageRequest};
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

/// An API key as stored: the hash of the secret, never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Its id.
    pub id: ApiKeyId,
    /// The user it acts as.
    pub user_id: UserId,
    /// Hash of the secret.
    pub hash: SecretHash,
    /// When it was made.
    pub created_at: OffsetDateTime,
}

/// Who is calling: one user of one business.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The caller's business.
    pub business: Business,
    /// The user the API key acts as.
    pub user: User,
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
/// connections, events and the email outbox.
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

    /// The user and business an API key acts as, found by the key's hash.
    async fn find_principal(&self, key_hash: &SecretHash) -> Result<Option<Principal>, StoreError>;

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

    /// Whether the store answers (for readiness checks).
    async fn ping(&self) -> Result<(), StoreError>;
}

/// The language of an email or page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Locale {
    /// English (the default).
    #[default]
    En,
    /// German.
    De,
}

impl Locale {
    /// The language tag: `en`, `de`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::De => "de",
        }
    }

    /// The locale for a language tag such as `de`, `de-AT` or `EN_us`;
    /// `None` for languages rsvp does not speak.
    pub fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("de") {
            Some(Self::De)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Self::En)
        } else {
            None
        }
    }

    /// The first supported language of an HTTP `Accept-Language` header, by
    /// quality (`de-DE,de;q=0.9,en;q=0.8` → German).
    pub fn from_accept_language(header: &str) -> Option<Self> {
        let mut candidates: Vec<(f32, Self)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.split(';');
                let locale = Self::from_tag(pieces.next()?)?;
                let quality = pieces
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                (quality > 0.0).then_some((quality, locale))
            })
            .collect();
        // Stable sort keeps the header's order among equal qualities.
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
        candidates.first().map(|c| c.1)
    }
}

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

#[cfg(test)]
mod tests {
    use super::Locale;

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        assert_eq!(
            Locale::from_accept_language("de-DE,de;q=0.9,en;q=0.8"),
            Some(Locale::De)
        );
        assert_eq!(
            Locale::from_accept_language("fr-FR,fr;q=0.9,en;q=0.5,de;q=0.4"),
            Some(Locale::En)
        );
        assert_eq!(Locale::from_accept_language("en;q=0.1, de;q=0.2"), Some(Locale::De));
        assert_eq!(Locale::from_accept_language("fr, es"), None);
        assert_eq!(Locale::from_accept_language("de;q=0"), None);
        assert_eq!(Locale::from_accept_language(""), None);
    }
}
