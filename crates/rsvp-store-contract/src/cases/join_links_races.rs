//! Join links under concurrency: redemptions racing for the last uses, one
//! business redeeming several times at once, a revocation racing
//! redemptions, and answers racing for one request.

use std::collections::BTreeSet;
use std::sync::Arc;

use rsvp_app::{Redemption, RequestSide, StoreError};
use rsvp_domain::{ConnectionRequestStatus, EventKind, JoinRefusal};
use time::Duration;
use tokio::sync::Barrier;

use crate::Harness;
use crate::fixtures::{
    JoinSnapshot, Tenant, all_connection_requests, all_connections, all_events, answer_record, at,
    connection_request_now, join_link_now, kinds, redeem_record, requested, stored_join_link,
};

use super::join_links::partners;

/// Ten businesses redeeming a link of two uses at once: exactly two are
/// connected (taking uses 1 and 2), eight are refused `UsedUp` and get
/// nothing; the link ends with two uses.
pub async fn ten_businesses_redeeming_a_link_of_two_uses_at_once_make_exactly_two_connections(h: Harness) {
    const RACERS: usize = 10;
    let acme = Tenant::create(h.store.as_ref(), "Acme", "ann@acme.test", at(0)).await;
    let racers = partners(h.store.as_ref(), "Partner", RACERS).await;
    let (link, hash) = stored_join_link(h.store.as_ref(), &acme, Some(2), false, at(1)).await;

    let barrier = Arc::new(Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for racer in &racers {
        let record = redeem_record(&hash, racer, at(10));
        let store = Arc::clone(&h.store);
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            (record.redeemer, store.join_links().redeem_join_link(&record).await)
        }));
    }
    let mut winners = BTreeSet::new();
    let mut uses_taken = Vec::new();
    let mut losers = Vec::new();
    for task in tasks {
        match task.await.expect("a redeem task panicked") {
            (redeemer, Ok(Redemption::Connected { link, connection })) => {
                assert_eq!(connection.invitee_business_id, redeemer);
                winners.insert(redeemer);
                uses_taken.push(link.uses);
            }
            (redeemer, Err(error)) => {
                assert_eq!(error, StoreError::JoinRefused(JoinRefusal::UsedUp));
                losers.push(redeemer);
            }
            (_, Ok(other)) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((winners.len(), losers.len()), (2, RACERS - 2), "exactly the two uses");
    uses_taken.sort_unstable();
    assert_eq!(uses_taken, [1, 2], "each winner took its own use");

    let store = h.store.as_ref();
    assert_eq!(join_link_now(store, link.id).await.uses, 2);
    let connections = all_connections(store, acme.id(), 50).await;
    assert_eq!(
        connections
            .iter()
            .map(|c| c.invitee_business_id)
            .collect::<BTreeSet<_>>(),
        winners
    );
    assert_eq!(connections.len(), 2);
    assert_eq!(all_events(store, acme.id()).await.len(), 4, "two events per winner");
    for loser in losers {
        assert!(all_connections(store, loser, 50).await.is_empty());
        assert!(all_events(store, loser).await.is_empty());
    }
}

/// One business redeeming an unlimited link several times at once is
/// connected once (the others `AlreadyConnected`), taking one use; on a link
/// that requires approval it makes one request (the others
/// `AlreadyRequested`).
pub async fn one_business_redeeming_twice_at_once_makes_one_connection(h: Harness) {
    const RACERS: usize = 4;
    let acme = Tenant::create(h.store.as_ref(), "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(h.store.as_ref(), "Globex", "bob@globex.test", at(0)).await;
    let initech = Tenant::create(h.store.as_ref(), "Initech", "peter@initech.test", at(0)).await;

    for (redeemer, requires_approval) in [(&globex, false), (&initech, true)] {
        let (link, hash) = stored_join_link(h.store.as_ref(), &acme, None, requires_approval, at(1)).await;
        let barrier = Arc::new(Barrier::new(RACERS));
        let mut tasks = Vec::new();
        for _ in 0..RACERS {
            let record = redeem_record(&hash, redeemer, at(10));
            let store = Arc::clone(&h.store);
            let barrier = Arc::clone(&barrier);
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                store.join_links().redeem_join_link(&record).await
            }));
        }
        let (mut made, mut refused) = (0, 0);
        let expected_refusal = if requires_approval {
            JoinRefusal::AlreadyRequested
        } else {
            JoinRefusal::AlreadyConnected
        };
        for task in tasks {
            match task.await.expect("a redeem task panicked") {
                Ok(Redemption::Connected { .. }) if !requires_approval => made += 1,
                Ok(Redemption::Requested { .. }) if requires_approval => made += 1,
                Err(error) => {
                    assert_eq!(error, StoreError::JoinRefused(expected_refusal));
                    refused += 1;
                }
                Ok(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(
            (made, refused),
            (1, RACERS - 1),
            "approval required: {requires_approval}"
        );

        let store = h.store.as_ref();
        assert_eq!(join_link_now(store, link.id).await.uses, 1, "one use taken");
        let connections = all_connections(store, redeemer.id(), 50).await;
        let sent = all_connection_requests(store, redeemer.id(), RequestSide::Sent, 50).await;
        if requires_approval {
            assert!(connections.is_empty());
            assert_eq!(sent.len(), 1, "one request");
            assert_eq!(sent[0].join_link_id, link.id);
        } else {
            assert_eq!(connections.len(), 1, "one connection");
            assert!(sent.is_empty());
        }
        assert_eq!(
            all_events(store, redeemer.id()).await.len(),
            2,
            "one redemption's events"
        );
    }
}

/// Redemptions racing a revocation: the revoke returns the link with the
/// uses of every redemption that committed before it, and none commits
/// after (uses = successes = connections; the others are refused
/// `Revoked`, as is any redemption afterwards).
pub async fn a_revocation_racing_redemptions_lets_none_through_after_it_commits(h: Harness) {
    const REDEEMERS: usize = 6;
    const ROUNDS: i64 = 3;
    let racers = partners(h.store.as_ref(), "Partner", REDEEMERS).await;
    let late = Tenant::create(h.store.as_ref(), "Late", "lou@late.test", at(0)).await;

    for round in 0..ROUNDS {
        let owner = Tenant::create(
            h.store.as_ref(),
            &format!("Owner {round}"),
            &format!("owner{round}@owner{round}.test"),
            at(0),
        )
        .await;
        let (link, hash) = stored_join_link(h.store.as_ref(), &owner, None, false, at(1)).await;
        let now = at(10 + round);
        let barrier = Arc::new(Barrier::new(REDEEMERS + 1));
        let mut tasks = Vec::new();
        for racer in &racers {
            let record = redeem_record(&hash, racer, now);
            let store = Arc::clone(&h.store);
            let barrier = Arc::clone(&barrier);
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                store.join_links().redeem_join_link(&record).await
            }));
        }
        let revoke = {
            let store = Arc::clone(&h.store);
            let barrier = Arc::clone(&barrier);
            let (business, id) = (owner.id(), link.id);
            tokio::spawn(async move {
                barrier.wait().await;
                store.join_links().revoke_join_link(business, id, now).await
            })
        };
        let mut uses_taken = Vec::new();
        for task in tasks {
            match task.await.expect("a redeem task panicked") {
                Ok(Redemption::Connected { link, .. }) => {
                    assert_eq!(link.revoked_at, None, "a redemption before the revocation");
                    uses_taken.push(link.uses);
                }
                Err(error) => assert_eq!(error, StoreError::JoinRefused(JoinRefusal::Revoked)),
                Ok(other) => panic!("unexpected {other:?}"),
            }
        }
        let revoked = revoke
            .await
            .expect("the revoke task panicked")
            .expect("revoke_join_link");
        uses_taken.sort_unstable();
        let succeeded = u32::try_from(uses_taken.len()).expect("a few");
        assert_eq!(uses_taken, (1..=succeeded).collect::<Vec<_>>(), "round {round}");
        assert_eq!(revoked.revoked_at, Some(now));
        assert_eq!(
            revoked.uses, succeeded,
            "round {round}: a redemption committed after the revocation"
        );

        let store = h.store.as_ref();
        assert_eq!(join_link_now(store, link.id).await, revoked);
        assert_eq!(all_connections(store, owner.id(), 50).await.len(), uses_taken.len());
        assert_eq!(all_events(store, owner.id()).await.len(), 2 * uses_taken.len());
        let before = JoinSnapshot::take(store, &[link.id], &[owner.id(), late.id()]).await;
        assert_eq!(
            store
                .join_links()
                .redeem_join_link(&redeem_record(&hash, &late, now + Duration::SECOND))
                .await,
            Err(StoreError::JoinRefused(JoinRefusal::Revoked))
        );
        assert_eq!(
            JoinSnapshot::take(store, &[link.id], &[owner.id(), late.id()]).await,
            before
        );
    }
}

/// Approvals and declines of one pending request racing: exactly one wins,
/// the others get `RequestAnswered` with the winner's status; only the
/// winner's event (and connection, or freed use) is written.
pub async fn concurrent_answers_to_one_request_have_exactly_one_winner(h: Harness) {
    const ANSWERS: usize = 4;
    let acme = Tenant::create(h.store.as_ref(), "Acme", "ann@acme.test", at(0)).await;
    let requesters = partners(h.store.as_ref(), "Partner", 4).await;

    for (round, requester) in requesters.iter().enumerate() {
        let store = h.store.as_ref();
        let (link, hash) = stored_join_link(store, &acme, None, true, at(1)).await;
        let record = redeem_record(&hash, requester, at(10));
        store
            .join_links()
            .redeem_join_link(&record)
            .await
            .expect("redeem_join_link");
        let request = requested(&link, &record);

        let barrier = Arc::new(Barrier::new(ANSWERS));
        let mut tasks = Vec::new();
        for n in 0..ANSWERS {
            let answer = if n % 2 == 0 {
                ConnectionRequestStatus::Approved
            } else {
                ConnectionRequestStatus::Declined
            };
            let answer = answer_record(&request, &acme, answer, at(20));
            let store = Arc::clone(&h.store);
            let barrier = Arc::clone(&barrier);
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                store.join_links().answer_connection_request(&answer).await
            }));
        }
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.expect("an answer task panicked"));
        }
        let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).cloned().collect();
        assert_eq!(winners.len(), 1, "round {round}: exactly one winner");
        let (answered, connection) = winners[0].clone();
        for result in &results {
            if let Err(error) = result {
                assert_eq!(
                    error,
                    &StoreError::RequestAnswered {
                        current: answered.status
                    }
                );
            }
        }
        assert_eq!(connection_request_now(store, request.id).await, Some(answered.clone()));
        let connections = all_connections(store, requester.id(), 50).await;
        let events = kinds(&all_events(store, requester.id()).await);
        let uses = join_link_now(store, link.id).await.uses;
        match answered.status {
            ConnectionRequestStatus::Approved => {
                let connection = connection.expect("an approval's connection");
                assert_eq!(answered.connection_id, Some(connection.id));
                assert_eq!(connections, [connection]);
                assert_eq!(
                    events,
                    [
                        EventKind::JoinLinkRedeemed,
                        EventKind::ConnectionRequestCreated,
                        EventKind::ConnectionRequestApproved,
                        EventKind::ConnectionCreated,
                    ]
                );
                assert_eq!(uses, 1);
            }
            ConnectionRequestStatus::Declined => {
                assert_eq!(connection, None);
                assert!(connections.is_empty());
                assert_eq!(
                    events,
                    [
                        EventKind::JoinLinkRedeemed,
                        EventKind::ConnectionRequestCreated,
                        EventKind::ConnectionRequestDeclined,
                    ]
                );
                assert_eq!(uses, 0, "the use is freed once");
            }
            ConnectionRequestStatus::Pending => panic!("an answer left the request pending"),
        }
    }
}
