//! Changes of status: `apply_transition`.

use std::sync::Arc;

use rsvp_app::{EmailOutcome, StoreError, TransitionOutcome};
use rsvp_domain::{EventKind, InvitationStatus};
use tokio::sync::Barrier;

use crate::Harness;
use crate::fixtures::{
    LEASE, Tenant, accept, accept_as_new_invitee, all_connections, all_events, all_received, at, cancel, email, expire,
    insert, invite, invited, kinds, query, reject,
};
use crate::fixtures::{connected, finish_email};

/// `apply_transition` MUST return `Conflict` with the status the invitation
/// reads as, writing nothing, when the stored status is not the expected
/// `pending`: from each terminal status, every transition is refused.
pub async fn a_transition_applies_only_to_a_pending_invitation_and_a_refused_one_writes_nothing(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;

    for first in [
        InvitationStatus::Accepted,
        InvitationStatus::Rejected,
        InvitationStatus::Cancelled,
        InvitationStatus::Expired,
    ] {
        let invite = insert(
            store,
            invite(&acme, &format!("{first}@globex.test"), at(0)).expiring_at(at(1000)),
        )
        .await;
        let before = invite.invitation();
        let record = match first {
            InvitationStatus::Accepted => accept(before, globex.id(), at(10)),
            InvitationStatus::Rejected => reject(before, at(10)),
            InvitationStatus::Cancelled => cancel(before, at(10)),
            _ => expire(before, at(1000)),
        };
        store
            .invitations()
            .apply_transition(&record)
            .await
            .expect("the first transition");
        let stored = store
            .invitations()
            .get_invitation(invite.id())
            .await
            .expect("get_invitation");
        assert_eq!(stored.as_ref().map(|i| i.status()), Some(first));
        let events = all_events(store, acme.id()).await;
        let connections = all_connections(store, acme.id(), 50).await;

        let later = if first == InvitationStatus::Expired {
            at(1500)
        } else {
            at(20)
        };
        for attempt in [
            accept(before, globex.id(), later),
            reject(before, later),
            cancel(before, later),
            expire(before, at(1500)),
        ] {
            let result = store.invitations().apply_transition(&attempt).await;
            assert_eq!(
                result,
                Err(StoreError::Conflict { current: first }),
                "{} after {first}",
                attempt.invitation.status()
            );
        }
        assert_eq!(
            store
                .invitations()
                .get_invitation(invite.id())
                .await
                .expect("get_invitation"),
            stored
        );
        assert_eq!(
            all_events(store, acme.id()).await,
            events,
            "after {first}, refusals wrote events"
        );
        assert_eq!(all_connections(store, acme.id(), 50).await, connections);
    }
}

/// Unless the new status is `expired`, the row must not be past `expires_at`
/// at `record.now` (at `expires_at` it already reads as expired): answering
/// is a `Conflict { current: Expired }` writing nothing, expiring works.
pub async fn a_pending_invitation_past_its_expiry_cannot_be_answered_but_can_be_expired(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let late = insert(store, invite(&acme, "bob@globex.test", at(0)).expiring_at(at(100))).await;
    let events = all_events(store, acme.id()).await;

    for attempt in [
        accept(late.invitation(), globex.id(), at(100)),
        accept(late.invitation(), globex.id(), at(150)),
        reject(late.invitation(), at(100)),
        cancel(late.invitation(), at(150)),
    ] {
        let result = store.invitations().apply_transition(&attempt).await;
        assert_eq!(
            result,
            Err(StoreError::Conflict {
                current: InvitationStatus::Expired
            }),
            "{} at {}",
            attempt.invitation.status(),
            attempt.now
        );
    }
    let stored = store
        .invitations()
        .get_invitation(late.id())
        .await
        .expect("get_invitation");
    assert_eq!(stored.as_ref(), Some(late.invitation()), "still stored as pending");
    assert_eq!(all_events(store, acme.id()).await, events);
    assert!(!connected(store, acme.id(), globex.id()).await);

    let in_time = insert(store, invite(&acme, "carol@globex.test", at(0)).expiring_at(at(100))).await;
    store
        .invitations()
        .apply_transition(&accept(in_time.invitation(), globex.id(), at(99)))
        .await
        .expect("one second before expires_at an invitation can be accepted");

    let record = expire(late.invitation(), at(100));
    let outcome = store
        .invitations()
        .apply_transition(&record)
        .await
        .expect("expiring at expires_at");
    assert_eq!(
        outcome,
        TransitionOutcome {
            invitation: record.invitation.clone(),
            connection: None,
        }
    );
    assert_eq!(outcome.invitation.resolved_at(), Some(at(100)));
    let stored = store
        .invitations()
        .get_invitation(late.id())
        .await
        .expect("get_invitation");
    assert_eq!(stored.as_ref(), Some(&record.invitation));
    let last = all_events(store, acme.id()).await.pop().expect("events");
    assert_eq!(last, record.event);
}

/// `apply_transition` MUST return `NotFound` when there is no such
/// invitation, and writes nothing.
pub async fn a_transition_of_an_unknown_invitation_is_not_found(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let never_stored = invite(&acme, "bob@globex.test", at(0));
    for record in [
        accept(never_stored.invitation(), globex.id(), at(10)),
        reject(never_stored.invitation(), at(10)),
        cancel(never_stored.invitation(), at(10)),
        expire(never_stored.invitation(), at(10) + time::Duration::days(30)),
    ] {
        assert_eq!(
            store.invitations().apply_transition(&record).await,
            Err(StoreError::NotFound)
        );
    }
    assert!(!connected(store, acme.id(), globex.id()).await);
    assert!(all_events(store, acme.id()).await.is_empty());
    assert!(all_events(store, globex.id()).await.is_empty());
}

/// "among concurrent transitions of one invitation exactly one wins": 12
/// tasks race to accept, reject and cancel; one gets `Ok`, the 11 others a
/// `Conflict` naming the winner's status, and one event is written.
pub async fn concurrent_transitions_of_one_invitation_have_exactly_one_winner(h: Harness) {
    const RACERS: usize = 12;
    let acme = Tenant::create(h.store.as_ref(), "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(h.store.as_ref(), "Globex", "bob@globex.test", at(0)).await;
    let invite = invited(h.store.as_ref(), &acme, "bob@globex.test", at(0)).await;

    let barrier = Arc::new(Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for n in 0..RACERS {
        let before = invite.invitation();
        let record = match n % 3 {
            0 => accept(before, globex.id(), at(10)),
            1 => reject(before, at(10)),
            _ => cancel(before, at(10)),
        };
        let store = Arc::clone(&h.store);
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let result = store.invitations().apply_transition(&record).await;
            (record, result)
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("a transition task panicked"));
    }
    let winners: Vec<_> = outcomes.iter().filter(|(_, result)| result.is_ok()).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one of {RACERS} concurrent transitions must win"
    );
    let (winning_record, winning_result) = winners[0];
    let status = winning_record.invitation.status();
    for (record, result) in &outcomes {
        if result.is_err() {
            assert_eq!(
                result,
                &Err(StoreError::Conflict { current: status }),
                "a losing {} after the winning {status}",
                record.invitation.status()
            );
        }
    }

    let store = h.store.as_ref();
    let stored = store
        .invitations()
        .get_invitation(invite.id())
        .await
        .expect("get_invitation")
        .expect("stored");
    assert_eq!(stored.status(), status);
    assert_eq!(winning_result.as_ref().map(|o| &o.invitation), Ok(&stored));
    let events = all_events(store, acme.id()).await;
    let answers: Vec<_> = events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::InvitationAccepted | EventKind::InvitationRejected | EventKind::InvitationCancelled
            )
        })
        .collect();
    assert_eq!(
        answers,
        [&winning_record.event],
        "exactly the winner's event is written"
    );
    let connections = all_connections(store, acme.id(), 50).await;
    let created = events.iter().filter(|e| e.kind == EventKind::ConnectionCreated).count();
    if status == InvitationStatus::Accepted {
        let (connection, _) = winning_record
            .connection
            .clone()
            .expect("an acceptance has a connection");
        assert_eq!(connections, [connection]);
        assert_eq!(created, 1);
    } else {
        assert!(connections.is_empty());
        assert_eq!(created, 0);
    }
}

/// Accepting writes, in one unit, the accepted invitation, its event, the
/// connection and `connection.created`; the two businesses are connected in
/// both directions and no others are.
pub async fn accepting_connects_the_two_businesses_and_writes_connection_created(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let initech = Tenant::create(store, "Initech", "peter@initech.test", at(0)).await;
    let invite = insert(store, invite(&acme, "bob@globex.test", at(0)).to_member_of(globex.id())).await;

    let record = accept(invite.invitation(), globex.id(), at(10));
    let (connection, connection_created) = record.connection.clone().expect("a connection");
    let outcome = store
        .invitations()
        .apply_transition(&record)
        .await
        .expect("apply_transition");
    assert_eq!(
        outcome,
        TransitionOutcome {
            invitation: record.invitation.clone(),
            connection: Some(connection.clone()),
        }
    );
    let stored = store
        .invitations()
        .get_invitation(invite.id())
        .await
        .expect("get_invitation");
    assert_eq!(stored.as_ref(), Some(&record.invitation));

    for (a, b, expected) in [
        (acme.id(), globex.id(), true),
        (globex.id(), acme.id(), true),
        (acme.id(), initech.id(), false),
        (initech.id(), globex.id(), false),
    ] {
        assert_eq!(connected(store, a, b).await, expected);
    }
    assert_eq!(
        all_events(store, acme.id()).await,
        [
            invite.record.event.clone(),
            record.event.clone(),
            connection_created.clone()
        ]
    );
    assert_eq!(
        all_events(store, globex.id()).await,
        [invite.record.event.clone(), record.event.clone(), connection_created]
    );
    assert_eq!(
        all_connections(store, acme.id(), 50).await,
        std::slice::from_ref(&connection)
    );
    assert_eq!(all_connections(store, globex.id(), 50).await, [connection]);
    assert!(all_connections(store, initech.id(), 50).await.is_empty());
}

/// One connection per pair of businesses: a later acceptance between the
/// same two, in either direction, returns the existing connection and writes
/// no second one and no second `connection.created`.
pub async fn a_second_acceptance_between_the_same_businesses_in_either_direction_returns_the_existing_connection(
    h: Harness,
) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let first = invited(store, &acme, "bob@globex.test", at(0)).await;
    let first_record = accept(first.invitation(), globex.id(), at(10));
    let existing = store
        .invitations()
        .apply_transition(&first_record)
        .await
        .expect("the first acceptance")
        .connection
        .expect("a connection");

    let reverse = invited(store, &globex, "ann@acme.test", at(20)).await;
    let same_way = invited(store, &acme, "carol@globex.test", at(40)).await;
    for record in [
        accept(reverse.invitation(), acme.id(), at(30)),
        accept(same_way.invitation(), globex.id(), at(50)),
    ] {
        let outcome = store
            .invitations()
            .apply_transition(&record)
            .await
            .expect("a later acceptance");
        assert_eq!(outcome.connection.as_ref(), Some(&existing));
        assert_eq!(outcome.invitation.status(), InvitationStatus::Accepted);
        let stored = store
            .invitations()
            .get_invitation(record.invitation.id())
            .await
            .expect("get_invitation")
            .expect("stored");
        assert_eq!(stored.status(), InvitationStatus::Accepted);
    }

    for business in [acme.id(), globex.id()] {
        assert_eq!(
            all_connections(store, business, 50).await,
            std::slice::from_ref(&existing)
        );
        let events = all_events(store, business).await;
        let created: Vec<_> = events
            .iter()
            .filter(|e| e.kind == EventKind::ConnectionCreated)
            .collect();
        assert_eq!(created.len(), 1, "one connection.created, for the first acceptance");
        assert_eq!(created[0].data.connection_id, Some(existing.id));
        let accepted = events
            .iter()
            .filter(|e| e.kind == EventKind::InvitationAccepted)
            .count();
        assert_eq!(accepted, 3, "every acceptance still writes its own event");
    }
}

/// Rejecting, cancelling and expiring write their event and nothing else:
/// no connection, even when the invitee's business is known.
pub async fn rejecting_cancelling_or_expiring_creates_no_connection(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    for (n, kind) in [
        EventKind::InvitationRejected,
        EventKind::InvitationCancelled,
        EventKind::InvitationExpired,
    ]
    .into_iter()
    .enumerate()
    {
        let built = invite(&acme, &format!("member{n}@globex.test"), at(0))
            .to_member_of(globex.id())
            .expiring_at(at(100));
        let invite = insert(store, built).await;
        let record = match kind {
            EventKind::InvitationRejected => reject(invite.invitation(), at(10)),
            EventKind::InvitationCancelled => cancel(invite.invitation(), at(10)),
            _ => expire(invite.invitation(), at(100)),
        };
        let outcome = store
            .invitations()
            .apply_transition(&record)
            .await
            .expect("apply_transition");
        assert_eq!(outcome.connection, None, "{kind}");
        assert_eq!(outcome.invitation, record.invitation);
        let last = all_events(store, acme.id()).await.pop().expect("events");
        assert_eq!(last, record.event, "{kind}");
    }
    assert!(!connected(store, acme.id(), globex.id()).await);
    assert!(all_connections(store, acme.id(), 50).await.is_empty());
    let events = all_events(store, acme.id()).await;
    assert!(!kinds(&events).contains(&EventKind::ConnectionCreated));
}

/// With `new_invitee`, the invitee's business and user are created in the
/// same unit as the acceptance and the connection.
pub async fn accepting_as_a_new_invitee_creates_its_business_and_user_in_the_same_unit(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let invite = invited(store, &acme, "Dora@Newco.test", at(0)).await;
    let record = accept_as_new_invitee(invite.invitation(), "Newco", at(10));
    let newco = record.new_invitee.clone().expect("a new invitee");
    let (connection, connection_created) = record.connection.clone().expect("a connection");

    let outcome = store
        .invitations()
        .apply_transition(&record)
        .await
        .expect("apply_transition");
    assert_eq!(outcome.connection.as_ref(), Some(&connection));
    assert_eq!(outcome.invitation, record.invitation);

    let business = store
        .operator()
        .get_business(newco.business.id)
        .await
        .expect("get_business");
    assert_eq!(business, Some(newco.business.clone()));
    let user = store
        .operator()
        .find_user_by_email(&email("dora@newco.test"))
        .await
        .expect("find_user_by_email");
    assert_eq!(user, Some(newco.user.clone()));
    assert!(connected(store, newco.business.id, acme.id()).await);
    let events = all_events(store, newco.business.id).await;
    assert!(events.contains(&record.event), "the new business sees its acceptance");
    assert!(
        events.contains(&connection_created),
        "the new business sees its connection"
    );
    assert_eq!(all_connections(store, newco.business.id, 50).await, [connection]);
    let received = all_received(store, newco.business.id, query(at(20))).await;
    assert_eq!(received, std::slice::from_ref(&record.invitation));
}

/// `apply_transition` MUST return `EmailTaken` when `new_invitee`'s email got
/// a user meanwhile, writing nothing: no business, no acceptance, no
/// connection, no event.
pub async fn accepting_as_a_new_invitee_whose_email_got_a_user_is_refused_and_writes_nothing(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let invite = invited(store, &acme, "dora@newco.test", at(0)).await;
    let record = accept_as_new_invitee(invite.invitation(), "Newco", at(10));
    let newco = record.new_invitee.clone().expect("a new invitee");
    let dora = Tenant::create(store, "Dora's Own", "DORA@newco.test", at(5)).await;
    let events = all_events(store, acme.id()).await;

    assert_eq!(
        store.invitations().apply_transition(&record).await,
        Err(StoreError::EmailTaken)
    );

    let stored = store
        .invitations()
        .get_invitation(invite.id())
        .await
        .expect("get_invitation");
    assert_eq!(stored.as_ref(), Some(invite.invitation()), "still pending, unchanged");
    assert_eq!(
        store
            .operator()
            .get_business(newco.business.id)
            .await
            .expect("get_business"),
        None
    );
    let user = store
        .operator()
        .find_user_by_email(&email("dora@newco.test"))
        .await
        .expect("find_user_by_email");
    assert_eq!(user, Some(dora.user.clone()));
    assert!(!connected(store, acme.id(), newco.business.id).await);
    assert!(all_connections(store, acme.id(), 50).await.is_empty());
    assert_eq!(all_events(store, acme.id()).await, events);
}

/// A transition built from an invitation read before its email was sent
/// must not turn `email_delivery` back: the store changes the status (and
/// what goes with it), not what `finish_email_jobs` recorded meanwhile.
pub async fn a_transition_keeps_the_email_delivery_recorded_since_the_invitation_was_read(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let invite = invited(store, &acme, "bob@globex.test", at(0)).await;
    let read_before_sending = invite.invitation().clone();

    let jobs = store
        .outbox()
        .claim_email_jobs(at(0), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(jobs.len(), 1);
    finish_email(store, jobs[0].id, &EmailOutcome::sent(), at(1)).await;

    let outcome = store
        .invitations()
        .apply_transition(&cancel(&read_before_sending, at(5)))
        .await
        .expect("apply_transition");
    assert_eq!(outcome.invitation.status(), InvitationStatus::Cancelled);
    assert_eq!(
        outcome.invitation.email_delivery(),
        Some(rsvp_domain::EmailDelivery::Sent)
    );
    let stored = store
        .invitations()
        .get_invitation(invite.id())
        .await
        .expect("get_invitation")
        .expect("stored");
    assert_eq!(stored.email_delivery(), Some(rsvp_domain::EmailDelivery::Sent));
    assert_eq!(stored, outcome.invitation);
}
