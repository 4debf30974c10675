//! Join links (`JoinLinkStore`): links stored, read back, listed and
//! revoked; redemptions that connect two businesses at once, or make a
//! request the link's business approves or declines, each taking one use,
//! exact under concurrency; and refusals that write nothing.

use std::collections::BTreeSet;
use std::sync::Arc;

use rsvp_app::{Cursor, PageRequest, Redemption, RequestSide, StoreError};
use rsvp_domain::{
    Connection, ConnectionRequestId, ConnectionRequestStatus, Event, EventKind, JoinLink, JoinLinkId, JoinRefusal,
};
use time::Duration;
use tokio::sync::Barrier;

use super::webhooks::{deliveries, endpoint, registered};
use crate::Harness;
use crate::fixtures::{
    JoinSnapshot, Tenant, accept, all_connection_requests, all_connections, all_events, all_join_links, answer_record,
    at, connected, full_join_link_request, insert, insert_join_link, invite, join_link_now, join_link_request,
    join_link_with, joined, kinds, limit, new_uuid, redeem_record, redemption_events, requested, stored_join_link,
    unknown_hash,
};

/// The ids of `events`, as a set.
fn event_ids(events: &[Event]) -> BTreeSet<rsvp_domain::EventId> {
    events.iter().map(|e| e.id).collect()
}

/// `rows` newest first: `created_at`, then `id`, descending.
fn newest_first<T, K: Ord>(mut rows: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    rows.sort_by_key(|row| std::cmp::Reverse(key(row)));
    rows
}

/// The tenants `Partner 0`, `Partner 1`, ... stored at `at(0)`.
async fn partners(store: &dyn rsvp_app::Store, prefix: &str, count: usize) -> Vec<Tenant> {
    let mut tenants = Vec::new();
    for n in 0..count {
        tenants.push(
            Tenant::create(
                store,
                &format!("{prefix} {n}"),
                &format!("{}{n}@{}{n}.test", prefix.to_lowercase(), prefix.to_lowercase()),
                at(0),
            )
            .await,
        );
    }
    tenants
}

/// A link reads back exactly as written (roles, custom data, note, limits,
/// times), by id and by the hash of its token, whatever its status; an
/// unknown id or hash reads as nothing.
pub async fn a_join_link_reads_back_exactly_as_written_by_id_and_by_token_hash(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let (full, full_hash) = insert_join_link(store, join_link_with(&acme, full_join_link_request(), at(1))).await;
    let (plain, plain_hash) = stored_join_link(store, &acme, None, false, at(2)).await;
    assert_eq!(full.max_uses, Some(25));
    assert!(full.requires_approval && full.note.is_some() && !full.roles.is_empty());
    assert_eq!(full.expires_at, at(1) + Duration::days(90));

    for (link, hash) in [(&full, &full_hash), (&plain, &plain_hash)] {
        assert_eq!(
            store.join_links().get_join_link(link.id).await.expect("get_join_link"),
            Some(link.clone())
        );
        assert_eq!(
            store
                .join_links()
                .find_join_link_by_token(hash)
                .await
                .expect("find_join_link_by_token"),
            Some(link.clone()),
            "each hash finds its own link"
        );
    }
    assert_eq!(
        store
            .join_links()
            .get_join_link(JoinLinkId::from_uuid(new_uuid()))
            .await
            .expect("get_join_link"),
        None
    );
    assert_eq!(
        store
            .join_links()
            .find_join_link_by_token(&unknown_hash())
            .await
            .expect("find_join_link_by_token"),
        None
    );

    let revoked = store
        .join_links()
        .revoke_join_link(acme.id(), plain.id, at(3))
        .await
        .expect("revoke_join_link");
    assert_eq!(
        store
            .join_links()
            .find_join_link_by_token(&plain_hash)
            .await
            .expect("find_join_link_by_token"),
        Some(revoked),
        "a revoked link is still found by its token"
    );
}

/// `list_join_links` returns the links of the business only, newest first
/// (`created_at`, then `id`, descending; revoked ones too), keyset paged:
/// every page size reads the same rows once each and `after` continues
/// after the cursor of the last row seen.
pub async fn join_links_are_listed_newest_first_paged_and_only_their_business(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let stranger = Tenant::create(store, "Stranger", "sam@stranger.test", at(0)).await;

    // Written out of order, with a tie at 30.
    let mut links: Vec<JoinLink> = Vec::new();
    for seconds in [10, 30, 20, 30, 5] {
        links.push(stored_join_link(store, &acme, Some(3), false, at(seconds)).await.0);
    }
    let (theirs, _) = stored_join_link(store, &globex, None, true, at(25)).await;
    links[2] = store
        .join_links()
        .revoke_join_link(acme.id(), links[2].id, at(40))
        .await
        .expect("revoke_join_link");
    let expected = newest_first(links, |l| (l.created_at, l.id));

    for size in [1, 2, 3, 4, 5, 50] {
        assert_eq!(
            all_join_links(store, acme.id(), size).await,
            expected,
            "pages of {size}"
        );
        assert_eq!(
            all_join_links(store, globex.id(), size).await,
            std::slice::from_ref(&theirs)
        );
        assert!(all_join_links(store, stranger.id(), size).await.is_empty());
    }
    let cursor = |link: &JoinLink| Cursor {
        created_at: link.created_at,
        id: link.id.as_uuid(),
    };
    let first = store
        .join_links()
        .list_join_links(
            acme.id(),
            &PageRequest {
                limit: limit(2),
                after: None,
            },
        )
        .await
        .expect("list_join_links");
    assert_eq!(first.items, expected[..2]);
    assert_eq!(first.next, Some(cursor(&expected[1])));
    let rest = store
        .join_links()
        .list_join_links(
            acme.id(),
            &PageRequest {
                limit: limit(3),
                after: Some(cursor(&expected[1])),
            },
        )
        .await
        .expect("list_join_links");
    assert_eq!(rest.items, expected[2..]);
    assert_eq!(rest.next, None, "the last page has no next");
}

/// `revoke_join_link` sets `revoked_at` once: revoking again later returns
/// the link with its first revocation time. Another business's revoke (and
/// an unknown id) is `NotFound` and changes nothing.
pub async fn revoking_a_join_link_keeps_its_first_revocation_time_and_another_business_gets_not_found(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let (link, _) = stored_join_link(store, &acme, Some(5), false, at(1)).await;
    let (other, _) = stored_join_link(store, &acme, None, true, at(2)).await;

    assert_eq!(
        store.join_links().revoke_join_link(globex.id(), link.id, at(5)).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        join_link_now(store, link.id).await,
        link,
        "another business's revoke changes nothing"
    );
    assert_eq!(
        store
            .join_links()
            .revoke_join_link(acme.id(), JoinLinkId::from_uuid(new_uuid()), at(5))
            .await,
        Err(StoreError::NotFound)
    );

    let first = store
        .join_links()
        .revoke_join_link(acme.id(), link.id, at(10))
        .await
        .expect("revoke_join_link");
    assert_eq!(
        first,
        JoinLink {
            revoked_at: Some(at(10)),
            ..link.clone()
        }
    );
    let again = store
        .join_links()
        .revoke_join_link(acme.id(), link.id, at(20))
        .await
        .expect("revoking a revoked link");
    assert_eq!(again, first, "the first revocation time stays");
    assert_eq!(join_link_now(store, link.id).await, first);
    assert_eq!(
        store.join_links().revoke_join_link(globex.id(), link.id, at(30)).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        join_link_now(store, other.id).await,
        other,
        "only the link named is revoked"
    );
}

/// A redemption of a link that needs no approval connects the link's
/// business (inviter) with the redeemer (invitee) through the link, takes
/// one use, and writes `join_link.redeemed` then `connection.created`,
/// visible to both businesses (and queued to both their webhooks), to no
/// one else.
pub async fn redeeming_connects_the_two_businesses_takes_one_use_and_writes_both_events(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let initech = Tenant::create(store, "Initech", "peter@initech.test", at(0)).await;
    let stranger = Tenant::create(store, "Stranger", "sam@stranger.test", at(0)).await;
    let acme_hook = registered(store, endpoint(acme.id(), None, at(0))).await;
    let globex_hook = registered(store, endpoint(globex.id(), None, at(0))).await;
    let stranger_hook = registered(store, endpoint(stranger.id(), None, at(0))).await;
    let mut request = full_join_link_request();
    request.requires_approval = false;
    request.max_uses = Some(3);
    let (link, hash) = insert_join_link(store, join_link_with(&acme, request, at(1))).await;

    let record = redeem_record(&hash, &globex, at(10));
    let redemption = store
        .join_links()
        .redeem_join_link(&record)
        .await
        .expect("redeem_join_link");
    let after = JoinLink {
        uses: 1,
        ..link.clone()
    };
    let connection = Connection {
        id: record.connection_id,
        inviter_business_id: acme.id(),
        invitee_business_id: globex.id(),
        invitation_id: None,
        join_link_id: Some(link.id),
        roles: link.roles.clone(),
        source_is_invitee: false,
        created_at: at(10),
    };
    assert_eq!(
        redemption,
        Redemption::Connected {
            link: after.clone(),
            connection: connection.clone(),
        }
    );
    assert_eq!(join_link_now(store, link.id).await, after, "one use taken");
    assert_eq!(
        all_connections(store, acme.id(), 50).await,
        std::slice::from_ref(&connection)
    );
    assert_eq!(
        all_connections(store, globex.id(), 50).await,
        std::slice::from_ref(&connection)
    );
    assert!(connected(store, globex.id(), acme.id()).await);

    let events = all_events(store, acme.id()).await;
    assert_eq!(events, redemption_events(&link, &record));
    assert_eq!(
        kinds(&events),
        [EventKind::JoinLinkRedeemed, EventKind::ConnectionCreated]
    );
    for event in &events {
        assert_eq!(event.invitation_id, None);
        assert_eq!(event.join_link_id, Some(link.id));
        assert_eq!(
            (event.business_id, event.invitee_business_id),
            (acme.id(), Some(globex.id()))
        );
        assert_eq!(event.data.connection_id, Some(record.connection_id));
        assert_eq!(event.occurred_at, at(10));
    }
    assert_eq!(all_events(store, globex.id()).await, events, "the redeemer sees both");
    assert!(all_events(store, stranger.id()).await.is_empty());
    assert!(all_events(store, initech.id()).await.is_empty());
    for hook in [&acme_hook, &globex_hook] {
        let queued: BTreeSet<_> = deliveries(store, hook.id).await.iter().map(|d| d.event_id).collect();
        assert_eq!(queued, event_ids(&events), "each event is queued to both businesses");
    }
    assert!(deliveries(store, stranger_hook.id).await.is_empty());

    let second = redeem_record(&hash, &initech, at(20));
    let redemption = store
        .join_links()
        .redeem_join_link(&second)
        .await
        .expect("a second business redeems");
    assert_eq!(
        redemption,
        Redemption::Connected {
            link: JoinLink {
                uses: 2,
                ..link.clone()
            },
            connection: joined(&link, &second),
        }
    );
    assert_eq!(join_link_now(store, link.id).await.uses, 2);
    assert_eq!(all_connections(store, acme.id(), 50).await.len(), 2);
    assert_eq!(all_events(store, initech.id()).await, redemption_events(&link, &second));
}

/// `redeem_join_link` refuses, writing nothing (no use, connection,
/// request, event or delivery): the link's own business (`SelfJoin`, before
/// anything else), a business connected already (either way, through an
/// invitation or a link), a used up, expired (at `expires_at` exactly) or
/// revoked link (revoked before expired before used up); an unknown token
/// is `NotFound`. A second before `expires_at` the link still works.
pub async fn a_redemption_is_refused_for_the_links_own_business_when_connected_used_up_expired_or_revoked_and_writes_nothing(
    h: Harness,
) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let initech = Tenant::create(store, "Initech", "peter@initech.test", at(0)).await;
    let hooli = Tenant::create(store, "Hooli", "gavin@hooli.test", at(0)).await;
    registered(store, endpoint(acme.id(), None, at(0))).await;
    registered(store, endpoint(hooli.id(), None, at(0))).await;

    // Globex invited Acme, who accepted: connected the other way round.
    let invited = insert(store, invite(&globex, "ann@acme.test", at(1))).await;
    store
        .invitations()
        .apply_transition(&accept(invited.invitation(), acme.id(), at(2)))
        .await
        .expect("accept");
    let (open, open_hash) = stored_join_link(store, &acme, None, false, at(3)).await;
    let (one_use, one_use_hash) = stored_join_link(store, &acme, Some(1), false, at(3)).await;
    store
        .join_links()
        .redeem_join_link(&redeem_record(&one_use_hash, &initech, at(4)))
        .await
        .expect("the only use");
    let mut short_request = join_link_request(None, false);
    short_request.expires_in = rsvp_domain::ExpiryDays::new(1).expect("1 day");
    let (short, short_hash) = insert_join_link(store, join_link_with(&acme, short_request, at(3))).await;
    let (revoked, revoked_hash) = stored_join_link(store, &acme, Some(5), false, at(3)).await;
    store
        .join_links()
        .revoke_join_link(acme.id(), revoked.id, at(5))
        .await
        .expect("revoke_join_link");

    let refused = |refusal| Err(StoreError::JoinRefused(refusal));
    let attempts = [
        (
            "own link",
            redeem_record(&open_hash, &acme, at(10)),
            refused(JoinRefusal::SelfJoin),
        ),
        (
            "own revoked link",
            redeem_record(&revoked_hash, &acme, at(10)),
            refused(JoinRefusal::SelfJoin),
        ),
        (
            "connected by an invitation the other way",
            redeem_record(&open_hash, &globex, at(10)),
            refused(JoinRefusal::AlreadyConnected),
        ),
        (
            "connected by another link",
            redeem_record(&open_hash, &initech, at(10)),
            refused(JoinRefusal::AlreadyConnected),
        ),
        (
            "used up",
            redeem_record(&one_use_hash, &hooli, at(10)),
            refused(JoinRefusal::UsedUp),
        ),
        (
            "used up and expired",
            redeem_record(&one_use_hash, &hooli, one_use.expires_at),
            refused(JoinRefusal::Expired),
        ),
        (
            "at expires_at",
            redeem_record(&short_hash, &hooli, short.expires_at),
            refused(JoinRefusal::Expired),
        ),
        (
            "after expires_at",
            redeem_record(&short_hash, &hooli, short.expires_at + Duration::hours(1)),
            refused(JoinRefusal::Expired),
        ),
        (
            "revoked",
            redeem_record(&revoked_hash, &hooli, at(10)),
            refused(JoinRefusal::Revoked),
        ),
        (
            "revoked and expired",
            redeem_record(&revoked_hash, &hooli, revoked.expires_at),
            refused(JoinRefusal::Revoked),
        ),
        (
            "unknown token",
            redeem_record(&unknown_hash(), &hooli, at(10)),
            Err(StoreError::NotFound),
        ),
    ];
    let links = [open.id, one_use.id, short.id, revoked.id];
    let businesses = [acme.id(), globex.id(), initech.id(), hooli.id()];
    let before = JoinSnapshot::take(store, &links, &businesses).await;
    assert_eq!(before.links[1].as_ref().map(|l| l.uses), Some(1));
    for (what, record, expected) in attempts {
        assert_eq!(store.join_links().redeem_join_link(&record).await, expected, "{what}");
        assert_eq!(
            JoinSnapshot::take(store, &links, &businesses).await,
            before,
            "{what}: a refusal wrote something"
        );
    }

    let in_time = redeem_record(&short_hash, &hooli, short.expires_at - Duration::SECOND);
    assert!(
        matches!(
            store.join_links().redeem_join_link(&in_time).await,
            Ok(Redemption::Connected { .. })
        ),
        "a second before expires_at the link works"
    );
}

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
    assert_eq!(
        store
            .join_links()
            .get_connection_request(request.id)
            .await
            .expect("get_connection_request"),
        Some(request.clone())
    );
    assert_eq!(
        store
            .join_links()
            .get_connection_request(ConnectionRequestId::from_uuid(new_uuid()))
            .await
            .expect("get_connection_request"),
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
    assert_eq!(
        store
            .join_links()
            .get_connection_request(approved.id)
            .await
            .expect("get_connection_request"),
        Some(approved.clone())
    );
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
        assert_eq!(
            store
                .join_links()
                .get_connection_request(request.id)
                .await
                .expect("get_connection_request"),
            Some(answered.clone())
        );
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
