//! [`Suppression`]: an address that said no to further invitations, from one
//! business or from everyone on this service.

use std::fmt;

use time::OffsetDateTime;

use crate::{BusinessId, EmailAddress, InvitationId, SuppressionId};

/// Whom an opt-out blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum OptOutScope {
    /// The business that sent the invitation.
    Business,
    /// Every business on this service.
    Everyone,
}

impl OptOutScope {
    /// The wire name: `business`, `everyone`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Business => "business",
            Self::Everyone => "everyone",
        }
    }
}

impl fmt::Display for OptOutScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl OptOutScope {
    /// The scope of a wire name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "business" => Some(Self::Business),
            "everyone" => Some(Self::Everyone),
            _ => None,
        }
    }
}

/// A recipient's opt-out: no invitation to `email` from `business_id` (or
/// from anyone, when `business_id` is `None`) may be created while it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// Its id.
    pub id: SuppressionId,
    /// The address that opted out (compared in its normalized form).
    pub email: EmailAddress,
    /// The business blocked; `None` blocks every business.
    pub business_id: Option<BusinessId>,
    /// The invitation whose link the recipient opted out with.
    pub invitation_id: Option<InvitationId>,
    /// When the recipient opted out.
    pub created_at: OffsetDateTime,
}

impl Suppression {
    /// Whom it blocks.
    pub fn scope(&self) -> OptOutScope {
        if self.business_id.is_some() {
            OptOutScope::Business
        } else {
            OptOutScope::Everyone
        }
    }

    /// Whether it forbids `business` to invite `email`.
    pub fn blocks(&self, business: BusinessId, email: &EmailAddress) -> bool {
        self.email.normalized() == email.normalized() && self.business_id.is_none_or(|b| b == business)
    }
}
