//! A walk over every method of the store's ports, with and without filters
//! and cursors: the query-plan tests capture the statements it runs.

#![allow(clippy::wildcard_imports)]

use rsvp_app::{EmailJobStatus, InvitationFilter, LinkTokenRecord, PageSize, Secret};
use rsvp_domain::{
    Actor, BusinessName, ConnectionId, EmailJobId, InvitationInput, InvitationParts, PersonName, UserId,
};
use time::Duration;
use uuid::Uuid;

use crate::store::test_support::{id, test_key};
use crate::store::*;

/// Runs every method of the port, with and without filters and cursors.
pub(super) async fn exercise_every_query(store: &DieselStore) {
    let now = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
    let business = |name: &str| Business {
        id: BusinessId::from_uuid(id()),
        name: BusinessName::parse(name).unwrap(),
        created_at: now,
        suspended_at: None,
        external_id: None,
    };
    let user = |business: BusinessId, email: &str| User {
        id: UserId::from_uuid(id()),
        business_id: business,
        email: EmailAddress::parse(email).unwrap(),
        first_name: Some(PersonName::parse("Test").unwrap()),
        last_name: None,
        created_at: now,
        deactivated_at: None,
        external_id: None,
    };
    let key = |user: UserId, byte: u8| test_key(user, SecretHash([byte; 32]), now);
    let acme = business("Acme");
    let ann = user(acme.id, "ann@acme.test");
    store
        .operator()
        .create_business(&acme, &ann, &key(ann.id, 1))
        .await
        .unwrap();
    let globex = business("Globex");
    let bob = user(globex.id, "bob@globex.test");
    store
        .operator()
        .create_business(&globex, &bob, &key(bob.id, 2))
        .await
        .unwrap();
    let carol = user(globex.id, "carol@globex.test");
    store.operator().add_user(&carol, &key(carol.id, 3)).await.unwrap();
    store.operator().get_business(acme.id).await.unwrap().unwrap();
    let credential = store
        .operator()
        .find_credential(&SecretHash([1; 32]))
        .await
        .unwrap()
        .unwrap();
    // The operator lifecycle (the business list reads every business by
    // nature, so it is left out of this check).
    let extra = key(ann.id, 9);
    store.operator().create_api_key(&extra).await.unwrap();
    assert_eq!(store.operator().list_api_keys(ann.id).await.unwrap().len(), 2);
    store
        .operator()
        .record_api_key_use(credential.key.id, now, now - Duration::minutes(1))
        .await
        .unwrap();
    store.operator().revoke_api_key(extra.key.id).await.unwrap();
    let first_users = PageRequest {
        limit: PageSize::new(1).unwrap(),
        after: None,
    };
    let users_page = store.operator().list_users(globex.id, &first_users).await.unwrap();
    let next_users = PageRequest {
        limit: PageSize::new(1).unwrap(),
        after: users_page.next,
    };
    store.operator().list_users(globex.id, &next_users).await.unwrap();
    store.operator().update_business(&acme).await.unwrap();
    store.operator().update_user(&ann).await.unwrap();
    store.operator().find_user_by_email(&bob.email).await.unwrap().unwrap();
    assert!(
        store
            .network()
            .connected_among(acme.id, &[globex.id])
            .await
            .unwrap()
            .is_empty()
    );

    let new_record = |email: &str, hash: u8| {
        let request = InvitationInput {
            email: Some(email.into()),
            ..Default::default()
        }
        .validate()
        .unwrap();
        let invitation = Invitation::new(InvitationId::from_uuid(id()), acme.id, ann.id, request, now);
        NewInvitationRecord {
            link: LinkTokenRecord {
                hash: SecretHash([hash; 32]),
                invitation_id: invitation.id(),
                created_at: now,
            },
            event: Event::created(EventId::from_uuid(id()), &invitation, Actor::Sender { user_id: ann.id }),
            email_job: Some(EmailJob {
                id: EmailJobId::from_uuid(id()),
                invitation_id: invitation.id(),
                to: invitation.email().clone(),
                link_token: Some(Secret::new("token")),
                attempts: 0,
                status: EmailJobStatus::Queued,
                next_attempt_at: now,
                last_error: None,
                created_at: now,
                kind: rsvp_app::EmailKind::Invitation,
            }),
            invitation,
        }
    };
    let first = new_record("bob@globex.test", 10);
    let created = store
        .invitations()
        .create_invitation(&first, Some(EmailCap { limit: 1_000 }))
        .await
        .unwrap();
    assert!(matches!(created, CreateOutcome::Created { .. }), "{created:?}");
    let bulk = [new_record("dan@initech.test", 11), new_record("eve@initech.test", 12)];
    assert!(
        store
            .invitations()
            .insert_invitations(&bulk, Some(EmailCap { limit: 1_000 }))
            .await
            .unwrap()
            .iter()
            .all(Result::is_ok)
    );
    // Enough rows, from enough businesses, for PostgreSQL's statistics
    // to tell the indexes apart as they would in production.
    let mut many = Vec::new();
    for n in 0..40u8 {
        let sender = business(&format!("Partner {n}"));
        let member = user(sender.id, &format!("owner{n}@partner{n}.test"));
        let mut owner_key = key(member.id, 100);
        owner_key.hash.0[0] = n;
        store
            .operator()
            .create_business(&sender, &member, &owner_key)
            .await
            .unwrap();
        for m in 0..5u8 {
            let mut record = new_record(&format!("p{m}@customer{n}.test"), 0);
            record.invitation = Invitation::restore(InvitationParts {
                business_id: sender.id,
                sent_by_user_id: member.id,
                ..record.invitation.into_parts()
            });
            record.event.business_id = sender.id;
            record.link.hash = SecretHash([200; 32]);
            record.link.hash.0[0] = n;
            record.link.hash.0[1] = m;
            many.push(record);
        }
    }
    assert!(
        store
            .invitations()
            .insert_invitations(&many, Some(EmailCap { limit: 1_000 }))
            .await
            .unwrap()
            .iter()
            .all(Result::is_ok)
    );
    if let Some(DbConnection::Pg(pg)) = store.pool.get().ok().as_deref_mut().map(|c| &mut **c) {
        pg.batch_execute("ANALYZE").unwrap();
    }
    assert_eq!(
        store
            .invitations()
            .find_pending_for_emails(acme.id, std::slice::from_ref(&bob.email))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        !store
            .opt_outs()
            .invitations_to_email(&bob.email)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .invitations()
        .get_invitation(first.invitation.id())
        .await
        .unwrap()
        .unwrap();
    let query = InvitationQuery {
        filter: InvitationFilter {
            statuses: vec![InvitationStatus::Pending, InvitationStatus::Expired],
            email: Some(bob.email.clone()),
        },
        limit: PageSize::new(1).unwrap(),
        after: Some(Cursor {
            created_at: now + Duration::hours(1),
            id: Uuid::max(),
        }),
        now,
    };
    store.invitations().list_sent(acme.id, &query).await.unwrap();
    store.invitations().list_received(globex.id, &query).await.unwrap();
    let outstanding = InvitationQuery {
        filter: InvitationFilter {
            statuses: vec![InvitationStatus::Pending],
            email: None,
        },
        ..query.clone()
    };
    store.invitations().list_sent(acme.id, &outstanding).await.unwrap();
    let unfiltered = InvitationQuery {
        filter: InvitationFilter::default(),
        ..query
    };
    assert_eq!(
        store
            .invitations()
            .list_sent(acme.id, &unfiltered)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        store
            .invitations()
            .list_received(globex.id, &unfiltered)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    store
        .invitations()
        .find_invitation_by_link(&SecretHash([10; 32]))
        .await
        .unwrap()
        .unwrap();
    store.invitations().due_for_expiry(now, 10).await.unwrap();
    let jobs = store
        .outbox()
        .claim_email_jobs(now, 10, Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 10);
    assert_eq!(
        store
            .outbox()
            .finish_email_jobs(&[(jobs[0].id, EmailOutcome::sent())], now)
            .await
            .unwrap(),
        1
    );
    let group = [
        (jobs[3].id, EmailOutcome::sent()),
        (
            jobs[4].id,
            EmailOutcome::Retry {
                retry_at: now + Duration::minutes(5),
                error: "451".into(),
            },
        ),
    ];
    assert_eq!(store.outbox().finish_email_jobs(&group, now).await.unwrap(), 2);
    let round: Vec<InvitationId> = jobs.iter().map(|job| job.invitation_id).collect();
    assert_eq!(store.invitations().get_invitations(&round).await.unwrap().len(), 10);
    assert_eq!(store.outbox().release_email_jobs(&jobs[1..3], now).await.unwrap(), 2);
    store.outbox().oldest_queued_email().await.unwrap().unwrap();
    let resend = ResendRecord {
        invitation_id: bulk[0].invitation.id(),
        now: now + Duration::hours(1),
        not_sent_after: now + Duration::minutes(59),
        link: LinkTokenRecord {
            hash: SecretHash([13; 32]),
            invitation_id: bulk[0].invitation.id(),
            created_at: now,
        },
        revoke_previous_links: true,
        event: Event::resent(
            EventId::from_uuid(id()),
            &bulk[0].invitation,
            Actor::Sender { user_id: ann.id },
            now,
        ),
        email_job: new_record("dan@initech.test", 14).email_job.unwrap(),
        email_cap: Some(EmailCap { limit: 1_000 }),
    };
    let mut resend = resend;
    resend.email_job.invitation_id = bulk[0].invitation.id();
    store.invitations().record_resend(&resend).await.unwrap();
    // The reminder round: 13 days before a 14-day invitation's expiry, read
    // with and without businesses left out, then recorded.
    let reminder_window = Duration::days(13);
    let mut due = rsvp_app::ReminderQuery {
        now: now + Duration::days(2),
        window: reminder_window,
        skip_businesses: vec![globex.id],
        limit: 10,
    };
    assert!(!store.invitations().due_for_reminder(&due).await.unwrap().is_empty());
    due.skip_businesses.clear();
    let reminded = &bulk[1].invitation;
    assert!(
        store
            .invitations()
            .due_for_reminder(&due)
            .await
            .unwrap()
            .iter()
            .any(|i| i.id() == reminded.id())
    );
    let mut reminder_job = new_record("eve@initech.test", 15).email_job.unwrap();
    reminder_job.invitation_id = reminded.id();
    reminder_job.created_at = due.now;
    let reminder = rsvp_app::ReminderRecord {
        invitation_id: reminded.id(),
        now: due.now,
        window: reminder_window,
        link: LinkTokenRecord {
            hash: SecretHash([16; 32]),
            invitation_id: reminded.id(),
            created_at: due.now,
        },
        event: Event::reminded(EventId::from_uuid(id()), reminded, due.now),
        email_job: reminder_job,
        email_cap: Some(EmailCap { limit: 1_000 }),
    };
    assert!(store.invitations().record_reminder(&reminder).await.unwrap().is_some());
    let later = now + Duration::hours(2);
    let accepted = first
        .invitation
        .accept(&Actor::Invitee { user_id: Some(bob.id) }, globex.id, later)
        .unwrap();
    let connection = DomainConnection::from_invitation(ConnectionId::from_uuid(id()), &accepted, globex.id, later);
    let actor = Actor::Invitee { user_id: Some(bob.id) };
    let created = Event::connection_created(EventId::from_uuid(id()), &accepted, &connection, actor);
    let record = TransitionRecord {
        event: Event::transition(EventId::from_uuid(id()), &first.invitation, &accepted, actor).unwrap(),
        invitation: accepted,
        expected: InvitationStatus::Pending,
        now: later,
        connection: Some((connection, created)),
        new_invitee: None,
        email_job: None,
    };
    store.invitations().apply_transition(&record).await.unwrap();
    assert_eq!(
        store.network().connected_among(globex.id, &[acme.id]).await.unwrap(),
        [acme.id]
    );
    let page = PageRequest {
        limit: PageSize::new(1).unwrap(),
        after: Some(Cursor {
            created_at: later + Duration::hours(1),
            id: Uuid::max(),
        }),
    };
    assert_eq!(
        store
            .network()
            .list_connections(acme.id, &page)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let events = EventQuery {
        limit: PageSize::new(2).unwrap(),
        after: Some(EventId::from_uuid(Uuid::nil())),
    };
    assert_eq!(
        store
            .network()
            .list_events(globex.id, &events)
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    let listed = store.network().list_events(globex.id, &events).await.unwrap();
    walk_the_event_relay(store, listed.items[0].id, now).await;
    walk_the_analytics(store, acme.id, first.invitation.id(), now).await;
    // The job sent alone and the one sent in a group.
    assert_eq!(
        store
            .outbox()
            .prune_email_jobs(now + Duration::days(1), 100)
            .await
            .unwrap(),
        2
    );

    let claim = |key: &str, fingerprint: u8, at: OffsetDateTime| rsvp_app::IdempotencyClaim {
        scope: rsvp_app::IdempotencyScope(SecretHash([9; 32])),
        key: rsvp_app::IdempotencyKey::parse(key).unwrap(),
        fingerprint: rsvp_app::RequestFingerprint(SecretHash([fingerprint; 32])),
        attempt: id(),
        now: at,
        expires_at: at + Duration::hours(24),
        stale_before: at - Duration::seconds(60),
    };
    let response = rsvp_app::StoredResponse {
        status: 201,
        headers: vec![("location".into(), "/v1/x".into())],
        body: b"{}".to_vec(),
    };
    let begin = |claim| async move { store.idempotency().begin_idempotent(&claim).await.unwrap() };
    let first = claim("k1", 1, now);
    assert_eq!(begin(first.clone()).await, rsvp_app::IdempotencyBegin::Started);
    assert!(
        store
            .idempotency()
            .complete_idempotent(&first.ticket(), &response)
            .await
            .unwrap()
    );
    assert!(matches!(
        begin(claim("k1", 1, now)).await,
        rsvp_app::IdempotencyBegin::Replay(_)
    ));
    let running = claim("k2", 1, now);
    assert_eq!(begin(running.clone()).await, rsvp_app::IdempotencyBegin::Started);
    let later = now + Duration::minutes(2);
    assert_eq!(
        begin(claim("k2", 1, later)).await,
        rsvp_app::IdempotencyBegin::Started,
        "taken over"
    );
    let abandoned = claim("k3", 1, now);
    assert_eq!(begin(abandoned.clone()).await, rsvp_app::IdempotencyBegin::Started);
    assert!(
        store
            .idempotency()
            .abandon_idempotent(&abandoned.ticket())
            .await
            .unwrap()
    );
    let pruned = store
        .idempotency()
        .prune_idempotency_records(now + Duration::days(2), 100)
        .await
        .unwrap();
    assert_eq!(pruned, 2);
}

/// The event relay's methods, each of its statements on both sides of the
/// cursor (unset, then on `event`).
async fn walk_the_event_relay(store: &DieselStore, event: EventId, now: OffsetDateTime) {
    let relay = store.event_relay();
    assert_eq!(relay.relay_cursor().await.unwrap(), None);
    relay.relay_lag().await.unwrap();
    relay.relay_events_after(None, 10).await.unwrap();
    assert!(
        relay
            .take_relay_lease("walk", now, Duration::seconds(10))
            .await
            .unwrap()
    );
    let cursor = rsvp_app::RelayCursor::after(event);
    assert!(relay.advance_relay_cursor("walk", cursor).await.unwrap());
    assert_eq!(relay.relay_cursor().await.unwrap(), Some(cursor));
    relay.relay_events_after(Some(cursor), 10).await.unwrap();
    relay.relay_lag().await.unwrap();
    relay.release_relay_lease("walk").await.unwrap();
}

/// The funnel of a business (one accepted invitation among its range) and
/// a page view, first and repeated.
async fn walk_the_analytics(store: &DieselStore, business: BusinessId, invitation: InvitationId, now: OffsetDateTime) {
    let analytics = store.analytics();
    assert!(analytics.record_page_view(invitation, now).await.unwrap());
    assert!(!analytics.record_page_view(invitation, now).await.unwrap());
    let query = rsvp_app::FunnelQuery {
        from: now - Duration::days(1),
        to: now + Duration::days(1),
        now: now + Duration::days(1),
    };
    let funnel = analytics.invitation_funnel(business, &query).await.unwrap();
    assert_eq!((funnel.page_viewed, funnel.accepted), (1, 1));
    assert!(funnel.median_nanos_to_answer.is_some());
}
