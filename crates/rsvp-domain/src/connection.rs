//! [`Connection`]: what an accepted invitation leaves behind.

use time::OffsetDateTime;

use crate::{BusinessId, ConnectionId, Invitation, JoinLinkId, Roles};

/// A link between two businesses, created when an invitation is accepted
/// or a join link redeemed (see [`Connection::from_join_link`]).
/// There is at most one per pair of businesses, whoever invited whom.
///
/// ```
/// use rsvp_domain::*;
/// use time::OffsetDateTime;
/// use uuid::Uuid;
///
/// let now = OffsetDateTime::UNIX_EPOCH;
/// let request = InvitationInput { email: Some("bob@globex.test".into()), roles: Some(vec!["supplier".into()]), ..Default::default() }
///     .validate().unwrap();
/// let acme = BusinessId::from_uuid(Uuid::from_u128(10));
/// let globex = BusinessId::from_uuid(Uuid::from_u128(20));
/// let invitation = Invitation::new(InvitationId::from_uuid(Uuid::from_u128(1)), acme,
///     UserId::from_uuid(Uuid::from_u128(2)), request, now);
/// let connection = Connection::from_invitation(ConnectionId::from_uuid(Uuid::from_u128(3)), &invitation, globex, now);
/// assert_eq!(connection.other_business(acme), Some(globex));
/// assert_eq!(connection.roles.to_strings(), ["supplier"]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// Its id.
    pub id: ConnectionId,
    /// The business that sent the invitation (or owns the join link).
    pub inviter_business_id: BusinessId,
    /// The business that accepted it (or redeemed the join link).
    pub invitee_business_id: BusinessId,
    /// The accepted invitation, when an invitation made it.
    pub invitation_id: Option<crate::InvitationId>,
    /// The redeemed join link, when a join link made it.
    pub join_link_id: Option<JoinLinkId>,
    /// The invitation's (or join link's) roles.
    pub roles: Roles,
    /// The invitation's `source_is_invitee`.
    pub source_is_invitee: bool,
    /// When it was made.
    pub created_at: OffsetDateTime,
}

impl Connection {
    /// The connection an accepted `invitation` creates with `invitee_business_id`.
    pub fn from_invitation(
        id: ConnectionId,
        invitation: &Invitation,
        invitee_business_id: BusinessId,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            inviter_business_id: invitation.business_id(),
            invitee_business_id,
            invitation_id: Some(invitation.id()),
            join_link_id: None,
            roles: invitation.roles().clone(),
            source_is_invitee: invitation.source_is_invitee(),
            created_at: now,
        }
    }

    /// Whether `business` is one of the two ends.
    pub fn involves(&self, business: BusinessId) -> bool {
        self.inviter_business_id == business || self.invitee_business_id == business
    }

    /// The other end, seen from `business`; `None` if it is not an end.
    pub fn other_business(&self, business: BusinessId) -> Option<BusinessId> {
        if business == self.inviter_business_id {
            Some(self.invitee_business_id)
        } else if business == self.invitee_business_id {
            Some(self.inviter_business_id)
        } else {
            None
        }
    }

    /// The pair in a canonical order (smaller id first), as stores key it.
    pub fn pair(&self) -> (BusinessId, BusinessId) {
        ordered_pair(self.inviter_business_id, self.invitee_business_id)
    }
}

/// Two businesses in a canonical order, so that (a, b) and (b, a) are one pair.
pub fn ordered_pair(a: BusinessId, b: BusinessId) -> (BusinessId, BusinessId) {
    if a <= b { (a, b) } else { (b, a) }
}
