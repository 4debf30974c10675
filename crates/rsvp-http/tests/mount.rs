//! rsvp mounted under `/network` in a host's actix-web `App`, beside the
//! host's own routes: the whole walk of an invitee (email, page, accept) and
//! what must keep working under a prefix (unknown paths, throttling,
//! idempotency, metrics).

use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::{App, HttpResponse, test, web};
use async_trait::async_trait;
use rsvp_app::{
    DispatchSettings, EmailDispatcher, MailError, Mailer, OutgoingEmail, Ports, Secret, SentEmail, Settings,
};
use rsvp_http::{HttpConfig, HttpState};
use rsvp_memory::{InMemoryStore, ManualClock};
use rsvp_runtime::{WorkerSettings, Workers};
use rsvp_system::{RandomSecrets, UuidV7Ids};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use url::Url;

const ADMIN: &str = "host-admin-token";
const PUBLIC_URL: &str = "https://host.test/network";

/// Hands every email to the test.
struct Recording(mpsc::UnboundedSender<OutgoingEmail>);

#[async_trait]
impl Mailer for Recording {
    async fn send(&self, email: &OutgoingEmail) -> Result<SentEmail, MailError> {
        let _ = self.0.send(email.clone());
        Ok(SentEmail::default())
    }
}

struct Host {
    ports: Ports,
    state: HttpState,
}

fn host(adjust: impl FnOnce(&mut HttpConfig)) -> Host {
    let clock = Arc::new(ManualClock::new(
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
    ));
    let ports = Ports {
        store: Arc::new(InMemoryStore::new()),
        clock,
        ids: Arc::new(UuidV7Ids),
        secrets: Arc::new(RandomSecrets),
    };
    let app = rsvp_app::App::new(ports.clone(), Settings::default());
    // The public URL carries the prefix: links in emails point under it.
    let mut config = HttpConfig::new(PUBLIC_URL);
    config.admin_token = Some(Secret::new(ADMIN));
    adjust(&mut config);
    Host {
        ports,
        state: HttpState::new(app, config),
    }
}

/// The host's app: its own `/` and `/health`, its own 404, and rsvp under `/network`.
async fn service(
    state: &HttpState,
) -> impl Service<actix_http::Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error> {
    test::init_service(
        App::new()
            .route(
                "/",
                web::get().to(|| async { HttpResponse::Ok().body("the host's home") }),
            )
            .route(
                "/health",
                web::get().to(|| async { HttpResponse::Ok().body("host ok") }),
            )
            .service(
                web::scope("/network")
                    .configure(rsvp_http::configure(state.clone()))
                    .default_service(rsvp_http::default_service()),
            )
            .default_service(web::to(|| async {
                HttpResponse::NotFound()
                    .content_type("text/plain")
                    .body("the host's 404")
            })),
    )
    .await
}

struct Reply {
    status: StatusCode,
    headers: header::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

async fn call<S, B>(service: &S, request: test::TestRequest) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let response = test::call_service(service, request.to_request()).await;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = test::read_body(response).await;
    Reply {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn bearer(key: &str) -> (header::HeaderName, String) {
    (header::AUTHORIZATION, format!("Bearer {key}"))
}

/// The absolute path a form's `action` leads to from the page at `page_path`
/// (as a browser resolves it).
fn form_target(html: &str, form_id: Option<&str>, action_of: &str, page_path: &str) -> String {
    let tag = html
        .split("<form")
        .skip(1)
        .map(|rest| &rest[..rest.find('>').unwrap()])
        .find(|tag| form_id.is_none_or(|id| tag.contains(&format!("id=\"{id}\""))) && tag.contains(action_of))
        .unwrap_or_else(|| panic!("no form with {action_of} in {html}"));
    let action = tag.split("action=\"").nth(1).unwrap().split('"').next().unwrap();
    let base = Url::parse(&format!("https://host.test{page_path}")).unwrap();
    base.join(action).unwrap().path().to_owned()
}

async fn business<S, B>(service: &S, name: &str, email: &str) -> String
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let reply = call(
        service,
        test::TestRequest::post()
            .uri("/network/v1/admin/businesses")
            .insert_header(bearer(ADMIN))
            .set_json(json!({"name": name, "user": {"email": email, "first_name": "Ann", "last_name": "Lee"}})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.json()["api_key"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn an_invitee_answers_by_email_link_and_page_under_the_hosts_prefix_beside_the_hosts_routes() {
    let host = host(|_| {});
    let (sent, mut inbox) = mpsc::unbounded_channel();
    let dispatcher = EmailDispatcher::new(
        host.ports.clone(),
        Arc::new(rsvp_mail::TemplateRenderer::new()),
        Arc::new(Recording(sent)),
        DispatchSettings::new(PUBLIC_URL),
    );
    let workers = Workers::new(host.state.app.clone())
        .with_emails(dispatcher)
        .with_settings(WorkerSettings {
            dispatch_idle: Duration::from_millis(20),
            ..WorkerSettings::default()
        })
        .start();
    let service = service(&host.state).await;

    let home = call(&service, test::TestRequest::get().uri("/")).await;
    assert_eq!((home.status, home.text.as_str()), (StatusCode::OK, "the host's home"));
    let health = call(&service, test::TestRequest::get().uri("/health")).await;
    assert_eq!((health.status, health.text.as_str()), (StatusCode::OK, "host ok"));

    let acme = business(&service, "Acme", "ann@acme.test").await;
    let created = call(
        &service,
        test::TestRequest::post()
            .uri("/network/v1/invitations")
            .insert_header(bearer(&acme))
            .set_json(json!({"email": "ivy@globex.test"})),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.headers.get(header::LOCATION).unwrap(),
        &format!("/network/v1/invitations/{id}"),
        "Location keeps the prefix"
    );

    // The email, sent by the workers the host started.
    let email = tokio::time::timeout(Duration::from_secs(10), inbox.recv())
        .await
        .expect("the email worker sends the queued email")
        .unwrap();
    let text = &email.content.text;
    let link = text
        .split_whitespace()
        .find(|word| word.starts_with(PUBLIC_URL))
        .unwrap_or_else(|| panic!("no link under the public URL in {text}"));
    let link = Url::parse(link).unwrap();
    assert!(link.path().starts_with("/network/invite/"), "{link}");
    let unsubscribe = email.list_unsubscribe.as_deref().unwrap();
    assert!(
        unsubscribe.starts_with("https://host.test/network/unsubscribe/"),
        "{unsubscribe}"
    );

    // The page, and its forms, under the prefix.
    let page_path = link.path().to_owned();
    let token = page_path.rsplit('/').next().unwrap().to_owned();
    let page = call(&service, test::TestRequest::get().uri(&page_path)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.content_type().starts_with("text/html"));
    assert_eq!(
        form_target(&page.text, Some("accept-form"), "/accept", &page_path),
        format!("/network/invite/{token}/accept")
    );
    assert_eq!(
        form_target(&page.text, None, "/decline", &page_path),
        format!("/network/invite/{token}/decline")
    );
    assert_eq!(
        form_target(&page.text, Some("optout-form"), "unsubscribe/", &page_path),
        format!("/network/unsubscribe/{token}")
    );

    // A refused form comes back from /accept: its forms still lead home.
    let accept_path = form_target(&page.text, Some("accept-form"), "/accept", &page_path);
    let refused = call(
        &service,
        test::TestRequest::post()
            .uri(&accept_path)
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .set_payload("business_name="),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
    assert_eq!(
        form_target(&refused.text, Some("accept-form"), "/accept", &accept_path),
        accept_path
    );
    assert_eq!(
        form_target(&refused.text, Some("optout-form"), "unsubscribe/", &accept_path),
        format!("/network/unsubscribe/{token}")
    );

    let accepted = call(
        &service,
        test::TestRequest::post()
            .uri(&accept_path)
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .set_payload("business_name=Globex&first_name=Ivy&last_name=Ng"),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
    assert!(accepted.text.contains("Invitation accepted"), "{}", accepted.text);

    let connections = call(
        &service,
        test::TestRequest::get()
            .uri("/network/v1/connections")
            .insert_header(bearer(&acme)),
    )
    .await;
    assert_eq!(connections.status, StatusCode::OK, "{}", connections.text);
    let connections = connections.json();
    assert_eq!(connections["data"].as_array().unwrap().len(), 1, "{connections}");
    let invitation = call(
        &service,
        test::TestRequest::get()
            .uri(&format!("/network/v1/invitations/{id}"))
            .insert_header(bearer(&acme)),
    )
    .await;
    assert_eq!(invitation.json()["status"], "accepted");

    // Logs and metrics name the route template, prefix included, never the token.
    let metrics = call(&service, test::TestRequest::get().uri("/network/metrics")).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics
            .text
            .contains("rsvp_http_requests_total{route=\"/network/invite/{token}\",method=\"GET\",status=\"200\"} 1"),
        "{}",
        metrics.text
    );
    assert!(
        metrics
            .text
            .contains("route=\"/network/invite/{token}/accept\",method=\"POST\",status=\"422\""),
        "{}",
        metrics.text
    );
    assert!(!metrics.text.contains(&token), "no token in a label");
    workers.stop().await;
}

#[actix_web::test]
async fn unknown_paths_under_the_prefix_are_rsvps_problems_and_the_rest_the_hosts_business() {
    let host = host(|_| {});
    let service = service(&host.state).await;
    for path in ["/network/nope", "/network/v1/nope", "/network/invite/a/b/c"] {
        let reply = call(&service, test::TestRequest::get().uri(path)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        if path == "/network/invite/a/b/c" {
            continue;
        }
        assert_eq!(reply.content_type(), "application/problem+json", "{path}");
        assert_eq!(reply.json()["code"], "not_found", "{path}");
    }
    let wrong_method = call(
        &service,
        test::TestRequest::delete().uri("/network/v1/invitations/sent"),
    )
    .await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.content_type(), "application/problem+json");
    for path in ["/nope", "/v1/invitations/sent", "/invite/abc"] {
        let reply = call(&service, test::TestRequest::get().uri(path)).await;
        assert_eq!(
            (reply.status, reply.text.as_str()),
            (StatusCode::NOT_FOUND, "the host's 404"),
            "{path} is not rsvp's"
        );
    }
}

#[actix_web::test]
async fn failed_link_lookups_and_keys_under_the_prefix_are_throttled_like_at_the_root() {
    let first = host(|config| config.failed_attempts_per_minute = 2);
    let app = service(&first.state).await;
    // Two unknown tokens on the page spend the budget; the third try is refused, in HTML.
    for _ in 0..2 {
        let reply = call(&app, test::TestRequest::get().uri("/network/invite/no-such-token")).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
    }
    let page = call(&app, test::TestRequest::get().uri("/network/invite/another")).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.content_type().starts_with("text/html"), "{}", page.content_type());
    assert!(page.headers.contains_key(header::RETRY_AFTER));
    let api = call(&app, test::TestRequest::get().uri("/network/v1/invitation-links/x")).await;
    assert_eq!(api.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        api.content_type(),
        "application/problem+json",
        "the API refuses in JSON"
    );

    // On a fresh meter: the API's link lookups count too.
    let second = host(|config| config.failed_attempts_per_minute = 2);
    let service = service(&second.state).await;
    for _ in 0..2 {
        let reply = call(
            &service,
            test::TestRequest::get().uri("/network/v1/invitation-links/nope"),
        )
        .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
    }
    let refused = call(
        &service,
        test::TestRequest::get()
            .uri("/network/v1/invitations/sent")
            .insert_header(bearer("a-guess")),
    )
    .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{}", refused.text);
}

#[actix_web::test]
async fn a_retried_link_answer_under_the_prefix_is_replayed_by_its_idempotency_key() {
    let host = host(|_| {});
    let service = service(&host.state).await;
    let acme = business(&service, "Acme", "ann@acme.test").await;
    let created = call(
        &service,
        test::TestRequest::post()
            .uri("/network/v1/invitations")
            .insert_header(bearer(&acme))
            .set_json(json!({"email": "ivy@globex.test", "send_email": false})),
    )
    .await;
    let accept_url = created.json()["accept_url"].as_str().unwrap().to_owned();
    let token = accept_url
        .strip_prefix("https://host.test/network/invite/")
        .unwrap_or_else(|| panic!("accept_url under the public URL: {accept_url}"))
        .to_owned();
    let decline = || {
        test::TestRequest::post()
            .uri(&format!("/network/v1/invitation-links/{token}/decline"))
            .insert_header(("Idempotency-Key", "decline-once"))
            .set_json(json!({}))
    };
    let first = call(&service, decline()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let again = call(&service, decline()).await;
    assert_eq!(again.status, StatusCode::OK, "a replay, not a 409: {}", again.text);
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again.text, first.text);
}
