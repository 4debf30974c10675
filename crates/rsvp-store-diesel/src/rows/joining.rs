//! Rows of join links and connection requests.

use rsvp_domain::{ConnectionRequest, ConnectionRequestStatus, JoinLink};

#[allow(clippy::wildcard_imports)]
use super::*;

/// `join_links`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = join_links, treat_none_as_default_value = false)]
pub(crate) struct JoinLinkRow {
    pub(crate) id: String,
    pub(crate) business_id: String,
    pub(crate) created_by_user_id: String,
    pub(crate) token_hash: String,
    pub(crate) max_uses: Option<i32>,
    pub(crate) uses: i32,
    pub(crate) roles: String,
    pub(crate) custom_data: String,
    pub(crate) requires_approval: bool,
    pub(crate) note: Option<String>,
    pub(crate) expires_at: i64,
    pub(crate) revoked_at: Option<i64>,
    pub(crate) created_at: i64,
}

fn count(column: &str, value: u32) -> Result<i32, StoreError> {
    i32::try_from(value).map_err(|e| StoreError::Unavailable(format!("{column}: {e}")))
}

fn read_count(column: &str, value: i32) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|e| corrupt(column, e))
}

impl JoinLinkRow {
    pub(crate) fn from_domain(link: &JoinLink, token_hash: &rsvp_app::SecretHash) -> Result<Self, StoreError> {
        let custom_data = serde_json::to_string(&link.custom_data.to_json())
            .map_err(|e| StoreError::Unavailable(format!("custom_data: {e}")))?;
        Ok(Self {
            id: id_text(link.id.as_uuid()),
            business_id: id_text(link.business_id.as_uuid()),
            created_by_user_id: id_text(link.created_by_user_id.as_uuid()),
            token_hash: token_hash.to_hex(),
            max_uses: link.max_uses.map(|m| count("join_links.max_uses", m)).transpose()?,
            uses: count("join_links.uses", link.uses)?,
            roles: roles_json(&link.roles)?,
            custom_data,
            requires_approval: link.requires_approval,
            note: link.note.as_ref().map(|n| n.as_str().to_owned()),
            expires_at: to_nanos(link.expires_at)?,
            revoked_at: optional_nanos(link.revoked_at)?,
            created_at: to_nanos(link.created_at)?,
        })
    }

    pub(crate) fn into_domain(self) -> Result<JoinLink, StoreError> {
        let custom_data: serde_json::Value =
            serde_json::from_str(&self.custom_data).map_err(|e| corrupt("join_links.custom_data", e))?;
        let custom_data = CustomData::from_json(&custom_data).map_err(|e| corrupt("join_links.custom_data", e))?;
        Ok(JoinLink {
            id: parse_id("join_links.id", &self.id)?,
            business_id: parse_id("join_links.business_id", &self.business_id)?,
            created_by_user_id: parse_id("join_links.created_by_user_id", &self.created_by_user_id)?,
            max_uses: self
                .max_uses
                .map(|m| read_count("join_links.max_uses", m))
                .transpose()?,
            uses: read_count("join_links.uses", self.uses)?,
            roles: parse_roles("join_links.roles", &self.roles)?,
            custom_data,
            requires_approval: self.requires_approval,
            note: optional_text("join_links.note", self.note, Message::parse_owned)?,
            expires_at: from_nanos("join_links.expires_at", self.expires_at)?,
            revoked_at: optional_time("join_links.revoked_at", self.revoked_at)?,
            created_at: from_nanos("join_links.created_at", self.created_at)?,
        })
    }
}

/// `connection_requests`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = connection_requests, treat_none_as_default_value = false)]
pub(crate) struct ConnectionRequestRow {
    pub(crate) id: String,
    pub(crate) join_link_id: String,
    pub(crate) business_id: String,
    pub(crate) requester_business_id: String,
    pub(crate) requester_user_id: String,
    pub(crate) roles: String,
    pub(crate) status: String,
    pub(crate) created_at: i64,
    pub(crate) resolved_at: Option<i64>,
    pub(crate) connection_id: Option<String>,
}

impl ConnectionRequestRow {
    pub(crate) fn from_domain(request: &ConnectionRequest) -> Result<Self, StoreError> {
        Ok(Self {
            id: id_text(request.id.as_uuid()),
            join_link_id: id_text(request.join_link_id.as_uuid()),
            business_id: id_text(request.business_id.as_uuid()),
            requester_business_id: id_text(request.requester_business_id.as_uuid()),
            requester_user_id: id_text(request.requester_user_id.as_uuid()),
            roles: roles_json(&request.roles)?,
            status: request.status.as_str().to_owned(),
            created_at: to_nanos(request.created_at)?,
            resolved_at: optional_nanos(request.resolved_at)?,
            connection_id: request.connection_id.map(|id| id_text(id.as_uuid())),
        })
    }

    pub(crate) fn into_domain(self) -> Result<ConnectionRequest, StoreError> {
        Ok(ConnectionRequest {
            id: parse_id("connection_requests.id", &self.id)?,
            join_link_id: parse_id("connection_requests.join_link_id", &self.join_link_id)?,
            business_id: parse_id("connection_requests.business_id", &self.business_id)?,
            requester_business_id: parse_id("connection_requests.requester_business_id", &self.requester_business_id)?,
            requester_user_id: parse_id("connection_requests.requester_user_id", &self.requester_user_id)?,
            roles: parse_roles("connection_requests.roles", &self.roles)?,
            status: self
                .status
                .parse::<ConnectionRequestStatus>()
                .map_err(|e| corrupt("connection_requests.status", e))?,
            created_at: from_nanos("connection_requests.created_at", self.created_at)?,
            resolved_at: optional_time("connection_requests.resolved_at", self.resolved_at)?,
            connection_id: optional_id("connection_requests.connection_id", self.connection_id)?,
        })
    }
}
