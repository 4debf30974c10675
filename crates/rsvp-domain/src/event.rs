//! [`Event`]: the immutable record of every state change, source of emails
//! and webhooks, and the audit trail (who, when, before, after).

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;

use crate::{
    Actor, BusinessId, Connection, ConnectionId, ConnectionRequest, ConnectionRequestId, EventId, Invitation,
    InvitationId, InvitationStatus, JoinLink, JoinLinkId, UnknownStatus,
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
    /// `join_link.redeemed`: a business used a join link (a connection or a
    /// connection request follows).
    JoinLinkRedeemed,
    /// `connection_request.created`
    ConnectionRequestCreated,
    /// `connection_request.approved`
    ConnectionRequestApproved,
    /// `connection_request.declined`
    ConnectionRequestDeclined,
    /// `invitation.email_delivered`: the provider reports the invitation's
    /// email reached the recipient's server.
    InvitationEmailDelivered,
    /// `invitation.email_bounced`: the provider reports the email bounced.
    InvitationEmailBounced,
    /// `invitation.email_complained`: the recipient marked the email as
    /// spam.
    InvitationEmailComplained,
    /// `invitation.reminded`: a reminder went to the invitee before the
    /// invitation expires.
    InvitationReminded,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [Self; 16] = [
        Self::InvitationCreated,
        Self::InvitationAccepted,
        Self::InvitationRejected,
        Self::InvitationCancelled,
        Self::InvitationExpired,
        Self::InvitationResent,
        Self::ConnectionCreated,
        Self::InvitationErased,
        Self::JoinLinkRedeemed,
        Self::ConnectionRequestCreated,
        Self::ConnectionRequestApproved,
        Self::ConnectionRequestDeclined,
        Self::InvitationEmailDelivered,
        Self::InvitationEmailBounced,
        Self::InvitationEmailComplained,
        Self::InvitationReminded,
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
            Self::JoinLinkRedeemed => "join_link.redeemed",
            Self::ConnectionRequestCreated => "connection_request.created",
            Self::ConnectionRequestApproved => "connection_request.approved",
            Self::ConnectionRequestDeclined => "connection_request.declined",
            Self::InvitationEmailDelivered => "invitation.email_delivered",
            Self::InvitationEmailBounced => "invitation.email_bounced",
            Self::InvitationEmailComplained => "invitation.email_complained",
            Self::InvitationReminded => "invitation.reminded",
        }
    }

    /// The kind recording the provider's `feedback` on an invitation's email.
    pub fn for_feedback(feedback: crate::EmailFeedback) -> Self {
        match feedback {
            crate::EmailFeedback::Delivered => Self::InvitationEmailDelivered,
            crate::EmailFeedback::Bounced { .. } => Self::InvitationEmailBounced,
            crate::EmailFeedback::Complained => Self::InvitationEmailComplained,
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

/// The details of an event: who acted, the invitation's status before and
/// after, the connection made and the connection request concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventData {
    /// Who caused it.
    pub actor: Actor,
    /// The invitation's status before (`None` on creation and for the
    /// events of join links).
    pub status_before: Option<InvitationStatus>,
    /// The invitation's status after (`None` for the events of join links).
    pub status_after: Option<InvitationStatus>,
    /// The connection created, for `connection.created` (and a redemption
    /// that made one).
    pub connection_id: Option<ConnectionId>,
    /// The connection request, for the events of one.
    pub connection_request_id: Option<ConnectionRequestId>,
}

/// What a redemption made: a connection at once, or a request waiting for
/// approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinMade {
    /// The connection made.
    Connection(ConnectionId),
    /// The connection request made.
    Request(ConnectionRequestId),
}

/// An immutable record of one state change.
///
/// Visible to the sending business, and to the invitee's business once
/// known. For the events of a join link, the link's business is the sender
/// and the redeeming business the invitee.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Its id.
    pub id: EventId,
    /// What happened.
    pub kind: EventKind,
    /// The invitation concerned (`None` for the events of join links).
    pub invitation_id: Option<InvitationId>,
    /// The join link concerned (`None` for the events of invitations).
    pub join_link_id: Option<JoinLinkId>,
    /// The sending business (or the join link's).
    pub business_id: BusinessId,
    /// The invitee's business, when known (or the redeeming business).
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

    /// The event of the provider's `feedback` on `invitation`'s email,
    /// received at `now` (by the system: the provider told rsvp).
    pub fn email_feedback(
        id: EventId,
        invitation: &Invitation,
        feedback: crate::EmailFeedback,
        now: OffsetDateTime,
    ) -> Self {
        Self::about(
            id,
            EventKind::for_feedback(feedback),
            invitation,
            now,
            Actor::System,
            Some(invitation.status()),
            None,
        )
    }

    /// `invitation.reminded` at `now`: the reminder before expiry, sent by
    /// the system.
    pub fn reminded(id: EventId, invitation: &Invitation, now: OffsetDateTime) -> Self {
        Self::about(
            id,
            EventKind::InvitationReminded,
            invitation,
            now,
            Actor::System,
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
            invitation_id: Some(invitation.id()),
            join_link_id: None,
            business_id: invitation.business_id(),
            invitee_business_id: invitation.invitee_business_id(),
            occurred_at,
            data: EventData {
                actor,
                status_before,
                status_after: Some(invitation.status()),
                connection_id,
                connection_request_id: None,
            },
        }
    }

    /// `join_link.redeemed`: `redeemer`'s user `user` used `link` at
    /// `occurred_at`, making `connection` or `request`.
    pub fn join_link_redeemed(
        id: EventId,
        link: &JoinLink,
        redeemer: BusinessId,
        actor: Actor,
        made: JoinMade,
        occurred_at: OffsetDateTime,
    ) -> Self {
        let (connection_id, connection_request_id) = match made {
            JoinMade::Connection(connection) => (Some(connection), None),
            JoinMade::Request(request) => (None, Some(request)),
        };
        Self::about_join(
            id,
            EventKind::JoinLinkRedeemed,
            link.id,
            (link.business_id, redeemer),
            actor,
            connection_id,
            connection_request_id,
            occurred_at,
        )
    }

    /// The event of `request` in its current status
    /// (`connection_request.created`, `.approved` or `.declined`), at its
    /// last change.
    pub fn connection_request(id: EventId, request: &ConnectionRequest, actor: Actor) -> Self {
        use crate::ConnectionRequestStatus as Status;
        let kind = match request.status {
            Status::Pending => EventKind::ConnectionRequestCreated,
            Status::Approved => EventKind::ConnectionRequestApproved,
            Status::Declined => EventKind::ConnectionRequestDeclined,
        };
        Self::about_join(
            id,
            kind,
            request.join_link_id,
            (request.business_id, request.requester_business_id),
            actor,
            request.connection_id,
            Some(request.id),
            request.resolved_at.unwrap_or(request.created_at),
        )
    }

    /// `connection.created` for `connection`, made by a join link.
    pub fn join_connection_created(
        id: EventId,
        connection: &Connection,
        join_link_id: JoinLinkId,
        actor: Actor,
        connection_request_id: Option<ConnectionRequestId>,
    ) -> Self {
        Self::about_join(
            id,
            EventKind::ConnectionCreated,
            join_link_id,
            (connection.inviter_business_id, connection.invitee_business_id),
            actor,
            Some(connection.id),
            connection_request_id,
            connection.created_at,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn about_join(
        id: EventId,
        kind: EventKind,
        join_link_id: JoinLinkId,
        (owner, redeemer): (BusinessId, BusinessId),
        actor: Actor,
        connection_id: Option<ConnectionId>,
        connection_request_id: Option<ConnectionRequestId>,
        occurred_at: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            kind,
            invitation_id: None,
            join_link_id: Some(join_link_id),
            business_id: owner,
            invitee_business_id: Some(redeemer),
            occurred_at,
            data: EventData {
                actor,
                status_before: None,
                status_after: None,
                connection_id,
                connection_request_id,
            },
        }
    }

    /// Whether `business` may see it.
    pub fn visible_to(&self, business: BusinessId) -> bool {
        self.business_id == business || self.invitee_business_id == Some(business)
    }
}
