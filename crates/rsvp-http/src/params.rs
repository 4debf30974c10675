//! Query string and path parsing: every bad value is a 400 problem naming it.

// `Problem` is the RFC 9457 document itself, flat by design (144 bytes); the
// size of an error on a request's error path costs nothing worth boxing for.
#![allow(clippy::result_large_err, reason = "Problem is the flat RFC 9457 document")]

use rsvp_app::{Cursor, InvitationFilter, ListParams, PageSize};
use rsvp_domain::{EmailAddress, EventId, FieldError, InvitationStatus};
use uuid::Uuid;

use crate::cursor;
use crate::problem::Problem;

/// The query string as key/value pairs (the last of repeated keys wins).
///
/// # Errors
/// 400 when it is not valid `application/x-www-form-urlencoded`.
pub fn pairs(query: &str) -> Result<Vec<(String, String)>, Problem> {
    actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
        .map(|q| q.into_inner())
        .map_err(|e| Problem::invalid_query(vec![FieldError::new("", "invalid_query", e.to_string())]))
}

fn value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn limit(pairs: &[(String, String)], errors: &mut Vec<FieldError>) -> PageSize {
    match value(pairs, "limit") {
        None => PageSize::default(),
        Some(raw) => raw.parse::<i64>().ok().and_then(PageSize::new).unwrap_or_else(|| {
            errors.push(FieldError::new(
                "limit",
                "out_of_range",
                "limit must be an integer from 1 to 200",
            ));
            PageSize::default()
        }),
    }
}

fn page_cursor(pairs: &[(String, String)], errors: &mut Vec<FieldError>) -> Option<Cursor> {
    let raw = value(pairs, "cursor").filter(|c| !c.is_empty())?;
    let decoded = cursor::decode(raw);
    if decoded.is_none() {
        errors.push(FieldError::new(
            "cursor",
            "invalid_cursor",
            "cursor is not one this API returned",
        ));
    }
    decoded
}

/// `?status=pending,accepted&email=...&limit=50&cursor=...`
///
/// # Errors
/// 400 naming every bad parameter.
pub fn list_params(query: &str) -> Result<ListParams, Problem> {
    let pairs = pairs(query)?;
    let mut errors = Vec::new();
    let mut statuses = Vec::new();
    if let Some(raw) = value(&pairs, "status").filter(|s| !s.trim().is_empty()) {
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.parse::<InvitationStatus>() {
                Ok(status) if !statuses.contains(&status) => statuses.push(status),
                Ok(_) => {}
                Err(e) => errors.push(FieldError::new("status", "invalid_value", e.to_string())),
            }
        }
    }
    let email = match value(&pairs, "email").filter(|e| !e.trim().is_empty()) {
        None => None,
        Some(raw) => match EmailAddress::parse(raw) {
            Ok(email) => Some(email),
            Err(e) => {
                errors.push(FieldError::new("email", "invalid_email", e.message()));
                None
            }
        },
    };
    let limit = limit(&pairs, &mut errors);
    let after = page_cursor(&pairs, &mut errors);
    if errors.is_empty() {
        Ok(ListParams {
            filter: InvitationFilter { statuses, email },
            limit,
            after,
        })
    } else {
        Err(Problem::invalid_query(errors))
    }
}

/// `?limit=&cursor=` of a newest-first list.
///
/// # Errors
/// 400 naming every bad parameter.
pub fn page_params(query: &str) -> Result<rsvp_app::PageRequest, Problem> {
    let pairs = pairs(query)?;
    let mut errors = Vec::new();
    let limit = limit(&pairs, &mut errors);
    let after = page_cursor(&pairs, &mut errors);
    if errors.is_empty() {
        Ok(rsvp_app::PageRequest { limit, after })
    } else {
        Err(Problem::invalid_query(errors))
    }
}

/// `?name=&limit=&cursor=` of the operator's business list.
///
/// # Errors
/// 400 naming every bad parameter.
pub fn business_list_params(query: &str) -> Result<rsvp_app::BusinessListParams, Problem> {
    let pairs = pairs(query)?;
    let mut errors = Vec::new();
    let name = value(&pairs, "name").map(str::to_owned);
    if name
        .as_ref()
        .is_some_and(|n| n.chars().count() > rsvp_domain::MAX_BUSINESS_NAME_LEN)
    {
        errors.push(FieldError::new(
            "name",
            "too_long",
            "name must be at most 200 characters",
        ));
    }
    let limit = limit(&pairs, &mut errors);
    let after = page_cursor(&pairs, &mut errors);
    if errors.is_empty() {
        Ok(rsvp_app::BusinessListParams { name, limit, after })
    } else {
        Err(Problem::invalid_query(errors))
    }
}

/// `?email=&limit=&cursor=` of the suppression list.
///
/// # Errors
/// 400 naming every bad parameter.
pub fn suppression_params(query: &str) -> Result<rsvp_app::SuppressionQuery, Problem> {
    let pairs = pairs(query)?;
    let mut errors = Vec::new();
    let email = match value(&pairs, "email").filter(|e| !e.trim().is_empty()) {
        None => None,
        Some(raw) => match EmailAddress::parse(raw) {
            Ok(email) => Some(email),
            Err(e) => {
                errors.push(FieldError::new("email", "invalid_email", e.message()));
                None
            }
        },
    };
    let limit = limit(&pairs, &mut errors);
    let after = page_cursor(&pairs, &mut errors);
    if errors.is_empty() {
        Ok(rsvp_app::SuppressionQuery { email, limit, after })
    } else {
        Err(Problem::invalid_query(errors))
    }
}

/// `?limit=&cursor=` of the event list.
///
/// # Errors
/// 400 naming every bad parameter.
pub fn event_params(query: &str) -> Result<rsvp_app::EventQuery, Problem> {
    let pairs = pairs(query)?;
    let mut errors = Vec::new();
    let limit = limit(&pairs, &mut errors);
    let after: Option<EventId> = match value(&pairs, "cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => {
            let decoded = cursor::decode_event(raw);
            if decoded.is_none() {
                errors.push(FieldError::new(
                    "cursor",
                    "invalid_cursor",
                    "cursor is not one this API returned",
                ));
            }
            decoded
        }
    };
    if errors.is_empty() {
        Ok(rsvp_app::EventQuery { limit, after })
    } else {
        Err(Problem::invalid_query(errors))
    }
}

/// A UUID path segment.
///
/// # Errors
/// 400 naming the segment.
pub fn path_id<T: From<Uuid>>(raw: &str, name: &str) -> Result<T, Problem> {
    Uuid::try_parse(raw).map(T::from).map_err(|_| {
        Problem::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            "invalid_path",
            format!("{name} must be a UUID"),
        )
        .with_errors([FieldError::new(
            name,
            "invalid_format",
            format!("{name} must be a UUID"),
        )])
    })
}

/// The `{id}` segment of a route, as the id type `T` (an extractor).
///
/// # Errors
/// 400 `invalid_path` unless it is a UUID.
#[derive(Debug, Clone, Copy)]
pub struct PathId<T>(pub T);

impl<T: From<Uuid>> actix_web::FromRequest for PathId<T> {
    type Error = Problem;
    type Future = std::future::Ready<Result<Self, Problem>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let raw = req.match_info().get("id").unwrap_or_default();
        std::future::ready(path_id(raw, "id").map(PathId))
    }
}

/// The `{id}` parameter as the document describes it: `params(IdParam)`.
#[derive(Debug)]
pub struct IdParam;

impl utoipa::IntoParams for IdParam {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, Type};
        vec![
            utoipa::openapi::path::ParameterBuilder::new()
                .name("id")
                .parameter_in(utoipa::openapi::path::ParameterIn::Path)
                .description(Some("a UUID"))
                .required(utoipa::openapi::Required::True)
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .format(Some(SchemaFormat::Custom("uuid".to_owned()))),
                ))
                .build(),
        ]
    }
}
