//! The [`Invitation`] and its lifecycle.
//!
//! ```text
//! pending --accept (invitee)--> accepted   (terminal; creates the connection)
//! pending --reject (invitee)--> rejected   (terminal)
//! pending --cancel (sender)---> cancelled  (terminal)
//! pending --time >= expires_at-> expired   (terminal)
//! ```

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;

use crate::{
    BusinessId, CustomData, EmailAddress, ExternalId, InvitationId, InvitationRequest, Locale, Message, PersonName,
    Phone, RedirectUrl, Roles, UserId,
};

/// Where an invitation is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum InvitationStatus {
    /// Waiting for an answer; the only state that moves.
    Pending,
    /// The invitee accepted; the businesses are connected.
    Accepted,
    /// The invitee declined.
    Rejected,
    /// The sender withdrew it.
    Cancelled,
    /// Nobody answered before `expires_at`.
    Expired,
}

impl InvitationStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::Accepted,
        Self::Rejected,
        Self::Cancelled,
        Self::Expired,
    ];

    /// The wire name: `pending`, `accepted`, `rejected`, `cancelled`, `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }

    /// Whether no transition leaves this status (everything but `pending`).
    pub fn is_terminal(self) -> bool {
        self != Self::Pending
    }
}

impl fmt::Display for InvitationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStatus(pub String);

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown status '{}'; expected one of pending, accepted, rejected, cancelled, expired",
            self.0
        )
    }
}

impl std::error::Error for UnknownStatus {}

impl FromStr for InvitationStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// What became of the invitation's email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum EmailDelivery {
    /// Written to the outbox, not yet handed to the transport.
    Queued,
    /// The transport accepted it.
    Sent,
    /// Every attempt failed, or the transport refused it for good.
    Failed,
}

impl EmailDelivery {
    /// The wire name: `queued`, `sent`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }
}

impl FromStr for EmailDelivery {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "queued" => Ok(Self::Queued),
            "sent" => Ok(Self::Sent),
            "failed" => Ok(Self::Failed),
            other => Err(UnknownStatus(other.to_owned())),
        }
    }
}

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
/// Fields are public so that stores can rebuild it; change the status only
/// through [`accept`](Self::accept), [`reject`](Self::reject),
/// [`cancel`](Self::cancel) and [`expire`](Self::expire), which keep the
/// lifecycle's rules.
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
/// assert_eq!(invitation.expires_at, now + Duration::days(14));
///
/// let invitee = Actor::Invitee { user_id: None };
/// let accepted = invitation.accept(&invitee, now + Duration::hours(1)).unwrap();
/// assert_eq!(accepted.status, InvitationStatus::Accepted);
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
/// assert!(invitation.accept(&invitee, later).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Invitation {
    /// Its id.
    pub id: InvitationId,
    /// The sending business.
    pub business_id: BusinessId,
    /// The sending user.
    pub sent_by_user_id: UserId,
    /// The invited address.
    pub email: EmailAddress,
    /// The stored status; read [`status_at`](Self::status_at) for the truth at a given time.
    pub status: InvitationStatus,
    /// The sender's note.
    pub message: Option<Message>,
    /// The sender's metadata, shown only to the sender's business.
    pub custom_data: CustomData,
    /// Roles the connection will carry.
    pub roles: Roles,
    /// Invitee's first name, if the sender knows it.
    pub first_name: Option<PersonName>,
    /// Invitee's last name.
    pub last_name: Option<PersonName>,
    /// Invitee's phone.
    pub phone: Option<Phone>,
    /// The sender's own reference.
    pub external_id: Option<ExternalId>,
    /// Whether the invitee will share data with the sender (`true`) or receive it.
    pub source_is_invitee: bool,
    /// The invitee's business, once known (on acceptance, or when the email belongs to a member).
    pub invitee_business_id: Option<BusinessId>,
    /// When it stops being answerable.
    pub expires_at: OffsetDateTime,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
    /// When it reached a terminal status.
    pub resolved_at: Option<OffsetDateTime>,
    /// Fate of its latest email; `None` when created with `send_email: false`.
    pub email_delivery: Option<EmailDelivery>,
    /// When its link was last (re)sent, for the resend cooldown.
    pub last_sent_at: Option<OffsetDateTime>,
    /// Where the invitee's page sends the invitee after an answer.
    pub redirect_url: Option<RedirectUrl>,
    /// The language of its emails; `None` for invitations created before
    /// rsvp stored one (the server's default applies).
    pub locale: Option<Locale>,
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
        Self {
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
        }
    }

    /// The status as it reads at `now`: a pending invitation at or past
    /// `expires_at` reads as [`InvitationStatus::Expired`].
    pub fn status_at(&self, now: OffsetDateTime) -> InvitationStatus {
        if self.status == InvitationStatus::Pending && now >= self.expires_at {
            InvitationStatus::Expired
        } else {
            self.status
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
                expired.updated_at = self.updated_at.max(self.expires_at);
                expired
            }
            Err(_) => self.clone(),
        }
    }

    /// The invitee accepts.
    ///
    /// # Errors
    /// [`TransitionError::NotPermitted`] unless `actor` is the invitee;
    /// [`TransitionError::InvalidTransition`] unless pending at `now`.
    pub fn accept(&self, actor: &Actor, now: OffsetDateTime) -> Result<Self, TransitionError> {
        self.transition(Action::Accept, actor, now)
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
            Action::Expire => self.status == InvitationStatus::Pending && current == InvitationStatus::Expired,
            _ => current == InvitationStatus::Pending,
        };
        if !allowed {
            return Err(TransitionError::InvalidTransition { action, current });
        }
        let mut next = self.clone();
        next.status = action.target();
        next.updated_at = now;
        next.resolved_at = Some(if action == Action::Expire { self.expires_at } else { now });
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
            InvitationStatus::Expired if self.status == InvitationStatus::Pending => {
                self.transition(Action::Expire, &Actor::System, now).ok()
            }
            _ => None,
        };
        let mut next = moved.unwrap_or_else(|| self.clone());
        next.email = placeholder;
        next.first_name = None;
        next.last_name = None;
        next.phone = None;
        next.message = None;
        next.custom_data = CustomData::empty();
        next.updated_at = now;
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
