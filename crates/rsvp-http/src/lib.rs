//! # rsvp-http
//!
//! rsvp's JSON HTTP API on actix-web, as routes you can mount into your own
//! `App`:
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! # async fn run(app: rsvp_app::App) -> std::io::Result<()> {
//! let state = rsvp_http::HttpState::new(app, rsvp_http::HttpConfig::new("https://rsvp.example.com"));
//! HttpServer::new(move || {
//!     App::new()
//!         .configure(rsvp_http::configure(state.clone()))
//!         // Unknown paths as problem documents too (the library installs no default service).
//!         .default_service(rsvp_http::default_service())
//! })
//! .bind("127.0.0.1:8080")?
//! .run()
//! .await
//! # }
//! ```
//!
//! ## Under a prefix in your own app
//!
//! The routes work under any scope of a host `App`: the invitee page's forms
//! are relative links, throttling and idempotency key on the matched routes
//! rather than on absolute paths, and `Location` headers follow the request's
//! path. Give rsvp the public URL *with* the prefix, so that the links in
//! emails point under it:
//!
//! ```no_run
//! use actix_web::{App, HttpResponse, HttpServer, web};
//! # async fn run(app: rsvp_app::App) -> std::io::Result<()> {
//! let config = rsvp_http::HttpConfig::new("https://host.example.com/network");
//! let state = rsvp_http::HttpState::new(app, config);
//! HttpServer::new(move || {
//!     App::new()
//!         .route("/", web::get().to(|| async { HttpResponse::Ok().body("the host's page") }))
//!         .service(
//!             web::scope("/network")
//!                 .configure(rsvp_http::configure(state.clone()))
//!                 // rsvp's problem+json 404 for unknown paths under /network only.
//!                 .default_service(rsvp_http::default_service()),
//!         )
//! })
//! .bind("127.0.0.1:8080")?
//! .run()
//! .await
//! # }
//! ```
//!
//! Every error — ours and the framework's (malformed JSON, wrong media type,
//! body too large, unknown route, wrong method, bad path or query) — is an
//! RFC 9457 `application/problem+json` document ([`Problem`]); no client
//! input produces a 5xx. Bodies are read by [`body::read_json`] rather than
//! actix's `Json` extractor so that each of those cases is ours to answer.
//!
//! Every POST and PATCH under `/v1` honours an `Idempotency-Key` header
//! ([`idempotency`]): a retry with the same key replays the first answer.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod analytics;
pub mod body;
pub mod client_addr;
pub mod cursor;
pub mod dto;
pub mod idempotency;
mod invitations;
mod join_links;
pub mod json;
mod links;
pub mod metrics;
mod middleware;
mod network;
pub mod openapi;
pub mod operator;
mod ops;
mod page;
pub mod params;
pub mod problem;
mod provider_events;
pub mod reference;
pub mod requests;
mod routes;
mod state;
pub mod throttle;
pub mod webhooks;

use actix_web::http::header;
use actix_web::{HttpResponse, web};

pub use client_addr::TrustedProxies;
pub use metrics::Metrics;
pub use page::{PAGE_TEMPLATE, PageTemplates};
pub use problem::Problem;
pub use rsvp_templates::TemplateError;
pub use state::{Caller, HttpConfig, HttpState, Operator};

async fn not_found() -> Result<HttpResponse, Problem> {
    Err(Problem::not_found())
}

/// rsvp's answer to a path no route knows: a `404` problem document
/// (`application/problem+json`, code `not_found`).
///
/// [`configure`] installs no default service, so that a host app keeps its
/// own; install this one on the `App` (as the `rsvp` binary does) or on the
/// scope rsvp is mounted under (`App::default_service`,
/// `Scope::default_service`).
pub fn default_service() -> actix_web::Route {
    web::to(not_found)
}

/// A resource whose other methods answer 405 as a problem, with the `Allow`
/// header RFC 9110 asks for (`allow` lists the resource's methods).
fn resource(path: &str, allow: String) -> actix_web::Resource {
    let allow = header::HeaderValue::from_str(&allow).ok();
    web::resource(path).default_service(web::to(move || {
        let allow = allow.clone();
        async move {
            let mut response = actix_web::ResponseError::error_response(&Problem::method_not_allowed());
            if let Some(allow) = allow {
                response.headers_mut().insert(header::ALLOW, allow);
            }
            response
        }
    }))
}

/// The resource of one endpoint of the route table, with a route per method.
fn endpoint(endpoint: &routes::Endpoint) -> actix_web::Resource {
    endpoint.methods.iter().fold(
        resource(&endpoint.path, endpoint.allow()),
        |resource, &(verb, handler)| resource.route(routes::route(endpoint, verb, handler)),
    )
}

/// `resource` with the request id, access log, metrics and common headers of
/// [`middleware::observe`] (the `/v1` and `/invite` scopes get it whole).
fn observed(
    resource: actix_web::Resource,
) -> actix_web::Resource<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    resource.wrap(actix_web::middleware::from_fn(middleware::observe))
}

/// A POST or PATCH route under `/v1`: it honours `Idempotency-Key`
/// ([`idempotency::guard`]). On the route, not the scope, so that it runs
/// only when the route's method matched: a 405 or 404 is never keyed. It
/// runs inside the scope's `observe` and throttle (a blocked address is
/// refused before any look-up).
fn keyed(route: actix_web::Route) -> actix_web::Route {
    route.wrap(actix_web::middleware::from_fn(idempotency::guard))
}

/// Registers every route of the route table (`routes::ROUTES`) and the
/// state, into an `App` or under a `Scope` (see the crate documentation).
/// Unknown paths inside rsvp's own scopes (`/v1`, `/invite`,
/// `/unsubscribe`) answer a problem-document 404; for other unknown paths
/// install [`default_service`] where you want it.
pub fn configure(state: HttpState) -> impl FnOnce(&mut web::ServiceConfig) {
    use actix_web::middleware::from_fn;
    use routes::Area;

    move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(web::Data::new(state));
        for route in routes::ROUTES.iter() {
            match route.area {
                Area::Probe | Area::Reference => {
                    cfg.service(observed(endpoint(route)));
                }
                // A wrong metrics token is a failed authentication like any other.
                Area::Scrape => {
                    cfg.service(
                        endpoint(route)
                            .wrap(from_fn(throttle::guard))
                            .wrap(from_fn(middleware::observe)),
                    );
                }
                Area::Page(_) | Area::Api => {}
            }
        }
        for scope in routes::page_scopes() {
            // Failures are throttled inside `observe`, so that a 429 is
            // logged and counted like any answer.
            let mut pages = web::scope(scope)
                .wrap(from_fn(throttle::page_guard))
                .wrap(from_fn(middleware::observe));
            for route in routes::in_area(Area::Page(scope)) {
                pages = pages.service(endpoint(route));
            }
            cfg.service(pages.default_service(web::to(not_found)));
        }
        let mut api = web::scope(routes::API_SCOPE)
            .wrap(from_fn(throttle::guard))
            .wrap(from_fn(middleware::observe));
        for route in routes::in_area(Area::Api) {
            api = api.service(endpoint(route));
        }
        cfg.service(api.default_service(web::to(not_found)));
    }
}

// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
