//! Reading JSON bodies ourselves, so that every failure — wrong media type,
//! too large, malformed — is a problem document, never a framework default.

// `Problem` is the RFC 9457 document itself, flat by design (144 bytes); the
// size of an error on a request's error path costs nothing worth boxing for.
#![allow(clippy::result_large_err, reason = "Problem is the flat RFC 9457 document")]

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web;
use futures_util::StreamExt as _;
use serde_json::Value;

use crate::problem::Problem;

fn is_json_media_type(req: &HttpRequest) -> Option<bool> {
    let value = req.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    Some(essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json")))
}

fn too_large(limit: usize) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the body must be at most {limit} bytes"),
    )
}

/// Reads a JSON body of at most `limit` bytes. An empty body is `None` (the
/// caller decides whether that is allowed).
///
/// # Errors
/// 415 unless `Content-Type` is JSON, 413 over the limit, 400 when it does
/// not parse.
pub async fn read_json(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<Option<Value>, Problem> {
    let declared = req
        .headers()
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
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| Problem::malformed_json(format!("the body is not valid JSON: {e}")))
}

/// [`read_json`] for endpoints whose body is required.
///
/// # Errors
/// As [`read_json`], and 400 for an empty body.
pub async fn require_json(req: &HttpRequest, payload: web::Payload, limit: usize) -> Result<Value, Problem> {
    read_json(req, payload, limit)
        .await?
        .ok_or_else(|| Problem::malformed_json("a JSON body is required"))
}

/// Names the fields of `object` not in `known`, as `unknown_field` errors.
pub fn unknown_fields(object: &serde_json::Map<String, Value>, known: &[&str]) -> Vec<rsvp_domain::FieldError> {
    object
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| rsvp_domain::FieldError::new(k.clone(), "unknown_field", format!("unknown field '{k}'")))
        .collect()
}

/// The string at `object[field]`, if present and not null; a value of
/// another JSON type is recorded as `invalid_type` under `path`.
pub fn optional_string(
    object: &serde_json::Map<String, Value>,
    field: &str,
    path: &str,
    errors: &mut Vec<rsvp_domain::FieldError>,
) -> Option<String> {
    match object.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.push(rsvp_domain::FieldError::new(
                path,
                "invalid_type",
                format!("{path} must be a string"),
            ));
            None
        }
    }
}

/// The body as an object.
///
/// # Errors
/// 422 when it is another JSON type.
pub fn as_object(value: &Value) -> Result<&serde_json::Map<String, Value>, Problem> {
    value.as_object().ok_or_else(|| {
        Problem::invalid_fields(vec![rsvp_domain::FieldError::new(
            "",
            "invalid_type",
            "the body must be a JSON object",
        )])
    })
}
