//! Builders of the rows and records the cases write, and readers that page
//! through whole lists.
//!
//! Ids come from [`UuidV7Ids`] (so ids built later are greater, as in
//! production) and secrets from [`RandomSecrets`]. Times are never read from a
//! clock: every builder takes `now`, and cases use [`at`] — whole seconds
//! after the fixed instant [`t0`], so that every database keeps them exactly
//! (PostgreSQL stores microseconds).
//!
//! Builders only build; the `async` helpers (`Tenant::create`, [`invited`],
//! [`all_sent`], ...) also talk to the store and panic when it fails, as a
//! test should.

#![allow(
    clippy::expect_used,
    reason = "fixtures fail the test by panicking, like any test helper"
)]

use rsvp_app::{
    ApiKeyRecord, EmailJob, EmailJobStatus, EventQuery, IdGenerator, InvitationFilter, InvitationQuery,
    LinkTokenRecord, NewInvitationRecord, NewInvitee, PageRequest, PageSize, Principal, ResendRecord, Secret,
    SecretGenerator, SecretHash, Store, TransitionRecord,
};
use rsvp_domain::{
    Actor, ApiKey, ApiKeyName, Business, BusinessId, BusinessName, Connection, ConnectionId, CustomNumber,
    EmailAddress, EmailJobId, Event, EventId, EventKind, Invitation, InvitationId, InvitationInput, InvitationRequest,
    InvitationStatus, PersonName, RawValue, User, UserId,
};
use rsvp_system::{RandomSecrets, UuidV7Ids};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// The resend cooldown the fixtures assume (the service's default).
pub const COOLDOWN: Duration = Duration::seconds(60);

/// The lease the cases claim email jobs with.
pub const LEASE: Duration = Duration::seconds(60);

/// Most pages the `all_*` readers follow before deciding a store loops.
const MAX_PAGES: usize = 10_000;

/// The fixed instant every case counts from: 2030-03-17T17:46:40Z.
pub fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_900_000_000).expect("a valid timestamp")
}

/// `seconds` after [`t0`] (negative: before).
pub fn at(seconds: i64) -> OffsetDateTime {
    t0() + Duration::seconds(seconds)
}

/// A new UUIDv7.
pub fn new_uuid() -> Uuid {
    UuidV7Ids.new_id()
}

/// A new random secret (a link token or an API key).
pub fn secret() -> Secret {
    RandomSecrets.generate()
}

/// The stored hash of `secret`.
pub fn hash(secret: &Secret) -> SecretHash {
    RandomSecrets.hash(secret.expose())
}

/// The hash of a secret nobody was given.
pub fn unknown_hash() -> SecretHash {
    hash(&secret())
}

/// Parses an address (surrounding spaces are trimmed, the spelling is kept).
pub fn email(address: &str) -> EmailAddress {
    EmailAddress::parse(address).expect("a valid email address in a fixture")
}

/// A page size in 1..=200.
pub fn limit(size: i64) -> PageSize {
    PageSize::new(size).expect("a page size in 1..=200")
}

/// A business named `name`, not stored.
pub fn business(name: &str, now: OffsetDateTime) -> Business {
    Business {
        id: BusinessId::from_uuid(new_uuid()),
        name: BusinessName::parse(name).expect("a valid business name"),
        created_at: now,
        suspended_at: None,
    }
}

/// A user of `business_id` with `address`, named Test User, not stored.
pub fn user(business_id: BusinessId, address: &str, now: OffsetDateTime) -> User {
    User {
        id: UserId::from_uuid(new_uuid()),
        business_id,
        email: email(address),
        first_name: Some(PersonName::parse("Test").expect("a valid name")),
        last_name: Some(PersonName::parse("User").expect("a valid name")),
        created_at: now,
        deactivated_at: None,
    }
}

/// An API key: the secret and the record the store keeps (its hash).
#[derive(Debug, Clone)]
pub struct Key {
    /// The key in clear.
    pub secret: Secret,
    /// What the store keeps.
    pub record: ApiKeyRecord,
}

/// A new API key named `default` acting as `user_id`, never expiring, not stored.
pub fn api_key(user_id: UserId, now: OffsetDateTime) -> Key {
    named_api_key(user_id, "default", None, now)
}

/// A new API key acting as `user_id`, named and expiring as given, not stored.
pub fn named_api_key(user_id: UserId, name: &str, expires_at: Option<OffsetDateTime>, now: OffsetDateTime) -> Key {
    let secret = Secret::new(format!("rsvp_{}", secret().expose()));
    let record = ApiKeyRecord {
        key: ApiKey {
            id: rsvp_domain::ApiKeyId::from_uuid(new_uuid()),
            user_id,
            name: ApiKeyName::parse(name).expect("a valid key name"),
            prefix: ApiKey::prefix_of(secret.expose()),
            created_at: now,
            expires_at,
            last_used_at: None,
        },
        hash: hash(&secret),
    };
    Key { secret, record }
}

/// The principal the key with this hash acts as, if any.
pub async fn principal(store: &dyn Store, key_hash: &SecretHash) -> Option<Principal> {
    store
        .find_credential(key_hash)
        .await
        .expect("find_credential")
        .map(|credential| credential.principal)
}

/// A business with its first user and that user's API key.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// The business.
    pub business: Business,
    /// Its first user.
    pub user: User,
    /// The first user's key.
    pub key: Key,
}

impl Tenant {
    /// Builds a tenant without storing it.
    pub fn build(name: &str, address: &str, now: OffsetDateTime) -> Self {
        let business = business(name, now);
        let user = user(business.id, address, now);
        let key = api_key(user.id, now);
        Self { business, user, key }
    }

    /// Builds a tenant and stores it with `create_business`.
    pub async fn create(store: &dyn Store, name: &str, address: &str, now: OffsetDateTime) -> Self {
        let tenant = Self::build(name, address, now);
        store
            .create_business(&tenant.business, &tenant.user, &tenant.key.record)
            .await
            .expect("create_business of a new tenant");
        tenant
    }

    /// The business's id.
    pub fn id(&self) -> BusinessId {
        self.business.id
    }
}

/// A further user of a business, with its API key.
#[derive(Debug, Clone)]
pub struct Member {
    /// The user.
    pub user: User,
    /// Its key.
    pub key: Key,
}

impl Member {
    /// Builds a member of `business_id` without storing it.
    pub fn build(business_id: BusinessId, address: &str, now: OffsetDateTime) -> Self {
        let user = user(business_id, address, now);
        let key = api_key(user.id, now);
        Self { user, key }
    }

    /// Builds a member and stores it with `add_user`.
    pub async fn add(store: &dyn Store, business_id: BusinessId, address: &str, now: OffsetDateTime) -> Self {
        let member = Self::build(business_id, address, now);
        store
            .add_user(&member.user, &member.key.record)
            .await
            .expect("add_user of a new member");
        member
    }
}

/// A create request to `address` with every default (14 days, email sent).
pub fn request(address: &str) -> InvitationRequest {
    InvitationInput {
        email: Some(address.to_owned()),
        ..Default::default()
    }
    .validate()
    .expect("a valid invitation request")
}

/// A create request to `address` with every optional field set.
pub fn full_request(address: &str) -> InvitationRequest {
    InvitationInput {
        email: Some(address.to_owned()),
        message: Some("Let's trade.\nBest, Ann".to_owned()),
        custom_data: Some(RawValue::Object(vec![
            ("crm_id".to_owned(), RawValue::String("A-4711".to_owned())),
            ("tier".to_owned(), RawValue::Number(CustomNumber::Int(2))),
            ("big".to_owned(), RawValue::Number(CustomNumber::UInt(u64::MAX))),
            ("score".to_owned(), RawValue::Number(CustomNumber::Float(0.5))),
            ("vip".to_owned(), RawValue::Bool(true)),
        ])),
        roles: Some(vec!["supplier".to_owned(), "orders:read".to_owned()]),
        first_name: Some("Bob".to_owned()),
        last_name: Some("Builder".to_owned()),
        phone: Some("+49 30 1234567".to_owned()),
        external_id: Some("crm-4711".to_owned()),
        source_is_invitee: Some(true),
        expires_in_days: Some(30),
        send_email: Some(true),
        redirect_url: Some("https://app.acme.test/welcome?from=rsvp".to_owned()),
        locale: Some("de".to_owned()),
    }
    .validate()
    .expect("a valid invitation request")
}

/// A new invitation as the service would write it, and its link token in clear.
#[derive(Debug, Clone)]
pub struct Invite {
    /// What `insert_invitation` writes.
    pub record: NewInvitationRecord,
    /// The first link token, in clear.
    pub token: Secret,
}

impl Invite {
    /// The invitation.
    pub fn invitation(&self) -> &Invitation {
        &self.record.invitation
    }

    /// Its id.
    pub fn id(&self) -> InvitationId {
        self.record.invitation.id
    }

    /// The hash of its first link token.
    pub fn link_hash(&self) -> SecretHash {
        self.record.link.hash
    }

    /// Its email job (panics when built [`without_email`](Self::without_email)).
    pub fn job(&self) -> &EmailJob {
        self.record
            .email_job
            .as_ref()
            .expect("an invite built with an email job")
    }

    /// The same invitation created with `send_email: false`: no email job,
    /// no delivery, never sent.
    pub fn without_email(mut self) -> Self {
        self.record.email_job = None;
        self.record.invitation.email_delivery = None;
        self.record.invitation.last_sent_at = None;
        self
    }

    /// The same invitation expiring at `expires_at`.
    pub fn expiring_at(mut self, expires_at: OffsetDateTime) -> Self {
        self.record.invitation.expires_at = expires_at;
        self
    }

    /// The same invitation addressed to a member of `business` (its
    /// `invitee_business_id` known from the start, as on its event).
    pub fn to_member_of(mut self, business: BusinessId) -> Self {
        self.record.invitation.invitee_business_id = Some(business);
        self.record.event.invitee_business_id = Some(business);
        self
    }
}

/// An invitation from `sender` to `address` created at `now`, with defaults.
pub fn invite(sender: &Tenant, address: &str, now: OffsetDateTime) -> Invite {
    invite_with(sender, request(address), now)
}

/// An invitation from `sender` for `request`, created at `now`, with its
/// link, `invitation.created` event and (unless `send_email` is false) email job.
pub fn invite_with(sender: &Tenant, request: InvitationRequest, now: OffsetDateTime) -> Invite {
    let send_email = request.send_email;
    let invitation = Invitation::new(
        InvitationId::from_uuid(new_uuid()),
        sender.id(),
        sender.user.id,
        request,
        now,
    );
    let token = secret();
    let link = LinkTokenRecord {
        hash: hash(&token),
        invitation_id: invitation.id,
        created_at: now,
    };
    let event = Event::created(
        EventId::from_uuid(new_uuid()),
        &invitation,
        Actor::Sender {
            user_id: sender.user.id,
        },
    );
    let email_job = send_email.then(|| email_job(&invitation, &token, now));
    Invite {
        record: NewInvitationRecord {
            invitation,
            link,
            event,
            email_job,
        },
        token,
    }
}

/// Builds an invitation with [`invite`] and inserts it.
pub async fn invited(store: &dyn Store, sender: &Tenant, address: &str, now: OffsetDateTime) -> Invite {
    insert(store, invite(sender, address, now)).await
}

/// Inserts a built invitation, expecting success.
pub async fn insert(store: &dyn Store, invite: Invite) -> Invite {
    store
        .insert_invitation(&invite.record)
        .await
        .expect("insert_invitation of a new invitation");
    invite
}

/// A queued email job for `invitation` carrying `token`, due at `now`.
pub fn email_job(invitation: &Invitation, token: &Secret, now: OffsetDateTime) -> EmailJob {
    EmailJob {
        id: EmailJobId::from_uuid(new_uuid()),
        invitation_id: invitation.id,
        to: invitation.email.clone(),
        link_token: Some(token.clone()),
        attempts: 0,
        status: EmailJobStatus::Queued,
        next_attempt_at: now,
        last_error: None,
        created_at: now,
    }
}

/// `before` moved to `status` at `now`, the way the domain moves it (no rule
/// is checked here: the store is what is under test).
pub fn moved(before: &Invitation, status: InvitationStatus, now: OffsetDateTime) -> Invitation {
    let mut after = before.clone();
    after.status = status;
    after.updated_at = now;
    after.resolved_at = Some(if status == InvitationStatus::Expired {
        before.expires_at
    } else {
        now
    });
    after
}

fn record(before: &Invitation, after: Invitation, actor: Actor, now: OffsetDateTime) -> TransitionRecord {
    let event = Event::transition(EventId::from_uuid(new_uuid()), before, &after, actor)
        .expect("a transition out of pending changes the status");
    TransitionRecord {
        invitation: after,
        expected: before.status,
        now,
        event,
        connection: None,
        new_invitee: None,
    }
}

/// Acceptance of `before` by a user of `invitee` at `now`, with the
/// connection and its `connection.created` event.
pub fn accept(before: &Invitation, invitee: BusinessId, now: OffsetDateTime) -> TransitionRecord {
    let mut after = moved(before, InvitationStatus::Accepted, now);
    after.invitee_business_id = Some(invitee);
    let actor = Actor::Invitee { user_id: None };
    let mut record = record(before, after, actor, now);
    let connection = Connection::from_invitation(ConnectionId::from_uuid(new_uuid()), &record.invitation, invitee, now);
    let created = Event::connection_created(EventId::from_uuid(new_uuid()), &record.invitation, &connection, actor);
    record.connection = Some((connection, created));
    record
}

/// Acceptance by link of `before`, whose email has no user yet: creates a
/// business named `business_name` with a user of the invited email.
pub fn accept_as_new_invitee(before: &Invitation, business_name: &str, now: OffsetDateTime) -> TransitionRecord {
    let new_business = business(business_name, now);
    let new_user = user(new_business.id, before.email.as_str(), now);
    let mut after = moved(before, InvitationStatus::Accepted, now);
    after.invitee_business_id = Some(new_business.id);
    let actor = Actor::Invitee {
        user_id: Some(new_user.id),
    };
    let mut record = record(before, after, actor, now);
    let connection = Connection::from_invitation(
        ConnectionId::from_uuid(new_uuid()),
        &record.invitation,
        new_business.id,
        now,
    );
    let created = Event::connection_created(EventId::from_uuid(new_uuid()), &record.invitation, &connection, actor);
    record.connection = Some((connection, created));
    record.new_invitee = Some(NewInvitee {
        business: new_business,
        user: new_user,
    });
    record
}

/// Rejection of `before` by the invitee at `now`.
pub fn reject(before: &Invitation, now: OffsetDateTime) -> TransitionRecord {
    let after = moved(before, InvitationStatus::Rejected, now);
    record(before, after, Actor::Invitee { user_id: None }, now)
}

/// Cancellation of `before` by its sender at `now`.
pub fn cancel(before: &Invitation, now: OffsetDateTime) -> TransitionRecord {
    let after = moved(before, InvitationStatus::Cancelled, now);
    let actor = Actor::Sender {
        user_id: before.sent_by_user_id,
    };
    record(before, after, actor, now)
}

/// Expiry of `before` by rsvp at `now`.
pub fn expire(before: &Invitation, now: OffsetDateTime) -> TransitionRecord {
    let after = moved(before, InvitationStatus::Expired, now);
    record(before, after, Actor::System, now)
}

/// A resend and its new link token in clear.
#[derive(Debug, Clone)]
pub struct Resend {
    /// What `record_resend` writes.
    pub record: ResendRecord,
    /// The new link token.
    pub token: Secret,
}

impl Resend {
    /// The hash of the new link token.
    pub fn link_hash(&self) -> SecretHash {
        self.record.link.hash
    }
}

/// A resend of `invitation` by its sender at `now`, with the [`COOLDOWN`].
pub fn resend(invitation: &Invitation, now: OffsetDateTime, revoke_previous_links: bool) -> Resend {
    let token = secret();
    let actor = Actor::Sender {
        user_id: invitation.sent_by_user_id,
    };
    let record = ResendRecord {
        invitation_id: invitation.id,
        now,
        not_sent_after: now - COOLDOWN,
        link: LinkTokenRecord {
            hash: hash(&token),
            invitation_id: invitation.id,
            created_at: now,
        },
        revoke_previous_links,
        event: Event::resent(EventId::from_uuid(new_uuid()), invitation, actor, now),
        email_job: email_job(invitation, &token, now),
    };
    Resend { record, token }
}

/// An unfiltered query of the first page of 50, reading statuses at `now`.
pub fn query(now: OffsetDateTime) -> InvitationQuery {
    InvitationQuery {
        filter: InvitationFilter::default(),
        limit: PageSize::default(),
        after: None,
        now,
    }
}

/// A query of `statuses` (as they read at `now`), first page of `size`.
pub fn query_statuses(now: OffsetDateTime, statuses: &[InvitationStatus], size: i64) -> InvitationQuery {
    InvitationQuery {
        filter: InvitationFilter {
            statuses: statuses.to_vec(),
            email: None,
        },
        limit: limit(size),
        ..query(now)
    }
}

/// Which invitation list to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    /// `list_sent`.
    Sent,
    /// `list_received`.
    Received,
}

/// Every invitation of a list, following `next` from the first page of
/// `query` to the last. Checks on the way that a page is never longer than
/// the limit, that a page with a `next` is full, and that a `next` never
/// leads to an empty page.
pub async fn all_invitations(
    store: &dyn Store,
    list: List,
    business: BusinessId,
    mut query: InvitationQuery,
) -> Vec<Invitation> {
    let mut rows = Vec::new();
    for page_number in 0..MAX_PAGES {
        let page = match list {
            List::Sent => store.list_sent(business, &query).await.expect("list_sent"),
            List::Received => store.list_received(business, &query).await.expect("list_received"),
        };
        check_page(page_number, page.items.len(), page.next.is_some(), query.limit);
        rows.extend(page.items);
        match page.next {
            Some(next) => query.after = Some(next),
            None => return rows,
        }
    }
    panic!("{list:?} did not end after {MAX_PAGES} pages");
}

/// Every invitation `business` sent, as [`all_invitations`] reads them.
pub async fn all_sent(store: &dyn Store, business: BusinessId, query: InvitationQuery) -> Vec<Invitation> {
    all_invitations(store, List::Sent, business, query).await
}

/// Every invitation `business` received, as [`all_invitations`] reads them.
pub async fn all_received(store: &dyn Store, business: BusinessId, query: InvitationQuery) -> Vec<Invitation> {
    all_invitations(store, List::Received, business, query).await
}

/// Every event visible to `business`, in pages of `size`.
pub async fn all_events_paged(store: &dyn Store, business: BusinessId, size: i64) -> Vec<Event> {
    let mut query = EventQuery {
        limit: limit(size),
        after: None,
    };
    let mut rows = Vec::new();
    for page_number in 0..MAX_PAGES {
        let page = store.list_events(business, &query).await.expect("list_events");
        check_page(page_number, page.items.len(), page.next.is_some(), query.limit);
        rows.extend(page.items);
        match page.next {
            Some(next) => query.after = Some(next),
            None => return rows,
        }
    }
    panic!("list_events did not end after {MAX_PAGES} pages");
}

/// Every event visible to `business`, in pages of 200.
pub async fn all_events(store: &dyn Store, business: BusinessId) -> Vec<Event> {
    all_events_paged(store, business, 200).await
}

/// The kinds of `events`, in order.
pub fn kinds(events: &[Event]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind).collect()
}

/// Every connection of `business`, in pages of `size`.
pub async fn all_connections(store: &dyn Store, business: BusinessId, size: i64) -> Vec<Connection> {
    let mut page_request = PageRequest {
        limit: limit(size),
        after: None,
    };
    let mut rows = Vec::new();
    for page_number in 0..MAX_PAGES {
        let page = store
            .list_connections(business, &page_request)
            .await
            .expect("list_connections");
        check_page(page_number, page.items.len(), page.next.is_some(), page_request.limit);
        rows.extend(page.items);
        match page.next {
            Some(next) => page_request.after = Some(next),
            None => return rows,
        }
    }
    panic!("list_connections did not end after {MAX_PAGES} pages");
}

fn check_page(page_number: usize, len: usize, has_next: bool, limit: PageSize) {
    assert!(
        len <= limit.as_usize(),
        "page {page_number} holds {len} rows, more than the limit {}",
        limit.get()
    );
    if has_next {
        assert_eq!(
            len,
            limit.as_usize(),
            "page {page_number} has a next page but is not full"
        );
    }
    if page_number > 0 {
        assert!(len > 0, "page {page_number}, reached through a cursor, is empty");
    }
}

/// The ids of `invitations`, in order.
pub fn ids(invitations: &[Invitation]) -> Vec<InvitationId> {
    invitations.iter().map(|i| i.id).collect()
}

/// `invitations` sorted newest first: `created_at`, then `id`, descending.
pub fn newest_first(mut invitations: Vec<Invitation>) -> Vec<Invitation> {
    invitations.sort_by_key(|i| std::cmp::Reverse((i.created_at, i.id)));
    invitations
}

/// The job as a claim at `now` with `lease` returns it: leased, the attempt counted.
pub fn claimed(job: &EmailJob, now: OffsetDateTime, lease: Duration) -> EmailJob {
    EmailJob {
        attempts: job.attempts + 1,
        next_attempt_at: now + lease,
        ..job.clone()
    }
}

/// The ids of `jobs`, in order.
pub fn job_ids(jobs: &[EmailJob]) -> Vec<EmailJobId> {
    jobs.iter().map(|j| j.id).collect()
}
