//! Typed JSON request bodies: one Rust type per body, which serde reads,
//! `validator` checks and utoipa documents, so what is parsed is what is
//! documented.
//!
//! A body is answered with every problem at once, as users of this API rely
//! on: each field is a [`Field`] that records a value of the wrong JSON type
//! instead of failing the whole parse, unknown fields are collected at any
//! depth (`serde_ignored`), and the `validator` rules of the type report the
//! rest. The business rules themselves stay with the domain's constructors
//! (called once, by the use case's input); the rules here are the wire's:
//! types, presence, counts, enumerations, formats.

// `Problem` is the RFC 9457 document itself, flat by design (144 bytes); the
// size of an error on a request's error path costs nothing worth boxing for.
#![allow(clippy::result_large_err, reason = "Problem is the flat RFC 9457 document")]

use std::borrow::Cow;
use std::fmt;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use rsvp_domain::FieldError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use validator::{Validate, ValidationError, ValidationErrors, ValidationErrorsKind};

use crate::body::read_json;
use crate::problem::Problem;

/// One field of a request body as the client sent it.
///
/// `PATCH` bodies need the difference between a field left out and a field
/// set to `null`; every body needs a value of the wrong JSON type to be
/// reported with the others rather than stop the parse.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Field<T> {
    /// Not in the body.
    #[default]
    Absent,
    /// `null`.
    Null,
    /// A value of the expected type.
    Given(T),
    /// A value of another JSON type.
    WrongType,
}

impl<T> Field<T> {
    /// The value, when one of the expected type was given.
    pub fn given(self) -> Option<T> {
        match self {
            Self::Given(value) => Some(value),
            _ => None,
        }
    }

    /// As a `PATCH` reads it: absent `None`, null `Some(None)`, a value `Some(Some(v))`.
    pub fn patch(self) -> Option<Option<T>> {
        match self {
            Self::Absent | Self::WrongType => None,
            Self::Null => Some(None),
            Self::Given(value) => Some(Some(value)),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        if value.is_null() {
            return Ok(Self::Null);
        }
        Ok(T::deserialize(value).map_or(Self::WrongType, Self::Given))
    }
}

// `validator` records each checked field's value as a parameter of its
// error; rsvp's problem documents do not carry it, so it costs nothing here.
impl<T> Serialize for Field<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

impl<T: validator::ValidateLength<u64>> validator::ValidateLength<u64> for Field<T> {
    fn length(&self) -> Option<u64> {
        match self {
            Self::Given(value) => value.length(),
            _ => None,
        }
    }
}

/// The JSON type a field expects, as its `invalid_type` message names it.
pub trait WireType {
    /// e.g. "a string".
    const EXPECTED: &'static str;
}

impl WireType for String {
    const EXPECTED: &'static str = "a string";
}

impl WireType for bool {
    const EXPECTED: &'static str = "a boolean";
}

impl WireType for Vec<String> {
    const EXPECTED: &'static str = "an array of strings";
}

impl WireType for Vec<Value> {
    const EXPECTED: &'static str = "an array";
}

/// An integer of any size, held as an `i64` saturated at its bounds: a
/// number too large is then refused by the rule on its range, as
/// `out_of_range`, not as the wrong type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Integer(pub i64);

impl<'de> Deserialize<'de> for Integer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_u64().map(|_| i64::MAX))
                .map(Self)
                .ok_or_else(|| serde::de::Error::custom("not an integer")),
            _ => Err(serde::de::Error::custom("not an integer")),
        }
    }
}

impl WireType for Integer {
    const EXPECTED: &'static str = "an integer";
}

/// A nested object: a [`Field`] of another request type, with the fields of
/// that object that its type does not know.
#[derive(Debug, Clone, PartialEq)]
pub struct Object<T> {
    /// The object as sent.
    pub field: Field<T>,
    unknown: Vec<String>,
}

impl<T> Default for Object<T> {
    fn default() -> Self {
        Self {
            field: Field::Absent,
            unknown: Vec::new(),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let mut unknown = Vec::new();
        let field = match value {
            Value::Null => Field::Null,
            Value::Object(_) => serde_ignored::deserialize(value, |path| unknown.push(path.to_string()))
                .map_or(Field::WrongType, Field::Given),
            _ => Field::WrongType,
        };
        Ok(Self { field, unknown })
    }
}

impl<T> Serialize for Object<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

impl<T: Validate> Validate for Object<T> {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = match &self.field {
            Field::Given(inner) => inner.validate().err().unwrap_or_default(),
            _ => ValidationErrors::new(),
        };
        for name in &self.unknown {
            add_owned(&mut errors, name, unknown_field());
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

impl<T> WireType for Object<T> {
    const EXPECTED: &'static str = "an object";
}

/// Records `error` under a field name that came from the client
/// (`validator`'s own `add` takes only `&'static str`).
fn add_owned(errors: &mut ValidationErrors, name: &str, error: ValidationError) {
    if let ValidationErrorsKind::Field(list) = errors
        .0
        .entry(Cow::Owned(name.to_owned()))
        .or_insert_with(|| ValidationErrorsKind::Field(Vec::new()))
    {
        list.push(error);
    }
}

// Messages name their field as `{field}`: `validator` calls a rule with the
// value only, and the path is known when the errors are flattened.
const FIELD: &str = "{field}";

fn unknown_field() -> ValidationError {
    ValidationError::new("unknown_field").with_message(Cow::Borrowed("unknown field '{field}'"))
}

fn wrong_type<T: WireType>() -> ValidationError {
    ValidationError::new("invalid_type").with_message(Cow::Owned(format!("{FIELD} must be {}", T::EXPECTED)))
}

/// Rule: when given, the value has the expected JSON type.
///
/// # Errors
/// `invalid_type`.
pub fn typed<T: WireType>(field: &Field<T>) -> Result<(), ValidationError> {
    match field {
        Field::WrongType => Err(wrong_type::<T>()),
        _ => Ok(()),
    }
}

/// Rule: present, not null, of the expected JSON type.
///
/// # Errors
/// `required` or `invalid_type`.
pub fn required<T: WireType>(field: &Field<T>) -> Result<(), ValidationError> {
    match field {
        Field::Absent | Field::Null => {
            Err(ValidationError::new("required").with_message(Cow::Borrowed("{field} is required")))
        }
        Field::WrongType => Err(wrong_type::<T>()),
        Field::Given(_) => Ok(()),
    }
}

/// Rule of a `PATCH` field that may be left out but not removed.
///
/// # Errors
/// `required` for null, `invalid_type`.
pub fn not_null<T: WireType>(field: &Field<T>) -> Result<(), ValidationError> {
    match field {
        Field::Null => Err(ValidationError::new("required").with_message(Cow::Borrowed("{field} cannot be removed"))),
        _ => typed(field),
    }
}

/// Rule of a `PATCH` field that null clears: when given, the expected type.
///
/// # Errors
/// `invalid_type`.
pub fn nullable<T: WireType>(field: &Field<T>) -> Result<(), ValidationError> {
    match field {
        Field::WrongType => Err(ValidationError::new("invalid_type")
            .with_message(Cow::Owned(format!("{FIELD} must be {} or null", T::EXPECTED)))),
        _ => Ok(()),
    }
}

/// Rule of a nested object: when given, an object.
///
/// # Errors
/// `invalid_type`.
pub fn object<T>(object: &Object<T>) -> Result<(), ValidationError> {
    match object.field {
        Field::WrongType => Err(wrong_type::<Object<T>>()),
        _ => Ok(()),
    }
}

/// `errors` as the problem document lists them: dotted paths
/// (`user.email`, `items.3.name`), sorted by path so that an answer is the
/// same for the same body.
pub fn field_errors(errors: &ValidationErrors) -> Vec<FieldError> {
    let mut found = Vec::new();
    flatten("", errors, &mut found);
    found.sort_by(|a, b| a.field.cmp(&b.field));
    found
}

fn flatten(prefix: &str, errors: &ValidationErrors, found: &mut Vec<FieldError>) {
    for (name, kind) in &errors.0 {
        let path = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => found.extend(list.iter().map(|error| {
                let message = error
                    .message
                    .as_deref()
                    .map_or_else(|| format!("{path} is invalid"), |m| m.replace(FIELD, &path));
                FieldError::new(path.clone(), error.code.to_string(), message)
            })),
            ValidationErrorsKind::Struct(inner) => flatten(&path, inner, found),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    flatten(&format!("{path}.{index}"), inner, found);
                }
            }
        }
    }
}

/// Reads a request body of type `T` from a parsed JSON document: every
/// unknown field, every value of the wrong type, every broken rule of `T`
/// and every refusal of the domain's reading of it, together.
///
/// ```
/// use rsvp_http::json::read_body;
/// use rsvp_http::operator::ErasureRequest;
/// use serde_json::json;
///
/// let errors = read_body::<ErasureRequest>(json!({"email": 42, "colour": "red"})).unwrap_err();
/// let found: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
/// assert_eq!(found, [("colour", "unknown_field"), ("email", "invalid_type")]);
/// assert_eq!(read_body::<ErasureRequest>(json!({"email": "bob@globex.test"})).unwrap(), "bob@globex.test");
/// ```
///
/// # Errors
/// Every problem found, as field errors.
pub fn read_body<T: RequestBody>(value: Value) -> Result<T::Input, Vec<FieldError>> {
    if !value.is_object() {
        return Err(vec![FieldError::new(
            "",
            "invalid_type",
            "the body must be a JSON object",
        )]);
    }
    let mut unknown = Vec::new();
    let parsed: T = serde_ignored::deserialize(value, |path| unknown.push(path.to_string())).map_err(|e| {
        // Every field is a `Field`, so this is a body type that is not.
        vec![FieldError::new("", "invalid_type", e.to_string())]
    })?;
    let mut errors = parsed.validate().err().unwrap_or_default();
    for name in &unknown {
        add_owned(&mut errors, name, unknown_field());
    }
    let mut found = field_errors(&errors);
    match parsed.into_input() {
        Ok(input) if found.is_empty() => Ok(input),
        Ok(_) => Err(found),
        Err(refused) => {
            // A field the wire already refused (say, of the wrong type) is not
            // reported again by the domain (as missing, say).
            let wire: Vec<String> = found.iter().map(|e| e.field.clone()).collect();
            found.extend(refused.into_iter().filter(|error| {
                !wire
                    .iter()
                    .any(|field| error.field == *field || error.field.starts_with(&format!("{field}.")))
            }));
            found.sort_by(|a, b| a.field.cmp(&b.field));
            Err(found)
        }
    }
}

/// A request body type: serde reads it, `validator` checks its wire rules,
/// utoipa documents it, and [`RequestBody::into_input`] hands it to the use
/// case.
pub trait RequestBody: DeserializeOwned + Validate + 'static {
    /// What the handler receives.
    type Input;

    /// Whether the (larger) bulk limit applies.
    const BULK: bool = false;

    /// The body as the use case's input, read by the domain where its rules
    /// apply.
    ///
    /// # Errors
    /// Every field the domain refuses.
    fn into_input(self) -> Result<Self::Input, Vec<FieldError>>;
}

/// A required JSON body read as `T`, as an extractor.
///
/// # Errors
/// 415 unless JSON, 413 over the limit, 400 `malformed_json` (also for an
/// empty body and a key twice at any depth), 422 `validation_failed` with
/// every invalid field.
pub struct Json<T: RequestBody>(pub T::Input);

/// An optional JSON body read as `T`: an empty body is `None`, anything else
/// is read as [`Json`] reads it.
pub struct OptionalJson<T: RequestBody>(pub Option<T::Input>);

impl<T: RequestBody> fmt::Debug for Json<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Json(..)")
    }
}

impl<T: RequestBody> fmt::Debug for OptionalJson<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OptionalJson(..)")
    }
}

async fn extract<T: RequestBody>(req: HttpRequest, payload: Payload) -> Result<Option<T::Input>, Problem> {
    let state = crate::state::state(&req)?;
    let limit = if T::BULK {
        state.config.bulk_body_limit
    } else {
        state.config.body_limit
    };
    match read_json(&req, payload, limit).await? {
        None => Ok(None),
        Some(value) => read_body::<T>(value).map(Some).map_err(Problem::invalid_fields),
    }
}

impl<T: RequestBody> FromRequest for Json<T> {
    type Error = Problem;
    type Future = LocalBoxFuture<'static, Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            extract::<T>(req, payload)
                .await?
                .map(Json)
                .ok_or_else(|| Problem::malformed_json("a JSON body is required"))
        })
    }
}

impl<T: RequestBody> FromRequest for OptionalJson<T> {
    type Error = Problem;
    type Future = LocalBoxFuture<'static, Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move { extract::<T>(req, payload).await.map(OptionalJson) })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::operator::{CreateBusinessRequest, UpdateUserRequest};
    use crate::requests::{BulkRequest, CreateInvitationRequest, PatchWebhookEndpointRequest};

    fn codes<T: RequestBody>(body: Value) -> Vec<(String, String)> {
        read_body::<T>(body)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
            .collect()
    }

    #[test]
    fn every_unknown_field_and_every_wrong_type_is_named_at_once_at_any_depth() {
        assert_eq!(
            codes::<CreateBusinessRequest>(json!({
                "name": 7, "colour": "red", "size": 1,
                "user": {"email": ["x"], "shoe": 44, "first_name": "Ann"}
            })),
            pairs(&[
                ("colour", "unknown_field"),
                ("name", "invalid_type"),
                ("size", "unknown_field"),
                ("user.email", "invalid_type"),
                ("user.shoe", "unknown_field"),
            ])
        );
        assert_eq!(
            codes::<CreateBusinessRequest>(json!({"name": "Acme", "user": "ann@acme.test"})),
            pairs(&[("user", "invalid_type")])
        );
    }

    #[test]
    fn messages_name_the_field_and_the_type_it_must_have() {
        let errors = read_body::<CreateBusinessRequest>(json!({"name": "Acme", "user": {"email": 1}}))
            .err()
            .unwrap_or_default();
        assert_eq!(errors[0].message, "user.email must be a string");
        let errors = read_body::<UpdateUserRequest>(json!({"first_name": false}))
            .err()
            .unwrap_or_default();
        assert_eq!(errors[0].message, "first_name must be a string or null");
    }

    #[test]
    fn a_patch_tells_null_from_absent() {
        let patch = read_body::<PatchWebhookEndpointRequest>(json!({"description": null, "enabled": true}));
        let patch = patch.unwrap_or_default();
        assert_eq!(patch.description, Some(None));
        assert_eq!(patch.event_types, None);
        assert_eq!(patch.enabled, Some(true));
        assert_eq!(
            codes::<PatchWebhookEndpointRequest>(json!({"url": null})),
            pairs(&[("url", "required")])
        );
        let change = read_body::<UpdateUserRequest>(json!({"first_name": null, "last_name": "Li"}));
        let change = change.unwrap_or_default();
        assert_eq!(change.first_name, Some(None));
        assert_eq!(change.last_name, Some(Some("Li".to_owned())));
    }

    #[test]
    fn wire_errors_and_the_domains_are_reported_together_without_repeats() {
        // `email` of the wrong type is not also "required"; the domain's
        // rules still report the other fields.
        assert_eq!(
            codes::<CreateInvitationRequest>(json!({"email": 42, "message": "m".repeat(1001), "expires_in_days": 91})),
            pairs(&[
                ("email", "invalid_type"),
                ("expires_in_days", "out_of_range"),
                ("message", "too_long"),
            ])
        );
    }

    #[test]
    fn an_integer_too_large_for_i64_is_out_of_range_not_the_wrong_type() {
        assert_eq!(
            codes::<CreateInvitationRequest>(json!({"email": "a@b.test", "expires_in_days": u64::MAX})),
            pairs(&[("expires_in_days", "out_of_range")])
        );
        assert_eq!(
            codes::<CreateInvitationRequest>(json!({"email": "a@b.test", "expires_in_days": 1.5})),
            pairs(&[("expires_in_days", "invalid_type")])
        );
    }

    #[test]
    fn counts_are_validator_rules_with_the_apis_codes() {
        assert_eq!(codes::<BulkRequest>(json!({})), pairs(&[("invitations", "required")]));
        assert_eq!(
            codes::<BulkRequest>(json!({"invitations": []})),
            pairs(&[("invitations", "out_of_range")])
        );
        assert_eq!(
            codes::<BulkRequest>(json!({"invitations": {}})),
            pairs(&[("invitations", "invalid_type")])
        );
        let items = vec![json!({}); 1001];
        assert_eq!(
            codes::<BulkRequest>(json!({ "invitations": items })),
            pairs(&[("invitations", "out_of_range")])
        );
        assert_eq!(
            read_body::<BulkRequest>(json!({"invitations": [1, {}]})).map(|i| i.len()),
            Ok(2)
        );
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused_as_a_whole() {
        assert_eq!(codes::<BulkRequest>(json!([1])), pairs(&[("", "invalid_type")]));
    }
}
