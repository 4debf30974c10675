//! Rows as stored, and their conversion from and to the domain's types.
//!
//! Rows never leave the crate. Reading a row parses it again through the
//! domain's constructors, so a row the domain would refuse reads as an error
//! (`Unavailable`, naming the column), never as a half-valid value.
//!
//! Insertable rows write `None` as a bound NULL
//! (`treat_none_as_default_value = false`), not as the `DEFAULT` keyword:
//! no column has a default other than NULL, and the INSERT's text then never
//! depends on the values, so diesel prepares it once per connection and
//! reuses it (an INSERT with `DEFAULT` is parsed and planned every time:
//! about a quarter of the cost of a create on PostgreSQL, see
//! docs/BENCHMARKS.md).

use diesel::prelude::*;
use rsvp_app::{
    ApiKeyRecord, EmailJob, EmailJobStatus, LinkTokenRecord, StoreError, WebhookDelivery, WebhookDeliveryStatus,
    WebhookEndpoint,
};
use rsvp_domain::webhook::{EventTypeFilter, WebhookSecret};
use rsvp_domain::{
    ApiKey, ApiKeyName, Business, BusinessId, BusinessName, Connection, CustomData, EmailAddress, EmailDelivery, Event,
    ExternalId, Invitation, InvitationParts, InvitationStatus, Locale, Message, PersonName, Phone, RedirectUrl, Roles,
    Suppression, User, fold_for_search, ordered_pair,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::schema::{
    api_keys, businesses, connections, email_jobs, events, invitations, link_tokens, suppressions, users,
    webhook_deliveries, webhook_endpoints,
};

/// A stored value the domain refuses: the database was written by something
/// else, or by hand.
pub(crate) fn corrupt(column: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("unreadable value in column {column}: {detail}"))
}

/// An id as stored: the hyphenated lowercase UUID (36 characters; sorts as
/// the UUID's bytes, so UUIDv7 text sorts in time order).
pub(crate) fn id_text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// Reads a stored id back into a typed id.
pub(crate) fn parse_id<T: From<Uuid>>(column: &str, text: &str) -> Result<T, StoreError> {
    Uuid::parse_str(text).map(T::from).map_err(|e| corrupt(column, e))
}

/// A time as stored: unix nanoseconds, UTC (exact for 1677..=2262).
pub(crate) fn to_nanos(time: OffsetDateTime) -> Result<i64, StoreError> {
    i64::try_from(time.unix_timestamp_nanos())
        .map_err(|_| StoreError::Unavailable(format!("time {time} is outside the storable range (1677..=2262)")))
}

/// A time used only as a bound in a query: times outside the storable range
/// compare like its ends.
pub(crate) fn bound_nanos(time: OffsetDateTime) -> i64 {
    i64::try_from(time.unix_timestamp_nanos()).unwrap_or(if time.unix_timestamp() < 0 { i64::MIN } else { i64::MAX })
}

/// Reads a stored time back.
pub(crate) fn from_nanos(column: &str, nanos: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).map_err(|e| corrupt(column, e))
}

fn optional_time(column: &str, nanos: Option<i64>) -> Result<Option<OffsetDateTime>, StoreError> {
    nanos.map(|n| from_nanos(column, n)).transpose()
}

fn optional_nanos(time: Option<OffsetDateTime>) -> Result<Option<i64>, StoreError> {
    time.map(to_nanos).transpose()
}

fn parse_email(column: &str, text: &str) -> Result<EmailAddress, StoreError> {
    EmailAddress::parse(text).map_err(|e| corrupt(column, e))
}

fn optional_text<T>(
    column: &str,
    text: Option<String>,
    parse: impl Fn(&str) -> Result<T, rsvp_domain::FieldError>,
) -> Result<Option<T>, StoreError> {
    text.map(|t| parse(&t).map_err(|e| corrupt(column, e.message)))
        .transpose()
}

fn roles_json(roles: &Roles) -> Result<String, StoreError> {
    serde_json::to_string(&roles.to_strings()).map_err(|e| StoreError::Unavailable(format!("roles: {e}")))
}

fn parse_roles(column: &str, json: &str) -> Result<Roles, StoreError> {
    let strings: Vec<String> = serde_json::from_str(json).map_err(|e| corrupt(column, e))?;
    Roles::parse(&strings)
        .map_err(|errors| corrupt(column, errors.first().map_or("invalid roles", |e| e.message.as_str())))
}

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
}

impl BusinessRow {
    pub(crate) fn from_domain(business: &Business) -> Result<Self, StoreError> {
        Ok(Self {
            id: id_text(business.id.as_uuid()),
            name: business.name.as_str().to_owned(),
            created_at: to_nanos(business.created_at)?,
            name_folded: fold_for_search(business.name.as_str()),
            suspended_at: optional_nanos(business.suspended_at)?,
        })
    }

    pub(crate) fn into_domain(self) -> Result<Business, StoreError> {
        Ok(Business {
            id: parse_id("businesses.id", &self.id)?,
            name: BusinessName::parse(&self.name).map_err(|e| corrupt("businesses.name", e.message))?,
            created_at: from_nanos("businesses.created_at", self.created_at)?,
            suspended_at: optional_time("businesses.suspended_at", self.suspended_at)?,
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
        })
    }

    pub(crate) fn into_domain(self) -> Result<User, StoreError> {
        Ok(User {
            id: parse_id("users.id", &self.id)?,
            business_id: parse_id("users.business_id", &self.business_id)?,
            email: parse_email("users.email", &self.email)?,
            first_name: optional_text("users.first_name", self.first_name, PersonName::parse)?,
            last_name: optional_text("users.last_name", self.last_name, PersonName::parse)?,
            created_at: from_nanos("users.created_at", self.created_at)?,
            deactivated_at: optional_time("users.deactivated_at", self.deactivated_at)?,
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

/// `invitations`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = invitations, treat_none_as_default_value = false)]
pub(crate) struct InvitationRow {
    pub(crate) id: String,
    pub(crate) business_id: String,
    pub(crate) sent_by_user_id: String,
    pub(crate) email: String,
    pub(crate) email_normalized: String,
    pub(crate) status: String,
    pub(crate) message: Option<String>,
    pub(crate) custom_data: String,
    pub(crate) roles: String,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) external_id: Option<String>,
    pub(crate) source_is_invitee: bool,
    pub(crate) invitee_business_id: Option<String>,
    pub(crate) expires_at: i64,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) resolved_at: Option<i64>,
    pub(crate) email_delivery: Option<String>,
    pub(crate) last_sent_at: Option<i64>,
    pub(crate) redirect_url: Option<String>,
    pub(crate) locale: Option<String>,
}

impl InvitationRow {
    pub(crate) fn from_domain(invitation: &Invitation) -> Result<Self, StoreError> {
        let custom_data = serde_json::to_string(&invitation.custom_data().to_json())
            .map_err(|e| StoreError::Unavailable(format!("custom_data: {e}")))?;
        Ok(Self {
            id: id_text(invitation.id().as_uuid()),
            business_id: id_text(invitation.business_id().as_uuid()),
            sent_by_user_id: id_text(invitation.sent_by_user_id().as_uuid()),
            email: invitation.email().as_str().to_owned(),
            email_normalized: invitation.email().normalized().to_owned(),
            status: invitation.status().as_str().to_owned(),
            message: invitation.message().map(|m| m.as_str().to_owned()),
            custom_data,
            roles: roles_json(invitation.roles())?,
            first_name: invitation.first_name().map(|n| n.as_str().to_owned()),
            last_name: invitation.last_name().map(|n| n.as_str().to_owned()),
            phone: invitation.phone().map(|p| p.as_str().to_owned()),
            external_id: invitation.external_id().map(|e| e.as_str().to_owned()),
            source_is_invitee: invitation.source_is_invitee(),
            invitee_business_id: invitation.invitee_business_id().map(|b| id_text(b.as_uuid())),
            expires_at: to_nanos(invitation.expires_at())?,
            created_at: to_nanos(invitation.created_at())?,
            updated_at: to_nanos(invitation.updated_at())?,
            resolved_at: optional_nanos(invitation.resolved_at())?,
            email_delivery: invitation.email_delivery().map(|d| d.as_str().to_owned()),
            last_sent_at: optional_nanos(invitation.last_sent_at())?,
            redirect_url: invitation.redirect_url().map(|u| u.as_str().to_owned()),
            locale: invitation.locale().map(|l| l.as_str().to_owned()),
        })
    }

    pub(crate) fn into_domain(self) -> Result<Invitation, StoreError> {
        let custom_data: serde_json::Value =
            serde_json::from_str(&self.custom_data).map_err(|e| corrupt("invitations.custom_data", e))?;
        let custom_data = CustomData::from_json(&custom_data).map_err(|e| corrupt("invitations.custom_data", e))?;
        Ok(Invitation::restore(InvitationParts {
            id: parse_id("invitations.id", &self.id)?,
            business_id: parse_id("invitations.business_id", &self.business_id)?,
            sent_by_user_id: parse_id("invitations.sent_by_user_id", &self.sent_by_user_id)?,
            email: parse_email("invitations.email", &self.email)?,
            status: self
                .status
                .parse::<InvitationStatus>()
                .map_err(|e| corrupt("invitations.status", e))?,
            message: optional_text("invitations.message", self.message, Message::parse)?,
            custom_data,
            roles: parse_roles("invitations.roles", &self.roles)?,
            first_name: optional_text("invitations.first_name", self.first_name, PersonName::parse)?,
            last_name: optional_text("invitations.last_name", self.last_name, PersonName::parse)?,
            phone: optional_text("invitations.phone", self.phone, Phone::parse)?,
            external_id: optional_text("invitations.external_id", self.external_id, ExternalId::parse)?,
            source_is_invitee: self.source_is_invitee,
            invitee_business_id: self
                .invitee_business_id
                .map(|b| parse_id("invitations.invitee_business_id", &b))
                .transpose()?,
            expires_at: from_nanos("invitations.expires_at", self.expires_at)?,
            created_at: from_nanos("invitations.created_at", self.created_at)?,
            updated_at: from_nanos("invitations.updated_at", self.updated_at)?,
            resolved_at: optional_time("invitations.resolved_at", self.resolved_at)?,
            email_delivery: self
                .email_delivery
                .map(|d| d.parse::<EmailDelivery>())
                .transpose()
                .map_err(|e| corrupt("invitations.email_delivery", e))?,
            last_sent_at: optional_time("invitations.last_sent_at", self.last_sent_at)?,
            redirect_url: optional_text("invitations.redirect_url", self.redirect_url, RedirectUrl::parse)?,
            locale: optional_text("invitations.locale", self.locale, Locale::parse)?,
        }))
    }
}

/// `suppressions`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = suppressions, treat_none_as_default_value = false)]
pub(crate) struct SuppressionRow {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) email_normalized: String,
    pub(crate) business_id: Option<String>,
    pub(crate) invitation_id: Option<String>,
    pub(crate) created_at: i64,
}

impl SuppressionRow {
    pub(crate) fn from_domain(suppression: &Suppression) -> Result<Self, StoreError> {
        Ok(Self {
            id: id_text(suppression.id.as_uuid()),
            email: suppression.email.as_str().to_owned(),
            email_normalized: suppression.email.normalized().to_owned(),
            business_id: suppression.business_id.map(|b| id_text(b.as_uuid())),
            invitation_id: suppression.invitation_id.map(|i| id_text(i.as_uuid())),
            created_at: to_nanos(suppression.created_at)?,
        })
    }

    pub(crate) fn into_domain(self) -> Result<Suppression, StoreError> {
        Ok(Suppression {
            id: parse_id("suppressions.id", &self.id)?,
            email: parse_email("suppressions.email", &self.email)?,
            business_id: self
                .business_id
                .map(|b| parse_id("suppressions.business_id", &b))
                .transpose()?,
            invitation_id: self
                .invitation_id
                .map(|i| parse_id("suppressions.invitation_id", &i))
                .transpose()?,
            created_at: from_nanos("suppressions.created_at", self.created_at)?,
        })
    }
}

/// `link_tokens`.
#[derive(Debug, Insertable)]
#[diesel(table_name = link_tokens, treat_none_as_default_value = false)]
pub(crate) struct LinkTokenRow {
    pub(crate) token_hash: String,
    pub(crate) invitation_id: String,
    pub(crate) created_at: i64,
    pub(crate) revoked_at: Option<i64>,
}

impl LinkTokenRow {
    pub(crate) fn from_domain(link: &LinkTokenRecord) -> Result<Self, StoreError> {
        Ok(Self {
            token_hash: link.hash.to_hex(),
            invitation_id: id_text(link.invitation_id.as_uuid()),
            created_at: to_nanos(link.created_at)?,
            revoked_at: None,
        })
    }
}

/// `connections`.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = connections)]
pub(crate) struct ConnectionRow {
    pub(crate) id: String,
    pub(crate) business_low: String,
    pub(crate) business_high: String,
    pub(crate) inviter_business_id: String,
    pub(crate) invitee_business_id: String,
    pub(crate) invitation_id: String,
    pub(crate) roles: String,
    pub(crate) source_is_invitee: bool,
    pub(crate) created_at: i64,
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
            invitation_id: id_text(connection.invitation_id.as_uuid()),
            roles: roles_json(&connection.roles)?,
            source_is_invitee: connection.source_is_invitee,
            created_at: to_nanos(connection.created_at)?,
        })
    }

    pub(crate) fn into_domain(self) -> Result<Connection, StoreError> {
        Ok(Connection {
            id: parse_id("connections.id", &self.id)?,
            inviter_business_id: parse_id("connections.inviter_business_id", &self.inviter_business_id)?,
            invitee_business_id: parse_id("connections.invitee_business_id", &self.invitee_business_id)?,
            invitation_id: parse_id("connections.invitation_id", &self.invitation_id)?,
            roles: parse_roles("connections.roles", &self.roles)?,
            source_is_invitee: self.source_is_invitee,
            created_at: from_nanos("connections.created_at", self.created_at)?,
        })
    }
}

/// `events`.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = events, treat_none_as_default_value = false)]
pub(crate) struct EventRow {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) invitation_id: String,
    pub(crate) business_id: String,
    pub(crate) invitee_business_id: Option<String>,
    pub(crate) occurred_at: i64,
    pub(crate) data: String,
}

impl EventRow {
    pub(crate) fn from_domain(event: &Event) -> Result<Self, StoreError> {
        Ok(Self {
            id: id_text(event.id.as_uuid()),
            kind: event.kind.as_str().to_owned(),
            invitation_id: id_text(event.invitation_id.as_uuid()),
            business_id: id_text(event.business_id.as_uuid()),
            invitee_business_id: event.invitee_business_id.map(|b| id_text(b.as_uuid())),
            occurred_at: to_nanos(event.occurred_at)?,
            data: crate::stored_event::to_json(&event.data)?,
        })
    }

    pub(crate) fn into_domain(self) -> Result<Event, StoreError> {
        let data = crate::stored_event::from_json(&self.data)?;
        Ok(Event {
            id: parse_id("events.id", &self.id)?,
            kind: self.kind.parse().map_err(|e| corrupt("events.kind", e))?,
            invitation_id: parse_id("events.invitation_id", &self.invitation_id)?,
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

pub(crate) fn job_status_text(status: EmailJobStatus) -> &'static str {
    match status {
        EmailJobStatus::Queued => "queued",
        EmailJobStatus::Sent => "sent",
        EmailJobStatus::Failed => "failed",
    }
}

fn parse_job_status(text: &str) -> Result<EmailJobStatus, StoreError> {
    match text {
        "queued" => Ok(EmailJobStatus::Queued),
        "sent" => Ok(EmailJobStatus::Sent),
        "failed" => Ok(EmailJobStatus::Failed),
        other => Err(corrupt("email_jobs.status", other)),
    }
}

/// `email_jobs`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, QueryableByName)]
#[diesel(table_name = email_jobs, treat_none_as_default_value = false)]
pub(crate) struct EmailJobRow {
    pub(crate) id: String,
    pub(crate) invitation_id: String,
    pub(crate) to_email: String,
    pub(crate) link_token: Option<String>,
    pub(crate) attempts: i32,
    pub(crate) status: String,
    pub(crate) next_attempt_at: i64,
    pub(crate) last_error: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    /// The sending business (of the job's invitation), for the email cap.
    pub(crate) business_id: String,
}

impl EmailJobRow {
    pub(crate) fn from_domain(job: &EmailJob, business: BusinessId) -> Result<Self, StoreError> {
        Ok(Self {
            id: id_text(job.id.as_uuid()),
            invitation_id: id_text(job.invitation_id.as_uuid()),
            to_email: job.to.as_str().to_owned(),
            link_token: job.link_token.as_ref().map(|t| t.expose().to_owned()),
            attempts: i32::try_from(job.attempts).unwrap_or(i32::MAX),
            status: job_status_text(job.status).to_owned(),
            next_attempt_at: to_nanos(job.next_attempt_at)?,
            last_error: job.last_error.clone(),
            created_at: to_nanos(job.created_at)?,
            updated_at: to_nanos(job.created_at)?,
            business_id: id_text(business.as_uuid()),
        })
    }

    pub(crate) fn into_domain(self) -> Result<EmailJob, StoreError> {
        Ok(EmailJob {
            id: parse_id("email_jobs.id", &self.id)?,
            invitation_id: parse_id("email_jobs.invitation_id", &self.invitation_id)?,
            to: parse_email("email_jobs.to_email", &self.to_email)?,
            link_token: self.link_token.map(rsvp_app::Secret::new),
            attempts: u32::try_from(self.attempts).map_err(|e| corrupt("email_jobs.attempts", e))?,
            status: parse_job_status(&self.status)?,
            next_attempt_at: from_nanos("email_jobs.next_attempt_at", self.next_attempt_at)?,
            last_error: self.last_error,
            created_at: from_nanos("email_jobs.created_at", self.created_at)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsvp_domain::{Actor, BusinessId, CustomNumber, EventId, InvitationId, InvitationInput, RawValue, UserId};

    fn full_invitation() -> Invitation {
        let request = InvitationInput {
            email: Some(" Bob.Builder@Globex.test ".into()),
            message: Some("Hello\nthere".into()),
            custom_data: Some(RawValue::Object(vec![
                ("i".into(), RawValue::Number(CustomNumber::Int(-3))),
                ("u".into(), RawValue::Number(CustomNumber::UInt(u64::MAX))),
                ("f".into(), RawValue::Number(CustomNumber::Float(2.0))),
                ("s".into(), RawValue::String("x".into())),
                ("b".into(), RawValue::Bool(false)),
            ])),
            roles: Some(vec!["supplier".into(), "orders:read".into()]),
            first_name: Some("Bob".into()),
            last_name: Some("Builder".into()),
            phone: Some("+49 30 1234567".into()),
            external_id: Some("crm-1".into()),
            source_is_invitee: Some(true),
            expires_in_days: Some(30),
            send_email: Some(true),
            redirect_url: Some("https://app.acme.test/next?x=1#top".into()),
            locale: Some("de".into()),
        }
        .validate()
        .unwrap();
        let now = OffsetDateTime::from_unix_timestamp_nanos(1_900_000_000_123_456_789).unwrap();
        Invitation::new(
            InvitationId::from_uuid(Uuid::from_u128(1)),
            BusinessId::from_uuid(Uuid::from_u128(2)),
            UserId::from_uuid(Uuid::from_u128(3)),
            request,
            now,
        )
        .with_invitee_business(Some(BusinessId::from_uuid(Uuid::from_u128(4))))
    }

    #[test]
    fn an_invitation_survives_its_row_exactly_to_the_nanosecond() {
        let invitation = full_invitation();
        let row = InvitationRow::from_domain(&invitation).unwrap();
        assert_eq!(row.email_normalized, "bob.builder@globex.test");
        assert_eq!(row.status, "pending");
        assert_eq!(row.roles, r#"["supplier","orders:read"]"#);
        let back = row.into_domain().unwrap();
        assert_eq!(back, invitation);
        assert_eq!(back.custom_data().get("f"), invitation.custom_data().get("f"));
        assert_eq!(back.created_at().nanosecond(), 123_456_789);
    }

    #[test]
    fn an_event_survives_its_row() {
        let invitation = full_invitation();
        let event = Event::created(
            EventId::from_uuid(Uuid::from_u128(9)),
            &invitation,
            Actor::Sender {
                user_id: invitation.sent_by_user_id(),
            },
        );
        let back = EventRow::from_domain(&event).unwrap().into_domain().unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn a_corrupt_row_reads_as_unavailable_naming_the_column() {
        let mut row = InvitationRow::from_domain(&full_invitation()).unwrap();
        row.status = "maybe".into();
        match row.into_domain() {
            Err(StoreError::Unavailable(message)) => assert!(message.contains("invitations.status"), "{message}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ids_are_stored_as_hyphenated_lowercase_text_that_sorts_like_the_uuid() {
        let a = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_00ff);
        let b = Uuid::from_u128(0x0190_0000_0001_7000_8000_0000_0000_0000);
        assert_eq!(id_text(a), "01900000-0000-7000-8000-0000000000ff");
        assert!(id_text(a) < id_text(b));
        assert_eq!(parse_id::<BusinessId>("x", &id_text(a)).unwrap().as_uuid(), a);
    }

    #[test]
    fn times_outside_the_storable_range_are_refused_but_bounds_clamp() {
        let far = OffsetDateTime::from_unix_timestamp(i64::from(i32::MAX) * 10).unwrap();
        assert!(to_nanos(far).is_err());
        assert_eq!(bound_nanos(far), i64::MAX);
        let past = OffsetDateTime::from_unix_timestamp(-i64::from(i32::MAX) * 10).unwrap();
        assert_eq!(bound_nanos(past), i64::MIN);
    }
}

/// A webhook endpoint as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_endpoints, treat_none_as_default_value = false)]
pub(crate) struct WebhookEndpointRow {
    pub(crate) id: String,
    pub(crate) business_id: String,
    pub(crate) url: String,
    pub(crate) event_types: String,
    pub(crate) description: Option<String>,
    pub(crate) enabled: bool,
    pub(crate) secret: String,
    pub(crate) previous_secret: Option<String>,
    pub(crate) previous_secret_until: Option<i64>,
    pub(crate) failing_since: Option<i64>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

fn parse_secret(column: &str, text: &str) -> Result<WebhookSecret, StoreError> {
    WebhookSecret::parse(text).map_err(|e| corrupt(column, e))
}

impl WebhookEndpointRow {
    pub(crate) fn from_domain(endpoint: &WebhookEndpoint) -> Result<Self, StoreError> {
        let (previous_secret, previous_secret_until) = match &endpoint.previous_secret {
            Some((secret, until)) => (Some(secret.expose().to_owned()), Some(to_nanos(*until)?)),
            None => (None, None),
        };
        Ok(Self {
            id: id_text(endpoint.id.as_uuid()),
            business_id: id_text(endpoint.business_id.as_uuid()),
            url: endpoint.url.clone(),
            event_types: endpoint.event_types.to_stored(),
            description: endpoint.description.clone(),
            enabled: endpoint.enabled,
            secret: endpoint.secret.expose().to_owned(),
            previous_secret,
            previous_secret_until,
            failing_since: optional_nanos(endpoint.failing_since)?,
            created_at: to_nanos(endpoint.created_at)?,
            updated_at: to_nanos(endpoint.updated_at)?,
        })
    }

    pub(crate) fn into_domain(self) -> Result<WebhookEndpoint, StoreError> {
        let previous_secret = match (self.previous_secret, self.previous_secret_until) {
            (Some(secret), Some(until)) => Some((
                parse_secret("webhook_endpoints.previous_secret", &secret)?,
                from_nanos("webhook_endpoints.previous_secret_until", until)?,
            )),
            _ => None,
        };
        Ok(WebhookEndpoint {
            id: parse_id("webhook_endpoints.id", &self.id)?,
            business_id: parse_id("webhook_endpoints.business_id", &self.business_id)?,
            url: self.url,
            event_types: EventTypeFilter::from_stored(&self.event_types),
            description: self.description,
            enabled: self.enabled,
            secret: parse_secret("webhook_endpoints.secret", &self.secret)?,
            previous_secret,
            failing_since: optional_time("webhook_endpoints.failing_since", self.failing_since)?,
            created_at: from_nanos("webhook_endpoints.created_at", self.created_at)?,
            updated_at: from_nanos("webhook_endpoints.updated_at", self.updated_at)?,
        })
    }
}

/// A webhook delivery as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, QueryableByName)]
#[diesel(table_name = webhook_deliveries, treat_none_as_default_value = false)]
pub(crate) struct WebhookDeliveryRow {
    pub(crate) endpoint_id: String,
    pub(crate) id: String,
    pub(crate) business_id: String,
    pub(crate) event_id: String,
    pub(crate) event_type: String,
    pub(crate) payload: Option<String>,
    pub(crate) occurred_at: i64,
    pub(crate) attempts: i32,
    pub(crate) status: String,
    pub(crate) next_attempt_at: i64,
    pub(crate) response_status: Option<i32>,
    pub(crate) duration_ms: Option<i64>,
    pub(crate) attempted_at: Option<i64>,
    pub(crate) last_error: Option<String>,
    pub(crate) created_at: i64,
}

impl WebhookDeliveryRow {
    pub(crate) fn from_domain(delivery: &WebhookDelivery) -> Result<Self, StoreError> {
        Ok(Self {
            endpoint_id: id_text(delivery.endpoint_id.as_uuid()),
            id: id_text(delivery.id.as_uuid()),
            business_id: id_text(delivery.business_id.as_uuid()),
            event_id: id_text(delivery.event_id.as_uuid()),
            event_type: delivery.event_type.clone(),
            payload: delivery.payload.clone(),
            occurred_at: to_nanos(delivery.occurred_at)?,
            attempts: i32::try_from(delivery.attempts).unwrap_or(i32::MAX),
            status: delivery.status.as_str().to_owned(),
            next_attempt_at: to_nanos(delivery.next_attempt_at)?,
            response_status: delivery.response_status.map(i32::from),
            duration_ms: delivery.duration_ms.map(|d| i64::try_from(d).unwrap_or(i64::MAX)),
            attempted_at: optional_nanos(delivery.attempted_at)?,
            last_error: delivery.last_error.clone(),
            created_at: to_nanos(delivery.created_at)?,
        })
    }

    pub(crate) fn into_domain(self) -> Result<WebhookDelivery, StoreError> {
        Ok(WebhookDelivery {
            id: parse_id("webhook_deliveries.id", &self.id)?,
            endpoint_id: parse_id("webhook_deliveries.endpoint_id", &self.endpoint_id)?,
            business_id: parse_id("webhook_deliveries.business_id", &self.business_id)?,
            event_id: parse_id("webhook_deliveries.event_id", &self.event_id)?,
            event_type: self.event_type,
            payload: self.payload,
            occurred_at: from_nanos("webhook_deliveries.occurred_at", self.occurred_at)?,
            attempts: u32::try_from(self.attempts).map_err(|e| corrupt("webhook_deliveries.attempts", e))?,
            status: WebhookDeliveryStatus::parse(&self.status)
                .ok_or_else(|| corrupt("webhook_deliveries.status", &self.status))?,
            next_attempt_at: from_nanos("webhook_deliveries.next_attempt_at", self.next_attempt_at)?,
            response_status: self
                .response_status
                .map(|s| u16::try_from(s).map_err(|e| corrupt("webhook_deliveries.response_status", e)))
                .transpose()?,
            duration_ms: self.duration_ms.map(|d| u64::try_from(d).unwrap_or(0)),
            attempted_at: optional_time("webhook_deliveries.attempted_at", self.attempted_at)?,
            last_error: self.last_error,
            created_at: from_nanos("webhook_deliveries.created_at", self.created_at)?,
        })
    }
}
