//! The HTTP API end to end: status codes, shapes and problem documents of
//! every endpoint, run on the in-memory store, on SQLite and on PostgreSQL.

#[macro_use]
mod common;

use actix_web::http::{Method, StatusCode, header};
use actix_web::{App, test};
use common::{ADMIN, Api, codes};
use rsvp_http::configure;
use serde_json::{Value, json};
use time::Duration;

on_every_backend!(
    provisioning_a_business_returns_its_user_and_an_api_key_shown_once,
    an_api_key_never_reaches_the_operator_api,
    the_operator_api_is_off_without_an_admin_token,
    a_missing_or_unknown_api_key_is_401_with_www_authenticate,
    creating_an_invitation_answers_201_with_every_field_of_the_brief,
    invalid_fields_are_422_listing_every_field_at_once,
    framework_errors_are_problem_documents_too,
    one_pending_invitation_per_email_self_invites_and_connections_are_refused,
    accepting_connects_both_businesses_and_every_change_is_an_event,
    another_tenants_invitation_is_404_everywhere,
    lists_are_newest_first_keyset_paged_and_filtered,
    received_lists_leave_out_cancelled_invitations,
    a_second_resend_within_the_cooldown_is_429_with_retry_after,
    without_email_the_accept_url_comes_once_and_accepting_by_link_creates_the_invitee,
    bulk_items_succeed_or_fail_on_their_own,
    operations_endpoints_answer_and_count_requests,
    a_request_id_is_echoed_or_minted
);

async fn provisioning_a_business_returns_its_user_and_an_api_key_shown_once(api: Api) {
    let reply = api
        .call(
            Method::POST,
            "/v1/admin/businesses",
            Some(ADMIN),
            Some(json!({"name": "Acme", "user": {"email": "ann@acme.test"}})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.body["business"]["name"], "Acme");
    assert_eq!(reply.body["user"]["email"], "ann@acme.test");
    assert_eq!(reply.body["user"]["business_id"], reply.body["business"]["id"]);
    assert!(reply.body["api_key"].as_str().unwrap().starts_with("rsvp_"));
    let business = reply.body["business"]["id"].as_str().unwrap();
    let added = api
        .call(
            Method::POST,
            &format!("/v1/admin/businesses/{business}/users"),
            Some(ADMIN),
            Some(json!({"email": "carl@acme.test"})),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let taken = api
        .call(
            Method::POST,
            &format!("/v1/admin/businesses/{business}/users"),
            Some(ADMIN),
            Some(json!({"email": "CARL@acme.test"})),
        )
        .await;
    assert_eq!(
        (taken.status, taken.body["code"].as_str()),
        (StatusCode::CONFLICT, Some("email_taken"))
    );
}

async fn an_api_key_never_reaches_the_operator_api(api: Api) {
    let (_, key) = api.business("Acme", "ann@acme.test").await;
    let reply = api
        .call(
            Method::POST,
            "/v1/admin/businesses",
            Some(&key),
            Some(json!({"name": "X"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = api
        .call(Method::POST, "/v1/admin/businesses", None, Some(json!({"name": "X"})))
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

async fn the_operator_api_is_off_without_an_admin_token(mut api: Api) {
    api.state.config.admin_token = None;
    let reply = api
        .call(
            Method::POST,
            "/v1/admin/businesses",
            Some(ADMIN),
            Some(json!({"name": "X"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

async fn a_missing_or_unknown_api_key_is_401_with_www_authenticate(api: Api) {
    for key in [None, Some("rsvp_not-a-key")] {
        let reply = api.call(Method::GET, "/v1/invitations/sent", key, None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.headers.get(header::WWW_AUTHENTICATE).unwrap(), "Bearer");
    }
}

async fn creating_an_invitation_answers_201_with_every_field_of_the_brief(api: Api) {
    let (acme, key) = api.business("Acme", "ann@acme.test").await;
    let reply = api
        .invite(
            &key,
            json!({
                "email": "  Bob@Globex.test ", "message": "Join us", "custom_data": {"key1": "v", "key2": true, "key3": 1234},
                "roles": ["supplier"], "first_name": "Bob", "last_name": "Stone", "phone": "+49 30 1234567",
                "external_id": "crm-1", "source_is_invitee": true, "expires_in_days": 30
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let body = &reply.body;
    assert_eq!(
        reply.headers.get(header::LOCATION).unwrap().to_str().unwrap(),
        format!("/v1/invitations/{}", body["id"].as_str().unwrap())
    );
    assert_eq!(body["business_id"], acme.as_str());
    assert_eq!(body["email"], "Bob@Globex.test");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["custom_data"], json!({"key1": "v", "key2": true, "key3": 1234}));
    assert_eq!(body["roles"], json!(["supplier"]));
    assert_eq!(body["phone"], "+49301234567");
    assert_eq!(body["source_is_invitee"], true);
    assert_eq!(body["email_delivery"], "queued");
    assert_eq!(body["invitee_business_id"], Value::Null);
    assert_eq!(body["resolved_at"], Value::Null);
    assert_eq!(body["created_at"], "2027-01-15T08:00:00Z");
    assert_eq!(body["expires_at"], "2027-02-14T08:00:00Z");
    assert!(body.get("accept_url").is_none(), "the link travels only by email");
    for field in [
        "sent_by_user_id",
        "updated_at",
        "first_name",
        "last_name",
        "external_id",
        "message",
    ] {
        assert!(body.get(field).is_some(), "{field}");
    }
}

async fn invalid_fields_are_422_listing_every_field_at_once(api: Api) {
    let (_, key) = api.business("Acme", "ann@acme.test").await;
    let reply = api
        .invite(
            &key,
            json!({"email": "nope", "message": "m".repeat(1001), "custom_data": {"__proto__": 1, "n": null},
                   "expires_in_days": 91, "source_is_invitee": "yes", "colour": "red"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["code"], "validation_failed");
    let found = codes(&reply.body);
    for expected in [
        ("colour", "unknown_field"),
        ("source_is_invitee", "invalid_type"),
        ("email", "invalid_email"),
        ("message", "too_long"),
        ("custom_data.__proto__", "forbidden_key"),
        ("custom_data.n", "invalid_type"),
        ("expires_in_days", "out_of_range"),
    ] {
        assert!(
            found.contains(&(expected.0.into(), expected.1.into())),
            "{expected:?} in {found:?}"
        );
    }
    let listed = api.call(Method::GET, "/v1/invitations/sent", Some(&key), None).await;
    assert_eq!(listed.body["data"], json!([]), "nothing was written");
}

async fn framework_errors_are_problem_documents_too(api: Api) {
    let (_, key) = api.business("Acme", "ann@acme.test").await;
    let auth = (header::AUTHORIZATION, format!("Bearer {key}"));
    let malformed = api
        .raw(
            test::TestRequest::post()
                .uri("/v1/invitations")
                .insert_header(auth.clone())
                .insert_header((header::CONTENT_TYPE, "application/json"))
                .set_payload("{\"email\":"),
        )
        .await;
    assert_eq!(
        (malformed.status, malformed.body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json"))
    );
    let media = api
        .raw(
            test::TestRequest::post()
                .uri("/v1/invitations")
                .insert_header(auth.clone())
                .insert_header((header::CONTENT_TYPE, "text/plain"))
                .set_payload("email=a@b.test"),
        )
        .await;
    assert_eq!(media.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = api
        .invite(&key, json!({"email": "a@b.test", "message": "x".repeat(20_000)}))
        .await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
    let unknown = api.call(Method::GET, "/v1/nothing-here", Some(&key), None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let root_unknown = api.call(Method::GET, "/nope", None, None).await;
    assert_eq!(root_unknown.status, StatusCode::NOT_FOUND);
    let method = api.call(Method::DELETE, "/v1/invitations", Some(&key), None).await;
    assert_eq!(method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(method.headers.get(header::ALLOW).unwrap(), "POST");
    let path = api
        .call(Method::GET, "/v1/invitations/not-a-uuid", Some(&key), None)
        .await;
    assert_eq!(
        (path.status, path.body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_path"))
    );
    for query in [
        "limit=0",
        "limit=201",
        "limit=abc",
        "cursor=garbage",
        "status=sleeping",
        "email=nope",
    ] {
        let reply = api
            .call(Method::GET, &format!("/v1/invitations/sent?{query}"), Some(&key), None)
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(reply.body["code"], "invalid_query", "{query}");
    }
    let not_object = api.invite(&key, json!(["a@b.test"])).await;
    assert_eq!(not_object.status, StatusCode::UNPROCESSABLE_ENTITY);
    let empty = api
        .raw(test::TestRequest::post().uri("/v1/invitations").insert_header(auth))
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
}

async fn one_pending_invitation_per_email_self_invites_and_connections_are_refused(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, globex) = api.business("Globex", "bob@globex.test").await;
    assert_eq!(
        api.invite(&acme, json!({"email": "bob@globex.test"})).await.status,
        StatusCode::CREATED
    );
    let again = api.invite(&acme, json!({"email": "BOB@globex.test"})).await;
    assert_eq!(
        (again.status, again.body["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_invited"))
    );
    let own = api.invite(&acme, json!({"email": "ann@acme.test"})).await;
    assert_eq!(
        (own.status, own.body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("self_invite"))
    );
    // Globex accepts: the businesses are connected, so Globex cannot invite Acme's people.
    let received = api
        .call(Method::GET, "/v1/invitations/received", Some(&globex), None)
        .await;
    let id = received.body["data"][0]["id"].as_str().unwrap().to_owned();
    let accepted = api
        .call(
            Method::PATCH,
            &format!("/v1/invitations/{id}"),
            Some(&globex),
            Some(json!({"status": "accepted"})),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    let connected = api.invite(&globex, json!({"email": "ann@acme.test"})).await;
    assert_eq!(
        (connected.status, connected.body["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_connected"))
    );
}

async fn accepting_connects_both_businesses_and_every_change_is_an_event(api: Api) {
    let (acme_id, acme) = api.business("Acme", "ann@acme.test").await;
    let (globex_id, globex) = api.business("Globex", "bob@globex.test").await;
    let created = api
        .invite(
            &acme,
            json!({"email": "bob@globex.test", "roles": ["buyer"], "custom_data": {"k": 1}}),
        )
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let seen = api
        .call(Method::GET, &format!("/v1/invitations/{id}"), Some(&globex), None)
        .await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(
        seen.body.get("custom_data").is_none(),
        "custom_data is for the sender only"
    );
    let by_sender = api
        .call(
            Method::PATCH,
            &format!("/v1/invitations/{id}"),
            Some(&acme),
            Some(json!({"status": "accepted"})),
        )
        .await;
    assert_eq!(by_sender.status, StatusCode::FORBIDDEN);
    let accepted = api
        .call(
            Method::PATCH,
            &format!("/v1/invitations/{id}"),
            Some(&globex),
            Some(json!({"status": "accepted"})),
        )
        .await;
    assert_eq!(accepted.body["status"], "accepted");
    assert_eq!(accepted.body["invitee_business_id"], globex_id.as_str());
    let again = api
        .call(
            Method::PATCH,
            &format!("/v1/invitations/{id}"),
            Some(&acme),
            Some(json!({"status": "cancelled"})),
        )
        .await;
    assert_eq!(
        (again.status, again.body["code"].as_str()),
        (StatusCode::CONFLICT, Some("invalid_transition"))
    );
    assert!(
        again.body["detail"].as_str().unwrap().contains("accepted"),
        "names the current status"
    );
    for (key, other) in [(&acme, &globex_id), (&globex, &acme_id)] {
        let connections = api.call(Method::GET, "/v1/connections", Some(key), None).await;
        assert_eq!(connections.body["data"].as_array().unwrap().len(), 1);
        assert_eq!(connections.body["data"][0]["connected_business_id"], other.as_str());
        assert_eq!(connections.body["data"][0]["roles"], json!(["buyer"]));
    }
    let events = api.call(Method::GET, "/v1/events", Some(&acme), None).await;
    let kinds: Vec<&str> = events.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["invitation.created", "invitation.accepted", "connection.created"]
    );
    let invitee_events = api.call(Method::GET, "/v1/events?limit=1", Some(&globex), None).await;
    assert_eq!(invitee_events.body["data"].as_array().unwrap().len(), 1);
    assert!(invitee_events.body["next_cursor"].is_string());
}

async fn another_tenants_invitation_is_404_everywhere(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, initech) = api.business("Initech", "eve@initech.test").await;
    let created = api.invite(&acme, json!({"email": "bob@globex.test"})).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let get = api
        .call(Method::GET, &format!("/v1/invitations/{id}"), Some(&initech), None)
        .await;
    assert_eq!(get.status, StatusCode::NOT_FOUND);
    let patch = api
        .call(
            Method::PATCH,
            &format!("/v1/invitations/{id}"),
            Some(&initech),
            Some(json!({"status": "cancelled"})),
        )
        .await;
    assert_eq!(patch.status, StatusCode::NOT_FOUND);
    let resend = api
        .call(
            Method::POST,
            &format!("/v1/invitations/{id}/resend"),
            Some(&initech),
            None,
        )
        .await;
    assert_eq!(resend.status, StatusCode::NOT_FOUND);
    for (method, path) in [
        (Method::POST, "/v1/admin/businesses".to_owned()),
        (
            Method::POST,
            format!(
                "/v1/admin/businesses/{}/users",
                created.body["business_id"].as_str().unwrap()
            ),
        ),
    ] {
        let reply = api
            .call(method, &path, Some(&initech), Some(json!({"email": "x@initech.test"})))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "an API key never reaches the operator API: {path}"
        );
    }
    for path in [
        "/v1/invitations/sent",
        "/v1/invitations/received",
        "/v1/events",
        "/v1/connections",
    ] {
        let reply = api.call(Method::GET, path, Some(&initech), None).await;
        assert_eq!(reply.body["data"], json!([]), "{path}");
    }
}

async fn lists_are_newest_first_keyset_paged_and_filtered(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    for i in 0..5 {
        api.clock.advance(Duration::seconds(1));
        assert_eq!(
            api.invite(&acme, json!({"email": format!("u{i}@x.test")})).await.status,
            StatusCode::CREATED
        );
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/invitations/sent?limit=2&cursor={c}"),
            None => "/v1/invitations/sent?limit=2".to_owned(),
        };
        let page = api.call(Method::GET, &path, Some(&acme), None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        seen.extend(
            page.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["email"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["u4@x.test", "u3@x.test", "u2@x.test", "u1@x.test", "u0@x.test"]);
    let by_email = api
        .call(Method::GET, "/v1/invitations/sent?email=U3@X.test", Some(&acme), None)
        .await;
    assert_eq!(by_email.body["data"].as_array().unwrap().len(), 1);
    api.clock.advance(Duration::days(15));
    let expired = api
        .call(Method::GET, "/v1/invitations/sent?status=expired", Some(&acme), None)
        .await;
    assert_eq!(
        expired.body["data"].as_array().unwrap().len(),
        5,
        "pending past expiry reads as expired"
    );
    let pending = api
        .call(
            Method::GET,
            "/v1/invitations/sent?status=pending,accepted",
            Some(&acme),
            None,
        )
        .await;
    assert_eq!(pending.body["data"], json!([]));
}

async fn received_lists_leave_out_cancelled_invitations(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, globex) = api.business("Globex", "bob@globex.test").await;
    let created = api.invite(&acme, json!({"email": "bob@globex.test"})).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let received = api
        .call(Method::GET, "/v1/invitations/received", Some(&globex), None)
        .await;
    assert_eq!(received.body["data"].as_array().unwrap().len(), 1);
    let cancelled = api
        .call(
            Method::PATCH,
            &format!("/v1/invitations/{id}"),
            Some(&acme),
            Some(json!({"status": "cancelled"})),
        )
        .await;
    assert_eq!(cancelled.body["status"], "cancelled");
    let received = api
        .call(Method::GET, "/v1/invitations/received", Some(&globex), None)
        .await;
    assert_eq!(received.body["data"], json!([]));
}

async fn a_second_resend_within_the_cooldown_is_429_with_retry_after(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let id = api.invite(&acme, json!({"email": "bob@globex.test"})).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/invitations/{id}/resend");
    let soon = api.call(Method::POST, &path, Some(&acme), None).await;
    assert_eq!(soon.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(soon.headers.get(header::RETRY_AFTER).unwrap(), "60");
    api.clock.advance(Duration::seconds(61));
    let later = api
        .call(
            Method::POST,
            &path,
            Some(&acme),
            Some(json!({"revoke_previous_links": true})),
        )
        .await;
    assert_eq!(later.status, StatusCode::OK, "{}", later.body);
    let bad = api
        .call(
            Method::POST,
            &path,
            Some(&acme),
            Some(json!({"revoke_previous_links": "yes"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn without_email_the_accept_url_comes_once_and_accepting_by_link_creates_the_invitee(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let created = api
        .invite(
            &acme,
            json!({"email": "new@startup.test", "send_email": false, "message": "Hi"}),
        )
        .await;
    assert_eq!(created.body["email_delivery"], Value::Null);
    let url = created.body["accept_url"].as_str().unwrap().to_owned();
    let token = url.strip_prefix("https://rsvp.test/invite/").unwrap().to_owned();
    let id = created.body["id"].as_str().unwrap().to_owned();
    let fetched = api
        .call(Method::GET, &format!("/v1/invitations/{id}"), Some(&acme), None)
        .await;
    assert!(fetched.body.get("accept_url").is_none(), "accept_url is shown once");
    let preview = api
        .call(Method::GET, &format!("/v1/invitation-links/{token}"), None, None)
        .await;
    assert_eq!(preview.body["sender_name"], "Acme");
    assert_eq!(preview.body["message"], "Hi");
    assert!(preview.body.get("custom_data").is_none());
    let nameless = api
        .call(
            Method::POST,
            &format!("/v1/invitation-links/{token}/accept"),
            None,
            Some(json!({})),
        )
        .await;
    assert_eq!(
        codes(&nameless.body),
        [("business_name".to_owned(), "required".to_owned())]
    );
    let accepted = api
        .call(
            Method::POST,
            &format!("/v1/invitation-links/{token}/accept"),
            None,
            Some(json!({"business_name": "Startup", "first_name": "Nia"})),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    assert_eq!(accepted.body["status"], "accepted");
    assert!(accepted.body["connection"]["id"].is_string());
    let reused = api
        .call(
            Method::POST,
            &format!("/v1/invitation-links/{token}/decline"),
            None,
            None,
        )
        .await;
    assert_eq!(reused.status, StatusCode::CONFLICT, "a link is single use");
    let unknown = api
        .call(Method::GET, "/v1/invitation-links/never-issued", None, None)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

async fn bulk_items_succeed_or_fail_on_their_own(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let reply = api
        .call(
            Method::POST,
            "/v1/invitations/bulk",
            Some(&acme),
            Some(json!({"invitations": [
                {"email": "a@x.test", "message": "hello"},
                {"email": "A@x.test"},
                {"email": "broken"},
                {"email": "ann@acme.test"},
                {"email": "b@x.test"}
            ]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let ok: Vec<&str> = reply.body["successful"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["email"].as_str().unwrap())
        .collect();
    assert_eq!(ok, ["a@x.test", "b@x.test"]);
    let failed: Vec<(u64, &str, &str)> = reply.body["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["index"].as_u64().unwrap(),
                f["email"].as_str().unwrap(),
                f["error"]["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        failed,
        [
            (1, "A@x.test", "duplicate_in_request"),
            (2, "broken", "validation_failed"),
            (3, "ann@acme.test", "self_invite")
        ]
    );
    let too_many = api
        .call(
            Method::POST,
            "/v1/invitations/bulk",
            Some(&acme),
            Some(json!({"invitations": vec![json!({"email": "a@b.test"}); 1001]})),
        )
        .await;
    assert_eq!(too_many.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn operations_endpoints_answer_and_count_requests(api: Api) {
    assert_eq!(
        api.call(Method::GET, "/healthz", None, None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        api.call(Method::GET, "/readyz", None, None).await.body["status"],
        "ready"
    );
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    api.call(Method::GET, "/v1/invitations/sent", Some(&acme), None).await;
    let service = test::init_service(App::new().configure(configure(api.state.clone()))).await;
    let request = test::TestRequest::get().uri("/metrics").to_request();
    let text = String::from_utf8(test::call_and_read_body(&service, request).await.to_vec()).unwrap();
    assert!(
        text.contains("rsvp_http_requests_total{route=\"/v1/invitations/sent\",method=\"GET\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(text.contains("rsvp_email_outbox_depth 0"), "{text}");
    assert!(text.contains("rsvp_webhook_outbox_depth 0"), "{text}");
    assert!(text.contains("route=\"/v1/admin/businesses\""), "{text}");
}

async fn a_request_id_is_echoed_or_minted(api: Api) {
    let echoed = api
        .raw(
            test::TestRequest::get()
                .uri("/v1/events")
                .insert_header(("x-request-id", "abc-123")),
        )
        .await;
    assert_eq!(echoed.headers.get("x-request-id").unwrap(), "abc-123");
    let minted = api.call(Method::GET, "/v1/events", None, None).await;
    assert_eq!(minted.headers.get("x-request-id").unwrap().len(), 32);
}
