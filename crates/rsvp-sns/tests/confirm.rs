//! Subscription confirmation against a real https server on 127.0.0.1:
//! the `SubscribeURL` fetched once, exactly as sent, and never off the rule.

mod support;

use rsvp_app::ports::{SnsError, SnsMessageType, SnsVerifier};
use rsvp_sns::{AwsSnsVerifier, SnsSettings};
use support::*;

const QUERY: &str = "/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:123456789012:ses-feedback&Token=2336412f37fb687f5d51e6e2425dacbba";

#[tokio::test]
async fn a_confirmation_fetches_its_subscribe_url_once() {
    let pki = Pki::new();
    let server = SnsServer::start(&pki, &pki.current_signing_cert(SIGNER_KEY_PEM)).await;
    let verifier = verifier(&pki, &server, &ManualClock::new());
    let message = signed(
        confirmation(&server.cert_url(), &server.url(QUERY)),
        "2",
        SIGNER_KEY_PEM,
    );
    assert_eq!(verifier.verify(&message).await, Ok(()));
    assert_eq!(verifier.confirm_subscription(&message).await, Ok(()));
    assert_eq!(server.requests(), vec!["/SimpleNotificationService-test.pem", QUERY]);
}

#[tokio::test]
async fn a_subscribe_url_off_the_rule_is_rejected_without_a_fetch() {
    let pki = Pki::new();
    let server = SnsServer::start(&pki, &pki.current_signing_cert(SIGNER_KEY_PEM)).await;
    let verifier = verifier(&pki, &server, &ManualClock::new());
    let authority = server.authority();
    for url in [
        format!("http://{authority}{QUERY}"),
        format!("https://user@{authority}{QUERY}"),
        format!("https://sns.us-east-1.amazonaws.com.evil.test{QUERY}"),
        format!("https://evil.test{QUERY}"),
        format!("https://sns.us-east-1.amazonaws.com{QUERY}"),
    ] {
        let message = confirmation(&server.cert_url(), &url);
        let outcome = verifier.confirm_subscription(&message).await;
        let Err(SnsError::Rejected(why)) = outcome else {
            panic!("{url}: {outcome:?}");
        };
        assert!(!why.contains("2336412f37"), "the reason repeats the token: {why}");
    }
    // Only a SubscriptionConfirmation with a SubscribeURL is confirmed.
    let mut missing = confirmation(&server.cert_url(), &server.url(QUERY));
    missing.subscribe_url = None;
    assert!(matches!(
        verifier.confirm_subscription(&missing).await,
        Err(SnsError::Rejected(_))
    ));
    for kind in [SnsMessageType::Notification, SnsMessageType::UnsubscribeConfirmation] {
        let mut other = confirmation(&server.cert_url(), &server.url(QUERY));
        other.kind = kind;
        assert!(matches!(
            verifier.confirm_subscription(&other).await,
            Err(SnsError::Rejected(_))
        ));
    }
    assert_eq!(server.connections(), 0, "a refused SubscribeURL was fetched");

    // Without a test endpoint the local server is off the rule too.
    let production = AwsSnsVerifier::new(SnsSettings::default()).unwrap();
    let message = confirmation(&server.cert_url(), &server.url(QUERY));
    assert!(matches!(
        production.confirm_subscription(&message).await,
        Err(SnsError::Rejected(_))
    ));
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn a_failed_confirmation_is_unavailable() {
    let pki = Pki::new();
    let mut server = SnsServer::start(&pki, &pki.current_signing_cert(SIGNER_KEY_PEM)).await;
    let verifier = verifier(&pki, &server, &ManualClock::new());
    let message = confirmation(&server.cert_url(), &server.url(QUERY));
    server.set(|a| a.status = 500);
    let outcome = verifier.confirm_subscription(&message).await;
    let Err(SnsError::Unavailable(why)) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(why.contains("500"), "{why}");
    assert!(!why.contains("2336412f37"), "the reason repeats the token: {why}");
    assert_eq!(server.requests(), vec![QUERY]);

    server.stop().await;
    assert!(matches!(
        verifier.confirm_subscription(&message).await,
        Err(SnsError::Unavailable(_))
    ));
}
