//! JWT callers end to end through the HTTP API, against a real JWKS HTTP
//! server on 127.0.0.1 (rsvp-jwt's test support, its PEM fixtures): the
//! host platform's tokens act as the user whose `external_id` is the `sub`
//! claim, of the business whose `external_id` is the `org_id` claim; every
//! refused token is a 401 (a suspended business a 403); API keys keep
//! working beside them; a refused token is a failed authentication for the
//! throttle; the JWKS cache is fetched once per rotation, at most once for a
//! burst of unknown `kid`s, and serves its last keys while the server is
//! down; no token or claim value reaches the logs. On the in-memory store,
//! on SQLite and on PostgreSQL.

mod common;
#[path = "../../rsvp-jwt/tests/support/mod.rs"]
mod jwks;

use std::hash::{BuildHasher, RandomState};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use actix_web::http::{Method, StatusCode, header};
use actix_web::test::{self, TestRequest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{ADMIN, Api, Reply};
use jsonwebtoken::{Algorithm, EncodingKey, get_current_timestamp};
use jwks::{JwksServer, ManualClock};
use rsvp_http::{HttpConfig, configure};
use serde_json::{Value, json};

/// The host platform's ids: Acme's and Ann's, Globex's and Bob's.
const ORG: &str = "org_acme";
const USER: &str = "idp|ann";
const OTHER_ORG: &str = "org_globex";
const OTHER_USER: &str = "idp|bob";

#[derive(Debug, Clone, Copy)]
enum Backend {
    Memory,
    Sqlite,
    Postgres,
}

/// Runs each test once per backend: `async fn a_test(backend: Backend)`.
macro_rules! on_each_backend {
    ($($name:ident),* $(,)?) => {
        mod memory { $( #[actix_web::test] async fn $name() { super::$name(super::Backend::Memory).await } )* }
        mod sqlite { $( #[actix_web::test] async fn $name() { super::$name(super::Backend::Sqlite).await } )* }
        mod postgres { $( #[actix_web::test] async fn $name() { super::$name(super::Backend::Postgres).await } )* }
    };
}

on_each_backend!(
    rs256_and_es256_tokens_act_as_their_user_of_their_business_beside_api_keys,
    every_refused_token_is_401_and_fetches_nothing,
    a_deactivated_user_is_401_and_a_suspended_business_is_403,
    past_the_limit_of_failed_tokens_an_address_gets_429,
    a_rotated_key_is_fetched_once,
    a_hundred_random_kids_within_a_second_fetch_at_most_once,
    cached_keys_keep_verifying_while_the_jwks_server_is_down,
    no_token_or_claim_value_reaches_the_logs,
);

/// A fresh API on `backend`, its HTTP config adjusted.
async fn api_on(backend: Backend, adjust: impl FnOnce(&mut HttpConfig)) -> Api {
    let adjust_both = |config: &mut HttpConfig, _: &mut rsvp_app::Settings| adjust(config);
    match backend {
        Backend::Memory => Api::memory_with(adjust_both).await,
        Backend::Sqlite => Api::database_with(false, adjust_both).await,
        Backend::Postgres => Api::database_with(true, adjust_both).await,
    }
}

/// One provisioned business and its first user.
#[derive(Debug, Clone)]
struct Tenant {
    business: String,
    user: String,
    api_key: String,
}

/// The API accepting JWTs of a JWKS server, with Acme (Ann) and Globex (Bob).
struct World {
    api: Api,
    jwks: JwksServer,
    /// The JWKS cache's clock (the tokens' `exp` and `nbf` are judged on
    /// the system's).
    clock: Arc<ManualClock>,
    acme: Tenant,
    globex: Tenant,
}

async fn world(backend: Backend) -> World {
    world_with(backend, |_| {}).await
}

async fn world_with(backend: Backend, adjust: impl FnOnce(&mut HttpConfig)) -> World {
    let server = JwksServer::start(&jwks::standard_jwks()).await;
    let clock = ManualClock::new();
    let verifier = jwks::verifier(jwks::settings(&server.url()), &clock);
    let api = api_on(backend, adjust).await.accepting_tokens(Arc::new(verifier));
    let acme = provision(&api, "Acme", ORG, "ann@acme.test", USER).await;
    let globex = provision(&api, "Globex", OTHER_ORG, "bob@globex.test", OTHER_USER).await;
    assert_eq!(server.requests(), 0, "nothing fetched before a token needs it");
    World {
        api,
        jwks: server,
        clock,
        acme,
        globex,
    }
}

async fn provision(api: &Api, name: &str, org: &str, email: &str, user: &str) -> Tenant {
    let reply = api
        .call(
            Method::POST,
            "/v1/admin/businesses",
            Some(ADMIN),
            Some(json!({"name": name, "external_id": org, "user": {"email": email, "external_id": user}})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["business"]["external_id"], org);
    assert_eq!(reply.body["user"]["external_id"], user);
    Tenant {
        business: reply.body["business"]["id"].as_str().unwrap().to_owned(),
        user: reply.body["user"]["id"].as_str().unwrap().to_owned(),
        api_key: reply.body["api_key"].as_str().unwrap().to_owned(),
    }
}

/// Valid claims naming `org` and `user`.
fn claims_of(org: &str, user: &str) -> Value {
    jwks::claims_with(|claims| {
        claims.insert("org_id".to_owned(), json!(org));
        claims.insert("sub".to_owned(), json!(user));
    })
}

/// Ann's valid claims changed by `change`.
fn anns_claims_with(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut claims = claims_of(ORG, USER);
    change(claims.as_object_mut().unwrap());
    claims
}

fn rs256(claims: &Value) -> String {
    jwks::sign(Algorithm::RS256, Some("rsa-a"), claims, &jwks::rsa_a())
}

fn es256(claims: &Value) -> String {
    jwks::sign(Algorithm::ES256, Some("ec-1"), claims, &jwks::ec_p256())
}

fn b64(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(json.to_string())
}

/// `token` with its header replaced by `header` (its signature kept: it no
/// longer verifies, which matters only once a key is found).
fn with_header(token: &str, header: &Value) -> String {
    let (_, rest) = token.split_once('.').unwrap();
    format!("{}.{rest}", b64(header))
}

/// An unsigned token (`alg: none`, empty signature) of `claims`.
fn unsigned(claims: &Value) -> String {
    format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(claims))
}

async fn me(api: &Api, token: &str) -> Reply {
    api.call(Method::GET, "/v1/me", Some(token), None).await
}

/// `GET /v1/me` answered 200 as `tenant`'s user, of `tenant`'s business
/// (whose host platform id is `org`).
#[track_caller]
fn assert_acts_as(reply: &Reply, tenant: &Tenant, org: &str, user: &str) {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["user"]["id"], tenant.user.as_str(), "{}", reply.body);
    assert_eq!(reply.body["user"]["business_id"], tenant.business.as_str());
    assert_eq!(reply.body["user"]["external_id"], user);
    assert_eq!(reply.body["business"]["id"], tenant.business.as_str());
    assert_eq!(reply.body["business"]["external_id"], org);
}

#[track_caller]
fn assert_unauthorized(reply: &Reply, case: &str) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{case}: {}", reply.body);
    assert_eq!(reply.body["code"], "unauthorized", "{case}: {}", reply.body);
    assert!(reply.body.get("user").is_none() && reply.body.get("business").is_none());
}

async fn rs256_and_es256_tokens_act_as_their_user_of_their_business_beside_api_keys(backend: Backend) {
    let w = world(backend).await;
    let anns = claims_of(ORG, USER);
    assert_acts_as(&me(&w.api, &rs256(&anns)).await, &w.acme, ORG, USER);
    assert_acts_as(&me(&w.api, &es256(&anns)).await, &w.acme, ORG, USER);
    let bobs = claims_of(OTHER_ORG, OTHER_USER);
    assert_acts_as(&me(&w.api, &rs256(&bobs)).await, &w.globex, OTHER_ORG, OTHER_USER);
    assert_acts_as(&me(&w.api, &es256(&bobs)).await, &w.globex, OTHER_ORG, OTHER_USER);
    assert_eq!(w.jwks.requests(), 1, "one fetch served all four");

    // An ES256 caller creates an invitation of its business, sent by its user.
    let made = w.api.invite(&es256(&anns), json!({"email": "x@y.test"})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.body["business_id"], w.acme.business.as_str());
    assert_eq!(made.body["sent_by_user_id"], w.acme.user.as_str());
    let id = made.body["id"].as_str().unwrap();

    // API keys keep working beside JWTs, in the same app, as the same callers.
    assert_acts_as(&me(&w.api, &w.acme.api_key).await, &w.acme, ORG, USER);
    assert_acts_as(&me(&w.api, &w.globex.api_key).await, &w.globex, OTHER_ORG, OTHER_USER);
    let seen = w
        .api
        .call(
            Method::GET,
            &format!("/v1/invitations/{id}"),
            Some(&w.acme.api_key),
            None,
        )
        .await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    assert_eq!(seen.body["business_id"], w.acme.business.as_str());
    let by_key = w.api.invite(&w.acme.api_key, json!({"email": "z@y.test"})).await;
    assert_eq!(by_key.status, StatusCode::CREATED, "{}", by_key.body);
    let seen = w
        .api
        .call(
            Method::GET,
            &format!("/v1/invitations/{}", by_key.body["id"].as_str().unwrap()),
            Some(&rs256(&anns)),
            None,
        )
        .await;
    assert_eq!(
        seen.status,
        StatusCode::OK,
        "a JWT reads what the API key made: {}",
        seen.body
    );
    let elsewhere = w
        .api
        .call(Method::GET, &format!("/v1/invitations/{id}"), Some(&rs256(&bobs)), None)
        .await;
    assert_eq!(
        elsewhere.status,
        StatusCode::NOT_FOUND,
        "another business's token sees nothing"
    );
    assert_unauthorized(&me(&w.api, "rsvp_not-a-key").await, "a wrong API key");
    assert_eq!(w.jwks.requests(), 1);
}

/// Every way a token is refused, each with Ann's otherwise valid claims.
fn refused_tokens() -> Vec<(&'static str, String)> {
    let now = get_current_timestamp();
    let anns = claims_of(ORG, USER);
    vec![
        ("alg none", unsigned(&anns)),
        (
            "alg none naming a key",
            format!("{}.{}.", b64(&json!({"alg": "none", "kid": "rsa-a"})), b64(&anns)),
        ),
        (
            "HS256 signed with the RSA public key as its secret",
            jwks::sign(
                Algorithm::HS256,
                Some("rsa-a"),
                &anns,
                &EncodingKey::from_secret(jwks::RSA_A_PUBLIC_PEM).unwrap(),
            ),
        ),
        (
            "signed by a key not in the JWKS under a kid that is",
            jwks::sign(Algorithm::RS256, Some("rsa-a"), &anns, &jwks::rsa_b()),
        ),
        (
            "the header's alg changed from ES256 to RS256",
            with_header(&es256(&anns), &json!({"alg": "RS256", "kid": "rsa-a", "typ": "JWT"})),
        ),
        (
            "wrong iss",
            rs256(&anns_claims_with(|c| {
                c.insert("iss".to_owned(), json!("https://id.example.test/realms/evil"));
            })),
        ),
        (
            "wrong aud",
            rs256(&anns_claims_with(|c| {
                c.insert("aud".to_owned(), json!("another-service"));
            })),
        ),
        (
            "no aud",
            es256(&anns_claims_with(|c| {
                c.remove("aud");
            })),
        ),
        (
            "expired (past the 60 s leeway)",
            rs256(&anns_claims_with(|c| {
                c.insert("iat".to_owned(), json!(now - 600));
                c.insert("exp".to_owned(), json!(now - 120));
            })),
        ),
        (
            "not yet valid (nbf past the 60 s leeway)",
            es256(&anns_claims_with(|c| {
                c.insert("nbf".to_owned(), json!(now + 300));
            })),
        ),
        ("unknown business", rs256(&claims_of("org_nobody", USER))),
        ("unknown user", rs256(&claims_of(ORG, "idp|nobody"))),
        (
            "no business claim",
            rs256(&anns_claims_with(|c| {
                c.remove("org_id");
            })),
        ),
        (
            "a number as the user claim",
            rs256(&anns_claims_with(|c| {
                c.insert("sub".to_owned(), json!(7));
            })),
        ),
        (
            "a user of another business (Bob under Acme)",
            rs256(&claims_of(ORG, OTHER_USER)),
        ),
        (
            "a user of another business (Ann under Globex)",
            es256(&claims_of(OTHER_ORG, USER)),
        ),
    ]
}

async fn every_refused_token_is_401_and_fetches_nothing(backend: Backend) {
    let w = world(backend).await;
    let good = rs256(&claims_of(ORG, USER));
    assert_acts_as(&me(&w.api, &good).await, &w.acme, ORG, USER);
    for (case, token) in refused_tokens() {
        assert_unauthorized(&me(&w.api, &token).await, case);
        let invite = w.api.invite(&token, json!({"email": "x@y.test"})).await;
        assert_unauthorized(&invite, case);
    }
    assert_eq!(w.jwks.requests(), 1, "no refused token fetched the JWKS again");
    // Nothing was written for them, and the good token still acts.
    let sent = w.api.call(Method::GET, "/v1/invitations/sent", Some(&good), None).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
    assert_eq!(sent.body["data"], json!([]), "{}", sent.body);
    assert_acts_as(&me(&w.api, &good).await, &w.acme, ORG, USER);
}

async fn a_deactivated_user_is_401_and_a_suspended_business_is_403(backend: Backend) {
    let w = world(backend).await;
    let ann = rs256(&claims_of(ORG, USER));
    let bob = es256(&claims_of(OTHER_ORG, OTHER_USER));
    assert_acts_as(&me(&w.api, &ann).await, &w.acme, ORG, USER);
    assert_acts_as(&me(&w.api, &bob).await, &w.globex, OTHER_ORG, OTHER_USER);

    let deactivated = w
        .api
        .call(
            Method::PATCH,
            &format!("/v1/admin/users/{}", w.acme.user),
            Some(ADMIN),
            Some(json!({"deactivated": true})),
        )
        .await;
    assert_eq!(deactivated.status, StatusCode::OK, "{}", deactivated.body);
    assert_unauthorized(
        &me(&w.api, &ann).await,
        "a deactivated user (at once: no cached principal)",
    );
    assert_unauthorized(&me(&w.api, &w.acme.api_key).await, "a deactivated user's API key");
    assert_acts_as(&me(&w.api, &bob).await, &w.globex, OTHER_ORG, OTHER_USER);

    let suspended = w
        .api
        .call(
            Method::PATCH,
            &format!("/v1/admin/businesses/{}", w.globex.business),
            Some(ADMIN),
            Some(json!({"suspended": true})),
        )
        .await;
    assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.body);
    for token in [&bob, &rs256(&claims_of(OTHER_ORG, OTHER_USER)), &w.globex.api_key] {
        let reply = me(&w.api, token).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
        assert_eq!(reply.body["code"], "business_suspended", "{}", reply.body);
    }
    let invite = w.api.invite(&bob, json!({"email": "x@y.test"})).await;
    assert_eq!(invite.status, StatusCode::FORBIDDEN, "{}", invite.body);
    assert_eq!(invite.body["code"], "business_suspended");

    // Reinstated, the same token acts again.
    let reinstated = w
        .api
        .call(
            Method::PATCH,
            &format!("/v1/admin/businesses/{}", w.globex.business),
            Some(ADMIN),
            Some(json!({"suspended": false})),
        )
        .await;
    assert_eq!(reinstated.status, StatusCode::OK, "{}", reinstated.body);
    assert_acts_as(&me(&w.api, &bob).await, &w.globex, OTHER_ORG, OTHER_USER);
}

const CLIENT: &str = "203.0.113.9:50000";
const OTHER_CLIENT: &str = "198.51.100.7:50000";

async fn me_from(api: &Api, peer: &str, token: &str) -> Reply {
    let request = TestRequest::default()
        .method(Method::GET)
        .uri("/v1/me")
        .peer_addr(peer.parse::<SocketAddr>().unwrap())
        .insert_header((header::AUTHORIZATION, format!("Bearer {token}")));
    api.raw(request).await
}

async fn past_the_limit_of_failed_tokens_an_address_gets_429(backend: Backend) {
    // 3 failed attempts a minute (as tests/throttle.rs).
    let w = world_with(backend, |config| config.failed_attempts_per_minute = 3).await;
    let good = rs256(&claims_of(ORG, USER));
    assert_acts_as(&me_from(&w.api, CLIENT, &good).await, &w.acme, ORG, USER);
    let bad = refused_tokens();
    for (case, token) in &bad[..3] {
        assert_unauthorized(&me_from(&w.api, CLIENT, token).await, case);
    }
    let past = me_from(&w.api, CLIENT, &bad[3].1).await;
    assert_eq!(past.status, StatusCode::TOO_MANY_REQUESTS, "{}", past.body);
    assert_eq!(past.body["code"], "too_many_requests");
    let good_too = me_from(&w.api, CLIENT, &good).await;
    assert_eq!(
        good_too.status,
        StatusCode::TOO_MANY_REQUESTS,
        "refused before the token is checked: {}",
        good_too.body
    );
    assert_eq!(good_too.headers.get("retry-after").unwrap(), "20");
    assert_acts_as(&me_from(&w.api, OTHER_CLIENT, &good).await, &w.acme, ORG, USER);
    w.api.clock.advance(time::Duration::seconds(20));
    assert_acts_as(&me_from(&w.api, CLIENT, &good).await, &w.acme, ORG, USER);
}

async fn a_rotated_key_is_fetched_once(backend: Backend) {
    let w = world(backend).await;
    let anns = claims_of(ORG, USER);
    let old = rs256(&anns);
    assert_acts_as(&me(&w.api, &old).await, &w.acme, ORG, USER);
    assert_eq!(w.jwks.requests(), 1);

    // The identity provider rotates: key B replaces key A.
    w.jwks.serve(&jwks::jwks(vec![
        jwks::jwk(&jwks::rsa_b(), Algorithm::RS256, "rsa-b", true),
        jwks::jwk(&jwks::ec_p256(), Algorithm::ES256, "ec-1", false),
    ]));
    let new = jwks::sign(Algorithm::RS256, Some("rsa-b"), &anns, &jwks::rsa_b());
    // Within 30 s of the last fetch an unknown kid fetches nothing.
    assert_unauthorized(&me(&w.api, &new).await, "a new kid within 30 s of the last fetch");
    assert_eq!(w.jwks.requests(), 1);
    w.clock.advance(31);
    assert_acts_as(&me(&w.api, &new).await, &w.acme, ORG, USER);
    assert_eq!(w.jwks.requests(), 2, "exactly one fetch for the rotated key");
    for _ in 0..5 {
        assert_acts_as(&me(&w.api, &new).await, &w.acme, ORG, USER);
    }
    assert_acts_as(&me(&w.api, &es256(&anns)).await, &w.acme, ORG, USER);
    assert_unauthorized(&me(&w.api, &old).await, "the removed key");
    assert_eq!(w.jwks.requests(), 2, "no further fetch");
}

/// A random `kid` (std's per-process random hasher keys).
fn random_kid() -> String {
    format!("{:016x}", RandomState::new().hash_one(Instant::now()))
}

async fn a_hundred_random_kids_within_a_second_fetch_at_most_once(backend: Backend) {
    // Throttling off: 100 failures from one address would be refused first.
    let w = world_with(backend, |config| config.failed_attempts_per_minute = 0).await;
    let anns = claims_of(ORG, USER);
    let good = rs256(&anns);
    assert_acts_as(&me(&w.api, &good).await, &w.acme, ORG, USER);
    assert_eq!(w.jwks.requests(), 1);
    // 30 s later an unknown kid may fetch again: a burst of them, once.
    w.clock.advance(31);
    let tokens: Vec<String> = (0..100)
        .map(|_| with_header(&good, &json!({"alg": "RS256", "typ": "JWT", "kid": random_kid()})))
        .collect();
    let kids: std::collections::HashSet<&str> = tokens.iter().map(|t| t.split('.').next().unwrap()).collect();
    assert_eq!(kids.len(), 100, "100 different kids");
    let service = test::init_service(
        actix_web::App::new()
            .configure(configure(w.api.state.clone()))
            .default_service(rsvp_http::default_service()),
    )
    .await;
    let started = Instant::now();
    let calls = tokens.iter().map(|token| {
        let request = TestRequest::get()
            .uri("/v1/me")
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .to_request();
        test::call_service(&service, request)
    });
    let responses = futures_util::future::join_all(calls).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "100 requests took {took:?}");
    for response in &responses {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert!(
        w.jwks.requests() <= 2,
        "at most one fetch for 100 unknown kids: {} in all",
        w.jwks.requests()
    );
    assert_acts_as(&me(&w.api, &good).await, &w.acme, ORG, USER);
    let before = w.jwks.requests();
    for _ in 0..10 {
        let token = with_header(&good, &json!({"alg": "RS256", "kid": random_kid()}));
        assert_unauthorized(&me(&w.api, &token).await, "a random kid right after");
    }
    assert_eq!(w.jwks.requests(), before, "none within 30 s of that fetch");
}

async fn cached_keys_keep_verifying_while_the_jwks_server_is_down(backend: Backend) {
    let mut w = world(backend).await;
    let anns = claims_of(ORG, USER);
    assert_acts_as(&me(&w.api, &rs256(&anns)).await, &w.acme, ORG, USER);
    assert_eq!(w.jwks.requests(), 1);
    w.jwks.stop().await;

    // Fresh keys: nothing to fetch.
    assert_acts_as(&me(&w.api, &es256(&anns)).await, &w.acme, ORG, USER);
    // Stale keys (5 min without Cache-Control): the fetch fails fast, the
    // last good keys keep verifying.
    w.clock.advance(301);
    let started = Instant::now();
    assert_acts_as(&me(&w.api, &rs256(&anns)).await, &w.acme, ORG, USER);
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_acts_as(&me(&w.api, &es256(&anns)).await, &w.acme, ORG, USER);
    // An hour later, still down: still verifying; an unknown kid is a 401, not a 503.
    w.clock.advance(3600);
    let bobs = claims_of(OTHER_ORG, OTHER_USER);
    assert_acts_as(&me(&w.api, &rs256(&bobs)).await, &w.globex, OTHER_ORG, OTHER_USER);
    let unknown = jwks::sign(Algorithm::RS256, Some("rsa-b"), &anns, &jwks::rsa_b());
    assert_unauthorized(&me(&w.api, &unknown).await, "an unknown kid while the JWKS is down");
    assert_acts_as(&me(&w.api, &w.acme.api_key).await, &w.acme, ORG, USER);
}

/// With no key ever fetched (the JWKS URL down from the start) a token is
/// 503 `unavailable` (the harness's `raw` refuses a 5xx: called directly).
#[actix_web::test]
async fn no_key_ever_fetched_is_503_and_api_keys_still_work() {
    let clock = ManualClock::new();
    let verifier = jwks::verifier(jwks::settings(&jwks::dead_url().await), &clock);
    let api = Api::memory().await.accepting_tokens(Arc::new(verifier));
    let acme = provision(&api, "Acme", ORG, "ann@acme.test", USER).await;
    let service = test::init_service(
        actix_web::App::new()
            .configure(configure(api.state.clone()))
            .default_service(rsvp_http::default_service()),
    )
    .await;
    let request = TestRequest::get()
        .uri("/v1/me")
        .insert_header((
            header::AUTHORIZATION,
            format!("Bearer {}", rs256(&claims_of(ORG, USER))),
        ))
        .to_request();
    let response = test::call_service(&service, request).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = test::read_body_json(response).await;
    assert_eq!(body["code"], "unavailable", "{body}");
    assert_acts_as(&me(&api, &acme.api_key).await, &acme, ORG, USER);
}

/// Everything any `tracing` event of this process wrote (all levels, all
/// targets), from the first call on.
fn captured_logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        logs
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn no_token_or_claim_value_reaches_the_logs(backend: Backend) {
    let logs = captured_logs();
    let mut w = world(backend).await;
    let anns = claims_of(ORG, USER);
    let mut tokens = vec![rs256(&anns), es256(&anns)];
    for token in &tokens {
        assert_acts_as(&me(&w.api, token).await, &w.acme, ORG, USER);
    }
    let invited = w.api.invite(&tokens[1], json!({"email": "x@y.test"})).await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.body);
    for (case, token) in refused_tokens() {
        assert_unauthorized(&me(&w.api, &token).await, case);
        tokens.push(token);
    }
    // A fetch for an unknown kid, one that fails, a suspended business.
    w.clock.advance(31);
    let unknown = jwks::sign(Algorithm::RS256, Some("kid-of-nobody"), &anns, &jwks::rsa_b());
    assert_unauthorized(&me(&w.api, &unknown).await, "an unknown kid");
    w.jwks.stop().await;
    w.clock.advance(301);
    assert_acts_as(&me(&w.api, &tokens[0]).await, &w.acme, ORG, USER);
    let bob = rs256(&claims_of(OTHER_ORG, OTHER_USER));
    let suspended = w
        .api
        .call(
            Method::PATCH,
            &format!("/v1/admin/businesses/{}", w.globex.business),
            Some(ADMIN),
            Some(json!({"suspended": true})),
        )
        .await;
    assert_eq!(suspended.status, StatusCode::OK, "{}", suspended.body);
    assert_eq!(me(&w.api, &bob).await.status, StatusCode::FORBIDDEN);
    tokens.extend([unknown, bob]);

    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(text.contains("JWKS fetched"), "the capture works: {text}");
    assert!(text.contains("JWKS fetch failed"), "the failed fetch is logged: {text}");
    for token in &tokens {
        // The signature part alone would be a leak too.
        let signature = token.rsplit('.').next().unwrap();
        assert!(!text.contains(token.as_str()), "a token reached the logs");
        assert!(
            signature.is_empty() || !text.contains(signature),
            "a token's signature reached the logs"
        );
    }
    for value in [
        ORG,
        USER,
        OTHER_ORG,
        OTHER_USER,
        "org_nobody",
        "idp|nobody",
        "kid-of-nobody",
    ] {
        let lines: Vec<&str> = text.lines().filter(|line| line.contains(value)).collect();
        assert!(lines.is_empty(), "{value:?} reached the logs: {lines:#?}");
    }
}
