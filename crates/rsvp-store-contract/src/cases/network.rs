//! The network: the event log (written with every change, `list_events`
//! oldest first by id, keyset paged, visible to the sender and the known
//! invitee) and the connections (`list_connections`).

use rsvp_app::EventQuery;
use rsvp_domain::{Connection, Event, EventKind};

use crate::Harness;
use crate::fixtures::{
    Tenant, accept, all_connections, all_events, all_events_paged, at, cancel, insert, invite, invited, kinds, limit,
    resend,
};

/// Creating, resending, accepting (with its connection) and cancelling each
/// write their event in the same unit; `list_events` returns them oldest
/// first by id, whatever order they were written in.
pub async fn every_change_writes_its_event_and_events_are_listed_oldest_first_by_id(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let first = invite(&acme, "bob@globex.test", at(0));
    let second = invite(&acme, "carol@initech.test", at(1));
    // The later id is written first.
    insert(store, second.clone()).await;
    insert(store, first.clone()).await;

    let resent = resend(first.invitation(), at(100), false);
    store
        .invitations()
        .record_resend(&resent.record)
        .await
        .expect("record_resend");
    let accepted = accept(first.invitation(), globex.id(), at(200));
    store.invitations().apply_transition(&accepted).await.expect("accept");
    let cancelled = cancel(second.invitation(), at(300));
    store.invitations().apply_transition(&cancelled).await.expect("cancel");

    let (_, connection_created) = accepted.connection.clone().expect("a connection");
    let events = all_events(store, acme.id()).await;
    assert_eq!(
        events,
        [
            first.record.event.clone(),
            second.record.event.clone(),
            resent.record.event.clone(),
            accepted.event.clone(),
            connection_created,
            cancelled.event.clone(),
        ]
    );
    assert_eq!(
        kinds(&events),
        [
            EventKind::InvitationCreated,
            EventKind::InvitationCreated,
            EventKind::InvitationResent,
            EventKind::InvitationAccepted,
            EventKind::ConnectionCreated,
            EventKind::InvitationCancelled,
        ]
    );
}

/// Every page size reads the same events once each, ids strictly growing;
/// `after` continues after the given id; `next` is the last id of a page
/// that has more after it.
pub async fn events_are_keyset_paged_by_id_without_skips_or_repeats(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let built: Vec<_> = (0..10)
        .map(|n| invite(&acme, &format!("p{n}@partner.test"), at(n)))
        .collect();
    for n in [7, 2, 9, 0, 4, 1, 8, 3, 6, 5] {
        insert(store, built[n].clone()).await;
    }
    for n in [8, 1, 5] {
        store
            .invitations()
            .apply_transition(&cancel(built[n].invitation(), at(50)))
            .await
            .expect("cancel");
    }
    let all = all_events(store, acme.id()).await;
    assert_eq!(all.len(), 13);
    for pair in all.windows(2) {
        assert!(pair[0].id < pair[1].id, "events must be oldest first by id");
    }

    let ids = |events: &[Event]| events.iter().map(|e| e.id).collect::<Vec<_>>();
    for size in [1, 2, 3, 4, 12, 13, 200] {
        assert_eq!(
            ids(&all_events_paged(store, acme.id(), size).await),
            ids(&all),
            "pages of {size}"
        );
    }
    let page = store
        .network()
        .list_events(
            acme.id(),
            &EventQuery {
                limit: limit(3),
                after: Some(all[4].id),
            },
        )
        .await
        .expect("list_events");
    assert_eq!(ids(&page.items), ids(&all[5..8]));
    assert_eq!(page.next, Some(all[7].id));
    let last = store
        .network()
        .list_events(
            acme.id(),
            &EventQuery {
                limit: limit(3),
                after: Some(all[9].id),
            },
        )
        .await
        .expect("list_events");
    assert_eq!(ids(&last.items), ids(&all[10..]));
    assert_eq!(last.next, None);
}

/// An event is visible to the sending business and to the invitee's
/// business once known, and to no other business.
///
/// "Known" is read as `Event::visible_to` reads it, from the event itself:
/// an event is visible to its `invitee_business_id`. An event written before
/// the invitee was known (the `invitation.created` of an invitation to an
/// email that had no user yet) stays the sender's alone; the events written
/// once the invitee is known (the acceptance, the connection) are the
/// invitee's too.
pub async fn events_are_visible_to_the_sender_and_the_known_invitee_and_to_no_one_else(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let initech = Tenant::create(store, "Initech", "peter@initech.test", at(0)).await;
    let stranger = Tenant::create(store, "Stranger", "sam@stranger.test", at(0)).await;

    let known = insert(store, invite(&acme, "bob@globex.test", at(1)).to_member_of(globex.id())).await;
    let unknown = invited(store, &acme, "x@nowhere.test", at(2)).await;
    let other = invited(store, &initech, "y@nowhere.test", at(3)).await;
    let accepted = accept(known.invitation(), globex.id(), at(10));
    store.invitations().apply_transition(&accepted).await.expect("accept");
    let (_, connection_created) = accepted.connection.clone().expect("a connection");
    let learnt = invited(store, &acme, "carol@globex.test", at(20)).await;
    let learnt_accepted = accept(learnt.invitation(), globex.id(), at(30));
    store
        .invitations()
        .apply_transition(&learnt_accepted)
        .await
        .expect("accept");

    assert_eq!(
        all_events(store, acme.id()).await,
        [
            known.record.event.clone(),
            unknown.record.event.clone(),
            accepted.event.clone(),
            connection_created.clone(),
            learnt.record.event.clone(),
            learnt_accepted.event.clone(),
        ]
    );
    assert_eq!(
        all_events(store, globex.id()).await,
        [
            known.record.event.clone(),
            accepted.event.clone(),
            connection_created,
            learnt_accepted.event.clone(),
        ],
        "the invitee sees the events that name it, not the creation written before it was known"
    );
    assert_eq!(
        all_events(store, initech.id()).await,
        std::slice::from_ref(&other.record.event)
    );
    assert!(all_events(store, stranger.id()).await.is_empty());
}

/// `list_connections` shows the connections where the business is either
/// end, newest first (`created_at`, then `id`), keyset paged; never others.
pub async fn connections_are_listed_for_both_ends_newest_first_and_paged(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let partners = [
        Tenant::create(store, "One", "one@one.test", at(0)).await,
        Tenant::create(store, "Two", "two@two.test", at(0)).await,
        Tenant::create(store, "Three", "three@three.test", at(0)).await,
        Tenant::create(store, "Four", "four@four.test", at(0)).await,
    ];
    let stranger = Tenant::create(store, "Stranger", "sam@stranger.test", at(0)).await;

    // (inviter, invitee, accepted at): acme on either end, a tie at 30.
    let pairs = [
        (&acme, &partners[0], at(10)),
        (&partners[1], &acme, at(20)),
        (&acme, &partners[2], at(30)),
        (&partners[3], &acme, at(30)),
        (&partners[0], &partners[1], at(40)),
    ];
    let mut connections: Vec<Connection> = Vec::new();
    for (inviter, invitee, accepted_at) in pairs {
        let built = insert(store, invite(inviter, &invitee.user.email.to_string(), at(0))).await;
        let record = accept(built.invitation(), invitee.id(), accepted_at);
        let outcome = store.invitations().apply_transition(&record).await.expect("accept");
        connections.push(outcome.connection.expect("a connection"));
    }
    let newest_first = |mut rows: Vec<Connection>| {
        rows.sort_by_key(|row| std::cmp::Reverse((row.created_at, row.id)));
        rows
    };
    let of_acme = newest_first(connections[..4].to_vec());
    let of_one = newest_first(vec![connections[0].clone(), connections[4].clone()]);
    for size in [1, 2, 3, 50] {
        assert_eq!(
            all_connections(store, acme.id(), size).await,
            of_acme,
            "pages of {size}"
        );
        assert_eq!(all_connections(store, partners[0].id(), size).await, of_one);
        assert!(all_connections(store, stranger.id(), size).await.is_empty());
    }
}
