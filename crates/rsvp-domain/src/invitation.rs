//! The [`Invitation`] and its lifecycle.
//!
//! ```text
//! pending --accept (invitee)--> accepted   (terminal; creates the connection)
//! pending --reject (invitee)--> rejected   (terminal)
//! pending --cancel (sender)---> cancelled  (terminal)
//! pending --time >= expires_at-> expired   (terminal)
//! ```

mod parts;
mod resend;
mod status;

use std::fmt;

use time::OffsetDateTime;

use crate::{BusinessId, CustomData, EmailAddress, InvitationId, InvitationRequest, UserId};

pub use parts::InvitationParts;
pub use resend::ResendError;
pub use status::{EmailDelivery, EmailFeedback, InvitationStatus, UnknownStatus};

/// Who asks for a transition. The application decides which one a caller is
/// (the sender's business, the business of the invited email, a link holder).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A user of the sending business.
    Sender {
        /// The acting user.
        user_id: UserId,
    },
    /// The invitee: a user of the invited email's business, or the holder of
    /// the invitation's link (`user_id` is then the user the link resolved to).
    Invitee {
        /// The acting user, when known.
        user_id: Option<UserId>,
    },
    /// rsvp itself (the expiry sweep).
    System,
    /// The operator of the service (an erasure of a person's data).
    Operator,
}

impl Actor {
    /// The acting user, if a person acted.
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Self::Sender { user_id } => Some(*user_id),
            Self::Invitee { user_id } => *user_id,
            Self::System | Self::Operator => None,
        }
    }
}

/// A requested change of status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Action {
    /// Invitee says yes.
    Accept,
    /// Invitee says no.
    Reject,
    /// Sender withdraws.
    Cancel,
    /// Time ran out.
    Expire,
}

impl Action {
    /// The status the action leads to.
    pub fn target(self) -> InvitationStatus {
        match self {
            Self::Accept => InvitationStatus::Accepted,
            Self::Reject => InvitationStatus::Rejected,
            Self::Cancel => InvitationStatus::Cancelled,
            Self::Expire => InvitationStatus::Expired,
        }
    }

    /// The action that leads to `status`, if any (`pending` has none).
    pub fn leading_to(status: InvitationStatus) -> Option<Self> {
        match status {
            InvitationStatus::Pending => None,
            InvitationStatus::Accepted => Some(Self::Accept),
            InvitationStatus::Rejected => Some(Self::Reject),
            InvitationStatus::Cancelled => Some(Self::Cancel),
            InvitationStatus::Expired => Some(Self::Expire),
        }
    }

    /// Whether `actor` may ask for this action at all.
    pub fn permits(self, actor: &Actor) -> bool {
        matches!(
            (self, actor),
            (Self::Accept | Self::Reject, Actor::Invitee { .. })
                | (Self::Cancel, Actor::Sender { .. } | Actor::Operator)
                | (Self::Expire, Actor::System)
        )
    }

    /// The wire name: `accept`, `reject`, `cancel`, `expire`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Reject => "reject",
            Self::Cancel => "cancel",
            Self::Expire => "expire",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a transition was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionError {
    /// The invitation is not pending (at `now`); `current` is what it reads as.
    InvalidTransition {
        /// The refused action.
        action: Action,
        /// The status the invitation reads as.
        current: InvitationStatus,
    },
    /// This actor may never do this (a sender accepting, an invitee cancelling).
    NotPermitted {
        /// The refused action.
        action: Action,
    },
}

impl fmt::Display for TransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidTransition { action, current } => {
                write!(f, "cannot {action} an invitation that is {current}")
            }
            Self::NotPermitted { action: Action::Cancel } => {
                f.write_str("only the sending business may cancel an invitation")
            }
            Self::NotPermitted { action: Action::Expire } => f.write_str("only rsvp itself expires invitations"),
            Self::NotPermitted { action } => {
                write!(f, "only the invited business may {action} an invitation")
            }
        }
    }
}

impl std::error::Error for TransitionError {}

/// An invitation from one business (sent by one of its users) to an email
/// address.
///
/// Its fields are private: read them through accessors ([`id`](Self::id),
/// [`status`](Self::status), [`email`](Self::email)...). A new invitation
/// comes from [`new`](Self::new); a store rebuilds a recorded one with
/// [`restore`](Self::restore) from its [`InvitationParts`]. Every change
/// after creation is a method keeping its rule: [`accept`](Self::accept),
/// [`reject`](Self::reject), [`cancel`](Self::cancel),
/// [`expire`](Self::expire) (all through [`transition`](Self::transition)),
/// [`resend`](Self::resend), [`erased`](Self::erased).
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
/// let sender = UserId::from_uuid(Uuid::from_u128(2));
/// let invitation = Invitation::new(
///     InvitationId::from_uuid(Uuid::from_u128(1)),
///     BusinessId::from_uuid(Uuid::from_u128(3)),
///     sender,
///     request,
///     now,
/// );
/// assert_eq!(invitation.expires_at(), now + Duration::days(14));
/// assert_eq!(invitation.email().as_str(), "bob@globex.test");
///
/// // The invitee accepts as a user of its business, which the invitation records.
/// let globex = BusinessId::from_uuid(Uuid::from_u128(4));
/// let invitee = Actor::Invitee { user_id: None };
/// let accepted = invitation.accept(&invitee, globex, now + Duration::hours(1)).unwrap();
/// assert_eq!(accepted.status(), InvitationStatus::Accepted);
/// assert_eq!(accepted.invitee_business_id(), Some(globex));
///
/// // Terminal states absorb everything.
/// let err = accepted.cancel(&Actor::Sender { user_id: sender }, now).unwrap_err();
/// assert_eq!(err, TransitionError::InvalidTransition {
///     action: Action::Cancel,
///     current: InvitationStatus::Accepted,
/// });
///
/// // Past expires_at a pending invitation reads as expired, before any sweep.
/// let later = now + Duration::days(15);
/// assert_eq!(invitation.status_at(later), InvitationStatus::Expired);
/// assert!(invitation.accept(&invitee, globex, later).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Invitation {
    // Every field, private: what a store holds ([`InvitationParts`]), behind
    // the accessors and the rules of this type.
    parts: InvitationParts,
}

impl Invitation {
    /// A new pending invitation expiring `request.expires_in` after `now`.
    pub fn new(
        id: InvitationId,
        business_id: BusinessId,
        sent_by_user_id: UserId,
        request: InvitationRequest,
        now: OffsetDateTime,
    ) -> Self {
        Self::restore(InvitationParts {
            id,
            business_id,
            sent_by_user_id,
            email: request.email,
            status: InvitationStatus::Pending,
            message: request.message,
            custom_data: request.custom_data,
            roles: request.roles,
            first_name: request.first_name,
            last_name: request.last_name,
            phone: request.phone,
            external_id: request.external_id,
            source_is_invitee: request.source_is_invitee,
            invitee_business_id: None,
            expires_at: now + request.expires_in.duration(),
            created_at: now,
            updated_at: now,
            resolved_at: None,
            email_delivery: request.send_email.then_some(EmailDelivery::Queued),
            last_sent_at: request.send_email.then_some(now),
            redirect_url: request.redirect_url,
            locale: request.locale,
        })
    }

    /// This new invitation, addressed to an email that belongs to a user of
    /// `invitee_business` (`None`: to nobody known yet). The invitee's side
    /// sees the business at once; the sender's only once it is accepted.
    ///
    /// ```
    /// use rsvp_domain::*;
    /// use time::OffsetDateTime;
    /// use uuid::Uuid;
    ///
    /// let request = InvitationInput { email: Some("bob@globex.test".into()), ..Default::default() }
    ///     .validate()
    ///     .unwrap();
    /// let globex = BusinessId::from_uuid(Uuid::from_u128(4));
    /// let invitation = Invitation::new(InvitationId::from_uuid(Uuid::from_u128(1)),
    ///     BusinessId::from_uuid(Uuid::from_u128(2)), UserId::from_uuid(Uuid::from_u128(3)),
    ///     request, OffsetDateTime::UNIX_EPOCH)
    ///     .with_invitee_business(Some(globex));
    /// assert_eq!(invitation.invitee_business_id(), Some(globex));
    /// ```
    #[must_use]
    pub fn with_invitee_business(self, invitee_business: Option<BusinessId>) -> Self {
        Self::restore(InvitationParts {
            invitee_business_id: invitee_business,
            ..self.parts
        })
    }

    /// The status as it reads at `now`: a pending invitation at or past
    /// `expires_at` reads as [`InvitationStatus::Expired`].
    pub fn status_at(&self, now: OffsetDateTime) -> InvitationStatus {
        if self.parts.status == InvitationStatus::Pending && now >= self.parts.expires_at {
            InvitationStatus::Expired
        } else {
            self.parts.status
        }
    }

    /// Whether it can still be answered at `now`.
    pub fn is_pending_at(&self, now: OffsetDateTime) -> bool {
        self.status_at(now) == InvitationStatus::Pending
    }

    /// This invitation as it reads at `now` (status and dates of a lazily
    /// expired invitation filled in), for display.
    pub fn as_of(&self, now: OffsetDateTime) -> Self {
        match self.expire(now) {
            Ok(mut expired) => {
                // Reading must not look like a write: the change happened at expires_at.
                expired.parts.updated_at = self.parts.updated_at.max(self.parts.expires_at);
                expired
            }
            Err(_) => self.clone(),
        }
    }

    /// [`as_of`](Self::as_of), taking the invitation: nothing is copied when
    /// it reads as stored (a list of pending invitations, the common case).
    #[must_use]
    pub fn into_as_of(self, now: OffsetDateTime) -> Self {
        if self.status_at(now) == self.parts.status {
            self
        } else {
            self.as_of(now)
        }
    }

    /// The invitee accepts, as a user of `invitee_business`: the invitation
    /// records that business (the other end of the connection it makes).
    ///
    /// # Errors
    /// [`TransitionError::NotPermitted`] unless `actor` is the invitee;
    /// [`TransitionError::InvalidTransition`] unless pending at `now`.
    pub fn accept(
        &self,
        actor: &Actor,
        invitee_business: BusinessId,
        now: OffsetDateTime,
    ) -> Result<Self, TransitionError> {
        self.answer(Action::Accept, actor, Some(invitee_business), now)
    }

    /// The invitee declines.
    ///
    /// # Errors
    /// As [`accept`](Self::accept).
    pub fn reject(&self, actor: &Actor, now: OffsetDateTime) -> Result<Self, TransitionError> {
        self.transition(Action::Reject, actor, now)
    }

    /// The sender withdraws.
    ///
    /// # Errors
    /// [`TransitionError::NotPermitted`] unless `actor` is the sender;
    /// [`TransitionError::InvalidTransition`] unless pending at `now`.
    pub fn cancel(&self, actor: &Actor, now: OffsetDateTime) -> Result<Self, TransitionError> {
        self.transition(Action::Cancel, actor, now)
    }

    /// Persists what time already decided: a pending invitation at or past
    /// `expires_at` becomes expired, resolved at `expires_at`.
    ///
    /// # Errors
    /// [`TransitionError::InvalidTransition`] when the stored status is not
    /// pending or `now` is before `expires_at` (`current` is then `pending`).
    pub fn expire(&self, now: OffsetDateTime) -> Result<Self, TransitionError> {
        self.transition(Action::Expire, &Actor::System, now)
    }

    /// Applies `action` for `actor` at `now` through
    /// [`transition`](Self::transition); when the invitee accepts or declines
    /// and `invitee_business` (the business of the invitee's user) is known,
    /// the invitation records it. The sending side is shown it only once the
    /// invitation is accepted (the API's views keep it from them before).
    ///
    /// ```
    /// use rsvp_domain::*;
    /// use time::OffsetDateTime;
    /// use uuid::Uuid;
    ///
    /// let now = OffsetDateTime::UNIX_EPOCH;
    /// let request = InvitationInput { email: Some("bob@globex.test".into()), ..Default::default() }
    ///     .validate()
    ///     .unwrap();
    /// let id = |n| Uuid::from_u128(n);
    /// let invitation = Invitation::new(InvitationId::from_uuid(id(1)), BusinessId::from_uuid(id(2)),
    ///     UserId::from_uuid(id(3)), request, now);
    /// let globex = BusinessId::from_uuid(id(4));
    /// let declined = invitation
    ///     .answer(Action::Reject, &Actor::Invitee { user_id: None }, Some(globex), now)
    ///     .unwrap();
    /// assert_eq!(declined.status(), InvitationStatus::Rejected);
    /// assert_eq!(declined.invitee_business_id(), Some(globex));
    /// ```
    ///
    /// # Errors
    /// As [`transition`](Self::transition).
    pub fn answer(
        &self,
        action: Action,
        actor: &Actor,
        invitee_business: Option<BusinessId>,
        now: OffsetDateTime,
    ) -> Result<Self, TransitionError> {
        let mut next = self.transition(action, actor, now)?;
        if matches!(action, Action::Accept | Action::Reject)
            && let Some(business) = invitee_business
        {
            next.parts.invitee_business_id = Some(business);
        }
        Ok(next)
    }

    /// Applies `action` for `actor` at `now`: the one place the lifecycle's
    /// rules live.
    ///
    /// # Errors
    /// See [`TransitionError`].
    pub fn transition(&self, action: Action, actor: &Actor, now: OffsetDateTime) -> Result<Self, TransitionError> {
        if !action.permits(actor) {
            return Err(TransitionError::NotPermitted { action });
        }
        let current = self.status_at(now);
        let allowed = match action {
            Action::Expire => self.parts.status == InvitationStatus::Pending && current == InvitationStatus::Expired,
            _ => current == InvitationStatus::Pending,
        };
        if !allowed {
            return Err(TransitionError::InvalidTransition { action, current });
        }
        let mut next = self.clone();
        next.parts.status = action.target();
        next.parts.updated_at = now;
        next.parts.resolved_at = Some(if action == Action::Expire {
            self.parts.expires_at
        } else {
            now
        });
        Ok(next)
    }

    /// The invitation after the erasure of its invitee's personal data (GDPR
    /// art. 17) at `now`: the email becomes `placeholder`; names, phone,
    /// message and custom data are gone. A pending invitation is cancelled by
    /// the operator (through [`transition`](Self::transition), like every
    /// status change); one stored as pending but past its expiry is expired.
    /// Terminal invitations keep their status.
    pub fn erased(&self, placeholder: EmailAddress, now: OffsetDateTime) -> Self {
        let moved = match self.status_at(now) {
            InvitationStatus::Pending => self.transition(Action::Cancel, &Actor::Operator, now).ok(),
            InvitationStatus::Expired if self.parts.status == InvitationStatus::Pending => {
                self.transition(Action::Expire, &Actor::System, now).ok()
            }
            _ => None,
        };
        let mut next = moved.unwrap_or_else(|| self.clone());
        next.parts.email = placeholder;
        next.parts.first_name = None;
        next.parts.last_name = None;
        next.parts.phone = None;
        next.parts.message = None;
        next.parts.custom_data = CustomData::empty();
        next.parts.updated_at = now;
        next
    }

    /// The placeholder address an erased invitation gets:
    /// `erased-<id>@erased.invalid` (`.invalid` is reserved: it never
    /// reaches anyone, RFC 2606).
    ///
    /// # Errors
    /// Never in practice: the address is always valid.
    pub fn erased_email(id: InvitationId) -> Result<EmailAddress, crate::EmailError> {
        EmailAddress::parse(&format!("erased-{}@erased.invalid", id.as_uuid().simple()))
    }
}
