//! The operator lifecycle on diesel: API keys (find, add, list, revoke,
//! record a use), businesses and users (list, update) and the erasure of a
//! person's data. Called from the `Store` impl in `store.rs`.
//!
//! Every statement here is portable: where PostgreSQL and SQLite would
//! differ, the query says so next to it. Nothing is cached: a revoked key's
//! row is gone when `revoke_api_key` returns, so the next lookup on any
//! connection of any replica finds nothing.

use crate::store::op;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};
use rsvp_app::{
    ApiKeyRecord, BusinessQuery, Credential, Cursor, ErasureCounts, ErasureRecord, Page, PageRequest, Principal,
    SecretHash, StoreError,
};
use rsvp_domain::{ApiKey, ApiKeyId, Business, BusinessId, EmailAddress, Invitation, User, UserId};
use time::OffsetDateTime;

use crate::connection::MultiBackend;
use crate::rows::{ApiKeyRow, BusinessRow, EventRow, InvitationRow, UserRow, bound_nanos, id_text, to_nanos};
use crate::schema::{api_keys, businesses, email_jobs, events, invitations, link_tokens, users};
use crate::store::{DieselStore, Unit, overfetch, read_unit, write_unit};

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

/// `(created_at, id) < cursor` of `$table`: a row-value comparison both
/// backends read as one index range, as the invitation lists do.
macro_rules! before_cursor {
    ($table:literal, $cursor:expr) => {
        sql::<Bool>(concat!("(", $table, ".created_at, ", $table, ".id) < ("))
            .bind::<BigInt, _>(bound_nanos($cursor.created_at))
            .sql(", ")
            .bind::<Text, _>(id_text($cursor.id))
            .sql(")")
    };
}

fn rows_into<R, T>(rows: Vec<R>, convert: impl Fn(R) -> Result<T, StoreError>) -> Unit<Vec<T>> {
    Ok(rows.into_iter().map(convert).collect::<Result<Vec<_>, _>>()?)
}

impl DieselStore {
    pub(crate) async fn find_credential_by_hash(
        &self,
        key_hash: &SecretHash,
    ) -> Result<Option<Credential>, StoreError> {
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

    pub(crate) async fn insert_api_key(&self, record: &ApiKeyRecord) -> Result<(), StoreError> {
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

    pub(crate) async fn api_keys_of(&self, user: UserId) -> Result<Vec<ApiKey>, StoreError> {
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

    pub(crate) async fn delete_api_key(&self, id: ApiKeyId) -> Result<(), StoreError> {
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

    pub(crate) async fn businesses_page(&self, query: &BusinessQuery) -> Result<Page<Business>, StoreError> {
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
            if let Some(cursor) = query.after {
                q = q.filter(before_cursor!("businesses", cursor));
            }
            let rows: Vec<BusinessRow> = q
                .order((businesses::created_at.desc(), businesses::id.desc()))
                .limit(overfetch(query.limit))
                .load(conn)?;
            let items = rows_into(rows, BusinessRow::into_domain)?;
            Ok(Page::from_overfetch(items, query.limit, |b: &Business| Cursor {
                created_at: b.created_at,
                id: b.id.as_uuid(),
            }))
        })
        .await
    }

    pub(crate) async fn write_business(&self, business: &Business) -> Result<(), StoreError> {
        let row = BusinessRow::from_domain(business)?;
        self.run(op::UPDATE_BUSINESS, move |conn| {
            let changed = diesel::update(businesses::table.filter(businesses::id.eq(&row.id)))
                .set((
                    businesses::name.eq(&row.name),
                    businesses::name_folded.eq(&row.name_folded),
                    businesses::suspended_at.eq(row.suspended_at),
                ))
                .execute(conn)?;
            if changed == 0 {
                return Err(StoreError::NotFound.into());
            }
            Ok(())
        })
        .await
    }

    pub(crate) async fn users_page(&self, business: BusinessId, page: &PageRequest) -> Result<Page<User>, StoreError> {
        let business = id_text(business.as_uuid());
        let page = *page;
        self.run(op::LIST_USERS, move |conn| {
            let mut q = users::table
                .filter(users::business_id.eq(business))
                .select(UserRow::as_select())
                .into_boxed::<MultiBackend>();
            if let Some(cursor) = page.after {
                q = q.filter(before_cursor!("users", cursor));
            }
            let rows: Vec<UserRow> = q
                .order((users::created_at.desc(), users::id.desc()))
                .limit(overfetch(page.limit))
                .load(conn)?;
            let items = rows_into(rows, UserRow::into_domain)?;
            Ok(Page::from_overfetch(items, page.limit, |u: &User| Cursor {
                created_at: u.created_at,
                id: u.id.as_uuid(),
            }))
        })
        .await
    }

    pub(crate) async fn write_user(&self, user: &User) -> Result<(), StoreError> {
        let row = UserRow::from_domain(user)?;
        self.run(op::UPDATE_USER, move |conn| {
            let changed = diesel::update(users::table.filter(users::id.eq(&row.id)))
                .set((
                    users::first_name.eq(&row.first_name),
                    users::last_name.eq(&row.last_name),
                    users::deactivated_at.eq(row.deactivated_at),
                ))
                .execute(conn)?;
            if changed == 0 {
                return Err(StoreError::NotFound.into());
            }
            Ok(())
        })
        .await
    }

    pub(crate) async fn invitations_addressed_to(&self, email: &EmailAddress) -> Result<Vec<Invitation>, StoreError> {
        let normalized = email.normalized().to_owned();
        self.run(op::INVITATIONS_TO_EMAIL, move |conn| {
            read_unit(conn, |conn| {
                // invitations_received_keyset_idx leads with email_normalized.
                let rows: Vec<InvitationRow> = invitations::table
                    .filter(invitations::email_normalized.eq(&normalized))
                    .select(InvitationRow::as_select())
                    .load(conn)?;
                rows_into(rows, InvitationRow::into_domain)
            })
        })
        .await
    }

    pub(crate) async fn erase(&self, record: &ErasureRecord) -> Result<ErasureCounts, StoreError> {
        if record.invitations.is_empty() {
            return Ok(ErasureCounts::default());
        }
        let normalized = record.email.normalized().to_owned();
        let now = to_nanos(record.now)?;
        let items = record
            .invitations
            .iter()
            .map(|item| {
                Ok((
                    item.expected.as_str(),
                    item.resolves(),
                    InvitationRow::from_domain(&item.invitation)?,
                    EventRow::from_domain(&item.event)?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.run(op::ERASE_INVITATIONS, move |conn| {
            write_unit(conn, |conn| {
                let mut counts = ErasureCounts::default();
                for (expected, resolves, after, event) in &items {
                    use crate::schema::invitations::dsl as i;
                    // Conditional: a row that changed since it was read (a
                    // concurrent answer) is left for the caller's next round.
                    let changed = diesel::update(i::invitations)
                        .filter(i::id.eq(&after.id))
                        .filter(i::email_normalized.eq(&normalized))
                        .filter(i::status.eq(*expected))
                        .set((
                            i::email.eq(&after.email),
                            i::email_normalized.eq(&after.email_normalized),
                            i::first_name.eq(&after.first_name),
                            i::last_name.eq(&after.last_name),
                            i::phone.eq(&after.phone),
                            i::message.eq(&after.message),
                            i::custom_data.eq(&after.custom_data),
                            i::status.eq(&after.status),
                            i::updated_at.eq(after.updated_at),
                            i::resolved_at.eq(after.resolved_at),
                        ))
                        .execute(conn)?;
                    if changed == 0 {
                        continue;
                    }
                    diesel::update(link_tokens::table)
                        .filter(link_tokens::invitation_id.eq(&after.id))
                        .filter(link_tokens::revoked_at.is_null())
                        .set(link_tokens::revoked_at.eq(now))
                        .execute(conn)?;
                    let dropped = diesel::delete(
                        email_jobs::table
                            .filter(email_jobs::invitation_id.eq(&after.id))
                            .filter(email_jobs::status.eq("queued")),
                    )
                    .execute(conn)?;
                    // Finished jobs stay for the email cap's count, without the address.
                    diesel::update(email_jobs::table.filter(email_jobs::invitation_id.eq(&after.id)))
                        .set((
                            email_jobs::to_email.eq(&after.email),
                            email_jobs::last_error.eq(None::<String>),
                        ))
                        .execute(conn)?;
                    diesel::insert_into(events::table).values(event).execute(conn)?;
                    counts.invitations += 1;
                    counts.emails_dropped += dropped as u64;
                    if *resolves {
                        counts.resolved += 1;
                    }
                }
                Ok(counts)
            })
        })
        .await
    }
}
