//! Messages signed as AWS signs them, verified against a real https server
//! on 127.0.0.1 serving the signing certificate: what verifies, what is
//! rejected, and what is rejected without a fetch.

mod support;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsvp_app::ports::{SnsError, SnsMessage, SnsMessageType, SnsVerifier};
use rsvp_sns::{AwsSnsVerifier, SnsSettings, SnsSetupError, TestEndpoint};
use support::*;

/// A change made to a signed message.
type Change = Box<dyn Fn(&mut SnsMessage)>;

fn is_rejected(outcome: &Result<(), SnsError>) -> bool {
    matches!(outcome, Err(SnsError::Rejected(_)))
}

#[tokio::test]
async fn notifications_of_both_versions_with_and_without_subject_verify() {
    let pki = Pki::new();
    let server = SnsServer::start(&pki, &pki.current_signing_cert(SIGNER_KEY_PEM)).await;
    let verifier = verifier(&pki, &server, &ManualClock::new());
    for version in ["1", "2"] {
        for subject in [None, Some("Amazon SES Email Event Notification")] {
            let message = signed(notification(&server.cert_url(), subject), version, SIGNER_KEY_PEM);
            assert_eq!(
                verifier.verify(&message).await,
                Ok(()),
                "version {version}, subject {subject:?}"
            );
        }
    }
    assert_eq!(server.requests(), vec!["/SimpleNotificationService-test.pem"]);
}

#[tokio::test]
async fn subscription_and_unsubscribe_confirmations_verify() {
    let pki = Pki::new();
    let server = SnsServer::start(&pki, &pki.current_signing_cert(SIGNER_KEY_PEM)).await;
    let verifier = verifier(&pki, &server, &ManualClock::new());
    let subscribe_url = server.url("/?Action=ConfirmSubscription&Token=2336412f37");
    for version in ["1", "2"] {
        let message = signed(
            confirmation(&server.cert_url(), &subscribe_url),
            version,
            SIGNER_KEY_PEM,
        );
        assert_eq!(verifier.verify(&message).await, Ok(()), "version {version}");
        let mut unsubscribe = confirmation(&server.cert_url(), &subscribe_url);
        unsubscribe.kind = SnsMessageType::UnsubscribeConfirmation;
        let unsubscribe = signed(unsubscribe, version, SIGNER_KEY_PEM);
        assert_eq!(verifier.verify(&unsubscribe).await, Ok(()), "version {version}");
    }
    // Verifying fetched the certificate only, never the SubscribeURL.
    assert_eq!(server.requests(), vec!["/SimpleNotificationService-test.pem"]);
}

#[tokio::test]
async fn a_changed_field_breaks_the_signature() {
    let pki = Pki::new();
    let server = SnsServer::start(&pki, &pki.current_signing_cert(SIGNER_KEY_PEM)).await;
    let verifier = verifier(&pki, &server, &ManualClock::new());
    let original = signed(notification(&server.cert_url(), Some("hi")), "2", SIGNER_KEY_PEM);
    assert_eq!(verifier.verify(&original).await, Ok(()));
    let changes: Vec<(&str, Change)> = vec![
        (
            "message",
            Box::new(|m| m.message = m.message.replace("Permanent", "Transient")),
        ),
        ("message id", Box::new(|m| m.message_id.push('0'))),
        ("subject", Box::new(|m| m.subject = Some("hi!".to_owned()))),
        ("subject removed", Box::new(|m| m.subject = None)),
        (
            "timestamp",
            Box::new(|m| m.timestamp = "2026-12-06T10:00:01.000Z".to_owned()),
        ),
        (
            "topic",
            Box::new(|m| m.topic_arn = m.topic_arn.replace("123456789012", "999999999999")),
        ),
        (
            "type",
            Box::new(|m| {
                m.kind = SnsMessageType::UnsubscribeConfirmation;
                m.token = Some("t".to_owned());
                m.subscribe_url = Some("https://x".to_owned());
            }),
        ),
    ];
    for (what, change) in changes {
        let mut tampered = original.clone();
        change(&mut tampered);
        let outcome = verifier.verify(&tampered).await;
        assert_eq!(outcome, Err(SnsError::Rejected("bad signature".to_owned())), "{what}");
    }
    // The token of a confirmation is signed too.
    let subscribe_url = server.url("/?Action=ConfirmSubscription");
    let mut confirmation = signed(confirmation(&server.cert_url(), &subscribe_url), "1", SIGNER_KEY_PEM);
    assert_eq!(verifier.verify(&confirmation).await, Ok(()));
    confirmation.token = Some("another-token".to_owned());
    assert!(is_rejected(&verifier.verify(&confirmation).await));
}

#[tokio::test]
async fn a_tampered_or_mislabelled_signature_is_rejected() {
    let pki = Pki::new();
    let server = SnsServer::start(&pki, &pki.current_signing_cert(SIGNER_KEY_PEM)).await;
    let verifier = verifier(&pki, &server, &ManualClock::new());
    let good = signed(notification(&server.cert_url(), None), "2", SIGNER_KEY_PEM);
    assert_eq!(verifier.verify(&good).await, Ok(()));

    let mut bytes = STANDARD.decode(&good.signature).unwrap();
    bytes[100] ^= 0x01;
    let mut flipped = good.clone();
    flipped.signature = STANDARD.encode(&bytes);
    assert_eq!(
        verifier.verify(&flipped).await,
        Err(SnsError::Rejected("bad signature".to_owned()))
    );
    // A SHA-256 signature labelled version 1, and the other way round.
    let mut mislabelled = good.clone();
    mislabelled.signature_version = "1".to_owned();
    assert!(is_rejected(&verifier.verify(&mislabelled).await));
    let mut v1 = signed(notification(&server.cert_url(), None), "1", SIGNER_KEY_PEM);
    assert_eq!(verifier.verify(&v1).await, Ok(()));
    v1.signature_version = "2".to_owned();
    assert!(is_rejected(&verifier.verify(&v1).await));
    // Signed by a key that is not the certificate's.
    let foreign = signed(notification(&server.cert_url(), None), "2", OTHER_KEY_PEM);
    assert!(is_rejected(&verifier.verify(&foreign).await));
}

#[tokio::test]
async fn an_unknown_version_or_a_non_base64_signature_is_rejected_without_a_fetch() {
    let pki = Pki::new();
    let server = SnsServer::start(&pki, &pki.current_signing_cert(SIGNER_KEY_PEM)).await;
    let verifier = verifier(&pki, &server, &ManualClock::new());
    let good = signed(notification(&server.cert_url(), None), "2", SIGNER_KEY_PEM);
    for version in ["3", "0", ""] {
        let mut message = good.clone();
        message.signature_version = version.to_owned();
        assert!(is_rejected(&verifier.verify(&message).await), "version {version:?}");
    }
    let mut garbled = good.clone();
    garbled.signature = "not base64!".to_owned();
    assert!(is_rejected(&verifier.verify(&garbled).await));
    let mut empty = good.clone();
    empty.signature = String::new();
    assert!(is_rejected(&verifier.verify(&empty).await));
    assert_eq!(server.connections(), 0);
    assert_eq!(verifier.verify(&good).await, Ok(()));
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_certificate_url_off_the_rule_is_rejected_without_a_fetch() {
    let pki = Pki::new();
    let server = SnsServer::start(&pki, &pki.current_signing_cert(SIGNER_KEY_PEM)).await;
    let verifier = verifier(&pki, &server, &ManualClock::new());
    let authority = server.authority();
    let port = authority.rsplit(':').next().unwrap().to_owned();
    let urls = [
        format!("http://{authority}/SimpleNotificationService-test.pem"),
        format!("https://user@{authority}/SimpleNotificationService-test.pem"),
        format!("https://user:pw@{authority}/SimpleNotificationService-test.pem"),
        format!("https://{authority}/SimpleNotificationService-test.txt"),
        format!("https://localhost:{port}/SimpleNotificationService-test.pem"),
        "https://sns.us-east-1.amazonaws.com.evil.test/SimpleNotificationService-test.pem".to_owned(),
        "https://evil.test/SimpleNotificationService-test.pem".to_owned(),
        // AWS's own host is not the test endpoint either.
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem".to_owned(),
        "not a url".to_owned(),
    ];
    for url in urls {
        let message = signed(notification(&url, None), "2", SIGNER_KEY_PEM);
        assert!(is_rejected(&verifier.verify(&message).await), "{url}");
    }
    assert_eq!(server.connections(), 0, "a refused URL was fetched");
}

#[tokio::test]
async fn without_a_test_endpoint_only_aws_hosts_are_fetched() {
    let pki = Pki::new();
    let server = SnsServer::start(&pki, &pki.current_signing_cert(SIGNER_KEY_PEM)).await;
    let verifier = AwsSnsVerifier::new(SnsSettings::default()).unwrap();
    for url in [
        server.cert_url(),
        "https://sns.us-east-1.amazonaws.com.evil.test/cert.pem".to_owned(),
        "http://sns.us-east-1.amazonaws.com/cert.pem".to_owned(),
        "https://sns.us-east-1.amazonaws.com:8443/cert.pem".to_owned(),
    ] {
        let message = signed(notification(&url, None), "2", SIGNER_KEY_PEM);
        assert!(is_rejected(&verifier.verify(&message).await), "{url}");
    }
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn the_test_endpoint_is_refused_without_the_test_flag() {
    let pki = Pki::new();
    let server = SnsServer::start(&pki, &pki.current_signing_cert(SIGNER_KEY_PEM)).await;
    let mut settings = test_settings(&pki, &server);
    settings.allow_test_endpoint = false;
    assert_eq!(
        AwsSnsVerifier::new(settings.clone()).unwrap_err(),
        SnsSetupError::TestEndpointNotAllowed
    );
    settings.allow_test_endpoint = true;
    assert!(AwsSnsVerifier::new(settings.clone()).is_ok());
    // The flag alone changes nothing; a bad endpoint is refused with it.
    let flag_only = SnsSettings {
        allow_test_endpoint: true,
        ..SnsSettings::default()
    };
    assert!(AwsSnsVerifier::new(flag_only).is_ok());
    for endpoint in [
        TestEndpoint::new("127.0.0.1", pki.ca_pem.clone()),
        TestEndpoint::new(server.authority(), "not a certificate"),
    ] {
        settings.test_endpoint = Some(endpoint);
        assert!(matches!(
            AwsSnsVerifier::new(settings.clone()),
            Err(SnsSetupError::TestEndpoint(_))
        ));
    }
    let zero = SnsSettings {
        fetch_timeout: Duration::ZERO,
        ..SnsSettings::default()
    };
    assert!(matches!(AwsSnsVerifier::new(zero), Err(SnsSetupError::Invalid(_))));
}

#[tokio::test]
async fn a_server_not_trusted_by_the_test_ca_is_unavailable() {
    let pki = Pki::new();
    let server = SnsServer::start(&pki, &pki.current_signing_cert(SIGNER_KEY_PEM)).await;
    let mut settings = test_settings(&pki, &server);
    // Another throwaway CA: the server's certificate is not under it.
    settings.test_endpoint = Some(TestEndpoint::new(server.authority(), Pki::new().ca_pem));
    let verifier = AwsSnsVerifier::new(settings).unwrap();
    let message = signed(notification(&server.cert_url(), None), "2", SIGNER_KEY_PEM);
    assert!(matches!(verifier.verify(&message).await, Err(SnsError::Unavailable(_))));
    assert!(
        server.requests().is_empty(),
        "a request went over an untrusted connection"
    );
}

#[tokio::test]
async fn a_certificate_outside_its_validity_is_rejected() {
    let pki = Pki::new();
    let now = time::OffsetDateTime::now_utc();
    let cert = pki.signing_cert(
        SIGNER_KEY_PEM,
        now - time::Duration::days(10),
        now + time::Duration::days(10),
    );
    let server = SnsServer::start(&pki, &cert).await;
    let clock = ManualClock::new();
    let verifier = verifier(&pki, &server, &clock);
    let message = signed(notification(&server.cert_url(), None), "1", SIGNER_KEY_PEM);
    assert_eq!(verifier.verify(&message).await, Ok(()));
    clock.advance(time::Duration::days(11));
    assert_eq!(
        verifier.verify(&message).await,
        Err(SnsError::Rejected("the signing certificate has expired".to_owned()))
    );

    let later = pki.signing_cert(
        SIGNER_KEY_PEM,
        now + time::Duration::days(1),
        now + time::Duration::days(10),
    );
    let server = SnsServer::start(&pki, &later).await;
    let verifier = verifier_now(&pki, &server);
    let message = signed(notification(&server.cert_url(), None), "2", SIGNER_KEY_PEM);
    assert_eq!(
        verifier.verify(&message).await,
        Err(SnsError::Rejected(
            "the signing certificate is not valid yet".to_owned()
        ))
    );
}

fn verifier_now(pki: &Pki, server: &SnsServer) -> AwsSnsVerifier {
    AwsSnsVerifier::new(test_settings(pki, server)).unwrap()
}

#[tokio::test]
async fn an_answer_that_is_not_a_certificate_is_unavailable_and_not_followed() {
    let pki = Pki::new();
    let server = SnsServer::start(&pki, "<html>maintenance</html>").await;
    let verifier = verifier(&pki, &server, &ManualClock::new());
    let message = signed(notification(&server.cert_url(), None), "2", SIGNER_KEY_PEM);
    assert!(matches!(verifier.verify(&message).await, Err(SnsError::Unavailable(_))));

    server.set(|a| a.status = 404);
    assert!(matches!(verifier.verify(&message).await, Err(SnsError::Unavailable(_))));

    // A redirect (to a certificate on the same server) is not followed.
    let target = server.url("/elsewhere.pem");
    server.set(|a| {
        a.status = 302;
        a.headers = vec![format!("location: {target}")];
    });
    assert!(matches!(verifier.verify(&message).await, Err(SnsError::Unavailable(_))));
    assert_eq!(server.requests().len(), 3);
    assert!(!server.requests().iter().any(|r| r == "/elsewhere.pem"));

    // An answer over 64 KiB is not read to the end.
    server.set(|a| {
        a.status = 200;
        a.headers.clear();
        a.cert_pem = "A".repeat(65 * 1024);
    });
    let outcome = verifier.verify(&message).await;
    let Err(SnsError::Unavailable(why)) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(why.contains("larger than"), "{why}");
}
