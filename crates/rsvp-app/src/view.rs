//! [`EventView`]: an event as one business sees it — the one rendering of
//! the API's event JSON, shared by `GET /v1/events` (rsvp-http) and the
//! webhook payloads (the dispatcher), so the two can never differ.

use rsvp_domain::{Actor, BusinessId, Event, EventData, EventKind};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// RFC 3339 in UTC, e.g. `2026-11-22T10:00:00Z`.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).format(&Rfc3339).unwrap_or_default()
}

/// An event as one business sees it (serializes to the API's JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventView {
    /// Id.
    pub id: String,
    /// e.g. `invitation.accepted`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The invitation concerned (absent for the events of join links).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation_id: Option<String>,
    /// The join link concerned (absent for the events of invitations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_link_id: Option<String>,
    /// When, RFC 3339.
    pub occurred_at: String,
    /// Details: actor, status before and after, connection.
    pub data: Value,
}

impl EventView {
    /// The event as the business `seen_from` sees it. The sender's side does
    /// not learn who the invitee is (the acting invitee user) before the
    /// invitation is accepted, as with an invitation's `invitee_business_id`.
    /// Events carry no `custom_data`: the invitee's side never sees the
    /// sender's.
    pub fn new(event: &Event, seen_from: BusinessId) -> Self {
        let mut data = event.data.clone();
        let reveals_invitee = matches!(event.kind, EventKind::InvitationAccepted | EventKind::ConnectionCreated);
        if let Actor::Invitee { user_id } = &mut data.actor
            && seen_from == event.business_id
            && !reveals_invitee
        {
            *user_id = None;
        }
        Self {
            id: event.id.to_string(),
            kind: event.kind.as_str(),
            invitation_id: event.invitation_id.map(|id| id.to_string()),
            join_link_id: event.join_link_id.map(|id| id.to_string()),
            occurred_at: rfc3339(event.occurred_at),
            data: serde_json::to_value(EventDataView::from(&data)).unwrap_or(Value::Null),
        }
    }
}

/// An event's `data` in the API: the API's own names, spelled out, so that
/// neither a renamed domain variant nor the stored form can change it.
#[derive(Debug, Serialize)]
struct EventDataView {
    actor: ActorView,
    // An invitation's events always carry both statuses (`status_before`
    // null on creation); a join link's carry neither.
    #[serde(skip_serializing_if = "Option::is_none")]
    status_before: Option<Option<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_after: Option<&'static str>,
    connection_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connection_request_id: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type")]
enum ActorView {
    #[serde(rename = "sender")]
    Sender { user_id: String },
    #[serde(rename = "invitee")]
    Invitee { user_id: Option<String> },
    #[serde(rename = "system")]
    System,
    #[serde(rename = "operator")]
    Operator,
}

impl From<&EventData> for EventDataView {
    fn from(data: &EventData) -> Self {
        Self {
            actor: match data.actor {
                Actor::Sender { user_id } => ActorView::Sender {
                    user_id: user_id.to_string(),
                },
                Actor::Invitee { user_id } => ActorView::Invitee {
                    user_id: user_id.map(|id| id.to_string()),
                },
                Actor::System => ActorView::System,
                Actor::Operator => ActorView::Operator,
            },
            status_before: data.status_after.map(|_| data.status_before.map(|s| s.as_str())),
            status_after: data.status_after.map(|s| s.as_str()),
            connection_id: data.connection_id.map(|id| id.to_string()),
            connection_request_id: data.connection_request_id.map(|id| id.to_string()),
        }
    }
}

/// The body of a webhook delivery: `{"type","timestamp","data"}`, `data`
/// being the event as `GET /v1/events` shows it to the receiving business
/// (or a notice's own data), serialized once so that what is signed is what
/// is sent.
pub fn webhook_body(event_type: &str, occurred_at: OffsetDateTime, data: &Value) -> Vec<u8> {
    #[derive(Serialize)]
    struct Body<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        timestamp: String,
        data: &'a Value,
    }
    serde_json::to_vec(&Body {
        kind: event_type,
        timestamp: rfc3339(occurred_at),
        data,
    })
    .unwrap_or_default()
}
