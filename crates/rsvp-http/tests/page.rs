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
    assert!(html.contains(&format!("action=\"../invite/{token}/accept\"")));
    assert!(html.contains(&format!("action=\"../invite/{token}/decline\"")));
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

/// An API allowing redirects to `https://app.acme.test`, branded when `branded`.
async fn redirecting(branded: bool) -> Api {
    Api::memory_with(|config, settings| {
        settings.redirect_origins = vec!["https://app.acme.test".to_owned()];
        if branded {
            config.branding =
                rsvp_app::Branding::new("Acme Network", Some("#0f766e"), Some("https://cdn.acme.test/logo.png"))
                    .unwrap();
        }
    })
    .await
}

#[actix_web::test]
async fn the_page_names_the_inviting_person_business_address_roles_and_what_accepting_does() {
    let api = redirecting(false).await;
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let created = api
        .invite(
            &acme,
            json!({"email": "Bob@Globex.test", "send_email": false, "roles": ["supplier", "orders:read"]}),
        )
        .await;
    let token = created.body["accept_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let html = page(&api, &format!("/invite/{token}"), "en").await.text;
    assert!(html.contains("Ann Lee at Acme invited Bob@Globex.test"), "{html}");
    assert!(html.contains("Sent to Bob@Globex.test"), "{html}");
    assert!(html.contains("Roles offered: supplier, orders:read"), "{html}");
    assert!(html.contains("What accepting does"), "{html}");
    assert!(html.contains("Acme will share its data with your business."), "{html}");
    assert!(
        html.contains("are connected on rsvp."),
        "the default product name: {html}"
    );
    assert!(html.contains(&format!("action=\"../unsubscribe/{token}\"")), "{html}");
    assert!(html.contains("value=\"business\"") && html.contains("value=\"everyone\""));
    let german = page(&api, &format!("/invite/{token}"), "de").await.text;
    assert!(
        german.contains("Ann Lee von Acme hat Bob@Globex.test eingeladen"),
        "{german}"
    );
    assert!(german.contains("Angebotene Rollen: supplier, orders:read"), "{german}");
}

#[actix_web::test]
async fn after_an_answer_the_page_offers_continue_to_the_redirect_url_with_the_outcome_merged_into_its_query() {
    let api = redirecting(false).await;
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let mut tokens = Vec::new();
    for email in ["a@globex.test", "b@globex.test"] {
        let created = api
            .invite(
                &acme,
                json!({"email": email, "send_email": false,
                       "redirect_url": "https://app.acme.test/next?step=2&status=old#done"}),
            )
            .await;
        let token = created.body["accept_url"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        tokens.push((created.body["id"].as_str().unwrap().to_owned(), token));
    }
    let (accepted_id, accepted_token) = &tokens[0];
    let accepted = post_form(
        &api,
        &format!("/invite/{accepted_token}/accept"),
        "business_name=Globex",
    )
    .await;
    assert_eq!(accepted.status, StatusCode::OK);
    let expected =
        format!("href=\"https://app.acme.test/next?step=2&amp;invitation_id={accepted_id}&amp;status=accepted#done\"");
    assert!(accepted.text.contains(&expected), "{}", accepted.text);
    assert!(accepted.text.contains(">Continue<"), "{}", accepted.text);
    // Reloading the page of an answered invitation still offers it.
    let again = page(&api, &format!("/invite/{accepted_token}"), "de").await;
    assert!(
        again.text.contains(&expected) && again.text.contains(">Weiter<"),
        "{}",
        again.text
    );

    let (declined_id, declined_token) = &tokens[1];
    let declined = post_form(&api, &format!("/invite/{declined_token}/decline"), "").await;
    assert!(
        declined
            .text
            .contains(&format!("invitation_id={declined_id}&amp;status=rejected#done")),
        "{}",
        declined.text
    );
}

#[actix_web::test]
async fn a_branded_page_shows_the_product_colour_and_logo_and_its_policy_allows_only_the_logos_origin() {
    let api = redirecting(true).await;
    let (_, token, _) = {
        let (_, acme) = api.business("Acme", "ann@acme.test").await;
        let created = api
            .invite(&acme, json!({"email": "bob@globex.test", "send_email": false}))
            .await;
        let token = created.body["accept_url"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        (acme, token, ())
    };
    let reply = page(&api, &format!("/invite/{token}"), "en").await;
    assert!(
        reply
            .text
            .contains("<img src=\"https://cdn.acme.test/logo.png\" alt=\"Acme Network\">"),
        "{}",
        reply.text
    );
    assert!(
        reply.text.contains("background:#0f766e;color:#ffffff"),
        "{}",
        reply.text
    );
    assert!(reply.text.contains("connected on Acme Network"), "{}", reply.text);
    assert!(reply.text.contains("through Acme Network"), "{}", reply.text);
    let policy = reply
        .headers
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(
        policy,
        "default-src 'none'; style-src 'unsafe-inline'; img-src https://cdn.acme.test; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    );
}

#[actix_web::test]
async fn an_operators_page_template_replaces_the_built_in_one_and_a_broken_one_is_refused_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("rsvp-page-templates-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("invite.html"),
        "<!doctype html><title>{{ title }}</title>\
         {% if state == \"pending\" %}<h1>Custom: {{ t.heading }}</h1>\
         <form action=\"/invite/{{ token }}/accept\"></form>{% endif %}",
    )
    .unwrap();
    let pages = rsvp_http::PageTemplates::from_dir(&dir).unwrap();
    assert_eq!(pages.overridden(), ["invite.html"]);
    let api = Api::memory_with(|config, _| config.pages = Some(std::sync::Arc::new(pages))).await;
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let created = api
        .invite(&acme, json!({"email": "bob@globex.test", "send_email": false}))
        .await;
    let token = created.body["accept_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let html = page(&api, &format!("/invite/{token}"), "en").await.text;
    assert!(
        html.contains("<h1>Custom: Acme invites your business to connect</h1>"),
        "{html}"
    );

    for (file, source, reason) in [
        ("invite.html", "{% if state %}", "invite.html"),
        ("invite.html", "<h1>{{ t.heading }}</h1>", "no accept form"),
        ("invite.html", "{{ nonexistent.field }}", "undefined"),
    ] {
        std::fs::write(dir.join(file), source).unwrap();
        let error = rsvp_http::PageTemplates::from_dir(&dir).unwrap_err().to_string();
        assert!(error.contains("invite.html") && error.contains(reason), "{error}");
    }
    std::fs::remove_file(dir.join("invite.html")).unwrap();
    std::fs::write(dir.join("invite.htm"), "typo").unwrap();
    let error = rsvp_http::PageTemplates::from_dir(&dir).unwrap_err().to_string();
    assert!(error.contains("invite.htm"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}
