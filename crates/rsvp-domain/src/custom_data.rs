//! [`CustomData`]: the sender's own metadata on an invitation, with the rules
//! of the TradeAware API (seed 002) exactly.

use std::collections::BTreeMap;
use std::fmt;

use crate::{FieldError, ValidationErrors};

/// At most this many keys.
pub const MAX_CUSTOM_DATA_KEYS: usize = 10;
/// A key is at most this many characters.
pub const MAX_CUSTOM_DATA_KEY_LEN: usize = 255;
/// A string value is at most this many characters.
pub const MAX_CUSTOM_DATA_STRING_LEN: usize = 255;
/// A key containing any of these is refused (prototype pollution guards for
/// JavaScript consumers of the data).
pub const FORBIDDEN_CUSTOM_DATA_KEY_PARTS: [&str; 3] = ["__proto__", "constructor", "prototype"];

/// A JSON number, kept in the form it came in so that `1234` comes back as
/// `1234`, not `1234.0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CustomNumber {
    /// A negative integer (or any integer that fits `i64`).
    Int(i64),
    /// A non-negative integer beyond `i64`.
    UInt(u64),
    /// Any other finite number.
    Float(f64),
}

impl fmt::Display for CustomNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(n) => write!(f, "{n}"),
            Self::UInt(n) => write!(f, "{n}"),
            Self::Float(n) => write!(f, "{n}"),
        }
    }
}

/// One accepted value: a string, a number or a boolean.
#[derive(Debug, Clone, PartialEq)]
pub enum CustomValue {
    /// A string of at most [`MAX_CUSTOM_DATA_STRING_LEN`] characters.
    String(String),
    /// A finite number.
    Number(CustomNumber),
    /// `true` or `false`.
    Bool(bool),
}

/// A value as it arrived, before the rules are applied. Adapters build it
/// from their own representation (e.g. a `serde_json::Value`).
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(CustomNumber),
    /// A string.
    String(String),
    /// An array (its items are irrelevant: arrays are refused).
    Array,
    /// An object, with its entries in arrival order.
    Object(Vec<(String, RawValue)>),
}

/// Validated custom data: at most 10 keys, each at most 255 characters and not
/// containing `__proto__`, `constructor` or `prototype`; values strings of at
/// most 255 characters, numbers or booleans (no null, arrays or objects).
///
/// ```
/// use rsvp_domain::{CustomData, CustomNumber, RawValue};
///
/// let data = CustomData::parse(&RawValue::Object(vec![
///     ("key1".into(), RawValue::String("someValue".into())),
///     ("key2".into(), RawValue::Bool(true)),
///     ("key3".into(), RawValue::Number(CustomNumber::Int(1234))),
/// ]))
/// .unwrap();
/// assert_eq!(data.len(), 3);
///
/// let errors = CustomData::parse(&RawValue::Object(vec![
///     ("__proto__".into(), RawValue::Bool(true)),
///     ("nested".into(), RawValue::Object(vec![])),
/// ]))
/// .unwrap_err();
/// let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
/// assert_eq!(fields, ["custom_data.__proto__", "custom_data.nested"]);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CustomData(BTreeMap<String, CustomValue>);

impl CustomData {
    /// No keys.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Applies every rule and reports every broken one, with field paths
    /// `custom_data` (the object itself) and `custom_data.<key>` (one entry).
    ///
    /// # Errors
    /// Every rule the input breaks, at once.
    pub fn parse(raw: &RawValue) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let RawValue::Object(entries) = raw else {
            errors.push(FieldError::new(
                "custom_data",
                "invalid_type",
                "custom_data must be an object",
            ));
            return Err(errors);
        };
        if entries.len() > MAX_CUSTOM_DATA_KEYS {
            errors.push(FieldError::new(
                "custom_data",
                "too_many_keys",
                format!(
                    "custom_data has {} keys; at most {MAX_CUSTOM_DATA_KEYS} are allowed",
                    entries.len()
                ),
            ));
        }
        let mut map = BTreeMap::new();
        for (key, value) in entries {
            let field = format!("custom_data.{key}");
            if key.chars().count() > MAX_CUSTOM_DATA_KEY_LEN {
                errors.push(FieldError::new(
                    field.clone(),
                    "key_too_long",
                    format!("keys must be at most {MAX_CUSTOM_DATA_KEY_LEN} characters"),
                ));
            }
            if let Some(part) = FORBIDDEN_CUSTOM_DATA_KEY_PARTS.iter().find(|part| key.contains(*part)) {
                errors.push(FieldError::new(
                    field.clone(),
                    "forbidden_key",
                    format!("keys may not contain '{part}'"),
                ));
            }
            match value {
                RawValue::String(s) if s.chars().count() > MAX_CUSTOM_DATA_STRING_LEN => {
                    errors.push(FieldError::new(
                        field,
                        "too_long",
                        format!("string values must be at most {MAX_CUSTOM_DATA_STRING_LEN} characters"),
                    ));
                }
                RawValue::String(s) => {
                    map.insert(key.clone(), CustomValue::String(s.clone()));
                }
                RawValue::Number(CustomNumber::Float(f)) if !f.is_finite() => {
                    errors.push(FieldError::new(field, "invalid_type", "numbers must be finite"));
                }
                RawValue::Number(n) => {
                    map.insert(key.clone(), CustomValue::Number(*n));
                }
                RawValue::Bool(b) => {
                    map.insert(key.clone(), CustomValue::Bool(*b));
                }
                RawValue::Null | RawValue::Array | RawValue::Object(_) => {
                    errors.push(FieldError::new(
                        field,
                        "invalid_type",
                        "values must be a string, a number or a boolean (no null, arrays or objects)",
                    ));
                }
            }
        }
        if errors.is_empty() { Ok(Self(map)) } else { Err(errors) }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&CustomValue> {
        self.0.get(key)
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &CustomValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The data as a [`RawValue::Object`], e.g. to store and parse again.
    pub fn to_raw(&self) -> RawValue {
        RawValue::Object(
            self.0
                .iter()
                .map(|(k, v)| {
                    let raw = match v {
                        CustomValue::String(s) => RawValue::String(s.clone()),
                        CustomValue::Number(n) => RawValue::Number(*n),
                        CustomValue::Bool(b) => RawValue::Bool(*b),
                    };
                    (k.clone(), raw)
                })
                .collect(),
        )
    }
}

#[cfg(feature = "serde")]
mod json {
    use super::*;
    use serde_json::Value;

    impl From<&Value> for RawValue {
        fn from(value: &Value) -> Self {
            match value {
                Value::Null => RawValue::Null,
                Value::Bool(b) => RawValue::Bool(*b),
                Value::Number(n) => RawValue::Number(if let Some(i) = n.as_i64() {
                    CustomNumber::Int(i)
                } else if let Some(u) = n.as_u64() {
                    CustomNumber::UInt(u)
                } else {
                    CustomNumber::Float(n.as_f64().unwrap_or(f64::NAN))
                }),
                Value::String(s) => RawValue::String(s.clone()),
                Value::Array(_) => RawValue::Array,
                Value::Object(map) => {
                    RawValue::Object(map.iter().map(|(k, v)| (k.clone(), RawValue::from(v))).collect())
                }
            }
        }
    }

    impl CustomData {
        /// Parses custom data from a JSON value (see [`CustomData::parse`]).
        ///
        /// # Errors
        /// Every rule the value breaks.
        pub fn from_json(value: &Value) -> Result<Self, ValidationErrors> {
            Self::parse(&RawValue::from(value))
        }

        /// The data as a JSON object (what its `Serialize` writes).
        pub fn to_json(&self) -> Value {
            // Serializing string keys and plain values cannot fail.
            serde_json::to_value(self).unwrap_or_else(|_| Value::Object(serde_json::Map::new()))
        }
    }

    impl serde::Serialize for CustomData {
        /// A JSON object, written without building a `serde_json::Value`.
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut map = serializer.serialize_map(Some(self.0.len()))?;
            for (key, value) in &self.0 {
                match value {
                    CustomValue::String(s) => map.serialize_entry(key, s)?,
                    CustomValue::Bool(b) => map.serialize_entry(key, b)?,
                    CustomValue::Number(CustomNumber::Int(i)) => map.serialize_entry(key, i)?,
                    CustomValue::Number(CustomNumber::UInt(u)) => map.serialize_entry(key, u)?,
                    CustomValue::Number(CustomNumber::Float(f)) if f.is_finite() => map.serialize_entry(key, f)?,
                    CustomValue::Number(CustomNumber::Float(_)) => map.serialize_entry(key, &())?,
                }
            }
            map.end()
        }
    }

    impl<'de> serde::Deserialize<'de> for CustomData {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let value = Value::deserialize(deserializer)?;
            Self::from_json(&value).map_err(serde::de::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(entries: Vec<(&str, RawValue)>) -> RawValue {
        RawValue::Object(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    #[cfg(feature = "serde")]
    #[test]
    fn custom_data_serializes_as_its_json_object_with_numbers_exact() {
        let data = CustomData::parse(&object(vec![
            ("s", RawValue::String("x\"y".into())),
            ("t", RawValue::Bool(false)),
            ("i", RawValue::Number(CustomNumber::Int(i64::MIN))),
            ("u", RawValue::Number(CustomNumber::UInt(u64::MAX))),
            ("f", RawValue::Number(CustomNumber::Float(0.1))),
        ]))
        .unwrap();
        let written = serde_json::to_string(&data).unwrap();
        assert_eq!(written, serde_json::to_string(&data.to_json()).unwrap());
        assert_eq!(
            written,
            r#"{"f":0.1,"i":-9223372036854775808,"s":"x\"y","t":false,"u":18446744073709551615}"#
        );
    }

    fn codes(raw: &RawValue) -> Vec<(String, String)> {
        CustomData::parse(raw)
            .unwrap_err()
            .into_vec()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    #[test]
    fn custom_data_accepts_strings_numbers_and_booleans_unchanged() {
        let raw = object(vec![
            ("key1", RawValue::String("someValue".into())),
            ("key2", RawValue::Bool(true)),
            ("key3", RawValue::Number(CustomNumber::Int(1234))),
            ("key4", RawValue::Number(CustomNumber::Float(1.5))),
        ]);
        let data = CustomData::parse(&raw).unwrap();
        assert_eq!(data.get("key3"), Some(&CustomValue::Number(CustomNumber::Int(1234))));
        assert_eq!(CustomData::parse(&data.to_raw()).unwrap(), data);
    }

    #[test]
    fn custom_data_allows_at_most_ten_keys() {
        let ten: Vec<_> = (0..10).map(|i| (format!("k{i}"), RawValue::Bool(true))).collect();
        assert!(CustomData::parse(&RawValue::Object(ten.clone())).is_ok());
        let mut eleven = ten;
        eleven.push(("k10".into(), RawValue::Bool(true)));
        assert_eq!(
            codes(&RawValue::Object(eleven)),
            [("custom_data".into(), "too_many_keys".into())]
        );
    }

    #[test]
    fn custom_data_keys_are_at_most_255_characters() {
        let ok = "k".repeat(255);
        assert!(CustomData::parse(&object(vec![(&ok, RawValue::Bool(true))])).is_ok());
        let long = "k".repeat(256);
        assert_eq!(
            codes(&object(vec![(&long, RawValue::Bool(true))])),
            [(format!("custom_data.{long}"), "key_too_long".into())]
        );
    }

    #[test]
    fn custom_data_string_values_are_at_most_255_characters() {
        let ok = "é".repeat(255);
        assert!(CustomData::parse(&object(vec![("k", RawValue::String(ok))])).is_ok());
        assert_eq!(
            codes(&object(vec![("k", RawValue::String("v".repeat(256)))])),
            [("custom_data.k".into(), "too_long".into())]
        );
    }

    #[test]
    fn custom_data_refuses_null_arrays_and_nested_objects() {
        let raw = object(vec![
            ("a", RawValue::Null),
            ("b", RawValue::Array),
            ("c", RawValue::Object(vec![])),
        ]);
        assert_eq!(
            codes(&raw),
            [
                ("custom_data.a".into(), "invalid_type".into()),
                ("custom_data.b".into(), "invalid_type".into()),
                ("custom_data.c".into(), "invalid_type".into()),
            ]
        );
    }

    #[test]
    fn custom_data_refuses_proto_constructor_and_prototype_keys() {
        for key in ["__proto__", "constructor", "prototype", "x__proto__y", "myconstructor"] {
            assert_eq!(
                codes(&object(vec![(key, RawValue::Bool(true))])),
                [(format!("custom_data.{key}"), "forbidden_key".into())],
                "{key}"
            );
        }
    }

    #[test]
    fn custom_data_must_be_an_object() {
        assert_eq!(codes(&RawValue::Array), [("custom_data".into(), "invalid_type".into())]);
        assert_eq!(
            codes(&RawValue::String("x".into())),
            [("custom_data".into(), "invalid_type".into())]
        );
    }

    #[test]
    fn custom_data_reports_every_broken_rule_at_once() {
        let mut entries: Vec<_> = (0..11).map(|i| (format!("k{i}"), RawValue::Bool(true))).collect();
        entries.push(("constructor".into(), RawValue::Null));
        let found = codes(&RawValue::Object(entries));
        assert_eq!(found.len(), 3, "{found:?}");
    }
}
