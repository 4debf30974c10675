//! API keys as the operator manages them, and the rule of who may act with
//! one: [`check_access`].

use time::{Duration, OffsetDateTime};

use crate::{ApiKeyId, ApiKeyName, Business, FieldError, User, UserId};

/// Characters of a key shown as its prefix: `rsvp_` and the first 8 of the
/// secret, enough to tell keys apart in a list, far too few to guess the rest.
pub const API_KEY_PREFIX_LEN: usize = 13;

/// How stale `last_used_at` may get: a use is recorded only when the last
/// recorded one is at least this old, so that a busy key costs one write a
/// minute, not one per request.
pub const LAST_USED_GRANULARITY: Duration = Duration::MINUTE;

/// The longest lifetime a key may be given: ten years. A key meant to live
/// longer should have no expiry at all; a later date is almost always a typo
/// (and a year such as 4429 could not be stored).
pub const API_KEY_MAX_LIFETIME: Duration = Duration::days(3_653);

impl ApiKeyName {
    /// The name of the key every provisioned user gets, and of the keys made
    /// before keys had names.
    pub const DEFAULT: &'static str = "default";
}

/// An API key, without its secret (only the secret's hash is stored, by the
/// store; the secret is shown once, when the key is made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Its id.
    pub id: ApiKeyId,
    /// The user it acts as.
    pub user_id: UserId,
    /// The operator's label.
    pub name: ApiKeyName,
    /// The first [`API_KEY_PREFIX_LEN`] characters of the secret (`rsvp_`
    /// alone for keys made before prefixes were kept).
    pub prefix: String,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// From when it is refused (`None`: never).
    pub expires_at: Option<OffsetDateTime>,
    /// When it was last used, to the minute ([`LAST_USED_GRANULARITY`]).
    pub last_used_at: Option<OffsetDateTime>,
}

impl ApiKey {
    /// Checks an expiry asked for a new key at `now`: in the future, and at
    /// most [`API_KEY_MAX_LIFETIME`] ahead.
    ///
    /// ```
    /// use rsvp_domain::ApiKey;
    /// use time::{macros::datetime, Duration};
    ///
    /// let now = datetime!(2026-11-30 12:00 UTC);
    /// assert!(ApiKey::check_expiry(now + Duration::days(90), now).is_ok());
    /// assert_eq!(ApiKey::check_expiry(now, now).unwrap_err().code, "not_in_future");
    /// assert_eq!(ApiKey::check_expiry(datetime!(4429-02-10 14:18 UTC), now).unwrap_err().code, "too_far");
    /// ```
    ///
    /// # Errors
    /// A [`FieldError`] on `expires_at`: `not_in_future` or `too_far`.
    pub fn check_expiry(expires_at: OffsetDateTime, now: OffsetDateTime) -> Result<(), FieldError> {
        if expires_at <= now {
            return Err(FieldError::new(
                "expires_at",
                "not_in_future",
                "expires_at must be in the future",
            ));
        }
        if expires_at - now > API_KEY_MAX_LIFETIME {
            return Err(FieldError::new(
                "expires_at",
                "too_far",
                "expires_at must be at most 10 years ahead (omit it for a key that never expires)",
            ));
        }
        Ok(())
    }

    /// The prefix shown for `secret`.
    pub fn prefix_of(secret: &str) -> String {
        secret.chars().take(API_KEY_PREFIX_LEN).collect()
    }

    /// Whether it has expired at `now` (a key expiring exactly at `now` is
    /// expired, as an invitation is).
    pub fn is_expired_at(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|expires_at| now >= expires_at)
    }

    /// Whether a use at `now` should be recorded: never recorded, or last
    /// recorded at least [`LAST_USED_GRANULARITY`] ago.
    pub fn use_is_worth_recording(&self, now: OffsetDateTime) -> bool {
        self.last_used_at.is_none_or(|last| last + LAST_USED_GRANULARITY <= now)
    }
}

/// Why a caller with a known API key may not act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessDenied {
    /// The key expired.
    KeyExpired,
    /// The key's user was deactivated.
    UserDeactivated,
    /// The user's business is suspended.
    BusinessSuspended,
}

/// Whether the holder of `key`, acting as `user` of `business`, may act at
/// `now`. An expired key and a deactivated user are refused as if the key
/// were unknown; a suspended business is refused as such (its users learn
/// why, and that a new key would not help).
///
/// # Errors
/// The first reason found, in the order key, user, business.
pub fn check_access(key: &ApiKey, user: &User, business: &Business, now: OffsetDateTime) -> Result<(), AccessDenied> {
    if key.is_expired_at(now) {
        return Err(AccessDenied::KeyExpired);
    }
    if user.is_deactivated() {
        return Err(AccessDenied::UserDeactivated);
    }
    if business.is_suspended() {
        return Err(AccessDenied::BusinessSuspended);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;
    use crate::{BusinessId, BusinessName, EmailAddress};

    fn key(expires_at: Option<OffsetDateTime>, last_used_at: Option<OffsetDateTime>) -> ApiKey {
        ApiKey {
            id: ApiKeyId::from_uuid(Uuid::from_u128(1)),
            user_id: UserId::from_uuid(Uuid::from_u128(2)),
            name: ApiKeyName::parse("ci").unwrap(),
            prefix: ApiKey::prefix_of("rsvp_abcdefghijklmnop"),
            created_at: datetime!(2030-01-01 0:00 UTC),
            expires_at,
            last_used_at,
        }
    }

    fn owner() -> (User, Business) {
        let business = Business {
            id: BusinessId::from_uuid(Uuid::from_u128(3)),
            name: BusinessName::parse("Acme").unwrap(),
            created_at: datetime!(2030-01-01 0:00 UTC),
            suspended_at: None,
            external_id: None,
        };
        let user = User {
            id: UserId::from_uuid(Uuid::from_u128(2)),
            business_id: business.id,
            email: EmailAddress::parse("ann@acme.test").unwrap(),
            first_name: None,
            last_name: None,
            created_at: datetime!(2030-01-01 0:00 UTC),
            deactivated_at: None,
            external_id: None,
        };
        (user, business)
    }

    #[test]
    fn the_prefix_is_rsvp_and_eight_characters_of_the_secret() {
        assert_eq!(key(None, None).prefix, "rsvp_abcdefgh");
    }

    #[test]
    fn a_key_is_refused_from_its_expiry_on_and_a_deactivated_user_before_a_suspended_business() {
        let now = datetime!(2030-06-01 12:00 UTC);
        let (user, business) = owner();
        assert_eq!(check_access(&key(None, None), &user, &business, now), Ok(()));
        assert_eq!(
            check_access(&key(Some(now + Duration::SECOND), None), &user, &business, now),
            Ok(())
        );
        assert_eq!(
            check_access(&key(Some(now), None), &user, &business, now),
            Err(AccessDenied::KeyExpired)
        );
        let deactivated = user.clone().with_deactivation(true, now);
        let suspended = business.clone().with_suspension(true, now);
        assert_eq!(
            check_access(&key(None, None), &deactivated, &suspended, now),
            Err(AccessDenied::UserDeactivated)
        );
        assert_eq!(
            check_access(&key(None, None), &user, &suspended, now),
            Err(AccessDenied::BusinessSuspended)
        );
        let again = suspended.clone().with_suspension(true, now + Duration::HOUR);
        assert_eq!(again.suspended_at, Some(now), "suspending twice keeps the first time");
        assert!(!again.with_suspension(false, now).is_suspended());
    }

    #[test]
    fn a_use_is_recorded_at_most_once_a_minute() {
        let now = datetime!(2030-06-01 12:00 UTC);
        assert!(key(None, None).use_is_worth_recording(now));
        assert!(!key(None, Some(now - Duration::seconds(59))).use_is_worth_recording(now));
        assert!(key(None, Some(now - Duration::MINUTE)).use_is_worth_recording(now));
    }
}
