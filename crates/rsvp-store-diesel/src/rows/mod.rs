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
//!
//! One module per table family: `tenants` (businesses, users, API keys),
//! `inviting` (invitations, link tokens, suppressions), `network`
//! (connections, events), `joining` (join links, connection requests), `outbox` (email jobs), `webhooks` (endpoints,
//! deliveries); the conversions they share are here.

use diesel::prelude::*;
use rsvp_app::{
    ApiKeyRecord, EmailJob, EmailJobStatus, EmailKind, LinkTokenRecord, StoreError, WebhookDelivery,
    WebhookDeliveryStatus, WebhookEndpoint,
};
use rsvp_domain::webhook::{EventTypeFilter, WebhookSecret};
use rsvp_domain::{
    ApiKey, ApiKeyName, Business, BusinessId, BusinessName, Connection, CustomData, EmailAddress, EmailDelivery, Event,
    ExternalId, Invitation, InvitationId, InvitationParts, InvitationStatus, Locale, Message, PersonName, Phone,
    RedirectUrl, Roles, Suppression, SuppressionReason, User, UserId, fold_for_search, ordered_pair,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::schema::{
    api_keys, businesses, connection_requests, connections, email_jobs, events, invitations, join_links, link_tokens,
    suppressions, users, webhook_deliveries, webhook_endpoints,
};

mod inviting;
mod joining;
mod network;
mod outbox;
mod parsed;
mod tenants;
mod webhooks;

pub(crate) use inviting::{InvitationRow, LinkTokenRow, StoredInvitationRow, SuppressionRow};
pub(crate) use joining::{ConnectionRequestRow, JoinLinkRow};
pub(crate) use network::{ConnectionRow, EventRow};
pub(crate) use outbox::EmailJobRow;
pub(crate) use parsed::{JsonText, Parsed};
pub(crate) use tenants::{ApiKeyRow, BusinessRow, UserRow};
pub(crate) use webhooks::{WebhookDeliveryRow, WebhookEndpointRow};

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

pub(super) fn optional_time(column: &str, nanos: Option<i64>) -> Result<Option<OffsetDateTime>, StoreError> {
    nanos.map(|n| from_nanos(column, n)).transpose()
}

pub(super) fn optional_nanos(time: Option<OffsetDateTime>) -> Result<Option<i64>, StoreError> {
    time.map(to_nanos).transpose()
}

pub(super) fn parse_email(column: &str, text: &str) -> Result<EmailAddress, StoreError> {
    EmailAddress::parse(text).map_err(|e| corrupt(column, e))
}

pub(super) fn optional_text<T>(
    column: &str,
    text: Option<String>,
    parse: impl Fn(String) -> Result<T, rsvp_domain::FieldError>,
) -> Result<Option<T>, StoreError> {
    text.map(|t| parse(t).map_err(|e| corrupt(column, e.message)))
        .transpose()
}

/// A nullable id column read back.
pub(crate) fn optional_id<T: From<Uuid>>(column: &str, text: Option<String>) -> Result<Option<T>, StoreError> {
    text.map(|t| parse_id(column, &t)).transpose()
}

pub(super) fn roles_json(roles: &Roles) -> Result<String, StoreError> {
    serde_json::to_string(&roles.to_strings()).map_err(|e| StoreError::Unavailable(format!("roles: {e}")))
}

pub(super) fn parse_roles(column: &str, json: &str) -> Result<Roles, StoreError> {
    let strings: Vec<String> = serde_json::from_str(json).map_err(|e| corrupt(column, e))?;
    checked_roles(column, &strings)
}

/// Stored roles, already read as strings, checked by the domain again.
pub(super) fn checked_roles(column: &str, strings: &[String]) -> Result<Roles, StoreError> {
    Roles::parse(strings)
        .map_err(|errors| corrupt(column, errors.first().map_or("invalid roles", |e| e.message.as_str())))
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

    /// A migrated SQLite database holding `invitation`'s row as written.
    fn stored(invitation: &Invitation) -> (crate::testing::TestDatabase, crate::connection::DbConnection) {
        let database = crate::testing::TestDatabase::sqlite();
        let mut conn = crate::connection::DatabaseUrl::parse(database.url())
            .unwrap()
            .establish()
            .unwrap();
        crate::migrations::run_pending(&mut conn).unwrap();
        // The row alone: no business or user rows behind its ids.
        diesel::sql_query("PRAGMA foreign_keys = OFF")
            .execute(&mut conn)
            .unwrap();
        diesel::insert_into(invitations::table)
            .values(InvitationRow::from_domain(invitation).unwrap())
            .execute(&mut conn)
            .unwrap();
        (database, conn)
    }

    fn read_back(conn: &mut crate::connection::DbConnection) -> QueryResult<StoredInvitationRow> {
        invitations::table.select(StoredInvitationRow::as_select()).first(conn)
    }

    #[test]
    fn an_invitation_survives_its_row_exactly_to_the_nanosecond() {
        let invitation = full_invitation();
        let row = InvitationRow::from_domain(&invitation).unwrap();
        assert_eq!(row.email_normalized, "bob.builder@globex.test");
        assert_eq!(row.status, "pending");
        assert_eq!(row.roles, r#"["supplier","orders:read"]"#);
        let (_database, mut conn) = stored(&invitation);
        let back = read_back(&mut conn).unwrap().into_domain().unwrap();
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
        // JSON the domain refuses: custom data that is not an object, a role with a control character.
        for (column, value) in [("custom_data", "[1]"), ("roles", r#"["x","\u0007"]"#)] {
            let (_database, mut conn) = stored(&full_invitation());
            diesel::sql_query(format!("UPDATE invitations SET {column} = '{value}'"))
                .execute(&mut conn)
                .unwrap();
            match read_back(&mut conn).unwrap().into_domain() {
                Err(StoreError::Unavailable(message)) => {
                    assert!(message.contains(&format!("invitations.{column}")), "{message}");
                }
                other => panic!("{column}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_corrupt_id_or_name_fails_the_read_naming_the_column_the_value_and_its_type() {
        for (column, value, expected) in [
            ("id", "not-an-id", "InvitationId"),
            ("sent_by_user_id", "0190", "UserId"),
            ("email_delivery", "lost", "EmailDelivery"),
            ("locale", "fr", "Locale"),
            ("custom_data", "not json", "JSON"),
            ("roles", "[1", "JSON"),
        ] {
            let (_database, mut conn) = stored(&full_invitation());
            // The CHECK on email_delivery is PostgreSQL's and SQLite's alike; written around it.
            diesel::sql_query("PRAGMA ignore_check_constraints = ON")
                .execute(&mut conn)
                .unwrap();
            diesel::sql_query(format!("UPDATE invitations SET {column} = '{value}'"))
                .execute(&mut conn)
                .unwrap();
            let error = read_back(&mut conn).unwrap_err();
            // diesel's message names the column; its source, the value and the type.
            assert!(error.to_string().contains(&format!("'{column}'")), "{column}: {error}");
            let source = std::error::Error::source(&error)
                .map(ToString::to_string)
                .unwrap_or_default();
            if expected != "JSON" {
                assert!(source.contains(&format!("{value:?}")), "{column}: {source}");
            }
            assert!(source.contains(expected), "{column}: {source}");
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
