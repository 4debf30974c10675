//! The host platform's ids of businesses and users over the operator API:
//! set on create, changed and cleared by PATCH, found by
//! `GET /v1/admin/businesses?external_id=` and `GET /v1/admin/users?external_id=`,
//! unique per kind (409), checked (422 naming the field), kept by an erasure;
//! on the in-memory store, on SQLite and on PostgreSQL.

#[macro_use]
mod common;

use actix_web::http::{Method, StatusCode};
use common::{ADMIN, Api, codes};
use serde_json::{Value, json};

on_every_backend!(
    external_ids_are_set_on_create_changed_by_patch_cleared_by_null_and_found_by_them,
    a_taken_external_id_is_409_and_writes_nothing,
    a_bad_external_id_is_refused_naming_the_field_and_writes_nothing,
    an_erasure_deactivates_the_user_and_keeps_its_external_id,
);

async fn provision(api: &Api, body: Value) -> common::Reply {
    api.call(Method::POST, "/v1/admin/businesses", Some(ADMIN), Some(body))
        .await
}

async fn businesses_with(api: &Api, external_id: &str) -> Vec<Value> {
    let reply = api
        .call(
            Method::GET,
            &format!("/v1/admin/businesses?external_id={external_id}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["data"].as_array().unwrap().clone()
}

async fn users_with(api: &Api, external_id: &str) -> Vec<Value> {
    let reply = api
        .call(
            Method::GET,
            &format!("/v1/admin/users?external_id={external_id}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["next_cursor"], Value::Null);
    reply.body["data"].as_array().unwrap().clone()
}

async fn external_ids_are_set_on_create_changed_by_patch_cleared_by_null_and_found_by_them(api: Api) {
    let made = provision(
        &api,
        json!({"name": "Acme", "external_id": "org_2Nf8", "user": {"email": "ann@acme.test", "external_id": "auth0|ann"}}),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.body["business"]["external_id"], "org_2Nf8");
    assert_eq!(made.body["user"]["external_id"], "auth0|ann");
    let business = made.body["business"]["id"].as_str().unwrap().to_owned();
    let user = made.body["user"]["id"].as_str().unwrap().to_owned();
    let plain = provision(&api, json!({"name": "Plain", "user": {"email": "pat@plain.test"}})).await;
    assert_eq!(plain.body["business"]["external_id"], Value::Null);
    assert_eq!(plain.body["user"]["external_id"], Value::Null);

    let found = businesses_with(&api, "org_2Nf8").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], business.as_str());
    assert!(businesses_with(&api, "ORG_2NF8").await.is_empty(), "compared exactly");
    let found = users_with(&api, "auth0%7Cann").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], user.as_str());
    assert!(users_with(&api, "auth0%7Cbob").await.is_empty());

    let added = api
        .call(
            Method::POST,
            &format!("/v1/admin/businesses/{business}/users"),
            Some(ADMIN),
            Some(json!({"email": "bob@acme.test", "external_id": "auth0|bob"})),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    assert_eq!(added.body["user"]["external_id"], "auth0|bob");

    let patched = api
        .call(
            Method::PATCH,
            &format!("/v1/admin/businesses/{business}"),
            Some(ADMIN),
            Some(json!({"external_id": "org_new"})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["external_id"], "org_new");
    assert_eq!(patched.body["name"], "Acme", "the rest stays");
    assert!(businesses_with(&api, "org_2Nf8").await.is_empty());
    assert_eq!(businesses_with(&api, "org_new").await.len(), 1);
    let untouched = api
        .call(
            Method::PATCH,
            &format!("/v1/admin/businesses/{business}"),
            Some(ADMIN),
            Some(json!({"name": "Acme Ltd"})),
        )
        .await;
    assert_eq!(untouched.body["external_id"], "org_new", "left out, it stays");

    let cleared = api
        .call(
            Method::PATCH,
            &format!("/v1/admin/users/{user}"),
            Some(ADMIN),
            Some(json!({"external_id": null})),
        )
        .await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.body);
    assert_eq!(cleared.body["external_id"], Value::Null);
    assert!(users_with(&api, "auth0%7Cann").await.is_empty());
    let set = api
        .call(
            Method::PATCH,
            &format!("/v1/admin/users/{user}"),
            Some(ADMIN),
            Some(json!({"external_id": "kc:7d1f"})),
        )
        .await;
    assert_eq!(set.body["external_id"], "kc:7d1f");
    let detail = api
        .call(
            Method::GET,
            &format!("/v1/admin/businesses/{business}"),
            Some(ADMIN),
            None,
        )
        .await;
    let ids: Vec<&Value> = detail.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| &u["external_id"])
        .collect();
    assert!(
        ids.contains(&&json!("kc:7d1f")) && ids.contains(&&json!("auth0|bob")),
        "{ids:?}"
    );
}

async fn a_taken_external_id_is_409_and_writes_nothing(api: Api) {
    let acme = provision(
        &api,
        json!({"name": "Acme", "external_id": "org_1", "user": {"email": "ann@acme.test", "external_id": "u_1"}}),
    )
    .await;
    let acme_id = acme.body["business"]["id"].as_str().unwrap().to_owned();

    for (body, what) in [
        (
            json!({"name": "Copy", "external_id": "org_1", "user": {"email": "cat@copy.test"}}),
            "business",
        ),
        (
            json!({"name": "Other", "external_id": "org_2", "user": {"email": "oli@other.test", "external_id": "u_1"}}),
            "first user",
        ),
    ] {
        let refused = provision(&api, body).await;
        assert_eq!(refused.status, StatusCode::CONFLICT, "{what}: {}", refused.body);
        assert_eq!(refused.body["code"], "external_id_taken", "{what}");
    }
    assert!(
        businesses_with(&api, "org_2").await.is_empty(),
        "nothing of Other was written"
    );
    let listed = api
        .call(Method::GET, "/v1/admin/businesses?name=o", Some(ADMIN), None)
        .await;
    let names: Vec<&Value> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| &b["name"])
        .collect();
    assert!(
        !names.contains(&&json!("Copy")) && !names.contains(&&json!("Other")),
        "{names:?}"
    );
    // The refused users' emails are still free.
    let again = provision(&api, json!({"name": "Other", "user": {"email": "oli@other.test"}})).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    let other_id = again.body["business"]["id"].as_str().unwrap().to_owned();
    let other_user = again.body["user"]["id"].as_str().unwrap().to_owned();

    let added = api
        .call(
            Method::POST,
            &format!("/v1/admin/businesses/{acme_id}/users"),
            Some(ADMIN),
            Some(json!({"email": "bob@acme.test", "external_id": "u_1"})),
        )
        .await;
    assert_eq!(added.status, StatusCode::CONFLICT, "{}", added.body);
    assert_eq!(added.body["code"], "external_id_taken");

    let patched = api
        .call(
            Method::PATCH,
            &format!("/v1/admin/businesses/{other_id}"),
            Some(ADMIN),
            Some(json!({"name": "Renamed", "external_id": "org_1"})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::CONFLICT, "{}", patched.body);
    let other = api
        .call(
            Method::GET,
            &format!("/v1/admin/businesses/{other_id}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(
        other.body["business"]["name"], "Other",
        "a refused PATCH changes nothing"
    );
    assert_eq!(other.body["business"]["external_id"], Value::Null);
    let patched = api
        .call(
            Method::PATCH,
            &format!("/v1/admin/users/{other_user}"),
            Some(ADMIN),
            Some(json!({"external_id": "u_1"})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::CONFLICT, "{}", patched.body);
    assert_eq!(patched.body["code"], "external_id_taken");
}

async fn a_bad_external_id_is_refused_naming_the_field_and_writes_nothing(api: Api) {
    let long = "x".repeat(256);
    let refused = provision(
        &api,
        json!({"name": "Acme", "external_id": long, "user": {"email": "ann@acme.test", "external_id": "a\u{202E}b"}}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    let fields: Vec<String> = codes(&refused.body).into_iter().map(|(field, _)| field).collect();
    assert_eq!(fields, vec!["external_id".to_owned(), "user.external_id".to_owned()]);
    let typed = provision(
        &api,
        json!({"name": "Acme", "external_id": 42, "user": {"email": "ann@acme.test"}}),
    )
    .await;
    assert_eq!(typed.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", typed.body);
    assert_eq!(
        codes(&typed.body),
        vec![("external_id".to_owned(), "invalid_type".to_owned())]
    );
    let listed = api.call(Method::GET, "/v1/admin/businesses", Some(ADMIN), None).await;
    assert_eq!(listed.body["data"], json!([]), "nothing was written");

    let missing = api.call(Method::GET, "/v1/admin/users", Some(ADMIN), None).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{}", missing.body);
    assert_eq!(missing.body["code"], "invalid_query");
    assert_eq!(
        codes(&missing.body),
        vec![("external_id".to_owned(), "required".to_owned())]
    );
    let too_long = api
        .call(
            Method::GET,
            &format!("/v1/admin/businesses?external_id={}", "y".repeat(300)),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(too_long.status, StatusCode::BAD_REQUEST, "{}", too_long.body);
    assert_eq!(
        codes(&too_long.body),
        vec![("external_id".to_owned(), "too_long".to_owned())]
    );
    let unauthorized = api.call(Method::GET, "/v1/admin/users?external_id=x", None, None).await;
    assert_eq!(unauthorized.status, StatusCode::UNAUTHORIZED);
}

async fn an_erasure_deactivates_the_user_and_keeps_its_external_id(api: Api) {
    let made = provision(
        &api,
        json!({"name": "Acme", "external_id": "org_1", "user": {"email": "ann@acme.test", "external_id": "u_1"}}),
    )
    .await;
    let erased = api
        .call(
            Method::POST,
            "/v1/admin/erasures",
            Some(ADMIN),
            Some(json!({"email": "ann@acme.test"})),
        )
        .await;
    assert_eq!(erased.status, StatusCode::OK, "{}", erased.body);
    assert_eq!(erased.body["users_deactivated"], 1);
    let found = users_with(&api, "u_1").await;
    assert_eq!(found.len(), 1, "the platform can still map its id to the user");
    assert_eq!(found[0]["id"], made.body["user"]["id"]);
    assert_eq!(found[0]["deactivated"], true);
    assert_eq!(businesses_with(&api, "org_1").await.len(), 1);
}
