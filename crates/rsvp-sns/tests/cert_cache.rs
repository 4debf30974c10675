//! The signing-certificate cache against a real https server on 127.0.0.1:
//! one fetch per URL while fresh, shared by concurrent callers, bounded,
//! refreshed after its time to live, and the server down.

mod support;

use std::sync::Arc;
use std::time::Duration;

use rsvp_app::ports::{SnsError, SnsVerifier};
use rsvp_sns::{AwsSnsVerifier, DEFAULT_MAX_CACHED};
use support::*;

#[tokio::test]
async fn a_certificate_is_fetched_once_then_again_after_a_day() {
    let pki = Pki::new();
    let server = SnsServer::start(&pki, &pki.current_signing_cert(SIGNER_KEY_PEM)).await;
    let clock = ManualClock::new();
    let verifier = verifier(&pki, &server, &clock);
    let message = signed(notification(&server.cert_url(), None), "2", SIGNER_KEY_PEM);
    assert_eq!(verifier.verify(&message).await, Ok(()));
    assert_eq!(verifier.verify(&message).await, Ok(()));
    assert_eq!(server.requests().len(), 1, "the second verification fetched again");

    clock.advance(time::Duration::hours(23));
    assert_eq!(verifier.verify(&message).await, Ok(()));
    assert_eq!(server.requests().len(), 1);
    clock.advance(time::Duration::hours(2));
    assert_eq!(verifier.verify(&message).await, Ok(()));
    assert_eq!(server.requests().len(), 2, "kept beyond its time to live");
}

#[tokio::test]
async fn concurrent_first_verifications_share_one_fetch() {
    let pki = Pki::new();
    let server = SnsServer::start(&pki, &pki.current_signing_cert(SIGNER_KEY_PEM)).await;
    server.set(|a| a.delay = Duration::from_millis(300));
    let verifier = Arc::new(verifier(&pki, &server, &ManualClock::new()));
    let message = signed(notification(&server.cert_url(), None), "2", SIGNER_KEY_PEM);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let verifier = verifier.clone();
        let message = message.clone();
        calls.spawn(async move { verifier.verify(&message).await });
    }
    while let Some(outcome) = calls.join_next().await {
        assert_eq!(outcome.unwrap(), Ok(()));
    }
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn at_most_sixteen_urls_are_kept_the_oldest_goes_first() {
    let pki = Pki::new();
    let server = SnsServer::start(&pki, &pki.current_signing_cert(SIGNER_KEY_PEM)).await;
    let verifier = verifier(&pki, &server, &ManualClock::new());
    // The signature does not cover SigningCertURL: one signature serves all.
    let message = signed(notification(&server.cert_url(), None), "2", SIGNER_KEY_PEM);
    let at = |i: usize| {
        let mut m = message.clone();
        m.signing_cert_url = server.url(&format!("/cert-{i}.pem"));
        m
    };
    for i in 0..DEFAULT_MAX_CACHED {
        assert_eq!(verifier.verify(&at(i)).await, Ok(()));
    }
    assert_eq!(verifier.verify(&at(0)).await, Ok(()));
    assert_eq!(server.requests().len(), DEFAULT_MAX_CACHED, "all sixteen are held");
    assert_eq!(verifier.verify(&at(DEFAULT_MAX_CACHED)).await, Ok(()));
    assert_eq!(verifier.verify(&at(1)).await, Ok(()), "the newest after cert-0 stays");
    assert_eq!(server.requests().len(), DEFAULT_MAX_CACHED + 1);
    assert_eq!(verifier.verify(&at(0)).await, Ok(()));
    assert_eq!(server.requests().len(), DEFAULT_MAX_CACHED + 2, "cert-0 was pushed out");
    assert_eq!(server.requests().last().map(String::as_str), Some("/cert-0.pem"));
    assert!(format!("{verifier:?}").contains(&format!("certificates: {DEFAULT_MAX_CACHED}")));
}

#[tokio::test]
async fn the_server_down_is_unavailable_and_a_failure_is_not_kept() {
    let pki = Pki::new();
    let mut server = SnsServer::start(&pki, &pki.current_signing_cert(SIGNER_KEY_PEM)).await;
    let verifier = verifier(&pki, &server, &ManualClock::new());
    let message = signed(notification(&server.cert_url(), None), "2", SIGNER_KEY_PEM);

    server.set(|a| a.status = 503);
    assert!(matches!(verifier.verify(&message).await, Err(SnsError::Unavailable(_))));
    server.set(|a| a.status = 200);
    assert_eq!(verifier.verify(&message).await, Ok(()), "the failure was kept");
    assert_eq!(server.requests().len(), 2);

    let other = {
        let mut m = message.clone();
        m.signing_cert_url = server.url("/other.pem");
        m
    };
    server.stop().await;
    let outcome = verifier.verify(&other).await;
    assert!(matches!(outcome, Err(SnsError::Unavailable(_))), "{outcome:?}");
    // The certificate already held still serves.
    assert_eq!(verifier.verify(&message).await, Ok(()));
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_certificate_held() {
    let pki = Pki::new();
    let mut server = SnsServer::start(&pki, &pki.current_signing_cert(SIGNER_KEY_PEM)).await;
    let clock = ManualClock::new();
    let verifier = verifier(&pki, &server, &clock);
    let message = signed(notification(&server.cert_url(), None), "1", SIGNER_KEY_PEM);
    assert_eq!(verifier.verify(&message).await, Ok(()));
    server.stop().await;
    clock.advance(time::Duration::hours(25));
    assert_eq!(verifier.verify(&message).await, Ok(()));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_slow_server_times_out_as_unavailable() {
    let pki = Pki::new();
    let server = SnsServer::start(&pki, &pki.current_signing_cert(SIGNER_KEY_PEM)).await;
    server.set(|a| a.delay = Duration::from_secs(5));
    let mut settings = test_settings(&pki, &server);
    settings.fetch_timeout = Duration::from_millis(300);
    let verifier = AwsSnsVerifier::new(settings).unwrap();
    let message = signed(notification(&server.cert_url(), None), "2", SIGNER_KEY_PEM);
    let started = std::time::Instant::now();
    let outcome = verifier.verify(&message).await;
    let Err(SnsError::Unavailable(why)) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(why.contains("timed out"), "{why}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}
