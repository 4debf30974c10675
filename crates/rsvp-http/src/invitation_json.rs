//! The JSON of a new invitation (the body of `POST /v1/invitations`, each
//! item of a bulk request) read into the domain's
//! [`InvitationInput`]: wire format is this
//! crate's business, the rules are the domain's. Every field of the wrong
//! JSON type (`invalid_type`) and every unknown field (`unknown_field`) is
//! reported together with the domain's own validation errors, so one answer
//! lists every problem.

use rsvp_domain::{FieldError, InvitationInput, InvitationRequest, RawValue, ValidationErrors};
use serde_json::{Map, Value};

use crate::body::{optional_string, unknown_fields};

/// The fields of a new invitation.
const INVITATION_FIELDS: [&str; 13] = [
    "email",
    "message",
    "custom_data",
    "roles",
    "first_name",
    "last_name",
    "phone",
    "external_id",
    "source_is_invitee",
    "expires_in_days",
    "send_email",
    "redirect_url",
    "locale",
];

fn wrong_type(errors: &mut Vec<FieldError>, field: &str, expected: &str) {
    errors.push(FieldError::new(
        field,
        "invalid_type",
        format!("{field} must be {expected}"),
    ));
}

fn optional_bool(object: &Map<String, Value>, field: &str, errors: &mut Vec<FieldError>) -> Option<bool> {
    match object.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            wrong_type(errors, field, "a boolean");
            None
        }
    }
}

/// Reads and validates one new invitation.
///
/// ```
/// use rsvp_http::invitation_json::parse_invitation;
/// use serde_json::json;
///
/// let errors = parse_invitation(&json!({"email": 42, "colour": "red"})).unwrap_err();
/// let found: Vec<_> = errors.errors().iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
/// assert_eq!(found, [("colour", "unknown_field"), ("email", "invalid_type")]);
/// assert!(parse_invitation(&json!({"email": "bob@globex.test"})).is_ok());
/// ```
///
/// # Errors
/// Every problem found.
pub fn parse_invitation(value: &Value) -> Result<InvitationRequest, ValidationErrors> {
    let Value::Object(object) = value else {
        return Err(ValidationErrors::from(vec![FieldError::new(
            "",
            "invalid_type",
            "the request body must be a JSON object",
        )]));
    };
    let mut errors = unknown_fields(object, &INVITATION_FIELDS);
    let roles = match object.get("roles") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let mut names = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => names.push(s.clone()),
                    _ => wrong_type(&mut errors, &format!("roles.{index}"), "a string"),
                }
            }
            Some(names)
        }
        Some(_) => {
            wrong_type(&mut errors, "roles", "an array of strings");
            None
        }
    };
    let expires_in_days = match object.get("expires_in_days") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_i64().is_some() => n.as_i64(),
        // Beyond i64: reported by the domain as out of range.
        Some(Value::Number(n)) if n.as_u64().is_some() => Some(i64::MAX),
        Some(_) => {
            wrong_type(&mut errors, "expires_in_days", "an integer");
            None
        }
    };
    let e = &mut errors;
    let input = InvitationInput {
        email: optional_string(object, "email", "email", e),
        message: optional_string(object, "message", "message", e),
        custom_data: object.get("custom_data").map(RawValue::from),
        roles,
        first_name: optional_string(object, "first_name", "first_name", e),
        last_name: optional_string(object, "last_name", "last_name", e),
        phone: optional_string(object, "phone", "phone", e),
        external_id: optional_string(object, "external_id", "external_id", e),
        source_is_invitee: optional_bool(object, "source_is_invitee", e),
        expires_in_days,
        send_email: optional_bool(object, "send_email", e),
        redirect_url: optional_string(object, "redirect_url", "redirect_url", e),
        locale: optional_string(object, "locale", "locale", e),
    };
    let email_had_wrong_type = errors.iter().any(|e| e.field == "email");
    match input.validate() {
        Ok(request) if errors.is_empty() => Ok(request),
        Ok(_) => Err(ValidationErrors::from(errors)),
        Err(found) => {
            // "email is required" would repeat the invalid_type already reported.
            errors.extend(
                found
                    .into_vec()
                    .into_iter()
                    .filter(|error| !(email_had_wrong_type && error.field == "email")),
            );
            Err(ValidationErrors::from(errors))
        }
    }
}
