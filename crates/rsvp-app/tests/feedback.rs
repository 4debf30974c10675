//! The providers' reports' use cases over mockall mocks: which Postmark
//! credentials pass, and what an SNS message must be before the verifier
//! is asked (topic, age), what its answers become, and when a subscription
//! is confirmed.

use std::sync::Arc;

use rsvp_app::*;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:ses-feedback";

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

/// Secrets hashed as the real generator does in effect: equal digests for
/// equal secrets only (the bytes folded into 32 and the length mixed in).
fn secrets() -> MockSecretGenerator {
    let mut secrets = MockSecretGenerator::new();
    secrets.expect_hash().returning(|s| {
        let mut bytes = [0u8; 32];
        for (i, b) in s.bytes().enumerate() {
            bytes[i % 31] ^= b.rotate_left(u32::try_from(i % 7).unwrap());
        }
        bytes[31] = u8::try_from(s.len() % 256).unwrap();
        SecretHash(bytes)
    });
    secrets
}

fn app(verifier: MockSnsVerifier) -> App {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(now());
    App::new(
        Ports {
            store: Arc::new(MockStore::new()),
            clock: Arc::new(clock),
            ids: Arc::new(MockIdGenerator::new()),
            secrets: Arc::new(secrets()),
        },
        Settings::default(),
    )
    .with_ses_feedback(Arc::new(verifier), vec![TOPIC.to_owned()])
    .with_postmark_webhook(Secret::new("postmark"), Secret::new("s3cret"))
}

fn message(kind: SnsMessageType, at: OffsetDateTime) -> SnsMessage {
    SnsMessage {
        kind,
        message_id: "m-1".into(),
        topic_arn: TOPIC.into(),
        subject: None,
        message: "{}".into(),
        timestamp: at.format(&Rfc3339).unwrap(),
        token: None,
        subscribe_url: None,
        signature_version: "2".into(),
        signature: "c2ln".into(),
        signing_cert_url: "https://sns.eu-west-1.amazonaws.com/c.pem".into(),
    }
}

#[test]
fn postmark_credentials_pass_only_when_both_match_exactly() {
    let app = app(MockSnsVerifier::new());
    assert_eq!(app.authenticate_postmark("postmark", "s3cret"), Ok(()));
    for (user, password) in [
        ("postmark", "s3cre"),
        ("postmark", "s3cret "),
        ("Postmark", "s3cret"),
        ("", ""),
    ] {
        assert_eq!(
            app.authenticate_postmark(user, password),
            Err(AppError::Unauthorized),
            "{user}:{password}"
        );
    }
    let mut clock = MockClock::new();
    clock.expect_now().return_const(now());
    let plain = App::new(
        Ports {
            store: Arc::new(MockStore::new()),
            clock: Arc::new(clock),
            ids: Arc::new(MockIdGenerator::new()),
            secrets: Arc::new(MockSecretGenerator::new()),
        },
        Settings::default(),
    );
    assert_eq!(
        plain.authenticate_postmark("postmark", "s3cret"),
        Err(AppError::NotFound)
    );
    assert!(!plain.accepts_postmark() && !plain.accepts_ses());
}

#[tokio::test]
async fn a_message_from_another_topic_or_outside_its_time_never_reaches_the_verifier() {
    // No expectation: a call to the verifier would panic.
    let app = app(MockSnsVerifier::new());
    let foreign = SnsMessage {
        topic_arn: "arn:aws:sns:eu-west-1:999:other".into(),
        ..message(SnsMessageType::Notification, now())
    };
    let stale = message(SnsMessageType::Notification, now() - Duration::minutes(61));
    let early = message(SnsMessageType::Notification, now() + Duration::minutes(6));
    let unreadable = SnsMessage {
        timestamp: "yesterday".into(),
        ..message(SnsMessageType::Notification, now())
    };
    for refused in [foreign, stale, early, unreadable] {
        assert_eq!(
            app.receive_sns(&refused).await,
            Err(AppError::Unauthorized),
            "{refused:?}"
        );
    }
}

#[tokio::test]
async fn the_verifiers_answers_become_401_503_or_a_receipt_and_only_a_confirmation_is_confirmed() {
    let mut verifier = MockSnsVerifier::new();
    let mut calls = 0;
    verifier.expect_verify().times(4).returning(move |_| {
        calls += 1;
        match calls {
            1 => Err(SnsError::Rejected("bad signature".into())),
            2 => Err(SnsError::Unavailable("certificate fetch failed".into())),
            _ => Ok(()),
        }
    });
    verifier
        .expect_confirm_subscription()
        .times(1)
        .withf(|m| m.kind == SnsMessageType::SubscriptionConfirmation)
        .returning(|_| Ok(()));
    let app = app(verifier);
    let fresh = message(SnsMessageType::Notification, now() - Duration::minutes(59));
    assert_eq!(app.receive_sns(&fresh).await, Err(AppError::Unauthorized));
    assert!(matches!(app.receive_sns(&fresh).await, Err(AppError::Unavailable(_))));
    assert_eq!(app.receive_sns(&fresh).await, Ok(SnsReceipt::Notification));
    let confirmation = message(SnsMessageType::SubscriptionConfirmation, now());
    assert_eq!(
        app.receive_sns(&confirmation).await,
        Ok(SnsReceipt::SubscriptionConfirmed)
    );
}
