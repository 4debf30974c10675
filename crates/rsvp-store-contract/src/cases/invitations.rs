//! Writing invitations: `create_invitation`, `insert_invitations`,
//! `get_invitation`, `find_pending_for_emails`.

use std::collections::BTreeSet;
use std::sync::Arc;

use rsvp_app::{CreateOutcome, StoreError};
use rsvp_domain::{InvitationId, InvitationStatus, Suppression, SuppressionId, SuppressionReason};
use time::Duration;
use tokio::sync::Barrier;

use crate::Harness;
use crate::fixtures::pending_invitation;
use crate::fixtures::{
    Invite, LEASE, Tenant, accept, all_events, all_sent, at, cancel, claimed, create, email, expire, full_request, ids,
    insert, invite, invite_with, invited, job_ids, new_uuid, query, reject,
};

/// Every field of an invitation, its link, its event and its email job read
/// back as written; the email keeps its spelling.
pub async fn an_invitation_reads_back_exactly_as_written(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let written = invite_with(&acme, full_request("Bob@Globex.TEST"), at(10)).to_member_of(globex.id());
    create(store, &written.record).await.expect("create_invitation");

    let read = store
        .invitations()
        .get_invitation(written.id())
        .await
        .expect("get_invitation")
        .expect("the invitation is stored");
    assert_eq!(&read, written.invitation());
    assert_eq!(read.email().as_str(), "Bob@Globex.TEST", "the email keeps its spelling");
    assert_eq!(read.custom_data(), written.invitation().custom_data());
    assert_eq!(read.roles().to_strings(), ["supplier", "orders:read"]);

    let pending = pending_invitation(store, acme.id(), &email("bob@globex.test")).await;
    assert_eq!(pending.as_ref(), Some(written.invitation()));
    let by_link = store
        .invitations()
        .find_invitation_by_link(&written.link_hash())
        .await
        .expect("find_invitation_by_link");
    assert_eq!(by_link.as_ref(), Some(written.invitation()));
    assert_eq!(
        all_events(store, acme.id()).await,
        std::slice::from_ref(&written.record.event)
    );
    let jobs = store
        .outbox()
        .claim_email_jobs(at(10), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(jobs, [claimed(written.job(), at(10), LEASE)]);

    let unknown = store
        .invitations()
        .get_invitation(InvitationId::from_uuid(new_uuid()))
        .await
        .expect("get_invitation");
    assert_eq!(unknown, None);
    let elsewhere = pending_invitation(store, globex.id(), &email("bob@globex.test")).await;
    assert_eq!(elsewhere, None, "pending invitations are per sending business");
}

/// `create_invitation` MUST return `AlreadyInvited`, writing nothing, when a
/// pending invitation from the same business to the same normalized email
/// exists.
pub async fn a_second_pending_invitation_to_the_same_email_in_any_case_is_refused_and_writes_nothing(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let first = invited(store, &acme, "bob@globex.test", at(0)).await;
    let events_before = all_events(store, acme.id()).await;

    for (n, address) in ["bob@globex.test", "BOB@Globex.Test", " Bob@GLOBEX.test"]
        .into_iter()
        .enumerate()
    {
        let second = invite(&acme, address, at(5));
        let result = create(store, &second.record).await;
        assert_eq!(result, Err(StoreError::AlreadyInvited), "inviting {address:?}");
        assert_eq!(
            store
                .invitations()
                .get_invitation(second.id())
                .await
                .expect("get_invitation"),
            None
        );
        let link = store
            .invitations()
            .find_invitation_by_link(&second.link_hash())
            .await
            .expect("find_invitation_by_link");
        assert_eq!(
            link, None,
            "attempt {n}: the refused invitation's link must not be stored"
        );
    }

    assert_eq!(all_events(store, acme.id()).await, events_before);
    let pending = pending_invitation(store, acme.id(), &email("BOB@GLOBEX.TEST")).await;
    assert_eq!(pending.as_ref(), Some(first.invitation()));
    let jobs = store
        .outbox()
        .claim_email_jobs(at(100), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(
        job_ids(&jobs),
        [first.job().id],
        "only the first invitation's email is queued"
    );
    assert_eq!(all_sent(store, acme.id(), query(at(100))).await.len(), 1);
}

/// "the stored status `pending`" is what blocks: an invitation past its
/// expiry that no sweep has persisted yet still does, until it is expired.
pub async fn an_invitation_stored_as_pending_past_its_expiry_still_blocks_a_new_one(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let first = insert(store, invite(&acme, "bob@globex.test", at(0)).expiring_at(at(60))).await;

    let second = invite(&acme, "bob@globex.test", at(120));
    assert_eq!(create(store, &second.record).await, Err(StoreError::AlreadyInvited));
    let pending = pending_invitation(store, acme.id(), &email("bob@globex.test")).await;
    assert_eq!(
        pending.as_ref(),
        Some(first.invitation()),
        "a stored-pending invitation past its expiry is found"
    );

    store
        .invitations()
        .apply_transition(&expire(first.invitation(), at(120)))
        .await
        .expect("expire the first invitation");
    create(store, &second.record)
        .await
        .expect("once expired, the email may be invited again");
    let pending = pending_invitation(store, acme.id(), &email("bob@globex.test")).await;
    assert_eq!(pending.as_ref(), Some(second.invitation()));
}

/// After accepted, rejected, cancelled or expired, the same business may
/// invite the same email again.
pub async fn after_each_terminal_status_the_same_email_may_be_invited_again(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;

    for status in [
        InvitationStatus::Accepted,
        InvitationStatus::Rejected,
        InvitationStatus::Cancelled,
        InvitationStatus::Expired,
    ] {
        let address = format!("{status}@partner.test");
        let first = insert(store, invite(&acme, &address, at(0)).expiring_at(at(1000))).await;
        let record = match status {
            InvitationStatus::Accepted => accept(first.invitation(), globex.id(), at(10)),
            InvitationStatus::Rejected => reject(first.invitation(), at(10)),
            InvitationStatus::Cancelled => cancel(first.invitation(), at(10)),
            _ => expire(first.invitation(), at(1000)),
        };
        store
            .invitations()
            .apply_transition(&record)
            .await
            .expect("apply_transition");
        let none = pending_invitation(store, acme.id(), &email(&address)).await;
        assert_eq!(none, None, "after {status} nothing is pending");

        let again = invite(&acme, &address.to_uppercase(), at(1001));
        create(store, &again.record)
            .await
            .unwrap_or_else(|e| panic!("inviting again after {status}: {e}"));
        let pending = pending_invitation(store, acme.id(), &email(&address)).await;
        assert_eq!(pending.as_ref(), Some(again.invitation()), "after {status}");
        let first_now = store
            .invitations()
            .get_invitation(first.id())
            .await
            .expect("get_invitation");
        assert_eq!(
            first_now.map(|i| i.status()),
            Some(status),
            "the old one stays {status}"
        );
    }
}

/// The one-pending rule is per sending business: another business may invite
/// the same email at the same time.
pub async fn another_business_may_invite_the_same_email(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let initech = Tenant::create(store, "Initech", "peter@initech.test", at(0)).await;

    let from_acme = invited(store, &acme, "bob@globex.test", at(0)).await;
    let from_initech = invite(&initech, "BOB@globex.test", at(1));
    create(store, &from_initech.record)
        .await
        .expect("another business may invite the same email");

    for (business, expected) in [(acme.id(), &from_acme), (initech.id(), &from_initech)] {
        let pending = pending_invitation(store, business, &email("bob@globex.test")).await;
        assert_eq!(pending.as_ref(), Some(expected.invitation()));
    }
}

/// `insert_invitations`: one result per item in order; an item refused with
/// `AlreadyInvited` writes nothing and does not stop the others.
pub async fn bulk_insert_items_are_independent_and_a_refused_one_writes_nothing(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let existing = invited(store, &acme, "taken@partner.test", at(0)).await;

    let batch = [
        invite(&acme, "one@partner.test", at(10)),
        invite(&acme, "TAKEN@partner.test", at(10)),
        invite(&acme, "two@partner.test", at(10)),
        invite(&acme, "three@partner.test", at(10)).without_email(),
    ];
    let records: Vec<_> = batch.iter().map(|i| i.record.clone()).collect();
    let results = store
        .invitations()
        .insert_invitations(&records, None)
        .await
        .expect("insert_invitations");
    assert_eq!(results, [Ok(()), Err(StoreError::AlreadyInvited), Ok(()), Ok(())]);

    for (index, item) in batch.iter().enumerate() {
        let stored = store
            .invitations()
            .get_invitation(item.id())
            .await
            .expect("get_invitation");
        let link = store
            .invitations()
            .find_invitation_by_link(&item.link_hash())
            .await
            .expect("find_invitation_by_link");
        if index == 1 {
            assert_eq!(stored, None, "the refused item must not be stored");
            assert_eq!(link, None, "the refused item's link must not be stored");
        } else {
            assert_eq!(stored.as_ref(), Some(item.invitation()), "item {index}");
            assert_eq!(link.as_ref(), Some(item.invitation()), "item {index}");
        }
    }
    let events: BTreeSet<_> = all_events(store, acme.id()).await.iter().map(|e| e.id).collect();
    let expected: BTreeSet<_> = [&existing, &batch[0], &batch[2], &batch[3]]
        .iter()
        .map(|i| i.record.event.id)
        .collect();
    assert_eq!(events, expected);
    let jobs: BTreeSet<_> = job_ids(
        &store
            .outbox()
            .claim_email_jobs(at(10), 10, LEASE)
            .await
            .expect("claim_email_jobs"),
    )
    .into_iter()
    .collect();
    let expected_jobs: BTreeSet<_> = [existing.job().id, batch[0].job().id, batch[2].job().id].into();
    assert_eq!(jobs, expected_jobs);

    let empty = store
        .invitations()
        .insert_invitations(&[], None)
        .await
        .expect("an empty batch");
    assert!(empty.is_empty());
}

/// Two items of one batch to the same normalized email: exactly one is
/// written, the other is `AlreadyInvited`.
pub async fn duplicates_within_one_bulk_insert_let_exactly_one_win(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let batch = [
        invite(&acme, "dup@partner.test", at(10)),
        invite(&acme, "other@partner.test", at(10)),
        invite(&acme, "DUP@Partner.test", at(10)),
    ];
    let records: Vec<_> = batch.iter().map(|i| i.record.clone()).collect();
    let results = store
        .invitations()
        .insert_invitations(&records, None)
        .await
        .expect("insert_invitations");
    assert_eq!(results.len(), 3);
    assert_eq!(results[1], Ok(()));
    let winner = match (&results[0], &results[2]) {
        (Ok(()), Err(StoreError::AlreadyInvited)) => &batch[0],
        (Err(StoreError::AlreadyInvited), Ok(())) => &batch[2],
        other => panic!("exactly one duplicate must win, the other be AlreadyInvited: {other:?}"),
    };
    let pending = pending_invitation(store, acme.id(), &email("dup@partner.test")).await;
    assert_eq!(pending.as_ref(), Some(winner.invitation()));
    assert_eq!(all_sent(store, acme.id(), query(at(10))).await.len(), 2);
    assert_eq!(all_events(store, acme.id()).await.len(), 2);
}

/// `create_invitation` under a race: 16 concurrent inserts of one email in
/// varying case, exactly one succeeds and every other is `AlreadyInvited`.
pub async fn concurrent_inserts_of_one_email_in_varying_case_create_exactly_one_invitation(h: Harness) {
    const RACERS: usize = 16;
    let acme = Tenant::create(h.store.as_ref(), "Acme", "ann@acme.test", at(0)).await;
    let spellings = [
        "carol@globex.test",
        "Carol@Globex.test",
        "CAROL@GLOBEX.TEST",
        "carol@GLOBEX.test",
    ];
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for n in 0..RACERS {
        let candidate = invite(
            &acme,
            spellings[n % spellings.len()],
            at(10) + Duration::seconds(n as i64),
        );
        let store = Arc::clone(&h.store);
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let result = create(store.as_ref(), &candidate.record).await;
            (candidate, result)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (candidate, result) = task.await.expect("an insert task panicked");
        match result {
            Ok(()) => winners.push(candidate),
            Err(error) => assert_eq!(error, StoreError::AlreadyInvited),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one of {RACERS} concurrent inserts must win");

    let store = h.store.as_ref();
    let pending = pending_invitation(store, acme.id(), &email("carol@globex.test")).await;
    assert_eq!(pending.as_ref(), Some(winners[0].invitation()));
    assert_eq!(
        ids(&all_sent(store, acme.id(), query(at(100))).await),
        [winners[0].id()]
    );
    assert_eq!(all_events(store, acme.id()).await, [winners[0].record.event.clone()]);
}

/// `get_invitations` returns each existing invitation of the ids once, as
/// `get_invitation` reads it, whatever the order and repeats, and skips
/// unknown ids.
pub async fn several_invitations_are_read_at_once_each_once_and_unknown_ids_skipped(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let first = invited(store, &acme, "p1@partner.test", at(0)).await;
    let second = invited(store, &acme, "p2@partner.test", at(1)).await;
    let _other = invited(store, &acme, "p3@partner.test", at(2)).await;
    let unknown = InvitationId::from_uuid(new_uuid());

    let mut read = store
        .invitations()
        .get_invitations(&[second.id(), unknown, first.id(), second.id()])
        .await
        .expect("get_invitations");
    read.sort_by_key(|invitation| invitation.id());
    let mut expected = Vec::new();
    for id in [first.id(), second.id()] {
        expected.push(
            store
                .invitations()
                .get_invitation(id)
                .await
                .expect("get_invitation")
                .expect("stored"),
        );
    }
    expected.sort_by_key(|invitation| invitation.id());
    assert_eq!(read, expected);
    assert!(
        store
            .invitations()
            .get_invitations(&[])
            .await
            .expect("get_invitations")
            .is_empty()
    );
}

/// `create_invitation` reports the facts that may refuse a new invitation,
/// writing nothing: the sender's own user (whatever the case of the email),
/// a pending invitation, a connection (seen from either end), an opt-out
/// for the sender or for everyone (not one for another business). Without
/// such a fact it writes, with the invitee user's business on the
/// invitation and its event.
pub async fn a_create_reports_the_facts_that_may_refuse_it_and_writes_nothing_then(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let refused = |candidate: Invite| async move {
        let outcome = store
            .invitations()
            .create_invitation(&candidate.record, None)
            .await
            .expect("create_invitation");
        let CreateOutcome::Refused(context) = outcome else {
            panic!("expected a refusal, got {outcome:?}");
        };
        let stored = store
            .invitations()
            .get_invitation(candidate.id())
            .await
            .expect("get_invitation");
        assert_eq!(stored, None, "a refused create writes nothing");
        context
    };

    let own = refused(invite(&acme, "ANN@acme.test", at(1))).await;
    assert_eq!(own.invitee.as_ref(), Some(&acme.user));
    assert_eq!((own.connected, own.pending, own.suppressed), (false, None, None));

    let bob = invite(&acme, "Bob@Globex.test", at(1));
    assert_eq!(
        store.invitations().create_invitation(&bob.record, None).await,
        Ok(CreateOutcome::Created {
            invitee_business: Some(globex.id())
        })
    );
    let stored = store
        .invitations()
        .get_invitation(bob.id())
        .await
        .expect("get_invitation")
        .expect("written");
    assert_eq!(stored.invitee_business_id(), Some(globex.id()));
    let seen_by_globex = all_events(store, globex.id()).await;
    assert_eq!(
        seen_by_globex.iter().map(|e| e.id).collect::<Vec<_>>(),
        [bob.record.event.id],
        "the event names the invitee's business"
    );

    let pending = refused(invite(&acme, "bob@GLOBEX.test", at(2))).await;
    assert_eq!(pending.invitee.as_ref(), Some(&globex.user));
    assert_eq!(pending.pending.as_ref(), Some(&stored));
    assert!(!pending.connected && pending.suppressed.is_none());

    store
        .invitations()
        .apply_transition(&accept(&stored, globex.id(), at(2)))
        .await
        .expect("apply_transition");
    let connected = refused(invite(&acme, "bob@globex.test", at(3))).await;
    assert_eq!((connected.connected, connected.pending), (true, None));
    let back = refused(invite(&globex, "ann@acme.test", at(3))).await;
    assert!(back.connected, "seen from the other end, the same connection");

    for (address, scope, reason, blocked) in [
        ("carl@initech.test", Some(acme.id()), SuppressionReason::OptOut, true),
        ("dora@initech.test", None, SuppressionReason::OptOut, true),
        ("erin@initech.test", Some(globex.id()), SuppressionReason::OptOut, false),
        ("finn@initech.test", None, SuppressionReason::Bounce, true),
        ("gina@initech.test", None, SuppressionReason::Complaint, true),
    ] {
        store
            .opt_outs()
            .add_suppression(&Suppression {
                id: SuppressionId::from_uuid(new_uuid()),
                email: email(address),
                business_id: scope,
                invitation_id: None,
                created_at: at(3),
                reason,
            })
            .await
            .expect("add_suppression");
        let candidate = invite(&acme, address, at(4));
        if blocked {
            let context = refused(candidate).await;
            assert_eq!(context.suppressed, Some(reason), "{address}");
            assert_eq!(context.invitee, None);
        } else {
            assert_eq!(
                store.invitations().create_invitation(&candidate.record, None).await,
                Ok(CreateOutcome::Created { invitee_business: None }),
                "{address}: an opt-out from another business does not refuse"
            );
        }
    }
    assert_eq!(
        store
            .invitations()
            .create_invitation(&invite(&acme, "nobody@initech.test", at(5)).record, None)
            .await,
        Ok(CreateOutcome::Created { invitee_business: None })
    );
}
