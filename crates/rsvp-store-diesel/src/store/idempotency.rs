//! The [`rsvp_app::IdempotencyStore`] role of [`DieselStore`]; its units of
//! work are in `idempotency/units.rs`.

pub(super) mod units;

#[allow(clippy::wildcard_imports)]
use super::*;

#[async_trait]
impl IdempotencyStore for DieselStore {
    async fn begin_idempotent(&self, claim: &IdempotencyClaim) -> Result<IdempotencyBegin, StoreError> {
        let claim = idempotency_units::ClaimRows::new(claim)?;
        self.run(op::BEGIN_IDEMPOTENT, move |conn| {
            write_unit(conn, |conn| idempotency_units::begin(conn, &claim))
        })
        .await
    }

    async fn complete_idempotent(
        &self,
        ticket: &IdempotencyTicket,
        response: &StoredResponse,
    ) -> Result<bool, StoreError> {
        let slot = idempotency_units::Slot::new(&ticket.scope, &ticket.key, ticket.attempt);
        let response = idempotency_units::CompletedRow::new(response)?;
        self.run(op::COMPLETE_IDEMPOTENT, move |conn| {
            idempotency_units::complete(conn, &slot, &response)
        })
        .await
    }

    async fn abandon_idempotent(&self, ticket: &IdempotencyTicket) -> Result<bool, StoreError> {
        let slot = idempotency_units::Slot::new(&ticket.scope, &ticket.key, ticket.attempt);
        self.run(op::ABANDON_IDEMPOTENT, move |conn| {
            idempotency_units::abandon(conn, &slot)
        })
        .await
    }

    async fn prune_idempotency_records(&self, expired_by: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let expired_by = bound_nanos(expired_by);
        let limit = saturating_limit(limit);
        if limit == 0 {
            return Ok(0);
        }
        // One replica prunes at a time; the others find the lock taken and skip.
        let lock = format!("pg_try_advisory_xact_lock({IDEMPOTENCY_PRUNE_LOCK_KEY})");
        self.run(op::PRUNE_IDEMPOTENCY_RECORDS, move |conn| {
            write_unit(conn, |conn| {
                idempotency_units::prune(conn, expired_by, limit, Some(&lock))
            })
        })
        .await
    }
}
