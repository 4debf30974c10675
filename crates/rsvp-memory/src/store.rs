//! [`InMemoryStore`]: every table in one mutex.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use rsvp_app::{
    ApiKeyRecord, BusinessQuery, Credential, Cursor, EmailJob, EmailJobStatus, EmailOutcome, EmailsQueued,
    ErasureCounts, ErasureRecord, EventQuery, IdempotencyBegin, IdempotencyClaim, IdempotencyKey, IdempotencyScope,
    InvitationContext, InvitationFilter, InvitationQuery, LinkTokenRecord, NewInvitationRecord, Page, PageRequest,
    PageSize, Principal, RequestFingerprint, ResendRecord, SecretHash, Store, StoreError, StoredResponse,
    SuppressionQuery, TransitionOutcome, TransitionRecord, WebhookAttempt, WebhookDelivery, WebhookDeliveryStatus,
    WebhookEndpoint, WebhookOutcome,
};
use rsvp_domain::webhook::ENDPOINT_DISABLED;
use rsvp_domain::{
    ApiKey, ApiKeyId, Business, BusinessId, Connection, EmailAddress, EmailDelivery, EmailJobId, Event, EventId,
    Invitation, InvitationId, InvitationStatus, Suppression, SuppressionId, User, UserId, WebhookDeliveryId,
    WebhookEndpointId, fold_for_search, ordered_pair,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// The [`Store`] port in memory: businesses, users, API keys, invitations,
/// link tokens, connections, events and the email outbox, in maps behind one
/// `std::sync::Mutex`.
///
/// Every method takes the lock once, checks, then writes, and releases it
/// before returning (the lock is never held across an `.await`), so each
/// method is one atomic unit of work: it does all it says or nothing, and
/// concurrent callers see one another's changes whole. The lock serializes
/// every call, which is what makes "exactly one wins" hold; it is also why
/// this store is for tests, examples and small embedded uses, not for load.
///
/// A transition changes only the invitation's status, `updated_at`,
/// `resolved_at` and `invitee_business_id` (from the record); what was
/// stored meanwhile (`email_delivery`, `last_sent_at`) is kept.
///
/// Idempotency records are a map keyed by (scope, key); a begin looks up
/// and writes under the one lock, so racing begins have one winner.
///
/// Nothing is persisted: dropping the store drops the data.
///
/// A job that ends (`Sent` or `Failed`) loses its link token: only its hash
/// lives on, in the link table.
///
/// ```
/// use std::sync::Arc;
/// use rsvp_app::Store;
/// use rsvp_domain::EmailAddress;
/// use rsvp_memory::InMemoryStore;
///
/// let store: Arc<dyn Store> = Arc::new(InMemoryStore::new());
/// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// runtime.block_on(async {
///     store.ping().await.unwrap();
///     let email = EmailAddress::parse("ann@acme.test").unwrap();
///     assert_eq!(store.find_user_by_email(&email).await.unwrap(), None);
/// });
/// ```
#[derive(Debug, Default)]
pub struct InMemoryStore {
    state: Mutex<State>,
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `f` on the state under the lock, as one unit of work.
    fn with<T>(&self, f: impl FnOnce(&mut State) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut state = self.lock()?;
        f(&mut state)
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        // A panic while the lock was held may have left a unit of work half
        // done: refuse to go on rather than serve inconsistent data.
        self.state
            .lock()
            .map_err(|_| StoreError::Unavailable("the in-memory store was poisoned by a panic".to_owned()))
    }
}

/// The tables.
#[derive(Debug, Default)]
struct State {
    businesses: HashMap<BusinessId, Business>,
    users: HashMap<UserId, User>,
    /// Normalized email → user: emails are unique across users.
    user_by_email: HashMap<String, UserId>,
    api_keys: HashMap<SecretHash, ApiKeyRecord>,
    invitations: HashMap<InvitationId, Invitation>,
    /// (sender, normalized email) → the invitation whose stored status is pending.
    pending: HashMap<(BusinessId, String), InvitationId>,
    /// Live (not revoked) link tokens by hash.
    links: HashMap<SecretHash, LinkTokenRecord>,
    /// One connection per pair of businesses, keyed by the ordered pair.
    connections: HashMap<(BusinessId, BusinessId), Connection>,
    /// Events in id order.
    events: BTreeMap<EventId, Event>,
    email_jobs: HashMap<EmailJobId, EmailJob>,
    /// When each finished job finished (for retention).
    email_jobs_finished_at: HashMap<EmailJobId, OffsetDateTime>,
    suppressions: HashMap<SuppressionId, Suppression>,
    /// Idempotency records by (scope, key).
    idempotency: HashMap<(IdempotencyScope, IdempotencyKey), IdempotencyRecord>,
    /// Webhook endpoints by id.
    webhook_endpoints: HashMap<WebhookEndpointId, WebhookEndpoint>,
    /// Deliveries by endpoint and id (a delivery id is unique within its endpoint).
    webhook_deliveries: HashMap<(WebhookEndpointId, WebhookDeliveryId), WebhookDelivery>,
}

/// One idempotency record: in progress (`response` is `None`) or completed.
#[derive(Debug)]
struct IdempotencyRecord {
    fingerprint: RequestFingerprint,
    attempt: Uuid,
    started_at: OffsetDateTime,
    expires_at: OffsetDateTime,
    response: Option<StoredResponse>,
}

impl IdempotencyRecord {
    fn of(claim: &IdempotencyClaim) -> Self {
        Self {
            fingerprint: claim.fingerprint,
            attempt: claim.attempt,
            started_at: claim.now,
            expires_at: claim.expires_at,
            response: None,
        }
    }

    fn held_by(&self, attempt: Uuid) -> bool {
        self.response.is_none() && self.attempt == attempt
    }
}

/// A new pending delivery of `event_id` to `endpoint`.
fn pending_delivery(
    endpoint: &WebhookEndpoint,
    event_id: EventId,
    event_type: &str,
    payload: Option<String>,
    at: OffsetDateTime,
) -> WebhookDelivery {
    WebhookDelivery {
        id: WebhookDeliveryId::from_uuid(event_id.as_uuid()),
        endpoint_id: endpoint.id,
        business_id: endpoint.business_id,
        event_id,
        event_type: event_type.to_owned(),
        payload,
        occurred_at: at,
        attempts: 0,
        status: WebhookDeliveryStatus::Pending,
        next_attempt_at: at,
        response_status: None,
        duration_ms: None,
        attempted_at: None,
        last_error: None,
        created_at: at,
    }
}

fn pending_key(invitation: &Invitation) -> (BusinessId, String) {
    (invitation.business_id, invitation.email.normalized().to_owned())
}

fn matches(filter: &InvitationFilter, invitation: &Invitation, now: OffsetDateTime) -> bool {
    (filter.statuses.is_empty() || filter.statuses.contains(&invitation.status_at(now)))
        && filter.email.as_ref().is_none_or(|email| *email == invitation.email)
}

/// Newest first (`created_at`, then id, descending), after the cursor, one
/// page: the keyset rule, so rows inserted meanwhile never shift a page.
fn newest_first_page<T: Clone>(
    rows: impl Iterator<Item = T>,
    key: impl Fn(&T) -> Cursor,
    after: Option<Cursor>,
    limit: PageSize,
) -> Page<T> {
    let sort_key = |row: &T| {
        let cursor = key(row);
        (cursor.created_at, cursor.id)
    };
    let mut rows: Vec<T> = rows
        .filter(|row| after.is_none_or(|after| sort_key(row) < (after.created_at, after.id)))
        .collect();
    rows.sort_by_key(|row| std::cmp::Reverse(sort_key(row)));
    rows.truncate(limit.as_usize() + 1);
    Page::from_overfetch(rows, limit, key)
}

fn invitation_cursor(invitation: &Invitation) -> Cursor {
    Cursor {
        created_at: invitation.created_at,
        id: invitation.id.as_uuid(),
    }
}

impl State {
    /// Writes an event and, with it, one delivery per enabled endpoint of
    /// each business that can see it whose filter matches.
    fn insert_event(&mut self, event: &Event) {
        self.events.insert(event.id, event.clone());
        let kind = event.kind.as_str();
        let deliveries: Vec<WebhookDelivery> = self
            .webhook_endpoints
            .values()
            .filter(|e| e.enabled && event.visible_to(e.business_id) && e.event_types.matches(kind))
            .map(|e| pending_delivery(e, event.id, kind, None, event.occurred_at))
            .collect();
        for delivery in deliveries {
            self.webhook_deliveries
                .insert((delivery.endpoint_id, delivery.id), delivery);
        }
    }

    fn finish_webhook_delivery(&mut self, attempt: &WebhookAttempt) -> Result<(), StoreError> {
        let delivery = self
            .webhook_deliveries
            .get_mut(&(attempt.endpoint_id, attempt.delivery_id))
            .ok_or(StoreError::NotFound)?;
        match attempt.outcome {
            WebhookOutcome::Succeeded => delivery.status = WebhookDeliveryStatus::Succeeded,
            WebhookOutcome::Retry(at) => {
                delivery.status = WebhookDeliveryStatus::Pending;
                delivery.next_attempt_at = at;
            }
            WebhookOutcome::Failed => delivery.status = WebhookDeliveryStatus::Failed,
        }
        delivery.response_status = attempt.response_status;
        delivery.duration_ms = Some(attempt.duration_ms);
        delivery.attempted_at = Some(attempt.attempted_at);
        delivery.last_error.clone_from(&attempt.error);
        let Some(endpoint) = self.webhook_endpoints.get_mut(&attempt.endpoint_id) else {
            return Ok(());
        };
        if attempt.outcome == WebhookOutcome::Succeeded {
            endpoint.failing_since = None;
        } else if endpoint.failing_since.is_none() {
            endpoint.failing_since = Some(attempt.attempted_at);
        }
        if let Some(notice) = &attempt.disable
            && endpoint.enabled
        {
            endpoint.enabled = false;
            endpoint.updated_at = attempt.attempted_at;
            let (business, disabled) = (endpoint.business_id, endpoint.id);
            let deliveries: Vec<WebhookDelivery> = self
                .webhook_endpoints
                .values()
                .filter(|e| {
                    e.business_id == business
                        && e.id != disabled
                        && e.enabled
                        && e.event_types.matches(ENDPOINT_DISABLED)
                })
                .map(|e| {
                    pending_delivery(
                        e,
                        notice.event_id,
                        ENDPOINT_DISABLED,
                        Some(notice.payload.clone()),
                        attempt.attempted_at,
                    )
                })
                .collect();
            for delivery in deliveries {
                self.webhook_deliveries
                    .insert((delivery.endpoint_id, delivery.id), delivery);
            }
        }
        Ok(())
    }

    fn insert_user(&mut self, user: &User) -> Result<(), StoreError> {
        if self.user_by_email.contains_key(user.email.normalized()) {
            return Err(StoreError::EmailTaken);
        }
        self.user_by_email.insert(user.email.normalized().to_owned(), user.id);
        self.users.insert(user.id, user.clone());
        Ok(())
    }

    fn create_business(&mut self, business: &Business, user: &User, key: &ApiKeyRecord) -> Result<(), StoreError> {
        self.insert_user(user)?;
        self.businesses.insert(business.id, business.clone());
        self.api_keys.insert(key.hash, key.clone());
        Ok(())
    }

    fn create_api_key(&mut self, record: &ApiKeyRecord) -> Result<(), StoreError> {
        if !self.users.contains_key(&record.key.user_id) {
            return Err(StoreError::NotFound);
        }
        self.api_keys.insert(record.hash, record.clone());
        Ok(())
    }

    fn add_user(&mut self, user: &User, key: &ApiKeyRecord) -> Result<(), StoreError> {
        if !self.businesses.contains_key(&user.business_id) {
            return Err(StoreError::NotFound);
        }
        self.insert_user(user)?;
        self.api_keys.insert(key.hash, key.clone());
        Ok(())
    }

    fn find_credential(&self, key_hash: &SecretHash) -> Option<Credential> {
        let record = self.api_keys.get(key_hash)?;
        let user = self.users.get(&record.key.user_id)?;
        let business = self.businesses.get(&user.business_id)?;
        Some(Credential {
            key: record.key.clone(),
            principal: Principal {
                business: business.clone(),
                user: user.clone(),
            },
        })
    }

    fn api_key_mut(&mut self, id: ApiKeyId) -> Option<&mut ApiKeyRecord> {
        self.api_keys.values_mut().find(|record| record.key.id == id)
    }

    fn erase_invitations(&mut self, record: &ErasureRecord) -> ErasureCounts {
        let mut counts = ErasureCounts::default();
        for item in &record.invitations {
            let id = item.invitation.id;
            let still_theirs = self
                .invitations
                .get(&id)
                .is_some_and(|stored| stored.email == record.email && stored.status == item.expected);
            if !still_theirs {
                continue;
            }
            let Some(stored) = self.invitations.get_mut(&id) else {
                continue;
            };
            let key = pending_key(stored);
            let after = &item.invitation;
            stored.email = after.email.clone();
            stored.first_name = after.first_name.clone();
            stored.last_name = after.last_name.clone();
            stored.phone = after.phone.clone();
            stored.message = after.message.clone();
            stored.custom_data = after.custom_data.clone();
            stored.status = after.status;
            stored.updated_at = after.updated_at;
            stored.resolved_at = after.resolved_at;
            if self.pending.get(&key) == Some(&id) {
                self.pending.remove(&key);
                if after.status == InvitationStatus::Pending {
                    self.pending.insert(pending_key(after), id);
                }
            }
            self.links.retain(|_, link| link.invitation_id != id);
            let before = self.email_jobs.len();
            self.email_jobs
                .retain(|_, job| job.invitation_id != id || job.status != EmailJobStatus::Queued);
            counts.emails_dropped += (before - self.email_jobs.len()) as u64;
            for job in self.email_jobs.values_mut().filter(|job| job.invitation_id == id) {
                job.to = after.email.clone();
                job.last_error = None;
            }
            self.events.insert(item.event.id, item.event.clone());
            counts.invitations += 1;
            if item.resolves() {
                counts.resolved += 1;
            }
        }
        counts
    }

    fn find_user_by_email(&self, email: &EmailAddress) -> Option<User> {
        let id = self.user_by_email.get(email.normalized())?;
        self.users.get(id).cloned()
    }

    fn find_pending(&self, business: BusinessId, email: &EmailAddress) -> Option<Invitation> {
        let id = self.pending.get(&(business, email.normalized().to_owned()))?;
        self.invitations.get(id).cloned()
    }

    fn insert_invitation(&mut self, record: &NewInvitationRecord) -> Result<(), StoreError> {
        let invitation = &record.invitation;
        let key = pending_key(invitation);
        if invitation.status == InvitationStatus::Pending {
            if self.pending.contains_key(&key) {
                return Err(StoreError::AlreadyInvited);
            }
            self.pending.insert(key, invitation.id);
        }
        self.invitations.insert(invitation.id, invitation.clone());
        self.links.insert(record.link.hash, record.link.clone());
        self.insert_event(&record.event);
        if let Some(job) = &record.email_job {
            self.email_jobs.insert(job.id, job.clone());
        }
        Ok(())
    }

    fn list_sent(&self, business: BusinessId, query: &InvitationQuery) -> Page<Invitation> {
        let rows = self
            .invitations
            .values()
            .filter(|i| i.business_id == business && matches(&query.filter, i, query.now))
            .cloned();
        newest_first_page(rows, invitation_cursor, query.after, query.limit)
    }

    fn list_received(&self, business: BusinessId, query: &InvitationQuery) -> Page<Invitation> {
        let emails: HashSet<&str> = self
            .users
            .values()
            .filter(|u| u.business_id == business)
            .map(|u| u.email.normalized())
            .collect();
        let rows = self
            .invitations
            .values()
            .filter(|i| {
                emails.contains(i.email.normalized())
                    && i.status != InvitationStatus::Cancelled
                    && matches(&query.filter, i, query.now)
            })
            .cloned();
        newest_first_page(rows, invitation_cursor, query.after, query.limit)
    }

    fn apply_transition(&mut self, record: &TransitionRecord) -> Result<TransitionOutcome, StoreError> {
        let id = record.invitation.id;
        let stored = self.invitations.get(&id).ok_or(StoreError::NotFound)?;
        let target = record.invitation.status;
        let applies =
            stored.status == record.expected && (target == InvitationStatus::Expired || record.now < stored.expires_at);
        if !applies {
            return Err(StoreError::Conflict {
                current: stored.status_at(record.now),
            });
        }
        if let Some(new_invitee) = &record.new_invitee
            && self.user_by_email.contains_key(new_invitee.user.email.normalized())
        {
            return Err(StoreError::EmailTaken);
        }

        // Every check passed: write.
        if let Some(new_invitee) = &record.new_invitee {
            self.insert_user(&new_invitee.user)?;
            self.businesses
                .insert(new_invitee.business.id, new_invitee.business.clone());
        }
        let stored = self.invitations.get_mut(&id).ok_or(StoreError::NotFound)?;
        if stored.status == InvitationStatus::Pending && target != InvitationStatus::Pending {
            let key = pending_key(stored);
            if self.pending.get(&key) == Some(&id) {
                self.pending.remove(&key);
            }
        }
        stored.status = target;
        stored.updated_at = record.invitation.updated_at;
        stored.resolved_at = record.invitation.resolved_at;
        stored.invitee_business_id = record.invitation.invitee_business_id.or(stored.invitee_business_id);
        let invitation = stored.clone();
        self.insert_event(&record.event);

        let connection = match &record.connection {
            None => None,
            Some((connection, created)) => {
                let pair = ordered_pair(connection.inviter_business_id, connection.invitee_business_id);
                match self.connections.get(&pair) {
                    Some(existing) => Some(existing.clone()),
                    None => {
                        self.connections.insert(pair, connection.clone());
                        self.insert_event(created);
                        Some(connection.clone())
                    }
                }
            }
        };
        Ok(TransitionOutcome { invitation, connection })
    }

    fn record_resend(&mut self, record: &ResendRecord) -> Result<Invitation, StoreError> {
        let id = record.invitation_id;
        let stored = self.invitations.get(&id).ok_or(StoreError::NotFound)?;
        let current = stored.status_at(record.now);
        if current != InvitationStatus::Pending {
            return Err(StoreError::Conflict { current });
        }
        if let Some(last_sent_at) = stored.last_sent_at
            && last_sent_at > record.not_sent_after
        {
            return Err(StoreError::Cooldown { last_sent_at });
        }

        if record.revoke_previous_links {
            self.links.retain(|_, link| link.invitation_id != id);
        }
        self.links.insert(record.link.hash, record.link.clone());
        self.insert_event(&record.event);
        self.email_jobs.insert(record.email_job.id, record.email_job.clone());
        let stored = self.invitations.get_mut(&id).ok_or(StoreError::NotFound)?;
        stored.last_sent_at = Some(record.now);
        stored.updated_at = record.now;
        stored.email_delivery = Some(EmailDelivery::Queued);
        Ok(stored.clone())
    }

    fn find_invitation_by_link(&self, token_hash: &SecretHash) -> Option<Invitation> {
        let link = self.links.get(token_hash)?;
        self.invitations.get(&link.invitation_id).cloned()
    }

    fn due_for_expiry(&self, now: OffsetDateTime, limit: usize) -> Vec<Invitation> {
        let mut due: Vec<&Invitation> = self
            .pending
            .values()
            .filter_map(|id| self.invitations.get(id))
            .filter(|i| i.status == InvitationStatus::Pending && i.expires_at <= now)
            .collect();
        due.sort_by_key(|i| (i.expires_at, i.id));
        due.into_iter().take(limit).cloned().collect()
    }

    fn list_connections(&self, business: BusinessId, page: &PageRequest) -> Page<Connection> {
        let rows = self.connections.values().filter(|c| c.involves(business)).cloned();
        let cursor = |c: &Connection| Cursor {
            created_at: c.created_at,
            id: c.id.as_uuid(),
        };
        newest_first_page(rows, cursor, page.after, page.limit)
    }

    fn list_events(&self, business: BusinessId, query: &EventQuery) -> Page<Event, EventId> {
        let start = query.after.map_or(Bound::Unbounded, Bound::Excluded);
        let rows: Vec<Event> = self
            .events
            .range((start, Bound::Unbounded))
            .map(|(_, event)| event)
            .filter(|event| event.visible_to(business))
            .take(query.limit.as_usize() + 1)
            .cloned()
            .collect();
        Page::from_overfetch(rows, query.limit, |event| event.id)
    }

    fn claim_email_jobs(&mut self, now: OffsetDateTime, limit: usize, lease: Duration) -> Vec<EmailJob> {
        let mut due: Vec<(OffsetDateTime, EmailJobId)> = self
            .email_jobs
            .values()
            .filter(|job| job.status == EmailJobStatus::Queued && job.next_attempt_at <= now)
            .map(|job| (job.created_at, job.id))
            .collect();
        due.sort();
        due.truncate(limit);
        let mut claimed = Vec::with_capacity(due.len());
        for (_, id) in due {
            if let Some(job) = self.email_jobs.get_mut(&id) {
                job.next_attempt_at = now + lease;
                job.attempts = job.attempts.saturating_add(1);
                claimed.push(job.clone());
            }
        }
        claimed
    }

    fn finish_email_job(
        &mut self,
        id: EmailJobId,
        outcome: &EmailOutcome,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let job = self.email_jobs.get_mut(&id).ok_or(StoreError::NotFound)?;
        self.email_jobs_finished_at.insert(id, now);
        let delivery = match outcome {
            EmailOutcome::Sent => {
                job.status = EmailJobStatus::Sent;
                job.link_token = None;
                EmailDelivery::Sent
            }
            EmailOutcome::Retry { retry_at, error } => {
                job.status = EmailJobStatus::Queued;
                job.next_attempt_at = *retry_at;
                job.last_error = Some(error.clone());
                EmailDelivery::Queued
            }
            EmailOutcome::Failed { error } => {
                job.status = EmailJobStatus::Failed;
                job.link_token = None;
                job.last_error = Some(error.clone());
                EmailDelivery::Failed
            }
        };
        let (invitation_id, created_at) = (job.invitation_id, job.created_at);
        // The invitation shows the fate of its latest email only: an older
        // job finishing after a resend does not overwrite it.
        let superseded = self
            .email_jobs
            .values()
            .any(|other| other.invitation_id == invitation_id && other.created_at > created_at);
        if !superseded && let Some(invitation) = self.invitations.get_mut(&invitation_id) {
            invitation.email_delivery = Some(delivery);
        }
        Ok(())
    }
}

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
        self.with(|s| Ok(s.invitations.values().filter(|i| i.email == *email).cloned().collect()))
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
                        .is_some_and(|i| i.business_id == business)
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
