//! [`EmailAddress`]: the only way an email enters the domain.

use std::fmt;
use std::hash::{Hash, Hasher};

use crate::FieldError;

/// Longest address accepted, in characters (RFC 5321's path limit minus the
/// angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;
const MAX_LABEL_LEN: usize = 63;

/// A syntactically valid email address.
///
/// Parsing trims surrounding whitespace. Two addresses are equal when their
/// [normalized](EmailAddress::normalized) forms are equal: the whole address is
/// compared case-insensitively, as the product brief asks.
///
/// ```
/// use rsvp_domain::EmailAddress;
///
/// let a = EmailAddress::parse("  Ann.Lee@Acme.TEST ").unwrap();
/// assert_eq!(a.as_str(), "Ann.Lee@Acme.TEST");
/// assert_eq!(a.normalized(), "ann.lee@acme.test");
/// assert_eq!(a, EmailAddress::parse("ann.lee@acme.test").unwrap());
/// assert!(EmailAddress::parse("ann@").is_err());
/// ```
#[derive(Debug, Clone)]
pub struct EmailAddress {
    original: String,
    normalized: String,
}

/// Why a string is not an email address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailError {
    /// Nothing but whitespace.
    Empty,
    /// Longer than [`MAX_EMAIL_LEN`] characters.
    TooLong,
    /// No `@`, or more than one.
    MissingAt,
    /// The part before `@` is empty, too long or has a character not allowed.
    InvalidLocalPart,
    /// The part after `@` is not a domain name with at least two labels.
    InvalidDomain,
}

impl EmailError {
    /// A sentence for people.
    pub fn message(self) -> &'static str {
        match self {
            Self::Empty => "email is required",
            Self::TooLong => "email must be at most 254 characters",
            Self::MissingAt => "email must contain exactly one '@'",
            Self::InvalidLocalPart => {
                "the part before '@' must be 1 to 64 characters without spaces, quotes or consecutive dots"
            }
            Self::InvalidDomain => "the part after '@' must be a domain name such as example.com",
        }
    }
}

impl fmt::Display for EmailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for EmailError {}

impl From<EmailError> for FieldError {
    fn from(error: EmailError) -> Self {
        let code = match error {
            EmailError::Empty => "required",
            _ => "invalid_email",
        };
        FieldError::new("", code, error.message())
    }
}

impl EmailAddress {
    /// Parses an address, trimming surrounding whitespace.
    ///
    /// # Errors
    /// An [`EmailError`] saying what is wrong.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.chars().count() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }
        let mut parts = trimmed.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(EmailError::MissingAt);
        };
        if !valid_local_part(local) {
            return Err(EmailError::InvalidLocalPart);
        }
        if !valid_domain(domain) {
            return Err(EmailError::InvalidDomain);
        }
        Ok(Self {
            original: trimmed.to_owned(),
            normalized: trimmed.to_lowercase(),
        })
    }

    /// The address as given, trimmed.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The lowercased address: the form used for every comparison and lookup.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// The lowercased domain part (after the `@`).
    pub fn domain(&self) -> &str {
        self.normalized.rsplit('@').next().unwrap_or_default()
    }
}

fn valid_local_part(local: &str) -> bool {
    let len = local.chars().count();
    if len == 0 || len > MAX_LOCAL_LEN || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return false;
    }
    // RFC 5322 "atext" plus dots; quoted local parts are deliberately refused,
    // and non-ASCII letters are allowed (RFC 6531).
    local
        .chars()
        .all(|c| c.is_alphanumeric() || c == '.' || "!#$%&'*+-/=?^_`{|}~".contains(c))
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            let len = label.chars().count();
            (1..=MAX_LABEL_LEN).contains(&len)
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        // A top-level domain is never all digits: refuses `ann@10.0.0.1`.
        && labels.last().is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()))
}

impl PartialEq for EmailAddress {
    fn eq(&self, other: &Self) -> bool {
        self.normalized == other.normalized
    }
}

impl Eq for EmailAddress {}

impl Hash for EmailAddress {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.normalized.hash(state);
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

impl std::str::FromStr for EmailAddress {
    type Err = EmailError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for EmailAddress {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.original)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for EmailAddress {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_is_trimmed_and_compared_case_insensitively() {
        let a = EmailAddress::parse("  Bob@Example.COM\t").unwrap();
        assert_eq!(a.as_str(), "Bob@Example.COM");
        assert_eq!(a, EmailAddress::parse("bob@example.com").unwrap());
        assert_eq!(a.domain(), "example.com");
    }

    #[test]
    fn malformed_emails_are_refused_with_a_reason() {
        assert_eq!(EmailAddress::parse("   "), Err(EmailError::Empty));
        assert_eq!(EmailAddress::parse("no-at.example.com"), Err(EmailError::MissingAt));
        assert_eq!(EmailAddress::parse("a@b@example.com"), Err(EmailError::MissingAt));
        assert_eq!(EmailAddress::parse("@example.com"), Err(EmailError::InvalidLocalPart));
        assert_eq!(
            EmailAddress::parse("a..b@example.com"),
            Err(EmailError::InvalidLocalPart)
        );
        assert_eq!(
            EmailAddress::parse("a b@example.com"),
            Err(EmailError::InvalidLocalPart)
        );
        assert_eq!(EmailAddress::parse("ann@localhost"), Err(EmailError::InvalidDomain));
        assert_eq!(EmailAddress::parse("ann@-acme.test"), Err(EmailError::InvalidDomain));
        assert_eq!(EmailAddress::parse("ann@acme..test"), Err(EmailError::InvalidDomain));
        assert_eq!(EmailAddress::parse("ann@10.0.0.1"), Err(EmailError::InvalidDomain));
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(EmailAddress::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn plus_addressing_and_international_letters_are_accepted() {
        assert!(EmailAddress::parse("ann+invites@acme.test").is_ok());
        assert!(EmailAddress::parse("jürgen@müller.de").is_ok());
    }
}
