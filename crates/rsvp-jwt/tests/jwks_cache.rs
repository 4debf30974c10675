//! The JWKS cache against a real server on 127.0.0.1: rotation, the refetch
//! limit, Cache-Control, the last good keys while the server is down, the cap.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::Algorithm;
use rsvp_app::{TokenRejected, TokenVerifier};
use serde_json::json;
use support::*;

fn rs256(kid: &str, key: &jsonwebtoken::EncodingKey) -> String {
    sign(Algorithm::RS256, Some(kid), &claims(), key)
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_and_the_removed_one_is_refused() {
    let server = JwksServer::start(&jwks(vec![jwk(&rsa_a(), Algorithm::RS256, "a", true)])).await;
    let clock = ManualClock::new();
    let verifier = verifier(settings(&server.url()), &clock);
    assert!(verifier.verify(&rs256("a", &rsa_a())).await.is_ok());
    assert_eq!(server.requests(), 1);

    server.serve(&jwks(vec![jwk(&rsa_b(), Algorithm::RS256, "b", true)]));
    clock.advance(31);
    assert!(verifier.verify(&rs256("b", &rsa_b())).await.is_ok());
    assert_eq!(server.requests(), 2, "exactly one refetch for the new kid");
    assert!(verifier.verify(&rs256("b", &rsa_b())).await.is_ok());
    assert_eq!(
        verifier.verify(&rs256("a", &rsa_a())).await,
        Err(TokenRejected::Invalid("unknown key"))
    );
    assert_eq!(server.requests(), 2, "the removed kid fetched nothing within 30 s");
}

#[tokio::test]
async fn an_unknown_kid_refetches_at_most_once_per_thirty_seconds() {
    let server = JwksServer::start(&standard_jwks()).await;
    let clock = ManualClock::new();
    let verifier = Arc::new(verifier(settings(&server.url()), &clock));
    assert_eq!(verifier.prefetch().await, 2);
    assert_eq!(server.requests(), 1);
    // Within 30 s of that fetch an unknown kid fetches nothing.
    let unknown = rs256("nobody", &rsa_a());
    assert_eq!(
        verifier.verify(&unknown).await,
        Err(TokenRejected::Invalid("unknown key"))
    );
    assert_eq!(server.requests(), 1);

    // Later, 100 random kids at once (the fetch is slow: they all wait for
    // it) and 100 more right after: one fetch between them.
    clock.advance(31);
    server.set(|a| a.delay = Duration::from_millis(200));
    // Signed before the clock starts (RSA signing is slow in a debug build).
    let at_once: Vec<String> = (0..100)
        .map(|i| rs256(&format!("random-{i}-{:x}", i * 7919), &rsa_a()))
        .collect();
    let right_after: Vec<String> = (0..100).map(|i| rs256(&format!("again-{i}"), &rsa_a())).collect();
    let started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for token in at_once {
        let verifier = verifier.clone();
        calls.spawn(async move { verifier.verify(&token).await });
    }
    while let Some(outcome) = calls.join_next().await {
        assert_eq!(outcome.unwrap(), Err(TokenRejected::Invalid("unknown key")));
    }
    for token in right_after {
        assert_eq!(
            verifier.verify(&token).await,
            Err(TokenRejected::Invalid("unknown key"))
        );
    }
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
    assert_eq!(server.requests(), 2, "at most one fetch for 200 unknown kids");
    // Known keys kept verifying throughout.
    assert!(verifier.verify(&rs256("rsa-a", &rsa_a())).await.is_ok());
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn cache_control_max_age_decides_when_to_fetch_again() {
    let server = JwksServer::start(&standard_jwks()).await;
    server.set(|a| a.cache_control = Some("public, max-age=120".to_owned()));
    let clock = ManualClock::new();
    let verifier = verifier(settings(&server.url()), &clock);
    let token = rs256("rsa-a", &rsa_a());
    assert!(verifier.verify(&token).await.is_ok());
    clock.advance(119);
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(server.requests(), 1, "within max-age: no fetch");
    clock.advance(2);
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(server.requests(), 2, "after max-age: fetched again");

    // A max-age below 30 s is raised to 30 s.
    server.set(|a| a.cache_control = Some("max-age=1".to_owned()));
    clock.advance(121);
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(server.requests(), 3);
    clock.advance(5);
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(server.requests(), 3, "max-age=1 kept 30 s");
    clock.advance(26);
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(server.requests(), 4);

    // Without Cache-Control (or with no-cache): five minutes.
    server.set(|a| a.cache_control = Some("no-cache".to_owned()));
    clock.advance(31);
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(server.requests(), 5);
    clock.advance(299);
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(server.requests(), 5);
    clock.advance(2);
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(server.requests(), 6);
}

#[tokio::test]
async fn the_last_good_keys_serve_while_the_server_is_down_or_answers_garbage() {
    let mut server = JwksServer::start(&standard_jwks()).await;
    let clock = ManualClock::new();
    let verifier = verifier(settings(&server.url()), &clock);
    let token = rs256("rsa-a", &rsa_a());
    assert!(verifier.verify(&token).await.is_ok());

    for garbage in [
        (200, "<html>maintenance</html>".to_owned()),
        (200, json!({"keys": []}).to_string()),
        (200, json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}).to_string()),
        (503, standard_jwks().to_string()),
    ] {
        server.set(|a| (a.status, a.body) = garbage.clone());
        let before = server.requests();
        clock.advance(301);
        assert!(verifier.verify(&token).await.is_ok(), "{garbage:?}");
        assert_eq!(server.requests(), before + 1, "stale keys: fetched again");
        // Tried again no sooner than 30 s later.
        clock.advance(20);
        assert!(verifier.verify(&token).await.is_ok());
        assert_eq!(server.requests(), before + 1);
    }

    server.stop().await;
    clock.advance(3600);
    let started = Instant::now();
    assert!(verifier.verify(&token).await.is_ok());
    assert!(
        verifier
            .verify(&sign(Algorithm::ES256, Some("ec-1"), &claims(), &ec_p256()))
            .await
            .is_ok()
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn no_key_ever_fetched_gives_keys_unavailable_fast() {
    let clock = ManualClock::new();
    let verifier = verifier(settings(&dead_url().await), &clock);
    let token = rs256("rsa-a", &rsa_a());
    let started = Instant::now();
    assert_eq!(verifier.verify(&token).await, Err(TokenRejected::KeysUnavailable));
    assert_eq!(verifier.verify(&token).await, Err(TokenRejected::KeysUnavailable));
    assert_eq!(verifier.prefetch().await, 0);
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_slow_jwks_times_out_at_the_fetch_timeout() {
    let server = JwksServer::start(&standard_jwks()).await;
    server.set(|a| a.delay = Duration::from_secs(5));
    let mut settings = settings(&server.url());
    settings.fetch_timeout = Duration::from_millis(300);
    let verifier = verifier(settings, &ManualClock::new());
    let started = Instant::now();
    assert_eq!(
        verifier.verify(&rs256("rsa-a", &rsa_a())).await,
        Err(TokenRejected::KeysUnavailable)
    );
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn the_number_of_keys_is_capped_and_unusable_keys_are_skipped() {
    let mut keys = vec![
        json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}),
        json!({"kty": "weird", "kid": "w"}),
        jwk(&rsa_1024(), Algorithm::RS256, "short", true),
        {
            let mut enc = jwk(&rsa_b(), Algorithm::RS256, "enc", false);
            enc["use"] = json!("enc");
            enc
        },
        jwk(&ec_p256(), Algorithm::ES256, "bad-point", true),
    ];
    keys[4]["x"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    for i in 0..40 {
        keys.push(jwk(&rsa_a(), Algorithm::RS256, &format!("k{i}"), true));
    }
    let server = JwksServer::start(&jwks(keys)).await;
    let mut settings = settings(&server.url());
    settings.max_keys = 32;
    let verifier = verifier(settings, &ManualClock::new());
    assert_eq!(verifier.prefetch().await, 32, "the first 32 usable keys");
    assert!(verifier.verify(&rs256("k0", &rsa_a())).await.is_ok());
    assert!(verifier.verify(&rs256("k31", &rsa_a())).await.is_ok());
    for kid in ["k32", "k39"] {
        assert_eq!(
            verifier.verify(&rs256(kid, &rsa_a())).await,
            Err(TokenRejected::Invalid("unknown key")),
            "{kid}"
        );
    }
    assert_eq!(
        verifier.verify(&rs256("short", &rsa_1024())).await,
        Err(TokenRejected::Invalid("unknown key"))
    );
    assert_eq!(
        verifier.verify(&rs256("enc", &rsa_b())).await,
        Err(TokenRejected::Invalid("unknown key"))
    );
    assert_eq!(server.requests(), 1);
}
