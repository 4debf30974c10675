//! The [`IdempotencyStore`] role of the store port.

use super::super::*;

/// Idempotency records of `Idempotency-Key` requests.
///
/// Part of the [`Store`] port: its methods are its contract, checked on
/// every adapter by `rsvp-store-contract`.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
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
    /// record is in progress and held by the ticket's `attempt`, and return `true`;
    /// otherwise (taken over, abandoned, pruned, already completed) it MUST
    /// write nothing and return `false`.
    async fn complete_idempotent(
        &self,
        ticket: &IdempotencyTicket,
        response: &StoredResponse,
    ) -> Result<bool, StoreError>;

    /// Abandons an idempotent request: its record is deleted, so that the
    /// next begin with the key starts afresh. MUST apply only when the
    /// record is in progress and held by the ticket's `attempt`, and return `true`;
    /// otherwise it MUST write nothing and return `false` (a completed
    /// record is never deleted this way).
    async fn abandon_idempotent(&self, ticket: &IdempotencyTicket) -> Result<bool, StoreError>;

    /// Deletes up to `limit` idempotency records (in progress or completed)
    /// whose `expires_at` is at or before `expired_by`, earliest expiry
    /// first; MUST leave every record expiring later. Returns how many were
    /// deleted. Callers on several replicas may prune at once: a store MAY
    /// let only one of them work at a time (the others get 0).
    async fn prune_idempotency_records(&self, expired_by: OffsetDateTime, limit: usize) -> Result<u64, StoreError>;
}
