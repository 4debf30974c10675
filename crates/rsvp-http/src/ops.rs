//! Operations endpoints: liveness, readiness, metrics.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::metrics::OutboxGauges;
use crate::problem::Problem;
use crate::state::{HttpState, bearer, token_matches};

/// A status answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// `ok` or `ready`.
    pub status: String,
}

/// `GET /healthz`: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "alive", body = Status)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /readyz`: the store answers (within about a second) and, on SQLite,
/// its last write did not fail on storage. A 503 carries `Retry-After`.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "ready", body = Status), (status = 503, description = "store unavailable")))]
pub async fn readyz(state: web::Data<HttpState>) -> Result<HttpResponse, Problem> {
    // The event bus has no part in it: a bus that is down only delays the
    // relay (its lag metric rises), never the API.
    match state.app.check_ready().await {
        Ok(()) => Ok(HttpResponse::Ok().json(json!({"status": "ready"}))),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            Err(Problem::unavailable(
                "not_ready",
                "the database does not answer or cannot be written",
            ))
        }
    }
}

/// `GET /metrics`: Prometheus text; `Authorization: Bearer <RSVP_METRICS_TOKEN>`
/// when that is set.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain"),
        (status = 400, description = "more than one Authorization header"),
        (status = 401, description = "a metrics token is set and was not given",
            headers(("WWW-Authenticate" = String, description = "`Bearer`")))
    ))]
pub async fn metrics(state: web::Data<HttpState>, req: HttpRequest) -> Result<HttpResponse, Problem> {
    if let Some(expected) = &state.config.metrics_token {
        let given = bearer(&req)?.ok_or_else(Problem::unauthorized)?;
        if !token_matches(&state, &given, expected) {
            return Err(Problem::unauthorized());
        }
    }
    let status = state.app.outbox_status().await;
    // The relay's lag only where events are relayed: elsewhere it would
    // grow for ever.
    let relay = if state.config.event_relay {
        state.app.event_relay_status().await
    } else {
        rsvp_app::EventRelayStatus::default()
    };
    let outbox = OutboxGauges {
        depth: status.depth,
        oldest_queued_age_seconds: status.oldest_queued_age_seconds,
        webhook_depth: status.webhook_depth,
        relay_lag_events: relay.lag_events,
        relay_lag_seconds: relay.lag_seconds,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&outbox)))
}
