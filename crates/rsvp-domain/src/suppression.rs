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

/// Why an address is suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum SuppressionReason {
    /// The recipient opted out (the unsubscribe link, or the operator).
    OptOut,
    /// The email provider reported a hard bounce: the address takes no mail.
    Bounce,
    /// The recipient marked an email as spam.
    Complaint,
}

impl SuppressionReason {
    /// Every reason.
    pub const ALL: [Self; 3] = [Self::OptOut, Self::Bounce, Self::Complaint];

    /// The wire name: `opt_out`, `bounce`, `complaint`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OptOut => "opt_out",
            Self::Bounce => "bounce",
            Self::Complaint => "complaint",
        }
    }

    /// The reason of a wire name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == s)
    }

    /// Whether the email provider's feedback set it (a bounce or a
    /// complaint) rather than the recipient's own choice.
    pub fn is_provider_feedback(self) -> bool {
        !matches!(self, Self::OptOut)
    }

    /// The reason a provider's `feedback` suppresses an address for, if it
    /// does (a hard bounce or a complaint).
    pub fn for_feedback(feedback: crate::EmailFeedback) -> Option<Self> {
        match feedback {
            crate::EmailFeedback::Bounced { permanent: true } => Some(Self::Bounce),
            crate::EmailFeedback::Complained => Some(Self::Complaint),
            crate::EmailFeedback::Bounced { permanent: false } | crate::EmailFeedback::Delivered => None,
        }
    }
}

impl SuppressionReason {
    /// The reason that decides among several suppressions of one address:
    /// a provider's report (the address cannot take mail) before an opt-out.
    pub fn strongest(reasons: impl IntoIterator<Item = Self>) -> Option<Self> {
        reasons.into_iter().max_by_key(|reason| match reason {
            Self::OptOut => 0,
            Self::Complaint => 1,
            Self::Bounce => 2,
        })
    }
}

impl fmt::Display for SuppressionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
    /// Why: an opt-out, or the provider's bounce or complaint report (those
    /// block every business: `business_id` is `None`).
    pub reason: SuppressionReason,
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

#[cfg(test)]
mod reason_tests {
    use super::SuppressionReason;
    use crate::EmailFeedback;

    #[test]
    fn a_providers_report_outranks_an_opt_out_and_a_bounce_a_complaint() {
        use SuppressionReason::{Bounce, Complaint, OptOut};
        assert_eq!(SuppressionReason::strongest([]), None);
        assert_eq!(SuppressionReason::strongest([OptOut, Complaint]), Some(Complaint));
        assert_eq!(SuppressionReason::strongest([Bounce, OptOut, Complaint]), Some(Bounce));
        assert!(!OptOut.is_provider_feedback() && Bounce.is_provider_feedback() && Complaint.is_provider_feedback());
        assert_eq!(
            SuppressionReason::for_feedback(EmailFeedback::Bounced { permanent: true }),
            Some(Bounce)
        );
        assert_eq!(
            SuppressionReason::for_feedback(EmailFeedback::Bounced { permanent: false }),
            None
        );
        assert_eq!(
            SuppressionReason::for_feedback(EmailFeedback::Complained),
            Some(Complaint)
        );
        assert_eq!(SuppressionReason::for_feedback(EmailFeedback::Delivered), None);
        for reason in SuppressionReason::ALL {
            assert_eq!(SuppressionReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(SuppressionReason::parse("spam"), None);
    }
}
