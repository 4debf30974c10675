//! What every handler shares, and the extractors for callers.

// `Problem` is the RFC 9457 document itself, flat by design (144 bytes); the
// size of an error on a request's error path costs nothing worth boxing for.
#![allow(clippy::result_large_err, reason = "Problem is the flat RFC 9457 document")]

use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use rsvp_app::{App, AppError, Branding, PublicLinks, Secret, ports::Principal};

use crate::client_addr::TrustedProxies;
use crate::metrics::Metrics;
use crate::page::PageTemplates;
use crate::problem::Problem;
use crate::throttle::FailedAttempts;

/// Settings of the HTTP adapter.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The links in `accept_url`, under the public URL, e.g.
    /// `https://rsvp.example.com` (the same links as the emails').
    pub links: PublicLinks,
    /// The operator token; `None` turns the operator API (`/v1/admin`) off.
    pub admin_token: Option<Secret>,
    /// Largest JSON body of a single-item request, in bytes (default 64 KiB).
    pub body_limit: usize,
    /// Largest JSON body of a bulk request, in bytes (default 4 MiB).
    pub bulk_body_limit: usize,
    /// When set, `/metrics` answers only `Authorization: Bearer <this>`.
    pub metrics_token: Option<Secret>,
    /// Failed authentications and link lookups allowed per client address
    /// and minute before it gets 429 (default 60; `0` turns throttling off).
    pub failed_attempts_per_minute: u32,
    /// Proxies whose `X-Forwarded-For` names the client (default none).
    pub trusted_proxies: TrustedProxies,
    /// The operator's product name, colour and logo on the invitee's page.
    pub branding: Branding,
    /// The invitee page's template (`None`: the built-in one).
    pub pages: Option<Arc<PageTemplates>>,
    /// Where the join link page's "Continue" goes, with the link's token
    /// added as `token` (`RSVP_JOIN_CONTINUE_URL`; `None`: no button).
    pub join_continue_url: Option<rsvp_domain::RedirectUrl>,
    /// Whether the event log is relayed to a bus (`RSVP_EVENTS_NATS_URL`):
    /// `/metrics` then shows the relay's lag (default false).
    pub event_relay: bool,
}

impl HttpConfig {
    /// Defaults with this public URL.
    pub fn new(public_url: impl Into<String>) -> Self {
        Self {
            links: PublicLinks::new(public_url),
            admin_token: None,
            body_limit: 64 * 1024,
            bulk_body_limit: 4 * 1024 * 1024,
            metrics_token: None,
            failed_attempts_per_minute: 60,
            trusted_proxies: TrustedProxies::default(),
            branding: Branding::default(),
            pages: None,
            join_continue_url: None,
            event_relay: false,
        }
    }
}

/// Shared by every handler.
#[derive(Debug, Clone)]
pub struct HttpState {
    /// The use cases.
    pub app: App,
    /// Settings.
    pub config: HttpConfig,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// Failed attempts per client address (this replica's).
    pub throttle: Arc<FailedAttempts>,
}

impl HttpState {
    /// State over `app` with `config` and a fresh metrics registry.
    pub fn new(app: App, config: HttpConfig) -> Self {
        let throttle = Arc::new(FailedAttempts::new(config.failed_attempts_per_minute, app.clock()));
        Self {
            app,
            config,
            metrics: Arc::new(Metrics::new()),
            throttle,
        }
    }
}

pub(crate) fn state(req: &HttpRequest) -> Result<web::Data<HttpState>, Problem> {
    req.app_data::<web::Data<HttpState>>()
        .cloned()
        .ok_or_else(|| Problem::internal("HttpState is not registered as app data"))
}

/// `Location` of a resource created by a POST to its collection: the
/// request's path and the id, so that it keeps the prefix of a host that
/// mounted rsvp under one (`/network/v1/invitations/{id}`).
pub(crate) fn location_of(req: &HttpRequest, id: impl std::fmt::Display) -> String {
    format!("{}/{id}", req.path().trim_end_matches('/'))
}

/// The one `Authorization` header, if any.
///
/// # Errors
/// 400 `duplicate_authorization` when there are several.
pub(crate) fn single_authorization(headers: &header::HeaderMap) -> Result<Option<&header::HeaderValue>, Problem> {
    let mut values = headers.get_all(header::AUTHORIZATION);
    let first = values.next();
    if values.next().is_some() {
        return Err(Problem::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            "duplicate_authorization",
            "send one Authorization header, not several",
        ));
    }
    Ok(first)
}

/// The bearer token of `Authorization`, if any.
///
/// # Errors
/// 400 when the request has more than one `Authorization` header: which one
/// a proxy, a cache and rsvp each read would differ, so none is read.
pub(crate) fn bearer(req: &HttpRequest) -> Result<Option<String>, Problem> {
    let Some(value) = single_authorization(req.headers())? else {
        return Ok(None);
    };
    let Some((scheme, token)) = value.to_str().ok().and_then(|v| v.trim().split_once(' ')) else {
        return Ok(None);
    };
    let token = token.trim();
    Ok((scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned()))
}

/// Whether `given` is the configured `expected` token. Digests are compared:
/// equal length, so the comparison time says nothing about the token.
pub(crate) fn token_matches(state: &HttpState, given: &str, expected: &Secret) -> bool {
    state.app.secret_matches(given, expected)
}

/// Whether a bearer token is a JWT (three base64url parts) rather than an
/// API key (`rsvp_...`, never with a dot).
fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

/// The authenticated caller of an API-key endpoint: an API key, or a JWT of
/// the host platform's identity provider when rsvp is configured to accept
/// them.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl FromRequest for Caller {
    type Error = Problem;
    type Future = LocalBoxFuture<'static, Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = state(req);
        let key = bearer(req);
        Box::pin(async move {
            let state = state?;
            let key = key?.ok_or_else(Problem::unauthorized)?;
            let authenticated = if state.app.accepts_tokens() && looks_like_jwt(&key) {
                state.app.authenticate_token(&key).await
            } else {
                state.app.authenticate(&key).await
            };
            match authenticated {
                Ok(principal) => Ok(Caller(principal)),
                Err(error @ (AppError::Unavailable(_) | AppError::BusinessSuspended)) => Err(error.into()),
                Err(_) => Err(Problem::unauthorized()),
            }
        })
    }
}

/// The operator (host platform) calling `/v1/admin`.
#[derive(Debug, Clone, Copy)]
pub struct Operator;

impl FromRequest for Operator {
    type Error = Problem;
    type Future = std::future::Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready((|| {
            let state = state(req)?;
            let expected = state.config.admin_token.as_ref().ok_or_else(|| {
                Problem::new(
                    actix_web::http::StatusCode::NOT_FOUND,
                    "not_found",
                    "the operator API is turned off",
                )
            })?;
            let given = bearer(req)?.ok_or_else(Problem::unauthorized)?;
            if token_matches(&state, &given, expected) {
                Ok(Operator)
            } else {
                Err(Problem::unauthorized())
            }
        })())
    }
}
