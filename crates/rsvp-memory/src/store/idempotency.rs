//! The [`rsvp_app::IdempotencyStore`] role of [`InMemoryStore`].

use super::*;

#[async_trait]
impl IdempotencyStore for InMemoryStore {
    async fn begin_idempotent(&self, claim: &IdempotencyClaim) -> Result<IdempotencyBegin, StoreError> {
        self.with(|s| {
            let slot = (claim.scope, claim.key.clone());
            let Some(record) = s.idempotency.get(&slot) else {
                s.idempotency.insert(slot, IdempotencyRecord::of(claim));
                return Ok(IdempotencyBegin::Started);
            };
            let outcome = if record.expires_at <= claim.now {
                IdempotencyBegin::Started
            } else if record.fingerprint != claim.fingerprint {
                return Ok(IdempotencyBegin::Mismatch);
            } else if let Some(response) = &record.response {
                return Ok(IdempotencyBegin::Replay(response.clone()));
            } else if record.started_at <= claim.stale_before {
                IdempotencyBegin::Started
            } else {
                return Ok(IdempotencyBegin::InProgress);
            };
            s.idempotency.insert(slot, IdempotencyRecord::of(claim));
            Ok(outcome)
        })
    }

    async fn complete_idempotent(
        &self,
        ticket: &IdempotencyTicket,
        response: &StoredResponse,
    ) -> Result<bool, StoreError> {
        self.with(|s| match s.idempotency.get_mut(&(ticket.scope, ticket.key.clone())) {
            Some(record) if record.held_by(ticket.attempt) => {
                record.response = Some(response.clone());
                Ok(true)
            }
            _ => Ok(false),
        })
    }

    async fn abandon_idempotent(&self, ticket: &IdempotencyTicket) -> Result<bool, StoreError> {
        self.with(|s| {
            let slot = (ticket.scope, ticket.key.clone());
            if s.idempotency.get(&slot).is_some_and(|r| r.held_by(ticket.attempt)) {
                s.idempotency.remove(&slot);
                Ok(true)
            } else {
                Ok(false)
            }
        })
    }

    async fn prune_idempotency_records(&self, expired_by: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.with(|s| {
            let mut expired: Vec<(OffsetDateTime, Uuid, (IdempotencyScope, IdempotencyKey))> = s
                .idempotency
                .iter()
                .filter(|(_, r)| r.expires_at <= expired_by)
                .map(|(slot, r)| (r.expires_at, r.attempt, slot.clone()))
                .collect();
            expired.sort_by_key(|a| (a.0, a.1));
            expired.truncate(limit);
            for (_, _, slot) in &expired {
                s.idempotency.remove(slot);
            }
            Ok(expired.len() as u64)
        })
    }
}
