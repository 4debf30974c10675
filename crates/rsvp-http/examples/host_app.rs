//! Embedding the whole service in a host's actix-web app: rsvp's API, the
//! invitee page and its workers under `/network`, beside the host's own
//! routes, on the in-memory store (swap in `rsvp_store_diesel::DieselStore`
//! for SQLite or PostgreSQL).
//!
//! ```text
//! cargo run -p rsvp-http --example host_app        # PORT=8080 by default
//! ```
//!
//! Then, with the API key it prints:
//!
//! ```text
//! curl -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
//!      -d '{"email":"ivy@globex.example"}' http://127.0.0.1:8080/network/v1/invitations
//! ```
//!
//! and open the link of the `.eml` written under the printed outbox folder.

use std::sync::Arc;

use actix_web::{App as ActixApp, HttpResponse, HttpServer, web};
use rsvp_app::{App, DispatchSettings, EmailDispatcher, NewBusinessInput, NewUserInput, Ports, Secret, Settings};
use rsvp_http::{HttpConfig, HttpState};
use rsvp_memory::InMemoryStore;
use rsvp_runtime::Workers;
use rsvp_system::{RandomSecrets, SystemClock, TokioTimer, UuidV7Ids};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(8080);
    let bind = format!("127.0.0.1:{port}");
    // What rsvp is mounted under is part of its public URL: the links in emails use it.
    let public_url = format!("http://{bind}/network");
    let ports = Ports {
        store: Arc::new(InMemoryStore::new()),
        clock: Arc::new(SystemClock),
        ids: Arc::new(UuidV7Ids),
        secrets: Arc::new(RandomSecrets),
    };
    let app = App::new(ports.clone(), Settings::default());

    // A tenant to try it with (the operator API under /network/v1/admin does the same).
    let acme = app
        .provision_business(NewBusinessInput {
            name: Some("Acme".to_owned()),
            user: NewUserInput {
                email: Some("ann@acme.example".to_owned()),
                first_name: Some("Ann".to_owned()),
                last_name: None,
                external_id: None,
            },
            external_id: None,
        })
        .await
        .map_err(std::io::Error::other)?;
    println!("Acme's API key: {}", acme.api_key.expose());

    // Emails as .eml files; use rsvp_mail::SmtpMailer or HttpMailer in earnest.
    let outbox = std::env::temp_dir().join("rsvp-host-app-outbox");
    let mailer =
        rsvp_mail::LogMailer::new(&outbox, "Invitations <invitations@host.example>").map_err(std::io::Error::other)?;
    println!("emails go to {}", outbox.display());
    let dispatcher = EmailDispatcher::new(
        ports,
        Arc::new(rsvp_mail::TemplateRenderer::new()),
        Arc::new(mailer),
        DispatchSettings::new(public_url.clone()),
    )
    .with_timer(Arc::new(TokioTimer));

    let mut config = HttpConfig::new(public_url.clone());
    config.admin_token = Some(Secret::new("host-operator-token"));
    let state = HttpState::new(app.clone(), config);
    let workers = Workers::new(app)
        .with_emails(dispatcher.with_observer(state.metrics.clone()))
        .start();

    println!("the host on http://{bind}/, rsvp under {public_url}/");
    let served = HttpServer::new(move || {
        ActixApp::new()
            .route(
                "/",
                web::get().to(|| async { HttpResponse::Ok().body("the host's home page") }),
            )
            .route("/health", web::get().to(|| async { HttpResponse::Ok().body("ok") }))
            .service(
                web::scope("/network")
                    .configure(rsvp_http::configure(state.clone()))
                    // rsvp's problem+json 404 for unknown paths under /network only.
                    .default_service(rsvp_http::default_service()),
            )
    })
    .bind(&bind)?
    .run()
    .await;
    // Each worker finishes its round.
    workers.stop().await;
    served
}
