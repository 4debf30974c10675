//! The reminder round and the expiry's notice, over mockall mocks of every
//! port and a clock the tests set: what the use cases hand the store.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rsvp_app::*;
use rsvp_domain::*;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn business(n: u128, name: &str) -> Business {
    Business {
        id: BusinessId::from_uuid(Uuid::from_u128(n)),
        name: BusinessName::parse(name).unwrap(),
        created_at: now(),
        suspended_at: None,
        external_id: None,
    }
}

fn ann() -> User {
    User {
        id: UserId::from_uuid(Uuid::from_u128(10)),
        business_id: business(1, "Acme").id,
        email: EmailAddress::parse("ann@acme.test").unwrap(),
        first_name: None,
        last_name: None,
        created_at: now(),
        deactivated_at: None,
        external_id: None,
    }
}

/// A pending invitation from `sender` to `email`, sent 10 days ago,
/// expiring in 2 days.
fn pending(n: u128, sender: &Business, email: &str) -> Invitation {
    let request = InvitationInput {
        email: Some(email.into()),
        expires_in_days: Some(12),
        ..Default::default()
    }
    .validate()
    .unwrap();
    Invitation::new(
        InvitationId::from_uuid(Uuid::from_u128(n)),
        sender.id,
        ann().id,
        request,
        now() - Duration::days(10),
    )
}

/// An app over `store` whose clock reads `at`, with `settings`, counting ids
/// and secrets `secret-0`, `secret-1`, ... hashed to their first byte.
fn app(store: MockStore, at: OffsetDateTime, settings: Settings) -> App {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(at);
    let counter = Arc::new(AtomicU64::new(1000));
    let mut ids = MockIdGenerator::new();
    ids.expect_new_id()
        .returning(move || Uuid::from_u128(u128::from(counter.fetch_add(1, Ordering::SeqCst))));
    let secret_counter = Arc::new(AtomicU64::new(0));
    let mut secrets = MockSecretGenerator::new();
    secrets
        .expect_generate()
        .returning(move || Secret::new(format!("secret-{}", secret_counter.fetch_add(1, Ordering::SeqCst))));
    secrets
        .expect_hash()
        .returning(|s| SecretHash([s.as_bytes()[s.len() - 1]; 32]));
    App::new(
        Ports {
            store: Arc::new(store),
            clock: Arc::new(clock),
            ids: Arc::new(ids),
            secrets: Arc::new(secrets),
        },
        settings,
    )
}

#[tokio::test]
async fn with_reminders_off_a_round_reads_nothing() {
    // A mock without expectations fails any call.
    let settings = Settings {
        reminder_before_expiry: Duration::ZERO,
        ..Settings::default()
    };
    assert_eq!(app(MockStore::new(), now(), settings).send_reminders(100).await, Ok(0));
}

#[tokio::test]
async fn a_round_queues_each_due_reminder_with_a_new_link_its_event_and_an_email_under_the_cap() {
    let acme = business(1, "Acme");
    let due = vec![
        pending(100, &acme, "bob@globex.test"),
        pending(101, &acme, "carol@globex.test"),
    ];
    let mut store = MockStore::new();
    store
        .invitations
        .expect_due_for_reminder()
        .withf(|q| q.now == now() && q.window == Duration::hours(72) && q.skip_businesses.is_empty() && q.limit == 50)
        .times(1)
        .returning(move |_| Ok(due.clone()));
    store
        .invitations
        .expect_record_reminder()
        .withf(|r| {
            let token = r.email_job.link_token.as_ref().map(|t| t.expose().to_owned());
            r.now == now()
                && r.window == Duration::hours(72)
                && r.link.invitation_id == r.invitation_id
                && r.link.created_at == now()
                && token.is_some_and(|t| SecretHash([t.as_bytes()[t.len() - 1]; 32]) == r.link.hash)
                && r.event.kind == EventKind::InvitationReminded
                && r.event.invitation_id == Some(r.invitation_id)
                && r.event.occurred_at == now()
                && r.event.data.actor == Actor::System
                && r.email_job.kind == EmailKind::Invitation
                && r.email_job.invitation_id == r.invitation_id
                && r.email_job.created_at == now()
                && r.email_cap == Some(EmailCap { limit: 10_000 })
        })
        .times(2)
        .returning(|r| {
            // The second lost a race (answered meanwhile): not counted.
            Ok((r.invitation_id == InvitationId::from_uuid(Uuid::from_u128(100)))
                .then(|| pending(100, &business(1, "Acme"), "bob@globex.test")))
        });
    assert_eq!(app(store, now(), Settings::default()).send_reminders(50).await, Ok(1));
}

#[tokio::test]
async fn a_business_at_its_email_cap_is_left_out_and_the_round_reads_on_without_it() {
    let acme = business(1, "Acme");
    let globex = business(2, "Globex");
    let mut store = MockStore::new();
    let acme_id = acme.id;
    store
        .invitations
        .expect_due_for_reminder()
        .times(2)
        .returning(move |q| {
            Ok(if q.skip_businesses.is_empty() {
                assert_eq!(q.limit, 2);
                vec![pending(100, &acme, "a@x.test"), pending(101, &acme, "b@x.test")]
            } else {
                assert_eq!(q.skip_businesses, [acme_id]);
                assert_eq!(q.limit, 2, "nothing was queued yet");
                vec![pending(102, &globex, "c@x.test")]
            })
        });
    store.invitations.expect_record_reminder().times(2).returning(move |r| {
        let id = r.invitation_id.as_uuid().as_u128();
        assert_ne!(id, 101, "the capped business's next invitation is not tried");
        if id == 100 {
            Err(StoreError::EmailCapReached {
                retry_at: now() + Duration::minutes(5),
            })
        } else {
            Ok(Some(pending(102, &business(2, "Globex"), "c@x.test")))
        }
    });
    let reminded = app(store, now(), Settings::default()).send_reminders(2).await;
    assert_eq!(reminded, Ok(1));
}

#[tokio::test]
async fn an_expiry_queues_one_notice_to_the_sending_user_unless_notices_are_off_or_the_user_is_deactivated() {
    let acme = business(1, "Acme");
    let expired_at = now() + Duration::days(3);
    for (notify, deactivated, expected) in [(true, false, true), (false, false, false), (true, true, false)] {
        let due = vec![pending(100, &acme, "bob@globex.test")];
        let mut store = MockStore::new();
        store
            .invitations
            .expect_due_for_expiry()
            .returning(move |_, _| Ok(due.clone()));
        store
            .operator
            .expect_get_user()
            .times(usize::from(notify))
            .returning(move |_| {
                let mut user = ann();
                user.deactivated_at = deactivated.then(now);
                Ok(Some(user))
            });
        store
            .invitations
            .expect_apply_transition()
            .times(1)
            .withf(move |r| {
                let notice_ok = match &r.email_job {
                    None => !expected,
                    Some(job) => {
                        expected
                            && job.kind == EmailKind::ExpiryNotice
                            && job.to == ann().email
                            && job.link_token.is_none()
                            && job.invitation_id == r.invitation.id()
                            && job.created_at == expired_at
                            && job.next_attempt_at == expired_at
                    }
                };
                notice_ok && r.invitation.status() == InvitationStatus::Expired
            })
            .returning(|r| {
                Ok(TransitionOutcome {
                    invitation: r.invitation.clone(),
                    connection: None,
                })
            });
        let settings = Settings {
            notify_sender_on_expiry: notify,
            ..Settings::default()
        };
        let expired = app(store, expired_at, settings).expire_due(10).await;
        assert_eq!(expired, Ok(1), "notify {notify}, deactivated {deactivated}");
    }
}

#[test]
fn an_invitation_is_due_for_its_reminder_from_the_window_start_until_it_expires_if_last_sent_before_it() {
    let acme = business(1, "Acme");
    let invitation = pending(100, &acme, "bob@globex.test");
    let expires = invitation.expires_at();
    let window = Duration::hours(72);
    let due = |invitation: &Invitation, at: OffsetDateTime| ReminderQuery::is_due(invitation, at, window);
    assert!(
        !due(&invitation, expires - window - Duration::seconds(1)),
        "before the window"
    );
    assert!(due(&invitation, expires - window), "at its start");
    assert!(due(&invitation, expires - Duration::seconds(1)));
    assert!(!due(&invitation, expires), "expired");
    let sent_at_start = Invitation::restore(InvitationParts {
        last_sent_at: Some(expires - window),
        ..invitation.clone().into_parts()
    });
    assert!(
        !due(&sent_at_start, expires - Duration::hours(1)),
        "sent inside the window"
    );
    let never_sent = Invitation::restore(InvitationParts {
        last_sent_at: None,
        ..invitation.clone().into_parts()
    });
    assert!(
        !due(&never_sent, expires - Duration::hours(1)),
        "created without an email"
    );
    for delivery in [EmailDelivery::Bounced, EmailDelivery::Complained] {
        let bounced = Invitation::restore(InvitationParts {
            email_delivery: Some(delivery),
            ..invitation.clone().into_parts()
        });
        assert!(!due(&bounced, expires - Duration::hours(1)), "{delivery:?}");
    }
    let failed = Invitation::restore(InvitationParts {
        email_delivery: Some(EmailDelivery::Failed),
        ..invitation.clone().into_parts()
    });
    assert!(
        due(&failed, expires - Duration::hours(1)),
        "a failed send is not a bounce"
    );
    let cancelled = invitation.cancel(&Actor::Sender { user_id: ann().id }, now()).unwrap();
    assert!(!due(&cancelled, expires - Duration::hours(1)), "answered or cancelled");
}

/// One dispatcher round over an expired invitation (in German) and its
/// notice to Ann, with `suppressions` stored and `renderer`: the outcomes
/// recorded and the emails sent.
async fn notice_round(
    suppressions: Vec<Suppression>,
    renderer: Arc<dyn EmailRenderer>,
) -> (Vec<EmailOutcome>, Vec<OutgoingEmail>) {
    let acme = business(1, "Acme");
    let request = InvitationInput {
        email: Some("Bob@Globex.test".into()),
        first_name: Some("Bob".into()),
        locale: Some("de".into()),
        expires_in_days: Some(12),
        ..Default::default()
    }
    .validate()
    .unwrap();
    let sent_at = now() - Duration::days(12);
    let invitation = Invitation::new(
        InvitationId::from_uuid(Uuid::from_u128(100)),
        acme.id,
        ann().id,
        request,
        sent_at,
    )
    .expire(now())
    .unwrap();
    let job = EmailJob {
        id: EmailJobId::from_uuid(Uuid::from_u128(555)),
        invitation_id: invitation.id(),
        to: ann().email,
        link_token: None,
        attempts: 1,
        status: EmailJobStatus::Queued,
        next_attempt_at: now() + Duration::seconds(45),
        last_error: None,
        created_at: now(),
        kind: EmailKind::ExpiryNotice,
    };
    let mut store = MockStore::new();
    store
        .outbox
        .expect_claim_email_jobs()
        .returning(move |_, _, _| Ok(vec![job.clone()]));
    store
        .invitations
        .expect_get_invitations()
        .returning(move |_| Ok(vec![invitation.clone()]));
    store
        .operator
        .expect_get_business()
        .returning(|_| Ok(Some(business(1, "Acme"))));
    store.operator.expect_get_user().returning(|_| {
        Ok(Some(User {
            first_name: Some(PersonName::parse("Ann").unwrap()),
            last_name: Some(PersonName::parse("Lee").unwrap()),
            ..ann()
        }))
    });
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
    let outcomes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorded = outcomes.clone();
    store.outbox.expect_finish_email_jobs().returning(move |done, _| {
        recorded
            .lock()
            .unwrap()
            .extend(done.iter().map(|(_, outcome)| outcome.clone()));
        Ok(done.len() as u64)
    });
    let sent = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = sent.clone();
    let mut mailer = MockMailer::new();
    mailer.expect_send().returning(move |email| {
        log.lock().unwrap().push(email.clone());
        Ok(SentEmail::default())
    });
    let mut clock = MockClock::new();
    clock.expect_now().return_const(now());
    let ports = Ports {
        store: Arc::new(store),
        clock: Arc::new(clock),
        ids: Arc::new(MockIdGenerator::new()),
        secrets: Arc::new(MockSecretGenerator::new()),
    };
    let dispatcher = EmailDispatcher::new(
        ports,
        renderer,
        Arc::new(mailer),
        DispatchSettings::new("https://rsvp.test"),
    );
    dispatcher.run_once().await.unwrap();
    let outcomes = outcomes.lock().unwrap().clone();
    let sent = sent.lock().unwrap().clone();
    (outcomes, sent)
}

fn suppressed(reason: SuppressionReason) -> Suppression {
    Suppression {
        id: SuppressionId::from_uuid(Uuid::from_u128(900)),
        email: ann().email,
        business_id: None,
        invitation_id: None,
        created_at: now(),
        reason,
    }
}

#[tokio::test]
async fn the_dispatcher_renders_an_expiry_notice_for_the_sender_without_a_link() {
    let mut renderer = MockEmailRenderer::new();
    renderer
        .expect_render_expiry_notice()
        .withf(|email| {
            email.locale == Locale::De
                && email.sender_business == "Acme"
                && email.sender_user == "Ann Lee"
                && email.invitee_email == "Bob@Globex.test"
                && email.invitee_name.as_deref() == Some("Bob")
                && email.sent_at == now() - Duration::days(12)
                && email.expired_at == now()
        })
        .times(1)
        .returning(|email| {
            Ok(RenderedEmail {
                subject: format!("{} did not answer", email.invitee_email),
                text: String::new(),
                html: String::new(),
            })
        });
    // An opt-out is about invitations: the sender still hears of its own.
    let (outcomes, sent) = notice_round(vec![suppressed(SuppressionReason::OptOut)], Arc::new(renderer)).await;
    assert_eq!(outcomes, [EmailOutcome::sent()]);
    let [notice] = &sent[..] else {
        panic!("one notice: {sent:?}")
    };
    assert_eq!(notice.to, ann().email);
    assert_eq!(notice.content.subject, "Bob@Globex.test did not answer");
    assert_eq!(notice.list_unsubscribe, None);
    assert_eq!(notice.reply_to, None);
    assert_eq!(notice.from_name.as_deref(), Some("rsvp"));
}

#[tokio::test]
async fn an_expiry_notice_to_an_address_that_bounced_is_given_up_unsent() {
    for reason in [SuppressionReason::Bounce, SuppressionReason::Complaint] {
        let (outcomes, sent) = notice_round(vec![suppressed(reason)], Arc::new(MockEmailRenderer::new())).await;
        assert!(sent.is_empty(), "{reason}");
        assert!(
            matches!(&outcomes[..], [EmailOutcome::Failed { error }] if error.contains("undeliverable")),
            "{reason}: {outcomes:?}"
        );
    }
}

/// A renderer written before the notices: only `render`.
struct InvitationsOnly;

impl EmailRenderer for InvitationsOnly {
    fn render(&self, _: &InvitationEmail) -> Result<RenderedEmail, RenderError> {
        Err(RenderError("not called".to_owned()))
    }
}

#[tokio::test]
async fn a_renderer_without_a_notice_template_fails_the_notice_and_nothing_else() {
    let (outcomes, sent) = notice_round(Vec::new(), Arc::new(InvitationsOnly)).await;
    assert!(sent.is_empty());
    assert!(
        matches!(&outcomes[..], [EmailOutcome::Failed { error }] if error.contains("no expiry notice template")),
        "{outcomes:?}"
    );
}
