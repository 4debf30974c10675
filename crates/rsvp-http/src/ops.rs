//! Operations endpoints: liveness, readiness, metrics.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::problem::Problem;
use crate::state::HttpState;

/// `GET /healthz`: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /readyz`: the store answers.
pub async fn readyz(state: web::Data<HttpState>) -> Result<HttpResponse, Problem> {
    match state.app.ports().store.ping().await {
        Ok(()) => Ok(HttpResponse::Ok().json(json!({"status": "ready"}))),
        Err(error) => {
            tracing::warn!(%error, "not ready");
            Err(Problem::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "the database does not answer"))
        }
    }
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(state: web::Data<HttpState>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(state.metrics.render())
}
