//! The stored form of an event's details (`events.data`, JSON text): types
//! of this crate, not the domain's, so that renaming a domain variant can
//! never change what is read back from rows already written. Every name
//! below is spelled out; the test pins the JSON of every actor and status.

use rsvp_app::StoreError;
use rsvp_domain::{Actor, EventData, InvitationStatus};
use serde::{Deserialize, Serialize};

use crate::rows::{corrupt, id_text, parse_id};

/// `events.data`.
#[derive(Debug, Serialize, Deserialize)]
struct StoredEventData {
    actor: StoredActor,
    status_before: Option<String>,
    // Absent for the events of join links (which have no invitation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status_after: Option<String>,
    connection_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    connection_request_id: Option<String>,
}

/// `events.data.actor`, tagged by `type`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type")]
enum StoredActor {
    #[serde(rename = "sender")]
    Sender { user_id: String },
    #[serde(rename = "invitee")]
    Invitee { user_id: Option<String> },
    #[serde(rename = "system")]
    System,
    #[serde(rename = "operator")]
    Operator,
}

/// The JSON text stored for `data`.
pub(crate) fn to_json(data: &EventData) -> Result<String, StoreError> {
    let actor = match data.actor {
        Actor::Sender { user_id } => StoredActor::Sender {
            user_id: id_text(user_id.as_uuid()),
        },
        Actor::Invitee { user_id } => StoredActor::Invitee {
            user_id: user_id.map(|id| id_text(id.as_uuid())),
        },
        Actor::System => StoredActor::System,
        Actor::Operator => StoredActor::Operator,
    };
    let stored = StoredEventData {
        actor,
        status_before: data.status_before.map(|s| s.as_str().to_owned()),
        status_after: data.status_after.map(|s| s.as_str().to_owned()),
        connection_id: data.connection_id.map(|id| id_text(id.as_uuid())),
        connection_request_id: data.connection_request_id.map(|id| id_text(id.as_uuid())),
    };
    serde_json::to_string(&stored).map_err(|e| StoreError::Unavailable(format!("event data: {e}")))
}

/// Reads `events.data` back.
pub(crate) fn from_json(text: &str) -> Result<EventData, StoreError> {
    const COLUMN: &str = "events.data";
    let stored: StoredEventData = serde_json::from_str(text).map_err(|e| corrupt(COLUMN, e))?;
    let status = |s: &str| s.parse::<InvitationStatus>().map_err(|e| corrupt(COLUMN, e));
    let actor = match stored.actor {
        StoredActor::Sender { user_id } => Actor::Sender {
            user_id: parse_id(COLUMN, &user_id)?,
        },
        StoredActor::Invitee { user_id } => Actor::Invitee {
            user_id: user_id.map(|id| parse_id(COLUMN, &id)).transpose()?,
        },
        StoredActor::System => Actor::System,
        StoredActor::Operator => Actor::Operator,
    };
    Ok(EventData {
        actor,
        status_before: stored.status_before.as_deref().map(status).transpose()?,
        status_after: stored.status_after.as_deref().map(status).transpose()?,
        connection_id: stored.connection_id.map(|id| parse_id(COLUMN, &id)).transpose()?,
        connection_request_id: stored
            .connection_request_id
            .map(|id| parse_id(COLUMN, &id))
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use rsvp_domain::{ConnectionId, UserId};
    use uuid::Uuid;

    use super::*;

    const USER: &str = "0190a4e6-0000-7000-8000-00000000000a";
    const CONNECTION: &str = "0190a4e6-0000-7000-8000-00000000000c";

    fn user() -> UserId {
        UserId::from_uuid(Uuid::parse_str(USER).unwrap())
    }

    /// What rows already hold: these exact texts must keep reading back as
    /// the same details, and new details must keep being written so.
    #[test]
    fn the_stored_json_of_every_actor_and_status_is_pinned() {
        let connection = ConnectionId::from_uuid(Uuid::parse_str(CONNECTION).unwrap());
        let cases = [
            (
                EventData {
                    actor: Actor::Sender { user_id: user() },
                    status_before: None,
                    status_after: Some(InvitationStatus::Pending),
                    connection_id: None,
                    connection_request_id: None,
                },
                format!(
                    r#"{{"actor":{{"type":"sender","user_id":"{USER}"}},"status_before":null,"status_after":"pending","connection_id":null}}"#
                ),
            ),
            (
                EventData {
                    actor: Actor::Invitee { user_id: Some(user()) },
                    status_before: Some(InvitationStatus::Pending),
                    status_after: Some(InvitationStatus::Accepted),
                    connection_id: Some(connection),
                    connection_request_id: None,
                },
                format!(
                    r#"{{"actor":{{"type":"invitee","user_id":"{USER}"}},"status_before":"pending","status_after":"accepted","connection_id":"{CONNECTION}"}}"#
                ),
            ),
            (
                EventData {
                    actor: Actor::Invitee { user_id: None },
                    status_before: Some(InvitationStatus::Pending),
                    status_after: Some(InvitationStatus::Rejected),
                    connection_id: None,
                    connection_request_id: None,
                },
                r#"{"actor":{"type":"invitee","user_id":null},"status_before":"pending","status_after":"rejected","connection_id":null}"#.to_owned(),
            ),
            (
                EventData {
                    actor: Actor::System,
                    status_before: Some(InvitationStatus::Pending),
                    status_after: Some(InvitationStatus::Expired),
                    connection_id: None,
                    connection_request_id: None,
                },
                r#"{"actor":{"type":"system"},"status_before":"pending","status_after":"expired","connection_id":null}"#.to_owned(),
            ),
            (
                EventData {
                    actor: Actor::Operator,
                    status_before: Some(InvitationStatus::Pending),
                    status_after: Some(InvitationStatus::Cancelled),
                    connection_id: None,
                    connection_request_id: None,
                },
                r#"{"actor":{"type":"operator"},"status_before":"pending","status_after":"cancelled","connection_id":null}"#.to_owned(),
            ),
        ];
        for (data, json) in cases {
            assert_eq!(to_json(&data).unwrap(), json);
            assert_eq!(from_json(&json).unwrap(), data);
        }
    }

    #[test]
    fn a_join_links_event_stores_its_request_and_no_statuses() {
        let request = rsvp_domain::ConnectionRequestId::from_uuid(Uuid::parse_str(CONNECTION).unwrap());
        let data = EventData {
            actor: Actor::Sender { user_id: user() },
            status_before: None,
            status_after: None,
            connection_id: None,
            connection_request_id: Some(request),
        };
        let json = format!(
            r#"{{"actor":{{"type":"sender","user_id":"{USER}"}},"status_before":null,"connection_id":null,"connection_request_id":"{CONNECTION}"}}"#
        );
        assert_eq!(to_json(&data).unwrap(), json);
        assert_eq!(from_json(&json).unwrap(), data);
    }

    #[test]
    fn unreadable_event_data_is_reported_naming_the_column() {
        for text in [
            "not json",
            r#"{"actor":{"type":"robot"},"status_before":null,"status_after":"pending","connection_id":null}"#,
            r#"{"actor":{"type":"system"},"status_before":null,"status_after":"maybe","connection_id":null}"#,
            r#"{"actor":{"type":"sender","user_id":"nope"},"status_before":null,"status_after":"pending","connection_id":null}"#,
        ] {
            let error = from_json(text).unwrap_err();
            assert!(error.to_string().contains("events.data"), "{text}: {error}");
        }
    }
}
