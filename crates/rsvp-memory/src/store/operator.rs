//! The [`rsvp_app::OperatorStore`] role of [`InMemoryStore`].

use super::*;

#[async_trait]
impl OperatorStore for InMemoryStore {
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
                        && query
                            .external_id
                            .as_ref()
                            .is_none_or(|wanted| b.external_id.as_ref() == Some(wanted))
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
            if !s.businesses.contains_key(&business.id) {
                return Err(StoreError::NotFound);
            }
            if s.business_external_id_taken(business.external_id.as_ref(), business.id) {
                return Err(StoreError::ExternalIdTaken);
            }
            let stored = s.businesses.get_mut(&business.id).ok_or(StoreError::NotFound)?;
            stored.name = business.name.clone();
            stored.suspended_at = business.suspended_at;
            stored.external_id = business.external_id.clone();
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
            if !s.users.contains_key(&user.id) {
                return Err(StoreError::NotFound);
            }
            if s.user_external_id_taken(user.external_id.as_ref(), user.id) {
                return Err(StoreError::ExternalIdTaken);
            }
            let stored = s.users.get_mut(&user.id).ok_or(StoreError::NotFound)?;
            stored.first_name = user.first_name.clone();
            stored.last_name = user.last_name.clone();
            stored.deactivated_at = user.deactivated_at;
            stored.external_id = user.external_id.clone();
            Ok(())
        })
    }

    async fn find_user_by_email(&self, email: &EmailAddress) -> Result<Option<User>, StoreError> {
        self.with(|s| Ok(s.find_user_by_email(email)))
    }

    async fn find_user_by_external_id(&self, external_id: &ExternalId) -> Result<Option<User>, StoreError> {
        self.with(|s| {
            Ok(s.users
                .values()
                .find(|u| u.external_id.as_ref() == Some(external_id))
                .cloned())
        })
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.with(|s| Ok(s.users.get(&id).cloned()))
    }

    async fn find_users_by_emails(&self, emails: &[EmailAddress]) -> Result<Vec<User>, StoreError> {
        self.with(|s| Ok(emails.iter().filter_map(|e| s.find_user_by_email(e)).collect()))
    }
}

/// Uniqueness of the host platform's ids, as the unique indexes of the
/// SQL stores keep it.
impl super::state::State {
    /// Whether a business other than `except` has `external_id`.
    pub(super) fn business_external_id_taken(&self, external_id: Option<&ExternalId>, except: BusinessId) -> bool {
        external_id.is_some_and(|wanted| {
            self.businesses
                .values()
                .any(|b| b.id != except && b.external_id.as_ref() == Some(wanted))
        })
    }

    /// Whether a user other than `except` has `external_id`.
    pub(super) fn user_external_id_taken(&self, external_id: Option<&ExternalId>, except: UserId) -> bool {
        external_id.is_some_and(|wanted| {
            self.users
                .values()
                .any(|u| u.id != except && u.external_id.as_ref() == Some(wanted))
        })
    }
}
