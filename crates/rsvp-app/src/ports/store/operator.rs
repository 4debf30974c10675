//! The [`OperatorStore`] role of the store port.

use super::super::*;

/// Businesses, their users and their API keys.
///
/// Part of the [`Store`] port: its methods are its contract, checked on
/// every adapter by `rsvp-store-contract`.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait OperatorStore: Send + Sync {
    /// Creates a business, its first user and that user's API key.
    ///
    /// # Errors
    /// MUST return [`StoreError::EmailTaken`] when a user with the same
    /// normalized email exists, and [`StoreError::ExternalIdTaken`] when
    /// another business has the business's `external_id` or another user the
    /// user's, creating nothing.
    async fn create_business(&self, business: &Business, user: &User, key: &ApiKeyRecord) -> Result<(), StoreError>;

    /// Adds a user, with its API key, to an existing business.
    ///
    /// # Errors
    /// MUST return [`StoreError::NotFound`] when the business does not exist
    /// and [`StoreError::EmailTaken`] when the email is taken,
    /// [`StoreError::ExternalIdTaken`] when another user has its `external_id`.
    async fn add_user(&self, user: &User, key: &ApiKeyRecord) -> Result<(), StoreError>;

    /// A business by id.
    async fn get_business(&self, id: BusinessId) -> Result<Option<Business>, StoreError>;

    /// The key whose secret has this hash, with its user and business, in
    /// whatever state they are (expired, deactivated, suspended: the caller
    /// decides). A revoked key is found by nothing: it MUST be `None` as soon
    /// as [`revoke_api_key`](Self::revoke_api_key) returned, on every
    /// connection (nothing may cache it).
    async fn find_credential(&self, key_hash: &SecretHash) -> Result<Option<Credential>, StoreError>;

    /// Adds an API key to an existing user (a user may hold several).
    ///
    /// # Errors
    /// MUST return [`StoreError::NotFound`] when the user does not exist,
    /// writing nothing.
    async fn create_api_key(&self, record: &ApiKeyRecord) -> Result<(), StoreError>;

    /// The keys of `user`, newest first (`created_at`, then id, descending);
    /// empty for an unknown user.
    async fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKey>, StoreError>;

    /// Revokes a key for good: its row is deleted, so its hash finds nothing.
    ///
    /// # Errors
    /// MUST return [`StoreError::NotFound`] when there is no such key (also
    /// when it was revoked already), changing nothing.
    async fn revoke_api_key(&self, id: ApiKeyId) -> Result<(), StoreError>;

    /// Records a use of a key at `now`: `last_used_at` becomes `now` only if
    /// it is unset or at or before `not_used_since` (so a busy key is written
    /// once a minute, not per request). MUST never move `last_used_at`
    /// backwards, and MUST do nothing for an unknown key.
    async fn record_api_key_use(
        &self,
        id: ApiKeyId,
        now: OffsetDateTime,
        not_used_since: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Businesses, newest first (`created_at`, then id, descending), keyset
    /// paged; with `query.name`, only those whose name, trimmed and
    /// lowercased ([`rsvp_domain::fold_for_search`]), contains it (`%` and
    /// `_` in it are plain characters, not wildcards); with
    /// `query.external_id`, only the business with that host platform id.
    async fn list_businesses(&self, query: &BusinessQuery) -> Result<Page<Business>, StoreError>;

    /// Writes a business's `name`, `suspended_at` and `external_id` (nothing
    /// else).
    ///
    /// # Errors
    /// MUST return [`StoreError::NotFound`] when there is no such business,
    /// [`StoreError::ExternalIdTaken`] when another business has the
    /// `external_id` (writing nothing).
    async fn update_business(&self, business: &Business) -> Result<(), StoreError>;

    /// The users of `business`, newest first, keyset paged; empty for an
    /// unknown business.
    async fn list_users(&self, business: BusinessId, page: &PageRequest) -> Result<Page<User>, StoreError>;

    /// Writes a user's `first_name`, `last_name`, `deactivated_at` and
    /// `external_id` (nothing else: the email and the business stay).
    ///
    /// # Errors
    /// MUST return [`StoreError::NotFound`] when there is no such user,
    /// [`StoreError::ExternalIdTaken`] when another user has the
    /// `external_id` (writing nothing).
    async fn update_user(&self, user: &User) -> Result<(), StoreError>;

    /// The user with this normalized email, if any.
    async fn find_user_by_email(&self, email: &EmailAddress) -> Result<Option<User>, StoreError>;

    /// The user with this host platform id (compared exactly), if any.
    async fn find_user_by_external_id(&self, external_id: &ExternalId) -> Result<Option<User>, StoreError>;

    /// A user by id.
    async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// The users owning any of these normalized emails, in any order (one
    /// query for a whole bulk request).
    async fn find_users_by_emails(&self, emails: &[EmailAddress]) -> Result<Vec<User>, StoreError>;
}
