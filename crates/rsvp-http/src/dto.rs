//! Response bodies: the wire shapes of the API, converted from domain types
//! at the edge (domain types know nothing of HTTP).

use rsvp_app::Viewer;
use rsvp_domain::{
    Business, BusinessId, Connection, CustomData, Event, ExternalId, Invitation, InvitationId, InvitationStatus,
    Message, PersonName, Phone, RedirectUrl, Roles, Suppression, User, UserId,
};
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::openapi::{
    EmailDeliveryName, EventType, InvitationStatusName, LocaleName, OptOutScopeName, SuppressionReasonName,
};

/// RFC 3339 in UTC, e.g. `2026-11-22T10:00:00Z`.
pub fn rfc3339(t: OffsetDateTime) -> String {
    rsvp_app::rfc3339(t)
}

/// A time written as RFC 3339 in UTC (as [`rfc3339`]) straight into the
/// serializer, without a `String` per field.
#[derive(Debug, Clone, Copy)]
pub struct Rfc3339(pub OffsetDateTime);

impl Serialize for Rfc3339 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The longest RFC 3339 time `time` writes: `-9999-12-31T23:59:59.999999999Z`.
        let mut buffer = [0_u8; 40];
        let mut cursor = std::io::Cursor::new(&mut buffer[..]);
        self.0
            .to_offset(time::UtcOffset::UTC)
            .format_into(&mut cursor, &time::format_description::well_known::Rfc3339)
            .map_err(serde::ser::Error::custom)?;
        let written = usize::try_from(cursor.position()).unwrap_or(0);
        let text = std::str::from_utf8(&buffer[..written]).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(text)
    }
}

/// An invitation as the API shows it.
// It borrows the invitation: a page is written from the domain values
// straight into the response, with no copy of each field in between.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InvitationBody<'a> {
    /// Id.
    #[schema(value_type = String)]
    pub id: InvitationId,
    /// Sending business.
    #[schema(value_type = String)]
    pub business_id: BusinessId,
    /// Sending user.
    #[schema(value_type = String)]
    pub sent_by_user_id: UserId,
    /// Invited address.
    pub email: &'a str,
    /// Status as it reads now.
    #[schema(value_type = InvitationStatusName, example = "pending")]
    pub status: &'static str,
    /// Sender's note.
    #[schema(required = true)]
    pub message: Option<&'a str>,
    /// Sender's metadata: present only for the sender's business.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub custom_data: Option<&'a CustomData>,
    /// Roles.
    #[schema(value_type = Vec<String>)]
    pub roles: &'a Roles,
    /// Invitee's first name.
    #[schema(required = true)]
    pub first_name: Option<&'a str>,
    /// Invitee's last name.
    #[schema(required = true)]
    pub last_name: Option<&'a str>,
    /// Invitee's phone.
    #[schema(required = true)]
    pub phone: Option<&'a str>,
    /// Sender's reference.
    #[schema(required = true)]
    pub external_id: Option<&'a str>,
    /// Whether the invitee shares data with the sender.
    pub source_is_invitee: bool,
    /// Invitee's business. The sender's side sees it only once the invitation
    /// is accepted (before that it is null), or any tenant could learn which
    /// business an email belongs to by inviting it.
    #[schema(value_type = Option<String>, required = true)]
    pub invitee_business_id: Option<BusinessId>,
    /// Expiry.
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Rfc3339,
    /// Creation.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Rfc3339,
    /// Last change.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Rfc3339,
    /// Terminal time.
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub resolved_at: Option<Rfc3339>,
    /// Email fate: queued, sent, failed (rsvp's sending), then delivered,
    /// bounced or complained (the provider's report); null when no email was
    /// asked for.
    #[schema(value_type = Option<EmailDeliveryName>, required = true, example = "queued")]
    pub email_delivery: Option<&'static str>,
    /// Where the invitee's page sends the invitee after an answer, with
    /// `invitation_id` and `status` added to its query.
    #[schema(required = true)]
    pub redirect_url: Option<&'a str>,
    /// The language of the emails (`en`, `de`); null for invitations created
    /// before rsvp stored one.
    #[schema(value_type = Option<LocaleName>, required = true, example = "en")]
    pub locale: Option<&'static str>,
    /// Only in the create response, only with `send_email: false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_url: Option<String>,
}

impl<'a> InvitationBody<'a> {
    /// The invitation as `viewer` may see it.
    pub fn new(invitation: &'a Invitation, viewer: Viewer) -> Self {
        Self {
            id: invitation.id(),
            business_id: invitation.business_id(),
            sent_by_user_id: invitation.sent_by_user_id(),
            email: invitation.email().as_str(),
            status: invitation.status().as_str(),
            message: invitation.message().map(Message::as_str),
            custom_data: (viewer == Viewer::Sender).then(|| invitation.custom_data()),
            roles: invitation.roles(),
            first_name: invitation.first_name().map(PersonName::as_str),
            last_name: invitation.last_name().map(PersonName::as_str),
            phone: invitation.phone().map(Phone::as_str),
            external_id: invitation.external_id().map(ExternalId::as_str),
            source_is_invitee: invitation.source_is_invitee(),
            invitee_business_id: invitation
                .invitee_business_id()
                .filter(|_| viewer == Viewer::Invitee || invitation.status() == InvitationStatus::Accepted),
            expires_at: Rfc3339(invitation.expires_at()),
            created_at: Rfc3339(invitation.created_at()),
            updated_at: Rfc3339(invitation.updated_at()),
            resolved_at: invitation.resolved_at().map(Rfc3339),
            email_delivery: invitation.email_delivery().map(|d| d.as_str()),
            redirect_url: invitation.redirect_url().map(RedirectUrl::as_str),
            locale: invitation.locale().map(|l| l.as_str()),
            accept_url: None,
        }
    }
}

/// A connection, seen from one of its businesses.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConnectionBody {
    /// Id.
    pub id: String,
    /// The other business, seen from the caller.
    pub connected_business_id: String,
    /// The business that invited.
    pub inviter_business_id: String,
    /// The business that accepted.
    pub invitee_business_id: String,
    /// The accepted invitation (null for a join link's connection).
    #[schema(required = true)]
    pub invitation_id: Option<String>,
    /// The redeemed join link (null for an invitation's connection).
    #[schema(required = true)]
    pub join_link_id: Option<String>,
    /// Roles.
    pub roles: Vec<String>,
    /// Whether the invitee shares data with the inviter.
    pub source_is_invitee: bool,
    /// When made.
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl ConnectionBody {
    /// The connection as the business `seen_from` sees it.
    pub fn new(connection: &Connection, seen_from: BusinessId) -> Self {
        let other = connection
            .other_business(seen_from)
            .unwrap_or(connection.invitee_business_id);
        Self {
            id: connection.id.to_string(),
            connected_business_id: other.to_string(),
            inviter_business_id: connection.inviter_business_id.to_string(),
            invitee_business_id: connection.invitee_business_id.to_string(),
            invitation_id: connection.invitation_id.map(|id| id.to_string()),
            join_link_id: connection.join_link_id.map(|id| id.to_string()),
            roles: connection.roles.to_strings(),
            source_is_invitee: connection.source_is_invitee,
            created_at: rfc3339(connection.created_at),
        }
    }
}

/// An event.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventBody {
    /// Id.
    pub id: String,
    /// e.g. `invitation.accepted`.
    #[serde(rename = "type")]
    #[schema(value_type = EventType, example = "invitation.accepted")]
    pub kind: &'static str,
    /// The invitation concerned (absent for the events of join links).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation_id: Option<String>,
    /// The join link concerned (absent for the events of invitations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_link_id: Option<String>,
    /// When.
    #[schema(format = DateTime)]
    pub occurred_at: String,
    /// Details: actor, status before and after, connection.
    #[schema(value_type = Object)]
    pub data: Value,
}

impl EventBody {
    /// The event as the business `seen_from` sees it: the one rendering of
    /// [`rsvp_app::EventView`], shared with the webhook payloads. The
    /// sender's side does not learn who the invitee is (the acting invitee
    /// user) before the invitation is accepted.
    pub fn new(event: &Event, seen_from: BusinessId) -> Self {
        let view = rsvp_app::EventView::new(event, seen_from);
        Self {
            id: view.id,
            kind: view.kind,
            invitation_id: view.invitation_id,
            join_link_id: view.join_link_id,
            occurred_at: view.occurred_at,
            data: view.data,
        }
    }
}

/// A business.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BusinessBody {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Creation.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Whether the operator suspended it (its keys get 403, its links are dead).
    pub suspended: bool,
    /// Since when.
    #[schema(format = DateTime, required = true)]
    pub suspended_at: Option<String>,
    /// The host platform's id of the business (null: none).
    #[schema(required = true)]
    pub external_id: Option<String>,
}

impl From<&Business> for BusinessBody {
    fn from(b: &Business) -> Self {
        Self {
            id: b.id.to_string(),
            name: b.name.to_string(),
            created_at: rfc3339(b.created_at),
            suspended: b.is_suspended(),
            suspended_at: b.suspended_at.map(rfc3339),
            external_id: b.external_id.as_ref().map(ToString::to_string),
        }
    }
}

/// A user.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserBody {
    /// Id.
    pub id: String,
    /// Business.
    pub business_id: String,
    /// Email.
    pub email: String,
    /// First name.
    #[schema(required = true)]
    pub first_name: Option<String>,
    /// Last name.
    #[schema(required = true)]
    pub last_name: Option<String>,
    /// Creation.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Whether the operator deactivated it (its keys get 401).
    pub deactivated: bool,
    /// Since when.
    #[schema(format = DateTime, required = true)]
    pub deactivated_at: Option<String>,
    /// The host platform's id of the user (null: none).
    #[schema(required = true)]
    pub external_id: Option<String>,
}

impl From<&User> for UserBody {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            business_id: u.business_id.to_string(),
            email: u.email.to_string(),
            first_name: u.first_name.as_ref().map(ToString::to_string),
            last_name: u.last_name.as_ref().map(ToString::to_string),
            created_at: rfc3339(u.created_at),
            deactivated: u.is_deactivated(),
            deactivated_at: u.deactivated_at.map(rfc3339),
            external_id: u.external_id.as_ref().map(ToString::to_string),
        }
    }
}

/// A recipient's opt-out, as operators see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SuppressionBody {
    /// Id.
    pub id: String,
    /// The address that opted out, as it was invited.
    pub email: String,
    /// `business`: invitations from `business_id` are refused; `everyone`:
    /// invitations from every business are.
    #[schema(value_type = OptOutScopeName, example = "business")]
    pub scope: &'static str,
    /// The business blocked; null when the scope is `everyone`.
    #[schema(required = true)]
    pub business_id: Option<String>,
    /// The invitation whose link the recipient opted out with.
    #[schema(required = true)]
    pub invitation_id: Option<String>,
    /// When the recipient opted out.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Why: the recipient's opt-out, or the provider's hard bounce or
    /// complaint report (those block every business).
    #[schema(value_type = SuppressionReasonName, example = "opt_out")]
    pub reason: &'static str,
}

impl From<&Suppression> for SuppressionBody {
    fn from(suppression: &Suppression) -> Self {
        Self {
            id: suppression.id.to_string(),
            email: suppression.email.to_string(),
            scope: suppression.scope().as_str(),
            business_id: suppression.business_id.map(|b| b.to_string()),
            invitation_id: suppression.invitation_id.map(|i| i.to_string()),
            created_at: rfc3339(suppression.created_at),
            reason: suppression.reason.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_is_written_as_rfc3339_in_utc_as_before() {
        let at = |nanos: i128| OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap();
        let plus_two = time::UtcOffset::from_hms(2, 0, 0).unwrap();
        let times = [
            at(1_795_341_600_000_000_000),
            at(1_795_341_600_123_456_789).to_offset(plus_two),
            at(500_000_000),
        ];
        for t in times {
            let written = serde_json::to_string(&Rfc3339(t)).unwrap();
            assert_eq!(written, format!("\"{}\"", rfc3339(t)));
        }
        assert_eq!(
            serde_json::to_string(&Rfc3339(times[1])).unwrap(),
            "\"2026-11-22T10:00:00.123456789Z\""
        );
    }
}
