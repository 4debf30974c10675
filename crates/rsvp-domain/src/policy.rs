//! Whether a business may invite an address, given what is known of it:
//! the rules of a new invitation that need more than the request itself
//! (which [`InvitationInput::validate`](crate::InvitationInput::validate)
//! checks). The application reads the facts; the rules live here.

use time::OffsetDateTime;

use crate::{BusinessId, Invitation, SuppressionReason};

/// Why a new invitation is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteRefusal {
    /// The address belongs to a user of the inviting business.
    SelfInvite,
    /// The address's business is already connected to the inviting one.
    AlreadyConnected,
    /// The address opted out of the inviting business's invitations (or of
    /// everyone's).
    RecipientOptedOut,
    /// The inviting business has a pending invitation to the address.
    AlreadyInvited,
    /// The email provider reported the address hard-bounced or complained
    /// (a suppression the operator may lift).
    RecipientSuppressed,
}

/// What is known of an address when a business invites it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InviteFacts<'a> {
    /// The inviting business.
    pub sender: BusinessId,
    /// The business of the user owning the address, if any.
    pub invitee_business: Option<BusinessId>,
    /// Whether that business is connected to the sender.
    pub connected: bool,
    /// Why the address must not be invited by the sender, if it must not:
    /// the strongest of its suppressions (a provider's bounce or complaint
    /// before an opt-out; see [`SuppressionReason::strongest`]).
    pub suppressed: Option<SuppressionReason>,
    /// The sender's invitation to the address whose stored status is
    /// pending (it may be past its expiry), if any.
    pub pending: Option<&'a Invitation>,
}

/// Why an address suppressed for `reason` is refused: the provider's
/// report (a bounce, a complaint) says the address cannot take mail; an
/// opt-out says its owner wants none from the sender.
///
/// ```
/// use rsvp_domain::{InviteRefusal, SuppressionReason, suppression_refusal};
///
/// assert_eq!(suppression_refusal(SuppressionReason::Bounce), InviteRefusal::RecipientSuppressed);
/// assert_eq!(suppression_refusal(SuppressionReason::OptOut), InviteRefusal::RecipientOptedOut);
/// ```
pub fn suppression_refusal(reason: SuppressionReason) -> InviteRefusal {
    if reason.is_provider_feedback() {
        InviteRefusal::RecipientSuppressed
    } else {
        InviteRefusal::RecipientOptedOut
    }
}

/// Checks a new invitation at `now`, in the order the API reports refusals:
/// self-invite, already connected, suppressed (by the provider's bounce or
/// complaint) or opted out, already invited. A stored
/// pending invitation past its expiry does not refuse (it reads as expired;
/// the caller persists that before inviting again).
///
/// ```
/// use rsvp_domain::{BusinessId, InviteFacts, InviteRefusal, check_invite};
/// use time::macros::datetime;
/// use uuid::Uuid;
///
/// let acme = BusinessId::from_uuid(Uuid::from_u128(1));
/// let facts = InviteFacts { sender: acme, invitee_business: Some(acme), connected: false, suppressed: None, pending: None };
/// assert_eq!(check_invite(&facts, datetime!(2026-11-30 12:00 UTC)), Err(InviteRefusal::SelfInvite));
/// ```
///
/// # Errors
/// The first refusal that applies.
pub fn check_invite(facts: &InviteFacts<'_>, now: OffsetDateTime) -> Result<(), InviteRefusal> {
    if let Some(invitee_business) = facts.invitee_business {
        if invitee_business == facts.sender {
            return Err(InviteRefusal::SelfInvite);
        }
        if facts.connected {
            return Err(InviteRefusal::AlreadyConnected);
        }
    }
    if let Some(reason) = facts.suppressed {
        return Err(suppression_refusal(reason));
    }
    if facts.pending.is_some_and(|pending| pending.is_pending_at(now)) {
        return Err(InviteRefusal::AlreadyInvited);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;
    use crate::{InvitationId, InvitationInput, UserId};

    fn business(n: u128) -> BusinessId {
        BusinessId::from_uuid(Uuid::from_u128(n))
    }

    fn pending(created: OffsetDateTime) -> Invitation {
        let request = InvitationInput {
            email: Some("bob@globex.test".into()),
            ..InvitationInput::default()
        }
        .validate()
        .unwrap();
        Invitation::new(
            InvitationId::from_uuid(Uuid::from_u128(9)),
            business(1),
            UserId::from_uuid(Uuid::from_u128(2)),
            request,
            created,
        )
    }

    #[test]
    fn refusals_come_in_the_order_the_api_reports_them() {
        let now = datetime!(2026-11-30 12:00 UTC);
        let live = pending(now - Duration::days(1));
        let everything = InviteFacts {
            sender: business(1),
            invitee_business: Some(business(1)),
            connected: true,
            suppressed: Some(SuppressionReason::OptOut),
            pending: Some(&live),
        };
        assert_eq!(check_invite(&everything, now), Err(InviteRefusal::SelfInvite));
        let other = InviteFacts {
            invitee_business: Some(business(2)),
            ..everything
        };
        assert_eq!(check_invite(&other, now), Err(InviteRefusal::AlreadyConnected));
        let unconnected = InviteFacts {
            connected: false,
            ..other
        };
        assert_eq!(check_invite(&unconnected, now), Err(InviteRefusal::RecipientOptedOut));
        for reason in [SuppressionReason::Bounce, SuppressionReason::Complaint] {
            let undeliverable = InviteFacts {
                suppressed: Some(reason),
                ..unconnected
            };
            assert_eq!(
                check_invite(&undeliverable, now),
                Err(InviteRefusal::RecipientSuppressed)
            );
        }
        let willing = InviteFacts {
            suppressed: None,
            ..unconnected
        };
        assert_eq!(check_invite(&willing, now), Err(InviteRefusal::AlreadyInvited));
        assert_eq!(
            check_invite(
                &InviteFacts {
                    pending: None,
                    ..willing
                },
                now
            ),
            Ok(())
        );
    }

    #[test]
    fn a_stored_pending_invitation_past_its_expiry_does_not_refuse() {
        let now = datetime!(2026-11-30 12:00 UTC);
        let old = pending(now - Duration::days(20));
        let facts = InviteFacts {
            sender: business(1),
            invitee_business: None,
            connected: false,
            suppressed: None,
            pending: Some(&old),
        };
        assert_eq!(check_invite(&facts, now), Ok(()));
        // A connection is only about a known invitee's business.
        let unknown_but_connected = InviteFacts {
            connected: true,
            ..facts
        };
        assert_eq!(check_invite(&unknown_but_connected, now), Ok(()));
    }
}
