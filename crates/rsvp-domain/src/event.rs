//! [`Event`]: the immutable record of every state change, source of emails
//! and webhooks, and the audit trail (who, when, before, after).

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;

use crate::{
    Actor, BusinessId, Connection, ConnectionId, EventId, Invitation, InvitationId, InvitationStatus, UnknownStatus,
};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `invitation.created`
    InvitationCreated,
    /// `invitation.accepted`
    InvitationAccepted,
    /// `invitation.rejected`
    InvitationRejected,
    /// `invitation.cancelled`
    InvitationCancelled,
    /// `invitation.expired`
    InvitationExpired,
    /// `invitation.resent`
    InvitationResent,
    /// `connection.created`
    ConnectionCreated,
    /// `invitation.erased`: the invitee's personal data was erased (GDPR
    /// art. 17); a pending invitation was cancelled with it.
    InvitationErased,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [Self; 8] = [
        Self::InvitationCreated,
        Self::InvitationAccepted,
        Self::InvitationRejected,
        Self::InvitationCancelled,
        Self::InvitationExpired,
        Self::InvitationResent,
        Self::ConnectionCreated,
        Self::InvitationErased,
    ];

    /// The wire name, e.g. `invitation.accepted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvitationCreated => "invitation.created",
            Self::InvitationAccepted => "invitation.accepted",
            Self::InvitationRejected => "invitation.rejected",
            Self::InvitationCancelled => "invitation.cancelled",
            Self::InvitationExpired => "invitation.expired",
            Self::InvitationResent => "invitation.resent",
            Self::ConnectionCreated => "connection.created",
            Self::InvitationErased => "invitation.erased",
        }
    }

    /// The kind recording a move into `status` (`None` for pending).
    pub fn for_status(status: InvitationStatus) -> Option<Self> {
        match status {
            InvitationStatus::Pending => None,
            InvitationStatus::Accepted => Some(Self::InvitationAccepted),
            InvitationStatus::Rejected => Some(Self::InvitationRejected),
            InvitationStatus::Cancelled => Some(Self::InvitationCancelled),
            InvitationStatus::Expired => Some(Self::InvitationExpired),
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// The details of an event: who acted, the status before and after, and the
/// connection made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventData {
    /// Who caused it.
    pub actor: Actor,
    /// Status before (`None` on creation).
    pub status_before: Option<InvitationStatus>,
    /// Status after.
    pub status_after: InvitationStatus,
    /// The connection created, for `connection.created`.
    pub connection_id: Option<ConnectionId>,
}

/// An immutable record of one state change.
///
/// Visible to the sending business, and to the invitee's business once known.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Its id.
    pub id: EventId,
    /// What happened.
    pub kind: EventKind,
    /// The invitation concerned.
    pub invitation_id: InvitationId,
    /// The sending business.
    pub business_id: BusinessId,
    /// The invitee's business, when known.
    pub invitee_business_id: Option<BusinessId>,
    /// When it happened.
    pub occurred_at: OffsetDateTime,
    /// Details.
    pub data: EventData,
}

impl Event {
    /// `invitation.created` for a new invitation.
    pub fn created(id: EventId, invitation: &Invitation, actor: Actor) -> Self {
        Self::about(
            id,
            EventKind::InvitationCreated,
            invitation,
            invitation.created_at(),
            actor,
            None,
            None,
        )
    }

    /// `invitation.resent` at `now`.
    pub fn resent(id: EventId, invitation: &Invitation, actor: Actor, now: OffsetDateTime) -> Self {
        Self::about(
            id,
            EventKind::InvitationResent,
            invitation,
            now,
            actor,
            Some(invitation.status()),
            None,
        )
    }

    /// The event of a transition from `before` to `after` (both the same
    /// invitation); `None` when the status did not change.
    pub fn transition(id: EventId, before: &Invitation, after: &Invitation, actor: Actor) -> Option<Self> {
        let kind = EventKind::for_status(after.status()).filter(|_| before.status() != after.status())?;
        Some(Self::about(
            id,
            kind,
            after,
            after.updated_at(),
            actor,
            Some(before.status()),
            None,
        ))
    }

    /// `invitation.erased` for the erasure of `before` into `after` (see
    /// [`Invitation::erased`]), by the operator.
    pub fn erased(id: EventId, before: &Invitation, after: &Invitation) -> Self {
        Self::about(
            id,
            EventKind::InvitationErased,
            after,
            after.updated_at(),
            Actor::Operator,
            Some(before.status()),
            None,
        )
    }

    /// `connection.created` for `connection`, made from `invitation`.
    pub fn connection_created(id: EventId, invitation: &Invitation, connection: &Connection, actor: Actor) -> Self {
        let mut event = Self::about(
            id,
            EventKind::ConnectionCreated,
            invitation,
            connection.created_at,
            actor,
            Some(invitation.status()),
            Some(connection.id),
        );
        event.invitee_business_id = Some(connection.invitee_business_id);
        event
    }

    fn about(
        id: EventId,
        kind: EventKind,
        invitation: &Invitation,
        occurred_at: OffsetDateTime,
        actor: Actor,
        status_before: Option<InvitationStatus>,
        connection_id: Option<ConnectionId>,
    ) -> Self {
        Self {
            id,
            kind,
            invitation_id: invitation.id(),
            business_id: invitation.business_id(),
            invitee_business_id: invitation.invitee_business_id(),
            occurred_at,
            data: EventData {
                actor,
                status_before,
                status_after: invitation.status(),
                connection_id,
            },
        }
    }

    /// Whether `business` may see it.
    pub fn visible_to(&self, business: BusinessId) -> bool {
        self.business_id == business || self.invitee_business_id == Some(business)
    }
}
