//! Query strings and path segments, typed: every bad value is a 400
//! problem naming it.

// `Problem` is the RFC 9457 document itself, flat by design (144 bytes); the
// size of an error on a request's error path costs nothing worth boxing for.
#![allow(clippy::result_large_err, reason = "Problem is the flat RFC 9457 document")]

use rsvp_app::{InvitationFilter, ListParams, PageSize};
use rsvp_domain::{EmailAddress, EventId, FieldError, InvitationStatus};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa::IntoParams;
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

/// A query string type: serde reads it (every field a string, the last
/// of repeated keys winning, unknown keys ignored), utoipa documents it,
/// and [`QueryString::into_params`] reads it for the use case, naming every
/// bad parameter.
pub trait QueryString: DeserializeOwned + 'static {
    /// What the handler receives.
    type Params;

    /// The parameters as the use case takes them.
    ///
    /// # Errors
    /// Every bad parameter.
    fn into_params(self) -> Result<Self::Params, Vec<FieldError>>;
}

/// Reads the query string as `T`.
///
/// # Errors
/// 400 naming every bad parameter.
pub fn read_query<T: QueryString>(query: &str) -> Result<T::Params, Problem> {
    // Inserted in order, so the last of repeated keys wins.
    let object: serde_json::Map<String, Value> = pairs(query)?
        .into_iter()
        .map(|(key, value)| (key, Value::String(value)))
        .collect();
    let parsed = T::deserialize(Value::Object(object))
        .map_err(|e| Problem::invalid_query(vec![FieldError::new("", "invalid_query", e.to_string())]))?;
    parsed.into_params().map_err(Problem::invalid_query)
}

/// The query string read as `T` (an extractor).
///
/// # Errors
/// 400 naming every bad parameter.
#[derive(Debug)]
pub struct Query<T: QueryString>(pub T::Params);

impl<T: QueryString> actix_web::FromRequest for Query<T> {
    type Error = Problem;
    type Future = std::future::Ready<Result<Self, Problem>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(read_query::<T>(req.query_string()).map(Query))
    }
}

fn limit(raw: Option<&str>, errors: &mut Vec<FieldError>) -> PageSize {
    match raw {
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

fn page_cursor<C>(raw: Option<&str>, decode: fn(&str) -> Option<C>, errors: &mut Vec<FieldError>) -> Option<C> {
    let raw = raw.filter(|c| !c.is_empty())?;
    let decoded = decode(raw);
    if decoded.is_none() {
        errors.push(FieldError::new(
            "cursor",
            "invalid_cursor",
            "cursor is not one this API returned",
        ));
    }
    decoded
}

fn email_filter(raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<EmailAddress> {
    match EmailAddress::parse(raw.filter(|e| !e.trim().is_empty())?) {
        Ok(email) => Some(email),
        Err(e) => {
            errors.push(FieldError::new("email", "invalid_email", e.message()));
            None
        }
    }
}

fn external_id_filter(raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<rsvp_domain::ExternalId> {
    match rsvp_domain::ExternalId::parse(raw.filter(|e| !e.trim().is_empty())?) {
        Ok(id) => Some(id),
        Err(mut e) => {
            "external_id".clone_into(&mut e.field);
            errors.push(e);
            None
        }
    }
}

fn all_or_errors<T>(params: T, errors: Vec<FieldError>) -> Result<T, Vec<FieldError>> {
    if errors.is_empty() { Ok(params) } else { Err(errors) }
}

/// Query of the invitation lists: `?status=pending,accepted&email=...&limit=50&cursor=...`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Comma-separated statuses, e.g. `pending,accepted`.
    pub status: Option<String>,
    /// Only invitations to this address.
    pub email: Option<String>,
    /// 1 to 200, default 50.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl QueryString for ListQuery {
    type Params = ListParams;

    fn into_params(self) -> Result<ListParams, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut statuses = Vec::new();
        if let Some(raw) = self.status.as_deref().filter(|s| !s.trim().is_empty()) {
            for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                match part.parse::<InvitationStatus>() {
                    Ok(status) if !statuses.contains(&status) => statuses.push(status),
                    Ok(_) => {}
                    Err(e) => errors.push(FieldError::new("status", "invalid_value", e.to_string())),
                }
            }
        }
        let email = email_filter(self.email.as_deref(), &mut errors);
        let limit = limit(self.limit.as_deref(), &mut errors);
        let after = page_cursor(self.cursor.as_deref(), cursor::decode, &mut errors);
        all_or_errors(
            ListParams {
                filter: InvitationFilter { statuses, email },
                limit,
                after,
            },
            errors,
        )
    }
}

/// Query of the other newest-first lists: `?limit=&cursor=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 200, default 50.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl QueryString for PageQuery {
    type Params = rsvp_app::PageRequest;

    fn into_params(self) -> Result<rsvp_app::PageRequest, Vec<FieldError>> {
        let mut errors = Vec::new();
        let limit = limit(self.limit.as_deref(), &mut errors);
        let after = page_cursor(self.cursor.as_deref(), cursor::decode, &mut errors);
        all_or_errors(rsvp_app::PageRequest { limit, after }, errors)
    }
}

/// Query of the event list (oldest first): `?limit=&cursor=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// 1 to 200, default 50.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl QueryString for EventQuery {
    type Params = rsvp_app::EventQuery;

    fn into_params(self) -> Result<rsvp_app::EventQuery, Vec<FieldError>> {
        let mut errors = Vec::new();
        let limit = limit(self.limit.as_deref(), &mut errors);
        let after: Option<EventId> = page_cursor(self.cursor.as_deref(), cursor::decode_event, &mut errors);
        all_or_errors(rsvp_app::EventQuery { limit, after }, errors)
    }
}

/// Query of the operator's business list: `?name=&limit=&cursor=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BusinessListQuery {
    /// Only businesses whose name contains this, case-insensitively.
    #[param(max_length = 200)]
    pub name: Option<String>,
    /// Only the business with this host platform id (exact match): the
    /// look-up of a business by `external_id`.
    #[param(max_length = 255)]
    pub external_id: Option<String>,
    /// 1 to 200, default 50.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl QueryString for BusinessListQuery {
    type Params = rsvp_app::BusinessListParams;

    fn into_params(self) -> Result<rsvp_app::BusinessListParams, Vec<FieldError>> {
        let mut errors = Vec::new();
        if self
            .name
            .as_ref()
            .is_some_and(|n| n.chars().count() > rsvp_domain::MAX_BUSINESS_NAME_LEN)
        {
            errors.push(FieldError::new(
                "name",
                "too_long",
                "name must be at most 200 characters",
            ));
        }
        let external_id = external_id_filter(self.external_id.as_deref(), &mut errors);
        let limit = limit(self.limit.as_deref(), &mut errors);
        let after = page_cursor(self.cursor.as_deref(), cursor::decode, &mut errors);
        all_or_errors(
            rsvp_app::BusinessListParams {
                name: self.name,
                external_id,
                limit,
                after,
            },
            errors,
        )
    }
}

/// Query of the users' look-up: `?external_id=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserLookupQuery {
    /// The host platform's id of the user (exact match).
    #[param(required = true, max_length = 255)]
    pub external_id: Option<String>,
}

impl QueryString for UserLookupQuery {
    type Params = rsvp_domain::ExternalId;

    fn into_params(self) -> Result<rsvp_domain::ExternalId, Vec<FieldError>> {
        let mut errors = Vec::new();
        match external_id_filter(self.external_id.as_deref(), &mut errors) {
            Some(id) => Ok(id),
            None if errors.is_empty() => Err(vec![FieldError::new(
                "external_id",
                "required",
                "external_id is required",
            )]),
            None => Err(errors),
        }
    }
}

/// Query of the suppression list: `?email=&limit=&cursor=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuppressionQuery {
    /// Only the suppressions of this address (compared normalized).
    pub email: Option<String>,
    /// 1 to 200, default 50.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl QueryString for SuppressionQuery {
    type Params = rsvp_app::SuppressionQuery;

    fn into_params(self) -> Result<rsvp_app::SuppressionQuery, Vec<FieldError>> {
        let mut errors = Vec::new();
        let email = email_filter(self.email.as_deref(), &mut errors);
        let limit = limit(self.limit.as_deref(), &mut errors);
        let after = page_cursor(self.cursor.as_deref(), cursor::decode, &mut errors);
        all_or_errors(rsvp_app::SuppressionQuery { email, limit, after }, errors)
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
