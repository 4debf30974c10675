//! The analytics of the caller's business: `GET /v1/analytics/invitations`,
//! the invitation funnel.

// `Problem` is the RFC 9457 document itself, flat by design.
#![allow(clippy::result_large_err, reason = "Problem is the flat RFC 9457 document")]

use actix_web::{HttpResponse, web};
use rsvp_app::{AppError, FunnelRange, FunnelReport};
use rsvp_domain::FieldError;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339 as Rfc3339Format;
use utoipa::{IntoParams, ToSchema};

use crate::dto::Rfc3339;
use crate::params::{Query, QueryString};
use crate::problem::Problem;
use crate::state::{Caller, HttpState};

/// Query of the funnel: `?from=&to=`, RFC 3339 date-times (a `+` of an
/// offset written `%2B`, or use `Z`).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FunnelQuery {
    /// The first creation time counted (included), e.g.
    /// `2026-11-01T00:00:00Z`; default 30 days before `to`. At most 366 days
    /// before `to`, and not after it.
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<String>,
    /// The end of the range (excluded); default now.
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<String>,
}

/// An RFC 3339 parameter; empty reads as left out.
fn date_time(name: &str, raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<OffsetDateTime> {
    let raw = raw.map(str::trim).filter(|r| !r.is_empty())?;
    match OffsetDateTime::parse(raw, &Rfc3339Format) {
        Ok(at) => Some(at),
        Err(_) => {
            errors.push(FieldError::new(
                name,
                "invalid_format",
                format!("{name} must be an RFC 3339 date-time such as 2026-11-01T00:00:00Z"),
            ));
            None
        }
    }
}

impl QueryString for FunnelQuery {
    type Params = FunnelRange;

    fn into_params(self) -> Result<FunnelRange, Vec<FieldError>> {
        let mut errors = Vec::new();
        let from = date_time("from", self.from.as_deref(), &mut errors);
        let to = date_time("to", self.to.as_deref(), &mut errors);
        if errors.is_empty() {
            Ok(FunnelRange { from, to })
        } else {
            Err(errors)
        }
    }
}

/// What became of the caller's business's invitations created in
/// `[from, to)`, each counted by its state when read. Every count is of
/// invitations; the email counts follow each invitation's latest email.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationFunnelBody {
    /// The first creation time counted (included).
    #[schema(value_type = String, format = DateTime)]
    pub from: Rfc3339,
    /// The end of the range (excluded).
    #[schema(value_type = String, format = DateTime)]
    pub to: Rfc3339,
    /// Invitations created in the range: the funnel's top.
    pub created: u64,
    /// Those whose latest email was handed to the email transport
    /// (`email_delivery` `sent`, `delivered`, `bounced` or `complained`);
    /// not those still `queued`, `failed`, or created with
    /// `send_email: false`.
    pub sent: u64,
    /// Those whose latest email the provider reports delivered (and
    /// nothing worse since).
    pub delivered: u64,
    /// Those whose latest email bounced (hard or soft).
    pub bounced: u64,
    /// Those whose latest email the recipient marked as spam.
    pub complained: u64,
    /// Those whose invitee page (`/invite/{token}`) was opened at least
    /// once. An upper bound: mail scanners open links too.
    pub page_viewed: u64,
    /// Those accepted.
    pub accepted: u64,
    /// Those declined (status `rejected`).
    pub declined: u64,
    /// Those cancelled (by their sender, or by an operator's erasure).
    pub cancelled: u64,
    /// Those expired, including pending ones past `expires_at` that the
    /// expiry sweep has not reached yet.
    pub expired: u64,
    /// The median time from creation to the answer over the accepted and
    /// declined ones, in whole seconds (of an even count, the mean of the
    /// two middle times, truncated); null when none was answered.
    #[schema(required = true)]
    pub median_seconds_to_answer: Option<i64>,
}

impl InvitationFunnelBody {
    /// The body of `report`.
    pub fn new(report: &FunnelReport) -> Self {
        let f = &report.funnel;
        Self {
            from: Rfc3339(report.from),
            to: Rfc3339(report.to),
            created: f.created,
            sent: f.sent,
            delivered: f.delivered,
            bounced: f.bounced,
            complained: f.complained,
            page_viewed: f.page_viewed,
            accepted: f.accepted,
            declined: f.declined,
            cancelled: f.cancelled,
            expired: f.expired,
            median_seconds_to_answer: f.median_seconds_to_answer(),
        }
    }
}

/// `GET /v1/analytics/invitations`
#[utoipa::path(get, path = "/v1/analytics/invitations", tag = "analytics", params(FunnelQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "the funnel of the caller's business's invitations created in [from, to)", body = InvitationFunnelBody),
        (status = 400, description = "`invalid_query`: from or to not RFC 3339, from after to, or more than 366 days before it"),
    ))]
pub async fn invitation_funnel(
    state: web::Data<HttpState>,
    Caller(caller): Caller,
    Query(range): Query<FunnelQuery>,
) -> Result<HttpResponse, Problem> {
    let report = state
        .app
        .invitation_funnel(&caller, range)
        .await
        .map_err(|error| match error {
            // The range is the query's: its refusal is the query's 400.
            AppError::Validation(errors) => Problem::invalid_query(errors.into_vec()),
            other => other.into(),
        })?;
    Ok(HttpResponse::Ok().json(InvitationFunnelBody::new(&report)))
}
