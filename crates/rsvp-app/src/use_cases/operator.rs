//! The operator area: provisioning (a business with its first user, more
//! users, each with an API key shown once), businesses (list, read, rename,
//! suspend), users (list, rename, deactivate), API keys (several per user,
//! named, expiring, revocable), the erasure of a person's data, and the
//! recipients' suppressions (list, lift).

use rsvp_domain::fold_for_search;

use super::*;
use crate::list::BusinessQuery;
use crate::ports::{ErasedInvitation, ErasureRecord};

/// Most rounds of an erasure: each round erases what it read; a round that
/// raced with a change reads again.
const ERASURE_ROUNDS: usize = 5;

/// Parameters of [`App::list_businesses`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BusinessListParams {
    /// Only businesses whose name contains this, case-insensitively.
    pub name: Option<String>,
    /// Only the business with this host platform id (exact).
    pub external_id: Option<ExternalId>,
    /// Page size.
    pub limit: PageSize,
    /// Continue after.
    pub after: Option<Cursor>,
}

/// A business with (the first page of) its users.
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessDetail {
    /// The business.
    pub business: Business,
    /// Its users, newest first, up to 200; `users.next` continues in
    /// [`App::list_users`].
    pub users: Page<User>,
}

/// A change of a business; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BusinessChange {
    /// A new name.
    pub name: Option<String>,
    /// Suspend (`true`) or reinstate (`false`).
    pub suspended: Option<bool>,
    /// Set (`Some(Some(_))`) or clear (`Some(None)`) the host platform's id.
    pub external_id: Option<Option<String>>,
}

/// A change of a user; `None` leaves a field as it is, `Some(None)` clears a
/// name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserChange {
    /// First name.
    pub first_name: Option<Option<String>>,
    /// Last name.
    pub last_name: Option<Option<String>>,
    /// Deactivate (`true`) or reactivate (`false`).
    pub deactivated: Option<bool>,
    /// Set (`Some(Some(_))`) or clear (`Some(None)`) the host platform's id.
    pub external_id: Option<Option<String>>,
}

/// Input of [`App::create_api_key`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewApiKeyInput {
    /// Required: the key's label.
    pub name: Option<String>,
    /// When the key stops working; must be in the future. `None`: never.
    pub expires_at: Option<OffsetDateTime>,
}

/// A new API key and its secret (shown once).
#[derive(Debug, Clone)]
pub struct CreatedApiKey {
    /// The key.
    pub key: ApiKey,
    /// Its secret, in clear, once.
    pub secret: Secret,
}

/// What an erasure did, over every business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErasureReport {
    /// Invitations whose personal data was replaced.
    pub invitations_erased: u64,
    /// Of those, pending ones that were cancelled (or expired).
    pub invitations_cancelled: u64,
    /// Queued emails dropped.
    pub emails_dropped: u64,
    /// Users with the address, deactivated (not erased).
    pub users_deactivated: u64,
}

impl App {
    /// Businesses, newest first, keyset paged, optionally filtered by name
    /// (case-insensitive substring).
    ///
    /// # Errors
    /// Store failures only.
    pub async fn list_businesses(&self, params: BusinessListParams) -> Result<Page<Business>, AppError> {
        let query = BusinessQuery {
            name: params.name.map(|n| fold_for_search(&n)).filter(|n| !n.is_empty()),
            external_id: params.external_id,
            limit: params.limit,
            after: params.after,
        };
        Ok(self.ports().store.operator().list_businesses(&query).await?)
    }

    async fn business(&self, id: BusinessId) -> Result<Business, AppError> {
        self.ports()
            .store
            .operator()
            .get_business(id)
            .await?
            .ok_or(AppError::NotFound)
    }

    async fn user(&self, id: UserId) -> Result<User, AppError> {
        self.ports()
            .store
            .operator()
            .get_user(id)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// A business with its users.
    ///
    /// # Errors
    /// [`AppError::NotFound`].
    pub async fn business_detail(&self, id: BusinessId) -> Result<BusinessDetail, AppError> {
        let business = self.business(id).await?;
        let first = PageRequest {
            limit: PageSize::new(i64::from(crate::MAX_PAGE_SIZE)).unwrap_or_default(),
            after: None,
        };
        let users = self.ports().store.operator().list_users(id, &first).await?;
        Ok(BusinessDetail { business, users })
    }

    /// Renames, suspends or reinstates a business. A suspended business's
    /// keys are refused (403) and its links answer nothing: at once on this
    /// replica, within [`Settings::credential_cache_ttl`](crate::Settings::credential_cache_ttl) (0.5 s) on the others.
    ///
    /// # Errors
    /// [`AppError::Validation`] (`name`, `external_id`), [`AppError::NotFound`],
    /// [`AppError::ExternalIdTaken`].
    pub async fn update_business(&self, id: BusinessId, change: BusinessChange) -> Result<Business, AppError> {
        let mut errors = ValidationErrors::new();
        let name = change
            .name
            .as_deref()
            .and_then(|n| errors.collect("name", BusinessName::parse(n)));
        let external_id = change
            .external_id
            .map(|e| optional_external_id(&mut errors, "external_id", e.as_deref()));
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let mut business = self.business(id).await?;
        if let Some(name) = name {
            business.name = name;
        }
        if let Some(external_id) = external_id {
            business.external_id = external_id;
        }
        if let Some(suspended) = change.suspended {
            business = business.with_suspension(suspended, self.now());
        }
        self.ports().store.operator().update_business(&business).await?;
        self.forget_credentials();
        Ok(business)
    }

    /// The user with this host platform id (compared exactly), if any.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn find_user_by_external_id(&self, external_id: &ExternalId) -> Result<Option<User>, AppError> {
        Ok(self
            .ports()
            .store
            .operator()
            .find_user_by_external_id(external_id)
            .await?)
    }

    /// The users of a business, newest first.
    ///
    /// # Errors
    /// [`AppError::NotFound`] when there is no such business.
    pub async fn list_users(&self, business: BusinessId, page: PageRequest) -> Result<Page<User>, AppError> {
        self.business(business).await?;
        Ok(self.ports().store.operator().list_users(business, &page).await?)
    }

    /// Renames, deactivates or reactivates a user. A deactivated user's keys
    /// are refused (401): at once on this replica, within
    /// [`Settings::credential_cache_ttl`](crate::Settings::credential_cache_ttl) (0.5 s) on the others.
    ///
    /// # Errors
    /// [`AppError::Validation`] (`first_name`, `last_name`, `external_id`),
    /// [`AppError::NotFound`], [`AppError::ExternalIdTaken`].
    pub async fn update_user(&self, id: UserId, change: UserChange) -> Result<User, AppError> {
        let mut errors = ValidationErrors::new();
        let first_name = change
            .first_name
            .map(|n| optional_name(&mut errors, "first_name", n.as_deref()));
        let last_name = change
            .last_name
            .map(|n| optional_name(&mut errors, "last_name", n.as_deref()));
        let external_id = change
            .external_id
            .map(|e| optional_external_id(&mut errors, "external_id", e.as_deref()));
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let mut user = self.user(id).await?;
        if let Some(external_id) = external_id {
            user.external_id = external_id;
        }
        if let Some(first_name) = first_name {
            user.first_name = first_name;
        }
        if let Some(last_name) = last_name {
            user.last_name = last_name;
        }
        if let Some(deactivated) = change.deactivated {
            user = user.with_deactivation(deactivated, self.now());
        }
        self.ports().store.operator().update_user(&user).await?;
        self.forget_credentials();
        Ok(user)
    }

    /// Makes a named API key for a user, optionally expiring.
    ///
    /// # Errors
    /// [`AppError::Validation`] (`name` required, `expires_at` not in the next 10 years),
    /// [`AppError::NotFound`] (no such user), [`AppError::UserDeactivated`].
    pub async fn create_api_key(&self, user: UserId, input: NewApiKeyInput) -> Result<CreatedApiKey, AppError> {
        let now = self.now();
        let mut errors = ValidationErrors::new();
        let name = match input.name.as_deref() {
            Some(name) => errors.collect("name", ApiKeyName::parse(name)),
            None => {
                errors.push(FieldError::new("name", "required", "name is required"));
                None
            }
        };
        if let Some(Err(error)) = input.expires_at.map(|at| ApiKey::check_expiry(at, now)) {
            errors.push(error);
        }
        let (Some(name), true) = (name, errors.is_empty()) else {
            return Err(AppError::Validation(errors));
        };
        if self.user(user).await?.is_deactivated() {
            return Err(AppError::UserDeactivated);
        }
        let (secret, record) = self.new_api_key(user, name, input.expires_at, now);
        self.ports().store.operator().create_api_key(&record).await?;
        Ok(CreatedApiKey {
            key: record.key,
            secret,
        })
    }

    /// A user's API keys (never their secrets), newest first.
    ///
    /// # Errors
    /// [`AppError::NotFound`] when there is no such user.
    pub async fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKey>, AppError> {
        self.user(user).await?;
        Ok(self.ports().store.operator().list_api_keys(user).await?)
    }

    /// Revokes an API key: refused at once on this replica, within
    /// [`Settings::credential_cache_ttl`](crate::Settings::credential_cache_ttl) (0.5 s) on the others.
    ///
    /// # Errors
    /// [`AppError::NotFound`] when there is no such key.
    pub async fn revoke_api_key(&self, id: ApiKeyId) -> Result<(), AppError> {
        self.ports().store.operator().revoke_api_key(id).await?;
        self.forget_credentials();
        Ok(())
    }

    /// Erases a person (GDPR art. 17): every invitation to `email` (compared
    /// normalized), in every business, loses the address, names, phone,
    /// message and custom data (the address becomes
    /// `erased-<id>@erased.invalid`); pending ones are cancelled, their links
    /// revoked, their queued emails dropped; each gets one
    /// `invitation.erased` event. A user with the address is deactivated,
    /// not erased. Running it again finds nothing more to erase.
    ///
    /// # Errors
    /// [`AppError::Validation`] (`email`).
    pub async fn erase_person(&self, email: &str) -> Result<ErasureReport, AppError> {
        let mut errors = ValidationErrors::new();
        let Some(email) = errors.collect("email", EmailAddress::parse(email)) else {
            return Err(AppError::Validation(errors));
        };
        let store = &self.ports().store;
        let mut report = ErasureReport::default();
        for _ in 0..ERASURE_ROUNDS {
            let found = store.opt_outs().invitations_to_email(&email).await?;
            if found.is_empty() {
                break;
            }
            let now = self.now();
            let invitations = found
                .iter()
                .map(|before| self.erasure_of(before, now))
                .collect::<Result<Vec<_>, _>>()?;
            let counts = store
                .opt_outs()
                .erase_invitations(&ErasureRecord {
                    email: email.clone(),
                    now,
                    invitations,
                })
                .await?;
            report.invitations_erased += counts.invitations;
            report.invitations_cancelled += counts.resolved;
            report.emails_dropped += counts.emails_dropped;
        }
        if let Some(user) = store.operator().find_user_by_email(&email).await?
            && !user.is_deactivated()
        {
            let user = user.with_deactivation(true, self.now());
            store.operator().update_user(&user).await?;
            self.forget_credentials();
            report.users_deactivated += 1;
        }
        Ok(report)
    }

    fn erasure_of(&self, before: &Invitation, now: OffsetDateTime) -> Result<ErasedInvitation, AppError> {
        let placeholder =
            Invitation::erased_email(before.id()).map_err(|e| AppError::Unavailable(e.message().to_owned()))?;
        let after = before.erased(placeholder, now);
        let event = Event::erased(EventId::from_uuid(self.new_id()), before, &after);
        Ok(ErasedInvitation {
            expected: before.status(),
            invitation: after,
            event,
        })
    }
}

/// Input of [`App::provision_business`] (the operator API).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewBusinessInput {
    /// Business name.
    pub name: Option<String>,
    /// Its first user.
    pub user: NewUserInput,
    /// Optional: the host platform's id of the business, unique.
    pub external_id: Option<String>,
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
    /// Optional: the host platform's id of the user, unique.
    pub external_id: Option<String>,
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

pub(crate) struct ValidUser {
    pub(crate) email: EmailAddress,
    pub(crate) first_name: Option<PersonName>,
    pub(crate) last_name: Option<PersonName>,
    pub(crate) external_id: Option<ExternalId>,
}

impl App {
    pub(crate) fn default_api_key(
        &self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<(Secret, ApiKeyRecord), AppError> {
        let name = ApiKeyName::parse(ApiKeyName::DEFAULT).map_err(|e| AppError::Unavailable(e.message))?;
        Ok(self.new_api_key(user_id, name, None, now))
    }

    pub(crate) fn validate_user(
        &self,
        input: &NewUserInput,
        prefix: &str,
        errors: &mut ValidationErrors,
    ) -> Option<ValidUser> {
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
        let external_id = optional_external_id(errors, &field("external_id"), input.external_id.as_deref());
        email.map(|email| ValidUser {
            email,
            first_name,
            last_name,
            external_id,
        })
    }

    pub(crate) fn user_from(&self, valid: ValidUser, business_id: BusinessId, now: OffsetDateTime) -> User {
        User {
            id: UserId::from_uuid(self.new_id()),
            business_id,
            email: valid.email,
            first_name: valid.first_name,
            last_name: valid.last_name,
            created_at: now,
            deactivated_at: None,
            external_id: valid.external_id,
        }
    }

    /// Creates a business with its first user and that user's API key.
    ///
    /// # Errors
    /// [`AppError::Validation`] (`name`, `user.email`, ...),
    /// [`AppError::EmailTaken`], [`AppError::ExternalIdTaken`].
    pub async fn provision_business(&self, input: NewBusinessInput) -> Result<ProvisionedBusiness, AppError> {
        let mut errors = ValidationErrors::new();
        let name = match &input.name {
            Some(name) => errors.collect("name", BusinessName::parse(name)),
            None => {
                errors.push(FieldError::new("name", "required", "name is required"));
                None
            }
        };
        let external_id = optional_external_id(&mut errors, "external_id", input.external_id.as_deref());
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
            external_id,
        };
        let user = self.user_from(user, business.id, now);
        let (api_key, key) = self.default_api_key(user.id, now)?;
        self.ports
            .store
            .operator()
            .create_business(&business, &user, &key)
            .await?;
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
    /// [`AppError::EmailTaken`], [`AppError::ExternalIdTaken`].
    pub async fn add_user(&self, business_id: BusinessId, input: NewUserInput) -> Result<ProvisionedUser, AppError> {
        let mut errors = ValidationErrors::new();
        let valid = self.validate_user(&input, "", &mut errors);
        let (Some(valid), true) = (valid, errors.is_empty()) else {
            return Err(AppError::Validation(errors));
        };
        let now = self.now();
        let user = self.user_from(valid, business_id, now);
        let (api_key, key) = self.default_api_key(user.id, now)?;
        self.ports.store.operator().add_user(&user, &key).await?;
        Ok(ProvisionedUser {
            user,
            api_key,
            api_key_id: key.key.id,
        })
    }

    /// Suppressions of every business, newest first (the operator API).
    ///
    /// # Errors
    /// Store failures only.
    pub async fn list_suppressions(&self, query: SuppressionQuery) -> Result<Page<Suppression>, AppError> {
        Ok(self.ports.store.opt_outs().list_suppressions(&query).await?)
    }

    /// Lifts a suppression (the operator API).
    ///
    /// # Errors
    /// [`AppError::NotFound`] when there is no such suppression.
    pub async fn delete_suppression(&self, id: SuppressionId) -> Result<(), AppError> {
        Ok(self.ports.store.opt_outs().delete_suppression(id).await?)
    }
}
