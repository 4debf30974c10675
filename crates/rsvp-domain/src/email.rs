//! [`EmailAddress`]: the only way an email enters the domain.

use std::fmt;
use std::hash::{Hash, Hasher};

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};

use crate::FieldError;
use crate::unicode::{is_mark, nfc};

/// Longest address accepted, in characters (RFC 5321's path limit minus the
/// angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;
const MAX_LABEL_LEN: usize = 63;

/// A syntactically valid email address.
///
/// Parsing trims surrounding whitespace. Two addresses are equal when their
/// [normalized](EmailAddress::normalized) forms are equal: one mailbox
/// written two ways is one address. The domain is compared in its IDNA ASCII
/// form (UTS 46 ToASCII: `Bücher.test`, `bu\u{308}cher.test` and
/// `xn--bcher-kva.test` are one domain), the local part in NFC and
/// lowercased. The spelling given is kept for display ([`as_str`](Self::as_str)).
///
/// ```
/// use rsvp_domain::EmailAddress;
///
/// let a = EmailAddress::parse("  Ann.Lee@Acme.TEST ").unwrap();
/// assert_eq!(a.as_str(), "Ann.Lee@Acme.TEST");
/// assert_eq!(a.normalized(), "ann.lee@acme.test");
/// assert_eq!(a, EmailAddress::parse("ann.lee@acme.test").unwrap());
/// assert!(EmailAddress::parse("ann@").is_err());
///
/// let idn = EmailAddress::parse("Jürgen@Bücher.test").unwrap();
/// assert_eq!(idn.as_str(), "Jürgen@Bücher.test");
/// assert_eq!(idn.normalized(), "jürgen@xn--bcher-kva.test");
/// assert_eq!(idn, EmailAddress::parse("jürgen@xn--bcher-kva.test").unwrap());
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
    /// The part after `@` is not a domain name with at least two labels, or
    /// not a valid internationalized one (UTS 46).
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
        let local = normalized_local_part(local).ok_or(EmailError::InvalidLocalPart)?;
        let domain = ascii_domain(domain).ok_or(EmailError::InvalidDomain)?;
        let normalized = format!("{local}@{domain}");
        // The normalized form must itself be an address this parser accepts
        // (punycode can lengthen a domain), so normalizing is idempotent.
        if normalized.chars().count() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }
        Ok(Self {
            original: trimmed.to_owned(),
            normalized,
        })
    }

    /// Rebuilds an address from what [`parse`](Self::parse) made of it and
    /// a store kept: the spelling given and the normalized form, without
    /// normalizing again (IDNA and NFC cost microseconds, and a list reads
    /// dozens of rows), and taking the strings as they are (a row's own move
    /// in). Only the shape is checked; a store passes what it
    /// wrote from a parsed address.
    ///
    /// ```
    /// use rsvp_domain::EmailAddress;
    ///
    /// let parsed = EmailAddress::parse("Jürgen@Bücher.test").unwrap();
    /// let stored = EmailAddress::restore(parsed.as_str(), parsed.normalized()).unwrap();
    /// assert_eq!((stored.as_str(), stored.normalized()), (parsed.as_str(), parsed.normalized()));
    /// assert!(EmailAddress::restore("ann@acme.test", "no-at-sign").is_err());
    /// ```
    ///
    /// # Errors
    /// [`EmailError::Empty`], [`EmailError::TooLong`] or
    /// [`EmailError::MissingAt`] when the normalized form cannot be one
    /// `parse` made.
    pub fn restore(original: impl Into<String>, normalized: impl Into<String>) -> Result<Self, EmailError> {
        // Owned strings move in: a store's row already holds them.
        let (original, normalized) = (original.into(), normalized.into());
        if original.is_empty() || normalized.is_empty() {
            return Err(EmailError::Empty);
        }
        // Bytes bound characters: a shorter byte length is within the limit.
        if normalized.len() > MAX_EMAIL_LEN && normalized.chars().count() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }
        if normalized.bytes().filter(|b| *b == b'@').count() != 1 {
            return Err(EmailError::MissingAt);
        }
        Ok(Self { original, normalized })
    }

    /// The address as given, trimmed.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The form used for every comparison and lookup: the local part in NFC
    /// and lowercased, `@`, the domain in IDNA ASCII form (lowercase).
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// The domain part (after the `@`) in its IDNA ASCII form, lowercase.
    pub fn domain(&self) -> &str {
        self.normalized.rsplit('@').next().unwrap_or_default()
    }
}

/// The local part in NFC and lowercased, when it is valid: 1 to 64
/// characters (both as given in NFC and as compared), RFC 5322 "atext" plus
/// dots, no leading, trailing or doubled dot. Quoted local parts are
/// deliberately refused; non-ASCII letters are allowed (RFC 6531), with
/// their combining marks (a decomposed `u\u{308}` is the `ü` it composes to).
fn normalized_local_part(local: &str) -> Option<String> {
    let composed = nfc(local);
    if !valid_local_part(&composed) {
        return None;
    }
    // Lowercasing can decompose (`İ` becomes `i` + U+0307): compose again.
    let normalized = nfc(&composed.to_lowercase()).into_owned();
    valid_local_part(&normalized).then_some(normalized)
}

fn valid_local_part(local: &str) -> bool {
    let len = local.chars().count();
    if len == 0 || len > MAX_LOCAL_LEN || local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return false;
    }
    !local.starts_with(is_mark)
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || is_mark(c) || c == '.' || "!#$%&'*+-/=?^_`{|}~".contains(c))
}

/// The domain in IDNA ASCII form (UTS 46 ToASCII, nontransitional, STD3
/// rules, DNS lengths checked, no hyphen first or last in a label), when it
/// is a domain name of at least two labels whose top-level label is not all
/// digits (so `ann@10.0.0.1` is refused).
fn ascii_domain(domain: &str) -> Option<String> {
    // Letters, digits, marks, hyphens and dots only, before UTS 46 maps
    // anything: symbols, spaces, format controls and the ideographic full
    // stop (which UTS 46 would read as a dot) are refused as written.
    if !domain
        .chars()
        .all(|c| c.is_alphanumeric() || is_mark(c) || c == '-' || c == '.')
    {
        return None;
    }
    let ascii = Uts46::new()
        .to_ascii(
            domain.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::CheckFirstLast,
            DnsLength::Verify,
        )
        .ok()?;
    let labels: Vec<&str> = ascii.split('.').collect();
    let valid = labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=MAX_LABEL_LEN).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()));
    valid.then(|| ascii.into_owned())
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
    fn a_restored_address_equals_the_parsed_one_and_a_misshapen_one_is_refused() {
        for input in ["Ann.Lee@Acme.test", " jürgen@Bücher.test ", "\u{41}\u{30a}@x.test"] {
            let parsed = EmailAddress::parse(input).unwrap();
            let restored = EmailAddress::restore(parsed.as_str(), parsed.normalized()).unwrap();
            assert_eq!(restored, parsed, "{input}");
            assert_eq!(
                (restored.as_str(), restored.normalized()),
                (parsed.as_str(), parsed.normalized())
            );
        }
        assert_eq!(EmailAddress::restore("", "a@b.test"), Err(EmailError::Empty));
        assert_eq!(EmailAddress::restore("a@b.test", ""), Err(EmailError::Empty));
        assert_eq!(
            EmailAddress::restore("a@b.test", "a@b@c.test"),
            Err(EmailError::MissingAt)
        );
        assert_eq!(EmailAddress::restore("a@b.test", "ab.test"), Err(EmailError::MissingAt));
        let long = format!("{}@b.test", "a".repeat(MAX_EMAIL_LEN));
        assert_eq!(EmailAddress::restore("x@b.test", &long), Err(EmailError::TooLong));
    }

    #[test]
    fn an_email_is_trimmed_and_compared_case_insensitively() {
        let a = EmailAddress::parse("  Bob@Example.COM\t").unwrap();
        assert_eq!(a.as_str(), "Bob@Example.COM");
        assert_eq!(a, EmailAddress::parse("bob@example.com").unwrap());
        assert_eq!(a.domain(), "example.com");
        assert_eq!(a.normalized(), "bob@example.com");
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
        assert!(EmailAddress::parse("δοκιμή@παράδειγμα.δοκιμή").is_ok());
        assert!(EmailAddress::parse("用户@例子.广告").is_ok());
    }

    #[test]
    fn one_mailbox_written_in_unicode_punycode_any_case_or_decomposed_is_one_address() {
        let spellings = [
            "user@bücher.test",
            "user@xn--bcher-kva.test",
            "USER@BÜCHER.test",
            "user@XN--BCHER-KVA.TEST",
            "user@bu\u{0308}cher.test",
        ];
        for spelling in spellings {
            let email = EmailAddress::parse(spelling).unwrap_or_else(|e| panic!("{spelling}: {e}"));
            assert_eq!(email.normalized(), "user@xn--bcher-kva.test", "{spelling}");
            assert_eq!(email.as_str(), spelling, "the spelling given is kept");
            assert_eq!(email.domain(), "xn--bcher-kva.test");
        }
        let composed = EmailAddress::parse("Jürgen@x.test").unwrap();
        let decomposed = EmailAddress::parse("Ju\u{0308}rgen@x.test").unwrap();
        assert_eq!(composed, decomposed);
        assert_eq!(decomposed.normalized(), "jürgen@x.test");
        assert_eq!(decomposed.as_str(), "Ju\u{0308}rgen@x.test");
    }

    #[test]
    fn garbage_international_addresses_are_refused() {
        for garbage in [
            "user@xn--zz.test",                // punycode that decodes to nothing valid
            "user@b\u{00FC}\u{200B}cher.test", // a hidden zero width space
            "us\u{202E}er@acme.test",          // a bidi override in the local part
            "user@acme\u{3002}test",           // an ideographic full stop is not a dot here
            "user@\u{0308}acme.test",          // a label starting with a combining mark
            "\u{0308}user@acme.test",          // so is a local part
            "user@a\u{05D0}.test",             // a label mixing directions (UTS 46 bidi rule)
            "user@☃.test",                     // a symbol
            "user@acme.123",
            "user@-bücher.test",
        ] {
            assert!(EmailAddress::parse(garbage).is_err(), "{garbage:?}");
        }
        let label = format!("{}.test", "ü".repeat(60));
        assert_eq!(
            EmailAddress::parse(&format!("a@{label}")),
            Err(EmailError::InvalidDomain),
            "60 letters whose punycode label is over 63 octets"
        );
    }
}
