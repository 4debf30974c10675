//! Sending an invitation's link again: who may, when, and how often
//! ([`Invitation::resend`], [`ResendError`]).

use std::fmt;

use time::{Duration, OffsetDateTime};

use super::{Actor, EmailDelivery, Invitation, InvitationParts, InvitationStatus};

/// Why a resend was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResendError {
    /// Only the sending business may resend an invitation.
    NotPermitted,
    /// The invitation is not pending at `now`; `current` is what it reads as.
    NotPending {
        /// The status the invitation reads as.
        current: InvitationStatus,
    },
    /// Its link was sent less than the cooldown ago.
    CoolingDown {
        /// The first time a resend is allowed again (the last send plus the
        /// cooldown).
        retry_at: OffsetDateTime,
    },
}

impl fmt::Display for ResendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotPermitted => f.write_str("only the sending business may resend an invitation"),
            Self::NotPending { current } => write!(f, "cannot resend an invitation that is {current}"),
            Self::CoolingDown { retry_at } => write!(f, "resent too soon: retry at {retry_at}"),
        }
    }
}

impl std::error::Error for ResendError {}

impl Invitation {
    /// The sender sends the link again at `now`, at least `cooldown` after
    /// the last send: the invitation with `last_sent_at` and `updated_at` at
    /// `now` and its new email queued. The store records it with its own
    /// atomic check of the cooldown, which decides between racing resends.
    ///
    /// ```
    /// use rsvp_domain::*;
    /// use time::{Duration, OffsetDateTime};
    /// use uuid::Uuid;
    ///
    /// let now = OffsetDateTime::UNIX_EPOCH;
    /// let request = InvitationInput { email: Some("bob@globex.test".into()), ..Default::default() }
    ///     .validate()
    ///     .unwrap();
    /// let sender = UserId::from_uuid(Uuid::from_u128(3));
    /// let invitation = Invitation::new(InvitationId::from_uuid(Uuid::from_u128(1)),
    ///     BusinessId::from_uuid(Uuid::from_u128(2)), sender, request, now);
    /// let cooldown = Duration::seconds(60);
    /// let actor = Actor::Sender { user_id: sender };
    ///
    /// // Sent at creation: too soon.
    /// let soon = now + Duration::seconds(10);
    /// assert_eq!(
    ///     invitation.resend(&actor, soon, cooldown),
    ///     Err(ResendError::CoolingDown { retry_at: now + cooldown })
    /// );
    /// let resent = invitation.resend(&actor, now + cooldown, cooldown).unwrap();
    /// assert_eq!(resent.last_sent_at(), Some(now + cooldown));
    /// assert_eq!(
    ///     invitation.resend(&Actor::Invitee { user_id: None }, now + cooldown, cooldown),
    ///     Err(ResendError::NotPermitted)
    /// );
    /// ```
    ///
    /// # Errors
    /// [`ResendError::NotPermitted`] unless `actor` is the sender;
    /// [`ResendError::NotPending`] unless pending at `now`;
    /// [`ResendError::CoolingDown`] when the last send is after `now - cooldown`.
    pub fn resend(&self, actor: &Actor, now: OffsetDateTime, cooldown: Duration) -> Result<Self, ResendError> {
        if !matches!(actor, Actor::Sender { .. }) {
            return Err(ResendError::NotPermitted);
        }
        let current = self.status_at(now);
        if current != InvitationStatus::Pending {
            return Err(ResendError::NotPending { current });
        }
        if let Some(last_sent_at) = self.parts.last_sent_at
            && last_sent_at > now - cooldown
        {
            return Err(ResendError::CoolingDown {
                retry_at: last_sent_at + cooldown,
            });
        }
        Ok(Self::restore(InvitationParts {
            last_sent_at: Some(now),
            updated_at: now,
            email_delivery: Some(EmailDelivery::Queued),
            ..self.parts.clone()
        }))
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;
    use crate::{BusinessId, InvitationId, InvitationInput, InvitationParts, UserId};

    const COOLDOWN: Duration = Duration::seconds(60);

    fn t0() -> OffsetDateTime {
        datetime!(2026-11-30 12:00 UTC)
    }

    fn sender() -> Actor {
        Actor::Sender {
            user_id: UserId::from_uuid(Uuid::from_u128(3)),
        }
    }

    fn pending(send_email: bool) -> Invitation {
        let request = InvitationInput {
            email: Some("bob@globex.test".into()),
            send_email: Some(send_email),
            ..InvitationInput::default()
        }
        .validate()
        .unwrap();
        Invitation::new(
            InvitationId::from_uuid(Uuid::from_u128(1)),
            BusinessId::from_uuid(Uuid::from_u128(2)),
            UserId::from_uuid(Uuid::from_u128(3)),
            request,
            t0(),
        )
    }

    #[test]
    fn only_the_sender_may_resend() {
        let late = t0() + Duration::days(1);
        for actor in [
            Actor::Invitee { user_id: None },
            Actor::Invitee {
                user_id: Some(UserId::from_uuid(Uuid::from_u128(9))),
            },
            Actor::System,
            Actor::Operator,
        ] {
            assert_eq!(
                pending(true).resend(&actor, late, COOLDOWN),
                Err(ResendError::NotPermitted),
                "{actor:?}"
            );
        }
    }

    #[test]
    fn a_resend_is_refused_unless_the_invitation_is_pending() {
        let late = t0() + Duration::days(1);
        let invitee = Actor::Invitee { user_id: None };
        let globex = BusinessId::from_uuid(Uuid::from_u128(4));
        let answered = [
            pending(true).accept(&invitee, globex, late).unwrap(),
            pending(true).reject(&invitee, late).unwrap(),
            pending(true).cancel(&sender(), late).unwrap(),
        ];
        for invitation in answered {
            let current = invitation.status();
            assert_eq!(
                invitation.resend(&sender(), late, COOLDOWN),
                Err(ResendError::NotPending { current })
            );
        }
    }

    #[test]
    fn a_pending_invitation_past_its_expiry_reads_as_expired_and_is_not_resent() {
        let invitation = pending(true);
        let at_expiry = invitation.expires_at();
        assert_eq!(
            invitation.resend(&sender(), at_expiry, COOLDOWN),
            Err(ResendError::NotPending {
                current: InvitationStatus::Expired
            })
        );
        let just_before = at_expiry - Duration::nanoseconds(1);
        assert!(invitation.resend(&sender(), just_before, COOLDOWN).is_ok());
    }

    #[test]
    fn the_cooldown_ends_exactly_one_cooldown_after_the_last_send() {
        let invitation = pending(true);
        let retry_at = t0() + COOLDOWN;
        assert_eq!(
            invitation.resend(&sender(), retry_at - Duration::nanoseconds(1), COOLDOWN),
            Err(ResendError::CoolingDown { retry_at })
        );
        let resent = invitation.resend(&sender(), retry_at, COOLDOWN).unwrap();
        assert_eq!(resent.last_sent_at(), Some(retry_at));
        // The new send starts a new cooldown.
        assert_eq!(
            resent.resend(&sender(), retry_at + Duration::seconds(59), COOLDOWN),
            Err(ResendError::CoolingDown {
                retry_at: retry_at + COOLDOWN
            })
        );
    }

    #[test]
    fn an_invitation_never_sent_may_be_resent_at_once() {
        let invitation = pending(false);
        assert_eq!(invitation.last_sent_at(), None);
        let resent = invitation.resend(&sender(), t0(), COOLDOWN).unwrap();
        assert_eq!(resent.last_sent_at(), Some(t0()));
    }

    #[test]
    fn a_resend_changes_only_the_send_its_time_and_the_email_fate() {
        let invitation = pending(false);
        let at = t0() + Duration::hours(1);
        let resent = invitation.resend(&sender(), at, COOLDOWN).unwrap();
        let expected = InvitationParts {
            last_sent_at: Some(at),
            updated_at: at,
            email_delivery: Some(EmailDelivery::Queued),
            ..invitation.into_parts()
        };
        assert_eq!(resent.into_parts(), expected);
    }

    #[test]
    fn a_refusal_says_why() {
        assert_eq!(
            ResendError::NotPermitted.to_string(),
            "only the sending business may resend an invitation"
        );
        assert_eq!(
            ResendError::NotPending {
                current: InvitationStatus::Cancelled
            }
            .to_string(),
            "cannot resend an invitation that is cancelled"
        );
    }
}
