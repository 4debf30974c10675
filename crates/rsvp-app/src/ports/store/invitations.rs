//! The [`InvitationStore`] role of the store port.

use super::super::*;

/// Invitations, their link tokens and their transitions (with the events,
/// connections and email jobs a change writes in the same unit of work).
///
/// Part of the [`Store`] port: its methods are its contract, checked on
/// every adapter by `rsvp-store-contract`.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait InvitationStore: Send + Sync {
    /// The invitations from `business` to any of these normalized emails
    /// whose stored status is `pending`, in any order.
    async fn find_pending_for_emails(
        &self,
        business: BusinessId,
        emails: &[EmailAddress],
    ) -> Result<Vec<Invitation>, StoreError>;

    /// Creates a new invitation in one step (one round trip on PostgreSQL):
    /// reads the facts the checks of a new invitation need and, when none
    /// of them can refuse it, writes the invitation with its link token,
    /// event, email job and the event's webhook deliveries, counting the
    /// email against `cap`.
    ///
    /// The facts, for `record.invitation`'s business and normalized email:
    /// the user owning the email, whether that user's business is connected
    /// to the sender (`false` when there is no user or the user belongs to
    /// the sender), the invitation with the stored status `pending`, and
    /// whether the email opted out of the sender's invitations (its own
    /// suppression or one for everyone). When the user is of the sender's
    /// business, or connected, or a pending invitation exists, or the email
    /// is suppressed, nothing is written and the facts come back as
    /// [`CreateOutcome::Refused`] for the caller to decide with. Otherwise
    /// the invitation and its event are written with the user's business
    /// (if any) as the invitee's business, returned in
    /// [`CreateOutcome::Created`].
    ///
    /// # Errors
    /// MUST return [`StoreError::EmailCapReached`], writing nothing, when
    /// the record has an email job and `cap` is reached (see [`EmailCap`]);
    /// the check and the count are one atomic step, so concurrent creates
    /// never queue more than the cap. MUST return [`StoreError::AlreadyInvited`]
    /// (or the facts read after it, the pending invitation among them, as
    /// [`CreateOutcome::Refused`]), writing nothing, when a pending
    /// invitation to the same email appeared meanwhile: among racing creates
    /// exactly one is written.
    async fn create_invitation(
        &self,
        record: &NewInvitationRecord,
        cap: Option<EmailCap>,
    ) -> Result<CreateOutcome, StoreError>;

    /// Writes several new invitations whose facts the caller has checked,
    /// each independently: one item's failure writes nothing of that item
    /// and does not affect the others. Returns one result per item, in order.
    ///
    /// # Errors (per item)
    /// [`StoreError::AlreadyInvited`] when an invitation from the same
    /// business to the same normalized email has the stored status `pending`
    /// (also among items racing other writers: exactly one is written);
    /// [`StoreError::EmailCapReached`] for the items with an email job that
    /// do not fit under `cap`, in request order, counted atomically with the
    /// writes as in [`create_invitation`](Self::create_invitation).
    async fn insert_invitations(
        &self,
        records: &[NewInvitationRecord],
        cap: Option<EmailCap>,
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
    /// connected), the new invitee's business and user, the email job (an
    /// expiry's notice to its sender).
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
    /// there is no such invitation; [`StoreError::EmailCapReached`] when the
    /// new email does not fit under `record.email_cap`, writing nothing.
    async fn record_resend(&self, record: &ResendRecord) -> Result<Invitation, StoreError>;

    /// The invitation a link token belongs to, unless the token was revoked.
    /// (Whether the invitation can still be answered is for the caller to read.)
    async fn find_invitation_by_link(&self, token_hash: &SecretHash) -> Result<Option<Invitation>, StoreError>;

    /// Up to `limit` invitations whose stored status is `pending` and whose
    /// `expires_at` is at or before `now`, oldest expiry first.
    async fn due_for_expiry(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Invitation>, StoreError>;

    /// Up to `query.limit` invitations due for their reminder at
    /// `query.now` ([`ReminderQuery::is_due`]: stored status `pending`, not
    /// reminded yet, `expires_at` within the window, last sent before the
    /// window started, no bounce or complaint on its email), none of whose
    /// normalized address is suppressed for its business or for everyone,
    /// none of a business in `query.skip_businesses`; oldest expiry first
    /// (`expires_at`, then `id`).
    async fn due_for_reminder(&self, query: &ReminderQuery) -> Result<Vec<Invitation>, StoreError>;

    /// Records the reminder before expiry of `record.invitation_id`, when
    /// it is still due at `record.now` for `record.window` (as
    /// [`due_for_reminder`](Self::due_for_reminder) reads it, suppressions
    /// included), in one unit of work: marks it reminded, writes the new
    /// link token (earlier ones keep working), the event with its webhook
    /// deliveries and the email job, sets `last_sent_at` and `updated_at`
    /// to `now` and `email_delivery` to `queued` (the provider's report on
    /// the earlier email no longer applies), and counts the email against
    /// `record.email_cap`. Returns the invitation as stored after it; `None`,
    /// writing nothing, when it is not due (reminded already, answered,
    /// cancelled, expired, outside the window, sent since the window
    /// started, bounced, suppressed, unknown).
    ///
    /// MUST mark an invitation reminded at most once: among concurrent
    /// calls for one invitation exactly one returns `Some`.
    ///
    /// # Errors
    /// MUST return [`StoreError::EmailCapReached`], writing nothing, when
    /// the email does not fit under `record.email_cap` (the invitation stays
    /// due).
    async fn record_reminder(&self, record: &ReminderRecord) -> Result<Option<Invitation>, StoreError>;
}

/// Which invitations [`InvitationStore::due_for_reminder`] reads.
#[derive(Debug, Clone, PartialEq)]
pub struct ReminderQuery {
    /// The time of the round.
    pub now: OffsetDateTime,
    /// How long before `expires_at` the reminder goes out (positive).
    pub window: Duration,
    /// Businesses left out: their email cap is reached this round.
    pub skip_businesses: Vec<BusinessId>,
    /// The most invitations returned.
    pub limit: usize,
}

impl ReminderQuery {
    /// Whether `invitation`, as stored, is due for its reminder at `now`
    /// (suppressions aside, which the store reads): stored status `pending`,
    /// `now < expires_at <= now + window`, emailed (`last_sent_at` set: an
    /// invitation created without an email gets none) before the window's
    /// start `expires_at - window`, and its `email_delivery` neither
    /// `bounced` nor `complained`. Whether it was reminded already is the
    /// store's to know.
    pub fn is_due(invitation: &Invitation, now: OffsetDateTime, window: Duration) -> bool {
        let starts = invitation.expires_at() - window;
        invitation.status() == InvitationStatus::Pending
            && now < invitation.expires_at()
            && starts <= now
            && invitation.last_sent_at().is_some_and(|sent| sent < starts)
            && !matches!(
                invitation.email_delivery(),
                Some(rsvp_domain::EmailDelivery::Bounced | rsvp_domain::EmailDelivery::Complained)
            )
    }
}

/// The reminder before expiry of one invitation, and everything it writes
/// (see [`InvitationStore::record_reminder`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ReminderRecord {
    /// The invitation.
    pub invitation_id: InvitationId,
    /// The time of the reminder.
    pub now: OffsetDateTime,
    /// How long before `expires_at` the reminder goes out.
    pub window: Duration,
    /// The new link, in the reminder.
    pub link: LinkTokenRecord,
    /// `invitation.reminded`.
    pub event: Event,
    /// The reminder (an [`EmailKind::Invitation`] job, queued after the
    /// invitation: rendered as a reminder).
    pub email_job: EmailJob,
    /// The cap the reminder counts against (`None`: uncapped).
    pub email_cap: Option<EmailCap>,
}
