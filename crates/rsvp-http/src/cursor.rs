//! Opaque list cursors: base64url text that is validated on the way back in,
//! so garbage is a 400, never a 500.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsvp_app::Cursor;
use rsvp_domain::EventId;
use time::OffsetDateTime;
use uuid::Uuid;

/// Encodes a newest-first cursor.
pub fn encode(cursor: &Cursor) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "c1:{}:{}",
        cursor.created_at.unix_timestamp_nanos(),
        cursor.id.simple()
    ))
}

/// Decodes a newest-first cursor; `None` for anything this server did not make.
pub fn decode(text: &str) -> Option<Cursor> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
    let mut parts = raw.split(':');
    let (Some("c1"), Some(nanos), Some(id), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let created_at = OffsetDateTime::from_unix_timestamp_nanos(nanos.parse().ok()?).ok()?;
    Some(Cursor {
        created_at,
        id: Uuid::try_parse(id).ok()?,
    })
}

/// Encodes an event cursor.
pub fn encode_event(id: &EventId) -> String {
    URL_SAFE_NO_PAD.encode(format!("e1:{}", id.as_uuid().simple()))
}

/// Decodes an event cursor.
pub fn decode_event(text: &str) -> Option<EventId> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
    let id = raw.strip_prefix("e1:")?;
    Uuid::try_parse(id).ok().map(EventId::from_uuid)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = Cursor {
            created_at: OffsetDateTime::from_unix_timestamp_nanos(1_800_000_000_123_456_789).unwrap(),
            id: Uuid::from_u128(42),
        };
        assert_eq!(decode(&encode(&cursor)), Some(cursor));
        for garbage in [
            "",
            "x",
            "!!!",
            "YWJj",
            &URL_SAFE_NO_PAD.encode("c1:abc:def"),
            &encode_event(&EventId::from_uuid(Uuid::nil())),
        ] {
            assert_eq!(decode(garbage), None, "{garbage}");
        }
        let event = EventId::from_uuid(Uuid::from_u128(7));
        assert_eq!(decode_event(&encode_event(&event)), Some(event));
        assert_eq!(decode_event(&encode(&cursor)), None);
    }

    /// Every instant `time` represents (years -9999..=9999), to the nanosecond.
    fn instant() -> impl Strategy<Value = OffsetDateTime> {
        let first = OffsetDateTime::new_utc(time::Date::MIN, time::Time::MIDNIGHT).unix_timestamp_nanos();
        let last = OffsetDateTime::new_utc(time::Date::MAX, time::Time::MAX).unix_timestamp_nanos();
        (first..=last).prop_map(|nanos| OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        /// Any text — arbitrary, base64url-alphabet, or the base64url of
        /// arbitrary `c1:`/`e1:` text — decodes to a cursor or to `None`.
        #[test]
        fn decoding_any_text_never_panics(
            any_text in any::<String>(),
            alphabet in "[A-Za-z0-9_=-]{0,96}",
            inner in "(c1|e1|c2)?:?-?[0-9]{0,40}:?[0-9a-fA-F-]{0,40}:?",
        ) {
            for text in [any_text, alphabet, URL_SAFE_NO_PAD.encode(&inner)] {
                let _ = decode(&text);
                let _ = decode_event(&text);
            }
        }

        /// A cursor this server made decodes to itself, whatever its time and id.
        #[test]
        fn decode_of_encode_is_the_cursor(created_at in instant(), id in any::<u128>()) {
            let cursor = Cursor { created_at, id: Uuid::from_u128(id) };
            prop_assert_eq!(decode(&encode(&cursor)), Some(cursor));
            let event = EventId::from_uuid(Uuid::from_u128(id));
            prop_assert_eq!(decode_event(&encode_event(&event)), Some(event));
            prop_assert_eq!(decode_event(&encode(&cursor)), None, "the kinds never mix");
        }
    }
}
