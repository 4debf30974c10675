//! The invitee's page over HTTP (the browser test drives the same page in
//! Chromium): states, languages, escaping, form posts, security headers.

mod common;

use actix_web::http::{Method, StatusCode, header};
use actix_web::test;
use common::Api;
use serde_json::json;
use time::Duration;

/// An invitation from Acme created without email; returns (api, acme key, token, invitation id).
async fn invited(message: &str) -> (Api, String, String, String) {
    let api = Api::memory().await;
    let (_, acme) = api.business("Acme & Söhne", "ann@acme.test").await;
    let created = api
        .invite(
            &acme,
            json!({"email": "bob@globex.test", "send_email": false, "message": message}),
        )
        .await;
    let token = created.body["accept_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let id = created.body["id"].as_str().unwrap().to_owned();
    (api, acme, token, id)
}

async fn page(api: &Api, path: &str, language: &str) -> common::Reply {
    api.raw(
        test::TestRequest::get()
            .uri(path)
            .insert_header((header::ACCEPT_LANGUAGE, language)),
    )
    .await
}

async fn post_form(api: &Api, path: &str, form: &str) -> common::Reply {
    api.raw(
        test::TestRequest::post()
            .uri(path)
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .set_payload(form.to_owned()),
    )
    .await
}

#[actix_web::test]
async fn the_page_shows_the_sender_and_message_escaped_with_accept_and_decline_forms() {
    let (api, _, token, _) = invited("<script>alert(1)</script> \"quoted\"").await;
    let reply = page(&api, &format!("/invite/{token}"), "en-GB,en;q=0.9").await;
    assert_eq!(reply.status, StatusCode::OK);
    let html = &reply.text;
    assert!(
        html.contains("Acme &amp; Söhne invites your business to connect"),
        "{html}"
    );
    assert!(html.contains("&lt;script&gt;alert(1)"), "the message is escaped");
    assert!(!html.contains("<script>"), "no script reaches the page");
    assert!(html.contains(&format!("action=\"/invite/{token}/accept\"")));
    assert!(html.contains(&format!("action=\"/invite/{token}/decline\"")));
    assert!(
        html.contains("name=\"business_name\""),
        "a new invitee names its business"
    );
    assert!(html.contains("width=device-width"), "readable on a phone");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external assets"
    );
    assert_eq!(reply.headers.get(header::REFERRER_POLICY).unwrap(), "no-referrer");
    assert_eq!(reply.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    assert!(
        reply
            .headers
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap()
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
}

#[actix_web::test]
async fn the_page_speaks_german_when_the_browser_prefers_it() {
    let (api, _, token, _) = invited("Hallo").await;
    let reply = page(&api, &format!("/invite/{token}"), "de-DE,de;q=0.9,en;q=0.5").await;
    assert!(reply.text.contains("lang=\"de\""));
    assert!(
        reply.text.contains("Annehmen") && reply.text.contains("Ablehnen"),
        "{}",
        reply.text
    );
    assert!(reply.text.contains("Name Ihres Unternehmens"));
    let long_name = "x".repeat(201);
    let refused = api
        .raw(
            test::TestRequest::post()
                .uri(&format!("/invite/{token}/accept"))
                .insert_header((header::ACCEPT_LANGUAGE, "de"))
                .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
                .set_payload(format!("business_name={long_name}")),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.text.contains("Bitte verwenden Sie höchstens 200 Zeichen."),
        "{}",
        refused.text
    );
}

#[actix_web::test]
async fn accepting_by_form_creates_the_business_and_connects_it() {
    let (api, acme, token, id) = invited("Hi").await;
    let missing = post_form(
        &api,
        &format!("/invite/{token}/accept"),
        "business_name=&first_name=Bob",
    )
    .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing.text.contains("role=\"alert\""), "the form says what is missing");
    assert!(
        missing.text.contains("Please enter your business&#x27;s name."),
        "{}",
        missing.text
    );
    assert!(missing.text.contains("value=\"Bob\""), "and keeps what was typed");
    let accepted = post_form(
        &api,
        &format!("/invite/{token}/accept"),
        "business_name=Globex+%26+Co&first_name=Bob",
    )
    .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
    assert!(accepted.text.contains("Invitation accepted"));
    let invitation = api
        .call(Method::GET, &format!("/v1/invitations/{id}"), Some(&acme), None)
        .await;
    assert_eq!(invitation.body["status"], "accepted");
    let connections = api.call(Method::GET, "/v1/connections", Some(&acme), None).await;
    assert_eq!(connections.body["data"].as_array().unwrap().len(), 1);
    let again = page(&api, &format!("/invite/{token}"), "en").await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.text.contains("already accepted"));
}

#[actix_web::test]
async fn declining_by_form_rejects_the_invitation() {
    let (api, acme, token, id) = invited("Hi").await;
    let declined = post_form(&api, &format!("/invite/{token}/decline"), "").await;
    assert_eq!(declined.status, StatusCode::OK);
    assert!(declined.text.contains("Invitation declined"));
    let invitation = api
        .call(Method::GET, &format!("/v1/invitations/{id}"), Some(&acme), None)
        .await;
    assert_eq!(invitation.body["status"], "rejected");
    let accept_after = post_form(&api, &format!("/invite/{token}/accept"), "business_name=X").await;
    assert_eq!(accept_after.status, StatusCode::CONFLICT);
    assert!(accept_after.text.contains("already declined"));
}

#[actix_web::test]
async fn expired_cancelled_and_unknown_links_get_clear_pages() {
    let (api, acme, token, id) = invited("Hi").await;
    api.clock.advance(Duration::days(15));
    let expired = page(&api, &format!("/invite/{token}"), "en").await;
    assert_eq!(expired.status, StatusCode::GONE);
    assert!(expired.text.contains("This invitation has expired"));

    let (api, acme2, token2, id2) = invited("Hi").await;
    let _ = (&acme, &id);
    let cancelled = api
        .call(
            Method::PATCH,
            &format!("/v1/invitations/{id2}"),
            Some(&acme2),
            Some(json!({"status": "cancelled"})),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK);
    let page_after = page(&api, &format!("/invite/{token2}"), "en").await;
    assert_eq!(page_after.status, StatusCode::GONE);
    assert!(page_after.text.contains("withdrawn"));

    let unknown = page(&api, "/invite/not-a-real-token", "de").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.text.contains("Dieser Link ist ungültig"));
}
