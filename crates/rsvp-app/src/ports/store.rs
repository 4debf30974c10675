//! The [`Store`] port: its methods are its contract, checked on every
//! adapter by `rsvp-store-contract`.

use super::*;

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

    /// Everything the checks of a new invitation from `business` to `email`
    /// read, in one read (one round trip on PostgreSQL): the user owning the
    /// email ([`find_user_by_email`](Self::find_user_by_email)), whether
    /// that user's business is connected to `business` (`false` when there
    /// is no user or the user belongs to `business`), the pending invitation
    /// ([`find_pending`](Self::find_pending)) and whether the email opted
    /// out of `business`'s invitations (its own suppression or one for
    /// everyone, as [`suppressions_for`](Self::suppressions_for)).
    async fn invitation_context(
        &self,
        business: BusinessId,
        email: &EmailAddress,
    ) -> Result<InvitationContext, StoreError>;

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
