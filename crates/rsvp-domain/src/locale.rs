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

    /// The first supported language of an HTTP `Accept-Language` header, by
    /// quality (`de-DE,de;q=0.9,en;q=0.8` → German).
    pub fn from_accept_language(header: &str) -> Option<Self> {
        let mut candidates: Vec<(f32, Self)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.split(';');
                let locale = Self::from_tag(pieces.next()?)?;
                let quality = pieces
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                (quality > 0.0).then_some((quality, locale))
            })
            .collect();
        // Stable sort keeps the header's order among equal qualities.
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
        candidates.first().map(|c| c.1)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        assert_eq!(
            Locale::from_accept_language("de-DE,de;q=0.9,en;q=0.8"),
            Some(Locale::De)
        );
        assert_eq!(
            Locale::from_accept_language("fr-FR,fr;q=0.9,en;q=0.5,de;q=0.4"),
            Some(Locale::En)
        );
        assert_eq!(Locale::from_accept_language("en;q=0.1, de;q=0.2"), Some(Locale::De));
        assert_eq!(Locale::from_accept_language("fr, es"), None);
        assert_eq!(Locale::from_accept_language("de;q=0"), None);
        assert_eq!(Locale::from_accept_language(""), None);
    }
}
