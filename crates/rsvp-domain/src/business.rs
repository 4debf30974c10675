//! Tenants and their members.

use time::OffsetDateTime;

use crate::{BusinessId, BusinessName, EmailAddress, PersonName, UserId};

/// A tenant: a company that sends and receives invitations.
#[derive(Debug, Clone, PartialEq)]
pub struct Business {
    /// Its id.
    pub id: BusinessId,
    /// Display name, shown to invitees.
    pub name: BusinessName,
    /// When it was created.
    pub created_at: OffsetDateTime,
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
}
