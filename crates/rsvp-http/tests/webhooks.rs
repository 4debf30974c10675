//! `/v1/webhook-endpoints`: CRUD scoped to the caller's business, secrets
//! shown on creation and rotation only (never cached), the SSRF guard at
//! registration, the delivery log and redelivery — on every backend.

#[macro_use]
mod common;

use actix_web::http::{Method, StatusCode, header};
use common::{Api, codes};
use serde_json::{Value, json};

on_every_backend!(
    an_endpoint_is_registered_read_changed_and_deleted_by_its_business_only,
    a_rotation_answers_a_new_secret_that_is_never_cached,
    every_event_of_the_business_is_queued_for_its_endpoints_and_can_be_redelivered,
);

async fn register(api: &Api, key: &str, body: Value) -> Value {
    let reply = api
        .call(Method::POST, "/v1/webhook-endpoints", Some(key), Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body
}

async fn an_endpoint_is_registered_read_changed_and_deleted_by_its_business_only(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, globex) = api.business("Globex", "bob@globex.test").await;
    let reply = api
        .call(
            Method::POST,
            "/v1/webhook-endpoints",
            Some(&acme),
            Some(json!({"url": "https://Hooks.Example.com/rsvp", "event_types": ["invitation.accepted"], "description": "CRM"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    let created = reply.body;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.headers.get(header::LOCATION).unwrap().to_str().unwrap(),
        format!("/v1/webhook-endpoints/{id}")
    );
    assert_eq!(created["url"], "https://hooks.example.com/rsvp");
    assert_eq!(created["event_types"], json!(["invitation.accepted"]));
    assert_eq!(
        (created["enabled"].clone(), created["description"].clone()),
        (json!(true), json!("CRM"))
    );
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));

    let path = format!("/v1/webhook-endpoints/{id}");
    let read = api.call(Method::GET, &path, Some(&acme), None).await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(
        read.body.get("secret").is_none(),
        "the secret is shown once: {}",
        read.body
    );
    let listed = api.call(Method::GET, "/v1/webhook-endpoints", Some(&acme), None).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
    assert!(listed.body["data"][0].get("secret").is_none());

    for method in [Method::GET, Method::DELETE] {
        let theirs = api.call(method.clone(), &path, Some(&globex), None).await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{method}");
    }
    assert_eq!(
        api.call(Method::GET, "/v1/webhook-endpoints", Some(&globex), None)
            .await
            .body["data"],
        json!([])
    );

    let changed = api
        .call(
            Method::PATCH,
            &path,
            Some(&acme),
            Some(json!({"event_types": null, "description": null, "enabled": false})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(
        (
            changed.body["event_types"].clone(),
            changed.body["description"].clone(),
            changed.body["enabled"].clone()
        ),
        (Value::Null, Value::Null, json!(false))
    );

    let invalid = api
        .call(
            Method::PATCH,
            &path,
            Some(&acme),
            Some(json!({"event_types": ["invitation.nope"], "colour": "red", "enabled": "yes"})),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut found = codes(&invalid.body);
    found.sort();
    assert_eq!(
        found,
        [
            ("colour".to_owned(), "unknown_field".to_owned()),
            ("enabled".to_owned(), "invalid_type".to_owned()),
        ]
    );

    assert_eq!(
        api.call(Method::DELETE, &path, Some(&acme), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.call(Method::GET, &path, Some(&acme), None).await.status,
        StatusCode::NOT_FOUND
    );
}

async fn a_rotation_answers_a_new_secret_that_is_never_cached(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let created = register(&api, &acme, json!({"url": "https://hooks.example.com/rsvp"})).await;
    let path = format!(
        "/v1/webhook-endpoints/{}/rotate-secret",
        created["id"].as_str().unwrap()
    );
    let rotated = api.call(Method::POST, &path, Some(&acme), None).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    assert_eq!(rotated.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    let secret = rotated.body["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    assert_ne!(secret, created["secret"].as_str().unwrap());
}

async fn every_event_of_the_business_is_queued_for_its_endpoints_and_can_be_redelivered(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, globex) = api.business("Globex", "bob@globex.test").await;
    let created = register(&api, &acme, json!({"url": "https://hooks.example.com/rsvp"})).await;
    let id = created["id"].as_str().unwrap();
    let invited = api.invite(&acme, json!({"email": "carol@initech.test"})).await;
    assert_eq!(invited.status, StatusCode::CREATED);

    let log = api
        .call(
            Method::GET,
            &format!("/v1/webhook-endpoints/{id}/deliveries"),
            Some(&acme),
            None,
        )
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    let rows = log.body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["event_type"], "invitation.created");
    assert_eq!(rows[0]["status"], "pending");
    assert_eq!(rows[0]["attempt"], 0);
    let event_id = rows[0]["event_id"].as_str().unwrap().to_owned();
    let events = api.call(Method::GET, "/v1/events", Some(&acme), None).await;
    assert_eq!(events.body["data"][0]["id"], event_id.as_str());

    let redeliver = format!("/v1/webhook-endpoints/{id}/redeliver");
    let again = api
        .call(
            Method::POST,
            &redeliver,
            Some(&acme),
            Some(json!({"event_id": event_id})),
        )
        .await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);
    assert_eq!(again.body["event_id"], event_id.as_str());
    let log = api
        .call(
            Method::GET,
            &format!("/v1/webhook-endpoints/{id}/deliveries?limit=1"),
            Some(&acme),
            None,
        )
        .await;
    assert_eq!(log.body["data"].as_array().unwrap().len(), 1);
    assert!(log.body["next_cursor"].is_string());

    // Another business's event, or none at all: not found.
    let (_, initech) = api.business("Initech", "peter@initech.test").await;
    let theirs = api.invite(&initech, json!({"email": "x@partner.test"})).await;
    assert_eq!(theirs.status, StatusCode::CREATED);
    let their_events = api.call(Method::GET, "/v1/events", Some(&initech), None).await;
    let their_event = their_events.body["data"][0]["id"].clone();
    let refused = api
        .call(
            Method::POST,
            &redeliver,
            Some(&acme),
            Some(json!({"event_id": their_event})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let missing = api.call(Method::POST, &redeliver, Some(&acme), Some(json!({}))).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(codes(&missing.body), [("event_id".to_owned(), "required".to_owned())]);
    let not_theirs = api
        .call(
            Method::POST,
            &redeliver,
            Some(&globex),
            Some(json!({"event_id": event_id})),
        )
        .await;
    assert_eq!(not_theirs.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn registration_refuses_http_and_every_non_public_target_with_url_not_allowed() {
    let api = Api::memory().await;
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    for url in [
        "http://hooks.example.com/rsvp",
        "https://127.0.0.1/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[fc00::1]/hook",
        "https://[fd00:ec2::254]/hook",
        "https://[::1]/hook",
        "https://localhost/hook",
        "https://localhost:8443/hook",
    ] {
        let reply = api
            .call(
                Method::POST,
                "/v1/webhook-endpoints",
                Some(&acme),
                Some(json!({"url": url})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {}", reply.body);
        assert_eq!(reply.body["code"], "url_not_allowed", "{url}");
        assert_eq!(
            codes(&reply.body),
            [("url".to_owned(), "url_not_allowed".to_owned())],
            "{url}"
        );
    }
    assert!(
        api.call(Method::GET, "/v1/webhook-endpoints", Some(&acme), None)
            .await
            .body["data"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing was registered"
    );
    let invalid = api
        .call(
            Method::POST,
            "/v1/webhook-endpoints",
            Some(&acme),
            Some(json!({"url": "hooks", "event_types": ["invitation.nope"]})),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        codes(&invalid.body),
        [
            ("url".to_owned(), "invalid_url".to_owned()),
            ("event_types".to_owned(), "unknown_event_type".to_owned()),
        ]
    );
}

#[actix_web::test]
async fn the_operator_switches_let_local_receivers_register() {
    let api = Api::memory_with(|_, settings| {
        settings.webhook_policy.allow_http = true;
        settings.webhook_policy.allow_private = true;
    })
    .await;
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let created = register(&api, &acme, json!({"url": "http://127.0.0.1:9000/hook"})).await;
    assert_eq!(created["url"], "http://127.0.0.1:9000/hook");
}
