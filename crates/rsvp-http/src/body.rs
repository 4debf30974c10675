//! Reading JSON bodies ourselves, so that every failure — wrong media type,
//! too large, malformed — is a problem document, never a framework default.
//!
//! A body must mean one thing: an object with a key twice (at any depth) is
//! refused as malformed, where a plain `serde_json` parse would keep the
//! last value and another reader of the same bytes might keep the first.

// `Problem` is the RFC 9457 document itself, flat by design (144 bytes); the
// size of an error on a request's error path costs nothing worth boxing for.
#![allow(clippy::result_large_err, reason = "Problem is the flat RFC 9457 document")]

use std::cell::RefCell;
use std::fmt;

use actix_web::HttpRequest;
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web;
use futures_util::{Stream, StreamExt as _};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::problem::Problem;

/// Why bytes are not a JSON body.
#[derive(Debug)]
pub enum JsonBodyError {
    /// Not JSON: a syntax error, invalid UTF-8, trailing characters, nesting
    /// deeper than 128, a number out of range.
    Syntax(serde_json::Error),
    /// Valid JSON syntax, but an object has the same key twice.
    DuplicateKey {
        /// The key, as decoded (`"a"` and `"\u0061"` are one key).
        key: String,
        /// Where the second occurrence was found (1-based).
        line: usize,
        /// Where the second occurrence was found (1-based).
        column: usize,
    },
}

impl fmt::Display for JsonBodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(error) => write!(f, "the body is not valid JSON: {error}"),
            Self::DuplicateKey { key, line, column } => {
                // The key comes from the client: quote it, and not all of a huge one.
                let shown: String = key.chars().take(64).collect();
                let more = if shown.len() < key.len() { "..." } else { "" };
                write!(
                    f,
                    "the body has the key {shown:?}{more} twice in one object (line {line}, column {column}): \
                     a JSON body must mean one thing"
                )
            }
        }
    }
}

impl std::error::Error for JsonBodyError {}

/// Parses a whole JSON document into a [`Value`], refusing an object with a
/// duplicate key at any depth. Otherwise the result equals
/// `serde_json::from_slice`'s.
///
/// ```
/// use rsvp_http::body::{JsonBodyError, parse_json_bytes};
///
/// assert!(parse_json_bytes(br#"{"email":"a@x.test","custom_data":{"k":1}}"#).is_ok());
/// assert!(matches!(
///     parse_json_bytes(br#"{"email":"a@x.test","email":"b@x.test"}"#),
///     Err(JsonBodyError::DuplicateKey { key, .. }) if key == "email"
/// ));
/// assert!(matches!(parse_json_bytes(b"{"), Err(JsonBodyError::Syntax(_))));
/// ```
///
/// # Errors
/// [`JsonBodyError`] saying why.
pub fn parse_json_bytes(bytes: &[u8]) -> Result<Value, JsonBodyError> {
    let duplicate = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = UniqueKeys { duplicate: &duplicate }
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    parsed.map_err(|error| match duplicate.into_inner() {
        Some(key) => JsonBodyError::DuplicateKey {
            key,
            line: error.line(),
            column: error.column(),
        },
        None => JsonBodyError::Syntax(error),
    })
}

/// Builds a [`Value`] as serde_json's own visitor does, but fails on the
/// second occurrence of a key in an object, recording the key.
#[derive(Clone, Copy)]
struct UniqueKeys<'a> {
    duplicate: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for UniqueKeys<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueKeys<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // As serde_json's Value: a non-finite float (never produced by its parser) is null.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                let error = de::Error::custom(format_args!("duplicate key {key:?}"));
                *self.duplicate.borrow_mut() = Some(key);
                return Err(error);
            }
            let value = map.next_value_seed(self)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

fn is_json_media_type(req: &HttpRequest) -> Option<bool> {
    let value = req.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    Some(essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json")))
}

pub(crate) fn too_large(limit: usize) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the body must be at most {limit} bytes"),
    )
}

/// Reads a whole body of at most `limit` bytes (refused early when its
/// declared length is over).
///
/// # Errors
/// 413 over the limit, 400 when the stream fails.
pub(crate) async fn read_bytes(
    headers: &header::HeaderMap,
    mut payload: impl Stream<Item = Result<web::Bytes, PayloadError>> + Unpin,
    limit: usize,
) -> Result<web::Bytes, Problem> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "bad_body", e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Reads a JSON body of at most `limit` bytes. An empty body is `None` (the
/// caller decides whether that is allowed).
///
/// # Errors
/// 415 unless `Content-Type` is JSON, 413 over the limit, 400
/// `malformed_json` when it does not parse or an object has a duplicate key
/// ([`parse_json_bytes`]).
pub async fn read_json(
    req: &HttpRequest,
    payload: impl Stream<Item = Result<web::Bytes, PayloadError>> + Unpin,
    limit: usize,
) -> Result<Option<Value>, Problem> {
    let body = read_bytes(req.headers(), payload, limit).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if is_json_media_type(req) != Some(true) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON, sent with Content-Type: application/json",
        ));
    }
    parse_json_bytes(&body)
        .map(Some)
        .map_err(|e| Problem::malformed_json(e.to_string()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn duplicate_key(text: &str) -> Option<String> {
        match parse_json_bytes(text.as_bytes()) {
            Err(JsonBodyError::DuplicateKey { key, .. }) => Some(key),
            _ => None,
        }
    }

    #[test]
    fn a_duplicate_key_at_any_depth_is_refused_naming_the_key() {
        assert_eq!(
            duplicate_key(r#"{"email":"a@x.test","email":"b@x.test"}"#).as_deref(),
            Some("email")
        );
        assert_eq!(
            duplicate_key(r#"{"email":"a@x.test","custom_data":{"k":1,"k":2}}"#).as_deref(),
            Some("k")
        );
        assert_eq!(
            duplicate_key(r#"{"invitations":[{"email":"a@x.test"},{"email":"b@x.test","roles":[],"roles":["x"]}]}"#)
                .as_deref(),
            Some("roles")
        );
        // One key spelled two ways is one key.
        assert_eq!(duplicate_key(r#"{"a":1,"\u0061":2}"#).as_deref(), Some("a"));
        let message = parse_json_bytes(br#"{"a":1,"a":1}"#).unwrap_err().to_string();
        assert!(message.contains("\"a\" twice"), "{message}");
    }

    #[test]
    fn the_same_key_in_different_objects_is_fine() {
        let text = r#"{"a":{"a":{"a":[{"a":1},{"a":2}]}},"b":{"a":null}}"#;
        assert_eq!(
            parse_json_bytes(text.as_bytes()).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        assert_eq!(parse_json_bytes(b" 42 ").unwrap(), json!(42));
    }

    #[test]
    fn syntax_errors_stay_syntax_errors() {
        for bad in [
            &b"{"[..],
            b"",
            b"{\"a\":1}x",
            b"[1,]",
            b"\"\xff\"",
            b"1e400",
            &[b'['; 200][..],
        ] {
            assert!(
                matches!(parse_json_bytes(bad), Err(JsonBodyError::Syntax(_))),
                "{bad:?}"
            );
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e300f64..1e300).prop_map(Value::from),
            "\\PC{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-c\"\\\\é\u{0}]{0,3}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Wraps `text` in `depth` arrays or objects.
    fn nest(text: String, wrappers: &[bool]) -> String {
        wrappers.iter().fold(text, |inner, in_object| {
            if *in_object {
                format!(r#"{{"w":{inner},"z":[]}}"#)
            } else {
                format!("[1,{inner},null]")
            }
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Any bytes: a value equal to serde_json's, or a typed refusal
        /// exactly when serde_json refuses too (or a key repeats).
        #[test]
        fn arbitrary_bytes_never_panic_and_agree_with_serde_json(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            match (parse_json_bytes(&bytes), serde_json::from_slice::<Value>(&bytes)) {
                (Ok(ours), Ok(theirs)) => prop_assert_eq!(ours, theirs),
                (Err(JsonBodyError::Syntax(_)), Err(_)) => {}
                (Err(JsonBodyError::DuplicateKey { .. }), Ok(_)) => {}
                (ours, theirs) => prop_assert!(false, "ours {:?}, serde_json {:?}", ours, theirs),
            }
        }

        /// JSON-ish text (JSON's own characters in any order).
        #[test]
        fn json_ish_text_never_panics_and_agrees_with_serde_json(text in "[{}\\[\\]\",:0-9aeEtrufnls.+\\\\ -]{0,64}") {
            match (parse_json_bytes(text.as_bytes()), serde_json::from_str::<Value>(&text)) {
                (Ok(ours), Ok(theirs)) => prop_assert_eq!(ours, theirs),
                (Err(JsonBodyError::Syntax(_)), Err(_)) => {}
                (Err(JsonBodyError::DuplicateKey { .. }), Ok(_)) => {}
                (ours, theirs) => prop_assert!(false, "ours {:?}, serde_json {:?}", ours, theirs),
            }
        }

        /// A document without a repeated key is accepted as serde_json reads it.
        #[test]
        fn documents_without_duplicates_are_accepted_as_serde_json_reads_them(value in json_value()) {
            let text = serde_json::to_string(&value).unwrap_or_default();
            let theirs: Value = serde_json::from_str(&text).unwrap_or_default();
            prop_assert_eq!(parse_json_bytes(text.as_bytes()).ok(), Some(theirs));
        }

        /// An object with a key twice, at any depth, is always refused, naming the key.
        #[test]
        fn an_object_with_a_key_twice_is_always_refused(
            object in prop::collection::btree_map("[a-c\"é]{0,3}", json_value(), 1..5),
            pick in any::<prop::sample::Index>(),
            again in json_value(),
            wrappers in prop::collection::vec(any::<bool>(), 0..5),
        ) {
            let key = pick.get(&object.keys().collect::<Vec<_>>()).to_string();
            let body = serde_json::to_string(&Value::Object(object.into_iter().collect())).unwrap_or_default();
            let repeated = format!(
                "{{{}:{},{}",
                serde_json::to_string(&key).unwrap_or_default(),
                serde_json::to_string(&again).unwrap_or_default(),
                &body[1..]
            );
            let text = nest(repeated, &wrappers);
            match parse_json_bytes(text.as_bytes()) {
                Err(JsonBodyError::DuplicateKey { key: found, .. }) => prop_assert_eq!(found, key),
                other => prop_assert!(false, "{} gave {:?}", text, other),
            }
        }
    }
}
