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

pub mod admin;
mod api;
pub mod body;
pub mod client_addr;
pub mod cursor;
pub mod dto;
pub mod idempotency;
pub mod invitation_json;
pub mod lifecycle;
mod links;
pub mod metrics;
mod middleware;
pub mod openapi;
mod ops;
mod page;
pub mod params;
pub mod problem;
pub mod reference;
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
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        let mut response = actix_web::ResponseError::error_response(&Problem::method_not_allowed());
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static(allow));
        response
    }))
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

/// Registers every route and the state, into an `App` or under a `Scope`
/// (see the crate documentation). Unknown paths inside rsvp's own scopes
/// (`/v1`, `/invite`, `/unsubscribe`) answer a problem-document 404; for
/// other unknown paths install [`default_service`] where you want it.
pub fn configure(state: HttpState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        let data = web::Data::new(state);
        cfg.app_data(data.clone())
            .service(observed(resource("/healthz", "GET").route(web::get().to(ops::healthz))))
            .service(observed(resource("/readyz", "GET").route(web::get().to(ops::readyz))))
            // A wrong metrics token is a failed authentication like any other.
            .service(
                resource("/metrics", "GET")
                    .route(web::get().to(ops::metrics))
                    .wrap(actix_web::middleware::from_fn(throttle::guard))
                    .wrap(actix_web::middleware::from_fn(middleware::observe)),
            )
            .service(observed(
                resource("/openapi.json", "GET").route(web::get().to(openapi::openapi_json)),
            ))
            .service(observed(
                resource("/docs", "GET").route(web::get().to(openapi::reference_page)),
            ))
            .service(
                // Every route here checks a link token: failures are throttled
                // (inside `observe`, so a 429 is logged and counted like any answer).
                web::scope(rsvp_app::INVITE_PATH)
                    .wrap(actix_web::middleware::from_fn(throttle::page_guard))
                    .wrap(actix_web::middleware::from_fn(middleware::observe))
                    .service(resource("/{token}", "GET").route(web::get().to(page::show)))
                    .service(resource("/{token}/accept", "POST").route(web::post().to(page::accept)))
                    .service(resource("/{token}/decline", "POST").route(web::post().to(page::decline)))
                    .default_service(web::to(not_found)),
            )
            .service(
                // Opting out (the page's form and the emails' RFC 8058
                // one-click POST): keyed by the link token, so throttled too.
                web::scope(rsvp_app::UNSUBSCRIBE_PATH)
                    .wrap(actix_web::middleware::from_fn(throttle::page_guard))
                    .wrap(actix_web::middleware::from_fn(middleware::observe))
                    .service(
                        resource("/{token}", "GET, POST")
                            .route(web::get().to(page::opt_out_form))
                            .route(web::post().to(page::opt_out)),
                    )
                    .default_service(web::to(not_found)),
            )
            .service(
                web::scope("/v1")
                    // Every route here checks an API key, the operator token or a
                    // link token: failures are throttled (inside `observe`, so a
                    // 429 is logged and counted like any answer).
                    .wrap(actix_web::middleware::from_fn(throttle::guard))
                    .wrap(actix_web::middleware::from_fn(middleware::observe))
                    .service(resource("/invitations", "POST").route(keyed(web::post().to(api::create))))
                    .service(resource("/invitations/bulk", "POST").route(keyed(web::post().to(api::bulk))))
                    .service(resource("/invitations/sent", "GET").route(web::get().to(api::list_sent)))
                    .service(resource("/invitations/received", "GET").route(web::get().to(api::list_received)))
                    .service(
                        resource("/invitations/{id}", "GET, PATCH")
                            .route(web::get().to(api::get))
                            .route(keyed(web::patch().to(api::patch))),
                    )
                    .service(resource("/invitations/{id}/resend", "POST").route(keyed(web::post().to(api::resend))))
                    .service(resource("/invitation-links/{token}", "GET").route(web::get().to(links::preview)))
                    .service(
                        resource("/invitation-links/{token}/accept", "POST")
                            .route(keyed(web::post().to(links::accept))),
                    )
                    .service(
                        resource("/invitation-links/{token}/decline", "POST")
                            .route(keyed(web::post().to(links::decline))),
                    )
                    .service(resource("/connections", "GET").route(web::get().to(api::connections)))
                    .service(resource("/events", "GET").route(web::get().to(api::events)))
                    .service(resource("/me", "GET").route(web::get().to(lifecycle::me)))
                    .service(
                        resource("/admin/businesses", "GET, POST")
                            .route(web::get().to(lifecycle::list_businesses))
                            .route(keyed(web::post().to(admin::create_business))),
                    )
                    .service(
                        resource("/admin/businesses/{id}", "GET, PATCH")
                            .route(web::get().to(lifecycle::get_business))
                            .route(keyed(web::patch().to(lifecycle::update_business))),
                    )
                    .service(
                        resource("/admin/businesses/{id}/users", "GET, POST")
                            .route(web::get().to(lifecycle::list_users))
                            .route(keyed(web::post().to(admin::add_user))),
                    )
                    .service(
                        resource("/admin/users/{id}", "PATCH").route(keyed(web::patch().to(lifecycle::update_user))),
                    )
                    .service(
                        resource("/admin/users/{id}/api-keys", "GET, POST")
                            .route(web::get().to(lifecycle::list_api_keys))
                            .route(keyed(web::post().to(lifecycle::create_api_key))),
                    )
                    .service(
                        resource("/admin/api-keys/{id}", "DELETE").route(web::delete().to(lifecycle::revoke_api_key)),
                    )
                    .service(resource("/admin/erasures", "POST").route(keyed(web::post().to(lifecycle::erase))))
                    .service(resource("/admin/suppressions", "GET").route(web::get().to(admin::list_suppressions)))
                    .service(
                        resource("/admin/suppressions/{id}", "DELETE")
                            .route(web::delete().to(admin::delete_suppression)),
                    )
                    .service(
                        resource("/webhook-endpoints", "GET, POST")
                            .route(web::get().to(webhooks::list))
                            .route(keyed(web::post().to(webhooks::create))),
                    )
                    .service(
                        resource("/webhook-endpoints/{id}", "GET, PATCH, DELETE")
                            .route(web::get().to(webhooks::get))
                            .route(keyed(web::patch().to(webhooks::patch)))
                            .route(web::delete().to(webhooks::delete)),
                    )
                    .service(
                        resource("/webhook-endpoints/{id}/rotate-secret", "POST")
                            .route(keyed(web::post().to(webhooks::rotate))),
                    )
                    .service(
                        resource("/webhook-endpoints/{id}/deliveries", "GET")
                            .route(web::get().to(webhooks::deliveries)),
                    )
                    .service(
                        resource("/webhook-endpoints/{id}/redeliver", "POST")
                            .route(keyed(web::post().to(webhooks::redeliver))),
                    )
                    .default_service(web::to(not_found)),
            );
    }
}

// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
