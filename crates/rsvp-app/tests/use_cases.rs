//! Unit tests of the use cases over mockall mocks of every port: each rule of
//! the application layer, without any adapter.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rsvp_app::*;
use rsvp_domain::*;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn acme() -> Business {
    Business {
        id: BusinessId::from_uuid(id(1)),
        name: BusinessName::parse("Acme").unwrap(),
        created_at: now(),
        suspended_at: None,
        external_id: None,
    }
}

fn globex() -> Business {
    Business {
        id: BusinessId::from_uuid(id(2)),
        name: BusinessName::parse("Globex").unwrap(),
        created_at: now(),
        suspended_at: None,
        external_id: None,
    }
}

fn user(n: u128, business: &Business, email: &str) -> User {
    User {
        id: UserId::from_uuid(id(n)),
        business_id: business.id,
        email: EmailAddress::parse(email).unwrap(),
        first_name: None,
        last_name: None,
        created_at: now(),
        deactivated_at: None,
        external_id: None,
    }
}

fn ann() -> Principal {
    Principal {
        business: acme(),
        user: user(10, &acme(), "ann@acme.test"),
    }
}

fn bob() -> Principal {
    Principal {
        business: globex(),
        user: user(20, &globex(), "bob@globex.test"),
    }
}

fn request(email: &str) -> InvitationRequest {
    InvitationInput {
        email: Some(email.into()),
        ..Default::default()
    }
    .validate()
    .unwrap()
}

fn pending_to_bob(created: OffsetDateTime) -> Invitation {
    Invitation::new(
        InvitationId::from_uuid(id(100)),
        acme().id,
        ann().user.id,
        request("bob@globex.test"),
        created,
    )
}

/// An app over `store`, a clock fixed at [`now`], counting ids and fake secrets.
fn app_with(store: MockStore) -> App {
    app_at(store, now())
}

fn app_at(store: MockStore, at: OffsetDateTime) -> App {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(at);
    app_on(store, Arc::new(clock), Settings::default())
}

/// An app over `store` and `clock` with `settings`, counting ids and fake secrets.
fn app_on(store: MockStore, clock: Arc<dyn Clock>, settings: Settings) -> App {
    let counter = Arc::new(AtomicU64::new(1000));
    let mut ids = MockIdGenerator::new();
    ids.expect_new_id()
        .returning(move || Uuid::from_u128(u128::from(counter.fetch_add(1, Ordering::SeqCst))));
    let mut secrets = MockSecretGenerator::new();
    let secret_counter = Arc::new(AtomicU64::new(0));
    secrets
        .expect_generate()
        .returning(move || Secret::new(format!("secret-{}", secret_counter.fetch_add(1, Ordering::SeqCst))));
    secrets.expect_hash().returning(|s| {
        let mut bytes = [0u8; 32];
        for (i, b) in s.bytes().enumerate() {
            bytes[i % 32] ^= b;
        }
        SecretHash(bytes)
    });
    App::new(
        Ports {
            store: Arc::new(store),
            clock,
            ids: Arc::new(ids),
            secrets: Arc::new(secrets),
        },
        settings,
    )
}

/// What a store answers when it wrote a new invitation to nobody known.
fn created() -> CreateOutcome {
    CreateOutcome::Created { invitee_business: None }
}

/// Nobody opted out of anything.
fn no_opt_outs(store: &mut MockStore) {
    store
        .opt_outs
        .expect_suppressions_for()
        .returning(|_, _| Ok(Vec::new()));
}

/// A store in which nobody owns any email, nothing is connected, nothing is
/// pending, nobody opted out.
fn empty_world(store: &mut MockStore) {
    store.operator.expect_find_user_by_email().returning(|_| Ok(None));
}

// ---------------------------------------------------------------- invite

#[tokio::test]
async fn an_invitation_is_written_with_its_event_link_and_email_in_one_record() {
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    empty_world(&mut store);
    store
        .invitations
        .expect_create_invitation()
        .withf(|record, _| {
            record.invitation.status() == InvitationStatus::Pending
                && record.event.kind == EventKind::InvitationCreated
                && record.event.invitation_id == Some(record.invitation.id())
                && record.link.invitation_id == record.invitation.id()
                && record.email_job.as_ref().is_some_and(|job| {
                    job.invitation_id == record.invitation.id()
                        && job.link_token.is_some()
                        && job.to.as_str() == "bob@globex.test"
                })
        })
        .times(1)
        .returning(|_, _| Ok(created()));
    let created = app_with(store)
        .invite(&ann(), request("bob@globex.test"))
        .await
        .unwrap();
    assert_eq!(created.invitation.email_delivery(), Some(EmailDelivery::Queued));
    assert!(created.link_token.is_none(), "the link is only in the email");
    assert_eq!(created.invitation.sent_by_user_id(), ann().user.id);
}

#[tokio::test]
async fn without_email_no_job_is_queued_and_the_link_token_is_returned_once() {
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    empty_world(&mut store);
    store
        .invitations
        .expect_create_invitation()
        .withf(|r, _| r.email_job.is_none())
        .times(1)
        .returning(|_, _| Ok(created()));
    let mut req = request("bob@globex.test");
    req.send_email = false;
    let created = app_with(store).invite(&ann(), req).await.unwrap();
    assert!(created.link_token.is_some());
    assert_eq!(created.invitation.email_delivery(), None);
}

#[tokio::test]
async fn inviting_a_member_of_your_own_business_is_a_self_invite() {
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    store.invitations.expect_create_invitation().times(1).returning(|_, _| {
        Ok(CreateOutcome::Refused(InvitationContext {
            invitee: Some(user(11, &acme(), "carl@acme.test")),
            ..InvitationContext::default()
        }))
    });
    let error = app_with(store)
        .invite(&ann(), request("CARL@acme.test"))
        .await
        .unwrap_err();
    assert_eq!(error, AppError::SelfInvite);
    assert_eq!(error.code(), "self_invite");
}

#[tokio::test]
async fn inviting_an_email_of_an_already_connected_business_is_refused() {
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    store.invitations.expect_create_invitation().times(1).returning(|_, _| {
        Ok(CreateOutcome::Refused(InvitationContext {
            invitee: Some(user(20, &globex(), "bob@globex.test")),
            connected: true,
            ..InvitationContext::default()
        }))
    });
    let error = app_with(store)
        .invite(&ann(), request("bob@globex.test"))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "already_connected");
}

#[tokio::test]
async fn a_second_pending_invitation_to_the_same_email_is_already_invited() {
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    store.invitations.expect_create_invitation().times(1).returning(|_, _| {
        Ok(CreateOutcome::Refused(InvitationContext {
            pending: Some(pending_to_bob(now() - Duration::days(1))),
            ..InvitationContext::default()
        }))
    });
    let error = app_with(store)
        .invite(&ann(), request("Bob@Globex.test"))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "already_invited");
}

#[tokio::test]
async fn a_lost_race_reported_by_the_store_is_already_invited() {
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    empty_world(&mut store);
    store
        .invitations
        .expect_create_invitation()
        .returning(|_, _| Err(StoreError::AlreadyInvited));
    let error = app_with(store)
        .invite(&ann(), request("bob@globex.test"))
        .await
        .unwrap_err();
    assert_eq!(error, AppError::AlreadyInvited);
}

#[tokio::test]
async fn a_lazily_expired_pending_invitation_is_expired_first_then_the_email_is_invited_again() {
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    let old = pending_to_bob(now() - Duration::days(20));
    let tries = Arc::new(AtomicU64::new(0));
    // First the facts (a pending invitation past its expiry), then, once
    // it is expired, the create goes through.
    store
        .invitations
        .expect_create_invitation()
        .times(2)
        .returning(move |_, _| {
            if tries.fetch_add(1, Ordering::SeqCst) == 0 {
                Ok(CreateOutcome::Refused(InvitationContext {
                    pending: Some(old.clone()),
                    ..InvitationContext::default()
                }))
            } else {
                Ok(created())
            }
        });
    store.operator.expect_get_user().returning(|_| Ok(Some(ann().user)));
    store
        .invitations
        .expect_apply_transition()
        .withf(|r| {
            r.invitation.status() == InvitationStatus::Expired
                && r.event.kind == EventKind::InvitationExpired
                && r.email_job.as_ref().is_some_and(|notice| notice.to == ann().user.email)
        })
        .times(1)
        .returning(|r| {
            Ok(TransitionOutcome {
                invitation: r.invitation.clone(),
                connection: None,
            })
        });
    let created = app_with(store)
        .invite(&ann(), request("bob@globex.test"))
        .await
        .unwrap();
    assert_ne!(created.invitation.id(), InvitationId::from_uuid(id(100)));
}

#[tokio::test]
async fn an_existing_users_business_is_known_as_the_invitee_from_the_start() {
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    store.invitations.expect_create_invitation().returning(|_, _| {
        Ok(CreateOutcome::Created {
            invitee_business: Some(globex().id),
        })
    });
    let created = app_with(store)
        .invite(&ann(), request("bob@globex.test"))
        .await
        .unwrap();
    assert_eq!(created.invitation.invitee_business_id(), Some(globex().id));
}

// ---------------------------------------------------------------- bulk

#[tokio::test]
async fn bulk_items_are_independent_and_duplicates_within_the_request_are_caught() {
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    // One batched read each for the whole request: never one per item.
    store.operator.expect_find_user_by_email().never();
    store
        .operator
        .expect_find_users_by_emails()
        .times(1)
        .returning(|emails| {
            assert_eq!(emails.len(), 4, "validated, deduplicated items only");
            Ok(vec![
                user(11, &acme(), "carl@acme.test"),
                user(30, &globex(), "connected@globex.test"),
            ])
        });
    store.network.expect_connected_among().times(1).returning(|_, others| {
        assert_eq!(others, [globex().id], "own business left out");
        Ok(vec![globex().id])
    });
    store
        .invitations
        .expect_find_pending_for_emails()
        .times(1)
        .returning(|_, _| Ok(vec![]));
    store
        .invitations
        .expect_insert_invitations()
        .times(1)
        .returning(|records, _| {
            assert_eq!(records.len(), 2, "one batch for every item that passed the checks");
            Ok(records
                .iter()
                .map(|r| {
                    if r.invitation.email().normalized() == "taken@x.test" {
                        Err(StoreError::AlreadyInvited)
                    } else {
                        Ok(())
                    }
                })
                .collect())
        });
    let items = vec![
        Ok(request("one@x.test")),
        Ok(request("ONE@x.test")),
        InvitationInput {
            email: Some("nope".into()),
            ..Default::default()
        }
        .validate(),
        Ok(request("carl@acme.test")),
        Ok(request("taken@x.test")),
        Ok(request("connected@globex.test")),
    ];
    let outcome = app_with(store).bulk_invite(&ann(), items).await.unwrap();
    let ok: Vec<&str> = outcome
        .successful
        .iter()
        .map(|c| c.invitation.email().as_str())
        .collect();
    assert_eq!(ok, ["one@x.test"]);
    let failed: Vec<(usize, &str)> = outcome.failed.iter().map(|f| (f.index, f.error.code())).collect();
    assert_eq!(
        failed,
        [
            (1, "duplicate_in_request"),
            (2, "validation_failed"),
            (3, "self_invite"),
            (4, "already_invited"),
            (5, "already_connected")
        ]
    );
}

#[tokio::test]
async fn bulk_requests_hold_one_to_a_thousand_items() {
    let app = app_with(MockStore::new());
    assert_eq!(
        app.bulk_invite(&ann(), vec![]).await.unwrap_err().code(),
        "validation_failed"
    );
    let too_many = (0..1001).map(|i| Ok(request(&format!("u{i}@x.test")))).collect();
    let AppError::Validation(errors) = app.bulk_invite(&ann(), too_many).await.unwrap_err() else {
        panic!()
    };
    assert_eq!(errors.errors()[0].field, "invitations");
}

// ---------------------------------------------------------------- visibility

#[tokio::test]
async fn the_sender_and_the_invitee_see_an_invitation_and_nobody_else_does() {
    let invitation = pending_to_bob(now());
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    let stored = invitation.clone();
    store
        .invitations
        .expect_get_invitation()
        .returning(move |_| Ok(Some(stored.clone())));
    store
        .operator
        .expect_find_user_by_email()
        .returning(|_| Ok(Some(user(20, &globex(), "bob@globex.test"))));
    let app = app_with(store);
    assert_eq!(
        app.get_invitation(&ann(), invitation.id()).await.unwrap().viewer,
        Viewer::Sender
    );
    assert_eq!(
        app.get_invitation(&bob(), invitation.id()).await.unwrap().viewer,
        Viewer::Invitee
    );
    let stranger = Principal {
        business: Business {
            id: BusinessId::from_uuid(id(3)),
            ..globex()
        },
        user: user(30, &globex(), "eve@initech.test"),
    };
    assert_eq!(
        app.get_invitation(&stranger, invitation.id()).await.unwrap_err(),
        AppError::NotFound
    );
}

#[tokio::test]
async fn an_unknown_invitation_is_not_found() {
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    store.invitations.expect_get_invitation().returning(|_| Ok(None));
    let error = app_with(store)
        .get_invitation(&ann(), InvitationId::from_uuid(id(9)))
        .await
        .unwrap_err();
    assert_eq!(error, AppError::NotFound);
}

#[tokio::test]
async fn a_pending_invitation_past_its_expiry_reads_as_expired() {
    let invitation = pending_to_bob(now() - Duration::days(15));
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    store
        .invitations
        .expect_get_invitation()
        .returning(move |_| Ok(Some(invitation.clone())));
    let view = app_with(store)
        .get_invitation(&ann(), InvitationId::from_uuid(id(100)))
        .await
        .unwrap();
    assert_eq!(view.invitation.status(), InvitationStatus::Expired);
}

#[tokio::test]
async fn lists_read_statuses_at_now_and_pass_the_filters_to_the_store() {
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    let old = pending_to_bob(now() - Duration::days(15));
    store
        .invitations
        .expect_list_sent()
        .withf(|business, q| {
            *business == acme().id
                && q.now == now()
                && q.filter.statuses == [InvitationStatus::Expired]
                && q.limit.get() == 7
        })
        .returning(move |_, _| {
            Ok(Page {
                items: vec![old.clone()],
                next: None,
            })
        });
    store
        .invitations
        .expect_list_received()
        .withf(|business, _| *business == globex().id)
        .returning(|_, _| {
            Ok(Page {
                items: vec![],
                next: None,
            })
        });
    let app = app_with(store);
    let params = ListParams {
        filter: InvitationFilter {
            statuses: vec![InvitationStatus::Expired],
            email: None,
        },
        limit: PageSize::new(7).unwrap(),
        after: None,
    };
    let page = app.list_sent(&ann(), params).await.unwrap();
    assert_eq!(page.items[0].status(), InvitationStatus::Expired);
    assert!(
        app.list_received(&bob(), ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

// ---------------------------------------------------------------- transitions

fn store_with(invitation: Invitation) -> MockStore {
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    store
        .invitations
        .expect_get_invitation()
        .returning(move |_| Ok(Some(invitation.clone())));
    store
        .operator
        .expect_find_user_by_email()
        .returning(|_| Ok(Some(user(20, &globex(), "bob@globex.test"))));
    store
}

#[tokio::test]
async fn the_invitee_accepting_connects_the_two_businesses_in_one_record() {
    let mut store = store_with(pending_to_bob(now()));
    store
        .invitations
        .expect_apply_transition()
        .withf(|r| {
            r.expected == InvitationStatus::Pending
                && r.invitation.status() == InvitationStatus::Accepted
                && r.invitation.invitee_business_id() == Some(globex().id)
                && r.event.kind == EventKind::InvitationAccepted
                && r.connection.as_ref().is_some_and(|(c, e)| {
                    c.inviter_business_id == acme().id
                        && c.invitee_business_id == globex().id
                        && e.kind == EventKind::ConnectionCreated
                })
        })
        .times(1)
        .returning(|r| {
            Ok(TransitionOutcome {
                invitation: r.invitation.clone(),
                connection: r.connection.clone().map(|c| c.0),
            })
        });
    let outcome = app_with(store)
        .change_status(&bob(), InvitationId::from_uuid(id(100)), Action::Accept)
        .await
        .unwrap();
    assert!(outcome.connection.is_some());
}

#[tokio::test]
async fn the_invitee_rejecting_creates_no_connection() {
    let mut store = store_with(pending_to_bob(now()));
    store
        .invitations
        .expect_apply_transition()
        .withf(|r| r.invitation.status() == InvitationStatus::Rejected && r.connection.is_none())
        .times(1)
        .returning(|r| {
            Ok(TransitionOutcome {
                invitation: r.invitation.clone(),
                connection: None,
            })
        });
    app_with(store)
        .change_status(&bob(), InvitationId::from_uuid(id(100)), Action::Reject)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_sender_cancels_but_may_not_accept_and_the_invitee_may_not_cancel() {
    let mut store = store_with(pending_to_bob(now()));
    store
        .invitations
        .expect_apply_transition()
        .withf(|r| {
            r.invitation.status() == InvitationStatus::Cancelled
                && r.event.data.actor == Actor::Sender { user_id: ann().user.id }
        })
        .times(1)
        .returning(|r| {
            Ok(TransitionOutcome {
                invitation: r.invitation.clone(),
                connection: None,
            })
        });
    let app = app_with(store);
    let invitation = InvitationId::from_uuid(id(100));
    assert_eq!(
        app.change_status(&ann(), invitation, Action::Accept)
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    assert_eq!(
        app.change_status(&bob(), invitation, Action::Cancel)
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    app.change_status(&ann(), invitation, Action::Cancel).await.unwrap();
}

#[tokio::test]
async fn answering_a_terminal_invitation_is_an_invalid_transition_naming_its_status() {
    let accepted = pending_to_bob(now())
        .accept(&Actor::Invitee { user_id: None }, globex().id, now())
        .unwrap();
    let mut store = store_with(accepted);
    store.invitations.expect_apply_transition().never();
    let error = app_with(store)
        .change_status(&ann(), InvitationId::from_uuid(id(100)), Action::Cancel)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        AppError::InvalidTransition {
            current: InvitationStatus::Accepted
        }
    );
}

#[tokio::test]
async fn losing_a_race_in_the_store_is_an_invalid_transition() {
    let mut store = store_with(pending_to_bob(now()));
    store.invitations.expect_apply_transition().returning(|_| {
        Err(StoreError::Conflict {
            current: InvitationStatus::Cancelled,
        })
    });
    let error = app_with(store)
        .change_status(&bob(), InvitationId::from_uuid(id(100)), Action::Accept)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        AppError::InvalidTransition {
            current: InvitationStatus::Cancelled
        }
    );
}

#[tokio::test]
async fn a_business_that_can_see_nothing_gets_not_found_when_answering() {
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    let invitation = pending_to_bob(now());
    store
        .invitations
        .expect_get_invitation()
        .returning(move |_| Ok(Some(invitation.clone())));
    store.operator.expect_find_user_by_email().returning(|_| Ok(None));
    store.invitations.expect_apply_transition().never();
    let error = app_with(store)
        .change_status(&bob(), InvitationId::from_uuid(id(100)), Action::Accept)
        .await
        .unwrap_err();
    assert_eq!(error, AppError::NotFound);
}

// ---------------------------------------------------------------- resend

#[tokio::test]
async fn resending_writes_a_new_link_event_and_email_and_passes_the_revoke_flag() {
    let mut store = store_with(pending_to_bob(now() - Duration::hours(1)));
    store
        .invitations
        .expect_record_resend()
        .withf(|r| {
            r.revoke_previous_links
                && r.event.kind == EventKind::InvitationResent
                && r.email_job.link_token.is_some()
                && r.not_sent_after == now() - Duration::seconds(60)
        })
        .times(1)
        .returning(|_| Ok(pending_to_bob(now())));
    app_with(store)
        .resend(&ann(), InvitationId::from_uuid(id(100)), true)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_second_resend_within_the_cooldown_says_when_to_retry() {
    let mut store = store_with(pending_to_bob(now() - Duration::seconds(45)));
    store.invitations.expect_record_resend().never();
    let error = app_with(store)
        .resend(&ann(), InvitationId::from_uuid(id(100)), false)
        .await
        .unwrap_err();
    assert_eq!(error, AppError::Cooldown { retry_after_secs: 15 });
    assert_eq!(error.code(), "resend_cooldown");
}

#[tokio::test]
async fn only_pending_invitations_are_resent_and_only_by_the_sender() {
    let cancelled = pending_to_bob(now() - Duration::hours(1))
        .cancel(&Actor::Sender { user_id: ann().user.id }, now())
        .unwrap();
    let mut store = store_with(cancelled);
    store.invitations.expect_record_resend().never();
    let app = app_with(store);
    let invitation = InvitationId::from_uuid(id(100));
    assert_eq!(
        app.resend(&ann(), invitation, false).await.unwrap_err(),
        AppError::InvalidTransition {
            current: InvitationStatus::Cancelled
        }
    );
    assert_eq!(
        app.resend(&bob(), invitation, false).await.unwrap_err().code(),
        "forbidden"
    );
}

// ---------------------------------------------------------------- links

#[tokio::test]
async fn an_unknown_or_revoked_link_is_not_found() {
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    store
        .invitations
        .expect_find_invitation_by_link()
        .returning(|_| Ok(None));
    let app = app_with(store);
    assert_eq!(app.preview_link("nope").await.unwrap_err(), AppError::NotFound);
    assert_eq!(
        app.accept_link("nope", AcceptLinkInput::default()).await.unwrap_err(),
        AppError::NotFound
    );
    assert_eq!(app.decline_link("nope").await.unwrap_err(), AppError::NotFound);
}

#[tokio::test]
async fn accepting_by_link_without_a_business_requires_its_name_and_creates_it() {
    let mut store = MockStore::new();
    store.operator.expect_get_business().returning(|_| Ok(Some(acme())));
    no_opt_outs(&mut store);
    store
        .invitations
        .expect_find_invitation_by_link()
        .returning(|_| Ok(Some(pending_to_bob(now()))));
    store.operator.expect_find_user_by_email().returning(|_| Ok(None));
    store
        .invitations
        .expect_apply_transition()
        .withf(|r| {
            r.new_invitee.as_ref().is_some_and(|n| {
                n.business.name.as_str() == "Globex"
                    && n.user.email.normalized() == "bob@globex.test"
                    && n.user.business_id == n.business.id
                    && r.invitation.invitee_business_id() == Some(n.business.id)
            }) && r.connection.is_some()
        })
        .times(1)
        .returning(|r| {
            Ok(TransitionOutcome {
                invitation: r.invitation.clone(),
                connection: r.connection.clone().map(|c| c.0),
            })
        });
    let app = app_with(store);
    let AppError::Validation(errors) = app.accept_link("token", AcceptLinkInput::default()).await.unwrap_err() else {
        panic!("expected a validation error")
    };
    assert_eq!(errors.errors()[0].field, "business_name");
    let input = AcceptLinkInput {
        business_name: Some("Globex".into()),
        first_name: Some("Bob".into()),
        last_name: None,
    };
    let outcome = app.accept_link("token", input).await.unwrap();
    assert_eq!(outcome.invitation.status(), InvitationStatus::Accepted);
}

#[tokio::test]
async fn accepting_by_link_with_an_existing_user_connects_that_users_business() {
    let mut store = MockStore::new();
    store.operator.expect_get_business().returning(|_| Ok(Some(acme())));
    no_opt_outs(&mut store);
    store
        .invitations
        .expect_find_invitation_by_link()
        .returning(|_| Ok(Some(pending_to_bob(now()))));
    store
        .operator
        .expect_find_user_by_email()
        .returning(|_| Ok(Some(user(20, &globex(), "bob@globex.test"))));
    store
        .invitations
        .expect_apply_transition()
        .withf(|r| {
            r.new_invitee.is_none()
                && r.connection
                    .as_ref()
                    .is_some_and(|(c, _)| c.invitee_business_id == globex().id)
        })
        .times(1)
        .returning(|r| {
            Ok(TransitionOutcome {
                invitation: r.invitation.clone(),
                connection: r.connection.clone().map(|c| c.0),
            })
        });
    app_with(store)
        .accept_link("token", AcceptLinkInput::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_link_of_an_answered_or_expired_invitation_cannot_be_used_again() {
    let mut store = MockStore::new();
    store.operator.expect_get_business().returning(|_| Ok(Some(acme())));
    no_opt_outs(&mut store);
    store
        .invitations
        .expect_find_invitation_by_link()
        .returning(|_| Ok(Some(pending_to_bob(now() - Duration::days(30)))));
    store.invitations.expect_apply_transition().never();
    store.operator.expect_find_user_by_email().returning(|_| Ok(None));
    let app = app_with(store);
    let input = AcceptLinkInput {
        business_name: Some("Globex".into()),
        ..Default::default()
    };
    assert_eq!(
        app.accept_link("token", input).await.unwrap_err(),
        AppError::InvalidTransition {
            current: InvitationStatus::Expired
        }
    );
    assert_eq!(
        app.decline_link("token").await.unwrap_err(),
        AppError::InvalidTransition {
            current: InvitationStatus::Expired
        }
    );
}

#[tokio::test]
async fn a_link_preview_shows_the_sender_business_and_user() {
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    store
        .invitations
        .expect_find_invitation_by_link()
        .returning(|_| Ok(Some(pending_to_bob(now()))));
    store.operator.expect_get_business().returning(|_| Ok(Some(acme())));
    store.operator.expect_find_user_by_email().returning(|_| Ok(None));
    store.operator.expect_get_user().returning(|_| Ok(Some(ann().user)));
    let preview = app_with(store).preview_link("token").await.unwrap();
    assert_eq!(preview.sender.name.as_str(), "Acme");
    assert_eq!(preview.sender_user, Some(ann().user));
    assert!(!preview.invitee_known, "a new invitee must name its business");
    assert_eq!(preview.invitation.status(), InvitationStatus::Pending);
}

// ---------------------------------------------------------------- sweep, tenants

#[tokio::test]
async fn the_sweep_expires_each_due_invitation_once_and_tolerates_lost_races() {
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    let due = vec![pending_to_bob(now() - Duration::days(20)), {
        let other = pending_to_bob(now() - Duration::days(20));
        Invitation::restore(InvitationParts {
            id: InvitationId::from_uuid(id(101)),
            ..other.into_parts()
        })
    }];
    store
        .invitations
        .expect_due_for_expiry()
        .returning(move |_, _| Ok(due.clone()));
    // The sender is read once for the sweep's two invitations.
    store
        .operator
        .expect_get_user()
        .times(1)
        .returning(|_| Ok(Some(ann().user)));
    store.invitations.expect_apply_transition().times(2).returning(|r| {
        if r.invitation.id() == InvitationId::from_uuid(id(101)) {
            Err(StoreError::Conflict {
                current: InvitationStatus::Expired,
            })
        } else {
            Ok(TransitionOutcome {
                invitation: r.invitation.clone(),
                connection: None,
            })
        }
    });
    assert_eq!(app_with(store).expire_due(100).await.unwrap(), 1);
}

#[tokio::test]
async fn an_unknown_api_key_is_unauthorized() {
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    store.operator.expect_find_credential().returning(|_| Ok(None));
    assert_eq!(
        app_with(store).authenticate("rsvp_nope").await.unwrap_err(),
        AppError::Unauthorized
    );
}

#[tokio::test]
async fn provisioning_lists_every_invalid_field_and_returns_a_prefixed_api_key() {
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    store
        .operator
        .expect_create_business()
        .times(1)
        .returning(|_, _, _| Ok(()));
    let app = app_with(store);
    let AppError::Validation(errors) = app
        .provision_business(NewBusinessInput {
            name: None,
            user: NewUserInput {
                email: Some("x".into()),
                ..Default::default()
            },
            external_id: None,
        })
        .await
        .unwrap_err()
    else {
        panic!("expected a validation error")
    };
    let fields: Vec<&str> = errors.errors().iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["name", "user.email"]);
    let made = app
        .provision_business(NewBusinessInput {
            name: Some("Acme".into()),
            user: NewUserInput {
                email: Some("ann@acme.test".into()),
                ..Default::default()
            },
            external_id: None,
        })
        .await
        .unwrap();
    assert!(made.api_key.expose().starts_with("rsvp_"));
    assert_eq!(made.user.business_id, made.business.id);
}

#[tokio::test]
async fn store_outages_surface_as_unavailable_not_as_client_errors() {
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    store
        .invitations
        .expect_create_invitation()
        .returning(|_, _| Err(StoreError::Unavailable("connection refused".into())));
    let error = app_with(store)
        .invite(&ann(), request("bob@globex.test"))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "unavailable");
}

#[tokio::test]
async fn time_moves_only_through_the_clock_port() {
    let later = now() + Duration::days(3);
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    empty_world(&mut store);
    store
        .invitations
        .expect_create_invitation()
        .returning(|_, _| Ok(created()));
    let created = app_at(store, later)
        .invite(&ann(), request("bob@globex.test"))
        .await
        .unwrap();
    assert_eq!(created.invitation.created_at(), later);
    assert_eq!(created.invitation.expires_at(), later + Duration::days(14));
}

// ---------------------------------------------------------------- email cap

/// A clock the test moves.
fn movable_clock(start: OffsetDateTime) -> (Arc<std::sync::Mutex<OffsetDateTime>>, Arc<dyn Clock>) {
    let time = Arc::new(std::sync::Mutex::new(start));
    let read = Arc::clone(&time);
    let mut clock = MockClock::new();
    clock.expect_now().returning(move || *read.lock().unwrap());
    (time, Arc::new(clock))
}

fn capped(emails_per_hour: u32) -> Settings {
    Settings {
        emails_per_hour,
        ..Settings::default()
    }
}

/// A store in an empty world whose cap is reached: every write that queues
/// an email is refused with `retry_at` (the store counts; see the contract
/// suite), after checking that the use case passed the settings' cap.
fn cap_reached_at(store: &mut MockStore, cap: Option<EmailCap>, retry_at: OffsetDateTime) {
    let refusal = StoreError::EmailCapReached { retry_at };
    let (one, many, resend) = (refusal.clone(), refusal.clone(), refusal);
    store.operator.expect_find_users_by_emails().returning(|_| Ok(vec![]));
    store.network.expect_connected_among().returning(|_, _| Ok(vec![]));
    store
        .invitations
        .expect_find_pending_for_emails()
        .returning(|_, _| Ok(vec![]));
    store
        .invitations
        .expect_create_invitation()
        .returning(move |record, given| {
            assert_eq!(given, cap, "the settings' cap");
            match &record.email_job {
                Some(_) => Err(one.clone()),
                None => Ok(created()),
            }
        });
    store
        .invitations
        .expect_insert_invitations()
        .returning(move |records, given| {
            assert_eq!(given, cap, "the settings' cap");
            // The first item with an email fits, the later ones do not.
            let mut emails = 0;
            Ok(records
                .iter()
                .map(|r| match &r.email_job {
                    Some(_) if emails > 0 => Err(many.clone()),
                    Some(_) => {
                        emails += 1;
                        Ok(())
                    }
                    None => Ok(()),
                })
                .collect())
        });
    store.invitations.expect_record_resend().returning(move |record| {
        assert_eq!(record.email_cap, cap, "the settings' cap");
        Err(resend.clone())
    });
}

#[tokio::test]
async fn past_the_hourly_email_cap_a_create_is_quota_exceeded_for_as_long_as_the_store_says() {
    for (retry_at, expected) in [
        (now() + Duration::minutes(30), 30 * 60),
        (now() + Duration::minutes(30) + Duration::milliseconds(1), 30 * 60 + 1),
        (now(), 1),
    ] {
        let mut store = MockStore::new();
        no_opt_outs(&mut store);
        cap_reached_at(&mut store, Some(EmailCap { limit: 3 }), retry_at);
        let (_, clock) = movable_clock(now());
        let app = app_on(store, clock, capped(3));
        let error = app.invite(&ann(), request("d@x.test")).await.unwrap_err();
        assert_eq!(
            error,
            AppError::QuotaExceeded {
                retry_after_secs: expected
            },
            "retry at {retry_at}: whole seconds, rounded up, at least one"
        );
        assert_eq!(error.code(), "quota_exceeded");
    }
}

#[tokio::test]
async fn invitations_without_email_are_never_capped_and_a_cap_of_zero_is_off() {
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    cap_reached_at(&mut store, Some(EmailCap { limit: 1 }), now() + Duration::minutes(1));
    let (_, clock) = movable_clock(now());
    let capped_app = app_on(store, clock, capped(1));
    let silent = InvitationInput {
        email: Some("quiet@x.test".into()),
        send_email: Some(false),
        ..Default::default()
    }
    .validate()
    .unwrap();
    capped_app.invite(&ann(), silent.clone()).await.unwrap();
    capped_app.invite(&ann(), silent).await.unwrap();

    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    store
        .invitations
        .expect_create_invitation()
        .withf(|_, cap| cap.is_none())
        .times(1)
        .returning(|_, _| Ok(created()));
    let (_, clock) = movable_clock(now());
    app_on(store, clock, capped(0))
        .invite(&ann(), request("bob@globex.test"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_bulk_past_the_cap_sends_the_items_that_fit_and_fails_the_rest_with_quota_exceeded() {
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    cap_reached_at(
        &mut store,
        Some(EmailCap { limit: 3 }),
        now() + Duration::minutes(45) + Duration::seconds(1),
    );
    let (_, clock) = movable_clock(now());
    let app = app_on(store, clock, capped(3));
    let silent = InvitationInput {
        email: Some("quiet@x.test".into()),
        send_email: Some(false),
        ..Default::default()
    }
    .validate();
    let items = vec![
        Ok(request("a@x.test")),
        silent,
        Ok(request("b@x.test")),
        Ok(request("c@x.test")),
    ];
    let outcome = app.bulk_invite(&ann(), items).await.unwrap();
    let ok: Vec<&str> = outcome
        .successful
        .iter()
        .map(|c| c.invitation.email().as_str())
        .collect();
    assert_eq!(ok, ["a@x.test", "quiet@x.test"], "what the store wrote");
    let failed: Vec<(usize, AppError)> = outcome.failed.into_iter().map(|f| (f.index, f.error)).collect();
    let refusal = AppError::QuotaExceeded {
        retry_after_secs: 45 * 60 + 1,
    };
    assert_eq!(failed, [(2, refusal.clone()), (3, refusal)]);
}

#[tokio::test]
async fn a_resend_counts_against_the_cap_and_past_it_is_quota_exceeded() {
    let mut store = MockStore::new();
    no_opt_outs(&mut store);
    cap_reached_at(&mut store, Some(EmailCap { limit: 2 }), now() + Duration::minutes(55));
    store
        .invitations
        .expect_get_invitation()
        .returning(|_| Ok(Some(pending_to_bob(now() - Duration::hours(2)))));
    let (_, clock) = movable_clock(now());
    let app = app_on(store, clock, capped(2));
    let error = app
        .resend(&ann(), InvitationId::from_uuid(id(100)), false)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        AppError::QuotaExceeded {
            retry_after_secs: 55 * 60
        }
    );
}

#[tokio::test]
async fn a_suspended_senders_link_can_be_neither_seen_nor_answered() {
    let invitation = pending_to_bob(now());
    let mut store = MockStore::new();
    store
        .invitations
        .expect_find_invitation_by_link()
        .returning(move |_| Ok(Some(invitation.clone())));
    store
        .operator
        .expect_get_business()
        .returning(|_| Ok(Some(acme().with_suspension(true, now()))));
    store.operator.expect_find_user_by_email().returning(|_| Ok(None));
    store.invitations.expect_apply_transition().never();
    let app = app_with(store);
    assert_eq!(app.preview_link("token").await.unwrap_err(), AppError::SenderSuspended);
    assert_eq!(
        app.accept_link("token", AcceptLinkInput::default()).await.unwrap_err(),
        AppError::SenderSuspended
    );
    assert_eq!(app.decline_link("token").await.unwrap_err(), AppError::SenderSuspended);
}

fn credential(expires_at: Option<OffsetDateTime>, last_used_at: Option<OffsetDateTime>) -> Credential {
    Credential {
        key: ApiKey {
            id: ApiKeyId::from_uuid(id(99)),
            user_id: ann().user.id,
            name: ApiKeyName::parse("ci").unwrap(),
            prefix: "rsvp_abcdefgh".to_owned(),
            created_at: now() - Duration::days(1),
            expires_at,
            last_used_at,
        },
        principal: ann(),
    }
}

#[tokio::test]
async fn an_expired_key_or_a_deactivated_user_is_unauthorized_and_a_suspended_business_is_refused_as_such() {
    let cases: [(Credential, AppError); 3] = [
        (credential(Some(now()), None), AppError::Unauthorized),
        (
            Credential {
                principal: Principal {
                    user: ann().user.with_deactivation(true, now()),
                    ..ann()
                },
                ..credential(None, None)
            },
            AppError::Unauthorized,
        ),
        (
            Credential {
                principal: Principal {
                    business: acme().with_suspension(true, now()),
                    ..ann()
                },
                ..credential(None, None)
            },
            AppError::BusinessSuspended,
        ),
    ];
    for (found, refusal) in cases {
        let mut store = MockStore::new();
        store
            .operator
            .expect_find_credential()
            .returning(move |_| Ok(Some(found.clone())));
        store.operator.expect_record_api_key_use().never();
        assert_eq!(app_with(store).authenticate("rsvp_key").await.unwrap_err(), refusal);
    }
}

#[tokio::test]
async fn a_use_is_recorded_only_when_the_last_recorded_one_is_a_minute_old() {
    for (last_used_at, recorded) in [
        (None, true),
        (Some(now() - Duration::seconds(30)), false),
        (Some(now() - Duration::minutes(2)), true),
    ] {
        let mut store = MockStore::new();
        store
            .operator
            .expect_find_credential()
            .returning(move |_| Ok(Some(credential(None, last_used_at))));
        store
            .operator
            .expect_record_api_key_use()
            .withf(|_, at, since| *at == now() && *since == now() - Duration::minutes(1))
            .times(usize::from(recorded))
            .returning(|_, _, _| Ok(()));
        assert_eq!(app_with(store).authenticate("rsvp_key").await.unwrap(), ann());
    }
}

/// A store whose key expires half a second after [`now`], counting reads.
fn counting_credentials(reads: &Arc<AtomicU64>) -> MockStore {
    let mut store = MockStore::new();
    let counted = reads.clone();
    store.operator.expect_find_credential().returning(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(Some(credential(
            Some(now() + Duration::milliseconds(1500)),
            Some(now()),
        )))
    });
    store.operator.expect_revoke_api_key().returning(|_| Ok(()));
    store
}

#[tokio::test]
async fn a_key_is_read_once_per_cache_period_and_again_at_once_after_an_operator_change() {
    let reads = Arc::new(AtomicU64::new(0));
    let (time, clock) = movable_clock(now());
    let set = |t: OffsetDateTime| *time.lock().unwrap() = t;
    let app = app_on(counting_credentials(&reads), clock, Settings::default());
    for _ in 0..5 {
        assert_eq!(app.authenticate("rsvp_key").await.unwrap(), ann());
    }
    assert_eq!(reads.load(Ordering::SeqCst), 1, "five requests in the period read once");
    set(now() + Duration::milliseconds(499));
    app.authenticate("rsvp_key").await.unwrap();
    assert_eq!(reads.load(Ordering::SeqCst), 1);
    set(now() + Duration::milliseconds(500));
    app.authenticate("rsvp_key").await.unwrap();
    assert_eq!(
        reads.load(Ordering::SeqCst),
        2,
        "half a second later the store is read again"
    );

    app.revoke_api_key(ApiKeyId::from_uuid(id(99))).await.unwrap();
    app.authenticate("rsvp_key").await.unwrap();
    assert_eq!(
        reads.load(Ordering::SeqCst),
        3,
        "an operator change empties the cache at once"
    );

    // Expiry is checked on every request, cached or not.
    set(now() + Duration::milliseconds(1500));
    assert_eq!(app.authenticate("rsvp_key").await.unwrap_err(), AppError::Unauthorized);
}

#[tokio::test]
async fn a_zero_cache_period_reads_the_key_on_every_request() {
    let reads = Arc::new(AtomicU64::new(0));
    let (_, clock) = movable_clock(now());
    let settings = Settings {
        credential_cache_ttl: Duration::ZERO,
        ..Settings::default()
    };
    let app = app_on(counting_credentials(&reads), clock, settings);
    for _ in 0..3 {
        app.authenticate("rsvp_key").await.unwrap();
    }
    assert_eq!(reads.load(Ordering::SeqCst), 3);
}
