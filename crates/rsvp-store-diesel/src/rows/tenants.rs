//! Rows of businesses, users and API keys.

#[allow(clippy::wildcard_imports)]
use super::*;

/// `businesses`.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = businesses, treat_none_as_default_value = false)]
pub(crate) struct BusinessRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) created_at: i64,
    /// The name as the operator's filter compares it (`fold_for_search`).
    pub(crate) name_folded: String,
    pub(crate) suspended_at: Option<i64>,
    pub(crate) external_id: Option<String>,
}

impl BusinessRow {
    pub(crate) fn from_domain(business: &Business) -> Result<Self, StoreError> {
        Ok(Self {
            id: id_text(business.id.as_uuid()),
            name: business.name.as_str().to_owned(),
            created_at: to_nanos(business.created_at)?,
            name_folded: fold_for_search(business.name.as_str()),
            suspended_at: optional_nanos(business.suspended_at)?,
            external_id: business.external_id.as_ref().map(|e| e.as_str().to_owned()),
        })
    }

    pub(crate) fn into_domain(self) -> Result<Business, StoreError> {
        Ok(Business {
            id: parse_id("businesses.id", &self.id)?,
            name: BusinessName::parse(&self.name).map_err(|e| corrupt("businesses.name", e.message))?,
            created_at: from_nanos("businesses.created_at", self.created_at)?,
            suspended_at: optional_time("businesses.suspended_at", self.suspended_at)?,
            external_id: optional_text("businesses.external_id", self.external_id, ExternalId::parse_owned)?,
        })
    }
}

/// `users`.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
pub(crate) struct UserRow {
    pub(crate) id: String,
    pub(crate) business_id: String,
    pub(crate) email: String,
    pub(crate) email_normalized: String,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) deactivated_at: Option<i64>,
    pub(crate) external_id: Option<String>,
}

impl UserRow {
    pub(crate) fn from_domain(user: &User) -> Result<Self, StoreError> {
        Ok(Self {
            id: id_text(user.id.as_uuid()),
            business_id: id_text(user.business_id.as_uuid()),
            email: user.email.as_str().to_owned(),
            email_normalized: user.email.normalized().to_owned(),
            first_name: user.first_name.as_ref().map(|n| n.as_str().to_owned()),
            last_name: user.last_name.as_ref().map(|n| n.as_str().to_owned()),
            created_at: to_nanos(user.created_at)?,
            deactivated_at: optional_nanos(user.deactivated_at)?,
            external_id: user.external_id.as_ref().map(|e| e.as_str().to_owned()),
        })
    }

    pub(crate) fn into_domain(self) -> Result<User, StoreError> {
        Ok(User {
            id: parse_id("users.id", &self.id)?,
            business_id: parse_id("users.business_id", &self.business_id)?,
            email: parse_email("users.email", &self.email)?,
            first_name: optional_text("users.first_name", self.first_name, PersonName::parse_owned)?,
            last_name: optional_text("users.last_name", self.last_name, PersonName::parse_owned)?,
            created_at: from_nanos("users.created_at", self.created_at)?,
            deactivated_at: optional_time("users.deactivated_at", self.deactivated_at)?,
            external_id: optional_text("users.external_id", self.external_id, ExternalId::parse_owned)?,
        })
    }
}

/// `api_keys`.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys, treat_none_as_default_value = false)]
pub(crate) struct ApiKeyRow {
    pub(crate) id: String,
    pub(crate) user_id: String,
    pub(crate) key_hash: String,
    pub(crate) created_at: i64,
    pub(crate) name: String,
    pub(crate) prefix: String,
    pub(crate) expires_at: Option<i64>,
    pub(crate) last_used_at: Option<i64>,
}

impl ApiKeyRow {
    pub(crate) fn from_domain(record: &ApiKeyRecord) -> Result<Self, StoreError> {
        let key = &record.key;
        Ok(Self {
            id: id_text(key.id.as_uuid()),
            user_id: id_text(key.user_id.as_uuid()),
            key_hash: record.hash.to_hex(),
            created_at: to_nanos(key.created_at)?,
            name: key.name.as_str().to_owned(),
            prefix: key.prefix.clone(),
            expires_at: optional_nanos(key.expires_at)?,
            last_used_at: optional_nanos(key.last_used_at)?,
        })
    }

    pub(crate) fn into_domain(self) -> Result<ApiKey, StoreError> {
        Ok(ApiKey {
            id: parse_id("api_keys.id", &self.id)?,
            user_id: parse_id("api_keys.user_id", &self.user_id)?,
            name: ApiKeyName::parse(&self.name).map_err(|e| corrupt("api_keys.name", e.message))?,
            prefix: self.prefix,
            created_at: from_nanos("api_keys.created_at", self.created_at)?,
            expires_at: optional_time("api_keys.expires_at", self.expires_at)?,
            last_used_at: optional_time("api_keys.last_used_at", self.last_used_at)?,
        })
    }
}
