//! The [`OperatorStore`] role: businesses, users and API keys, and the
//! operator's lifecycle of them. Every statement is portable.

#[allow(clippy::wildcard_imports)]
use super::*;

/// `text` as a LIKE pattern matching itself anywhere: `%` and `_` (and the
/// escape character) are escaped, so they match only themselves.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A unique violation inserting a user: its `external_id`'s index, or else
/// the email's.
fn unique_user(error: DieselError) -> Failure {
    match &error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
            if info.constraint_name().unwrap_or(info.message()).contains("external_id") =>
        {
            Failure::Store(StoreError::ExternalIdTaken)
        }
        _ => unique_is(StoreError::EmailTaken)(error),
    }
}

impl DieselStore {
    pub(crate) async fn touch_api_key(
        &self,
        id: ApiKeyId,
        now: OffsetDateTime,
        not_used_since: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let id = id_text(id.as_uuid());
        let now = to_nanos(now)?;
        let not_used_since = bound_nanos(not_used_since);
        // One conditional statement: concurrent uses write at most once, and
        // an older `now` never overwrites a newer one.
        self.run(op::RECORD_API_KEY_USE, move |conn| {
            diesel::update(api_keys::table)
                .filter(api_keys::id.eq(&id))
                .filter(
                    api_keys::last_used_at.is_null().or(api_keys::last_used_at
                        .le(not_used_since)
                        .and(api_keys::last_used_at.lt(now))),
                )
                .set(api_keys::last_used_at.eq(now))
                .execute(conn)?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl OperatorStore for DieselStore {
    async fn create_business(&self, business: &Business, user: &User, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let business = BusinessRow::from_domain(business)?;
        let user = UserRow::from_domain(user)?;
        let key = ApiKeyRow::from_domain(key)?;
        self.run(op::CREATE_BUSINESS, move |conn| {
            write_unit(conn, |conn| {
                diesel::insert_into(businesses::table)
                    .values(&business)
                    .execute(conn)
                    .map_err(unique_is(StoreError::ExternalIdTaken))?;
                diesel::insert_into(users::table)
                    .values(&user)
                    .execute(conn)
                    .map_err(unique_user)?;
                diesel::insert_into(api_keys::table).values(&key).execute(conn)?;
                Ok(())
            })
        })
        .await
    }

    async fn add_user(&self, user: &User, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let user = UserRow::from_domain(user)?;
        let key = ApiKeyRow::from_domain(key)?;
        self.run(op::ADD_USER, move |conn| {
            write_unit(conn, |conn| {
                let business: Option<String> = businesses::table
                    .find(&user.business_id)
                    .select(businesses::id)
                    .first(conn)
                    .optional()?;
                if business.is_none() {
                    return Err(StoreError::NotFound.into());
                }
                diesel::insert_into(users::table)
                    .values(&user)
                    .execute(conn)
                    .map_err(unique_user)?;
                diesel::insert_into(api_keys::table).values(&key).execute(conn)?;
                Ok(())
            })
        })
        .await
    }

    async fn get_business(&self, id: BusinessId) -> Result<Option<Business>, StoreError> {
        let id = id_text(id.as_uuid());
        self.run(op::GET_BUSINESS, move |conn| {
            let row = businesses::table
                .find(&id)
                .select(BusinessRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(BusinessRow::into_domain).transpose()?)
        })
        .await
    }

    async fn find_credential(&self, key_hash: &SecretHash) -> Result<Option<Credential>, StoreError> {
        let hash = key_hash.to_hex();
        self.run(op::FIND_CREDENTIAL, move |conn| {
            let row: Option<(ApiKeyRow, UserRow, BusinessRow)> = api_keys::table
                .inner_join(users::table.inner_join(businesses::table))
                .filter(api_keys::key_hash.eq(&hash))
                .select((ApiKeyRow::as_select(), UserRow::as_select(), BusinessRow::as_select()))
                .first(conn)
                .optional()?;
            let Some((key, user, business)) = row else {
                return Ok(None);
            };
            Ok(Some(Credential {
                key: key.into_domain()?,
                principal: Principal {
                    business: business.into_domain()?,
                    user: user.into_domain()?,
                },
            }))
        })
        .await
    }

    async fn create_api_key(&self, record: &ApiKeyRecord) -> Result<(), StoreError> {
        let row = ApiKeyRow::from_domain(record)?;
        self.run(op::CREATE_API_KEY, move |conn| {
            write_unit(conn, |conn| {
                let user: Option<String> = users::table
                    .find(&row.user_id)
                    .select(users::id)
                    .first(conn)
                    .optional()?;
                if user.is_none() {
                    return Err(StoreError::NotFound.into());
                }
                diesel::insert_into(api_keys::table).values(&row).execute(conn)?;
                Ok(())
            })
        })
        .await
    }

    async fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKey>, StoreError> {
        let user = id_text(user.as_uuid());
        self.run(op::LIST_API_KEYS, move |conn| {
            let rows: Vec<ApiKeyRow> = api_keys::table
                .filter(api_keys::user_id.eq(&user))
                .order((api_keys::created_at.desc(), api_keys::id.desc()))
                .select(ApiKeyRow::as_select())
                .load(conn)?;
            rows_into(rows, ApiKeyRow::into_domain)
        })
        .await
    }

    async fn revoke_api_key(&self, id: ApiKeyId) -> Result<(), StoreError> {
        let id = id_text(id.as_uuid());
        // One statement: atomic by itself on both backends.
        self.run(op::REVOKE_API_KEY, move |conn| {
            let deleted = diesel::delete(api_keys::table.filter(api_keys::id.eq(&id))).execute(conn)?;
            if deleted == 0 {
                return Err(StoreError::NotFound.into());
            }
            Ok(())
        })
        .await
    }

    async fn record_api_key_use(
        &self,
        id: ApiKeyId,
        now: OffsetDateTime,
        not_used_since: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.touch_api_key(id, now, not_used_since).await
    }

    async fn list_businesses(&self, query: &BusinessQuery) -> Result<Page<Business>, StoreError> {
        let query = query.clone();
        self.run(op::LIST_BUSINESSES, move |conn| {
            let mut q = businesses::table
                .select(BusinessRow::as_select())
                .into_boxed::<MultiBackend>();
            if let Some(name) = query.name.as_deref().filter(|n| !n.is_empty()) {
                // LIKE on the folded column, both sides lowercased by the
                // application: the same answer on SQLite (whose LIKE folds
                // ASCII case itself) and PostgreSQL (whose LIKE folds none).
                q = q.filter(businesses::name_folded.like(contains_pattern(name)).escape('\\'));
            }
            if let Some(external_id) = &query.external_id {
                q = q.filter(businesses::external_id.eq(external_id.as_str().to_owned()));
            }
            let rows: Vec<BusinessRow> = newest_first_page!(q, businesses, query.after, query.limit).load(conn)?;
            domain_page(rows, BusinessRow::into_domain, query.limit, |b: &Business| Cursor {
                created_at: b.created_at,
                id: b.id.as_uuid(),
            })
        })
        .await
    }

    async fn update_business(&self, business: &Business) -> Result<(), StoreError> {
        let row = BusinessRow::from_domain(business)?;
        self.run(op::UPDATE_BUSINESS, move |conn| {
            let changed = diesel::update(businesses::table.filter(businesses::id.eq(&row.id)))
                .set((
                    businesses::name.eq(&row.name),
                    businesses::name_folded.eq(&row.name_folded),
                    businesses::suspended_at.eq(row.suspended_at),
                    businesses::external_id.eq(&row.external_id),
                ))
                .execute(conn)
                .map_err(unique_is(StoreError::ExternalIdTaken))?;
            changed_one(changed)
        })
        .await
    }

    async fn list_users(&self, business: BusinessId, page: &PageRequest) -> Result<Page<User>, StoreError> {
        let business = id_text(business.as_uuid());
        let page = *page;
        self.run(op::LIST_USERS, move |conn| {
            let q = users::table
                .filter(users::business_id.eq(business))
                .select(UserRow::as_select())
                .into_boxed::<MultiBackend>();
            let rows: Vec<UserRow> = newest_first_page!(q, users, page.after, page.limit).load(conn)?;
            domain_page(rows, UserRow::into_domain, page.limit, |u: &User| Cursor {
                created_at: u.created_at,
                id: u.id.as_uuid(),
            })
        })
        .await
    }

    async fn update_user(&self, user: &User) -> Result<(), StoreError> {
        let row = UserRow::from_domain(user)?;
        self.run(op::UPDATE_USER, move |conn| {
            let changed = diesel::update(users::table.filter(users::id.eq(&row.id)))
                .set((
                    users::first_name.eq(&row.first_name),
                    users::last_name.eq(&row.last_name),
                    users::deactivated_at.eq(row.deactivated_at),
                    users::external_id.eq(&row.external_id),
                ))
                .execute(conn)
                .map_err(unique_is(StoreError::ExternalIdTaken))?;
            changed_one(changed)
        })
        .await
    }

    async fn find_user_by_email(&self, email: &EmailAddress) -> Result<Option<User>, StoreError> {
        let normalized = email.normalized().to_owned();
        self.run(op::FIND_USER_BY_EMAIL, move |conn| {
            let row = users::table
                .filter(users::email_normalized.eq(&normalized))
                .select(UserRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(UserRow::into_domain).transpose()?)
        })
        .await
    }

    async fn find_user_by_external_id(&self, external_id: &ExternalId) -> Result<Option<User>, StoreError> {
        let external_id = external_id.as_str().to_owned();
        self.run(op::FIND_USER_BY_EXTERNAL_ID, move |conn| {
            let row = users::table
                .filter(users::external_id.eq(&external_id))
                .select(UserRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(UserRow::into_domain).transpose()?)
        })
        .await
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let id = id_text(id.as_uuid());
        self.run(op::GET_USER, move |conn| {
            let row = users::table
                .filter(users::id.eq(&id))
                .select(UserRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(UserRow::into_domain).transpose()?)
        })
        .await
    }

    async fn find_users_by_emails(&self, emails: &[EmailAddress]) -> Result<Vec<User>, StoreError> {
        let normalized: Vec<String> = emails.iter().map(|e| e.normalized().to_owned()).collect();
        if normalized.is_empty() {
            return Ok(Vec::new());
        }
        self.run(op::FIND_USERS_BY_EMAILS, move |conn| {
            let rows = users::table
                .filter(users::email_normalized.eq_any(&normalized))
                .select(UserRow::as_select())
                .load(conn)?;
            Ok(rows
                .into_iter()
                .map(UserRow::into_domain)
                .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}
