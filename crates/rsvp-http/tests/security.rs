//! The security rules of the brief that live at the HTTP edge, on every
//! backend: what the sender may learn about the invitee, headers of answers
//! that carry a secret, one `Authorization` header, route templates instead
//! of paths, a guarded `/metrics`, and invitee forms that are read whole or
//! not at all.

#[macro_use]
mod common;

use actix_web::http::{Method, StatusCode, header};
use actix_web::test;
use common::{ADMIN, Api};
use serde_json::{Value, json};

on_every_backend!(
    the_sender_does_not_learn_the_invitees_business_before_acceptance,
    the_sender_does_not_learn_who_declined_from_the_event_log,
    answers_that_carry_a_secret_are_not_stored_by_caches,
    every_answer_says_nosniff,
    two_authorization_headers_are_400_whatever_their_order,
    metrics_and_logs_name_route_templates_never_a_token,
    an_oversized_invitee_form_is_413_and_changes_nothing,
    an_unreadable_invitee_form_is_422_and_changes_nothing,
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

async fn the_sender_does_not_learn_the_invitees_business_before_acceptance(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let (initech_id, initech) = api.business("Initech", "carl@initech.test").await;

    let created = api.invite(&acme, json!({"email": "carl@initech.test"})).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["invitee_business_id"], Value::Null, "create");
    let id = created.body["id"].as_str().unwrap().to_owned();

    let bulk = api
        .call(
            Method::POST,
            "/v1/invitations/bulk",
            Some(&acme),
            Some(json!({"invitations": [{"email": "carl@initech.test"}, {"email": "dan@initech.test"}]})),
        )
        .await;
    assert_eq!(bulk.status, StatusCode::OK);
    assert_eq!(
        bulk.body["failed"][0]["error"]["code"], "already_invited",
        "{}",
        bulk.body
    );
    let got = api
        .call(Method::GET, &format!("/v1/invitations/{id}"), Some(&acme), None)
        .await;
    assert_eq!(got.body["invitee_business_id"], Value::Null, "get");
    let sent = api.call(Method::GET, "/v1/invitations/sent", Some(&acme), None).await;
    assert!(
        sent.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["invitee_business_id"].is_null()),
        "list: {}",
        sent.body
    );
    // The invitee's own side sees its business; the sender's sees it once accepted.
    let received = api
        .call(Method::GET, "/v1/invitations/received", Some(&initech), None)
        .await;
    assert_eq!(received.body["data"][0]["invitee_business_id"], initech_id.as_str());
    let accepted = api
        .call(
            Method::PATCH,
            &format!("/v1/invitations/{id}"),
            Some(&initech),
            Some(json!({"status": "accepted"})),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::OK);
    let got = api
        .call(Method::GET, &format!("/v1/invitations/{id}"), Some(&acme), None)
        .await;
    assert_eq!(got.body["invitee_business_id"], initech_id.as_str(), "after acceptance");
}

async fn the_sender_does_not_learn_who_declined_from_the_event_log(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, initech) = api.business("Initech", "carl@initech.test").await;
    let created = api.invite(&acme, json!({"email": "carl@initech.test"})).await;
    let id = created.body["id"].as_str().unwrap();
    let rejected = api
        .call(
            Method::PATCH,
            &format!("/v1/invitations/{id}"),
            Some(&initech),
            Some(json!({"status": "rejected"})),
        )
        .await;
    assert_eq!(rejected.status, StatusCode::OK);
    assert!(
        rejected.body["invitee_business_id"].is_string(),
        "the invitee sees its own"
    );
    let got = api
        .call(Method::GET, &format!("/v1/invitations/{id}"), Some(&acme), None)
        .await;
    assert_eq!(got.body["invitee_business_id"], Value::Null);
    let events = api.call(Method::GET, "/v1/events", Some(&acme), None).await;
    let rejection = events.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "invitation.rejected")
        .unwrap_or_else(|| panic!("{}", events.body))
        .clone();
    assert_eq!(rejection["data"]["actor"]["type"], "invitee");
    assert_eq!(rejection["data"]["actor"]["user_id"], Value::Null, "{rejection}");
    let theirs = api.call(Method::GET, "/v1/events", Some(&initech), None).await;
    let their_rejection = theirs.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "invitation.rejected")
        .unwrap()
        .clone();
    assert!(
        their_rejection["data"]["actor"]["user_id"].is_string(),
        "{their_rejection}"
    );
}

fn cache_control(reply: &common::Reply) -> Option<&str> {
    reply.headers.get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok())
}

async fn answers_that_carry_a_secret_are_not_stored_by_caches(api: Api) {
    let provisioned = api
        .call(
            Method::POST,
            "/v1/admin/businesses",
            Some(ADMIN),
            Some(json!({"name": "Acme", "user": {"email": "ann@acme.test"}})),
        )
        .await;
    assert!(provisioned.body["api_key"].is_string());
    assert_eq!(cache_control(&provisioned), Some("no-store"), "provisioning");
    let key = provisioned.body["api_key"].as_str().unwrap().to_owned();
    let business = provisioned.body["business"]["id"].as_str().unwrap();
    let added = api
        .call(
            Method::POST,
            &format!("/v1/admin/businesses/{business}/users"),
            Some(ADMIN),
            Some(json!({"email": "bea@acme.test"})),
        )
        .await;
    assert_eq!(cache_control(&added), Some("no-store"), "adding a user");

    let created = api
        .invite(&key, json!({"email": "bob@globex.test", "send_email": false}))
        .await;
    assert!(created.body["accept_url"].is_string());
    assert_eq!(cache_control(&created), Some("no-store"), "create with accept_url");
    let bulk = api
        .call(
            Method::POST,
            "/v1/invitations/bulk",
            Some(&key),
            Some(json!({"invitations": [{"email": "eve@globex.test", "send_email": false}]})),
        )
        .await;
    assert!(bulk.body["successful"][0]["accept_url"].is_string());
    assert_eq!(cache_control(&bulk), Some("no-store"), "bulk with accept_url");

    let token = token_of(&created.body);
    for (method, path) in [
        (Method::GET, format!("/v1/invitation-links/{token}")),
        (Method::GET, format!("/invite/{token}")),
        (Method::GET, "/v1/invitation-links/not-a-token".to_owned()),
    ] {
        let reply = api.call(method, &path, None, None).await;
        assert_eq!(
            cache_control(&reply),
            Some("no-store"),
            "{path} is keyed by a link token"
        );
    }
}

async fn every_answer_says_nosniff(api: Api) {
    let (_, key) = api.business("Acme", "ann@acme.test").await;
    let replies = [
        api.call(Method::GET, "/healthz", None, None).await,
        api.call(Method::GET, "/metrics", None, None).await,
        api.call(Method::GET, "/v1/invitations/sent", Some(&key), None).await,
        api.call(Method::GET, "/v1/invitations/sent", None, None).await,
        api.call(Method::GET, "/v1/nowhere", Some(&key), None).await,
        api.call(Method::GET, "/nowhere", None, None).await,
        api.call(Method::GET, "/invite/unknown-token", None, None).await,
        api.invite(&key, json!({"email": "not an email"})).await,
    ];
    for reply in replies {
        assert_eq!(
            reply
                .headers
                .get(header::X_CONTENT_TYPE_OPTIONS)
                .and_then(|v| v.to_str().ok()),
            Some("nosniff"),
            "{} {}",
            reply.status,
            reply.text
        );
    }
}

async fn two_authorization_headers_are_400_whatever_their_order(api: Api) {
    let (_, good) = api.business("Acme", "ann@acme.test").await;
    let bad = "rsvp_not-a-key";
    for (first, second) in [
        (bad, good.as_str()),
        (good.as_str(), bad),
        (good.as_str(), good.as_str()),
    ] {
        for (method, path) in [
            (Method::GET, "/v1/invitations/sent"),
            (Method::POST, "/v1/admin/businesses"),
            (Method::GET, "/metrics"),
        ] {
            let reply = api
                .raw(
                    test::TestRequest::default()
                        .method(method)
                        .uri(path)
                        .set_json(json!({}))
                        .append_header((header::AUTHORIZATION, format!("Bearer {first}")))
                        .append_header((header::AUTHORIZATION, format!("Bearer {second}"))),
                )
                .await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}: {}", reply.body);
            assert_eq!(reply.body["code"], "duplicate_authorization");
        }
    }
}

async fn metrics_and_logs_name_route_templates_never_a_token(api: Api) {
    let (_, key) = api.business("Acme", "ann@acme.test").await;
    let created = api
        .invite(&key, json!({"email": "bob@globex.test", "send_email": false}))
        .await;
    let token = token_of(&created.body);
    let paths = [
        format!("/v1/invitation-links/{token}"),
        format!("/invite/{token}"),
        format!("/v1/invitation-links/{token}/nowhere"),
        format!("/invite/{token}/nowhere"),
    ];
    for path in &paths {
        api.call(Method::GET, path, None, None).await;
    }
    let metrics = api.call(Method::GET, "/metrics", None, None).await.text;
    assert!(!metrics.contains(&token), "a token reached /metrics:\n{metrics}");
    assert!(!metrics.contains(&key), "an API key reached /metrics");
    assert!(metrics.contains("route=\"/v1/invitation-links/{token}\""), "{metrics}");
    assert!(
        metrics.contains("route=\"/invite/{token}\""),
        "the page is counted too: {metrics}"
    );
    assert!(metrics.contains("route=\"unmatched\""), "{metrics}");
}

async fn pending_invitation(api: &Api) -> (String, String, String) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    // Bob is registered: the form has no required field, so a body that
    // could not be read would otherwise have accepted silently.
    api.business("Globex", "bob@globex.test").await;
    let created = api
        .invite(&acme, json!({"email": "bob@globex.test", "send_email": false}))
        .await;
    (
        acme,
        token_of(&created.body),
        created.body["id"].as_str().unwrap().to_owned(),
    )
}

async fn status_of(api: &Api, key: &str, id: &str) -> String {
    api.call(Method::GET, &format!("/v1/invitations/{id}"), Some(key), None)
        .await
        .body["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn an_oversized_invitee_form_is_413_and_changes_nothing(api: Api) {
    let (acme, token, id) = pending_invitation(&api).await;
    let form = format!("business_name=Globex&first_name={}", "x".repeat(20 * 1024));
    for language in ["en", "de"] {
        let reply = api
            .raw(
                test::TestRequest::post()
                    .uri(&format!("/invite/{token}/accept"))
                    .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
                    .insert_header((header::ACCEPT_LANGUAGE, language))
                    .set_payload(form.clone()),
            )
            .await;
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
        let expected = if language == "de" { "zu lang" } else { "too long" };
        assert!(reply.text.contains(expected), "{language}: {}", reply.text);
        assert!(reply.text.contains("accept-form"), "the form is shown again");
    }
    assert_eq!(status_of(&api, &acme, &id).await, "pending");
}

async fn an_unreadable_invitee_form_is_422_and_changes_nothing(api: Api) {
    let (acme, token, id) = pending_invitation(&api).await;
    let bodies: [(&str, Vec<u8>); 3] = [
        ("application/x-www-form-urlencoded", vec![0xff, 0xfe, b'=', 0x80]),
        ("application/json", br#"{"business_name":"Globex"}"#.to_vec()),
        ("text/plain", b"business_name=Globex".to_vec()),
    ];
    for (content_type, body) in bodies {
        let reply = api
            .raw(
                test::TestRequest::post()
                    .uri(&format!("/invite/{token}/accept"))
                    .insert_header((header::CONTENT_TYPE, content_type))
                    .set_payload(body.clone()),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body:?}");
        assert!(reply.text.contains("could not be read"), "{}", reply.text);
    }
    assert_eq!(status_of(&api, &acme, &id).await, "pending");
}

#[actix_web::test]
async fn metrics_require_the_metrics_token_when_one_is_set() {
    let mut api = Api::memory().await;
    api.state.config.metrics_token = Some(rsvp_app::Secret::new("metrics-token-of-test"));
    assert_eq!(
        api.call(Method::GET, "/metrics", None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api.call(Method::GET, "/metrics", Some("wrong-token-of-test"), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let reply = api
        .call(Method::GET, "/metrics", Some("metrics-token-of-test"), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.text.contains("rsvp_"), "{}", reply.text);
}
