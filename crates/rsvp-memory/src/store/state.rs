//! The in-memory store's tables and the rules it keeps on them, one
//! method per unit of work; `super` runs each under the lock.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;

use rsvp_app::{
    ApiKeyRecord, Credential, Cursor, EmailCap, EmailJob, EmailJobStatus, EmailOutcome, ErasureCounts, ErasureRecord,
    EventQuery, IdempotencyKey, IdempotencyScope, InvitationQuery, LinkTokenRecord, NewInvitationRecord, Page,
    PageRequest, Principal, ResendRecord, SecretHash, StoreError, TransitionOutcome, TransitionRecord, WebhookAttempt,
    WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint, WebhookOutcome,
};
use rsvp_domain::webhook::ENDPOINT_DISABLED;
use rsvp_domain::{
    ApiKeyId, Business, BusinessId, Connection, EmailAddress, EmailDelivery, EmailJobId, Event, EventId, Invitation,
    InvitationId, InvitationParts, InvitationStatus, Suppression, SuppressionId, User, UserId, WebhookDeliveryId,
    WebhookEndpointId, ordered_pair,
};
use time::{Duration, OffsetDateTime};

use super::records::{IdempotencyRecord, invitation_cursor, matches, newest_first_page, pending_delivery, pending_key};

/// The [`Store`](rsvp_app::Store) port in memory: businesses, users, API keys, invitations,
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
///     assert_eq!(store.operator().find_user_by_email(&email).await.unwrap(), None);
/// });
/// ```
#[derive(Debug, Default)]
pub struct InMemoryStore {
    state: std::sync::Mutex<State>,
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `f` on the state under the lock, as one unit of work.
    pub(super) fn with<T>(&self, f: impl FnOnce(&mut State) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut state = self.lock()?;
        f(&mut state)
    }

    pub(super) fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, StoreError> {
        // A panic while the lock was held may have left a unit of work half
        // done: refuse to go on rather than serve inconsistent data.
        self.state
            .lock()
            .map_err(|_| StoreError::Unavailable("the in-memory store was poisoned by a panic".to_owned()))
    }
}

/// The tables.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) businesses: HashMap<BusinessId, Business>,
    pub(super) users: HashMap<UserId, User>,
    /// Normalized email → user: emails are unique across users.
    pub(super) user_by_email: HashMap<String, UserId>,
    pub(super) api_keys: HashMap<SecretHash, ApiKeyRecord>,
    pub(super) invitations: HashMap<InvitationId, Invitation>,
    /// (sender, normalized email) → the invitation whose stored status is pending.
    pub(super) pending: HashMap<(BusinessId, String), InvitationId>,
    /// Live (not revoked) link tokens by hash.
    pub(super) links: HashMap<SecretHash, LinkTokenRecord>,
    /// One connection per pair of businesses, keyed by the ordered pair.
    pub(super) connections: HashMap<(BusinessId, BusinessId), Connection>,
    /// Events in id order.
    pub(super) events: BTreeMap<EventId, Event>,
    /// The events in insertion (commit) order, the relay's cursor and lease.
    pub(super) relay: super::event_relay::RelayLog,
    pub(super) email_jobs: HashMap<EmailJobId, EmailJob>,
    /// When each finished job finished (for retention).
    pub(super) email_jobs_finished_at: HashMap<EmailJobId, OffsetDateTime>,
    pub(super) suppressions: HashMap<SuppressionId, Suppression>,
    /// Idempotency records by (scope, key).
    pub(super) idempotency: HashMap<(IdempotencyScope, IdempotencyKey), IdempotencyRecord>,
    /// Webhook endpoints by id.
    pub(super) webhook_endpoints: HashMap<WebhookEndpointId, WebhookEndpoint>,
    /// Deliveries by endpoint and id (a delivery id is unique within its endpoint).
    pub(super) webhook_deliveries: HashMap<(WebhookEndpointId, WebhookDeliveryId), WebhookDelivery>,
    /// Join links by id.
    pub(super) join_links: HashMap<rsvp_domain::JoinLinkId, rsvp_domain::JoinLink>,
    /// Join link token hash → link.
    pub(super) join_link_by_token: HashMap<SecretHash, rsvp_domain::JoinLinkId>,
    /// Connection requests by id.
    pub(super) connection_requests: HashMap<rsvp_domain::ConnectionRequestId, rsvp_domain::ConnectionRequest>,
    /// The email cap's counts: business → unix minute → emails queued.
    pub(super) email_cap_minutes: HashMap<BusinessId, BTreeMap<i64, u32>>,
    /// The provider's message id of each sent job that got one.
    pub(super) provider_message_ids: HashMap<String, EmailJobId>,
    /// Provider reports applied: (provider, report id) → when received.
    pub(super) provider_reports: HashMap<(&'static str, String), OffsetDateTime>,
    /// When each invitation's page was first opened (`invitations.page_viewed_at`).
    pub(super) page_views: HashMap<InvitationId, OffsetDateTime>,
    /// When each reminded invitation got its reminder (`invitations.reminded_at`).
    pub(super) reminded: HashMap<InvitationId, OffsetDateTime>,
}

impl State {
    /// Writes an event and, with it, one delivery per enabled endpoint of
    /// each business that can see it whose filter matches.
    pub(super) fn insert_event(&mut self, event: &Event) {
        self.events.insert(event.id, event.clone());
        self.relay.log.push(event.id);
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

    pub(super) fn finish_webhook_delivery(&mut self, attempt: &WebhookAttempt) -> Result<(), StoreError> {
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

    pub(super) fn insert_user(&mut self, user: &User) -> Result<(), StoreError> {
        if self.user_by_email.contains_key(user.email.normalized()) {
            return Err(StoreError::EmailTaken);
        }
        if self.user_external_id_taken(user.external_id.as_ref(), user.id) {
            return Err(StoreError::ExternalIdTaken);
        }
        self.user_by_email.insert(user.email.normalized().to_owned(), user.id);
        self.users.insert(user.id, user.clone());
        Ok(())
    }

    pub(super) fn create_business(
        &mut self,
        business: &Business,
        user: &User,
        key: &ApiKeyRecord,
    ) -> Result<(), StoreError> {
        if self.business_external_id_taken(business.external_id.as_ref(), business.id) {
            return Err(StoreError::ExternalIdTaken);
        }
        self.insert_user(user)?;
        self.businesses.insert(business.id, business.clone());
        self.api_keys.insert(key.hash, key.clone());
        Ok(())
    }

    pub(super) fn create_api_key(&mut self, record: &ApiKeyRecord) -> Result<(), StoreError> {
        if !self.users.contains_key(&record.key.user_id) {
            return Err(StoreError::NotFound);
        }
        self.api_keys.insert(record.hash, record.clone());
        Ok(())
    }

    pub(super) fn add_user(&mut self, user: &User, key: &ApiKeyRecord) -> Result<(), StoreError> {
        if !self.businesses.contains_key(&user.business_id) {
            return Err(StoreError::NotFound);
        }
        self.insert_user(user)?;
        self.api_keys.insert(key.hash, key.clone());
        Ok(())
    }

    pub(super) fn find_credential(&self, key_hash: &SecretHash) -> Option<Credential> {
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

    pub(super) fn api_key_mut(&mut self, id: ApiKeyId) -> Option<&mut ApiKeyRecord> {
        self.api_keys.values_mut().find(|record| record.key.id == id)
    }

    pub(super) fn erase_invitations(&mut self, record: &ErasureRecord) -> ErasureCounts {
        let mut counts = ErasureCounts::default();
        for item in &record.invitations {
            let id = item.invitation.id();
            let still_theirs = self
                .invitations
                .get(&id)
                .is_some_and(|stored| *stored.email() == record.email && stored.status() == item.expected);
            if !still_theirs {
                continue;
            }
            let Some(stored) = self.invitations.get_mut(&id) else {
                continue;
            };
            let key = pending_key(stored);
            let after = &item.invitation;
            *stored = Invitation::restore(InvitationParts {
                email: after.email().clone(),
                first_name: after.first_name().cloned(),
                last_name: after.last_name().cloned(),
                phone: after.phone().cloned(),
                message: after.message().cloned(),
                custom_data: after.custom_data().clone(),
                status: after.status(),
                updated_at: after.updated_at(),
                resolved_at: after.resolved_at(),
                ..stored.clone().into_parts()
            });
            if self.pending.get(&key) == Some(&id) {
                self.pending.remove(&key);
                if after.status() == InvitationStatus::Pending {
                    self.pending.insert(pending_key(after), id);
                }
            }
            self.links.retain(|_, link| link.invitation_id != id);
            let before = self.email_jobs.len();
            self.email_jobs
                .retain(|_, job| job.invitation_id != id || job.status != EmailJobStatus::Queued);
            counts.emails_dropped += (before - self.email_jobs.len()) as u64;
            for job in self.email_jobs.values_mut().filter(|job| job.invitation_id == id) {
                job.to = after.email().clone();
                job.last_error = None;
            }
            self.events.insert(item.event.id, item.event.clone());
            self.relay.log.push(item.event.id);
            counts.invitations += 1;
            if item.resolves() {
                counts.resolved += 1;
            }
        }
        counts
    }

    pub(super) fn find_user_by_email(&self, email: &EmailAddress) -> Option<User> {
        let id = self.user_by_email.get(email.normalized())?;
        self.users.get(id).cloned()
    }

    pub(super) fn find_pending(&self, business: BusinessId, email: &EmailAddress) -> Option<Invitation> {
        let id = self.pending.get(&(business, email.normalized().to_owned()))?;
        self.invitations.get(id).cloned()
    }

    /// Counts one email of `business` queued at `at` against `cap`, or
    /// refuses it (minute buckets, as the other stores).
    pub(super) fn reserve_email(
        &mut self,
        business: BusinessId,
        cap: Option<EmailCap>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let Some(cap) = cap else {
            return Ok(());
        };
        let minute = EmailCap::minute_of(at);
        let buckets = self.email_cap_minutes.entry(business).or_default();
        // Buckets that left the window are dropped: the map stays small.
        *buckets = buckets.split_off(&EmailCap::window_start(minute));
        let queued: u64 = buckets.values().map(|queued| u64::from(*queued)).sum();
        if queued >= u64::from(cap.limit) {
            let oldest = buckets.keys().next().copied().unwrap_or(minute);
            return Err(StoreError::EmailCapReached {
                retry_at: EmailCap::leaves_window_at(oldest),
            });
        }
        *buckets.entry(minute).or_insert(0) += 1;
        Ok(())
    }

    pub(super) fn insert_invitation(
        &mut self,
        record: &NewInvitationRecord,
        cap: Option<EmailCap>,
    ) -> Result<(), StoreError> {
        let invitation = &record.invitation;
        let key = pending_key(invitation);
        let pending = invitation.status() == InvitationStatus::Pending;
        if pending && self.pending.contains_key(&key) {
            return Err(StoreError::AlreadyInvited);
        }
        if let Some(job) = &record.email_job {
            self.reserve_email(invitation.business_id(), cap, job.created_at)?;
        }
        if pending {
            self.pending.insert(key, invitation.id());
        }
        self.invitations.insert(invitation.id(), invitation.clone());
        self.links.insert(record.link.hash, record.link.clone());
        self.insert_event(&record.event);
        if let Some(job) = &record.email_job {
            self.email_jobs.insert(job.id, job.clone());
        }
        Ok(())
    }

    pub(super) fn list_sent(&self, business: BusinessId, query: &InvitationQuery) -> Page<Invitation> {
        let rows = self
            .invitations
            .values()
            .filter(|i| i.business_id() == business && matches(&query.filter, i, query.now))
            .cloned();
        newest_first_page(rows, invitation_cursor, query.after, query.limit)
    }

    pub(super) fn list_received(&self, business: BusinessId, query: &InvitationQuery) -> Page<Invitation> {
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
                emails.contains(i.email().normalized())
                    && i.status() != InvitationStatus::Cancelled
                    && matches(&query.filter, i, query.now)
            })
            .cloned();
        newest_first_page(rows, invitation_cursor, query.after, query.limit)
    }

    pub(super) fn apply_transition(&mut self, record: &TransitionRecord) -> Result<TransitionOutcome, StoreError> {
        let id = record.invitation.id();
        let stored = self.invitations.get(&id).ok_or(StoreError::NotFound)?;
        let target = record.invitation.status();
        let applies = stored.status() == record.expected
            && (target == InvitationStatus::Expired || record.now < stored.expires_at());
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
        if stored.status() == InvitationStatus::Pending && target != InvitationStatus::Pending {
            let key = pending_key(stored);
            if self.pending.get(&key) == Some(&id) {
                self.pending.remove(&key);
            }
        }
        *stored = Invitation::restore(InvitationParts {
            status: target,
            updated_at: record.invitation.updated_at(),
            resolved_at: record.invitation.resolved_at(),
            invitee_business_id: record.invitation.invitee_business_id().or(stored.invitee_business_id()),
            ..stored.clone().into_parts()
        });
        let invitation = stored.clone();
        self.insert_event(&record.event);
        if let Some(job) = &record.email_job {
            self.email_jobs.insert(job.id, job.clone());
        }

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

    pub(super) fn record_resend(&mut self, record: &ResendRecord) -> Result<Invitation, StoreError> {
        let id = record.invitation_id;
        let stored = self.invitations.get(&id).ok_or(StoreError::NotFound)?;
        let current = stored.status_at(record.now);
        if current != InvitationStatus::Pending {
            return Err(StoreError::Conflict { current });
        }
        if let Some(last_sent_at) = stored.last_sent_at()
            && last_sent_at > record.not_sent_after
        {
            return Err(StoreError::Cooldown { last_sent_at });
        }
        let business = stored.business_id();
        self.reserve_email(business, record.email_cap, record.email_job.created_at)?;
        if record.revoke_previous_links {
            self.links.retain(|_, link| link.invitation_id != id);
        }
        self.links.insert(record.link.hash, record.link.clone());
        self.insert_event(&record.event);
        self.email_jobs.insert(record.email_job.id, record.email_job.clone());
        let stored = self.invitations.get_mut(&id).ok_or(StoreError::NotFound)?;
        *stored = Invitation::restore(InvitationParts {
            last_sent_at: Some(record.now),
            updated_at: record.now,
            email_delivery: Some(EmailDelivery::Queued),
            ..stored.clone().into_parts()
        });
        Ok(stored.clone())
    }

    pub(super) fn find_invitation_by_link(&self, token_hash: &SecretHash) -> Option<Invitation> {
        let link = self.links.get(token_hash)?;
        self.invitations.get(&link.invitation_id).cloned()
    }

    pub(super) fn list_connections(&self, business: BusinessId, page: &PageRequest) -> Page<Connection> {
        let rows = self.connections.values().filter(|c| c.involves(business)).cloned();
        let cursor = |c: &Connection| Cursor {
            created_at: c.created_at,
            id: c.id.as_uuid(),
        };
        newest_first_page(rows, cursor, page.after, page.limit)
    }

    pub(super) fn list_events(&self, business: BusinessId, query: &EventQuery) -> Page<Event, EventId> {
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

    pub(super) fn claim_email_jobs(&mut self, now: OffsetDateTime, limit: usize, lease: Duration) -> Vec<EmailJob> {
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

    pub(super) fn finish_email_job(
        &mut self,
        id: EmailJobId,
        outcome: &EmailOutcome,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let job = self.email_jobs.get_mut(&id).ok_or(StoreError::NotFound)?;
        self.email_jobs_finished_at.insert(id, now);
        let delivery = match outcome {
            EmailOutcome::Sent { provider_message_id } => {
                job.status = EmailJobStatus::Sent;
                job.link_token = None;
                // The provider's reports name the email by this id.
                if let Some(provider_id) = provider_message_id {
                    self.provider_message_ids.insert(provider_id.clone(), id);
                }
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
        let (invitation_id, created_at, kind) = (job.invitation_id, job.created_at, job.kind);
        // The invitation shows the fate of its latest email to the invitee
        // only: not an older job finishing after a resend, nor a notice.
        let to_invitee = |kind| kind == rsvp_app::EmailKind::Invitation;
        let superseded = !to_invitee(kind)
            || self.email_jobs.values().any(|other| {
                other.invitation_id == invitation_id && to_invitee(other.kind) && other.created_at > created_at
            });
        if !superseded && let Some(invitation) = self.invitations.get_mut(&invitation_id) {
            *invitation = Invitation::restore(InvitationParts {
                email_delivery: Some(delivery),
                ..invitation.clone().into_parts()
            });
        }
        Ok(())
    }
}
