//! Request ids, access logs, request metrics and the headers every answer
//! carries.
//!
//! Paths are never logged nor used as metric labels: a path can carry a
//! credential (`/invite/{token}`, `/unsubscribe/{token}`,
//! `/v1/invitation-links/{token}`), so only
//! the matched route template is, and `unmatched` for a path no route knows
//! (a mistyped link is still a link). Under a host's prefix the template is
//! the whole matched pattern, prefix included (`/network/invite/{token}`).

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{ResponseError as _, web};
use tracing::Instrument as _;

use crate::state::{HttpState, single_authorization};

/// The request id header, echoed or minted.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Label of a request whose path matches no route.
const UNMATCHED: &str = "unmatched";

fn acceptable_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    (!text.is_empty() && text.len() <= 128 && text.bytes().all(|b| b.is_ascii_graphic())).then(|| text.to_owned())
}

/// Echoes `X-Request-Id` (or mints one), logs the request under its route
/// template in a span carrying the id, records its metrics, and sets
/// `X-Content-Type-Options: nosniff` on every answer and `Cache-Control:
/// no-store` on every answer of a route keyed by a link token.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<HttpState>>().cloned();
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(acceptable_id)
        .unwrap_or_else(|| {
            state
                .as_ref()
                .map_or_else(|| "unknown".to_owned(), |s| s.app.new_request_id())
        });
    let method = req.method().to_string();
    // The resource map knows every route of the app, so the template is
    // known before this scope's router runs.
    let route = req.match_pattern().unwrap_or_else(|| UNMATCHED.to_owned());
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, route = %route);
    // Refused for every route, not only those that authenticate: which of
    // two headers a proxy, a cache and rsvp would each read differs.
    let mut response = match single_authorization(req.headers()) {
        Err(problem) => req.into_response(problem.error_response()).map_into_right_body(),
        Ok(_) => next.call(req).instrument(span.clone()).await?.map_into_left_body(),
    };
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    if let Some(state) = state {
        state.metrics.observe_request(&route, &method, status, elapsed);
    }
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    span.in_scope(|| {
        // Probes and scrapes come every few seconds: their lines are for debugging.
        if crate::routes::is_probe(&route) {
            tracing::debug!(status, latency_ms, "request");
        } else {
            tracing::info!(status, latency_ms, "request");
        }
    });
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if route.contains("{token}") {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}
