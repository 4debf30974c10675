//! What one event becomes on the bus: its subject and its CloudEvents 1.0
//! JSON body (structured mode), whose `data` is the event as `GET
//! /v1/events` shows it to its business ([`rsvp_app::EventView`], the one
//! rendering of an event).

use rsvp_app::{EventView, rfc3339};
use rsvp_domain::Event;
use serde::Serialize;

/// The CloudEvents `type` of every event: `rsvp.` and the event's type,
/// e.g. `rsvp.invitation.accepted`.
pub const TYPE_PREFIX: &str = "rsvp.";

/// The subject of `event` under `prefix`: `<prefix>.<business id>.<event
/// type>`, e.g. `rsvp.events.0190….invitation.accepted`, the business being
/// the event's own (the sender of an invitation, the owner of a join link).
pub fn subject(prefix: &str, event: &Event) -> String {
    format!("{prefix}.{}.{}", event.business_id, event.kind.as_str())
}

/// A CloudEvents 1.0 event in the JSON format.
#[derive(Debug, Serialize)]
struct CloudEvent<'a> {
    specversion: &'static str,
    id: String,
    source: &'a str,
    #[serde(rename = "type")]
    kind: String,
    time: String,
    datacontenttype: &'static str,
    data: EventView,
}

/// The CloudEvents 1.0 JSON body of `event` from `source`: `specversion`
/// `1.0`, `id` the event's id (as the `Nats-Msg-Id` header), `source`,
/// `type` [`TYPE_PREFIX`] + the event's type, `time` when it occurred (RFC
/// 3339, UTC), `datacontenttype` `application/json`, and `data` the event
/// as `GET /v1/events` shows it to the event's business.
///
/// # Errors
/// When the JSON cannot be written (it always can: every part is text).
pub fn body(event: &Event, source: &str) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&CloudEvent {
        specversion: "1.0",
        id: event.id.to_string(),
        source,
        kind: format!("{TYPE_PREFIX}{}", event.kind.as_str()),
        time: rfc3339(event.occurred_at),
        datacontenttype: "application/json",
        data: EventView::new(event, event.business_id),
    })
}

#[cfg(test)]
mod tests {
    use rsvp_domain::{Actor, BusinessId, EventData, EventId, EventKind, InvitationId, InvitationStatus, UserId};
    use serde_json::{Value, json};
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn the_body_is_a_cloud_event_whose_data_is_the_event_as_the_api_shows_it() {
        let business = BusinessId::from_uuid(Uuid::from_u128(1));
        let event = Event {
            id: EventId::from_uuid(Uuid::from_u128(2)),
            kind: EventKind::InvitationAccepted,
            invitation_id: Some(InvitationId::from_uuid(Uuid::from_u128(3))),
            join_link_id: None,
            business_id: business,
            invitee_business_id: None,
            occurred_at: datetime!(2026-12-08 10:00:00.5 UTC),
            data: EventData {
                actor: Actor::Invitee {
                    user_id: Some(UserId::from_uuid(Uuid::from_u128(4))),
                },
                status_before: Some(InvitationStatus::Pending),
                status_after: Some(InvitationStatus::Accepted),
                connection_id: None,
                connection_request_id: None,
            },
        };
        let body: Value = serde_json::from_slice(&body(&event, "https://rsvp.example.com").unwrap()).unwrap();
        let view = serde_json::to_value(EventView::new(&event, business)).unwrap();
        assert_eq!(
            body,
            json!({
                "specversion": "1.0",
                "id": "00000000-0000-0000-0000-000000000002",
                "source": "https://rsvp.example.com",
                "type": "rsvp.invitation.accepted",
                "time": "2026-12-08T10:00:00.5Z",
                "datacontenttype": "application/json",
                "data": view,
            })
        );
        assert_eq!(body["data"]["type"], "invitation.accepted");
        assert_eq!(
            subject("rsvp.events", &event),
            "rsvp.events.00000000-0000-0000-0000-000000000001.invitation.accepted"
        );
    }
}
