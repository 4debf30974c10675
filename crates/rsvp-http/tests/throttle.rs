//! Security limits through HTTP: failed attempts throttled per client
//! address (with trusted proxies), and the per-business hourly email cap.

mod common;

use std::net::SocketAddr;

use actix_web::http::{Method, StatusCode, header};
use actix_web::test::TestRequest;
use common::{ADMIN, Api, Reply};
use serde_json::{Value, json};
use time::Duration;

const CLIENT: &str = "203.0.113.9:50000";
const OTHER_CLIENT: &str = "198.51.100.7:50000";

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

/// An API with a limit of 3 failed attempts a minute (one back every 20 s).
async fn api_allowing_three_failures() -> Api {
    Api::memory_with(|config, _| config.failed_attempts_per_minute = 3).await
}

async fn from(api: &Api, peer: &str, method: Method, path: &str, key: Option<&str>) -> Reply {
    let mut request = TestRequest::default().method(method).uri(path).peer_addr(addr(peer));
    if let Some(key) = key {
        request = request.insert_header((header::AUTHORIZATION, format!("Bearer {key}")));
    }
    api.raw(request).await
}

fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

fn assert_throttled(reply: &Reply, seconds: u64) {
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "{}", reply.text);
    assert_eq!(header(reply, "retry-after"), seconds.to_string());
    assert_eq!(header(reply, "ratelimit-policy"), "\"failed\";q=3;w=60");
    assert_eq!(header(reply, "ratelimit"), format!("\"failed\";r=0;t={seconds}"));
}

#[actix_web::test]
async fn past_the_limit_of_failed_api_keys_an_address_gets_429_even_with_a_good_key_until_retry_after() {
    let api = api_allowing_three_failures().await;
    let (_, key) = api.business("Acme", "ann@acme.test").await;
    for bad in [None, Some("rsvp_wrong"), Some("rsvp_guess")] {
        let reply = from(&api, CLIENT, Method::GET, "/v1/invitations/sent", bad).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    }
    let past = from(&api, CLIENT, Method::GET, "/v1/invitations/sent", Some("rsvp_more")).await;
    assert_throttled(&past, 20);
    assert_eq!(past.body["code"], "too_many_requests");

    let good = from(&api, CLIENT, Method::GET, "/v1/invitations/sent", Some(&key)).await;
    assert_throttled(&good, 20);
    assert_eq!(
        good.body["code"], "too_many_requests",
        "refused before the key is checked"
    );
    let elsewhere = from(&api, OTHER_CLIENT, Method::GET, "/v1/invitations/sent", Some(&key)).await;
    assert_eq!(elsewhere.status, StatusCode::OK, "another address is not blocked");

    api.clock.advance(Duration::seconds(19));
    assert_throttled(&from(&api, CLIENT, Method::GET, "/v1/events", Some(&key)).await, 1);
    api.clock.advance(Duration::seconds(1));
    let later = from(&api, CLIENT, Method::GET, "/v1/invitations/sent", Some(&key)).await;
    assert_eq!(later.status, StatusCode::OK, "after Retry-After the key works again");
}

#[actix_web::test]
async fn successful_requests_are_never_counted_as_failed_attempts() {
    let api = api_allowing_three_failures().await;
    let (_, key) = api.business("Acme", "ann@acme.test").await;
    for _ in 0..10 {
        let reply = from(&api, CLIENT, Method::GET, "/v1/connections", Some(&key)).await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let not_found = from(
        &api,
        CLIENT,
        Method::GET,
        &format!("/v1/invitations/{}", uuid::Uuid::nil()),
        Some(&key),
    )
    .await;
    assert_eq!(
        not_found.status,
        StatusCode::NOT_FOUND,
        "an unknown id is no failed lookup of a secret"
    );
    for _ in 0..3 {
        let reply = from(&api, CLIENT, Method::GET, "/v1/connections", Some("rsvp_wrong")).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "the budget is whole");
    }
}

#[actix_web::test]
async fn a_wrong_operator_token_is_a_failed_attempt() {
    let api = api_allowing_three_failures().await;
    for _ in 0..3 {
        let reply = from(
            &api,
            CLIENT,
            Method::POST,
            "/v1/admin/businesses",
            Some("not-the-admin-token"),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let past = from(&api, CLIENT, Method::POST, "/v1/admin/businesses", Some(ADMIN)).await;
    assert_throttled(&past, 20);
}

#[actix_web::test]
async fn unknown_link_tokens_on_the_link_endpoints_are_failed_attempts() {
    let api = api_allowing_three_failures().await;
    for (method, path) in [
        (Method::GET, "/v1/invitation-links/guess-1"),
        (Method::POST, "/v1/invitation-links/guess-2/accept"),
        (Method::POST, "/v1/invitation-links/guess-3/decline"),
    ] {
        let reply = from(&api, CLIENT, method, path, None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
    let past = from(&api, CLIENT, Method::GET, "/v1/invitation-links/guess-4", None).await;
    assert_throttled(&past, 20);
    assert_eq!(past.body["code"], "too_many_requests");
}

#[actix_web::test]
async fn the_invitee_page_answers_429_as_a_page_in_the_visitors_language() {
    let api = api_allowing_three_failures().await;
    for path in ["/invite/guess-1", "/invite/guess-2/accept", "/invite/guess-3/decline"] {
        let method = if path.ends_with("guess-1") {
            Method::GET
        } else {
            Method::POST
        };
        let reply = from(&api, CLIENT, method, path, None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
    let request = TestRequest::get()
        .uri("/invite/guess-4")
        .peer_addr(addr(CLIENT))
        .insert_header((header::ACCEPT_LANGUAGE, "de-DE,de;q=0.9"));
    let page = api.raw(request).await;
    assert_throttled(&page, 20);
    assert!(header(&page, "content-type").starts_with("text/html"));
    assert!(page.text.contains("Zu viele Versuche"), "{}", page.text);
    assert!(page.text.contains("20 Sekunden"), "{}", page.text);
    assert_eq!(header(&page, "cache-control"), "no-store");

    let english = api
        .raw(TestRequest::get().uri("/invite/guess-5").peer_addr(addr(CLIENT)))
        .await;
    assert_throttled(&english, 20);
    assert!(english.text.contains("Too many attempts"), "{}", english.text);
}

#[actix_web::test]
async fn behind_a_trusted_proxy_the_client_is_the_right_most_untrusted_x_forwarded_for_address() {
    let api = Api::memory_with(|config, _| {
        config.failed_attempts_per_minute = 3;
        config.trusted_proxies = "10.0.0.0/8".parse().unwrap();
    })
    .await;
    let via_proxy = |forwarded: &str| {
        TestRequest::get()
            .uri("/v1/events")
            .peer_addr(addr("10.0.0.1:443"))
            .insert_header(("x-forwarded-for", forwarded.to_owned()))
            .insert_header((header::AUTHORIZATION, "Bearer rsvp_wrong"))
    };
    for spoofed in ["1.1.1.1, 203.0.113.9", "2.2.2.2, 203.0.113.9, 10.0.0.7", "203.0.113.9"] {
        assert_eq!(api.raw(via_proxy(spoofed)).await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        api.raw(via_proxy("203.0.113.9")).await.status,
        StatusCode::TOO_MANY_REQUESTS,
        "whatever the client wrote left of it, the client is 203.0.113.9"
    );
    assert_eq!(
        api.raw(via_proxy("203.0.113.9, 198.51.100.7")).await.status,
        StatusCode::UNAUTHORIZED,
        "another client behind the same proxy is not blocked"
    );

    // A client talking to us directly cannot borrow another's address.
    let direct = || {
        TestRequest::get()
            .uri("/v1/events")
            .peer_addr(addr("192.0.2.1:5000"))
            .insert_header(("x-forwarded-for", "198.51.100.99"))
            .insert_header((header::AUTHORIZATION, "Bearer rsvp_wrong"))
    };
    for _ in 0..3 {
        assert_eq!(api.raw(direct()).await.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(api.raw(direct()).await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        api.raw(via_proxy("198.51.100.99")).await.status,
        StatusCode::UNAUTHORIZED,
        "the spoofed address was never charged"
    );
}

#[actix_web::test]
async fn garbage_x_forwarded_for_from_a_trusted_proxy_charges_the_proxy() {
    let api = Api::memory_with(|config, _| {
        config.failed_attempts_per_minute = 3;
        config.trusted_proxies = "10.0.0.1".parse().unwrap();
    })
    .await;
    for garbage in ["unknown", "203.0.113.9, <script>", "not an address"] {
        let request = TestRequest::get()
            .uri("/v1/invitation-links/guess")
            .peer_addr(addr("10.0.0.1:443"))
            .insert_header(("x-forwarded-for", garbage));
        assert_eq!(api.raw(request).await.status, StatusCode::NOT_FOUND);
    }
    let without_header = TestRequest::get()
        .uri("/v1/invitation-links/guess")
        .peer_addr(addr("10.0.0.1:443"));
    assert_eq!(api.raw(without_header).await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[actix_web::test]
async fn a_limit_of_zero_turns_throttling_off() {
    let api = Api::memory_with(|config, _| config.failed_attempts_per_minute = 0).await;
    for _ in 0..100 {
        let reply = from(&api, CLIENT, Method::GET, "/v1/events", Some("rsvp_wrong")).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
}

// ---------------------------------------------------------------- email cap

async fn capped_api(postgres: Option<bool>, cap: u32) -> Api {
    let adjust = move |_: &mut rsvp_http::HttpConfig, settings: &mut rsvp_app::Settings| settings.emails_per_hour = cap;
    match postgres {
        None => Api::memory_with(adjust).await,
        Some(postgres) => Api::database_with(postgres, adjust).await,
    }
}

async fn past_the_email_cap_a_create_is_429_and_a_bulk_fails_the_items_over_it(postgres: Option<bool>) {
    let api = capped_api(postgres, 3).await;
    let (_, key) = api.business("Acme", "ann@acme.test").await;
    let silent = api
        .invite(&key, json!({"email": "quiet@partner.test", "send_email": false}))
        .await;
    assert_eq!(silent.status, StatusCode::CREATED, "no email, not counted");
    for n in 1..=3 {
        let reply = api.invite(&key, json!({"email": format!("p{n}@partner.test")})).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let fourth = api.invite(&key, json!({"email": "p4@partner.test"})).await;
    assert_eq!(fourth.status, StatusCode::TOO_MANY_REQUESTS, "{}", fourth.body);
    assert_eq!(fourth.body["code"], "quota_exceeded");
    // The emails' minute and the 60 after it: an hour at least, a minute more at most.
    let wait = seconds_until_the_minute_of_now_leaves_the_cap(&api);
    assert!((3600..=3660).contains(&wait), "{wait}");
    assert_eq!(header(&fourth, "retry-after"), wait.to_string());

    let (_, other) = api.business("Globex", "gil@globex.test").await;
    let items: Vec<Value> = (1..=5)
        .map(|n| json!({"email": format!("b{n}@partner.test")}))
        .collect();
    let bulk = api
        .call(
            Method::POST,
            "/v1/invitations/bulk",
            Some(&other),
            Some(json!({"invitations": items})),
        )
        .await;
    assert_eq!(bulk.status, StatusCode::OK, "{}", bulk.body);
    let ok: Vec<&str> = bulk.body["successful"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["email"].as_str().unwrap())
        .collect();
    assert_eq!(ok, ["b1@partner.test", "b2@partner.test", "b3@partner.test"]);
    let failed: Vec<(u64, &str)> = bulk.body["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["index"].as_u64().unwrap(), f["error"]["code"].as_str().unwrap()))
        .collect();
    assert_eq!(failed, [(3, "quota_exceeded"), (4, "quota_exceeded")]);

    api.clock.advance(Duration::seconds(wait - 1));
    let early = api.invite(&key, json!({"email": "p4@partner.test"})).await;
    assert_eq!(early.status, StatusCode::TOO_MANY_REQUESTS, "a second early");
    api.clock.advance(Duration::seconds(1));
    let later = api.invite(&key, json!({"email": "p4@partner.test"})).await;
    assert_eq!(later.status, StatusCode::CREATED, "after Retry-After, the window slid");
}

/// The seconds from the API clock's now until an email queued in its
/// current minute stops counting against the cap.
fn seconds_until_the_minute_of_now_leaves_the_cap(api: &Api) -> i64 {
    use rsvp_app::{Clock as _, EmailCap};
    let now = api.clock.now();
    (EmailCap::leaves_window_at(EmailCap::minute_of(now)) - now).whole_seconds()
}

#[actix_web::test]
async fn past_the_email_cap_a_create_is_429_quota_exceeded_and_a_bulk_fails_the_items_over_it_in_memory() {
    past_the_email_cap_a_create_is_429_and_a_bulk_fails_the_items_over_it(None).await;
}

#[actix_web::test]
async fn past_the_email_cap_a_create_is_429_quota_exceeded_and_a_bulk_fails_the_items_over_it_on_sqlite() {
    past_the_email_cap_a_create_is_429_and_a_bulk_fails_the_items_over_it(Some(false)).await;
}

#[actix_web::test]
async fn past_the_email_cap_a_create_is_429_quota_exceeded_and_a_bulk_fails_the_items_over_it_on_postgres() {
    past_the_email_cap_a_create_is_429_and_a_bulk_fails_the_items_over_it(Some(true)).await;
}

#[actix_web::test]
async fn a_resend_past_the_email_cap_is_429_quota_exceeded() {
    let api = capped_api(Some(false), 1).await;
    let (_, key) = api.business("Acme", "ann@acme.test").await;
    let created = api.invite(&key, json!({"email": "bob@partner.test"})).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let wait = seconds_until_the_minute_of_now_leaves_the_cap(&api);
    let id = created.body["id"].as_str().unwrap();
    api.clock.advance(Duration::minutes(2));
    let resend = api
        .call(Method::POST, &format!("/v1/invitations/{id}/resend"), Some(&key), None)
        .await;
    assert_eq!(resend.status, StatusCode::TOO_MANY_REQUESTS, "{}", resend.body);
    assert_eq!(resend.body["code"], "quota_exceeded");
    assert_eq!(header(&resend, "retry-after"), (wait - 120).to_string());
}
