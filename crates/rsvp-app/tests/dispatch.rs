//! The email dispatcher over mocks: what is sent, recorded, retried, given up.

use std::sync::{Arc, Mutex};

use rsvp_app::*;
use rsvp_domain::*;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn invitation() -> Invitation {
    let request = InvitationInput {
        email: Some("bob@globex.test".into()),
        message: Some("Let's trade".into()),
        first_name: Some("Bob".into()),
        ..Default::default()
    }
    .validate()
    .unwrap();
    Invitation::new(
        InvitationId::from_uuid(Uuid::from_u128(100)),
        BusinessId::from_uuid(Uuid::from_u128(1)),
        UserId::from_uuid(Uuid::from_u128(10)),
        request,
        now(),
    )
}

fn job(attempts: u32) -> EmailJob {
    EmailJob {
        id: EmailJobId::from_uuid(Uuid::from_u128(555)),
        invitation_id: InvitationId::from_uuid(Uuid::from_u128(100)),
        to: EmailAddress::parse("bob@globex.test").unwrap(),
        link_token: Some(Secret::new("tok123")),
        attempts,
        status: EmailJobStatus::Queued,
        // As claimed: the lease runs from the claim.
        next_attempt_at: now() + Duration::seconds(45),
        last_error: None,
        created_at: now(),
        kind: rsvp_app::EmailKind::Invitation,
    }
}

struct World {
    outcomes: Arc<Mutex<Vec<EmailOutcome>>>,
    sent: Arc<Mutex<Vec<OutgoingEmail>>>,
    locales: Arc<Mutex<Vec<Locale>>>,
}

fn dispatcher(invitation: Invitation, job: EmailJob, send: Result<SentEmail, MailError>) -> (EmailDispatcher, World) {
    dispatcher_with(invitation, job, send, Vec::new(), Locale::En)
}

/// A dispatcher whose store holds `suppressions` (opt-outs).
fn dispatcher_with(
    invitation: Invitation,
    job: EmailJob,
    send: Result<SentEmail, MailError>,
    suppressions: Vec<Suppression>,
    default_locale: Locale,
) -> (EmailDispatcher, World) {
    let mut store = MockStore::new();
    store
        .opt_outs
        .expect_suppressions_for()
        .returning(move |business, emails| {
            Ok(suppressions
                .iter()
                .filter(|s| emails.iter().any(|e| s.blocks(business, e)))
                .cloned()
                .collect())
        });
    store
        .outbox
        .expect_claim_email_jobs()
        .times(1)
        .returning(move |_, _, _| Ok(vec![job.clone()]));
    store
        .invitations
        .expect_get_invitations()
        .returning(move |_| Ok(vec![invitation.clone()]));
    store.operator.expect_get_business().returning(|id| {
        Ok(Some(Business {
            id,
            name: BusinessName::parse("Acme").unwrap(),
            created_at: now(),
            suspended_at: None,
            external_id: None,
        }))
    });
    store.operator.expect_get_user().returning(|id| {
        Ok(Some(User {
            id,
            business_id: BusinessId::from_uuid(Uuid::from_u128(1)),
            email: EmailAddress::parse("ann@acme.test").unwrap(),
            first_name: Some(PersonName::parse("Ann").unwrap()),
            last_name: Some(PersonName::parse("Lee").unwrap()),
            created_at: now(),
            deactivated_at: None,
            external_id: None,
        }))
    });
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let recorded = outcomes.clone();
    store.outbox.expect_finish_email_jobs().returning(move |outcomes, _| {
        let mut recorded = recorded.lock().unwrap();
        recorded.extend(outcomes.iter().map(|(_, outcome)| outcome.clone()));
        Ok(outcomes.len() as u64)
    });
    let mut clock = MockClock::new();
    clock.expect_now().return_const(now());
    let locales = Arc::new(Mutex::new(Vec::new()));
    let rendered = locales.clone();
    let mut renderer = MockEmailRenderer::new();
    renderer.expect_render().returning(move |email| {
        rendered.lock().unwrap().push(email.locale);
        Ok(RenderedEmail {
            subject: format!("{} ({}) invites you", email.sender_business, email.sender_user),
            text: email.accept_url.clone(),
            html: email.accept_url.clone(),
        })
    });
    let sent = Arc::new(Mutex::new(Vec::new()));
    let sent_log = sent.clone();
    let mut mailer = MockMailer::new();
    mailer.expect_send().returning(move |email| {
        sent_log.lock().unwrap().push(email.clone());
        send.clone()
    });
    let ports = Ports {
        store: Arc::new(store),
        clock: Arc::new(clock),
        ids: Arc::new(MockIdGenerator::new()),
        secrets: Arc::new(MockSecretGenerator::new()),
    };
    let mut settings = DispatchSettings::new("https://rsvp.test/");
    settings.default_locale = default_locale;
    let dispatcher = EmailDispatcher::new(ports, Arc::new(renderer), Arc::new(mailer), settings);
    (
        dispatcher,
        World {
            outcomes,
            sent,
            locales,
        },
    )
}

#[tokio::test]
async fn a_due_email_is_rendered_sent_with_a_stable_message_id_and_recorded() {
    let (dispatcher, world) = dispatcher(invitation(), job(1), Ok(SentEmail::default()));
    let report = dispatcher.run_once().await.unwrap();
    assert_eq!(
        report,
        DispatchReport {
            claimed: 1,
            sent: 1,
            retried: 0,
            failed: 0,
            released: 0,
        }
    );
    let sent = world.sent.lock().unwrap();
    assert_eq!(sent[0].message_id, "00000000-0000-0000-0000-00000000022b@rsvp.test");
    assert_eq!(sent[0].content.text, "https://rsvp.test/invite/tok123");
    assert_eq!(sent[0].content.subject, "Acme (Ann Lee) invites you");
    assert_eq!(*world.outcomes.lock().unwrap(), [EmailOutcome::sent()]);
}

#[tokio::test]
async fn the_recorded_outcome_carries_the_provider_message_id_the_transport_returned() {
    let (dispatcher, world) = dispatcher(
        invitation(),
        job(1),
        Ok(SentEmail::with_provider_id("b7bc2f4a-e38e-4336-af7d-e6c392c2f817")),
    );
    assert_eq!(dispatcher.run_once().await.unwrap().sent, 1);
    assert_eq!(
        *world.outcomes.lock().unwrap(),
        [EmailOutcome::Sent {
            provider_message_id: Some("b7bc2f4a-e38e-4336-af7d-e6c392c2f817".to_owned()),
        }]
    );
    // What a transport sends as the provider's metadata: the job's id.
    let sent = world.sent.lock().unwrap();
    assert_eq!(sent[0].job_reference(), job(1).id.to_string());
}

#[tokio::test]
async fn a_transient_failure_is_retried_later_with_backoff() {
    let (dispatcher, world) = dispatcher(invitation(), job(3), Err(MailError::Transient("451 try later".into())));
    assert_eq!(dispatcher.run_once().await.unwrap().retried, 1);
    let outcomes = world.outcomes.lock().unwrap();
    let EmailOutcome::Retry { retry_at, error } = &outcomes[0] else {
        panic!("{outcomes:?}")
    };
    assert_eq!(error, "451 try later");
    // Third attempt failed: 30 s * 2^2 = 120 s, jittered into [60 s, 120 s).
    let delay = *retry_at - now();
    assert!(
        delay >= Duration::seconds(60) && delay < Duration::seconds(120),
        "{delay}"
    );
}

#[tokio::test]
async fn a_permanent_failure_is_given_up_at_once() {
    let (dispatcher, world) = dispatcher(
        invitation(),
        job(1),
        Err(MailError::Permanent("550 no such user".into())),
    );
    assert_eq!(dispatcher.run_once().await.unwrap().failed, 1);
    assert_eq!(
        *world.outcomes.lock().unwrap(),
        [EmailOutcome::Failed {
            error: "550 no such user".into()
        }]
    );
}

#[tokio::test]
async fn the_last_attempt_failing_transiently_gives_up() {
    let (dispatcher, world) = dispatcher(invitation(), job(8), Err(MailError::Transient("timeout".into())));
    assert_eq!(dispatcher.run_once().await.unwrap().failed, 1);
    let outcomes = world.outcomes.lock().unwrap();
    assert!(
        matches!(&outcomes[0], EmailOutcome::Failed { error } if error.contains("8 attempts")),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn no_email_is_sent_for_an_invitation_that_is_no_longer_pending() {
    let cancelled = invitation()
        .cancel(
            &Actor::Sender {
                user_id: UserId::from_uuid(Uuid::from_u128(10)),
            },
            now(),
        )
        .unwrap();
    let (dispatcher, world) = dispatcher(cancelled, job(1), Ok(SentEmail::default()));
    assert_eq!(dispatcher.run_once().await.unwrap().failed, 1);
    assert!(world.sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_email_names_the_inviter_replies_to_them_and_offers_one_click_unsubscribe_in_the_invitations_language() {
    let german = Invitation::restore(InvitationParts {
        locale: Some(Locale::De),
        ..invitation().into_parts()
    });
    let (dispatcher, world) = dispatcher(german, job(1), Ok(SentEmail::default()));
    assert_eq!(dispatcher.run_once().await.unwrap().sent, 1);
    let sent = world.sent.lock().unwrap();
    assert_eq!(sent[0].from_name.as_deref(), Some("Ann Lee (Acme) via rsvp"));
    assert_eq!(
        sent[0].reply_to,
        Some(NamedAddress {
            name: Some("Ann Lee".into()),
            email: EmailAddress::parse("ann@acme.test").unwrap(),
        })
    );
    assert_eq!(
        sent[0].list_unsubscribe.as_deref(),
        Some("https://rsvp.test/unsubscribe/tok123")
    );
}

#[tokio::test]
async fn an_email_is_rendered_in_the_invitations_locale_or_else_the_default() {
    let mut seen = Vec::new();
    for locale in [Some(Locale::De), Some(Locale::En), None] {
        let invitation = Invitation::restore(InvitationParts {
            locale,
            ..invitation().into_parts()
        });
        let (dispatcher, world) = dispatcher_with(invitation, job(1), Ok(SentEmail::default()), Vec::new(), Locale::De);
        dispatcher.run_once().await.unwrap();
        seen.extend(world.locales.lock().unwrap().iter().copied());
    }
    assert_eq!(seen, [Locale::De, Locale::En, Locale::De]);
}

#[tokio::test]
async fn no_email_is_sent_to_a_recipient_who_opted_out_after_it_was_queued() {
    let opted_out = Suppression {
        id: SuppressionId::from_uuid(Uuid::from_u128(900)),
        email: EmailAddress::parse("Bob@Globex.test").unwrap(),
        business_id: None,
        invitation_id: None,
        created_at: now(),
        reason: rsvp_domain::SuppressionReason::OptOut,
    };
    let (dispatcher, world) = dispatcher_with(
        invitation(),
        job(1),
        Ok(SentEmail::default()),
        vec![opted_out],
        Locale::En,
    );
    assert_eq!(dispatcher.run_once().await.unwrap().failed, 1);
    assert!(world.sent.lock().unwrap().is_empty());
    assert!(
        matches!(&world.outcomes.lock().unwrap()[0], EmailOutcome::Failed { error } if error.contains("opted out")),
    );
}

#[test]
fn message_ids_use_the_public_host_or_a_safe_fallback() {
    let job = job(1);
    for (url, domain) in [
        ("https://rsvp.example.com/base", "rsvp.example.com"),
        ("http://127.0.0.1:8080", "127.0.0.1"),
        ("http://[::1]:8080", "rsvp.localhost"),
        ("https://bücher.example", "rsvp.localhost"),
    ] {
        let ports = Ports {
            store: Arc::new(MockStore::new()),
            clock: Arc::new(MockClock::new()),
            ids: Arc::new(MockIdGenerator::new()),
            secrets: Arc::new(MockSecretGenerator::new()),
        };
        let dispatcher = EmailDispatcher::new(
            ports,
            Arc::new(MockEmailRenderer::new()),
            Arc::new(MockMailer::new()),
            DispatchSettings::new(url),
        );
        assert_eq!(dispatcher.message_id(&job), format!("{}@{domain}", job.id), "{url}");
    }
}

#[test]
fn backoff_doubles_is_capped_and_spreads_jobs() {
    let settings = DispatchSettings::new("https://rsvp.test");
    for attempt in 1..=12u32 {
        for seed in 0..50u128 {
            let delay = settings.backoff(attempt, seed * 7919);
            let full = (Duration::seconds(30) * 2f64.powi(attempt as i32 - 1)).min(Duration::hours(1));
            assert!(
                delay >= full / 2 && delay < full,
                "attempt {attempt}: {delay} vs {full}"
            );
        }
    }
    let spread: std::collections::HashSet<i64> = (0..50u128)
        .map(|seed| settings.backoff(2, seed).whole_milliseconds() as i64)
        .collect();
    assert!(spread.len() > 10, "jitter spreads retries: {spread:?}");
}
