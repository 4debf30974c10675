//! [`Locale`]: the languages rsvp speaks, in emails and on the page.

use time::{Month, OffsetDateTime, UtcOffset};

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

impl std::str::FromStr for Locale {
    type Err = FieldError;

    /// [`Locale::parse`].
    fn from_str(tag: &str) -> Result<Self, Self::Err> {
        Self::parse(tag)
    }
}

impl Locale {
    /// The month's name in this language: `March`, `März`.
    pub fn month_name(self, month: Month) -> &'static str {
        match (self, month) {
            (Self::En, Month::January) => "January",
            (Self::En, Month::February) => "February",
            (Self::En, Month::March) => "March",
            (Self::En, Month::April) => "April",
            (Self::En, Month::May) => "May",
            (Self::En, Month::June) => "June",
            (Self::En, Month::July) => "July",
            (Self::En, Month::August) => "August",
            (Self::En, Month::September) => "September",
            (Self::En, Month::October) => "October",
            (Self::En, Month::November) => "November",
            (Self::En, Month::December) => "December",
            (Self::De, Month::January) => "Januar",
            (Self::De, Month::February) => "Februar",
            (Self::De, Month::March) => "März",
            (Self::De, Month::April) => "April",
            (Self::De, Month::May) => "Mai",
            (Self::De, Month::June) => "Juni",
            (Self::De, Month::July) => "Juli",
            (Self::De, Month::August) => "August",
            (Self::De, Month::September) => "September",
            (Self::De, Month::October) => "Oktober",
            (Self::De, Month::November) => "November",
            (Self::De, Month::December) => "Dezember",
        }
    }

    /// The day of `at` in UTC, as people of this language write a date:
    /// `2 March 2026`, `2. März 2026`. The one date format of the emails and
    /// the invitee's page.
    ///
    /// ```
    /// use rsvp_domain::Locale;
    /// use time::macros::datetime;
    ///
    /// let at = datetime!(2026-11-22 23:30 -2);
    /// assert_eq!(Locale::En.format_date(at), "23 November 2026");
    /// assert_eq!(Locale::De.format_date(at), "23. November 2026");
    /// ```
    pub fn format_date(self, at: OffsetDateTime) -> String {
        let at = at.to_offset(UtcOffset::UTC);
        let (day, month, year) = (at.day(), self.month_name(at.month()), at.year());
        match self {
            Self::En => format!("{day} {month} {year}"),
            Self::De => format!("{day}. {month} {year}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn dates_name_every_month_in_each_language() {
        let english = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        let german = [
            "Januar",
            "Februar",
            "März",
            "April",
            "Mai",
            "Juni",
            "Juli",
            "August",
            "September",
            "Oktober",
            "November",
            "Dezember",
        ];
        for (number, (en, de)) in (1u8..).zip(english.into_iter().zip(german)) {
            let month = Month::try_from(number).unwrap();
            let at = datetime!(2026-01-02 12:00 UTC).replace_month(month).unwrap();
            assert_eq!(Locale::En.format_date(at), format!("2 {en} 2026"));
            assert_eq!(Locale::De.format_date(at), format!("2. {de} 2026"));
        }
    }

    #[test]
    fn dates_are_the_day_in_utc_whatever_the_offset() {
        // 2026-11-22T23:30:00-02:00 is 2026-11-23T01:30:00Z.
        let at = datetime!(2026-11-22 23:30 -2);
        assert_eq!(Locale::En.format_date(at), "23 November 2026");
        assert_eq!(Locale::De.format_date(at), "23. November 2026");
        assert_eq!(Locale::En.format_date(datetime!(2026-03-02 00:00 +1)), "1 March 2026");
        assert_eq!(Locale::De.format_date(datetime!(2026-03-02 00:00 UTC)), "2. März 2026");
    }
}
