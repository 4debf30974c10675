//! Join links (`JoinLinkStore`): links stored, read back, listed and
//! revoked; redemptions that connect two businesses at once, or make a
//! request the link's business approves or declines, each taking one use,
//! exact under concurrency; and refusals that write nothing.

use std::collections::BTreeSet;

use rsvp_app::{Cursor, PageRequest, Redemption, StoreError};
use rsvp_domain::{Connection, Event, EventKind, JoinLink, JoinLinkId, JoinRefusal};
use time::Duration;

use super::webhooks::{deliveries, endpoint, registered};
use crate::Harness;
use crate::fixtures::{
    JoinSnapshot, Tenant, accept, all_connections, all_events, all_join_links, at, connected, full_join_link_request,
    insert, insert_join_link, invite, join_link_now, join_link_request, join_link_with, joined, kinds, limit, new_uuid,
    redeem_record, redemption_events, stored_join_link, unknown_hash,
};

/// The ids of `events`, as a set.
pub(super) fn event_ids(events: &[Event]) -> BTreeSet<rsvp_domain::EventId> {
    events.iter().map(|e| e.id).collect()
}

/// `rows` newest first: `created_at`, then `id`, descending.
pub(super) fn newest_first<T, K: Ord>(mut rows: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    rows.sort_by_key(|row| std::cmp::Reverse(key(row)));
    rows
}

/// The tenants `Partner 0`, `Partner 1`, ... stored at `at(0)`.
pub(super) async fn partners(store: &dyn rsvp_app::Store, prefix: &str, count: usize) -> Vec<Tenant> {
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
/// invitation or a link; also when the link can no longer be used, so that
/// a business redeeming twice is always told it is connected), a used up,
/// expired (at `expires_at` exactly) or revoked link (revoked before
/// expired before used up); an unknown token is `NotFound`. A second before `expires_at` the link still works.
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
            "the business that took the only use, again",
            redeem_record(&one_use_hash, &initech, at(10)),
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
