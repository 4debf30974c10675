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
