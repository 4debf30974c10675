//! The operator lifecycle over HTTP — businesses, users, named API keys,
//! suspension, deactivation, erasure, `GET /v1/me` — on the in-memory store,
//! on SQLite and on PostgreSQL.

#[macro_use]
mod common;

use actix_web::http::{Method, StatusCode, header};
use common::{ADMIN, Api};
use rsvp_app::Clock as _;
use serde_json::{Value, json};
use time::Duration;

on_every_backend!(
    named_api_keys_are_created_listed_without_secrets_and_a_revoked_one_is_401_at_once,
    an_expired_key_is_401_from_its_expiry_on,
    a_deactivated_users_keys_are_401_until_it_is_reactivated,
    a_suspended_business_gets_403_and_its_links_are_dead_until_it_is_reinstated,
    businesses_are_listed_paged_filtered_by_name_and_shown_with_their_users,
    an_erasure_replaces_the_persons_data_everywhere_cancels_kills_links_and_drops_queued_emails,
    me_answers_the_callers_user_and_business,
    the_lifecycle_endpoints_answer_only_the_operator,
);

/// A business with its first user: (business id, user id, API key, API key id).
async fn tenant(api: &Api, name: &str, email: &str) -> (String, String, String, String) {
    let reply = api
        .call(
            Method::POST,
            "/v1/admin/businesses",
            Some(ADMIN),
            Some(json!({"name": name, "user": {"email": email, "first_name": "Ann"}})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let text = |v: &Value| v.as_str().unwrap().to_owned();
    (
        text(&reply.body["business"]["id"]),
        text(&reply.body["user"]["id"]),
        text(&reply.body["api_key"]),
        text(&reply.body["api_key_id"]),
    )
}

async fn status_with(api: &Api, key: &str) -> StatusCode {
    api.call(Method::GET, "/v1/me", Some(key), None).await.status
}

async fn named_api_keys_are_created_listed_without_secrets_and_a_revoked_one_is_401_at_once(api: Api) {
    let (_, user, first_key, first_id) = tenant(&api, "Acme", "ann@acme.test").await;
    let keys_path = format!("/v1/admin/users/{user}/api-keys");
    let made = api
        .call(
            Method::POST,
            &keys_path,
            Some(ADMIN),
            Some(json!({"name": "ci deploy"})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    let secret = made.body["api_key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("rsvp_"));
    assert_eq!(made.body["prefix"].as_str().unwrap(), &secret[..13]);
    assert_eq!(made.body["name"], "ci deploy");
    assert_eq!(made.body["expires_at"], Value::Null);
    assert_eq!(made.body["last_used_at"], Value::Null);

    assert_eq!(status_with(&api, &secret).await, StatusCode::OK);
    let listed = api.call(Method::GET, &keys_path, Some(ADMIN), None).await;
    assert_eq!(listed.status, StatusCode::OK);
    let data = listed.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "{}", listed.body);
    assert_eq!(data[0]["id"], made.body["id"], "newest first");
    assert_eq!(data[1]["id"].as_str(), Some(first_id.as_str()));
    assert_eq!(data[1]["name"], "default");
    assert!(
        data[0]["last_used_at"].is_string(),
        "the use was recorded: {}",
        listed.body
    );
    assert!(
        data.iter().all(|k| k.get("api_key").is_none()),
        "no secrets in the list"
    );
    assert!(!listed.text.contains(&secret));

    let id = made.body["id"].as_str().unwrap();
    let revoked = api
        .call(Method::DELETE, &format!("/v1/admin/api-keys/{id}"), Some(ADMIN), None)
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(
        status_with(&api, &secret).await,
        StatusCode::UNAUTHORIZED,
        "refused at once"
    );
    assert_eq!(
        status_with(&api, &first_key).await,
        StatusCode::OK,
        "the other key still works"
    );
    let again = api
        .call(Method::DELETE, &format!("/v1/admin/api-keys/{id}"), Some(ADMIN), None)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    // Refusals.
    let nobody = "/v1/admin/users/0190a4e6-0000-7000-8000-000000000000/api-keys";
    for (path, body, status) in [
        (nobody, json!({"name": "x"}), StatusCode::NOT_FOUND),
        (keys_path.as_str(), json!({}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            keys_path.as_str(),
            json!({"name": "x", "extra": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            keys_path.as_str(),
            json!({"name": "x", "expires_at": "2000-01-01T00:00:00Z"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            keys_path.as_str(),
            json!({"name": "x", "expires_at": "soon"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let reply = api.call(Method::POST, path, Some(ADMIN), Some(body.clone())).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
    }
    // A year the store could not hold is a field error, not a 503.
    let far = api
        .call(
            Method::POST,
            &keys_path,
            Some(ADMIN),
            Some(json!({"name": "x", "expires_at": "4429-02-10T14:18:06+22:29"})),
        )
        .await;
    assert_eq!(far.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", far.body);
    assert_eq!(far.body["errors"][0]["field"], "expires_at");
    assert_eq!(far.body["errors"][0]["code"], "too_far");
    let bad_id = api
        .call(Method::DELETE, "/v1/admin/api-keys/not-a-uuid", Some(ADMIN), None)
        .await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST);
}

async fn an_expired_key_is_401_from_its_expiry_on(api: Api) {
    let (_, user, _, _) = tenant(&api, "Acme", "ann@acme.test").await;
    let expires_at = api.clock.now() + Duration::hours(1);
    let made = api
        .call(
            Method::POST,
            &format!("/v1/admin/users/{user}/api-keys"),
            Some(ADMIN),
            Some(json!({"name": "temporary", "expires_at": rsvp_http::dto::rfc3339(expires_at)})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(
        made.body["expires_at"].as_str(),
        Some(rsvp_http::dto::rfc3339(expires_at).as_str())
    );
    let secret = made.body["api_key"].as_str().unwrap();
    assert_eq!(status_with(&api, secret).await, StatusCode::OK);
    api.clock.advance(Duration::minutes(59));
    assert_eq!(status_with(&api, secret).await, StatusCode::OK);
    api.clock.advance(Duration::minutes(1));
    let refused = api.call(Method::GET, "/v1/invitations/sent", Some(secret), None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.headers.get(header::WWW_AUTHENTICATE).unwrap(), "Bearer");
}

async fn a_deactivated_users_keys_are_401_until_it_is_reactivated(api: Api) {
    let (_, user, key, _) = tenant(&api, "Acme", "ann@acme.test").await;
    let path = format!("/v1/admin/users/{user}");
    let changed = api
        .call(
            Method::PATCH,
            &path,
            Some(ADMIN),
            Some(json!({"deactivated": true, "first_name": null, "last_name": "Lee"})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["deactivated"], true);
    assert!(changed.body["deactivated_at"].is_string());
    assert_eq!(changed.body["first_name"], Value::Null);
    assert_eq!(changed.body["last_name"], "Lee");
    assert_eq!(status_with(&api, &key).await, StatusCode::UNAUTHORIZED);
    let no_key = api
        .call(
            Method::POST,
            &format!("{path}/api-keys"),
            Some(ADMIN),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(
        (no_key.status, no_key.body["code"].as_str()),
        (StatusCode::CONFLICT, Some("user_deactivated"))
    );

    let back = api
        .call(Method::PATCH, &path, Some(ADMIN), Some(json!({"deactivated": false})))
        .await;
    assert_eq!(back.status, StatusCode::OK);
    assert_eq!(back.body["deactivated_at"], Value::Null);
    assert_eq!(back.body["last_name"], "Lee", "a field left out stays");
    assert_eq!(status_with(&api, &key).await, StatusCode::OK);

    for body in [
        json!({"deactivated": "yes"}),
        json!({"first_name": 3}),
        json!({"email": "x@y.test"}),
    ] {
        let reply = api.call(Method::PATCH, &path, Some(ADMIN), Some(body.clone())).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let unknown = api
        .call(
            Method::PATCH,
            "/v1/admin/users/0190a4e6-0000-7000-8000-000000000000",
            Some(ADMIN),
            Some(json!({})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

async fn a_suspended_business_gets_403_and_its_links_are_dead_until_it_is_reinstated(api: Api) {
    let (acme, _, key, _) = tenant(&api, "Acme", "ann@acme.test").await;
    let shared = api
        .invite(&key, json!({"email": "bob@globex.test", "send_email": false}))
        .await;
    assert_eq!(shared.status, StatusCode::CREATED);
    let url = shared.body["accept_url"].as_str().unwrap();
    let token = url.rsplit('/').next().unwrap().to_owned();

    let path = format!("/v1/admin/businesses/{acme}");
    let suspended = api
        .call(Method::PATCH, &path, Some(ADMIN), Some(json!({"suspended": true})))
        .await;
    assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.body);
    assert_eq!(suspended.body["suspended"], true);

    let refused = api.call(Method::GET, "/v1/invitations/sent", Some(&key), None).await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("business_suspended"))
    );
    let page = api
        .raw(actix_web::test::TestRequest::get().uri(&format!("/invite/{token}")))
        .await;
    assert_eq!(page.status, StatusCode::GONE);
    assert!(page.text.contains("no longer available"), "{}", page.text);
    let declined = api
        .raw(actix_web::test::TestRequest::post().uri(&format!("/invite/{token}/decline")))
        .await;
    assert_eq!(declined.status, StatusCode::GONE);
    for (method, suffix) in [(Method::GET, ""), (Method::POST, "/accept"), (Method::POST, "/decline")] {
        let reply = api
            .call(method, &format!("/v1/invitation-links/{token}{suffix}"), None, None)
            .await;
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (StatusCode::CONFLICT, Some("business_suspended")),
            "{suffix}"
        );
    }

    let reinstated = api
        .call(Method::PATCH, &path, Some(ADMIN), Some(json!({"suspended": false})))
        .await;
    assert_eq!(reinstated.body["suspended_at"], Value::Null);
    assert_eq!(status_with(&api, &key).await, StatusCode::OK);
    let preview = api
        .call(Method::GET, &format!("/v1/invitation-links/{token}"), None, None)
        .await;
    assert_eq!(preview.status, StatusCode::OK, "the link works again");
    assert_eq!(preview.body["status"], "pending");
}

async fn businesses_are_listed_paged_filtered_by_name_and_shown_with_their_users(api: Api) {
    let (acme, ann, _, _) = tenant(&api, "Acme Corp", "ann@acme.test").await;
    api.clock.advance(Duration::seconds(1));
    tenant(&api, "Globex", "bob@globex.test").await;
    api.clock.advance(Duration::seconds(1));
    tenant(&api, "ACME Süd", "cid@acme-sued.test").await;
    let added = api
        .call(
            Method::POST,
            &format!("/v1/admin/businesses/{acme}/users"),
            Some(ADMIN),
            Some(json!({"email": "dee@acme.test"})),
        )
        .await;
    assert!(added.body["api_key_id"].is_string(), "{}", added.body);

    let mut names = Vec::new();
    let mut path = "/v1/admin/businesses?limit=1".to_owned();
    loop {
        let page = api.call(Method::GET, &path, Some(ADMIN), None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        names.extend(page.body["data"].as_array().unwrap().iter().map(|b| b["name"].clone()));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/admin/businesses?limit=1&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(names, [json!("ACME Süd"), json!("Globex"), json!("Acme Corp")]);
    let filtered = api
        .call(Method::GET, "/v1/admin/businesses?name=aCmE", Some(ADMIN), None)
        .await;
    let found: Vec<&Value> = filtered.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| &b["name"])
        .collect();
    assert_eq!(found, [&json!("ACME Süd"), &json!("Acme Corp")]);
    for bad in ["limit=0", "cursor=garbage"] {
        let reply = api
            .call(Method::GET, &format!("/v1/admin/businesses?{bad}"), Some(ADMIN), None)
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
    }

    let detail = api
        .call(Method::GET, &format!("/v1/admin/businesses/{acme}"), Some(ADMIN), None)
        .await;
    assert_eq!(detail.status, StatusCode::OK);
    assert_eq!(detail.body["business"]["name"], "Acme Corp");
    assert_eq!(detail.body["business"]["suspended"], false);
    let users = detail.body["users"].as_array().unwrap();
    assert_eq!(users.len(), 2);
    assert!(users.iter().any(|u| u["id"].as_str() == Some(ann.as_str())));
    assert_eq!(detail.body["users_next_cursor"], Value::Null);
    let listed = api
        .call(
            Method::GET,
            &format!("/v1/admin/businesses/{acme}/users?limit=1"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
    assert!(listed.body["next_cursor"].is_string());

    let renamed = api
        .call(
            Method::PATCH,
            &format!("/v1/admin/businesses/{acme}"),
            Some(ADMIN),
            Some(json!({"name": "Acme Holding"})),
        )
        .await;
    assert_eq!(renamed.body["name"], "Acme Holding");
    let bad = api
        .call(
            Method::PATCH,
            &format!("/v1/admin/businesses/{acme}"),
            Some(ADMIN),
            Some(json!({"name": "", "suspended": "no"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        bad.body["errors"].as_array().unwrap().len(),
        1,
        "the type error first: {}",
        bad.body
    );
    let ghost = "/v1/admin/businesses/0190a4e6-0000-7000-8000-000000000000";
    assert_eq!(
        api.call(Method::GET, ghost, Some(ADMIN), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.call(Method::GET, &format!("{ghost}/users"), Some(ADMIN), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.call(Method::PATCH, ghost, Some(ADMIN), Some(json!({"suspended": true})))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn an_erasure_replaces_the_persons_data_everywhere_cancels_kills_links_and_drops_queued_emails(api: Api) {
    let (_, _, acme_key, _) = tenant(&api, "Acme", "ann@acme.test").await;
    let (_, _, globex_key, _) = tenant(&api, "Globex", "bob@globex.test").await;
    let (_, _, pat_key, _) = tenant(&api, "Pat's shop", "pat@person.test").await;
    let emailed = api
        .invite(
            &acme_key,
            json!({"email": "PAT@person.test", "first_name": "Pat", "last_name": "Doe", "phone": "+49 30 1234567",
                   "message": "Hi Pat", "custom_data": {"crm": "A-1"}}),
        )
        .await;
    assert_eq!(emailed.status, StatusCode::CREATED, "{}", emailed.body);
    let shared = api
        .invite(&globex_key, json!({"email": "pat@person.test", "send_email": false}))
        .await;
    let token = shared.body["accept_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let bystander = api.invite(&acme_key, json!({"email": "someone@else.test"})).await;
    assert_eq!(bystander.status, StatusCode::CREATED);
    let store = api.ports.store.clone();
    assert_eq!(store.outbox().outbox_depth().await.unwrap(), 2);

    let erased = api
        .call(
            Method::POST,
            "/v1/admin/erasures",
            Some(ADMIN),
            Some(json!({"email": " Pat@Person.TEST "})),
        )
        .await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.body);
    assert_eq!(
        erased.body,
        json!({"invitations_erased": 2, "invitations_cancelled": 2, "emails_dropped": 1, "users_deactivated": 1})
    );
    assert_eq!(
        store.outbox().outbox_depth().await.unwrap(),
        1,
        "the person's queued email is dropped"
    );
    let id = emailed.body["id"].as_str().unwrap();
    let seen = api
        .call(Method::GET, &format!("/v1/invitations/{id}"), Some(&acme_key), None)
        .await;
    assert_eq!(seen.status, StatusCode::OK);
    assert_eq!(
        seen.body["email"].as_str().unwrap(),
        format!("erased-{}@erased.invalid", id.replace('-', ""))
    );
    for field in ["first_name", "last_name", "phone", "message"] {
        assert_eq!(seen.body[field], Value::Null, "{field}");
    }
    assert_eq!(seen.body["custom_data"], json!({}));
    assert_eq!(seen.body["status"], "cancelled");
    assert!(!seen.text.to_lowercase().contains("pat"), "{}", seen.text);
    let link = api
        .call(Method::GET, &format!("/v1/invitation-links/{token}"), None, None)
        .await;
    assert_eq!(link.status, StatusCode::NOT_FOUND, "the link is dead");
    let events = api.call(Method::GET, "/v1/events", Some(&acme_key), None).await;
    let kinds: Vec<&str> = events.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["invitation.created", "invitation.created", "invitation.erased"]);
    assert_eq!(
        status_with(&api, &pat_key).await,
        StatusCode::UNAUTHORIZED,
        "the user is deactivated"
    );

    let again = api
        .call(
            Method::POST,
            "/v1/admin/erasures",
            Some(ADMIN),
            Some(json!({"email": "pat@person.test"})),
        )
        .await;
    assert_eq!(
        again.body,
        json!({"invitations_erased": 0, "invitations_cancelled": 0, "emails_dropped": 0, "users_deactivated": 0})
    );
    for body in [json!({}), json!({"email": "not an email"}), json!({"email": 1})] {
        let reply = api
            .call(Method::POST, "/v1/admin/erasures", Some(ADMIN), Some(body.clone()))
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
}

async fn me_answers_the_callers_user_and_business(api: Api) {
    let (acme, ann, key, _) = tenant(&api, "Acme", "ann@acme.test").await;
    let me = api.call(Method::GET, "/v1/me", Some(&key), None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["user"]["id"].as_str(), Some(ann.as_str()));
    assert_eq!(me.body["user"]["email"], "ann@acme.test");
    assert_eq!(me.body["business"]["id"].as_str(), Some(acme.as_str()));
    assert_eq!(me.body["business"]["name"], "Acme");
    let anonymous = api.call(Method::GET, "/v1/me", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let admin = api.call(Method::GET, "/v1/me", Some(ADMIN), None).await;
    assert_eq!(
        admin.status,
        StatusCode::UNAUTHORIZED,
        "the operator token is no API key"
    );
}

async fn the_lifecycle_endpoints_answer_only_the_operator(api: Api) {
    let (acme, user, key, key_id) = tenant(&api, "Acme", "ann@acme.test").await;
    for (method, path) in [
        (Method::GET, "/v1/admin/businesses".to_owned()),
        (Method::GET, format!("/v1/admin/businesses/{acme}")),
        (Method::PATCH, format!("/v1/admin/businesses/{acme}")),
        (Method::GET, format!("/v1/admin/businesses/{acme}/users")),
        (Method::PATCH, format!("/v1/admin/users/{user}")),
        (Method::GET, format!("/v1/admin/users/{user}/api-keys")),
        (Method::POST, format!("/v1/admin/users/{user}/api-keys")),
        (Method::DELETE, format!("/v1/admin/api-keys/{key_id}")),
        (Method::POST, "/v1/admin/erasures".to_owned()),
    ] {
        let reply = api.call(method.clone(), &path, Some(&key), Some(json!({}))).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    assert_eq!(status_with(&api, &key).await, StatusCode::OK, "nothing was revoked");
}
