//! Reading lists: `list_sent` and `list_received`, newest first, keyset
//! paged, filtered by status (as read at `query.now`) and by email.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rsvp_app::{Cursor, InvitationFilter, InvitationQuery};
use rsvp_domain::{Invitation, InvitationId, InvitationStatus};
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::Harness;
use crate::fixtures::{
    List, Member, Tenant, accept, all_invitations, all_received, all_sent, at, cancel, email, expire, ids, insert,
    invite, invited, limit, newest_first, query, query_statuses, reject,
};

/// Newest first (`created_at`, then `id`, descending, ties included), every
/// page size reading the same rows once each, the cursor being the last
/// row's `(created_at, id)`.
pub async fn sent_invitations_are_listed_newest_first_and_paged_without_skips_or_repeats(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let times = [0, 10, 10, 10, 20, 30, 30];
    let built: Vec<_> = times
        .iter()
        .enumerate()
        .map(|(n, t)| invite(&acme, &format!("partner{n}@globex.test"), at(*t)))
        .collect();
    // Written in an order that is neither time nor id order.
    for n in [3, 0, 6, 1, 5, 2, 4] {
        insert(store, built[n].clone()).await;
    }
    let expected = newest_first(built.iter().map(|i| i.invitation().clone()).collect());

    assert_eq!(all_sent(store, acme.id(), query(at(100))).await, expected);
    for size in [1, 2, 3, 6, 7] {
        let q = InvitationQuery {
            limit: limit(size),
            ..query(at(100))
        };
        assert_eq!(
            ids(&all_sent(store, acme.id(), q.clone()).await),
            ids(&expected),
            "pages of {size}"
        );
        let first = store.invitations().list_sent(acme.id(), &q).await.expect("list_sent");
        let last = first.items.last().expect("a first page");
        let cursor = Cursor {
            created_at: last.created_at(),
            id: last.id().as_uuid(),
        };
        let more = usize::try_from(size).is_ok_and(|s| s < expected.len());
        assert_eq!(first.next, more.then_some(cursor), "the cursor of a page of {size}");
    }
}

/// "A page never repeats or skips a row, whatever is inserted meanwhile":
/// one task pages through while another inserts rows newer than every row
/// and rows between existing ones. Every row that existed before paging
/// started is read exactly once, and the rows read keep strictly decreasing.
pub async fn paging_neither_skips_nor_repeats_rows_while_another_task_inserts(h: Harness) {
    const BEFORE: i64 = 30;
    const DURING: i64 = 40;
    let acme = Tenant::create(h.store.as_ref(), "Acme", "ann@acme.test", at(0)).await;
    let mut existing = BTreeSet::new();
    for n in 0..BEFORE {
        let invite = invited(h.store.as_ref(), &acme, &format!("before{n}@globex.test"), at(n * 10)).await;
        existing.insert(invite.id());
    }

    let (inserted_tx, mut inserted_rx) = mpsc::unbounded_channel();
    let inserter = {
        let store = Arc::clone(&h.store);
        let acme = acme.clone();
        tokio::spawn(async move {
            for n in 0..DURING {
                // Alternately newer than everything, and in between existing rows.
                let created_at = if n % 2 == 0 { at(10_000 + n) } else { at(n * 7 + 3) };
                let invite = invited(store.as_ref(), &acme, &format!("during{n}@globex.test"), created_at).await;
                if inserted_tx.send(invite.id()).is_err() {
                    break;
                }
            }
        })
    };

    let mut q = InvitationQuery {
        limit: limit(4),
        ..query(at(20_000))
    };
    let mut read: Vec<Invitation> = Vec::new();
    loop {
        let page = h.store.invitations().list_sent(acme.id(), &q).await.expect("list_sent");
        read.extend(page.items);
        let Some(next) = page.next else { break };
        q.after = Some(next);
        // Let at least one more insert land before the next page (none once the inserter is done).
        let _ = inserted_rx.recv().await;
    }
    inserter.await.expect("the inserting task panicked");

    let mut times_read: BTreeMap<InvitationId, usize> = BTreeMap::new();
    for invitation in &read {
        *times_read.entry(invitation.id()).or_default() += 1;
        assert_eq!(invitation.business_id(), acme.id());
    }
    for (id, count) in &times_read {
        assert_eq!(*count, 1, "{id} was read {count} times");
    }
    for id in &existing {
        assert!(
            times_read.contains_key(id),
            "{id}, there before paging began, was skipped"
        );
    }
    for pair in read.windows(2) {
        assert!(
            (pair[0].created_at(), pair[0].id()) > (pair[1].created_at(), pair[1].id()),
            "rows must keep strictly decreasing across pages: {} then {}",
            pair[0].id(),
            pair[1].id()
        );
    }
}

/// Status filters read the status at `query.now`: a stored-pending invitation
/// past its expiry matches `expired`, not `pending`; several statuses match
/// any of them; the filter holds across pages. Received lists filter alike.
pub async fn status_filters_read_the_status_at_the_query_time(h: Harness) {
    use InvitationStatus::{Accepted, Cancelled, Expired, Pending, Rejected};
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "boss@globex.test", at(0)).await;
    let names = ["pending", "lazy", "accepted", "rejected", "cancelled", "expired"];
    let mut by_name = BTreeMap::new();
    for (n, name) in names.iter().enumerate() {
        let address = format!("{name}@globex.test");
        Member::add(store, globex.id(), &address, at(0)).await;
        let mut built = invite(&acme, &address, at(n as i64));
        if *name == "lazy" {
            built = built.expiring_at(at(500));
        }
        if *name == "expired" {
            built = built.expiring_at(at(100));
        }
        let stored = insert(store, built).await;
        let record = match *name {
            "accepted" => Some(accept(stored.invitation(), globex.id(), at(10))),
            "rejected" => Some(reject(stored.invitation(), at(10))),
            "cancelled" => Some(cancel(stored.invitation(), at(10))),
            "expired" => Some(expire(stored.invitation(), at(100))),
            _ => None,
        };
        if let Some(record) = record {
            store
                .invitations()
                .apply_transition(&record)
                .await
                .expect("apply_transition");
        }
        by_name.insert(*name, stored.invitation().clone());
    }
    let pick = |wanted: &[&str]| -> Vec<InvitationId> {
        ids(&newest_first(wanted.iter().map(|n| by_name[n].clone()).collect()))
    };

    let cases: [(OffsetDateTime, &[InvitationStatus], &[&str]); 8] = [
        (at(1000), &[Pending], &["pending"]),
        (at(1000), &[Expired], &["lazy", "expired"]),
        (at(1000), &[Pending, Accepted], &["pending", "accepted"]),
        (at(1000), &[Rejected], &["rejected"]),
        (at(1000), &[Cancelled], &["cancelled"]),
        (at(1000), &[], &names),
        (at(400), &[Pending], &["pending", "lazy"]),
        (at(400), &[Expired], &["expired"]),
    ];
    for (now, statuses, wanted) in cases {
        for size in [1, 50] {
            let q = query_statuses(now, statuses, size);
            let sent = all_sent(store, acme.id(), q.clone()).await;
            assert_eq!(ids(&sent), pick(wanted), "sent, {statuses:?} at {now}, pages of {size}");
            let received_wanted: Vec<&str> = wanted.iter().copied().filter(|n| *n != "cancelled").collect();
            let received = all_received(store, globex.id(), q).await;
            assert_eq!(
                ids(&received),
                pick(&received_wanted),
                "received, {statuses:?} at {now}, pages of {size}"
            );
        }
    }
}

/// The email filter compares normalized emails, alone or with a status filter.
pub async fn the_email_filter_matches_whatever_the_case(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let initech = Tenant::create(store, "Initech", "peter@initech.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    Member::add(store, globex.id(), "carol@globex.test", at(0)).await;
    let acme_bob = invited(store, &acme, "Bob@Globex.test", at(0)).await;
    let _acme_carol = invited(store, &acme, "carol@globex.test", at(1)).await;
    let initech_bob = invited(store, &initech, "bob@globex.test", at(2)).await;

    let by_email = |address: &str, statuses: Vec<InvitationStatus>| InvitationQuery {
        filter: InvitationFilter {
            statuses,
            email: Some(email(address)),
        },
        limit: limit(1),
        ..query(at(10))
    };
    let sent = all_sent(store, acme.id(), by_email("BOB@globex.TEST", vec![])).await;
    assert_eq!(ids(&sent), [acme_bob.id()]);
    let received = all_received(store, globex.id(), by_email("bob@GLOBEX.test", vec![])).await;
    assert_eq!(ids(&received), [initech_bob.id(), acme_bob.id()]);
    let pending = all_received(
        store,
        globex.id(),
        by_email("bob@globex.test", vec![InvitationStatus::Pending]),
    )
    .await;
    assert_eq!(ids(&pending), [initech_bob.id(), acme_bob.id()]);
    let accepted = all_sent(
        store,
        acme.id(),
        by_email("bob@globex.test", vec![InvitationStatus::Accepted]),
    )
    .await;
    assert!(accepted.is_empty());
    let nobody = all_sent(store, acme.id(), by_email("nobody@globex.test", vec![])).await;
    assert!(nobody.is_empty());
    let nobody = all_received(store, globex.id(), by_email("nobody@globex.test", vec![])).await;
    assert!(nobody.is_empty());
}

/// `list_sent` shows the invitations `business` sent, never another's, even
/// to the same email.
pub async fn the_sent_list_never_shows_another_business_invitations(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let initech = Tenant::create(store, "Initech", "peter@initech.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let mut from_acme = Vec::new();
    let mut from_initech = Vec::new();
    for n in 0..3 {
        from_acme.push(invited(store, &acme, &format!("p{n}@partner.test"), at(n * 2)).await);
        from_initech.push(invited(store, &initech, &format!("p{n}@partner.test"), at(n * 2 + 1)).await);
    }
    let expected = |invites: &[crate::fixtures::Invite]| {
        ids(&newest_first(invites.iter().map(|i| i.invitation().clone()).collect()))
    };
    for size in [1, 50] {
        let q = InvitationQuery {
            limit: limit(size),
            ..query(at(100))
        };
        assert_eq!(ids(&all_sent(store, acme.id(), q.clone()).await), expected(&from_acme));
        assert_eq!(
            ids(&all_sent(store, initech.id(), q.clone()).await),
            expected(&from_initech)
        );
        assert!(all_sent(store, globex.id(), q).await.is_empty());
    }
}

/// `list_received` matches the normalized email of any user of the business
/// (added before or after the invitation), from any sender.
pub async fn the_received_list_matches_the_emails_of_every_user_of_the_business_in_any_case(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let initech = Tenant::create(store, "Initech", "peter@initech.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    Member::add(store, globex.id(), "Carol@Globex.test", at(0)).await;

    let to_bob = invited(store, &acme, "BOB@globex.test", at(1)).await;
    let to_carol = invited(store, &initech, "carol@GLOBEX.test", at(2)).await;
    let to_dave = invited(store, &acme, "dave@globex.test", at(3)).await;
    let _elsewhere = invited(store, &acme, "erin@elsewhere.test", at(4)).await;

    for size in [1, 50] {
        let q = InvitationQuery {
            limit: limit(size),
            ..query(at(10))
        };
        let received = all_received(store, globex.id(), q).await;
        assert_eq!(
            received,
            [to_carol.invitation().clone(), to_bob.invitation().clone()],
            "pages of {size}"
        );
    }

    Member::add(store, globex.id(), "Dave@globex.test", at(5)).await;
    let received = all_received(store, globex.id(), query(at(10))).await;
    assert_eq!(
        ids(&received),
        [to_dave.id(), to_carol.id(), to_bob.id()],
        "an invitation to a user added later is received"
    );
    assert!(
        all_invitations(store, List::Received, initech.id(), query(at(10)))
            .await
            .is_empty()
    );
}

/// `list_received` leaves out invitations whose stored status is `cancelled`,
/// and only those.
pub async fn the_received_list_leaves_out_cancelled_invitations(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    for address in ["carol@globex.test", "dave@globex.test", "erin@globex.test"] {
        Member::add(store, globex.id(), address, at(0)).await;
    }
    let pending = invited(store, &acme, "bob@globex.test", at(0)).await;
    let cancelled = invited(store, &acme, "carol@globex.test", at(1)).await;
    let rejected = invited(store, &acme, "dave@globex.test", at(2)).await;
    let accepted = invited(store, &acme, "erin@globex.test", at(3)).await;
    for record in [
        cancel(cancelled.invitation(), at(10)),
        reject(rejected.invitation(), at(10)),
        accept(accepted.invitation(), globex.id(), at(10)),
    ] {
        store
            .invitations()
            .apply_transition(&record)
            .await
            .expect("apply_transition");
    }

    let received = all_received(store, globex.id(), query(at(20))).await;
    assert_eq!(ids(&received), [accepted.id(), rejected.id(), pending.id()]);
    let only_cancelled = all_received(
        store,
        globex.id(),
        query_statuses(at(20), &[InvitationStatus::Cancelled], 50),
    )
    .await;
    assert!(only_cancelled.is_empty());
    let sent = all_sent(store, acme.id(), query(at(20))).await;
    assert_eq!(sent.len(), 4, "the sender still lists its cancelled invitation");
}

/// `list_received` never shows an invitation addressed to an email that is
/// not one of the business's users: not another tenant's, not one the
/// business sent itself, not an unknown address.
pub async fn the_received_list_never_shows_invitations_addressed_to_another_business(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let initech = Tenant::create(store, "Initech", "peter@initech.test", at(0)).await;
    let acme_to_peter = invited(store, &acme, "peter@initech.test", at(1)).await;
    let globex_to_peter = invited(store, &globex, "Peter@Initech.test", at(2)).await;
    let _acme_to_unknown = invited(store, &acme, "x@unknown.test", at(3)).await;
    let initech_to_bob = invited(store, &initech, "bob@globex.test", at(4)).await;

    let received = all_received(store, globex.id(), query(at(10))).await;
    assert_eq!(ids(&received), [initech_to_bob.id()]);
    let received = all_received(store, initech.id(), query(at(10))).await;
    assert_eq!(ids(&received), [globex_to_peter.id(), acme_to_peter.id()]);
    assert!(all_received(store, acme.id(), query(at(10))).await.is_empty());
}
