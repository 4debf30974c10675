//! Request ids, access logs and request metrics.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use tracing::Instrument as _;

use crate::state::HttpState;

/// The request id header, echoed or minted.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn acceptable_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    (!text.is_empty() && text.len() <= 128 && text.bytes().all(|b| b.is_ascii_graphic())).then(|| text.to_owned())
}

/// Echoes `X-Request-Id` (or mints one), logs the request in a span carrying
/// it, and records its metrics under the matched route pattern.
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
            state.as_ref().map_or_else(
                || "unknown".to_owned(),
                |s| s.app.ports().ids.new_id().simple().to_string(),
            )
        });
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, path = %path);
    let mut response = next.call(req).instrument(span.clone()).await?;
    // The route is known only once the scope's router matched it; ids in the
    // path would explode the metric's cardinality, the pattern does not.
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    if let Some(state) = state {
        state.metrics.observe_request(&route, &method, status, elapsed);
    }
    span.in_scope(|| tracing::info!(status, route = %route, latency_ms = elapsed.as_secs_f64() * 1000.0, "request"));
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(response)
}
