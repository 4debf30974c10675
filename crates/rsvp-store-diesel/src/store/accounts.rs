//! The port methods of businesses, users and API keys.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) async fn create_business(
    store: &DieselStore,
    business: &Business,
    user: &User,
    key: &ApiKeyRecord,
) -> Result<(), StoreError> {
    let business = BusinessRow::from_domain(business)?;
    let user = UserRow::from_domain(user)?;
    let key = ApiKeyRow::from_domain(key)?;
    store
        .run(op::CREATE_BUSINESS, move |conn| {
            write_unit(conn, |conn| {
                diesel::insert_into(businesses::table).values(&business).execute(conn)?;
                diesel::insert_into(users::table)
                    .values(&user)
                    .execute(conn)
                    .map_err(unique_is(StoreError::EmailTaken))?;
                diesel::insert_into(api_keys::table).values(&key).execute(conn)?;
                Ok(())
            })
        })
        .await
}

pub(super) async fn add_user(store: &DieselStore, user: &User, key: &ApiKeyRecord) -> Result<(), StoreError> {
    let user = UserRow::from_domain(user)?;
    let key = ApiKeyRow::from_domain(key)?;
    store
        .run(op::ADD_USER, move |conn| {
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
                    .map_err(unique_is(StoreError::EmailTaken))?;
                diesel::insert_into(api_keys::table).values(&key).execute(conn)?;
                Ok(())
            })
        })
        .await
}

pub(super) async fn get_business(store: &DieselStore, id: BusinessId) -> Result<Option<Business>, StoreError> {
    let id = id_text(id.as_uuid());
    store
        .run(op::GET_BUSINESS, move |conn| {
            let row = businesses::table
                .find(&id)
                .select(BusinessRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(BusinessRow::into_domain).transpose()?)
        })
        .await
}

pub(super) async fn record_api_key_use(
    store: &DieselStore,
    id: ApiKeyId,
    now: OffsetDateTime,
    not_used_since: OffsetDateTime,
) -> Result<(), StoreError> {
    store.touch_api_key(id, now, not_used_since).await
}

pub(super) async fn find_user_by_email(store: &DieselStore, email: &EmailAddress) -> Result<Option<User>, StoreError> {
    let normalized = email.normalized().to_owned();
    store
        .run(op::FIND_USER_BY_EMAIL, move |conn| {
            let row = users::table
                .filter(users::email_normalized.eq(&normalized))
                .select(UserRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(UserRow::into_domain).transpose()?)
        })
        .await
}

pub(super) async fn get_user(store: &DieselStore, id: UserId) -> Result<Option<User>, StoreError> {
    let id = id_text(id.as_uuid());
    store
        .run(op::GET_USER, move |conn| {
            let row = users::table
                .filter(users::id.eq(&id))
                .select(UserRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(UserRow::into_domain).transpose()?)
        })
        .await
}

pub(super) async fn find_users_by_emails(
    store: &DieselStore,
    emails: &[EmailAddress],
) -> Result<Vec<User>, StoreError> {
    let normalized: Vec<String> = emails.iter().map(|e| e.normalized().to_owned()).collect();
    if normalized.is_empty() {
        return Ok(Vec::new());
    }
    store
        .run(op::FIND_USERS_BY_EMAILS, move |conn| {
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
