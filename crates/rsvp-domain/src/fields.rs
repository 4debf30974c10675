//! The small value types of an invitation: message, roles, names, phone,
//! external id, expiry. Each constructor is the only way in.

use std::fmt;

use time::Duration;

use crate::FieldError;
use crate::unicode::{is_bidi_override, is_format_control};

/// Longest invitation message, in characters.
pub const MAX_MESSAGE_LEN: usize = 1000;
/// Most roles on one invitation.
pub const MAX_ROLES: usize = 20;
/// Longest role name, in characters.
pub const MAX_ROLE_LEN: usize = 64;
/// Longest first or last name, in characters.
pub const MAX_NAME_LEN: usize = 100;
/// Longest business name, in characters.
pub const MAX_BUSINESS_NAME_LEN: usize = 200;
/// Longest API key name, in characters.
pub const MAX_API_KEY_NAME_LEN: usize = 100;
/// Longest external id, in characters.
pub const MAX_EXTERNAL_ID_LEN: usize = 255;

fn has_control_chars(s: &str, allow_newlines: bool) -> bool {
    s.chars()
        .any(|c| c.is_control() && !(allow_newlines && (c == '\n' || c == '\r' || c == '\t')))
}

/// Which invisible characters a text refuses, besides control characters.
#[derive(Clone, Copy)]
enum Invisible {
    /// Every format control (category Cf): names and identifiers, where a
    /// hidden character makes two values that look alike differ.
    Format,
    /// Only the bidi embeddings, overrides and isolates: prose, where the
    /// marks U+200E/U+200F and joiners have legitimate uses.
    BidiOverrides,
}

impl Invisible {
    fn refuses(self, c: char) -> bool {
        match self {
            Self::Format => is_format_control(c),
            Self::BidiOverrides => is_bidi_override(c),
        }
    }
}

/// The `invalid_characters` error for the first refused character of `text`.
fn refused_character(text: &str, invisible: Invisible, what: &str) -> Option<FieldError> {
    let c = text.chars().find(|c| invisible.refuses(*c))?;
    let kind = match invisible {
        Invisible::Format => "invisible format or bidirectional control characters",
        Invisible::BidiOverrides => "bidirectional override, embedding or isolate characters",
    };
    Some(FieldError::new(
        "",
        "invalid_characters",
        format!("{what} must not contain {kind} (found U+{:04X})", u32::from(c)),
    ))
}

/// Trims, then checks length (in characters), control characters and the
/// invisible characters `invisible` refuses; returns the trimmed text.
fn bounded_text<'a>(
    input: &'a str,
    max: usize,
    allow_newlines: bool,
    invisible: Invisible,
    what: &str,
) -> Result<&'a str, FieldError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new("", "required", format!("{what} must not be empty")));
    }
    if trimmed.chars().count() > max {
        return Err(FieldError::new(
            "",
            "too_long",
            format!("{what} must be at most {max} characters"),
        ));
    }
    if has_control_chars(trimmed, allow_newlines) {
        return Err(FieldError::new(
            "",
            "invalid_characters",
            format!("{what} must not contain control characters"),
        ));
    }
    if let Some(error) = refused_character(trimmed, invisible, what) {
        return Err(error);
    }
    Ok(trimmed)
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $max:expr, $newlines:expr, $invisible:expr, $what:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize))]
        #[cfg_attr(feature = "serde", serde(transparent))]
        pub struct $name(String);

        impl $name {
            /// Trims the input and checks it.
            ///
            /// # Errors
            /// `required` when empty after trimming, `too_long`, or
            /// `invalid_characters` for control characters and refused
            /// invisible characters (see the type's documentation).
            pub fn parse(input: &str) -> Result<Self, FieldError> {
                bounded_text(input, $max, $newlines, $invisible, $what).map(|text| Self(text.to_owned()))
            }

            /// As [`parse`](Self::parse), keeping `input`'s own allocation
            /// when it needs no trimming (a stored value read back).
            ///
            /// # Errors
            /// As [`parse`](Self::parse).
            pub fn parse_owned(input: String) -> Result<Self, FieldError> {
                let trimmed = bounded_text(&input, $max, $newlines, $invisible, $what)?;
                if trimmed.len() == input.len() {
                    Ok(Self(input))
                } else {
                    Ok(Self(trimmed.to_owned()))
                }
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        #[cfg(feature = "serde")]
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                Self::parse(&raw).map_err(|e| serde::de::Error::custom(e.message))
            }
        }
    };
}

text_type!(
    /// The sender's personal note, at most 1000 characters; newlines allowed.
    /// Bidi embeddings, overrides and isolates (U+202A..U+202E,
    /// U+2066..U+2069) are refused; other format characters (marks, joiners)
    /// are prose's own.
    ///
    /// ```
    /// use rsvp_domain::Message;
    /// assert_eq!(Message::parse(" Hello!\nJoin us. ").unwrap().as_str(), "Hello!\nJoin us.");
    /// assert_eq!(Message::parse(&"x".repeat(1001)).unwrap_err().code, "too_long");
    /// assert_eq!(Message::parse("pay to \u{202E}lanigiro").unwrap_err().code, "invalid_characters");
    /// ```
    Message, MAX_MESSAGE_LEN, true, Invisible::BidiOverrides, "message"
);
text_type!(
    /// A person's first or last name, at most 100 characters, without
    /// control or format characters (category Cf).
    ///
    /// ```
    /// use rsvp_domain::PersonName;
    /// assert_eq!(PersonName::parse("  Ann ").unwrap().as_str(), "Ann");
    /// assert_eq!(PersonName::parse("").unwrap_err().code, "required");
    /// assert_eq!(PersonName::parse("Ann\u{200B}").unwrap_err().code, "invalid_characters");
    /// ```
    PersonName, MAX_NAME_LEN, false, Invisible::Format, "name"
);
text_type!(
    /// A business's display name, at most 200 characters, without control or
    /// format characters (category Cf).
    ///
    /// ```
    /// use rsvp_domain::BusinessName;
    /// assert_eq!(BusinessName::parse("Acme GmbH").unwrap().as_str(), "Acme GmbH");
    /// assert_eq!(BusinessName::parse("Acme\u{202E}gnp.exe").unwrap_err().code, "invalid_characters");
    /// ```
    BusinessName, MAX_BUSINESS_NAME_LEN, false, Invisible::Format, "business name"
);
text_type!(
    /// An API key's label, at most 100 characters, without control or
    /// format characters (category Cf).
    ///
    /// ```
    /// use rsvp_domain::ApiKeyName;
    /// assert_eq!(ApiKeyName::parse(" ci deploy ").unwrap().as_str(), "ci deploy");
    /// assert_eq!(ApiKeyName::parse("").unwrap_err().code, "required");
    /// ```
    ApiKeyName, MAX_API_KEY_NAME_LEN, false, Invisible::Format, "an API key name"
);
text_type!(
    /// An id from outside rsvp: the sender's own reference for an
    /// invitation, or the host platform's id of a business or a user; at most
    /// 255 characters, trimmed, without control or format characters
    /// (category Cf). Compared exactly (case-sensitive), as identity
    /// providers compare their ids.
    ///
    /// ```
    /// use rsvp_domain::ExternalId;
    /// assert!(ExternalId::parse("crm-4711").is_ok());
    /// assert!(ExternalId::parse(&"x".repeat(256)).is_err());
    /// ```
    ExternalId, MAX_EXTERNAL_ID_LEN, false, Invisible::Format, "external_id"
);

/// One role granted with the invitation: 1 to 64 characters of ASCII letters,
/// digits and `_ - . :` (so `orders:read` and `supplier.tier-1` fit).
///
/// ```
/// use rsvp_domain::Role;
/// assert!(Role::parse("orders:read").is_ok());
/// assert_eq!(Role::parse("with space").unwrap_err().code, "invalid_format");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Role(String);

impl Role {
    /// Checks one role name (not trimmed: a role is an identifier).
    ///
    /// # Errors
    /// `required`, `too_long`, `invalid_characters` (a format character,
    /// category Cf) or `invalid_format`.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        if input.is_empty() {
            return Err(FieldError::new("", "required", "a role must not be empty"));
        }
        if let Some(error) = refused_character(input, Invisible::Format, "a role") {
            return Err(error);
        }
        if input.chars().count() > MAX_ROLE_LEN {
            return Err(FieldError::new(
                "",
                "too_long",
                format!("a role must be at most {MAX_ROLE_LEN} characters"),
            ));
        }
        if !input.chars().all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c)) {
            return Err(FieldError::new(
                "",
                "invalid_format",
                "a role may contain only ASCII letters, digits and _ - . :",
            ));
        }
        Ok(Self(input.to_owned()))
    }

    /// The role name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The roles of an invitation: at most 20, no duplicates (a repeated role is
/// dropped, keeping the first), in the order given.
///
/// ```
/// use rsvp_domain::Roles;
/// let roles = Roles::parse(["viewer", "editor", "viewer"]).unwrap();
/// assert_eq!(roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(), ["viewer", "editor"]);
/// let errors = Roles::parse(["ok", "not ok"]).unwrap_err();
/// assert_eq!(errors[0].field, "1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Roles(Vec<Role>);

impl Roles {
    /// No roles.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Checks every role; field paths of the errors are the item indexes
    /// (`""` for the list itself).
    ///
    /// # Errors
    /// Every invalid role, and `too_many` when over [`MAX_ROLES`].
    pub fn parse<I, S>(items: I) -> Result<Self, Vec<FieldError>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut roles: Vec<Role> = Vec::new();
        let mut errors = Vec::new();
        let mut count = 0;
        for (index, item) in items.into_iter().enumerate() {
            count += 1;
            match Role::parse(item.as_ref()) {
                Ok(role) if !roles.contains(&role) => roles.push(role),
                Ok(_) => {}
                Err(error) => errors.push(error.under(&index.to_string())),
            }
        }
        if count > MAX_ROLES {
            errors.insert(
                0,
                FieldError::new("", "too_many", format!("at most {MAX_ROLES} roles are allowed")),
            );
        }
        if errors.is_empty() {
            Ok(Self(roles))
        } else {
            Err(errors)
        }
    }

    /// The roles in order.
    pub fn iter(&self) -> impl Iterator<Item = &Role> {
        self.0.iter()
    }

    /// Number of roles.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The role names as strings.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|r| r.0.clone()).collect()
    }
}

/// A phone number: an optional leading `+` and 7 to 15 digits (E.164's
/// limit); spaces, dots, dashes and parentheses are accepted as separators and
/// dropped, so `+49 (30) 1234-567` is stored as `+49301234567`.
///
/// ```
/// use rsvp_domain::Phone;
/// assert_eq!(Phone::parse("+49 (30) 1234-567").unwrap().as_str(), "+49301234567");
/// assert_eq!(Phone::parse("call me").unwrap_err().code, "invalid_format");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Phone(String);

impl Phone {
    /// Parses and normalizes a phone number.
    ///
    /// # Errors
    /// `required` when empty, `invalid_format` otherwise.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(FieldError::new("", "required", "phone must not be empty"));
        }
        let (plus, rest) = match trimmed.strip_prefix('+') {
            Some(rest) => ("+", rest),
            None => ("", trimmed),
        };
        let mut digits = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '.' | '-' | '(' | ')' => {}
                _ => {
                    return Err(FieldError::new(
                        "",
                        "invalid_format",
                        "phone may contain a leading +, digits, spaces, dots, dashes and parentheses",
                    ));
                }
            }
        }
        if !(7..=15).contains(&digits.len()) {
            return Err(FieldError::new("", "invalid_format", "phone must have 7 to 15 digits"));
        }
        Ok(Self(format!("{plus}{digits}")))
    }

    /// The normalized number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How long an invitation stays open: 1 to 90 days, 14 by default.
///
/// ```
/// use rsvp_domain::ExpiryDays;
/// assert_eq!(ExpiryDays::default().days(), 14);
/// assert!(ExpiryDays::new(90).is_ok());
/// assert_eq!(ExpiryDays::new(0).unwrap_err().code, "out_of_range");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct ExpiryDays(u8);

impl ExpiryDays {
    /// Shortest allowed expiry.
    pub const MIN: u8 = 1;
    /// Longest allowed expiry.
    pub const MAX: u8 = 90;
    /// Expiry when none is given.
    pub const DEFAULT: u8 = 14;

    /// Checks the range 1..=90.
    ///
    /// # Errors
    /// `out_of_range` outside 1..=90.
    pub fn new(days: i64) -> Result<Self, FieldError> {
        match u8::try_from(days) {
            Ok(d) if (Self::MIN..=Self::MAX).contains(&d) => Ok(Self(d)),
            _ => Err(FieldError::new(
                "",
                "out_of_range",
                format!("expires_in_days must be between {} and {}", Self::MIN, Self::MAX),
            )),
        }
    }

    /// The number of days.
    pub fn days(self) -> u8 {
        self.0
    }

    /// The same as a duration.
    pub fn duration(self) -> Duration {
        Duration::days(i64::from(self.0))
    }
}

impl Default for ExpiryDays {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_owned_checks_as_parse_does_and_keeps_a_trimmed_input_as_it_is() {
        let stored = String::from("Hello\nthere");
        let pointer = stored.as_ptr();
        let message = Message::parse_owned(stored).unwrap();
        assert_eq!(message, Message::parse("Hello\nthere").unwrap());
        assert_eq!(message.as_str().as_ptr(), pointer, "the input's allocation is kept");
        assert_eq!(PersonName::parse_owned("  Ann ".into()).unwrap().as_str(), "Ann");
        for bad in ["", "   ", "Ann\u{200B}", "A\u{0007}"] {
            assert_eq!(
                PersonName::parse_owned(bad.into()).unwrap_err().code,
                PersonName::parse(bad).unwrap_err().code,
                "{bad:?}"
            );
        }
        assert_eq!(ExternalId::parse_owned("x".repeat(256)).unwrap_err().code, "too_long");
    }

    #[test]
    fn a_message_is_at_most_1000_characters() {
        assert!(Message::parse(&"ü".repeat(1000)).is_ok());
        assert_eq!(Message::parse(&"ü".repeat(1001)).unwrap_err().code, "too_long");
    }

    #[test]
    fn names_refuse_control_characters() {
        assert_eq!(PersonName::parse("Ann\u{0}").unwrap_err().code, "invalid_characters");
        assert_eq!(PersonName::parse("Ann\nLee").unwrap_err().code, "invalid_characters");
    }

    #[test]
    fn names_roles_and_external_ids_refuse_every_format_control() {
        for hidden in [
            '\u{200B}', '\u{200E}', '\u{202E}', '\u{2066}', '\u{2069}', '\u{FEFF}', '\u{00AD}',
        ] {
            let text = format!("Acme{hidden}gnp.exe");
            for error in [
                PersonName::parse(&text).unwrap_err(),
                BusinessName::parse(&text).unwrap_err(),
                ExternalId::parse(&text).unwrap_err(),
                Role::parse(&format!("orders{hidden}")).unwrap_err(),
            ] {
                assert_eq!(error.code, "invalid_characters", "U+{:04X}", u32::from(hidden));
                assert!(
                    error.message.contains(&format!("U+{:04X}", u32::from(hidden))),
                    "{}",
                    error.message
                );
            }
        }
        // A leading byte order mark is not whitespace: it is not trimmed away but refused.
        assert_eq!(
            BusinessName::parse("\u{FEFF}Acme").unwrap_err().code,
            "invalid_characters"
        );
        assert!(BusinessName::parse("Café Zürich — 東京").is_ok());
    }

    #[test]
    fn a_message_refuses_bidi_overrides_but_keeps_marks_and_joiners() {
        for reorder in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
        ] {
            assert_eq!(
                Message::parse(&format!("see {reorder}fdp.exe")).unwrap_err().code,
                "invalid_characters"
            );
        }
        for allowed in [
            "\u{05E9}\u{05DC}\u{05D5}\u{05DD}\u{200F} (hi)",
            "left\u{200E}",
            "👩\u{200D}💻",
            "soft\u{00AD}hyphen",
        ] {
            assert!(Message::parse(allowed).is_ok(), "{allowed:?}");
        }
    }

    #[test]
    fn at_most_twenty_roles_of_at_most_64_characters() {
        let twenty: Vec<String> = (0..20).map(|i| format!("r{i}")).collect();
        assert_eq!(Roles::parse(&twenty).unwrap().len(), 20);
        let mut twenty_one = twenty;
        twenty_one.push("r20".into());
        assert_eq!(Roles::parse(&twenty_one).unwrap_err()[0].code, "too_many");
        assert!(Role::parse(&"a".repeat(64)).is_ok());
        assert_eq!(Role::parse(&"a".repeat(65)).unwrap_err().code, "too_long");
        assert_eq!(Role::parse("").unwrap_err().code, "required");
    }

    #[test]
    fn expiry_is_between_one_and_ninety_days() {
        assert_eq!(ExpiryDays::new(1).unwrap().days(), 1);
        assert_eq!(ExpiryDays::new(90).unwrap().duration(), Duration::days(90));
        for bad in [0, 91, -1, 256, i64::MAX] {
            assert!(ExpiryDays::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phone_numbers_need_seven_to_fifteen_digits() {
        assert!(Phone::parse("123456").is_err());
        assert!(Phone::parse("1234567").is_ok());
        assert!(Phone::parse("1234567890123456").is_err());
        assert!(Phone::parse("++1234567").is_err());
    }
}
