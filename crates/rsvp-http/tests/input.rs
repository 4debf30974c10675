//! Input that means one thing, end to end on every backend: a JSON body with
//! a key twice is refused, one mailbox written two ways is one address, and
//! names, roles and external ids hold no invisible format characters.

#[macro_use]
mod common;

use actix_web::http::{Method, StatusCode, header};
use actix_web::test;
use common::{ADMIN, Api, Reply, codes};
use serde_json::{Value, json};

on_every_backend!(
    a_json_body_with_a_key_twice_is_400_malformed_json_on_every_json_endpoint,
    one_mailbox_written_two_ways_is_one_address,
    format_controls_in_names_roles_and_external_ids_are_422_invalid_characters,
);

/// Sends `body` as it is, bytes and all (a `Value` cannot hold a key twice).
async fn send_raw(api: &Api, method: Method, path: &str, key: Option<&str>, body: &str) -> Reply {
    let mut request = test::TestRequest::default()
        .method(method)
        .uri(path)
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .set_payload(body.to_owned());
    if let Some(key) = key {
        request = request.insert_header((header::AUTHORIZATION, format!("Bearer {key}")));
    }
    api.raw(request).await
}

fn assert_malformed(reply: &Reply, key: &str, what: &str) {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{what}: {}", reply.body);
    assert_eq!(reply.body["code"], "malformed_json", "{what}: {}", reply.body);
    let detail = reply.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(&format!("\"{key}\" twice")), "{what}: {detail}");
}

async fn sent_count(api: &Api, key: &str) -> usize {
    let list = api.call(Method::GET, "/v1/invitations/sent", Some(key), None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    list.body["data"].as_array().map_or(0, Vec::len)
}

async fn a_json_body_with_a_key_twice_is_400_malformed_json_on_every_json_endpoint(api: Api) {
    let (acme_id, acme) = api.business("Acme", "ann@acme.test").await;

    let create = [
        (r#"{"email":"a@x.test","email":"b@x.test"}"#, "email"),
        (
            r#"{"email":"a@x.test","custom_data":{"tier":"gold","tier":"free"}}"#,
            "tier",
        ),
        (
            r#"{"email":"a@x.test","roles":["viewer"],"message":"hi","roles":["admin"]}"#,
            "roles",
        ),
    ];
    for (body, key) in create {
        let reply = send_raw(&api, Method::POST, "/v1/invitations", Some(&acme), body).await;
        assert_malformed(&reply, key, body);
    }
    let bulk = r#"{"invitations":[{"email":"a@x.test"},{"email":"b@x.test","email":"c@x.test"}]}"#;
    let reply = send_raw(&api, Method::POST, "/v1/invitations/bulk", Some(&acme), bulk).await;
    assert_malformed(&reply, "email", "bulk item");
    let reply = send_raw(
        &api,
        Method::POST,
        "/v1/invitations/bulk",
        Some(&acme),
        r#"{"invitations":[],"invitations":[{"email":"a@x.test"}]}"#,
    )
    .await;
    assert_malformed(&reply, "invitations", "bulk");
    assert_eq!(sent_count(&api, &acme).await, 0, "a refused body writes nothing");

    let created = api
        .invite(&acme, json!({"email": "bob@globex.test", "send_email": false}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let token = created.body["accept_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();

    let patch = send_raw(
        &api,
        Method::PATCH,
        &format!("/v1/invitations/{id}"),
        Some(&acme),
        r#"{"status":"cancelled","status":"accepted"}"#,
    )
    .await;
    assert_malformed(&patch, "status", "patch");
    let resend = send_raw(
        &api,
        Method::POST,
        &format!("/v1/invitations/{id}/resend"),
        Some(&acme),
        r#"{"revoke_previous_links":false,"revoke_previous_links":true}"#,
    )
    .await;
    assert_malformed(&resend, "revoke_previous_links", "resend");
    let accept = send_raw(
        &api,
        Method::POST,
        &format!("/v1/invitation-links/{token}/accept"),
        None,
        r#"{"business_name":"Globex","business_name":"Initech"}"#,
    )
    .await;
    assert_malformed(&accept, "business_name", "link accept");
    let still = api
        .call(Method::GET, &format!("/v1/invitations/{id}"), Some(&acme), None)
        .await;
    assert_eq!(still.body["status"], "pending", "nothing happened: {}", still.body);

    let admin = [
        (
            "/v1/admin/businesses".to_owned(),
            r#"{"name":"Acme","name":"Evil","user":{"email":"x@evil.test"}}"#,
            "name",
        ),
        (
            "/v1/admin/businesses".to_owned(),
            r#"{"name":"Evil","user":{"email":"x@evil.test","email":"y@evil.test"}}"#,
            "email",
        ),
        (
            format!("/v1/admin/businesses/{acme_id}/users"),
            r#"{"email":"x@acme.test","first_name":"X","first_name":"Y"}"#,
            "first_name",
        ),
    ];
    for (path, body, key) in admin {
        let reply = send_raw(&api, Method::POST, &path, Some(ADMIN), body).await;
        assert_malformed(&reply, key, body);
    }
    let taken = api
        .call(
            Method::POST,
            "/v1/admin/businesses",
            Some(ADMIN),
            Some(json!({"name": "Evil", "user": {"email": "x@evil.test"}})),
        )
        .await;
    assert_eq!(
        taken.status,
        StatusCode::CREATED,
        "the refused ones wrote nothing: {}",
        taken.body
    );
}

async fn one_mailbox_written_two_ways_is_one_address(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let first = api.invite(&acme, json!({"email": "user@bücher.test"})).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["email"], "user@bücher.test", "the spelling given is kept");
    for spelling in [
        "user@xn--bcher-kva.test",
        "USER@BÜCHER.test",
        "user@bu\u{0308}cher.test",
        " User@XN--BCHER-KVA.TEST ",
    ] {
        let again = api.invite(&acme, json!({ "email": spelling })).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{spelling}: {}", again.body);
        assert_eq!(again.body["code"], "already_invited", "{spelling}");
    }
    let filtered = api
        .call(
            Method::GET,
            "/v1/invitations/sent?email=USER%40XN--BCHER-KVA.TEST",
            Some(&acme),
            None,
        )
        .await;
    assert_eq!(
        filtered.body["data"].as_array().map(Vec::len),
        Some(1),
        "{}",
        filtered.body
    );

    // A user is found by either spelling of their address.
    let (_, buecher) = api.business("Bücher", "jürgen@xn--bcher-kva.test").await;
    let taken = api
        .call(
            Method::POST,
            "/v1/admin/businesses",
            Some(ADMIN),
            Some(json!({"name": "Other", "user": {"email": "JU\u{0308}RGEN@Bücher.test"}})),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.body);
    assert_eq!(taken.body["code"], "email_taken");
    let self_invite = api.invite(&buecher, json!({"email": "Jürgen@BÜCHER.test"})).await;
    assert_eq!(
        self_invite.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        self_invite.body
    );
    assert_eq!(self_invite.body["code"], "self_invite");
    let to_member = api.invite(&acme, json!({"email": "jürgen@bücher.test"})).await;
    assert_eq!(to_member.status, StatusCode::CREATED, "{}", to_member.body);
    let received = api
        .call(Method::GET, "/v1/invitations/received", Some(&buecher), None)
        .await;
    let emails: Vec<&str> = received.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["email"].as_str())
        .collect();
    assert_eq!(emails, ["jürgen@bücher.test"], "{}", received.body);

    // Garbage is still garbage.
    for garbage in ["user@xn--zz.test", "user@bü\u{200B}cher.test", "user@a\u{05D0}.test"] {
        let refused = api.invite(&acme, json!({ "email": garbage })).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{garbage}");
        assert_eq!(
            codes(&refused.body),
            [("email".to_owned(), "invalid_email".to_owned())],
            "{garbage}"
        );
    }
}

fn field_codes(body: &Value) -> Vec<(String, String)> {
    let mut found = codes(body);
    found.sort();
    found
}

fn invalid_characters(fields: &[&str]) -> Vec<(String, String)> {
    let mut expected: Vec<(String, String)> = fields
        .iter()
        .map(|f| ((*f).to_owned(), "invalid_characters".to_owned()))
        .collect();
    expected.sort();
    expected
}

async fn format_controls_in_names_roles_and_external_ids_are_422_invalid_characters(api: Api) {
    let (acme_id, acme) = api.business("Acme", "ann@acme.test").await;
    let reply = api
        .invite(
            &acme,
            json!({
                "email": "bob@globex.test",
                "first_name": "Bob\u{200B}",
                "last_name": "\u{2066}Lee\u{2069}",
                "external_id": "crm-\u{FEFF}1",
                "roles": ["viewer", "admin\u{00AD}"],
                "message": "open \u{202E}fdp.exe",
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.body);
    assert_eq!(
        field_codes(&reply.body),
        invalid_characters(&["external_id", "first_name", "last_name", "message", "roles.1"])
    );
    // A message keeps its implicit direction marks; only overrides are refused.
    let marked = api
        .invite(
            &acme,
            json!({"email": "bob@globex.test", "message": "\u{05E9}\u{05DC}\u{05D5}\u{05DD}\u{200F} (hello)", "send_email": false}),
        )
        .await;
    assert_eq!(marked.status, StatusCode::CREATED, "{}", marked.body);
    let token = marked.body["accept_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();

    let bulk = api
        .call(
            Method::POST,
            "/v1/invitations/bulk",
            Some(&acme),
            Some(json!({"invitations": [
                {"email": "c@x.test", "first_name": "Ca\u{2067}rl"},
                {"email": "d@x.test"}
            ]})),
        )
        .await;
    assert_eq!(bulk.status, StatusCode::OK, "{}", bulk.body);
    let failed = &bulk.body["failed"][0];
    assert_eq!(failed["index"], 0, "{}", bulk.body);
    assert_eq!(
        field_codes(&failed["error"]),
        invalid_characters(&["first_name"]),
        "{}",
        bulk.body
    );
    assert_eq!(bulk.body["successful"].as_array().map(Vec::len), Some(1));

    let accept = api
        .call(
            Method::POST,
            &format!("/v1/invitation-links/{token}/accept"),
            None,
            Some(json!({"business_name": "Acme\u{202E}gnp.exe", "first_name": "\u{200E}Nia"})),
        )
        .await;
    assert_eq!(accept.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", accept.body);
    assert_eq!(
        field_codes(&accept.body),
        invalid_characters(&["business_name", "first_name"])
    );
    let accepted = api
        .call(
            Method::POST,
            &format!("/v1/invitation-links/{token}/accept"),
            None,
            Some(json!({"business_name": "Globex", "first_name": "Nia"})),
        )
        .await;
    assert_eq!(
        accepted.status,
        StatusCode::OK,
        "the refusal used nothing up: {}",
        accepted.body
    );

    let evil = api
        .call(
            Method::POST,
            "/v1/admin/businesses",
            Some(ADMIN),
            Some(json!({"name": "Acme\u{202E}gnp.exe", "user": {"email": "x@evil.test", "last_name": "X\u{200D}"}})),
        )
        .await;
    assert_eq!(evil.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", evil.body);
    assert_eq!(
        field_codes(&evil.body),
        invalid_characters(&["name", "user.last_name"]),
        "{}",
        evil.body
    );
    let added = api
        .call(
            Method::POST,
            &format!("/v1/admin/businesses/{acme_id}/users"),
            Some(ADMIN),
            Some(json!({"email": "y@acme.test", "first_name": "Y\u{2060}"})),
        )
        .await;
    assert_eq!(added.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", added.body);
    assert_eq!(field_codes(&added.body), invalid_characters(&["first_name"]));
}
