//! # rsvp-http
//!
//! rsvp's JSON HTTP API on actix-web, as routes you can mount into your own
//! `App`:
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! # async fn run(app: rsvp_app::App) -> std::io::Result<()> {
//! let state = rsvp_http::HttpState::new(app, rsvp_http::HttpConfig::new("https://rsvp.example.com"));
//! HttpServer::new(move || App::new().configure(rsvp_http::configure(state.clone())))
//!     .bind("127.0.0.1:8080")?
//!     .run()
//!     .await
//! # }
//! ```
//!
//! Every error — ours and the framework's (malformed JSON, wrong media type,
//! body too large, unknown route, wrong method, bad path or query) — is an
//! RFC 9457 `application/problem+json` document ([`Problem`]); no client
//! input produces a 5xx. Bodies are read by [`body::read_json`] rather than
//! actix's `Json` extractor so that each of those cases is ours to answer.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod admin;
mod api;
pub mod body;
pub mod cursor;
pub mod dto;
mod links;
pub mod metrics;
mod middleware;
pub mod openapi;
mod ops;
mod page;
pub mod params;
pub mod problem;
mod state;

use actix_web::{HttpResponse, web};

pub use metrics::Metrics;
pub use problem::Problem;
pub use state::{Caller, HttpConfig, HttpState, Operator};

async fn not_found() -> Result<HttpResponse, Problem> {
    Err(Problem::not_found())
}

async fn method_not_allowed() -> Result<HttpResponse, Problem> {
    Err(Problem::method_not_allowed())
}

/// A resource whose other methods answer 405 as a problem.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// Registers every route, the state, and a problem-document 404 for unknown
/// routes (it becomes the `App`'s default service).
pub fn configure(state: HttpState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        let data = web::Data::new(state);
        cfg.app_data(data.clone())
            .service(resource("/healthz").route(web::get().to(ops::healthz)))
            .service(resource("/readyz").route(web::get().to(ops::readyz)))
            .service(resource("/metrics").route(web::get().to(ops::metrics)))
            .service(resource("/openapi.json").route(web::get().to(openapi::openapi_json)))
            .service(resource("/docs").route(web::get().to(openapi::reference_page)))
            .service(resource("/invite/{token}").route(web::get().to(page::show)))
            .service(resource("/invite/{token}/accept").route(web::post().to(page::accept)))
            .service(resource("/invite/{token}/decline").route(web::post().to(page::decline)))
            .service(
                web::scope("/v1")
                    .wrap(actix_web::middleware::from_fn(middleware::observe))
                    .service(resource("/invitations").route(web::post().to(api::create)))
                    .service(resource("/invitations/bulk").route(web::post().to(api::bulk)))
                    .service(resource("/invitations/sent").route(web::get().to(api::list_sent)))
                    .service(resource("/invitations/received").route(web::get().to(api::list_received)))
                    .service(
                        resource("/invitations/{id}")
                            .route(web::get().to(api::get))
                            .route(web::patch().to(api::patch)),
                    )
                    .service(resource("/invitations/{id}/resend").route(web::post().to(api::resend)))
                    .service(resource("/invitation-links/{token}").route(web::get().to(links::preview)))
                    .service(resource("/invitation-links/{token}/accept").route(web::post().to(links::accept)))
                    .service(resource("/invitation-links/{token}/decline").route(web::post().to(links::decline)))
                    .service(resource("/connections").route(web::get().to(api::connections)))
                    .service(resource("/events").route(web::get().to(api::events)))
                    .service(resource("/admin/businesses").route(web::post().to(admin::create_business)))
                    .service(resource("/admin/businesses/{id}/users").route(web::post().to(admin::add_user)))
                    .default_service(web::to(not_found)),
            )
            .default_service(web::to(not_found));
    }
}
