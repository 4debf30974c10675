//! `Idempotency-Key` through HTTP, on the in-memory store, SQLite and
//! PostgreSQL: replays byte for byte, refusals of a reused or malformed key,
//! scopes, the 24-hour memory, server errors never stored, and races.

#[macro_use]
mod common;

use std::cell::Cell;
use std::rc::Rc;

use actix_web::http::{Method, StatusCode, header};
use actix_web::test::TestRequest;
use actix_web::{App, HttpResponse, test, web};
use common::{ADMIN, Api, Reply};
use futures_util::future::join_all;
use rsvp_http::idempotency::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED};
use serde_json::{Value, json};
use time::Duration;
use tokio::sync::Notify;

on_every_backend!(
    a_retried_create_replays_the_first_answer_byte_for_byte,
    retried_bulk_patch_resend_and_link_answers_replay_their_first_answers,
    a_retried_business_provisioning_replays_the_same_api_key,
    the_same_key_with_another_body_path_or_query_is_422_idempotency_key_reused,
    another_caller_with_the_same_key_is_independent,
    a_key_is_remembered_for_24_hours_then_the_request_runs_again,
    a_malformed_idempotency_key_is_400_naming_the_header_and_runs_nothing,
    failed_authentications_are_not_stored_and_reads_ignore_the_header,
    a_server_error_is_not_stored_so_the_retry_runs_again,
    a_retry_while_the_first_request_runs_is_409_idempotency_in_progress,
    sixteen_concurrent_identical_creates_with_one_key_create_one_invitation_and_agree,
);

/// Every POST and PATCH the document lists under `/v1` checks the key (a
/// malformed one is refused before anything else), and no other method or
/// route does (a 405 stays a 405).
#[actix_web::test]
async fn every_documented_post_and_patch_under_v1_honours_the_key_and_nothing_else_does() {
    let api = Api::memory_with(|config, _| config.failed_attempts_per_minute = 0).await;
    let doc: Value = serde_json::from_str(&rsvp_http::openapi::document()).unwrap();
    let mut keyed = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/") {
            continue;
        }
        let concrete = path
            .replace("{id}", "00000000-0000-0000-0000-000000000000")
            .replace("{token}", "tok");
        for method in [Method::POST, Method::PATCH, Method::GET, Method::PUT, Method::DELETE] {
            let documented = item.get(method.as_str().to_ascii_lowercase()).is_some();
            let expected = documented && (method == Method::POST || method == Method::PATCH);
            let reply = send(&api, method.clone(), &concrete, None, Some("not valid"), None).await;
            let refused = reply.body["code"] == "invalid_idempotency_key";
            assert_eq!(refused, expected, "{method} {path}: {}", reply.text);
            keyed += usize::from(expected);
        }
    }
    assert!(keyed >= 8, "the POST and PATCH operations under /v1: {keyed}");
}

mod sqlite_replicas {
    #[actix_web::test]
    async fn a_key_holds_across_replicas_and_restarts() {
        super::a_key_holds_across_replicas_and_restarts(super::Api::sqlite().await).await
    }
}

mod postgres_replicas {
    #[actix_web::test]
    async fn a_key_holds_across_replicas_and_restarts() {
        super::a_key_holds_across_replicas_and_restarts(super::Api::postgres().await).await
    }
}

async fn send(
    api: &Api,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    key: Option<&str>,
    body: Option<Value>,
) -> Reply {
    api.raw(request(method, path, bearer, key, body)).await
}

fn request(method: Method, path: &str, bearer: Option<&str>, key: Option<&str>, body: Option<Value>) -> TestRequest {
    let mut request = TestRequest::default().method(method).uri(path);
    if let Some(bearer) = bearer {
        request = request.insert_header((header::AUTHORIZATION, format!("Bearer {bearer}")));
    }
    if let Some(key) = key {
        request = request.insert_header((IDEMPOTENCY_KEY, key));
    }
    if let Some(body) = body {
        request = request.set_json(body);
    }
    request
}

fn header_of(reply: &Reply, name: impl header::AsHeaderName) -> Option<&str> {
    reply.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The replay is the first answer again: status, the headers that matter,
/// the body byte for byte; only the replay says so.
fn assert_replayed(first: &Reply, replay: &Reply) {
    assert_eq!(replay.status, first.status, "{}", replay.text);
    assert_eq!(replay.text, first.text, "the body, byte for byte");
    for name in [
        header::LOCATION,
        header::CONTENT_TYPE,
        header::CACHE_CONTROL,
        header::RETRY_AFTER,
    ] {
        assert_eq!(header_of(replay, &name), header_of(first, &name), "{name}");
    }
    assert_eq!(header_of(replay, IDEMPOTENT_REPLAYED), Some("true"));
    assert_eq!(
        header_of(first, IDEMPOTENT_REPLAYED),
        None,
        "the first answer is no replay"
    );
}

async fn sent_count(api: &Api, key: &str) -> usize {
    let list = send(api, Method::GET, "/v1/invitations/sent", Some(key), None, None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    list.body["data"].as_array().unwrap().len()
}

async fn a_retried_create_replays_the_first_answer_byte_for_byte(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let body = json!({"email": "bob@globex.test", "send_email": false, "custom_data": {"tier": "gold"}});
    let create = || {
        send(
            &api,
            Method::POST,
            "/v1/invitations",
            Some(&acme),
            Some("create-1"),
            Some(body.clone()),
        )
    };
    let first = create().await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert!(
        header_of(&first, header::LOCATION)
            .unwrap()
            .starts_with("/v1/invitations/")
    );
    assert!(first.body["accept_url"].is_string(), "shown once, and again to a retry");
    api.clock.advance(Duration::minutes(5));
    let replay = create().await;
    assert_replayed(&first, &replay);
    assert_eq!(sent_count(&api, &acme).await, 1, "the retry created nothing");
    let without_key = api.invite(&acme, body.clone()).await;
    assert_eq!(
        without_key.status,
        StatusCode::CONFLICT,
        "without the key it runs again"
    );
}

async fn retried_bulk_patch_resend_and_link_answers_replay_their_first_answers(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let bulk_body = json!({"invitations": [{"email": "a@x.test"}, {"email": "broken"}, {"email": "c@x.test", "send_email": false}]});
    let bulk = || {
        send(
            &api,
            Method::POST,
            "/v1/invitations/bulk",
            Some(&acme),
            Some("bulk-1"),
            Some(bulk_body.clone()),
        )
    };
    let first = bulk().await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_replayed(&first, &bulk().await);
    assert_eq!(sent_count(&api, &acme).await, 2);

    let id = first.body["successful"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/invitations/{id}/resend");
    api.clock.advance(Duration::seconds(61));
    let resend = || send(&api, Method::POST, &path, Some(&acme), Some("resend-1"), None);
    let first_resend = resend().await;
    assert_eq!(first_resend.status, StatusCode::OK, "{}", first_resend.text);
    assert_replayed(&first_resend, &resend().await);
    let again = send(&api, Method::POST, &path, Some(&acme), None, None).await;
    assert_eq!(
        again.status,
        StatusCode::TOO_MANY_REQUESTS,
        "a real second resend is in its cooldown"
    );

    let path = format!("/v1/invitations/{id}");
    let cancel = || {
        send(
            &api,
            Method::PATCH,
            &path,
            Some(&acme),
            Some("cancel-1"),
            Some(json!({"status": "cancelled"})),
        )
    };
    let first_cancel = cancel().await;
    assert_eq!(first_cancel.status, StatusCode::OK, "{}", first_cancel.text);
    assert_replayed(&first_cancel, &cancel().await);

    let url = first.body["successful"][1]["accept_url"].as_str().unwrap();
    let token = url.rsplit('/').next().unwrap();
    let path = format!("/v1/invitation-links/{token}/accept");
    let accept = || {
        send(
            &api,
            Method::POST,
            &path,
            None,
            Some("accept-1"),
            Some(json!({"business_name": "X Corp"})),
        )
    };
    let first_accept = accept().await;
    assert_eq!(first_accept.status, StatusCode::OK, "{}", first_accept.text);
    assert_replayed(&first_accept, &accept().await);
    let decline = send(
        &api,
        Method::POST,
        &format!("/v1/invitation-links/{token}/decline"),
        None,
        Some("accept-1"),
        None,
    )
    .await;
    assert_eq!(
        decline.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "one link, one scope: {}",
        decline.text
    );
    assert_eq!(decline.body["code"], "idempotency_key_reused");
}

async fn a_retried_business_provisioning_replays_the_same_api_key(api: Api) {
    let body = json!({"name": "Acme", "user": {"email": "ann@acme.test"}});
    let provision = || {
        send(
            &api,
            Method::POST,
            "/v1/admin/businesses",
            Some(common::ADMIN),
            Some("tenant-acme"),
            Some(body.clone()),
        )
    };
    let first = provision().await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let replay = provision().await;
    assert_replayed(&first, &replay);
    let key = replay.body["api_key"].as_str().unwrap();
    assert_eq!(
        sent_count(&api, key).await,
        0,
        "the replayed API key is the one that works"
    );
    let user = send(
        &api,
        Method::POST,
        &format!(
            "/v1/admin/businesses/{}/users",
            first.body["business"]["id"].as_str().unwrap()
        ),
        Some(ADMIN),
        Some("tenant-acme"),
        Some(json!({"email": "cat@acme.test"})),
    )
    .await;
    assert_eq!(
        user.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "another path under the same key"
    );
}

async fn the_same_key_with_another_body_path_or_query_is_422_idempotency_key_reused(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let first = send(
        &api,
        Method::POST,
        "/v1/invitations",
        Some(&acme),
        Some("k"),
        Some(json!({"email": "bob@globex.test"})),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED);
    for (path, body) in [
        ("/v1/invitations", json!({"email": "carol@globex.test"})),
        ("/v1/invitations", json!({"email": "bob@globex.test", "message": "hi"})),
        (
            "/v1/invitations/bulk",
            json!({"invitations": [{"email": "bob@globex.test"}]}),
        ),
        ("/v1/invitations?x=1", json!({"email": "bob@globex.test"})),
    ] {
        let reused = send(&api, Method::POST, path, Some(&acme), Some("k"), Some(body.clone())).await;
        assert_eq!(
            reused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {body}: {}",
            reused.text
        );
        assert_eq!(reused.body["code"], "idempotency_key_reused");
        assert_eq!(header_of(&reused, IDEMPOTENT_REPLAYED), None);
    }
    assert_eq!(sent_count(&api, &acme).await, 1, "none of them ran");
}

async fn another_caller_with_the_same_key_is_independent(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let (_, globex) = api.business("Globex", "gil@globex.test").await;
    let body = json!({"email": "carol@initech.test"});
    let ours = send(
        &api,
        Method::POST,
        "/v1/invitations",
        Some(&acme),
        Some("same"),
        Some(body.clone()),
    )
    .await;
    let theirs = send(
        &api,
        Method::POST,
        "/v1/invitations",
        Some(&globex),
        Some("same"),
        Some(body.clone()),
    )
    .await;
    assert_eq!(ours.status, StatusCode::CREATED);
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.text);
    assert_eq!(header_of(&theirs, IDEMPOTENT_REPLAYED), None);
    assert_ne!(ours.body["id"], theirs.body["id"]);
    let other = send(
        &api,
        Method::POST,
        "/v1/invitations/bulk",
        Some(&globex),
        Some("mine"),
        Some(json!({"invitations": [body]})),
    )
    .await;
    assert_eq!(other.status, StatusCode::OK);
    let reuse = send(
        &api,
        Method::POST,
        "/v1/invitations/bulk",
        Some(&acme),
        Some("mine"),
        Some(json!({"invitations": []})),
    )
    .await;
    assert_eq!(
        reuse.body["code"], "validation_failed",
        "globex's key means nothing to acme"
    );
}

async fn a_key_is_remembered_for_24_hours_then_the_request_runs_again(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let create = || {
        send(
            &api,
            Method::POST,
            "/v1/invitations",
            Some(&acme),
            Some("daily"),
            Some(json!({"email": "bob@globex.test"})),
        )
    };
    let first = create().await;
    assert_eq!(first.status, StatusCode::CREATED);
    api.clock.advance(Duration::hours(24) - Duration::seconds(1));
    assert_replayed(&first, &create().await);
    api.clock.advance(Duration::seconds(1));
    let later = create().await;
    assert_eq!(later.status, StatusCode::CONFLICT, "it ran again: {}", later.text);
    assert_eq!(later.body["code"], "already_invited");
    assert_eq!(header_of(&later, IDEMPOTENT_REPLAYED), None);
    assert_replayed(&later, &create().await);

    // The sweeper's work: records past their 24 h go.
    api.clock.advance(Duration::hours(24));
    assert_eq!(api.state.app.prune_idempotency_records(100).await, Ok(1));
}

async fn a_malformed_idempotency_key_is_400_naming_the_header_and_runs_nothing(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let too_long = "k".repeat(256);
    for key in ["", "has space", too_long.as_str(), "tab\tkey"] {
        let reply = send(
            &api,
            Method::POST,
            "/v1/invitations",
            Some(&acme),
            Some(key),
            Some(json!({"email": "bob@globex.test"})),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{key:?}: {}", reply.text);
        assert_eq!(reply.body["code"], "invalid_idempotency_key");
        assert_eq!(reply.body["errors"][0]["field"], "Idempotency-Key");
        assert!(reply.body["detail"].as_str().unwrap().contains("Idempotency-Key"));
    }
    let non_ascii = request(
        Method::POST,
        "/v1/invitations",
        Some(&acme),
        None,
        Some(json!({"email": "bob@globex.test"})),
    )
    .insert_header((
        IDEMPOTENCY_KEY,
        header::HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
    ));
    assert_eq!(api.raw(non_ascii).await.status, StatusCode::BAD_REQUEST);
    let twice = request(
        Method::POST,
        "/v1/invitations",
        Some(&acme),
        Some("a"),
        Some(json!({"email": "bob@globex.test"})),
    )
    .append_header((IDEMPOTENCY_KEY, "b"));
    let twice = api.raw(twice).await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST);
    assert_eq!(twice.body["code"], "invalid_idempotency_key");
    assert_eq!(sent_count(&api, &acme).await, 0);
    let at_most = "~".repeat(255);
    let longest = send(
        &api,
        Method::POST,
        "/v1/invitations",
        Some(&acme),
        Some(&at_most),
        Some(json!({"email": "bob@globex.test"})),
    )
    .await;
    assert_eq!(longest.status, StatusCode::CREATED, "255 visible characters are fine");
}

async fn failed_authentications_are_not_stored_and_reads_ignore_the_header(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    for _ in 0..2 {
        let refused = send(
            &api,
            Method::POST,
            "/v1/invitations",
            Some("rsvp_wrong"),
            Some("k"),
            Some(json!({"email": "b@x.test"})),
        )
        .await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            header_of(&refused, IDEMPOTENT_REPLAYED),
            None,
            "a 401 is never replayed"
        );
        let anonymous = send(
            &api,
            Method::POST,
            "/v1/invitations",
            None,
            Some("k"),
            Some(json!({"email": "b@x.test"})),
        )
        .await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    }
    let read = send(
        &api,
        Method::GET,
        "/v1/invitations/sent",
        Some(&acme),
        Some("not a valid key"),
        None,
    )
    .await;
    assert_eq!(read.status, StatusCode::OK, "GET is not idempotency-keyed");
    assert_eq!(header_of(&read, IDEMPOTENT_REPLAYED), None);
}

/// A `/v1` app with the real middleware and one route of the test's own.
fn v1_app_with(
    state: rsvp_http::HttpState,
    route: actix_web::Route,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(state))
        .service(web::scope("/v1").route(
            "/test/work",
            route.wrap(actix_web::middleware::from_fn(rsvp_http::idempotency::guard)),
        ))
}

async fn a_server_error_is_not_stored_so_the_retry_runs_again(api: Api) {
    let runs = Rc::new(Cell::new(0));
    let counter = runs.clone();
    let route = web::post().to(move || {
        let counter = counter.clone();
        async move {
            counter.set(counter.get() + 1);
            if counter.get() == 1 {
                HttpResponse::ServiceUnavailable()
                    .insert_header((header::RETRY_AFTER, "2"))
                    .finish()
            } else {
                HttpResponse::Created()
                    .insert_header((header::LOCATION, "/v1/test/1"))
                    .body("{\"ok\":true}")
            }
        }
    });
    let service = test::init_service(v1_app_with(api.state.clone(), route)).await;
    let call = || {
        request(
            Method::POST,
            "/v1/test/work",
            Some("anyone"),
            Some("k"),
            Some(json!({})),
        )
        .to_request()
    };
    let failed = test::call_service(&service, call()).await;
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    let retried = test::call_service(&service, call()).await;
    assert_eq!(retried.status(), StatusCode::CREATED, "the 503 was not stored");
    assert_eq!(retried.headers().get(IDEMPOTENT_REPLAYED), None);
    let replayed = test::call_service(&service, call()).await;
    assert_eq!(replayed.status(), StatusCode::CREATED);
    assert_eq!(replayed.headers().get(IDEMPOTENT_REPLAYED).unwrap(), "true");
    assert_eq!(replayed.headers().get(header::LOCATION).unwrap(), "/v1/test/1");
    assert_eq!(test::read_body(replayed).await, "{\"ok\":true}");
    assert_eq!(runs.get(), 2, "run once for the 503, once for the answer stored");
}

async fn a_retry_while_the_first_request_runs_is_409_idempotency_in_progress(api: Api) {
    let started = Rc::new(Notify::new());
    let release = Rc::new(Notify::new());
    let (on_start, on_release) = (started.clone(), release.clone());
    let route = web::post().to(move || {
        let (started, release) = (on_start.clone(), on_release.clone());
        async move {
            started.notify_one();
            release.notified().await;
            HttpResponse::Created().body("{\"done\":1}")
        }
    });
    let service = test::init_service(v1_app_with(api.state.clone(), route)).await;
    let call = || {
        request(
            Method::POST,
            "/v1/test/work",
            Some("anyone"),
            Some("k"),
            Some(json!({})),
        )
        .to_request()
    };
    let first = test::call_service(&service, call());
    let retry = async {
        started.notified().await;
        let retry = test::call_service(&service, call()).await;
        release.notify_one();
        retry
    };
    let (first, retry) = futures_util::future::join(first, retry).await;
    assert_eq!(retry.status(), StatusCode::CONFLICT);
    assert_eq!(retry.headers().get(header::RETRY_AFTER).unwrap(), "1");
    let problem: Value = test::read_body_json(retry).await;
    assert_eq!(problem["code"], "idempotency_in_progress");
    assert_eq!(first.status(), StatusCode::CREATED);
    let later = test::call_service(&service, call()).await;
    assert_eq!(
        later.headers().get(IDEMPOTENT_REPLAYED).unwrap(),
        "true",
        "then it is replayed"
    );
    assert_eq!(test::read_body(later).await, "{\"done\":1}");
}

async fn sixteen_concurrent_identical_creates_with_one_key_create_one_invitation_and_agree(api: Api) {
    const RACERS: usize = 16;
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let body = json!({"email": "bob@globex.test", "send_email": false});
    let replies = join_all((0..RACERS).map(|_| {
        send(
            &api,
            Method::POST,
            "/v1/invitations",
            Some(&acme),
            Some("race"),
            Some(body.clone()),
        )
    }))
    .await;
    let created: Vec<&Reply> = replies.iter().filter(|r| r.status == StatusCode::CREATED).collect();
    assert!(!created.is_empty(), "someone must get the answer");
    for reply in &replies {
        match reply.status {
            StatusCode::CREATED => assert_eq!(reply.text, created[0].text, "every 201 is the same answer"),
            StatusCode::CONFLICT => {
                assert_eq!(reply.body["code"], "idempotency_in_progress", "{}", reply.text);
                assert_eq!(header_of(reply, header::RETRY_AFTER), Some("1"));
            }
            other => panic!("{other}: {}", reply.text),
        }
    }
    let fresh: Vec<&&Reply> = created
        .iter()
        .filter(|r| header_of(r, IDEMPOTENT_REPLAYED).is_none())
        .collect();
    assert_eq!(fresh.len(), 1, "exactly one request ran");
    assert_eq!(sent_count(&api, &acme).await, 1, "exactly one invitation");
    let after = send(
        &api,
        Method::POST,
        "/v1/invitations",
        Some(&acme),
        Some("race"),
        Some(body),
    )
    .await;
    assert_replayed(fresh[0], &after);
}

/// Two replicas over one database (a restart is a new replica): the answer
/// stored by one is replayed by the other, and a key in progress on one is
/// in progress on the other.
async fn a_key_holds_across_replicas_and_restarts(api: Api) {
    let (_, acme) = api.business("Acme", "ann@acme.test").await;
    let other = api.another_replica().await.expect("a database-backed API");
    let body = json!({"email": "bob@globex.test"});
    let first = send(
        &api,
        Method::POST,
        "/v1/invitations",
        Some(&acme),
        Some("k"),
        Some(body.clone()),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let replay = send(
        &other,
        Method::POST,
        "/v1/invitations",
        Some(&acme),
        Some("k"),
        Some(body),
    )
    .await;
    assert_replayed(&first, &replay);
    assert_eq!(sent_count(&other, &acme).await, 1);
}
