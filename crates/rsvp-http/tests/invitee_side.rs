//! The invitee's side over HTTP, on every backend: `redirect_url` and its
//! allowed origins, `locale`, opting out (the page's form and the emails'
//! RFC 8058 one-click POST) with its effects on creates, bulk items and
//! resends, and the operators' suppression API.

mod common;

use actix_web::http::{Method, StatusCode, header};
use actix_web::test::TestRequest;
use common::{ADMIN, Api, codes};
use rsvp_app::Locale;
use serde_json::{Value, json};

/// The API with `https://app.acme.test` allowed for redirects and German as
/// the default language.
async fn api(backend: &str) -> Api {
    let adjust = |_: &mut rsvp_http::HttpConfig, settings: &mut rsvp_app::Settings| {
        settings.redirect_origins = vec!["https://app.acme.test".to_owned()];
        settings.default_locale = Locale::De;
    };
    match backend {
        "memory" => Api::memory_with(adjust).await,
        "sqlite" => Api::database_with(false, adjust).await,
        _ => Api::database_with(true, adjust).await,
    }
}

macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod memory { $( #[actix_web::test] async fn $name() { super::$name(super::api("memory").await).await } )* }
        mod sqlite { $( #[actix_web::test] async fn $name() { super::$name(super::api("sqlite").await).await } )* }
        mod postgres { $( #[actix_web::test] async fn $name() { super::$name(super::api("postgres").await).await } )* }
    };
}

on_every_backend!(
    a_redirect_url_must_be_an_http_url_of_an_allowed_origin_and_is_returned_with_the_invitation,
    the_locale_is_en_or_de_stored_with_the_invitation_and_defaults_to_the_server_setting,
    opting_out_from_the_page_declines_the_invitation_and_refuses_that_business_only,
    opting_out_of_everyone_refuses_every_business_and_a_one_click_post_blocks_the_inviter,
    operators_list_filter_page_and_lift_suppressions,
    a_resend_to_an_address_that_opted_out_is_refused,
);

fn token_of(created: &Value) -> String {
    created["accept_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned()
}

/// An invitation from `key` to `email` without email; returns (id, token).
async fn invited(api: &Api, key: &str, email: &str) -> (String, String) {
    let created = api.invite(key, json!({"email": email, "send_email": false})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    (created.body["id"].as_str().unwrap().to_owned(), token_of(&created.body))
}

async fn post_form(api: &Api, path: &str, form: &str) -> common::Reply {
    api.raw(
        TestRequest::post()
            .uri(path)
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .set_payload(form.to_owned()),
    )
    .await
}

async fn get(api: &Api, key: &str, path: &str) -> Value {
    let reply = api.call(Method::GET, path, Some(key), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    reply.body
}

fn failed_codes(bulk: &Value) -> Vec<(u64, String)> {
    bulk["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["index"].as_u64().unwrap(),
                f["error"]["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn a_redirect_url_must_be_an_http_url_of_an_allowed_origin_and_is_returned_with_the_invitation(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let ok = api
        .invite(
            &acme,
            json!({"email": "bob@globex.test", "redirect_url": "https://APP.acme.test:443/welcome?from=mail"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    assert_eq!(ok.body["redirect_url"], "https://APP.acme.test:443/welcome?from=mail");
    let id = ok.body["id"].as_str().unwrap();
    assert_eq!(
        get(&api, &acme, &format!("/v1/invitations/{id}")).await["redirect_url"],
        "https://APP.acme.test:443/welcome?from=mail",
        "stored and read back"
    );

    for (url, code) in [
        ("https://evil.test/welcome", "origin_not_allowed"),
        ("http://app.acme.test/welcome", "origin_not_allowed"),
        ("https://app.acme.test:8443/", "origin_not_allowed"),
        ("javascript:alert(1)", "invalid_url"),
        ("https://user@app.acme.test/", "invalid_url"),
        ("/relative", "invalid_url"),
    ] {
        let refused = api
            .invite(&acme, json!({"email": "carol@globex.test", "redirect_url": url}))
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        assert_eq!(
            codes(&refused.body),
            [("redirect_url".to_owned(), code.to_owned())],
            "{url}"
        );
    }
    let wrong_type = api
        .invite(&acme, json!({"email": "carol@globex.test", "redirect_url": 7}))
        .await;
    assert_eq!(
        codes(&wrong_type.body),
        [("redirect_url".to_owned(), "invalid_type".to_owned())]
    );

    let bulk = api
        .call(
            Method::POST,
            "/v1/invitations/bulk",
            Some(&acme),
            Some(json!({"invitations": [
                {"email": "dave@globex.test", "redirect_url": "https://app.acme.test/"},
                {"email": "erin@globex.test", "redirect_url": "https://evil.test/"}
            ]})),
        )
        .await;
    assert_eq!(bulk.status, StatusCode::OK, "{}", bulk.body);
    assert_eq!(bulk.body["successful"][0]["redirect_url"], "https://app.acme.test/");
    assert_eq!(failed_codes(&bulk.body), [(1, "validation_failed".to_owned())]);
    assert_eq!(
        bulk.body["failed"][0]["error"]["errors"][0]["code"], "origin_not_allowed",
        "{}",
        bulk.body
    );
}

#[actix_web::test]
async fn without_allowed_origins_no_redirect_url_is_accepted() {
    let api = Api::memory().await;
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let refused = api
        .invite(
            &acme,
            json!({"email": "bob@globex.test", "redirect_url": "https://app.acme.test/"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        codes(&refused.body),
        [("redirect_url".to_owned(), "origin_not_allowed".to_owned())]
    );
    assert!(refused.text.contains("RSVP_REDIRECT_ORIGINS"), "{}", refused.text);
}

async fn the_locale_is_en_or_de_stored_with_the_invitation_and_defaults_to_the_server_setting(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let english = api
        .invite(&acme, json!({"email": "en@globex.test", "locale": "en"}))
        .await;
    assert_eq!(english.status, StatusCode::CREATED, "{}", english.body);
    assert_eq!(english.body["locale"], "en");
    let id = english.body["id"].as_str().unwrap();
    assert_eq!(get(&api, &acme, &format!("/v1/invitations/{id}")).await["locale"], "en");
    let defaulted = api.invite(&acme, json!({"email": "de@globex.test"})).await;
    assert_eq!(defaulted.body["locale"], "de", "RSVP_DEFAULT_LOCALE of this server");
    for bad in ["fr", "EN-us", ""] {
        let refused = api
            .invite(&acme, json!({"email": "x@globex.test", "locale": bad}))
            .await;
        if bad.is_empty() {
            // Blank optional text counts as absent, like every other field.
            assert_eq!(refused.status, StatusCode::CREATED);
            continue;
        }
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(
            codes(&refused.body),
            [("locale".to_owned(), "unsupported_locale".to_owned())]
        );
    }
}

async fn opting_out_from_the_page_declines_the_invitation_and_refuses_that_business_only(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, globex) = api.business("Globex", "gil@globex.test").await;
    let (id, token) = invited(&api, &acme, "Bob@Partner.test").await;

    let page = post_form(&api, &format!("/unsubscribe/{token}"), "scope=business").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("no more invitations from Acme"), "{}", page.text);
    assert!(page.text.contains("was declined"), "{}", page.text);
    assert_eq!(page.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");

    let invitation = get(&api, &acme, &format!("/v1/invitations/{id}")).await;
    assert_eq!(invitation["status"], "rejected", "the pending invitation is declined");
    let events = get(&api, &acme, "/v1/events").await;
    let rejected: Vec<&Value> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "invitation.rejected")
        .collect();
    assert_eq!(rejected.len(), 1, "{events}");
    assert_eq!(rejected[0]["data"]["actor"]["type"], "invitee");

    let refused = api.invite(&acme, json!({"email": "bob@PARTNER.test"})).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert_eq!(refused.body["code"], "recipient_opted_out");
    let bulk = api
        .call(
            Method::POST,
            "/v1/invitations/bulk",
            Some(&acme),
            Some(json!({"invitations": [{"email": "carol@partner.test"}, {"email": "BOB@partner.test"}]})),
        )
        .await;
    assert_eq!(failed_codes(&bulk.body), [(1, "recipient_opted_out".to_owned())]);
    assert_eq!(bulk.body["successful"].as_array().unwrap().len(), 1);

    let other = api.invite(&globex, json!({"email": "bob@partner.test"})).await;
    assert_eq!(other.status, StatusCode::CREATED, "another business may still invite");

    // The page of the declined invitation says so; a second opt-out is harmless.
    let again = post_form(&api, &format!("/unsubscribe/{token}"), "scope=business").await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(!again.text.contains("was declined"), "{}", again.text);
    let listed = get(&api, ADMIN, "/v1/admin/suppressions").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
}

async fn opting_out_of_everyone_refuses_every_business_and_a_one_click_post_blocks_the_inviter(api: Api) {
    let (acme_id, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, globex) = api.business("Globex", "gil@globex.test").await;
    let (_, token) = invited(&api, &acme, "bob@partner.test").await;

    // RFC 8058: what a mailbox provider posts for the List-Unsubscribe header.
    let one_click = post_form(&api, &format!("/unsubscribe/{token}"), "List-Unsubscribe=One-Click").await;
    assert_eq!(one_click.status, StatusCode::OK, "{}", one_click.text);
    let listed = get(&api, ADMIN, "/v1/admin/suppressions?email=BOB@partner.test").await;
    assert_eq!(listed["data"][0]["scope"], "business");
    assert_eq!(listed["data"][0]["business_id"], acme_id.as_str());
    assert_eq!(listed["data"][0]["email"], "bob@partner.test");
    assert_eq!(
        api.invite(&globex, json!({"email": "bob@partner.test"})).await.status,
        StatusCode::CREATED
    );

    let page = post_form(&api, &format!("/unsubscribe/{token}"), "scope=everyone").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("no more invitations through rsvp"), "{}", page.text);
    let listed = get(&api, ADMIN, "/v1/admin/suppressions").await;
    let scopes: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scope"].as_str().unwrap())
        .collect();
    assert_eq!(scopes, ["everyone", "business"], "newest first");
    assert_eq!(listed["data"][0]["business_id"], Value::Null);
    for key in [&acme, &globex] {
        let refused = api.invite(key, json!({"email": "Bob@partner.test"})).await;
        assert_eq!(refused.body["code"], "recipient_opted_out", "{}", refused.body);
    }
    let (_, other_business) = api.business("Initech", "ian@initech.test").await;
    assert_eq!(
        api.invite(&other_business, json!({"email": "bob@partner.test"}))
            .await
            .body["code"],
        "recipient_opted_out"
    );

    let unknown = post_form(&api, "/unsubscribe/not-a-token", "List-Unsubscribe=One-Click").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let form = api.raw(TestRequest::get().uri(&format!("/unsubscribe/{token}"))).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.text.contains("value=\"everyone\""), "{}", form.text);
}

async fn operators_list_filter_page_and_lift_suppressions(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let mut ids = Vec::new();
    for address in ["a@partner.test", "b@partner.test", "c@partner.test"] {
        let (_, token) = invited(&api, &acme, address).await;
        assert_eq!(
            post_form(&api, &format!("/unsubscribe/{token}"), "scope=business")
                .await
                .status,
            StatusCode::OK
        );
        api.clock.advance(time::Duration::seconds(1));
        ids.push(address);
    }
    assert_eq!(
        api.call(Method::GET, "/v1/admin/suppressions", None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api.call(Method::GET, "/v1/admin/suppressions", Some(&acme), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "an API key is not the operator token"
    );
    let first = get(&api, ADMIN, "/v1/admin/suppressions?limit=2").await;
    let second = get(
        &api,
        ADMIN,
        &format!(
            "/v1/admin/suppressions?limit=2&cursor={}",
            first["next_cursor"].as_str().unwrap()
        ),
    )
    .await;
    let emails: Vec<&str> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["data"].as_array().unwrap())
        .map(|s| s["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["c@partner.test", "b@partner.test", "a@partner.test"]);
    assert_eq!(second["next_cursor"], Value::Null);
    let bad = api
        .call(
            Method::GET,
            "/v1/admin/suppressions?email=nope&limit=0",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let b = get(&api, ADMIN, "/v1/admin/suppressions?email=B@Partner.test").await;
    assert_eq!(b["data"].as_array().unwrap().len(), 1);
    let id = b["data"][0]["id"].as_str().unwrap();
    let path = format!("/v1/admin/suppressions/{id}");
    assert_eq!(
        api.call(Method::DELETE, &path, Some(&acme), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let lifted = api.call(Method::DELETE, &path, Some(ADMIN), None).await;
    assert_eq!(lifted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        api.call(Method::DELETE, &path, Some(ADMIN), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.call(Method::DELETE, "/v1/admin/suppressions/x", Some(ADMIN), None)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let again = api.invite(&acme, json!({"email": "b@partner.test"})).await;
    assert_eq!(again.status, StatusCode::CREATED, "lifted: {}", again.body);
    assert_eq!(
        api.invite(&acme, json!({"email": "a@partner.test"})).await.body["code"],
        "recipient_opted_out"
    );
}

async fn a_resend_to_an_address_that_opted_out_is_refused(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, globex) = api.business("Globex", "gil@globex.test").await;
    let (id, _) = invited(&api, &acme, "bob@partner.test").await;
    let (_, token) = invited(&api, &globex, "bob@partner.test").await;
    // Opting out of everyone through Globex's invitation leaves Acme's pending.
    assert_eq!(
        post_form(&api, &format!("/unsubscribe/{token}"), "scope=everyone")
            .await
            .status,
        StatusCode::OK
    );
    api.clock.advance(time::Duration::minutes(5));
    let resend = api
        .call(Method::POST, &format!("/v1/invitations/{id}/resend"), Some(&acme), None)
        .await;
    assert_eq!(resend.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", resend.body);
    assert_eq!(resend.body["code"], "recipient_opted_out");
}

#[actix_web::test]
async fn unknown_opt_out_tokens_count_as_failed_lookups_and_get_a_429_page() {
    let api = Api::memory_with(|config, _| config.failed_attempts_per_minute = 2).await;
    let first = post_form(&api, "/unsubscribe/guess-1", "List-Unsubscribe=One-Click").await;
    assert_eq!(first.status, StatusCode::NOT_FOUND);
    let metrics = api.raw(TestRequest::get().uri("/metrics")).await;
    assert!(
        metrics.text.contains("route=\"/unsubscribe/{token}\""),
        "{}",
        metrics.text
    );
    assert!(!metrics.text.contains("guess-"), "no token in the metrics");
    let second = api.raw(TestRequest::get().uri("/unsubscribe/guess-2")).await;
    assert_eq!(second.status, StatusCode::NOT_FOUND);
    let blocked = api.raw(TestRequest::get().uri("/unsubscribe/guess-3")).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(blocked.text.contains("Too many attempts"), "{}", blocked.text);
}
