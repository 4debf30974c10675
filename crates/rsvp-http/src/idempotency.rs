//! `Idempotency-Key` on every POST and PATCH under `/v1`.
//!
//! A request carrying the header is run once per key and caller; its answer
//! is stored (in the store, so across replicas and restarts) for 24 hours
//! and replayed to a retry with the same key and the same request — status,
//! the headers that matter (`Location`, `Content-Type`, `Retry-After`,
//! `Cache-Control`) and the body byte for byte — with `Idempotent-Replayed:
//! true`. The same key with another request (method, path, query or body) is
//! 422 `idempotency_key_reused`; a retry while the first still runs is 409
//! `idempotency_in_progress` (with `Retry-After: 1`); a malformed key
//! (anything but 1 to 255 visible ASCII characters, or the header twice) is
//! 400 `invalid_idempotency_key`.
//!
//! * **Scope.** The caller is known by its credential before any handler
//!   runs: the SHA-256 of the bearer credential (an API key, or the operator
//!   token for `/v1/admin`), or of the link token of
//!   `/v1/invitation-links/{token}/...`. The credential itself is never
//!   stored, and two callers' keys never meet. A request without a
//!   credential runs without idempotency (it is answered 401).
//! * **Fingerprint.** SHA-256 of method, path, query and body bytes.
//! * **Not stored.** A 5xx (the record is dropped, so a retry runs again),
//!   a 401 (a failed authentication is no answer of the caller's), a 429
//!   (a throttle, a cooldown or a quota: a retry later should run). Every
//!   other answer is stored, refusals included.
//! * **Where.** On each POST and PATCH route of `/v1` (not on the scope: a
//!   405 or a 404 is never keyed), so inside the scope's `observe` (replays
//!   and refusals are logged and counted) and failed-attempt throttle (a
//!   blocked address is refused before anything is looked up).

// `Problem` is the RFC 9457 document itself, flat by design (as in `state`).
#![allow(clippy::result_large_err, reason = "Problem is the flat RFC 9457 document")]

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage as _, HttpResponse, ResponseError as _, web};
use rsvp_app::{
    IdempotencyKey, IdempotencyScope, IdempotencyTicket, IdempotentStart, RequestFingerprint, SecretHash,
    StoredResponse,
};
use rsvp_domain::FieldError;
use sha2::{Digest as _, Sha256};

use crate::problem::Problem;
use crate::state::{HttpState, bearer};

/// The request header carrying the client's key.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The response header marking a replayed answer (`true`).
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The headers of an answer that are stored and replayed with it.
const REPLAYED_HEADERS: [HeaderName; 4] = [
    header::LOCATION,
    header::CONTENT_TYPE,
    header::RETRY_AFTER,
    header::CACHE_CONTROL,
];

/// The one route whose body may be as large as `bulk_body_limit`: the end
/// of its pattern, which begins with the host's prefix when rsvp is mounted
/// under one.
pub(crate) const BULK_ROUTE: &str = "/v1/invitations/bulk";

/// Whether an answer of this status is stored for replay.
pub fn is_stored(status: StatusCode) -> bool {
    !status.is_server_error() && status != StatusCode::UNAUTHORIZED && status != StatusCode::TOO_MANY_REQUESTS
}

fn digest(parts: &[&[u8]]) -> SecretHash {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    SecretHash(hasher.finalize().into())
}

/// Whose key: a hash of the request's credential, if it has one.
fn scope_of(req: &ServiceRequest) -> Option<IdempotencyScope> {
    // Domain-separated, so that a scope is never the API key's lookup hash.
    if let Ok(Some(token)) = bearer(req.request()) {
        return Some(IdempotencyScope(digest(&[
            b"rsvp idempotency scope\0bearer\0",
            token.as_bytes(),
        ])));
    }
    // The link routes, whose credential is the `{token}` of their path.
    let token = req.match_info().get("token")?;
    (!token.is_empty()).then(|| IdempotencyScope(digest(&[b"rsvp idempotency scope\0link\0", token.as_bytes()])))
}

/// SHA-256 of method, path, query and body: what makes two requests "the
/// same". Method, path and query cannot hold a newline, so the line breaks
/// keep the parts apart.
pub fn fingerprint(method: &Method, path: &str, query: &str, body: &[u8]) -> RequestFingerprint {
    RequestFingerprint(digest(&[
        method.as_str().as_bytes(),
        b"\n",
        path.as_bytes(),
        b"\n",
        query.as_bytes(),
        b"\n",
        body,
    ]))
}

fn malformed_key() -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid_idempotency_key",
        "the Idempotency-Key header must appear once, with 1 to 255 visible ASCII characters",
    )
    .with_errors([FieldError::new(
        "Idempotency-Key",
        "invalid_format",
        "must be 1 to 255 visible ASCII characters (no spaces), in one header",
    )])
}

fn in_progress() -> Problem {
    let mut problem = Problem::new(
        StatusCode::CONFLICT,
        "idempotency_in_progress",
        "a request with this Idempotency-Key is still running; retry after the time in Retry-After",
    );
    problem.retry_after = Some(1);
    problem
}

fn reused() -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
        "this Idempotency-Key was used in the last 24 hours for another request (method, path, query or body); \
         use a new key for a new request",
    )
}

/// The key of the request, if it has one.
fn key_of(req: &ServiceRequest) -> Result<Option<IdempotencyKey>, Problem> {
    let mut values = req.headers().get_all(IDEMPOTENCY_KEY);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(malformed_key());
    }
    let text = value.to_str().map_err(|_| malformed_key())?;
    IdempotencyKey::parse(text).map(Some).map_err(|_| malformed_key())
}

/// Reads the whole body (at most `limit` bytes), as the handler would.
async fn read_body(req: &mut ServiceRequest, limit: usize) -> Result<web::Bytes, Problem> {
    let payload = req.take_payload();
    crate::body::read_bytes(req.headers(), payload, limit).await
}

fn replay(stored: StoredResponse) -> HttpResponse {
    let Ok(status) = StatusCode::from_u16(stored.status) else {
        return Problem::internal("a stored idempotent response has an invalid status").error_response();
    };
    let mut response = HttpResponse::build(status);
    for (name, value) in &stored.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            response.append_header((name, value));
        }
    }
    response.insert_header((IDEMPOTENT_REPLAYED, HeaderValue::from_static("true")));
    response.body(stored.body)
}

async fn abandon(state: &HttpState, ticket: &IdempotencyTicket) {
    if let Err(error) = state.app.abandon_idempotent(ticket).await {
        // The record stays in progress: a retry gets 409 until it may take it over.
        tracing::warn!(%error, "could not release an idempotency key");
    }
}

/// Runs the request under its ticket and stores its answer (or releases the
/// key when the answer is not to be stored).
async fn run(
    state: &HttpState,
    ticket: IdempotencyTicket,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let response = match next.call(req).await {
        Ok(response) => response,
        Err(error) => {
            abandon(state, &ticket).await;
            return Err(error);
        }
    };
    if !is_stored(response.status()) {
        abandon(state, &ticket).await;
        return Ok(response.map_into_boxed_body());
    }
    let (request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let bytes = match actix_web::body::to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(_) => {
            abandon(state, &ticket).await;
            let problem = Problem::internal("the body of an answer could not be read for storing");
            return Ok(ServiceResponse::new(request, problem.error_response()));
        }
    };
    let mut headers = Vec::new();
    for name in &REPLAYED_HEADERS {
        for value in head.headers().get_all(name) {
            if let Ok(value) = value.to_str() {
                headers.push((name.as_str().to_owned(), value.to_owned()));
            }
        }
    }
    let stored = StoredResponse {
        status: head.status().as_u16(),
        headers,
        body: bytes.to_vec(),
    };
    match state.app.complete_idempotent(&ticket, &stored).await {
        Ok(true) => {}
        // Taken over after the takeover time: the other attempt's answer stands.
        Ok(false) => tracing::warn!("an idempotency key was taken over while its request ran"),
        // The answer still goes out; a retry gets 409 until the record may be taken over.
        Err(error) => tracing::warn!(%error, "could not store an idempotent answer"),
    }
    Ok(ServiceResponse::new(request, head.set_body(BoxBody::new(bytes))))
}

/// The middleware of each POST and PATCH route under `/v1` (see the module
/// documentation); other methods pass through untouched.
pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let applies = matches!(*req.method(), Method::POST | Method::PATCH) && req.match_pattern().is_some();
    let state = req.app_data::<web::Data<HttpState>>().cloned();
    let (true, Some(state)) = (applies, state) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let key = match key_of(&req) {
        Ok(Some(key)) => key,
        Ok(None) => return Ok(next.call(req).await?.map_into_boxed_body()),
        Err(problem) => return Ok(req.into_response(problem.error_response())),
    };
    let Some(scope) = scope_of(&req) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let limit = if req.match_pattern().is_some_and(|route| route.ends_with(BULK_ROUTE)) {
        state.config.bulk_body_limit
    } else {
        state.config.body_limit
    };
    let body = match read_body(&mut req, limit).await {
        Ok(body) => body,
        Err(problem) => return Ok(req.into_response(problem.error_response())),
    };
    let fingerprint = fingerprint(req.method(), req.path(), req.query_string(), &body);
    req.set_payload(body.into());
    match state.app.begin_idempotent(scope, key, fingerprint).await {
        Ok(IdempotentStart::Run(ticket)) => run(&state, ticket, req, next).await,
        Ok(IdempotentStart::Replay(stored)) => Ok(req.into_response(replay(stored))),
        Ok(IdempotentStart::InProgress) => Ok(req.into_response(in_progress().error_response())),
        Ok(IdempotentStart::Mismatch) => Ok(req.into_response(reused().error_response())),
        Err(error) => Ok(req.into_response(Problem::from(error).error_response())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_changes_with_each_part_of_the_request() {
        let base = fingerprint(&Method::POST, "/v1/invitations", "", b"{}");
        assert_eq!(base, fingerprint(&Method::POST, "/v1/invitations", "", b"{}"));
        for other in [
            fingerprint(&Method::PATCH, "/v1/invitations", "", b"{}"),
            fingerprint(&Method::POST, "/v1/invitations/bulk", "", b"{}"),
            fingerprint(&Method::POST, "/v1/invitations", "a=1", b"{}"),
            fingerprint(&Method::POST, "/v1/invitations", "", b"{ }"),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn server_errors_failed_authentications_and_throttles_are_not_stored() {
        for status in [500, 502, 503, 401, 429] {
            assert!(!is_stored(StatusCode::from_u16(status).unwrap()), "{status}");
        }
        for status in [200, 201, 202, 400, 403, 404, 409, 413, 415, 422] {
            assert!(is_stored(StatusCode::from_u16(status).unwrap()), "{status}");
        }
    }
}
