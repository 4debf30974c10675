//! The join link page over HTTP (`GET /join/{token}`): what it shows of an
//! active link, "Continue" to the operator's URL with the token, the pages
//! of a link that cannot be used, languages and security headers. Looking
//! never uses the link.

mod common;

use actix_web::http::{Method, StatusCode, header};
use actix_web::test;
use common::Api;
use serde_json::json;
use time::Duration;

/// A join link of "Acme & Söhne"; returns (acme key, link id, token).
async fn join_link(api: &Api, body: serde_json::Value) -> (String, String, String) {
    let (_, acme) = api.business("Acme & Söhne", "ann@acme.test").await;
    let created = api.call(Method::POST, "/v1/join-links", Some(&acme), Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let token = created.body["token"].as_str().unwrap().to_owned();
    (acme, id, token)
}

async fn page(api: &Api, path: &str, language: &str) -> common::Reply {
    api.raw(
        test::TestRequest::get()
            .uri(path)
            .insert_header((header::ACCEPT_LANGUAGE, language)),
    )
    .await
}

fn with_continue_url() -> impl FnOnce(&mut rsvp_http::HttpConfig, &mut rsvp_app::Settings) {
    |config, _| {
        config.join_continue_url =
            Some(rsvp_domain::RedirectUrl::parse("https://app.acme.example/join?from=page").unwrap());
    }
}

#[actix_web::test]
async fn an_active_link_shows_its_business_roles_and_approval_escaped_and_continues_with_the_token() {
    let api = Api::memory_with(with_continue_url()).await;
    let (acme, id, token) = join_link(
        &api,
        json!({"max_uses": 2, "roles": ["supplier"], "requires_approval": true, "note": "secret note"}),
    )
    .await;
    let reply = page(&api, &format!("/join/{token}"), "en-GB,en;q=0.9").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let html = &reply.text;
    assert!(
        html.contains("Acme &amp; Söhne invites businesses to connect"),
        "{html}"
    );
    assert!(html.contains("Roles offered: supplier"), "{html}");
    assert!(html.contains("approves each business"), "{html}");
    assert!(!html.contains("secret note"), "the owner's note stays the owner's");
    assert!(
        html.contains(&format!(
            "href=\"https://app.acme.example/join?from=page&amp;token={token}\""
        )),
        "{html}"
    );
    assert_eq!(reply.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    assert_eq!(reply.headers.get(header::REFERRER_POLICY).unwrap(), "no-referrer");
    // Looking never uses the link.
    let link = api
        .call(Method::GET, &format!("/v1/join-links/{id}"), Some(&acme), None)
        .await;
    assert_eq!(link.body["uses"], 0);
}

#[actix_web::test]
async fn without_a_continue_url_the_page_says_to_hand_the_link_on_and_speaks_german() {
    let api = Api::memory().await;
    let (_, _, token) = join_link(&api, json!({})).await;
    let english = page(&api, &format!("/join/{token}"), "en").await;
    assert_eq!(english.status, StatusCode::OK);
    assert!(english.text.contains("give this link to"), "{}", english.text);
    assert!(!english.text.contains("id=\"continue\""), "no Continue without a URL");
    assert!(english.text.contains("connected as soon as it uses the link"));
    let german = page(&api, &format!("/join/{token}"), "de-DE,de;q=0.9").await;
    assert!(german.text.contains("lang=\"de\""));
    assert!(
        german.text.contains("lädt Unternehmen zur Vernetzung"),
        "{}",
        german.text
    );
}

#[actix_web::test]
async fn a_used_up_expired_or_revoked_link_answers_410_and_an_unknown_one_404() {
    let api = Api::memory().await;
    let (acme, id, token) = join_link(&api, json!({"max_uses": 1, "expires_in_days": 1})).await;
    let (_, globex) = api.business("Globex", "bob@globex.test").await;
    let redeemed = api
        .call(Method::POST, &format!("/v1/join/{token}"), Some(&globex), None)
        .await;
    assert_eq!(redeemed.status, StatusCode::CREATED, "{}", redeemed.text);
    let used_up = page(&api, &format!("/join/{token}"), "en").await;
    assert_eq!(used_up.status, StatusCode::GONE);
    assert!(used_up.text.contains("used up"), "{}", used_up.text);

    api.clock.advance(Duration::days(2));
    let expired = page(&api, &format!("/join/{token}"), "en").await;
    assert_eq!(expired.status, StatusCode::GONE);
    assert!(expired.text.contains("has expired"), "{}", expired.text);

    let revoked = api
        .call(Method::DELETE, &format!("/v1/join-links/{id}"), Some(&acme), None)
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let withdrawn = page(&api, &format!("/join/{token}"), "en").await;
    assert_eq!(withdrawn.status, StatusCode::GONE);
    assert!(withdrawn.text.contains("withdrawn"), "{}", withdrawn.text);

    let unknown = page(&api, "/join/not-a-token", "en").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn the_link_of_a_suspended_business_answers_410_on_the_page() {
    let api = Api::memory().await;
    let (acme_id, acme) = api.business("Acme", "ann@acme.test").await;
    let created = api
        .call(Method::POST, "/v1/join-links", Some(&acme), Some(json!({})))
        .await;
    let token = created.body["token"].as_str().unwrap().to_owned();
    let suspended = api
        .call(
            Method::PATCH,
            &format!("/v1/admin/businesses/{acme_id}"),
            Some(common::ADMIN),
            Some(json!({"suspended": true})),
        )
        .await;
    assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.text);
    let reply = page(&api, &format!("/join/{token}"), "en").await;
    assert_eq!(reply.status, StatusCode::GONE);
    assert!(!reply.text.contains("Acme"), "a suspended business is not named");
}
