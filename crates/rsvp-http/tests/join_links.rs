//! Join links through HTTP, black box: a business's links (`/v1/join-links`),
//! their public preview and redemption by another business's key
//! (`/v1/join/{token}`), the connection requests of the links that ask for
//! approval (`/v1/connection-requests`), the events and webhooks they make,
//! the failed-attempts throttle on unknown tokens and `Idempotency-Key` on a
//! redemption — on every backend (the throttle in memory).

#[macro_use]
mod common;

use std::net::SocketAddr;

use actix_web::http::{Method, StatusCode, header};
use actix_web::test::TestRequest;
use common::{ADMIN, Api, Reply, codes};
use rsvp_http::idempotency::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED};
use serde_json::{Value, json};
use time::Duration;

on_every_backend!(
    a_created_link_answers_its_url_and_token_once_and_invalid_fields_are_422_each_named_with_nothing_stored,
    anyone_without_a_key_previews_business_roles_expiry_approval_and_status_but_never_uses_note_or_custom_data_and_a_look_never_redeems,
    a_redemption_connects_the_link_owner_as_inviter_and_both_businesses_see_the_connection_its_events_and_webhooks,
    redeeming_a_link_twice_is_409_already_connected_and_uses_it_once,
    redeeming_your_own_link_is_422_self_join,
    a_used_up_link_is_410_join_link_used_up_and_previews_as_used_up,
    a_revoked_link_is_410_join_link_revoked_and_previews_as_revoked,
    an_expired_link_is_410_join_link_expired_and_previews_as_expired,
    an_unknown_token_is_404_to_preview_and_to_redeem,
    a_link_requiring_approval_makes_a_pending_request_that_only_the_link_owner_answers_once,
    a_declined_request_frees_its_use_so_another_business_can_redeem_a_single_use_link,
    the_link_of_a_suspended_business_previews_and_redeems_as_409_business_suspended,
    a_retried_redemption_with_the_same_idempotency_key_replays_the_201_and_makes_one_connection,
);

/// Makes a join link of the business of `key`; answers the 201's body.
async fn create_link(api: &Api, key: &str, body: Value) -> Value {
    let reply = api.call(Method::POST, "/v1/join-links", Some(key), Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body
}

fn token_of(created: &Value) -> String {
    created["token"].as_str().unwrap().to_owned()
}

fn id_of(body: &Value) -> String {
    body["id"].as_str().unwrap().to_owned()
}

async fn preview(api: &Api, token: &str, key: Option<&str>) -> Reply {
    api.call(Method::GET, &format!("/v1/join/{token}"), key, None).await
}

async fn redeem(api: &Api, token: &str, key: &str) -> Reply {
    api.call(Method::POST, &format!("/v1/join/{token}"), Some(key), None)
        .await
}

async fn link(api: &Api, key: &str, id: &str) -> Value {
    let reply = api
        .call(Method::GET, &format!("/v1/join-links/{id}"), Some(key), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

async fn list(api: &Api, key: &str, path: &str) -> Vec<Value> {
    let reply = api.call(Method::GET, path, Some(key), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text);
    reply.body["data"].as_array().unwrap().clone()
}

/// The types of the events the business of `key` sees, oldest first.
async fn event_types(api: &Api, key: &str) -> Vec<String> {
    list(api, key, "/v1/events")
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_problem(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(
        (reply.status, reply.body["code"].as_str()),
        (status, Some(code)),
        "{}",
        reply.text
    );
}

/// `body` without the fields only the create answer carries.
fn without_secrets(body: &Value) -> Value {
    let mut body = body.clone();
    let object = body.as_object_mut().unwrap();
    object.remove("url");
    object.remove("token");
    body
}

async fn a_created_link_answers_its_url_and_token_once_and_invalid_fields_are_422_each_named_with_nothing_stored(
    api: Api,
) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, globex) = api.business("Globex", "bob@globex.test").await;
    let reply = api
        .call(
            Method::POST,
            "/v1/join-links",
            Some(&acme),
            Some(json!({
                "max_uses": 3, "expires_in_days": 10, "roles": ["supplier"],
                "custom_data": {"tier": "gold"}, "requires_approval": false, "note": "Spring fair"
            })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    let created = reply.body;
    let id = id_of(&created);
    let token = token_of(&created);
    assert!(token.len() >= 32, "an unguessable token: {token}");
    assert_eq!(
        reply.headers.get(header::LOCATION).unwrap().to_str().unwrap(),
        format!("/v1/join-links/{id}")
    );
    assert_eq!(
        created,
        json!({
            "id": id, "url": format!("https://rsvp.test/join/{token}"), "token": token,
            "status": "active", "max_uses": 3, "uses": 0, "roles": ["supplier"],
            "custom_data": {"tier": "gold"}, "requires_approval": false, "note": "Spring fair",
            "expires_at": "2027-01-25T08:00:00Z", "revoked_at": null, "created_at": "2027-01-15T08:00:00Z"
        })
    );

    let read = link(&api, &acme, &id).await;
    assert_eq!(
        read,
        without_secrets(&created),
        "no token or url after the create answer"
    );
    let listed = list(&api, &acme, "/v1/join-links").await;
    assert_eq!(listed, [without_secrets(&created)]);
    assert!(!listed[0].to_string().contains(&token));
    let theirs = api
        .call(Method::GET, &format!("/v1/join-links/{id}"), Some(&globex), None)
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "another business's link");
    assert!(list(&api, &globex, "/v1/join-links").await.is_empty());

    api.clock.advance(Duration::minutes(1));
    let defaults = create_link(&api, &acme, json!({})).await;
    assert_eq!(
        (
            &defaults["max_uses"],
            &defaults["expires_at"],
            &defaults["requires_approval"],
            &defaults["roles"],
            &defaults["note"]
        ),
        (
            &Value::Null,
            &json!("2027-01-22T08:01:00Z"),
            &json!(false),
            &json!([]),
            &Value::Null
        ),
        "unlimited, 7 days, no approval"
    );

    for (body, expected) in [
        (json!({"max_uses": 0}), vec![("max_uses", "out_of_range")]),
        (json!({"max_uses": 10001}), vec![("max_uses", "out_of_range")]),
        (
            json!({"expires_in_days": 91}),
            vec![("expires_in_days", "out_of_range")],
        ),
        (json!({"expires_in_days": 0}), vec![("expires_in_days", "out_of_range")]),
        (
            json!({"requires_approval": "yes"}),
            vec![("requires_approval", "invalid_type")],
        ),
        (json!({"max_uses": "ten"}), vec![("max_uses", "invalid_type")]),
        (json!({"colour": "red"}), vec![("colour", "unknown_field")]),
        (
            json!({"max_uses": 10001, "expires_in_days": 91, "requires_approval": 1, "colour": "red"}),
            vec![
                ("colour", "unknown_field"),
                ("expires_in_days", "out_of_range"),
                ("max_uses", "out_of_range"),
                ("requires_approval", "invalid_type"),
            ],
        ),
    ] {
        let reply = api
            .call(Method::POST, "/v1/join-links", Some(&acme), Some(body.clone()))
            .await;
        assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        let mut found = codes(&reply.body);
        found.sort();
        let expected: Vec<(String, String)> = expected
            .into_iter()
            .map(|(f, c)| (f.to_owned(), c.to_owned()))
            .collect();
        assert_eq!(found, expected, "{body}");
    }
    let stored: Vec<String> = list(&api, &acme, "/v1/join-links").await.iter().map(id_of).collect();
    assert_eq!(
        stored,
        [id_of(&defaults), id],
        "nothing stored by a refused create, newest first"
    );
    let limits = create_link(&api, &acme, json!({"max_uses": 10000, "expires_in_days": 90})).await;
    assert_eq!(limits["max_uses"], 10000, "the bounds are allowed");
    assert_eq!(limits["expires_at"], "2027-04-15T08:01:00Z");
}

async fn anyone_without_a_key_previews_business_roles_expiry_approval_and_status_but_never_uses_note_or_custom_data_and_a_look_never_redeems(
    api: Api,
) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, globex) = api.business("Globex", "bob@globex.test").await;
    let created = create_link(
        &api,
        &acme,
        json!({"max_uses": 2, "roles": ["supplier", "partner"], "custom_data": {"secret_tier": "gold"},
               "requires_approval": true, "note": "internal note"}),
    )
    .await;
    let token = token_of(&created);
    let expected = json!({
        "business": {"name": "Acme"},
        "roles": ["supplier", "partner"],
        "expires_at": created["expires_at"],
        "requires_approval": true,
        "status": "active"
    });
    for key in [None, Some(globex.as_str()), Some(acme.as_str())] {
        for _ in 0..3 {
            let reply = preview(&api, &token, key).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
            assert_eq!(reply.body, expected, "exactly these fields, with any key or none");
            for hidden in ["internal note", "secret_tier", "gold", "uses"] {
                assert!(!reply.text.contains(hidden), "{hidden} in {}", reply.text);
            }
        }
    }
    let after = link(&api, &acme, &id_of(&created)).await;
    assert_eq!(after["uses"], 0, "a look never uses the link");
    assert_eq!(after["status"], "active");
    assert!(list(&api, &acme, "/v1/connection-requests/received").await.is_empty());
    assert!(list(&api, &globex, "/v1/connections").await.is_empty());
    assert!(
        !event_types(&api, &acme)
            .await
            .contains(&"join_link.redeemed".to_owned()),
        "no redemption event"
    );
}

async fn a_redemption_connects_the_link_owner_as_inviter_and_both_businesses_see_the_connection_its_events_and_webhooks(
    api: Api,
) {
    let (acme_id, acme) = api.business("Acme", "ann@acme.test").await;
    let (globex_id, globex) = api.business("Globex", "bob@globex.test").await;
    let mut endpoints = Vec::new();
    for key in [&acme, &globex] {
        let reply = api
            .call(
                Method::POST,
                "/v1/webhook-endpoints",
                Some(key),
                Some(json!({"url": "https://hooks.example.com/rsvp"})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        endpoints.push(id_of(&reply.body));
    }
    let created = create_link(&api, &acme, json!({"max_uses": 5, "roles": ["supplier"]})).await;
    let link_id = id_of(&created);
    api.clock.advance(Duration::minutes(1));

    let reply = redeem(&api, &token_of(&created), &globex).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let connection = reply.body["connection"].clone();
    let connection_id = id_of(&connection);
    assert_eq!(
        reply.body,
        json!({"connection": {
            "id": connection_id, "connected_business_id": acme_id, "inviter_business_id": acme_id,
            "invitee_business_id": globex_id, "invitation_id": null, "join_link_id": link_id,
            "roles": ["supplier"], "source_is_invitee": false, "created_at": "2027-01-15T08:01:00Z"
        }})
    );

    let globex_sees = list(&api, &globex, "/v1/connections").await;
    assert_eq!(globex_sees, std::slice::from_ref(&connection));
    let acme_sees = list(&api, &acme, "/v1/connections").await;
    let mut from_acme = connection.clone();
    from_acme["connected_business_id"] = json!(globex_id);
    assert_eq!(acme_sees, [from_acme], "the same connection, seen from the owner");
    let after = link(&api, &acme, &link_id).await;
    assert_eq!(
        (after["uses"].clone(), after["status"].clone()),
        (json!(1), json!("active"))
    );

    for (key, endpoint) in [(&acme, &endpoints[0]), (&globex, &endpoints[1])] {
        let events = list(&api, key, "/v1/events").await;
        let join_events: Vec<&Value> = events.iter().filter(|e| e["join_link_id"].is_string()).collect();
        let types: Vec<&str> = join_events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["join_link.redeemed", "connection.created"]);
        for event in &join_events {
            assert_eq!(event["join_link_id"], link_id.as_str());
            assert!(event.get("invitation_id").is_none(), "{event}");
            assert_eq!(event["data"]["connection_id"], connection_id.as_str(), "{event}");
            assert_eq!(event["occurred_at"], "2027-01-15T08:01:00Z");
        }
        let deliveries = list(&api, key, &format!("/v1/webhook-endpoints/{endpoint}/deliveries")).await;
        let mut delivered: Vec<&str> = deliveries
            .iter()
            .map(|d| d["event_type"].as_str().unwrap())
            .filter(|t| !t.starts_with("invitation."))
            .collect();
        delivered.sort_unstable();
        assert_eq!(
            delivered,
            ["connection.created", "join_link.redeemed"],
            "through the outbox"
        );
        let mut ids: Vec<&str> = deliveries.iter().map(|d| d["event_id"].as_str().unwrap()).collect();
        ids.sort_unstable();
        let mut expected: Vec<&str> = join_events.iter().map(|e| e["id"].as_str().unwrap()).collect();
        expected.sort_unstable();
        assert_eq!(ids, expected, "one delivery per event");
    }
}

async fn redeeming_a_link_twice_is_409_already_connected_and_uses_it_once(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, globex) = api.business("Globex", "bob@globex.test").await;
    let created = create_link(&api, &acme, json!({"max_uses": 3})).await;
    let token = token_of(&created);
    assert_eq!(redeem(&api, &token, &globex).await.status, StatusCode::CREATED);
    let again = redeem(&api, &token, &globex).await;
    assert_problem(&again, StatusCode::CONFLICT, "already_connected");
    assert_eq!(link(&api, &acme, &id_of(&created)).await["uses"], 1, "used once");
    assert_eq!(list(&api, &globex, "/v1/connections").await.len(), 1);

    let other = create_link(&api, &acme, json!({})).await;
    let through_another = redeem(&api, &token_of(&other), &globex).await;
    assert_problem(&through_another, StatusCode::CONFLICT, "already_connected");
    assert_eq!(link(&api, &acme, &id_of(&other)).await["uses"], 0);
}

async fn redeeming_your_own_link_is_422_self_join(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let created = create_link(&api, &acme, json!({})).await;
    let reply = redeem(&api, &token_of(&created), &acme).await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "self_join");
    assert_eq!(link(&api, &acme, &id_of(&created)).await["uses"], 0);
    assert!(list(&api, &acme, "/v1/connections").await.is_empty());
}

async fn a_used_up_link_is_410_join_link_used_up_and_previews_as_used_up(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, globex) = api.business("Globex", "bob@globex.test").await;
    let (_, initech) = api.business("Initech", "ian@initech.test").await;
    let created = create_link(&api, &acme, json!({"max_uses": 1})).await;
    let token = token_of(&created);
    assert_eq!(redeem(&api, &token, &globex).await.status, StatusCode::CREATED);
    let late = redeem(&api, &token, &initech).await;
    assert_problem(&late, StatusCode::GONE, "join_link_used_up");
    assert_eq!(preview(&api, &token, None).await.body["status"], "used_up");
    let after = link(&api, &acme, &id_of(&created)).await;
    assert_eq!(
        (after["uses"].clone(), after["status"].clone()),
        (json!(1), json!("used_up"))
    );
    assert!(list(&api, &initech, "/v1/connections").await.is_empty());
}

async fn a_revoked_link_is_410_join_link_revoked_and_previews_as_revoked(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, globex) = api.business("Globex", "bob@globex.test").await;
    let created = create_link(&api, &acme, json!({})).await;
    let path = format!("/v1/join-links/{}", id_of(&created));
    assert_eq!(
        api.call(Method::DELETE, &path, Some(&globex), None).await.status,
        StatusCode::NOT_FOUND,
        "only its business revokes it"
    );
    api.clock.advance(Duration::minutes(2));
    let revoked = api.call(Method::DELETE, &path, Some(&acme), None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.text);
    assert_eq!(revoked.text, "");
    api.clock.advance(Duration::minutes(1));
    let again = api.call(Method::DELETE, &path, Some(&acme), None).await;
    assert_eq!(again.status, StatusCode::NO_CONTENT, "revoking again changes nothing");

    let reply = redeem(&api, &token_of(&created), &globex).await;
    assert_problem(&reply, StatusCode::GONE, "join_link_revoked");
    let look = preview(&api, &token_of(&created), None).await;
    assert_eq!(look.status, StatusCode::OK);
    assert_eq!(look.body["status"], "revoked");
    let after = link(&api, &acme, &id_of(&created)).await;
    assert_eq!(
        (
            after["status"].clone(),
            after["revoked_at"].clone(),
            after["uses"].clone()
        ),
        (json!("revoked"), json!("2027-01-15T08:02:00Z"), json!(0)),
        "the first revocation time"
    );
    assert!(list(&api, &globex, "/v1/connections").await.is_empty());
}

async fn an_expired_link_is_410_join_link_expired_and_previews_as_expired(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, globex) = api.business("Globex", "bob@globex.test").await;
    let created = create_link(&api, &acme, json!({"expires_in_days": 1})).await;
    let token = token_of(&created);
    api.clock.advance(Duration::days(1) - Duration::seconds(1));
    assert_eq!(preview(&api, &token, None).await.body["status"], "active");
    api.clock.advance(Duration::seconds(1));
    let look = preview(&api, &token, None).await;
    assert_eq!(look.status, StatusCode::OK);
    assert_eq!(look.body["status"], "expired", "it expires at expires_at exactly");
    let reply = redeem(&api, &token, &globex).await;
    assert_problem(&reply, StatusCode::GONE, "join_link_expired");
    assert_eq!(link(&api, &acme, &id_of(&created)).await["status"], "expired");
    assert!(list(&api, &globex, "/v1/connections").await.is_empty());
}

async fn an_unknown_token_is_404_to_preview_and_to_redeem(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, globex) = api.business("Globex", "bob@globex.test").await;
    let created = create_link(&api, &acme, json!({})).await;
    let token = token_of(&created);
    let last = if token.ends_with('A') { 'B' } else { 'A' };
    let near_miss = format!("{}{last}", &token[..token.len() - 1]);
    for unknown in ["nope", near_miss.as_str()] {
        assert_problem(&preview(&api, unknown, None).await, StatusCode::NOT_FOUND, "not_found");
        assert_problem(
            &redeem(&api, unknown, &globex).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    let by_id = preview(&api, &id_of(&created), None).await;
    assert_problem(&by_id, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(link(&api, &acme, &id_of(&created)).await["uses"], 0);
}

async fn a_link_requiring_approval_makes_a_pending_request_that_only_the_link_owner_answers_once(api: Api) {
    let (acme_id, acme) = api.business("Acme", "ann@acme.test").await;
    let (globex_id, globex) = api.business("Globex", "bob@globex.test").await;
    let (_, initech) = api.business("Initech", "ian@initech.test").await;
    let created = create_link(
        &api,
        &acme,
        json!({"max_uses": 2, "roles": ["buyer"], "requires_approval": true}),
    )
    .await;
    let link_id = id_of(&created);
    let token = token_of(&created);

    let reply = redeem(&api, &token, &globex).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    let request_id = id_of(&reply.body["connection_request"]);
    let pending = json!({
        "id": request_id, "join_link_id": link_id, "status": "pending", "business_id": acme_id,
        "requester_business_id": globex_id, "other_business_name": "Acme", "roles": ["buyer"],
        "connection_id": null, "created_at": "2027-01-15T08:00:00Z", "resolved_at": null
    });
    assert_eq!(reply.body, json!({"connection_request": pending}));
    assert!(
        list(&api, &globex, "/v1/connections").await.is_empty(),
        "no connection yet"
    );
    assert!(list(&api, &acme, "/v1/connections").await.is_empty());
    assert_eq!(
        link(&api, &acme, &link_id).await["uses"],
        1,
        "a pending request takes a use"
    );

    let mut seen_by_acme = pending.clone();
    seen_by_acme["other_business_name"] = json!("Globex");
    assert_eq!(
        list(&api, &acme, "/v1/connection-requests/received").await,
        [seen_by_acme.clone()]
    );
    assert!(list(&api, &acme, "/v1/connection-requests/sent").await.is_empty());
    assert_eq!(
        list(&api, &globex, "/v1/connection-requests/sent").await,
        std::slice::from_ref(&pending)
    );
    assert!(list(&api, &globex, "/v1/connection-requests/received").await.is_empty());
    assert!(
        list(&api, &initech, "/v1/connection-requests/received")
            .await
            .is_empty()
    );
    let path = format!("/v1/connection-requests/{request_id}");
    let read = api.call(Method::GET, &path, Some(&globex), None).await;
    assert_eq!((read.status, read.body.clone()), (StatusCode::OK, pending.clone()));
    let read = api.call(Method::GET, &path, Some(&acme), None).await;
    assert_eq!((read.status, read.body.clone()), (StatusCode::OK, seen_by_acme));
    assert_problem(
        &api.call(Method::GET, &path, Some(&initech), None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    let twice = redeem(&api, &token, &globex).await;
    assert_problem(&twice, StatusCode::CONFLICT, "already_requested");
    assert_eq!(link(&api, &acme, &link_id).await["uses"], 1);

    let approve = json!({"status": "approved"});
    let by_requester = api
        .call(Method::PATCH, &path, Some(&globex), Some(approve.clone()))
        .await;
    assert_problem(&by_requester, StatusCode::FORBIDDEN, "forbidden");
    let by_stranger = api
        .call(Method::PATCH, &path, Some(&initech), Some(approve.clone()))
        .await;
    assert_problem(&by_stranger, StatusCode::NOT_FOUND, "not_found");
    let invalid = api
        .call(Method::PATCH, &path, Some(&acme), Some(json!({"status": "pending"})))
        .await;
    assert_problem(&invalid, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(
        codes(&invalid.body),
        [("status".to_owned(), "invalid_value".to_owned())]
    );

    api.clock.advance(Duration::hours(1));
    let approved = api.call(Method::PATCH, &path, Some(&acme), Some(approve)).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    let connection = approved.body["connection"].clone();
    let connection_id = id_of(&connection);
    assert_eq!(
        approved.body,
        json!({
            "connection_request": {
                "id": request_id, "join_link_id": link_id, "status": "approved", "business_id": acme_id,
                "requester_business_id": globex_id, "other_business_name": "Globex", "roles": ["buyer"],
                "connection_id": connection_id, "created_at": "2027-01-15T08:00:00Z",
                "resolved_at": "2027-01-15T09:00:00Z"
            },
            "connection": {
                "id": connection_id, "connected_business_id": globex_id, "inviter_business_id": acme_id,
                "invitee_business_id": globex_id, "invitation_id": null, "join_link_id": link_id,
                "roles": ["buyer"], "source_is_invitee": false, "created_at": "2027-01-15T09:00:00Z"
            }
        })
    );
    assert_eq!(
        list(&api, &acme, "/v1/connections").await,
        std::slice::from_ref(&connection)
    );
    let globex_sees = list(&api, &globex, "/v1/connections").await;
    assert_eq!(globex_sees.len(), 1);
    assert_eq!(id_of(&globex_sees[0]), connection_id);
    assert_eq!(globex_sees[0]["connected_business_id"], acme_id.as_str());
    assert_eq!(
        link(&api, &acme, &link_id).await["uses"],
        1,
        "an approval keeps its use"
    );

    for answer in ["declined", "approved"] {
        let again = api
            .call(Method::PATCH, &path, Some(&acme), Some(json!({"status": answer})))
            .await;
        assert_problem(&again, StatusCode::CONFLICT, "invalid_transition");
    }
    let redeemed_after = redeem(&api, &token, &globex).await;
    assert_problem(&redeemed_after, StatusCode::CONFLICT, "already_connected");

    let expected = [
        "join_link.redeemed",
        "connection_request.created",
        "connection_request.approved",
        "connection.created",
    ];
    for key in [&acme, &globex] {
        let events = list(&api, key, "/v1/events").await;
        let join_events: Vec<&Value> = events.iter().filter(|e| e["join_link_id"].is_string()).collect();
        let types: Vec<&str> = join_events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, expected);
        assert!(join_events.iter().all(|e| e["join_link_id"] == link_id.as_str()));
        assert!(join_events.iter().all(|e| e.get("invitation_id").is_none()));
    }
    assert!(
        !event_types(&api, &initech)
            .await
            .iter()
            .any(|t| t.starts_with("connection")),
        "a third business sees none of it"
    );
}

async fn a_declined_request_frees_its_use_so_another_business_can_redeem_a_single_use_link(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, globex) = api.business("Globex", "bob@globex.test").await;
    let (initech_id, initech) = api.business("Initech", "ian@initech.test").await;
    let created = create_link(&api, &acme, json!({"max_uses": 1, "requires_approval": true})).await;
    let link_id = id_of(&created);
    let token = token_of(&created);

    let first = redeem(&api, &token, &globex).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.text);
    let request_id = id_of(&first.body["connection_request"]);
    assert_eq!(preview(&api, &token, None).await.body["status"], "used_up");
    let meanwhile = redeem(&api, &token, &initech).await;
    assert_problem(&meanwhile, StatusCode::GONE, "join_link_used_up");

    let declined = api
        .call(
            Method::PATCH,
            &format!("/v1/connection-requests/{request_id}"),
            Some(&acme),
            Some(json!({"status": "declined"})),
        )
        .await;
    assert_eq!(declined.status, StatusCode::OK, "{}", declined.text);
    assert_eq!(declined.body["connection"], Value::Null);
    assert_eq!(declined.body["connection_request"]["status"], "declined");
    assert_eq!(declined.body["connection_request"]["connection_id"], Value::Null);
    assert_eq!(
        declined.body["connection_request"]["resolved_at"],
        "2027-01-15T08:00:00Z"
    );
    let freed = link(&api, &acme, &link_id).await;
    assert_eq!(
        (freed["uses"].clone(), freed["status"].clone()),
        (json!(0), json!("active"))
    );
    assert_eq!(preview(&api, &token, None).await.body["status"], "active");
    assert!(list(&api, &globex, "/v1/connections").await.is_empty());

    let second = redeem(&api, &token, &initech).await;
    assert_eq!(second.status, StatusCode::ACCEPTED, "{}", second.text);
    assert_eq!(
        second.body["connection_request"]["requester_business_id"],
        initech_id.as_str()
    );
    assert_eq!(link(&api, &acme, &link_id).await["uses"], 1);
    let mut received: Vec<(String, String)> = list(&api, &acme, "/v1/connection-requests/received")
        .await
        .iter()
        .map(|r| {
            (
                r["other_business_name"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    received.sort();
    assert_eq!(
        received,
        [
            ("Globex".to_owned(), "declined".to_owned()),
            ("Initech".to_owned(), "pending".to_owned())
        ]
    );
    let globex_events = event_types(&api, &globex).await;
    assert_eq!(
        globex_events,
        [
            "join_link.redeemed",
            "connection_request.created",
            "connection_request.declined"
        ],
        "the requester learns of the decline"
    );
}

async fn the_link_of_a_suspended_business_previews_and_redeems_as_409_business_suspended(api: Api) {
    let (acme_id, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, globex) = api.business("Globex", "bob@globex.test").await;
    let created = create_link(&api, &acme, json!({})).await;
    let token = token_of(&created);
    let path = format!("/v1/admin/businesses/{acme_id}");
    let suspended = api
        .call(Method::PATCH, &path, Some(ADMIN), Some(json!({"suspended": true})))
        .await;
    assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.text);

    let look = preview(&api, &token, None).await;
    assert_problem(&look, StatusCode::CONFLICT, "business_suspended");
    assert!(!look.text.contains("Acme"), "a suspended business is not named");
    assert_problem(
        &redeem(&api, &token, &globex).await,
        StatusCode::CONFLICT,
        "business_suspended",
    );
    assert!(list(&api, &globex, "/v1/connections").await.is_empty());

    let reinstated = api
        .call(Method::PATCH, &path, Some(ADMIN), Some(json!({"suspended": false})))
        .await;
    assert_eq!(reinstated.status, StatusCode::OK);
    assert_eq!(preview(&api, &token, None).await.body["status"], "active");
    assert_eq!(
        redeem(&api, &token, &globex).await.status,
        StatusCode::CREATED,
        "it works again"
    );
}

fn idempotent_redeem(token: &str, key: &str, idempotency_key: &str) -> TestRequest {
    TestRequest::post()
        .uri(&format!("/v1/join/{token}"))
        .insert_header((header::AUTHORIZATION, format!("Bearer {key}")))
        .insert_header((IDEMPOTENCY_KEY, idempotency_key))
}

async fn a_retried_redemption_with_the_same_idempotency_key_replays_the_201_and_makes_one_connection(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, globex) = api.business("Globex", "bob@globex.test").await;
    let created = create_link(&api, &acme, json!({"max_uses": 5})).await;
    let token = token_of(&created);

    let first = api.raw(idempotent_redeem(&token, &globex, "join-1")).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert!(
        first.headers.get(IDEMPOTENT_REPLAYED).is_none(),
        "the first answer is no replay"
    );
    api.clock.advance(Duration::minutes(5));
    let replay = api.raw(idempotent_redeem(&token, &globex, "join-1")).await;
    assert_eq!(replay.status, StatusCode::CREATED, "{}", replay.text);
    assert_eq!(replay.text, first.text, "the same body, byte for byte");
    assert_eq!(replay.headers.get(IDEMPOTENT_REPLAYED).unwrap(), "true");
    assert_eq!(
        replay.headers.get(header::CONTENT_TYPE),
        first.headers.get(header::CONTENT_TYPE)
    );

    let connections = list(&api, &globex, "/v1/connections").await;
    assert_eq!(connections.len(), 1, "one connection");
    assert_eq!(connections[0], first.body["connection"]);
    assert_eq!(link(&api, &acme, &id_of(&created)).await["uses"], 1, "one use");
    let redeemed = event_types(&api, &acme)
        .await
        .into_iter()
        .filter(|t| t == "join_link.redeemed")
        .count();
    assert_eq!(redeemed, 1, "one redemption event");

    let without_key = redeem(&api, &token, &globex).await;
    assert_problem(&without_key, StatusCode::CONFLICT, "already_connected");
    let another_key = api.raw(idempotent_redeem(&token, &globex, "join-2")).await;
    assert_problem(&another_key, StatusCode::CONFLICT, "already_connected");
}

const CLIENT: &str = "203.0.113.9:50000";
const OTHER_CLIENT: &str = "198.51.100.7:50000";

async fn from(api: &Api, peer: &str, method: Method, path: &str, key: Option<&str>) -> Reply {
    let peer: SocketAddr = peer.parse().unwrap();
    let mut request = TestRequest::default().method(method).uri(path).peer_addr(peer);
    if let Some(key) = key {
        request = request.insert_header((header::AUTHORIZATION, format!("Bearer {key}")));
    }
    api.raw(request).await
}

#[actix_web::test]
async fn unknown_join_tokens_count_as_failed_attempts_until_the_address_gets_429() {
    let api = Api::memory_with(|config, _| config.failed_attempts_per_minute = 3).await;
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, globex) = api.business("Globex", "bob@globex.test").await;
    let token = token_of(&create_link(&api, &acme, json!({"max_uses": 10})).await);

    for _ in 0..5 {
        let good = from(&api, CLIENT, Method::GET, &format!("/v1/join/{token}"), None).await;
        assert_eq!(good.status, StatusCode::OK, "a good token is never counted");
    }
    for (method, key) in [
        (Method::GET, None),
        (Method::POST, Some(globex.as_str())),
        (Method::GET, None),
    ] {
        let unknown = from(&api, CLIENT, method.clone(), "/v1/join/guess", key).await;
        assert_problem(&unknown, StatusCode::NOT_FOUND, "not_found");
    }
    for (method, key) in [(Method::GET, None), (Method::POST, Some(globex.as_str()))] {
        let refused = from(&api, CLIENT, method.clone(), &format!("/v1/join/{token}"), key).await;
        assert_problem(&refused, StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
        assert_eq!(refused.headers.get(header::RETRY_AFTER).unwrap(), "20", "{method}");
        assert_eq!(refused.headers.get("ratelimit-policy").unwrap(), "\"failed\";q=3;w=60");
    }
    assert!(
        list(&api, &globex, "/v1/connections").await.is_empty(),
        "the throttled redemption never ran"
    );
    let elsewhere = from(&api, OTHER_CLIENT, Method::GET, &format!("/v1/join/{token}"), None).await;
    assert_eq!(elsewhere.status, StatusCode::OK, "another address is not blocked");

    api.clock.advance(Duration::seconds(20));
    let later = from(&api, CLIENT, Method::POST, &format!("/v1/join/{token}"), Some(&globex)).await;
    assert_eq!(later.status, StatusCode::CREATED, "after Retry-After: {}", later.text);
}
