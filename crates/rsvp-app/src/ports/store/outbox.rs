//! The [`OutboxStore`] role of the store port.

use super::super::*;

/// The email outbox: jobs claimed under a lease, finished, released and pruned.
///
/// Part of the [`Store`] port: its methods are its contract, checked on
/// every adapter by `rsvp-store-contract`.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait OutboxStore: Send + Sync {
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

    /// Records the outcomes of attempts, in one unit of work where the
    /// backend allows (the dispatcher records a round's outcomes in
    /// groups). For each job: the outcome, mirrored on the invitation's
    /// `email_delivery` (`sent`, `failed`; `queued` while retrying) only if
    /// this job is the invitation's latest (newest `created_at`) of kind
    /// [`EmailKind::Invitation`]: the field tells the fate of the latest
    /// email to the invitee, so an older job finishing after a resend does
    /// not overwrite it, nor does the sender's expiry notice. When the job is done (sent or failed)
    /// its link token is wiped: only the link table's hash remains. A job
    /// sent with a provider message id (the `provider_message_id` of
    /// [`EmailOutcome::Sent`]) stores it, so that
    /// [`FeedbackStore::record_email_report`] finds the job by it (an
    /// outcome without one leaves a stored id). A job that does not exist
    /// is skipped, not an error. Returns how many jobs were found.
    async fn finish_email_jobs(
        &self,
        outcomes: &[(EmailJobId, EmailOutcome)],
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;

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
}
