//! Connection requests of join links that require approval: made by a
//! redemption, listed on both sides, approved (connecting) or declined
//! (freeing the use), answered once.

use rsvp_app::{Redemption, RequestSide, StoreError};
use rsvp_domain::{ConnectionRequestId, ConnectionRequestStatus, Event, EventKind, JoinLink, JoinRefusal};

use crate::Harness;
use crate::fixtures::{
    JoinSnapshot, Tenant, accept, all_connection_requests, all_connections, all_events, answer_record, at, connected,
    connection_request_now, full_join_link_request, insert, insert_join_link, invite, join_link_now, join_link_with,
    kinds, new_uuid, redeem_record, redemption_events, requested, stored_join_link,
};

use super::join_links::newest_first;

/// A redemption of a link that requires approval takes one use and makes a
/// pending request, read back by id and listed as received by the link's
/// business and as sent by the redeemer (newest first, paged; never for
/// others), with `join_link.redeemed` and `connection_request.created`
/// visible to both; no connection yet, and a second redemption meanwhile
/// is `AlreadyRequested`, writing nothing.
pub async fn a_link_that_requires_approval_makes_a_pending_request_listed_on_both_sides(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let initech = Tenant::create(store, "Initech", "peter@initech.test", at(0)).await;
    let hooli = Tenant::create(store, "Hooli", "gavin@hooli.test", at(0)).await;
    let stranger = Tenant::create(store, "Stranger", "sam@stranger.test", at(0)).await;
    let (link, hash) = insert_join_link(store, join_link_with(&acme, full_join_link_request(), at(1))).await;
    let (second_link, second_hash) = stored_join_link(store, &acme, None, true, at(2)).await;
    let (initech_link, initech_hash) = stored_join_link(store, &initech, None, true, at(2)).await;

    let record = redeem_record(&hash, &globex, at(10));
    let redemption = store
        .join_links()
        .redeem_join_link(&record)
        .await
        .expect("redeem_join_link");
    let request = requested(&link, &record);
    assert_eq!(request.roles, link.roles);
    let after = JoinLink {
        uses: 1,
        ..link.clone()
    };
    assert_eq!(
        redemption,
        Redemption::Requested {
            link: after.clone(),
            request: request.clone(),
        }
    );
    assert_eq!(
        join_link_now(store, link.id).await,
        after,
        "a pending request holds a use"
    );
    assert_eq!(connection_request_now(store, request.id).await, Some(request.clone()));
    assert_eq!(
        connection_request_now(store, ConnectionRequestId::from_uuid(new_uuid())).await,
        None
    );
    assert_eq!(
        all_connection_requests(store, acme.id(), RequestSide::Received, 50).await,
        std::slice::from_ref(&request)
    );
    assert_eq!(
        all_connection_requests(store, globex.id(), RequestSide::Sent, 50).await,
        std::slice::from_ref(&request)
    );
    assert!(
        all_connection_requests(store, acme.id(), RequestSide::Sent, 50)
            .await
            .is_empty()
    );
    assert!(
        all_connection_requests(store, globex.id(), RequestSide::Received, 50)
            .await
            .is_empty()
    );
    let events = all_events(store, acme.id()).await;
    assert_eq!(events, redemption_events(&link, &record));
    assert_eq!(
        kinds(&events),
        [EventKind::JoinLinkRedeemed, EventKind::ConnectionRequestCreated]
    );
    for event in &events {
        assert_eq!(event.invitation_id, None);
        assert_eq!(event.join_link_id, Some(link.id));
        assert_eq!(event.data.connection_id, None);
        assert_eq!(event.data.connection_request_id, Some(request.id));
    }
    assert_eq!(all_events(store, globex.id()).await, events);
    assert!(all_connections(store, acme.id(), 50).await.is_empty());
    assert!(!connected(store, acme.id(), globex.id()).await);

    let businesses = [acme.id(), globex.id()];
    let before = JoinSnapshot::take(store, &[link.id], &businesses).await;
    assert_eq!(
        store
            .join_links()
            .redeem_join_link(&redeem_record(&hash, &globex, at(11)))
            .await,
        Err(StoreError::JoinRefused(JoinRefusal::AlreadyRequested))
    );
    assert_eq!(JoinSnapshot::take(store, &[link.id], &businesses).await, before);

    // More requests: on either link of Acme (a tie at 20), and Globex's on Initech's link.
    let mut received = vec![request.clone()];
    for (hash, link, redeemer) in [(&hash, &link, &initech), (&second_hash, &second_link, &hooli)] {
        let record = redeem_record(hash, redeemer, at(20));
        store
            .join_links()
            .redeem_join_link(&record)
            .await
            .expect("redeem_join_link");
        received.push(requested(link, &record));
    }
    let to_initech = redeem_record(&initech_hash, &globex, at(30));
    store
        .join_links()
        .redeem_join_link(&to_initech)
        .await
        .expect("redeem_join_link");
    let received = newest_first(received, |r| (r.created_at, r.id));
    let sent_by_globex = vec![requested(&initech_link, &to_initech), request.clone()];
    for size in [1, 2, 3, 50] {
        assert_eq!(
            all_connection_requests(store, acme.id(), RequestSide::Received, size).await,
            received,
            "pages of {size}"
        );
        assert_eq!(
            all_connection_requests(store, globex.id(), RequestSide::Sent, size).await,
            sent_by_globex
        );
        assert_eq!(
            all_connection_requests(store, initech.id(), RequestSide::Received, size).await,
            sent_by_globex[..1]
        );
        for side in [RequestSide::Received, RequestSide::Sent] {
            assert!(
                all_connection_requests(store, stranger.id(), side, size)
                    .await
                    .is_empty()
            );
        }
    }
}

/// Approving a pending request connects the two (`connection_request.approved`
/// then `connection.created`, the use kept); declining one frees its use
/// (`connection_request.declined`, no connection); approving a pair that is
/// connected already points at the existing connection and writes no
/// `connection.created`. Answering again is `RequestAnswered`, any other
/// business's answer `NotFound`, both writing nothing.
pub async fn approving_a_request_connects_and_declining_frees_its_use(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let initech = Tenant::create(store, "Initech", "peter@initech.test", at(0)).await;
    let hooli = Tenant::create(store, "Hooli", "gavin@hooli.test", at(0)).await;
    let stranger = Tenant::create(store, "Stranger", "sam@stranger.test", at(0)).await;
    let (link, hash) = stored_join_link(store, &acme, Some(2), true, at(1)).await;
    let mut requests = Vec::new();
    for (n, redeemer) in [&globex, &initech].into_iter().enumerate() {
        let record = redeem_record(&hash, redeemer, at(10 + i64::try_from(n).expect("small")));
        store
            .join_links()
            .redeem_join_link(&record)
            .await
            .expect("redeem_join_link");
        requests.push(requested(&link, &record));
    }
    let [globex_request, initech_request] = <[_; 2]>::try_from(requests).expect("two requests");
    assert_eq!(
        store
            .join_links()
            .redeem_join_link(&redeem_record(&hash, &hooli, at(12)))
            .await,
        Err(StoreError::JoinRefused(JoinRefusal::UsedUp)),
        "two pending requests hold both uses"
    );

    // Approve Globex's.
    let approve = answer_record(&globex_request, &acme, ConnectionRequestStatus::Approved, at(20));
    let approved = globex_request.approve(approve.connection_id, at(20)).expect("pending");
    let connection = globex_request.connection(approve.connection_id, at(20));
    assert_eq!(
        (connection.inviter_business_id, connection.invitee_business_id),
        (acme.id(), globex.id())
    );
    assert_eq!(connection.join_link_id, Some(link.id));
    assert_eq!(connection.invitation_id, None);
    assert_eq!(
        store.join_links().answer_connection_request(&approve).await,
        Ok((approved.clone(), Some(connection.clone())))
    );
    assert_eq!(connection_request_now(store, approved.id).await, Some(approved.clone()));
    assert_eq!(
        all_connections(store, globex.id(), 50).await,
        std::slice::from_ref(&connection)
    );
    let approval_events = [
        Event::connection_request(approve.event_ids[0], &approved, approve.actor),
        Event::join_connection_created(
            approve.event_ids[1],
            &connection,
            link.id,
            approve.actor,
            Some(approved.id),
        ),
    ];
    let globex_events = all_events(store, globex.id()).await;
    assert_eq!(globex_events[2..], approval_events);
    assert_eq!(
        kinds(&globex_events[2..]),
        [EventKind::ConnectionRequestApproved, EventKind::ConnectionCreated]
    );
    assert_eq!(
        join_link_now(store, link.id).await.uses,
        2,
        "an approved request keeps its use"
    );

    // Decline Initech's.
    let decline = answer_record(&initech_request, &acme, ConnectionRequestStatus::Declined, at(30));
    let declined = initech_request.decline(at(30)).expect("pending");
    assert_eq!(
        store.join_links().answer_connection_request(&decline).await,
        Ok((declined.clone(), None))
    );
    let initech_events = all_events(store, initech.id()).await;
    assert_eq!(
        initech_events[2..],
        [Event::connection_request(
            decline.event_ids[0],
            &declined,
            decline.actor
        )]
    );
    assert_eq!(kinds(&initech_events[2..]), [EventKind::ConnectionRequestDeclined]);
    assert!(all_connections(store, initech.id(), 50).await.is_empty());
    assert_eq!(
        join_link_now(store, link.id).await.uses,
        1,
        "a declined request frees its use"
    );

    // The freed use lets Hooli in.
    let hooli_record = redeem_record(&hash, &hooli, at(31));
    store
        .join_links()
        .redeem_join_link(&hooli_record)
        .await
        .expect("the freed use");
    let hooli_request = requested(&link, &hooli_record);

    // Answering again, or as another business: refused, writing nothing.
    let businesses = [acme.id(), globex.id(), initech.id(), hooli.id(), stranger.id()];
    let before = JoinSnapshot::take(store, &[link.id], &businesses).await;
    let attempts = [
        (
            answer_record(&approved, &acme, ConnectionRequestStatus::Declined, at(40)),
            Err(StoreError::RequestAnswered {
                current: ConnectionRequestStatus::Approved,
            }),
        ),
        (
            answer_record(&approved, &acme, ConnectionRequestStatus::Approved, at(40)),
            Err(StoreError::RequestAnswered {
                current: ConnectionRequestStatus::Approved,
            }),
        ),
        (
            answer_record(&declined, &acme, ConnectionRequestStatus::Approved, at(40)),
            Err(StoreError::RequestAnswered {
                current: ConnectionRequestStatus::Declined,
            }),
        ),
        (
            answer_record(&hooli_request, &hooli, ConnectionRequestStatus::Approved, at(40)),
            Err(StoreError::NotFound),
        ),
        (
            answer_record(&hooli_request, &stranger, ConnectionRequestStatus::Declined, at(40)),
            Err(StoreError::NotFound),
        ),
        (
            answer_record(&approved, &globex, ConnectionRequestStatus::Declined, at(40)),
            Err(StoreError::NotFound),
        ),
        (
            answer_record(
                &requested(&link, &redeem_record(&hash, &stranger, at(40))),
                &acme,
                ConnectionRequestStatus::Approved,
                at(40),
            ),
            Err(StoreError::NotFound),
        ),
    ];
    for (record, expected) in attempts {
        assert_eq!(
            store.join_links().answer_connection_request(&record).await,
            expected,
            "{:?} by {}",
            record.answer,
            record.business
        );
        assert_eq!(
            JoinSnapshot::take(store, &[link.id], &businesses).await,
            before,
            "a refused answer wrote something"
        );
    }

    // Hooli and Acme connect through an invitation while Hooli's request waits.
    let invited = insert(store, invite(&acme, "gavin@hooli.test", at(50))).await;
    let outcome = store
        .invitations()
        .apply_transition(&accept(invited.invitation(), hooli.id(), at(51)))
        .await
        .expect("accept");
    let existing = outcome.connection.expect("a connection");
    let events_before = all_events(store, hooli.id()).await;
    let late = answer_record(&hooli_request, &acme, ConnectionRequestStatus::Approved, at(60));
    let approved_late = hooli_request.approve(existing.id, at(60)).expect("pending");
    assert_eq!(
        store.join_links().answer_connection_request(&late).await,
        Ok((approved_late.clone(), Some(existing.clone()))),
        "the request points at the existing connection"
    );
    assert_eq!(all_connections(store, hooli.id(), 50).await, [existing]);
    let events_after = all_events(store, hooli.id()).await;
    assert_eq!(
        events_after[events_before.len()..],
        [Event::connection_request(late.event_ids[0], &approved_late, late.actor)],
        "no second connection.created"
    );
    assert_eq!(join_link_now(store, link.id).await.uses, 2);
}
