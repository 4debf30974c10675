//! RFC 9457 problem details: the one error type of the HTTP API.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use rsvp_app::AppError;
use rsvp_domain::FieldError;
use serde::Serialize;

/// Content type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// `Retry-After` of a 503: the pool gives up on the database after about a
/// second, so a client waiting this long asks a recovered or still-failing
/// server, never one still busy with its last attempt.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 2;

/// One invalid field of a problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProblemField {
    /// Dotted path, e.g. `custom_data.key1`.
    pub field: String,
    /// Stable code.
    pub code: String,
    /// For people.
    pub message: String,
}

impl From<FieldError> for ProblemField {
    fn from(e: FieldError) -> Self {
        Self {
            field: e.field,
            code: e.code,
            message: e.message,
        }
    }
}

/// An RFC 9457 problem: `{"type","title","status","detail","code","errors"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short summary of the type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened this time.
    pub detail: String,
    /// Stable machine-readable code.
    pub code: String,
    /// Every invalid field (empty when the problem is not about fields).
    pub errors: Vec<ProblemField>,
    /// Seconds to wait (429, 503), sent as `Retry-After`.
    #[serde(skip)]
    #[schema(ignore)]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem with no field errors.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            type_uri: format!("urn:rsvp:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// Adds field errors.
    pub fn with_errors(mut self, errors: impl IntoIterator<Item = FieldError>) -> Self {
        self.errors.extend(errors.into_iter().map(ProblemField::from));
        self
    }

    /// 400 `malformed_json`.
    pub fn malformed_json(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_json", detail)
    }

    /// 400 `invalid_query` listing the bad parameters.
    pub fn invalid_query(errors: Vec<FieldError>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "some query parameters are invalid",
        )
        .with_errors(errors)
    }

    /// 422 `validation_failed` listing every invalid field.
    pub fn invalid_fields(errors: Vec<FieldError>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "some fields are invalid",
        )
        .with_errors(errors)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API key (or token) is required: Authorization: Bearer <key>",
        )
    }

    /// 404 `not_found`.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    /// 405 `method_not_allowed`.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this method is not allowed on this resource",
        )
    }

    /// 503 with `Retry-After` ([`UNAVAILABLE_RETRY_AFTER_SECS`]): the
    /// database does not answer; the client may try again shortly.
    pub fn unavailable(code: &str, detail: impl Into<String>) -> Self {
        let mut problem = Self::new(StatusCode::SERVICE_UNAVAILABLE, code, detail);
        problem.retry_after = Some(UNAVAILABLE_RETRY_AFTER_SECS);
        problem
    }

    /// 500 `internal`, hiding the cause (which is logged).
    pub fn internal(cause: &str) -> Self {
        tracing::error!(cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side",
        )
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.detail)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        // Also on answers no middleware wraps (the default 404 of a host's `App`).
        response.insert_header((header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")));
        if self.status == 401 {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        response.body(serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned()))
    }
}

impl From<AppError> for Problem {
    fn from(error: AppError) -> Self {
        let code = error.code();
        match error {
            AppError::Validation(errors) => Self::invalid_fields(errors.into_vec()),
            AppError::Unauthorized => Self::unauthorized(),
            AppError::NotFound => Self::not_found(),
            AppError::AlreadyInvited
            | AppError::AlreadyConnected
            | AppError::EmailTaken
            | AppError::ExternalIdTaken => Self::new(StatusCode::CONFLICT, code, error.to_string()),
            AppError::InvalidTransition { current } => {
                let mut problem = Self::new(StatusCode::CONFLICT, code, error.to_string());
                problem.detail = format!("the invitation is {current}; only a pending invitation can change");
                problem
            }
            AppError::SelfInvite
            | AppError::DuplicateInRequest
            | AppError::RecipientOptedOut
            | AppError::RecipientSuppressed => Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, error.to_string()),
            AppError::Forbidden(reason) => Self::new(StatusCode::FORBIDDEN, code, reason),
            AppError::BusinessSuspended => Self::new(
                StatusCode::FORBIDDEN,
                code,
                "this business is suspended: its API keys are refused until the operator reinstates it",
            ),
            AppError::SenderSuspended => Self::new(
                StatusCode::CONFLICT,
                code,
                "the business that sent this invitation or join link is suspended: it cannot be seen, answered or used",
            ),
            AppError::JoinRefused(refusal) => {
                use rsvp_domain::JoinRefusal;
                let status = match refusal {
                    JoinRefusal::UsedUp | JoinRefusal::Expired | JoinRefusal::Revoked => StatusCode::GONE,
                    JoinRefusal::SelfJoin => StatusCode::UNPROCESSABLE_ENTITY,
                    JoinRefusal::AlreadyConnected | JoinRefusal::AlreadyRequested => StatusCode::CONFLICT,
                };
                Self::new(status, code, error.to_string())
            }
            AppError::RequestAnswered { .. } => Self::new(
                StatusCode::CONFLICT,
                code,
                format!("{error}; only a pending connection request can be answered"),
            ),
            AppError::UserDeactivated => Self::new(StatusCode::CONFLICT, code, error.to_string()),
            AppError::UrlNotAllowed(reason) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                "rsvp calls only https URLs of public hosts",
            )
            .with_errors([FieldError::new("url", code, reason)]),
            AppError::EndpointDisabled => Self::new(StatusCode::CONFLICT, code, error.to_string()),
            AppError::Cooldown { retry_after_secs } | AppError::QuotaExceeded { retry_after_secs } => {
                let mut problem = Self::new(StatusCode::TOO_MANY_REQUESTS, code, error.to_string());
                problem.retry_after = Some(retry_after_secs);
                problem
            }
            AppError::Unavailable(cause) => {
                tracing::error!(cause, "a dependency (the store, the identity provider) is unavailable");
                Self::unavailable(code, "the service is temporarily unavailable")
            }
        }
    }
}

/// The `{"code","message"}` object of a failed bulk item, with the field
/// errors when it failed validation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ItemError {
    /// Stable code.
    pub code: String,
    /// For people.
    pub message: String,
    /// Invalid fields, if any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
}

impl From<AppError> for ItemError {
    fn from(error: AppError) -> Self {
        let problem = Problem::from(error);
        Self {
            code: problem.code,
            message: problem.detail,
            errors: problem.errors,
        }
    }
}
