//! [`App`]: every use case of rsvp, over the ports.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rsvp_domain::{
    AccessDenied, Action, Actor, ApiKey, ApiKeyId, ApiKeyName, Business, BusinessId, BusinessName, Connection,
    ConnectionId, EmailAddress, EmailJobId, Event, EventId, FieldError, Invitation, InvitationId, InvitationRequest,
    LAST_USED_GRANULARITY, Locale, OptOutScope, PersonName, Suppression, SuppressionId, User, UserId, ValidationErrors,
    check_access,
};
use time::{Duration, OffsetDateTime};

use crate::list::{EventQuery, InvitationFilter, InvitationQuery, Page, PageRequest, PageSize, SuppressionQuery};
use crate::ports::{
    ApiKeyRecord, Clock, Credential, EmailJob, EmailJobStatus, IdGenerator, LinkTokenRecord, NewInvitationRecord,
    NewInvitee, Principal, ResendRecord, SecretGenerator, Store, StoreError, TransitionOutcome, TransitionRecord,
};
use crate::{AppError, Cursor, Secret};

/// Most invitations in one bulk request.
pub const MAX_BULK_INVITATIONS: usize = 1000;

/// Tunables of the use cases.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Minimum time between two sends of one invitation's link (default 60 s).
    pub resend_cooldown: Duration,
    /// Most emails one business may queue in any hour, creates and resends
    /// together (default 10,000; `0` turns the cap off). Counted in the store,
    /// so it holds across replicas.
    pub emails_per_hour: u32,
    /// The language of an invitation created without `locale` (default English).
    pub default_locale: Locale,
    /// The origins a `redirect_url` may point to, as
    /// [`RedirectUrl::origin`](rsvp_domain::RedirectUrl::origin) writes them
    /// (read them with [`rsvp_domain::parse_origin`]). Empty (the default):
    /// no `redirect_url` is allowed.
    pub redirect_origins: Vec<String>,
    /// What webhook endpoints may target beyond public https URLs (default
    /// nothing more).
    pub webhook_policy: rsvp_domain::webhook::UrlPolicy,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            resend_cooldown: Duration::seconds(60),
            emails_per_hour: 10_000,
            default_locale: Locale::En,
            redirect_origins: Vec::new(),
            webhook_policy: rsvp_domain::webhook::UrlPolicy::default(),
        }
    }
}

/// The window of [`Settings::emails_per_hour`].
const EMAIL_CAP_WINDOW: Duration = Duration::HOUR;

/// The adapters the use cases run on.
#[derive(Clone)]
pub struct Ports {
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Ids.
    pub ids: Arc<dyn IdGenerator>,
    /// Secrets.
    pub secrets: Arc<dyn SecretGenerator>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports").finish_non_exhaustive()
    }
}

/// Input of [`App::provision_business`] (the operator API).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewBusinessInput {
    /// Business name.
    pub name: Option<String>,
    /// Its first user.
    pub user: NewUserInput,
}

/// Input of [`App::add_user`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewUserInput {
    /// Required, unique.
    pub email: Option<String>,
    /// Optional.
    pub first_name: Option<String>,
    /// Optional.
    pub last_name: Option<String>,
}

/// A business, its first user, and that user's API key (shown once).
#[derive(Debug, Clone)]
pub struct ProvisionedBusiness {
    /// The business.
    pub business: Business,
    /// Its first user.
    pub user: User,
    /// The user's API key, in clear, once.
    pub api_key: Secret,
    /// That key's id.
    pub api_key_id: ApiKeyId,
}

/// A user and its API key (shown once).
#[derive(Debug, Clone)]
pub struct ProvisionedUser {
    /// The user.
    pub user: User,
    /// Its API key, in clear, once.
    pub api_key: Secret,
    /// That key's id.
    pub api_key_id: ApiKeyId,
}

/// A created invitation.
#[derive(Debug, Clone)]
pub struct CreatedInvitation {
    /// The invitation.
    pub invitation: Invitation,
    /// The link token, returned only when no email is sent (`send_email:
    /// false`), so the sender can share the link another way.
    pub link_token: Option<Secret>,
}

/// One refused item of a bulk request.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkFailure {
    /// Position in the request.
    pub index: usize,
    /// Why.
    pub error: AppError,
}

/// The result of a bulk request: items are independent.
#[derive(Debug, Clone)]
pub struct BulkOutcome {
    /// Created invitations, in request order.
    pub successful: Vec<CreatedInvitation>,
    /// Refused items, in request order.
    pub failed: Vec<BulkFailure>,
}

/// How the caller relates to an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    /// The caller's business sent it (sees `custom_data`).
    Sender,
    /// It is addressed to the caller's business.
    Invitee,
}

/// An invitation as one caller sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct InvitationView {
    /// The invitation as it reads now.
    pub invitation: Invitation,
    /// The caller's side.
    pub viewer: Viewer,
}

/// What a link holder may see before answering.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkPreview {
    /// The invitation as it reads now (never show its `custom_data`).
    pub invitation: Invitation,
    /// The sending business.
    pub sender: Business,
    /// The sending user, if still there.
    pub sender_user: Option<User>,
    /// Whether the invited email already belongs to a user (then accepting
    /// needs no `business_name`).
    pub invitee_known: bool,
}

/// What an opt-out did.
#[derive(Debug, Clone, PartialEq)]
pub struct OptOut {
    /// The suppression now standing (the earlier one when the same opt-out
    /// was already recorded).
    pub suppression: Suppression,
    /// The invitation of the link, as it reads after the opt-out.
    pub invitation: Invitation,
    /// Whether this opt-out declined the invitation (it was pending).
    pub declined: bool,
}

/// Input of [`App::accept_link`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AcceptLinkInput {
    /// Required when the invited email has no user yet: the name of the
    /// business to create.
    pub business_name: Option<String>,
    /// The new user's first name.
    pub first_name: Option<String>,
    /// The new user's last name.
    pub last_name: Option<String>,
}

/// List parameters as the caller gives them (already parsed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListParams {
    /// Filters.
    pub filter: InvitationFilter,
    /// Page size.
    pub limit: PageSize,
    /// Continue after.
    pub after: Option<Cursor>,
}

/// Every use case of rsvp. Cheap to clone.
#[derive(Debug, Clone)]
pub struct App {
    pub(crate) ports: Ports,
    pub(crate) settings: Settings,
    pub(crate) resolver: Resolver,
}

/// The host resolver of the webhook URL check, if any.
#[derive(Clone, Default)]
pub(crate) struct Resolver(pub(crate) Option<Arc<dyn crate::ports::HostResolver>>);

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Resolver").field(&self.0.is_some()).finish()
    }
}

pub(crate) fn optional_name(errors: &mut ValidationErrors, field: &str, value: Option<&str>) -> Option<PersonName> {
    value
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| errors.collect(field, PersonName::parse(v)))
}

impl App {
    /// Builds the application over its ports.
    pub fn new(ports: Ports, settings: Settings) -> Self {
        Self {
            ports,
            settings,
            resolver: Resolver::default(),
        }
    }

    /// Resolves the host of a new or changed webhook URL with `resolver`,
    /// refusing it when it resolves to an address the policy forbids.
    /// Without one, only literal addresses and `localhost` names are checked
    /// at registration (every delivery checks what the name resolves to).
    #[must_use]
    pub fn with_resolver(mut self, resolver: Arc<dyn crate::ports::HostResolver>) -> Self {
        self.resolver = Resolver(Some(resolver));
        self
    }

    /// The settings in use.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The ports in use (adapters such as the email dispatcher share them).
    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        self.ports.clock.now()
    }

    pub(crate) fn new_id(&self) -> uuid::Uuid {
        self.ports.ids.new_id()
    }

    /// A new key for `user_id`: its secret (shown once) and what is stored.
    pub(crate) fn new_api_key(
        &self,
        user_id: UserId,
        name: ApiKeyName,
        expires_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> (Secret, ApiKeyRecord) {
        let secret = Secret::new(format!("rsvp_{}", self.ports.secrets.generate().expose()));
        let record = ApiKeyRecord {
            key: ApiKey {
                id: ApiKeyId::from_uuid(self.new_id()),
                user_id,
                name,
                prefix: ApiKey::prefix_of(secret.expose()),
                created_at: now,
                expires_at,
                last_used_at: None,
            },
            hash: self.ports.secrets.hash(secret.expose()),
        };
        (secret, record)
    }

    fn default_api_key(&self, user_id: UserId, now: OffsetDateTime) -> Result<(Secret, ApiKeyRecord), AppError> {
        let name = ApiKeyName::parse(ApiKeyName::DEFAULT).map_err(|e| AppError::Unavailable(e.message))?;
        Ok(self.new_api_key(user_id, name, None, now))
    }

    fn validate_user(&self, input: &NewUserInput, prefix: &str, errors: &mut ValidationErrors) -> Option<ValidUser> {
        let field = |name: &str| {
            if prefix.is_empty() {
                name.to_owned()
            } else {
                format!("{prefix}.{name}")
            }
        };
        let email = match &input.email {
            Some(email) => errors.collect(&field("email"), EmailAddress::parse(email)),
            None => {
                errors.push(FieldError::new(field("email"), "required", "email is required"));
                None
            }
        };
        let first_name = optional_name(errors, &field("first_name"), input.first_name.as_deref());
        let last_name = optional_name(errors, &field("last_name"), input.last_name.as_deref());
        email.map(|email| ValidUser {
            email,
            first_name,
            last_name,
        })
    }

    fn user_from(&self, valid: ValidUser, business_id: BusinessId, now: OffsetDateTime) -> User {
        User {
            id: UserId::from_uuid(self.new_id()),
            business_id,
            email: valid.email,
            first_name: valid.first_name,
            last_name: valid.last_name,
            created_at: now,
            deactivated_at: None,
        }
    }

    /// Creates a business with its first user and that user's API key.
    ///
    /// # Errors
    /// [`AppError::Validation`] (`name`, `user.email`, ...),
    /// [`AppError::EmailTaken`].
    pub async fn provision_business(&self, input: NewBusinessInput) -> Result<ProvisionedBusiness, AppError> {
        let mut errors = ValidationErrors::new();
        let name = match &input.name {
            Some(name) => errors.collect("name", BusinessName::parse(name)),
            None => {
                errors.push(FieldError::new("name", "required", "name is required"));
                None
            }
        };
        let user = self.validate_user(&input.user, "user", &mut errors);
        let (Some(name), Some(user), true) = (name, user, errors.is_empty()) else {
            return Err(AppError::Validation(errors));
        };
        let now = self.now();
        let business = Business {
            id: BusinessId::from_uuid(self.new_id()),
            name,
            created_at: now,
            suspended_at: None,
        };
        let user = self.user_from(user, business.id, now);
        let (api_key, key) = self.default_api_key(user.id, now)?;
        self.ports.store.create_business(&business, &user, &key).await?;
        Ok(ProvisionedBusiness {
            business,
            user,
            api_key,
            api_key_id: key.key.id,
        })
    }

    /// Adds a user with an API key to a business.
    ///
    /// # Errors
    /// [`AppError::Validation`], [`AppError::NotFound`] (no such business),
    /// [`AppError::EmailTaken`].
    pub async fn add_user(&self, business_id: BusinessId, input: NewUserInput) -> Result<ProvisionedUser, AppError> {
        let mut errors = ValidationErrors::new();
        let valid = self.validate_user(&input, "", &mut errors);
        let (Some(valid), true) = (valid, errors.is_empty()) else {
            return Err(AppError::Validation(errors));
        };
        let now = self.now();
        let user = self.user_from(valid, business_id, now);
        let (api_key, key) = self.default_api_key(user.id, now)?;
        self.ports.store.add_user(&user, &key).await?;
        Ok(ProvisionedUser {
            user,
            api_key,
            api_key_id: key.key.id,
        })
    }

    /// The caller an API key acts as. Read from the store on every call (no
    /// cache), so a revoked key, a deactivated user or a suspended business
    /// is refused at once on every replica. A use is recorded in
    /// `last_used_at` at most once a minute per key.
    ///
    /// # Errors
    /// [`AppError::Unauthorized`] for an unknown, revoked or expired key and
    /// for a deactivated user; [`AppError::BusinessSuspended`] for a
    /// suspended business.
    pub async fn authenticate(&self, api_key: &str) -> Result<Principal, AppError> {
        // The hash lookup compares digests of fixed length, so timing tells nothing of the key.
        let hash = self.ports.secrets.hash(api_key);
        let credential = self
            .ports
            .store
            .find_credential(&hash)
            .await?
            .ok_or(AppError::Unauthorized)?;
        let now = self.now();
        let Credential { key, principal } = credential;
        match check_access(&key, &principal.user, &principal.business, now) {
            Ok(()) => {}
            Err(AccessDenied::KeyExpired | AccessDenied::UserDeactivated) => return Err(AppError::Unauthorized),
            Err(AccessDenied::BusinessSuspended) => return Err(AppError::BusinessSuspended),
        }
        if key.use_is_worth_recording(now) {
            let recorded = self
                .ports
                .store
                .record_api_key_use(key.id, now, now - LAST_USED_GRANULARITY)
                .await;
            // Bookkeeping only: a failed write must not refuse a valid key.
            if let Err(error) = recorded {
                tracing::warn!(api_key_id = %key.id, error = %error, "could not record an API key's use");
            }
        }
        Ok(principal)
    }

    /// Checks everything about a new invitation that needs the store, and
    /// builds what to write.
    async fn prepare_invitation(
        &self,
        principal: &Principal,
        request: InvitationRequest,
        now: OffsetDateTime,
    ) -> Result<(NewInvitationRecord, Option<Secret>), AppError> {
        let store = &self.ports.store;
        let invitee = store.find_user_by_email(&request.email).await?;
        let connected = match &invitee {
            Some(user) if user.business_id != principal.business.id => {
                store.are_connected(principal.business.id, user.business_id).await?
            }
            _ => false,
        };
        let pending = store.find_pending(principal.business.id, &request.email).await?;
        let suppressed = !store
            .suppressions_for(principal.business.id, std::slice::from_ref(&request.email))
            .await?
            .is_empty();
        self.build_invitation(
            principal,
            request,
            Lookups {
                invitee,
                connected,
                pending,
                suppressed,
            },
            now,
        )
        .await
    }

    /// Applies the rules that need the store's answers (`lookups`), and
    /// builds what to write.
    async fn build_invitation(
        &self,
        principal: &Principal,
        request: InvitationRequest,
        lookups: Lookups,
        now: OffsetDateTime,
    ) -> Result<(NewInvitationRecord, Option<Secret>), AppError> {
        let Lookups {
            invitee,
            connected,
            pending,
            suppressed,
        } = lookups;
        let mut request = request;
        self.check_redirect(&request)?;
        request.locale.get_or_insert(self.settings.default_locale);
        if let Some(invitee) = &invitee {
            if invitee.business_id == principal.business.id {
                return Err(AppError::SelfInvite);
            }
            if connected {
                return Err(AppError::AlreadyConnected);
            }
        }
        if suppressed {
            return Err(AppError::RecipientOptedOut);
        }
        if let Some(existing) = pending {
            if existing.is_pending_at(now) {
                return Err(AppError::AlreadyInvited);
            }
            // Lazily expired: persist the expiry so the email can be invited again.
            self.persist_expiry(&existing, now).await?;
        }
        let send_email = request.send_email;
        let mut invitation = Invitation::new(
            InvitationId::from_uuid(self.new_id()),
            principal.business.id,
            principal.user.id,
            request,
            now,
        );
        invitation.invitee_business_id = invitee.map(|u| u.business_id);
        let token = self.ports.secrets.generate();
        let link = LinkTokenRecord {
            hash: self.ports.secrets.hash(token.expose()),
            invitation_id: invitation.id,
            created_at: now,
        };
        let event = Event::created(
            EventId::from_uuid(self.new_id()),
            &invitation,
            Actor::Sender {
                user_id: principal.user.id,
            },
        );
        let (email_job, shown_token) = if send_email {
            (Some(self.email_job(&invitation, token, now)), None)
        } else {
            (None, Some(token))
        };
        Ok((
            NewInvitationRecord {
                invitation,
                link,
                event,
                email_job,
            },
            shown_token,
        ))
    }

    /// Refuses a `redirect_url` whose origin is not among the allowed ones.
    fn check_redirect(&self, request: &InvitationRequest) -> Result<(), AppError> {
        let Some(url) = &request.redirect_url else {
            return Ok(());
        };
        if self.settings.redirect_origins.iter().any(|o| o == url.origin()) {
            return Ok(());
        }
        let message = if self.settings.redirect_origins.is_empty() {
            "redirect_url is not allowed: this server allows no redirect origins (RSVP_REDIRECT_ORIGINS)".to_owned()
        } else {
            format!(
                "the origin {} of redirect_url is not allowed; allowed: {}",
                url.origin(),
                self.settings.redirect_origins.join(", ")
            )
        };
        Err(AppError::field("redirect_url", "origin_not_allowed", &message))
    }

    fn email_job(&self, invitation: &Invitation, token: Secret, now: OffsetDateTime) -> EmailJob {
        EmailJob {
            id: EmailJobId::from_uuid(self.new_id()),
            invitation_id: invitation.id,
            to: invitation.email.clone(),
            link_token: Some(token),
            attempts: 0,
            status: EmailJobStatus::Queued,
            next_attempt_at: now,
            last_error: None,
            created_at: now,
        }
    }

    /// How many more emails `business` may queue at `now` (`None`: no cap),
    /// and the error to refuse one more with.
    async fn email_allowance(
        &self,
        business: BusinessId,
        now: OffsetDateTime,
    ) -> Result<Option<(u64, AppError)>, AppError> {
        let cap = u64::from(self.settings.emails_per_hour);
        if cap == 0 {
            return Ok(None);
        }
        let queued = self
            .ports
            .store
            .emails_queued_since(business, now - EMAIL_CAP_WINDOW)
            .await?;
        // The oldest email leaves the window (which includes its start) just
        // after `oldest + 1 h`: one second more than the whole seconds left.
        let wait = queued
            .oldest
            .map_or(Duration::ZERO, |oldest| oldest + EMAIL_CAP_WINDOW - now);
        let retry_after_secs = u64::try_from(wait.whole_seconds()).unwrap_or(0) + 1;
        Ok(Some((
            cap.saturating_sub(queued.count),
            AppError::QuotaExceeded { retry_after_secs },
        )))
    }

    /// Refuses one more email from `business` when its cap is reached.
    async fn check_email_cap(&self, business: BusinessId, now: OffsetDateTime) -> Result<(), AppError> {
        match self.email_allowance(business, now).await? {
            Some((0, refusal)) => Err(refusal),
            _ => Ok(()),
        }
    }

    async fn persist_expiry(&self, invitation: &Invitation, now: OffsetDateTime) -> Result<bool, AppError> {
        let Ok(expired) = invitation.expire(now) else {
            return Ok(false);
        };
        let Some(event) = Event::transition(EventId::from_uuid(self.new_id()), invitation, &expired, Actor::System)
        else {
            return Ok(false);
        };
        let record = TransitionRecord {
            invitation: expired,
            expected: invitation.status,
            now,
            event,
            connection: None,
            new_invitee: None,
        };
        match self.ports.store.apply_transition(&record).await {
            Ok(_) => Ok(true),
            // Someone else (a sweeper, an answer) got there first: fine.
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }

    /// Invites an email on behalf of the caller's business.
    ///
    /// # Errors
    /// [`AppError::SelfInvite`], [`AppError::AlreadyConnected`],
    /// [`AppError::AlreadyInvited`]; [`AppError::QuotaExceeded`] when the
    /// invitation would send an email past the business's hourly cap.
    pub async fn invite(
        &self,
        principal: &Principal,
        request: InvitationRequest,
    ) -> Result<CreatedInvitation, AppError> {
        let now = self.now();
        let (record, link_token) = self.prepare_invitation(principal, request, now).await?;
        if record.email_job.is_some() {
            self.check_email_cap(principal.business.id, now).await?;
        }
        self.ports.store.insert_invitation(&record).await?;
        Ok(CreatedInvitation {
            invitation: record.invitation,
            link_token,
        })
    }

    /// Invites many emails; each item succeeds or fails on its own. Items
    /// that failed validation come in as `Err` and are reported as they are.
    ///
    /// Items that would send an email past the business's hourly cap fail
    /// with [`AppError::QuotaExceeded`]; the earlier ones (in request order)
    /// that fit under it go through.
    ///
    /// # Errors
    /// [`AppError::Validation`] on `invitations` when there are more than
    /// [`MAX_BULK_INVITATIONS`] items or none; otherwise only store failures.
    pub async fn bulk_invite(
        &self,
        principal: &Principal,
        items: Vec<Result<InvitationRequest, ValidationErrors>>,
    ) -> Result<BulkOutcome, AppError> {
        if items.is_empty() || items.len() > MAX_BULK_INVITATIONS {
            return Err(AppError::field(
                "invitations",
                "out_of_range",
                "invitations must hold 1 to 1000 items",
            ));
        }
        let now = self.now();
        let mut failed = Vec::new();
        let mut valid = Vec::new();
        let mut seen = HashSet::new();
        for (index, item) in items.into_iter().enumerate() {
            match item {
                Err(errors) => failed.push(BulkFailure {
                    index,
                    error: AppError::Validation(errors),
                }),
                Ok(request) if !seen.insert(request.email.normalized().to_owned()) => {
                    failed.push(BulkFailure {
                        index,
                        error: AppError::DuplicateInRequest,
                    });
                }
                Ok(request) => valid.push((index, request)),
            }
        }
        // Four reads for the whole batch, not four per item.
        let store = &self.ports.store;
        let emails: Vec<EmailAddress> = valid.iter().map(|(_, r)| r.email.clone()).collect();
        let users: HashMap<String, User> = store
            .find_users_by_emails(&emails)
            .await?
            .into_iter()
            .map(|u| (u.email.normalized().to_owned(), u))
            .collect();
        let mut others: Vec<BusinessId> = users
            .values()
            .map(|u| u.business_id)
            .filter(|b| *b != principal.business.id)
            .collect();
        others.sort();
        others.dedup();
        let connected: HashSet<BusinessId> = store
            .connected_among(principal.business.id, &others)
            .await?
            .into_iter()
            .collect();
        let mut pending: HashMap<String, Invitation> = store
            .find_pending_for_emails(principal.business.id, &emails)
            .await?
            .into_iter()
            .map(|i| (i.email.normalized().to_owned(), i))
            .collect();
        let suppressed: HashSet<String> = store
            .suppressions_for(principal.business.id, &emails)
            .await?
            .into_iter()
            .map(|s| s.email.normalized().to_owned())
            .collect();
        let mut prepared = Vec::new();
        for (index, request) in valid {
            let key = request.email.normalized().to_owned();
            let invitee = users.get(&key).cloned();
            let lookups = Lookups {
                connected: invitee.as_ref().is_some_and(|u| connected.contains(&u.business_id)),
                invitee,
                pending: pending.remove(&key),
                suppressed: suppressed.contains(&key),
            };
            match self.build_invitation(principal, request, lookups, now).await {
                Ok(ready) => prepared.push((index, ready)),
                Err(error @ AppError::Unavailable(_)) => return Err(error),
                Err(error) => failed.push(BulkFailure { index, error }),
            }
        }
        let sends_email = prepared.iter().any(|(_, (record, _))| record.email_job.is_some());
        if sends_email && let Some((mut remaining, refusal)) = self.email_allowance(principal.business.id, now).await? {
            // Request order decides which items fit under the cap.
            prepared.retain(|(index, (record, _))| {
                if record.email_job.is_none() {
                    return true;
                }
                if remaining == 0 {
                    failed.push(BulkFailure {
                        index: *index,
                        error: refusal.clone(),
                    });
                    return false;
                }
                remaining -= 1;
                true
            });
        }
        let records: Vec<NewInvitationRecord> = prepared.iter().map(|(_, (record, _))| record.clone()).collect();
        let results = self.ports.store.insert_invitations(&records).await?;
        let mut successful = Vec::with_capacity(records.len());
        for ((index, (record, link_token)), result) in prepared.into_iter().zip(results) {
            match result {
                Ok(()) => successful.push(CreatedInvitation {
                    invitation: record.invitation,
                    link_token,
                }),
                Err(error) => failed.push(BulkFailure {
                    index,
                    error: error.into(),
                }),
            }
        }
        failed.sort_by_key(|f| f.index);
        Ok(BulkOutcome { successful, failed })
    }

    /// How `principal` relates to `invitation`, if at all.
    async fn viewer_of(&self, principal: &Principal, invitation: &Invitation) -> Result<Option<Viewer>, AppError> {
        if invitation.business_id == principal.business.id {
            return Ok(Some(Viewer::Sender));
        }
        if invitation.invitee_business_id == Some(principal.business.id) {
            return Ok(Some(Viewer::Invitee));
        }
        let owner = self.ports.store.find_user_by_email(&invitation.email).await?;
        Ok(owner
            .filter(|u| u.business_id == principal.business.id)
            .map(|_| Viewer::Invitee))
    }

    async fn visible_invitation(&self, principal: &Principal, id: InvitationId) -> Result<InvitationView, AppError> {
        let invitation = self.ports.store.get_invitation(id).await?.ok_or(AppError::NotFound)?;
        let viewer = self
            .viewer_of(principal, &invitation)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(InvitationView { invitation, viewer })
    }

    /// One invitation the caller's business sent or received, as it reads now.
    ///
    /// # Errors
    /// [`AppError::NotFound`] when the caller's business neither sent nor
    /// received it.
    pub async fn get_invitation(&self, principal: &Principal, id: InvitationId) -> Result<InvitationView, AppError> {
        let mut view = self.visible_invitation(principal, id).await?;
        view.invitation = view.invitation.as_of(self.now());
        Ok(view)
    }

    fn query(&self, params: ListParams) -> InvitationQuery {
        InvitationQuery {
            filter: params.filter,
            limit: params.limit,
            after: params.after,
            now: self.now(),
        }
    }

    /// Invitations the caller's business sent, newest first.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn list_sent(&self, principal: &Principal, params: ListParams) -> Result<Page<Invitation>, AppError> {
        let query = self.query(params);
        let page = self.ports.store.list_sent(principal.business.id, &query).await?;
        Ok(page.map(|i| i.as_of(query.now)))
    }

    /// Invitations addressed to the caller's business's users, newest first;
    /// cancelled ones are left out.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn list_received(&self, principal: &Principal, params: ListParams) -> Result<Page<Invitation>, AppError> {
        let query = self.query(params);
        let page = self.ports.store.list_received(principal.business.id, &query).await?;
        Ok(page.map(|i| i.as_of(query.now)))
    }

    /// Answers (invitee: accept, reject) or cancels (sender) an invitation.
    ///
    /// # Errors
    /// [`AppError::NotFound`] when the caller can see nothing of it;
    /// [`AppError::Forbidden`] for the wrong side;
    /// [`AppError::InvalidTransition`] unless pending (exactly one of
    /// concurrent callers wins).
    pub async fn change_status(
        &self,
        principal: &Principal,
        id: InvitationId,
        action: Action,
    ) -> Result<TransitionOutcome, AppError> {
        let view = self.visible_invitation(principal, id).await?;
        let actor = match view.viewer {
            Viewer::Sender => Actor::Sender {
                user_id: principal.user.id,
            },
            Viewer::Invitee => Actor::Invitee {
                user_id: Some(principal.user.id),
            },
        };
        let invitee_business = match view.viewer {
            Viewer::Invitee => Some(principal.business.id),
            Viewer::Sender => None,
        };
        self.transition(view.invitation, action, actor, invitee_business, None)
            .await
    }

    async fn transition(
        &self,
        invitation: Invitation,
        action: Action,
        actor: Actor,
        invitee_business: Option<BusinessId>,
        new_invitee: Option<NewInvitee>,
    ) -> Result<TransitionOutcome, AppError> {
        let now = self.now();
        let mut after = invitation.transition(action, &actor, now)?;
        if let Some(business) = invitee_business {
            after.invitee_business_id = Some(business);
        }
        let event = Event::transition(EventId::from_uuid(self.new_id()), &invitation, &after, actor).ok_or(
            AppError::InvalidTransition {
                current: invitation.status,
            },
        )?;
        let connection = match (action, after.invitee_business_id) {
            (Action::Accept, Some(invitee)) => {
                let connection =
                    Connection::from_invitation(ConnectionId::from_uuid(self.new_id()), &after, invitee, now);
                let created = Event::connection_created(EventId::from_uuid(self.new_id()), &after, &connection, actor);
                Some((connection, created))
            }
            _ => None,
        };
        let record = TransitionRecord {
            invitation: after,
            expected: invitation.status,
            now,
            event,
            connection,
            new_invitee,
        };
        Ok(self.ports.store.apply_transition(&record).await?)
    }

    /// Sends a new link for a pending invitation (sender only). Earlier links
    /// keep working unless `revoke_previous_links`.
    ///
    /// # Errors
    /// [`AppError::NotFound`], [`AppError::Forbidden`] for the invitee,
    /// [`AppError::InvalidTransition`] unless pending,
    /// [`AppError::Cooldown`] within the cooldown of the last send,
    /// [`AppError::QuotaExceeded`] past the business's hourly email cap.
    pub async fn resend(
        &self,
        principal: &Principal,
        id: InvitationId,
        revoke_previous_links: bool,
    ) -> Result<Invitation, AppError> {
        let view = self.visible_invitation(principal, id).await?;
        if view.viewer != Viewer::Sender {
            return Err(AppError::Forbidden(
                "only the sending business may resend an invitation".into(),
            ));
        }
        let now = self.now();
        let invitation = view.invitation;
        let current = invitation.status_at(now);
        if current.is_terminal() {
            return Err(AppError::InvalidTransition { current });
        }
        if let Some(last) = invitation.last_sent_at {
            self.check_cooldown(last, now)?;
        }
        if !self
            .ports
            .store
            .suppressions_for(invitation.business_id, std::slice::from_ref(&invitation.email))
            .await?
            .is_empty()
        {
            return Err(AppError::RecipientOptedOut);
        }
        self.check_email_cap(principal.business.id, now).await?;
        let token = self.ports.secrets.generate();
        let link = LinkTokenRecord {
            hash: self.ports.secrets.hash(token.expose()),
            invitation_id: invitation.id,
            created_at: now,
        };
        let actor = Actor::Sender {
            user_id: principal.user.id,
        };
        let record = ResendRecord {
            invitation_id: invitation.id,
            now,
            not_sent_after: now - self.settings.resend_cooldown,
            link,
            revoke_previous_links,
            event: Event::resent(EventId::from_uuid(self.new_id()), &invitation, actor, now),
            email_job: self.email_job(&invitation, token, now),
        };
        match self.ports.store.record_resend(&record).await {
            Ok(invitation) => Ok(invitation),
            Err(StoreError::Cooldown { last_sent_at }) => Err(self.cooldown_error(last_sent_at, now)),
            Err(other) => Err(other.into()),
        }
    }

    fn check_cooldown(&self, last_sent_at: OffsetDateTime, now: OffsetDateTime) -> Result<(), AppError> {
        if last_sent_at > now - self.settings.resend_cooldown {
            Err(self.cooldown_error(last_sent_at, now))
        } else {
            Ok(())
        }
    }

    fn cooldown_error(&self, last_sent_at: OffsetDateTime, now: OffsetDateTime) -> AppError {
        let wait = last_sent_at + self.settings.resend_cooldown - now;
        let secs = u64::try_from(wait.whole_seconds()).unwrap_or(0);
        let secs = if wait.subsec_nanoseconds() > 0 { secs + 1 } else { secs };
        AppError::Cooldown {
            retry_after_secs: secs.max(1),
        }
    }

    async fn invitation_by_link(&self, token: &str) -> Result<Invitation, AppError> {
        let hash = self.ports.secrets.hash(token);
        self.ports
            .store
            .find_invitation_by_link(&hash)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// The sending business of `invitation`, unless it is suspended (its
    /// links then answer nothing).
    async fn active_sender(&self, invitation: &Invitation) -> Result<Business, AppError> {
        let sender = self
            .ports
            .store
            .get_business(invitation.business_id)
            .await?
            .ok_or(AppError::NotFound)?;
        if sender.is_suspended() {
            return Err(AppError::SenderSuspended);
        }
        Ok(sender)
    }

    /// What the holder of a link sees: sender's name, message, status, expiry.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for an unknown or revoked token;
    /// [`AppError::SenderSuspended`] when the sender is suspended.
    pub async fn preview_link(&self, token: &str) -> Result<LinkPreview, AppError> {
        let invitation = self.invitation_by_link(token).await?.as_of(self.now());
        let sender = self.active_sender(&invitation).await?;
        let invitee_known = self.ports.store.find_user_by_email(&invitation.email).await?.is_some();
        let sender_user = self.ports.store.get_user(invitation.sent_by_user_id).await?;
        Ok(LinkPreview {
            invitation,
            sender,
            sender_user,
            invitee_known,
        })
    }

    /// Accepts by link. When the invited email has no user yet, creates the
    /// invitee's business (`business_name` required) and user with it, then
    /// connects the two businesses.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for an unknown or revoked token;
    /// [`AppError::InvalidTransition`] unless pending;
    /// [`AppError::Validation`] for the body;
    /// [`AppError::SelfInvite`] when the email meanwhile joined the sender;
    /// [`AppError::SenderSuspended`] when the sender is suspended.
    pub async fn accept_link(&self, token: &str, input: AcceptLinkInput) -> Result<TransitionOutcome, AppError> {
        let invitation = self.invitation_by_link(token).await?;
        self.active_sender(&invitation).await?;
        let now = self.now();
        let current = invitation.status_at(now);
        if current.is_terminal() {
            return Err(AppError::InvalidTransition { current });
        }
        match self.ports.store.find_user_by_email(&invitation.email).await? {
            Some(user) if user.business_id == invitation.business_id => Err(AppError::SelfInvite),
            Some(user) => {
                let actor = Actor::Invitee { user_id: Some(user.id) };
                self.transition(invitation, Action::Accept, actor, Some(user.business_id), None)
                    .await
            }
            None => {
                let mut errors = ValidationErrors::new();
                let name = match input.business_name.as_deref().filter(|n| !n.trim().is_empty()) {
                    Some(name) => errors.collect("business_name", BusinessName::parse(name)),
                    None => {
                        errors.push(FieldError::new(
                            "business_name",
                            "required",
                            "business_name is required: this email has no business yet",
                        ));
                        None
                    }
                };
                let first_name = optional_name(&mut errors, "first_name", input.first_name.as_deref());
                let last_name = optional_name(&mut errors, "last_name", input.last_name.as_deref());
                let (Some(name), true) = (name, errors.is_empty()) else {
                    return Err(AppError::Validation(errors));
                };
                let business = Business {
                    id: BusinessId::from_uuid(self.new_id()),
                    name,
                    created_at: now,
                    suspended_at: None,
                };
                let user = self.user_from(
                    ValidUser {
                        email: invitation.email.clone(),
                        first_name,
                        last_name,
                    },
                    business.id,
                    now,
                );
                let actor = Actor::Invitee { user_id: Some(user.id) };
                let business_id = business.id;
                self.transition(
                    invitation,
                    Action::Accept,
                    actor,
                    Some(business_id),
                    Some(NewInvitee { business, user }),
                )
                .await
            }
        }
    }

    /// Declines by link.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for an unknown or revoked token;
    /// [`AppError::InvalidTransition`] unless pending;
    /// [`AppError::SenderSuspended`] when the sender is suspended.
    pub async fn decline_link(&self, token: &str) -> Result<Invitation, AppError> {
        let invitation = self.invitation_by_link(token).await?;
        self.active_sender(&invitation).await?;
        self.decline(invitation).await
    }

    /// Declines on behalf of the link's holder (the invited address).
    async fn decline(&self, invitation: Invitation) -> Result<Invitation, AppError> {
        let user = self.ports.store.find_user_by_email(&invitation.email).await?;
        let actor = Actor::Invitee {
            user_id: user.as_ref().map(|u| u.id),
        };
        let business = user.map(|u| u.business_id).filter(|b| *b != invitation.business_id);
        Ok(self
            .transition(invitation, Action::Reject, actor, business, None)
            .await?
            .invitation)
    }

    /// The recipient of a link opts out of further invitations from the
    /// link's sender (`OptOutScope::Business`) or from everyone: the
    /// invitation, if still pending, is declined (`invitation.rejected`, by
    /// the invitee), then the suppression is recorded. Both steps are
    /// idempotent, so repeating the opt-out (a retried one-click POST) is
    /// harmless, and a failure between them is mended by repeating it.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for an unknown or revoked token.
    pub async fn opt_out(&self, token: &str, scope: OptOutScope) -> Result<OptOut, AppError> {
        let invitation = self.invitation_by_link(token).await?;
        let now = self.now();
        let mut declined = false;
        let mut current = invitation.clone();
        if invitation.is_pending_at(now) {
            match self.decline(invitation.clone()).await {
                Ok(after) => {
                    declined = true;
                    current = after;
                }
                // Answered, cancelled or expired meanwhile: the opt-out still stands.
                Err(AppError::InvalidTransition { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        let suppression = Suppression {
            id: SuppressionId::from_uuid(self.new_id()),
            email: invitation.email.clone(),
            business_id: match scope {
                OptOutScope::Business => Some(invitation.business_id),
                OptOutScope::Everyone => None,
            },
            invitation_id: Some(invitation.id),
            created_at: now,
        };
        let suppression = self.ports.store.add_suppression(&suppression).await?;
        let invitation = match declined {
            true => current,
            false => self
                .ports
                .store
                .get_invitation(invitation.id)
                .await?
                .unwrap_or(current)
                .as_of(now),
        };
        Ok(OptOut {
            suppression,
            invitation,
            declined,
        })
    }

    /// Suppressions of every business, newest first (the operator API).
    ///
    /// # Errors
    /// Store failures only.
    pub async fn list_suppressions(&self, query: SuppressionQuery) -> Result<Page<Suppression>, AppError> {
        Ok(self.ports.store.list_suppressions(&query).await?)
    }

    /// Lifts a suppression (the operator API).
    ///
    /// # Errors
    /// [`AppError::NotFound`] when there is no such suppression.
    pub async fn delete_suppression(&self, id: SuppressionId) -> Result<(), AppError> {
        Ok(self.ports.store.delete_suppression(id).await?)
    }

    /// The caller's business's connections, newest first.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn list_connections(
        &self,
        principal: &Principal,
        page: PageRequest,
    ) -> Result<Page<Connection>, AppError> {
        Ok(self.ports.store.list_connections(principal.business.id, &page).await?)
    }

    /// The caller's business's events, oldest first.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn list_events(
        &self,
        principal: &Principal,
        query: EventQuery,
    ) -> Result<Page<Event, EventId>, AppError> {
        Ok(self.ports.store.list_events(principal.business.id, &query).await?)
    }

    /// Persists `expired` for up to `limit` pending invitations past their
    /// expiry, each with its `invitation.expired` event; returns how many
    /// this call expired. Safe to run from several replicas at once: each
    /// invitation is expired (and its event written) exactly once.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn expire_due(&self, limit: usize) -> Result<usize, AppError> {
        let now = self.now();
        let mut expired = 0;
        for invitation in self.ports.store.due_for_expiry(now, limit).await? {
            if self.persist_expiry(&invitation, now).await? {
                expired += 1;
            }
        }
        Ok(expired)
    }
}

/// What the store said about a new invitation's email.
struct Lookups {
    /// The user owning the email, if any.
    invitee: Option<User>,
    /// Whether that user's business is connected to the sender's.
    connected: bool,
    /// The sender's invitation to the email whose stored status is pending.
    pending: Option<Invitation>,
    /// Whether the email opted out of the sender's invitations.
    suppressed: bool,
}

struct ValidUser {
    email: EmailAddress,
    first_name: Option<PersonName>,
    last_name: Option<PersonName>,
}
