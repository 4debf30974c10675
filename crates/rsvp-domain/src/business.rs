//! Tenants and their members, and the rules of who may act.

use time::OffsetDateTime;

use crate::{BusinessId, BusinessName, EmailAddress, ExternalId, PersonName, UserId};

/// A tenant: a company that sends and receives invitations.
#[derive(Debug, Clone, PartialEq)]
pub struct Business {
    /// Its id.
    pub id: BusinessId,
    /// Display name, shown to invitees.
    pub name: BusinessName,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// Since when the operator suspended it (`None`: active). A suspended
    /// business's API keys are refused and its invitation links are dead.
    pub suspended_at: Option<OffsetDateTime>,
    /// The host platform's id of this business (its org or tenant id),
    /// unique among businesses; what a JWT's business claim names.
    pub external_id: Option<ExternalId>,
}

impl Business {
    /// Whether the operator suspended it.
    pub fn is_suspended(&self) -> bool {
        self.suspended_at.is_some()
    }

    /// Suspended (`true`) or active again (`false`) from `now`. Suspending a
    /// suspended business keeps the time it was first suspended.
    pub fn with_suspension(mut self, suspended: bool, now: OffsetDateTime) -> Self {
        self.suspended_at = match (suspended, self.suspended_at) {
            (true, Some(since)) => Some(since),
            (true, None) => Some(now),
            (false, _) => None,
        };
        self
    }
}

/// `text` as the business-name filter compares it: trimmed and lowercased
/// (Unicode lowercase), so that `ACME`, `acme` and `Acme` find the same
/// businesses on every store.
///
/// ```
/// use rsvp_domain::fold_for_search;
/// assert_eq!(fold_for_search(" ÄCME GmbH "), "äcme gmbh");
/// ```
pub fn fold_for_search(text: &str) -> String {
    text.trim().to_lowercase()
}

/// A member of one business. Emails are unique across all users (compared
/// normalized), so an email leads to at most one business.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// The business it belongs to.
    pub business_id: BusinessId,
    /// Its address, unique.
    pub email: EmailAddress,
    /// First name.
    pub first_name: Option<PersonName>,
    /// Last name.
    pub last_name: Option<PersonName>,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// Since when the operator deactivated it (`None`: active). A
    /// deactivated user's API keys are refused.
    pub deactivated_at: Option<OffsetDateTime>,
    /// The host platform's id of this user (its identity provider's
    /// subject), unique among users; what a JWT's user claim names.
    pub external_id: Option<ExternalId>,
}

impl User {
    /// "First Last", or whichever part is known, or the email.
    pub fn display_name(&self) -> String {
        match (&self.first_name, &self.last_name) {
            (Some(first), Some(last)) => format!("{first} {last}"),
            (Some(one), None) | (None, Some(one)) => one.to_string(),
            (None, None) => self.email.to_string(),
        }
    }

    /// Whether the operator deactivated it.
    pub fn is_deactivated(&self) -> bool {
        self.deactivated_at.is_some()
    }

    /// Deactivated (`true`) or active again (`false`) from `now`;
    /// deactivating twice keeps the first time.
    pub fn with_deactivation(mut self, deactivated: bool, now: OffsetDateTime) -> Self {
        self.deactivated_at = match (deactivated, self.deactivated_at) {
            (true, Some(since)) => Some(since),
            (true, None) => Some(now),
            (false, _) => None,
        };
        self
    }
}
