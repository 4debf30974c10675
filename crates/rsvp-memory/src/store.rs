//! [`InMemoryStore`]: every table in one mutex.

use async_trait::async_trait;
use rsvp_app::{
    ApiKeyRecord, BusinessQuery, Credential, Cursor, EmailJob, EmailJobStatus, EmailOutcome, EmailsQueued,
    ErasureCounts, ErasureRecord, EventQuery, IdempotencyBegin, IdempotencyClaim, IdempotencyKey, IdempotencyScope,
    InvitationContext, InvitationQuery, NewInvitationRecord, Page, PageRequest, ResendRecord, SecretHash, Store,
    StoreError, StoredResponse, SuppressionQuery, TransitionOutcome, TransitionRecord, WebhookAttempt, WebhookDelivery,
    WebhookDeliveryStatus, WebhookEndpoint,
};
use rsvp_domain::{
    ApiKey, ApiKeyId, Business, BusinessId, Connection, EmailAddress, EmailJobId, Event, EventId, Invitation,
    InvitationId, Suppression, SuppressionId, User, UserId, WebhookDeliveryId, WebhookEndpointId, fold_for_search,
    ordered_pair,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

mod records;
mod state;

use records::*;
pub use state::InMemoryStore;

#[async_trait]
impl Store for InMemoryStore {
    async fn create_business(&self, business: &Business, user: &User, key: &ApiKeyRecord) -> Result<(), StoreError> {
        self.with(|s| s.create_business(business, user, key))
    }

    async fn add_user(&self, user: &User, key: &ApiKeyRecord) -> Result<(), StoreError> {
        self.with(|s| s.add_user(user, key))
    }

    async fn get_business(&self, id: BusinessId) -> Result<Option<Business>, StoreError> {
        self.with(|s| Ok(s.businesses.get(&id).cloned()))
    }

    async fn find_credential(&self, key_hash: &SecretHash) -> Result<Option<Credential>, StoreError> {
        self.with(|s| Ok(s.find_credential(key_hash)))
    }

    async fn create_api_key(&self, record: &ApiKeyRecord) -> Result<(), StoreError> {
        self.with(|s| s.create_api_key(record))
    }

    async fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKey>, StoreError> {
        self.with(|s| {
            let mut keys: Vec<ApiKey> = s
                .api_keys
                .values()
                .filter(|record| record.key.user_id == user)
                .map(|record| record.key.clone())
                .collect();
            keys.sort_by_key(|key| std::cmp::Reverse((key.created_at, key.id)));
            Ok(keys)
        })
    }

    async fn revoke_api_key(&self, id: ApiKeyId) -> Result<(), StoreError> {
        self.with(|s| {
            let before = s.api_keys.len();
            s.api_keys.retain(|_, record| record.key.id != id);
            if s.api_keys.len() == before {
                Err(StoreError::NotFound)
            } else {
                Ok(())
            }
        })
    }

    async fn record_api_key_use(
        &self,
        id: ApiKeyId,
        now: OffsetDateTime,
        not_used_since: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.with(|s| {
            if let Some(record) = s.api_key_mut(id)
                && record
                    .key
                    .last_used_at
                    .is_none_or(|last| last <= not_used_since && last < now)
            {
                record.key.last_used_at = Some(now);
            }
            Ok(())
        })
    }

    async fn list_businesses(&self, query: &BusinessQuery) -> Result<Page<Business>, StoreError> {
        self.with(|s| {
            let rows = s
                .businesses
                .values()
                .filter(|b| {
                    query
                        .name
                        .as_deref()
                        .is_none_or(|name| fold_for_search(b.name.as_str()).contains(name))
                })
                .cloned();
            let cursor = |b: &Business| Cursor {
                created_at: b.created_at,
                id: b.id.as_uuid(),
            };
            Ok(newest_first_page(rows, cursor, query.after, query.limit))
        })
    }

    async fn update_business(&self, business: &Business) -> Result<(), StoreError> {
        self.with(|s| {
            let stored = s.businesses.get_mut(&business.id).ok_or(StoreError::NotFound)?;
            stored.name = business.name.clone();
            stored.suspended_at = business.suspended_at;
            Ok(())
        })
    }

    async fn list_users(&self, business: BusinessId, page: &PageRequest) -> Result<Page<User>, StoreError> {
        self.with(|s| {
            let rows = s.users.values().filter(|u| u.business_id == business).cloned();
            let cursor = |u: &User| Cursor {
                created_at: u.created_at,
                id: u.id.as_uuid(),
            };
            Ok(newest_first_page(rows, cursor, page.after, page.limit))
        })
    }

    async fn update_user(&self, user: &User) -> Result<(), StoreError> {
        self.with(|s| {
            let stored = s.users.get_mut(&user.id).ok_or(StoreError::NotFound)?;
            stored.first_name = user.first_name.clone();
            stored.last_name = user.last_name.clone();
            stored.deactivated_at = user.deactivated_at;
            Ok(())
        })
    }

    async fn invitations_to_email(&self, email: &EmailAddress) -> Result<Vec<Invitation>, StoreError> {
        self.with(|s| Ok(s.invitations.values().filter(|i| i.email() == email).cloned().collect()))
    }

    async fn erase_invitations(&self, record: &ErasureRecord) -> Result<ErasureCounts, StoreError> {
        self.with(|s| Ok(s.erase_invitations(record)))
    }

    async fn find_user_by_email(&self, email: &EmailAddress) -> Result<Option<User>, StoreError> {
        self.with(|s| Ok(s.find_user_by_email(email)))
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.with(|s| Ok(s.users.get(&id).cloned()))
    }

    async fn find_users_by_emails(&self, emails: &[EmailAddress]) -> Result<Vec<User>, StoreError> {
        self.with(|s| Ok(emails.iter().filter_map(|e| s.find_user_by_email(e)).collect()))
    }

    async fn connected_among(
        &self,
        business: BusinessId,
        others: &[BusinessId],
    ) -> Result<Vec<BusinessId>, StoreError> {
        self.with(|s| {
            Ok(others
                .iter()
                .copied()
                .filter(|o| s.connections.contains_key(&ordered_pair(business, *o)))
                .collect())
        })
    }

    async fn find_pending_for_emails(
        &self,
        business: BusinessId,
        emails: &[EmailAddress],
    ) -> Result<Vec<Invitation>, StoreError> {
        self.with(|s| Ok(emails.iter().filter_map(|e| s.find_pending(business, e)).collect()))
    }

    async fn are_connected(&self, a: BusinessId, b: BusinessId) -> Result<bool, StoreError> {
        self.with(|s| Ok(s.connections.contains_key(&ordered_pair(a, b))))
    }

    async fn find_pending(&self, business: BusinessId, email: &EmailAddress) -> Result<Option<Invitation>, StoreError> {
        self.with(|s| Ok(s.find_pending(business, email)))
    }

    async fn invitation_context(
        &self,
        business: BusinessId,
        email: &EmailAddress,
    ) -> Result<InvitationContext, StoreError> {
        self.with(|s| {
            let invitee = s.find_user_by_email(email);
            let connected = invitee.as_ref().is_some_and(|user| {
                user.business_id != business && s.connections.contains_key(&ordered_pair(business, user.business_id))
            });
            Ok(InvitationContext {
                invitee,
                connected,
                pending: s.find_pending(business, email),
                suppressed: s.suppressions.values().any(|sup| sup.blocks(business, email)),
            })
        })
    }

    async fn insert_invitation(&self, record: &NewInvitationRecord) -> Result<(), StoreError> {
        self.with(|s| s.insert_invitation(record))
    }

    async fn insert_invitations(
        &self,
        records: &[NewInvitationRecord],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        self.with(|s| Ok(records.iter().map(|record| s.insert_invitation(record)).collect()))
    }

    async fn get_invitation(&self, id: InvitationId) -> Result<Option<Invitation>, StoreError> {
        self.with(|s| Ok(s.invitations.get(&id).cloned()))
    }

    async fn list_sent(&self, business: BusinessId, query: &InvitationQuery) -> Result<Page<Invitation>, StoreError> {
        self.with(|s| Ok(s.list_sent(business, query)))
    }

    async fn list_received(
        &self,
        business: BusinessId,
        query: &InvitationQuery,
    ) -> Result<Page<Invitation>, StoreError> {
        self.with(|s| Ok(s.list_received(business, query)))
    }

    async fn apply_transition(&self, record: &TransitionRecord) -> Result<TransitionOutcome, StoreError> {
        self.with(|s| s.apply_transition(record))
    }

    async fn record_resend(&self, record: &ResendRecord) -> Result<Invitation, StoreError> {
        self.with(|s| s.record_resend(record))
    }

    async fn find_invitation_by_link(&self, token_hash: &SecretHash) -> Result<Option<Invitation>, StoreError> {
        self.with(|s| Ok(s.find_invitation_by_link(token_hash)))
    }

    async fn due_for_expiry(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Invitation>, StoreError> {
        self.with(|s| Ok(s.due_for_expiry(now, limit)))
    }

    async fn list_connections(&self, business: BusinessId, page: &PageRequest) -> Result<Page<Connection>, StoreError> {
        self.with(|s| Ok(s.list_connections(business, page)))
    }

    async fn list_events(&self, business: BusinessId, query: &EventQuery) -> Result<Page<Event, EventId>, StoreError> {
        self.with(|s| Ok(s.list_events(business, query)))
    }

    async fn claim_email_jobs(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<EmailJob>, StoreError> {
        self.with(|s| Ok(s.claim_email_jobs(now, limit, lease)))
    }

    async fn finish_email_job(
        &self,
        id: EmailJobId,
        outcome: &EmailOutcome,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.with(|s| s.finish_email_job(id, outcome, now))
    }

    async fn release_email_jobs(&self, jobs: &[EmailJob], now: OffsetDateTime) -> Result<u64, StoreError> {
        self.with(|s| {
            let mut released = 0;
            for claimed in jobs {
                // Still ours: queued with the very lease our claim set.
                if let Some(job) = s.email_jobs.get_mut(&claimed.id)
                    && job.status == EmailJobStatus::Queued
                    && job.next_attempt_at == claimed.next_attempt_at
                {
                    job.next_attempt_at = now;
                    job.attempts = job.attempts.saturating_sub(1);
                    released += 1;
                }
            }
            Ok(released)
        })
    }

    async fn oldest_queued_email(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        self.with(|s| {
            Ok(s.email_jobs
                .values()
                .filter(|j| j.status == EmailJobStatus::Queued)
                .map(|j| j.created_at)
                .min())
        })
    }

    async fn prune_email_jobs(&self, finished_before: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.with(|s| {
            let mut done: Vec<(OffsetDateTime, EmailJobId)> = s
                .email_jobs
                .values()
                .filter(|job| job.status != EmailJobStatus::Queued)
                .filter_map(|job| {
                    let at = *s.email_jobs_finished_at.get(&job.id)?;
                    (at < finished_before).then_some((at, job.id))
                })
                .collect();
            done.sort();
            done.truncate(limit);
            for (_, id) in &done {
                s.email_jobs.remove(id);
                s.email_jobs_finished_at.remove(id);
            }
            Ok(done.len() as u64)
        })
    }

    async fn emails_queued_since(
        &self,
        business: BusinessId,
        since: OffsetDateTime,
    ) -> Result<EmailsQueued, StoreError> {
        self.with(|s| {
            let mut queued = EmailsQueued::default();
            let ours = s.email_jobs.values().filter(|job| {
                job.created_at >= since
                    && s.invitations
                        .get(&job.invitation_id)
                        .is_some_and(|i| i.business_id() == business)
            });
            for job in ours {
                queued.count += 1;
                queued.oldest = Some(queued.oldest.map_or(job.created_at, |o| o.min(job.created_at)));
            }
            Ok(queued)
        })
    }

    async fn outbox_depth(&self) -> Result<u64, StoreError> {
        self.with(|s| {
            Ok(s.email_jobs
                .values()
                .filter(|j| j.status == EmailJobStatus::Queued)
                .count() as u64)
        })
    }

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
        scope: &IdempotencyScope,
        key: &IdempotencyKey,
        attempt: Uuid,
        response: &StoredResponse,
    ) -> Result<bool, StoreError> {
        self.with(|s| match s.idempotency.get_mut(&(*scope, key.clone())) {
            Some(record) if record.held_by(attempt) => {
                record.response = Some(response.clone());
                Ok(true)
            }
            _ => Ok(false),
        })
    }

    async fn abandon_idempotent(
        &self,
        scope: &IdempotencyScope,
        key: &IdempotencyKey,
        attempt: Uuid,
    ) -> Result<bool, StoreError> {
        self.with(|s| {
            let slot = (*scope, key.clone());
            if s.idempotency.get(&slot).is_some_and(|r| r.held_by(attempt)) {
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

    async fn add_suppression(&self, suppression: &Suppression) -> Result<Suppression, StoreError> {
        self.with(|s| {
            let same = s.suppressions.values().find(|existing| {
                existing.email.normalized() == suppression.email.normalized()
                    && existing.business_id == suppression.business_id
            });
            if let Some(existing) = same {
                return Ok(existing.clone());
            }
            s.suppressions.insert(suppression.id, suppression.clone());
            Ok(suppression.clone())
        })
    }

    async fn suppressions_for(
        &self,
        business: BusinessId,
        emails: &[EmailAddress],
    ) -> Result<Vec<Suppression>, StoreError> {
        self.with(|s| {
            Ok(s.suppressions
                .values()
                .filter(|sup| emails.iter().any(|email| sup.blocks(business, email)))
                .cloned()
                .collect())
        })
    }

    async fn list_suppressions(&self, query: &SuppressionQuery) -> Result<Page<Suppression>, StoreError> {
        self.with(|s| {
            let rows = s
                .suppressions
                .values()
                .filter(|sup| {
                    query
                        .email
                        .as_ref()
                        .is_none_or(|email| email.normalized() == sup.email.normalized())
                })
                .cloned();
            let cursor = |sup: &Suppression| Cursor {
                created_at: sup.created_at,
                id: sup.id.as_uuid(),
            };
            Ok(newest_first_page(rows, cursor, query.after, query.limit))
        })
    }

    async fn delete_suppression(&self, id: SuppressionId) -> Result<(), StoreError> {
        self.with(|s| s.suppressions.remove(&id).map(drop).ok_or(StoreError::NotFound))
    }

    async fn insert_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<(), StoreError> {
        self.with(|s| {
            s.webhook_endpoints.insert(endpoint.id, endpoint.clone());
            Ok(())
        })
    }

    async fn get_webhook_endpoint(&self, id: WebhookEndpointId) -> Result<Option<WebhookEndpoint>, StoreError> {
        self.with(|s| Ok(s.webhook_endpoints.get(&id).cloned()))
    }

    async fn list_webhook_endpoints(&self, business: BusinessId) -> Result<Vec<WebhookEndpoint>, StoreError> {
        self.with(|s| {
            let mut endpoints: Vec<WebhookEndpoint> = s
                .webhook_endpoints
                .values()
                .filter(|e| e.business_id == business)
                .cloned()
                .collect();
            endpoints.sort_by_key(|e| (e.created_at, e.id));
            Ok(endpoints)
        })
    }

    async fn update_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<(), StoreError> {
        self.with(|s| {
            let stored = s.webhook_endpoints.get_mut(&endpoint.id).ok_or(StoreError::NotFound)?;
            if endpoint.enabled && !stored.enabled {
                stored.failing_since = None;
            }
            stored.url.clone_from(&endpoint.url);
            stored.event_types = endpoint.event_types.clone();
            stored.description.clone_from(&endpoint.description);
            stored.enabled = endpoint.enabled;
            stored.secret = endpoint.secret.clone();
            stored.previous_secret.clone_from(&endpoint.previous_secret);
            stored.updated_at = endpoint.updated_at;
            Ok(())
        })
    }

    async fn delete_webhook_endpoint(&self, id: WebhookEndpointId) -> Result<(), StoreError> {
        self.with(|s| {
            s.webhook_endpoints.remove(&id).ok_or(StoreError::NotFound)?;
            s.webhook_deliveries.retain(|(endpoint, _), _| *endpoint != id);
            Ok(())
        })
    }

    async fn get_event(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        self.with(|s| Ok(s.events.get(&id).cloned()))
    }

    async fn list_webhook_deliveries(
        &self,
        endpoint: WebhookEndpointId,
        page: &PageRequest,
    ) -> Result<Page<WebhookDelivery>, StoreError> {
        self.with(|s| {
            let rows = s
                .webhook_deliveries
                .values()
                .filter(|d| d.endpoint_id == endpoint)
                .cloned();
            let cursor = |d: &WebhookDelivery| Cursor {
                created_at: d.created_at,
                id: d.id.as_uuid(),
            };
            Ok(newest_first_page(rows, cursor, page.after, page.limit))
        })
    }

    async fn insert_webhook_delivery(&self, delivery: &WebhookDelivery) -> Result<(), StoreError> {
        self.with(|s| {
            if !s.webhook_endpoints.contains_key(&delivery.endpoint_id) {
                return Err(StoreError::NotFound);
            }
            s.webhook_deliveries
                .insert((delivery.endpoint_id, delivery.id), delivery.clone());
            Ok(())
        })
    }

    async fn claim_webhook_deliveries(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        self.with(|s| {
            let mut due: Vec<(OffsetDateTime, WebhookDeliveryId, WebhookEndpointId)> = s
                .webhook_deliveries
                .values()
                .filter(|d| d.status == WebhookDeliveryStatus::Pending && d.next_attempt_at <= now)
                .map(|d| (d.created_at, d.id, d.endpoint_id))
                .collect();
            due.sort();
            due.truncate(limit);
            let mut claimed = Vec::with_capacity(due.len());
            for (_, id, endpoint) in due {
                if let Some(delivery) = s.webhook_deliveries.get_mut(&(endpoint, id)) {
                    delivery.next_attempt_at = now + lease;
                    delivery.attempts = delivery.attempts.saturating_add(1);
                    claimed.push(delivery.clone());
                }
            }
            Ok(claimed)
        })
    }

    async fn finish_webhook_delivery(&self, attempt: &WebhookAttempt) -> Result<(), StoreError> {
        self.with(|s| s.finish_webhook_delivery(attempt))
    }

    async fn release_webhook_deliveries(
        &self,
        deliveries: &[WebhookDelivery],
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.with(|s| {
            let mut released = 0;
            for claimed in deliveries {
                if let Some(delivery) = s.webhook_deliveries.get_mut(&(claimed.endpoint_id, claimed.id))
                    && delivery.status == WebhookDeliveryStatus::Pending
                    && delivery.next_attempt_at == claimed.next_attempt_at
                {
                    delivery.next_attempt_at = now;
                    delivery.attempts = delivery.attempts.saturating_sub(1);
                    released += 1;
                }
            }
            Ok(released)
        })
    }

    async fn webhook_outbox_depth(&self) -> Result<u64, StoreError> {
        self.with(|s| {
            Ok(s.webhook_deliveries
                .values()
                .filter(|d| d.status == WebhookDeliveryStatus::Pending)
                .count() as u64)
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.lock().map(drop)
    }
}
