//! What email providers report after a send: `POST
//! /v1/provider-events/postmark` (Postmark's webhooks, HTTP Basic
//! credentials) and `POST /v1/provider-events/ses` (Amazon SES's reports
//! through Amazon SNS, signed messages). Each provider's payload is read
//! here into a [`ProviderReport`]; the use cases apply it.

mod postmark;
mod ses;

use actix_web::{HttpResponse, web};
use rsvp_app::{ProviderReport, ReportOutcome};
use serde::Serialize;
use utoipa::ToSchema;

pub use postmark::{__path_postmark, postmark};
pub use ses::{__path_ses, ses};

use crate::problem::Problem;
use crate::state::HttpState;

/// The most a provider's POST may carry (SNS messages are at most 256 KiB).
pub(crate) const PROVIDER_BODY_LIMIT: usize = 512 * 1024;

/// What rsvp did with a provider's POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProviderEventResult {
    /// The report was applied to the invitation its email was about.
    Applied,
    /// The same report was applied before: nothing changed.
    Duplicate,
    /// No email rsvp sent matches it: ignored.
    UnknownMessage,
    /// A kind of report rsvp does not act on (opens, clicks, ...): ignored.
    Ignored,
    /// An SNS subscription confirmation, confirmed.
    SubscriptionConfirmed,
}

impl ProviderEventResult {
    /// The metric label.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Duplicate => "duplicate",
            Self::UnknownMessage => "unknown_message",
            Self::Ignored => "ignored",
            Self::SubscriptionConfirmed => "subscription_confirmed",
        }
    }
}

/// The answer to a provider's POST (200: the provider must not retry it).
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderEventAck {
    /// What rsvp did with it.
    pub result: ProviderEventResult,
}

/// A 400 about the provider's payload.
pub(crate) fn invalid_payload(detail: impl Into<String>) -> Problem {
    Problem::new(actix_web::http::StatusCode::BAD_REQUEST, "invalid_payload", detail)
}

/// Applies `report` (if any) and answers 200 with what came of it, counted
/// in `rsvp_provider_events_total`.
pub(crate) async fn acknowledge(
    state: &HttpState,
    provider: &'static str,
    report: Option<ProviderReport>,
) -> Result<HttpResponse, Problem> {
    let result = match report {
        None => ProviderEventResult::Ignored,
        Some(report) => match state.app.record_provider_report(report).await? {
            ReportOutcome::Applied { .. } => ProviderEventResult::Applied,
            ReportOutcome::Duplicate => ProviderEventResult::Duplicate,
            ReportOutcome::UnknownEmail => ProviderEventResult::UnknownMessage,
        },
    };
    Ok(answer(state, provider, result))
}

/// 200 with `result`, counted.
pub(crate) fn answer(state: &HttpState, provider: &'static str, result: ProviderEventResult) -> HttpResponse {
    state.metrics.observe_provider_event(provider, result.as_str());
    HttpResponse::Ok().json(ProviderEventAck { result })
}

/// The body of a provider's POST: a JSON object (`what` names it in the
/// 400), whatever its `Content-Type` (SNS sends `text/plain`).
pub(crate) async fn read_object(
    req: &actix_web::HttpRequest,
    payload: web::Payload,
    what: &str,
) -> Result<serde_json::Value, Problem> {
    let body = crate::body::read_bytes(req.headers(), payload, PROVIDER_BODY_LIMIT).await?;
    let value = crate::body::parse_json_bytes(&body).map_err(|e| Problem::malformed_json(e.to_string()))?;
    if !value.is_object() {
        return Err(invalid_payload(format!("the body must be {what} (a JSON object)")));
    }
    Ok(value)
}
