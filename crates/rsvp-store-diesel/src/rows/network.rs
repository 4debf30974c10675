//! Rows of connections and events.

#[allow(clippy::wildcard_imports)]
use super::*;

/// `connections`.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = connections, treat_none_as_default_value = false)]
pub(crate) struct ConnectionRow {
    pub(crate) id: String,
    pub(crate) business_low: String,
    pub(crate) business_high: String,
    pub(crate) inviter_business_id: String,
    pub(crate) invitee_business_id: String,
    pub(crate) invitation_id: Option<String>,
    pub(crate) roles: String,
    pub(crate) source_is_invitee: bool,
    pub(crate) created_at: i64,
    pub(crate) join_link_id: Option<String>,
}

impl ConnectionRow {
    pub(crate) fn from_domain(connection: &Connection) -> Result<Self, StoreError> {
        let (low, high) = ordered_pair(connection.inviter_business_id, connection.invitee_business_id);
        Ok(Self {
            id: id_text(connection.id.as_uuid()),
            business_low: id_text(low.as_uuid()),
            business_high: id_text(high.as_uuid()),
            inviter_business_id: id_text(connection.inviter_business_id.as_uuid()),
            invitee_business_id: id_text(connection.invitee_business_id.as_uuid()),
            invitation_id: connection.invitation_id.map(|id| id_text(id.as_uuid())),
            roles: roles_json(&connection.roles)?,
            source_is_invitee: connection.source_is_invitee,
            created_at: to_nanos(connection.created_at)?,
            join_link_id: connection.join_link_id.map(|id| id_text(id.as_uuid())),
        })
    }

    pub(crate) fn into_domain(self) -> Result<Connection, StoreError> {
        Ok(Connection {
            id: parse_id("connections.id", &self.id)?,
            inviter_business_id: parse_id("connections.inviter_business_id", &self.inviter_business_id)?,
            invitee_business_id: parse_id("connections.invitee_business_id", &self.invitee_business_id)?,
            invitation_id: optional_id("connections.invitation_id", self.invitation_id)?,
            join_link_id: optional_id("connections.join_link_id", self.join_link_id)?,
            roles: parse_roles("connections.roles", &self.roles)?,
            source_is_invitee: self.source_is_invitee,
            created_at: from_nanos("connections.created_at", self.created_at)?,
        })
    }
}

/// `events` (also read by name: the relay's own SQL).
#[derive(Debug, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = events, treat_none_as_default_value = false)]
pub(crate) struct EventRow {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) invitation_id: Option<String>,
    pub(crate) business_id: String,
    pub(crate) invitee_business_id: Option<String>,
    pub(crate) occurred_at: i64,
    pub(crate) data: String,
    pub(crate) join_link_id: Option<String>,
}

impl EventRow {
    pub(crate) fn from_domain(event: &Event) -> Result<Self, StoreError> {
        Ok(Self {
            id: id_text(event.id.as_uuid()),
            kind: event.kind.as_str().to_owned(),
            invitation_id: event.invitation_id.map(|id| id_text(id.as_uuid())),
            business_id: id_text(event.business_id.as_uuid()),
            invitee_business_id: event.invitee_business_id.map(|b| id_text(b.as_uuid())),
            occurred_at: to_nanos(event.occurred_at)?,
            data: crate::stored_event::to_json(&event.data)?,
            join_link_id: event.join_link_id.map(|id| id_text(id.as_uuid())),
        })
    }

    pub(crate) fn into_domain(self) -> Result<Event, StoreError> {
        let data = crate::stored_event::from_json(&self.data)?;
        Ok(Event {
            id: parse_id("events.id", &self.id)?,
            kind: self.kind.parse().map_err(|e| corrupt("events.kind", e))?,
            invitation_id: optional_id("events.invitation_id", self.invitation_id)?,
            join_link_id: optional_id("events.join_link_id", self.join_link_id)?,
            business_id: parse_id("events.business_id", &self.business_id)?,
            invitee_business_id: self
                .invitee_business_id
                .map(|b| parse_id("events.invitee_business_id", &b))
                .transpose()?,
            occurred_at: from_nanos("events.occurred_at", self.occurred_at)?,
            data,
        })
    }
}
