//! Where an invitation is ([`InvitationStatus`]) and what became of its
//! email ([`EmailDelivery`]).

use std::fmt;
use std::str::FromStr;

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
///
/// `queued`, `sent` and `failed` are rsvp's own; `delivered`, `bounced` and
/// `complained` are what the email provider reported afterwards (see
/// [`EmailFeedback`] and [`EmailDelivery::after`]).
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
    /// The provider reports the recipient's server accepted it.
    Delivered,
    /// The provider reports it bounced.
    Bounced,
    /// The recipient marked it as spam.
    Complained,
}

impl EmailDelivery {
    /// Every state.
    pub const ALL: [Self; 6] = [
        Self::Queued,
        Self::Sent,
        Self::Failed,
        Self::Delivered,
        Self::Bounced,
        Self::Complained,
    ];

    /// The wire name: `queued`, `sent`, `failed`, `delivered`, `bounced`,
    /// `complained`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Delivered => "delivered",
            Self::Bounced => "bounced",
            Self::Complained => "complained",
        }
    }

    /// Whether the state came from the provider's feedback rather than from
    /// rsvp's own sending.
    pub fn is_feedback(self) -> bool {
        matches!(self, Self::Delivered | Self::Bounced | Self::Complained)
    }

    /// The state after the provider reports `feedback` on this email, or
    /// `None` when the report changes nothing: a delivery never overrides a
    /// bounce or a complaint (reports may arrive out of order), a bounce
    /// never overrides a complaint, and nothing follows a failed send (the
    /// provider never had it).
    ///
    /// ```
    /// use rsvp_domain::{EmailDelivery, EmailFeedback};
    ///
    /// let bounced = EmailFeedback::Bounced { permanent: true };
    /// assert_eq!(EmailDelivery::Sent.after(bounced), Some(EmailDelivery::Bounced));
    /// assert_eq!(EmailDelivery::Bounced.after(EmailFeedback::Delivered), None);
    /// assert_eq!(EmailDelivery::Delivered.after(EmailFeedback::Complained), Some(EmailDelivery::Complained));
    /// ```
    pub fn after(self, feedback: EmailFeedback) -> Option<Self> {
        let next = match feedback {
            EmailFeedback::Delivered => Self::Delivered,
            EmailFeedback::Bounced { .. } => Self::Bounced,
            EmailFeedback::Complained => Self::Complained,
        };
        let allowed = match next {
            Self::Delivered => matches!(self, Self::Queued | Self::Sent),
            Self::Bounced => matches!(self, Self::Queued | Self::Sent | Self::Delivered),
            Self::Complained => !matches!(self, Self::Failed | Self::Complained),
            Self::Queued | Self::Sent | Self::Failed => false,
        };
        allowed.then_some(next)
    }
}

/// What an email provider reported about a sent email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmailFeedback {
    /// The recipient's server accepted it.
    Delivered,
    /// It bounced: `permanent` for a hard bounce (the address does not
    /// exist, or never accepts mail), not for a full mailbox or a
    /// temporary refusal.
    Bounced {
        /// Whether the bounce is permanent (a hard bounce).
        permanent: bool,
    },
    /// The recipient marked it as spam.
    Complained,
}

impl EmailFeedback {
    /// Whether the address must get no more email: a hard bounce or a
    /// complaint.
    pub fn suppresses(self) -> bool {
        matches!(self, Self::Bounced { permanent: true } | Self::Complained)
    }
}

impl FromStr for EmailDelivery {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::{EmailDelivery, EmailFeedback};

    #[test]
    fn feedback_moves_delivery_forward_only() {
        use EmailDelivery::{Bounced, Complained, Delivered, Failed, Queued, Sent};
        let hard = EmailFeedback::Bounced { permanent: true };
        let soft = EmailFeedback::Bounced { permanent: false };
        let table = [
            // (from, delivered, bounced, complained)
            (Queued, Some(Delivered), Some(Bounced), Some(Complained)),
            (Sent, Some(Delivered), Some(Bounced), Some(Complained)),
            (Failed, None, None, None),
            (Delivered, None, Some(Bounced), Some(Complained)),
            (Bounced, None, None, Some(Complained)),
            (Complained, None, None, None),
        ];
        for (from, delivered, bounced, complained) in table {
            assert_eq!(from.after(EmailFeedback::Delivered), delivered, "{from:?}");
            assert_eq!(from.after(hard), bounced, "{from:?}");
            assert_eq!(from.after(soft), bounced, "{from:?}");
            assert_eq!(from.after(EmailFeedback::Complained), complained, "{from:?}");
        }
        assert!(hard.suppresses() && EmailFeedback::Complained.suppresses());
        assert!(!soft.suppresses() && !EmailFeedback::Delivered.suppresses());
    }

    #[test]
    fn every_state_reads_back_from_its_wire_name() {
        for state in EmailDelivery::ALL {
            assert_eq!(state.as_str().parse::<EmailDelivery>(), Ok(state));
            assert_eq!(
                state.is_feedback(),
                matches!(state.as_str(), "delivered" | "bounced" | "complained")
            );
        }
        assert!("opened".parse::<EmailDelivery>().is_err());
    }
}
