//! [`Locale`]: the languages rsvp speaks, in emails and on the page.

use crate::FieldError;

/// The language of an email or page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Locale {
    /// English (the default).
    #[default]
    En,
    /// German.
    De,
}

impl Locale {
    /// The language tag: `en`, `de`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::De => "de",
        }
    }

    /// The locale for a language tag such as `de`, `de-AT` or `EN_us`;
    /// `None` for languages rsvp does not speak.
    pub fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("de") {
            Some(Self::De)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Self::En)
        } else {
            None
        }
    }
}

impl Locale {
    /// Every locale, English first.
    pub const ALL: [Self; 2] = [Self::En, Self::De];

    /// The locale of a create request: exactly `en` or `de`.
    ///
    /// # Errors
    /// `unsupported_locale` for anything else.
    pub fn parse(tag: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == tag.trim())
            .ok_or_else(|| FieldError::new("", "unsupported_locale", "locale must be one of en, de"))
    }
}
