//! The operator's erasure of a person's data (`invitations_to_email`,
//! `erase_invitations`).

use rsvp_app::{EmailOutcome, ErasedInvitation, ErasureCounts, ErasureRecord};
use rsvp_domain::{Event, EventId, EventKind, Invitation, InvitationStatus};
use time::Duration;

use crate::Harness;
use crate::fixtures::finish_email;
use crate::fixtures::{Tenant, all_events, at, email, insert, invite, invite_with, invited, kinds, new_uuid};

/// `invitations_to_email` finds the invitations to one normalized email
/// from every business, in every status.
pub async fn invitations_to_an_email_are_found_in_every_business_whatever_the_case(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let first = invited(store, &acme, "Pat@Person.test", at(1)).await;
    let second = invited(store, &globex, "pat@PERSON.test", at(2)).await;
    let _other = invited(store, &acme, "someone@else.test", at(3)).await;
    let mut found: Vec<_> = store
        .opt_outs()
        .invitations_to_email(&email("PAT@person.test"))
        .await
        .expect("invitations_to_email")
        .into_iter()
        .map(|i| i.id())
        .collect();
    found.sort();
    let mut expected = vec![first.id(), second.id()];
    expected.sort();
    assert_eq!(found, expected);
}

fn erasure_of(before: &Invitation, now: time::OffsetDateTime) -> ErasedInvitation {
    let placeholder = Invitation::erased_email(before.id()).expect("a placeholder address");
    let after = before.erased(placeholder, now);
    let event = Event::erased(EventId::from_uuid(new_uuid()), before, &after);
    ErasedInvitation {
        expected: before.status(),
        invitation: after,
        event,
    }
}

/// `erase_invitations`: the personal fields are replaced, a pending
/// invitation is cancelled, every link dies, queued emails are dropped and
/// finished ones lose the address; one `invitation.erased` event each.
pub async fn an_erasure_replaces_personal_data_cancels_pending_revokes_links_drops_queued_emails_and_writes_events(
    h: Harness,
) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let pending = insert(
        store,
        invite_with(&acme, crate::fixtures::full_request("pat@person.test"), at(1)),
    )
    .await;
    let sent = invited(store, &globex, "Pat@Person.test", at(2)).await;
    finish_email(store, sent.job().id, &EmailOutcome::sent(), at(3)).await;
    let bystander = invited(store, &acme, "someone@else.test", at(4)).await;
    assert_eq!(store.outbox().outbox_depth().await.expect("outbox_depth"), 2);

    let now = at(100);
    let record = ErasureRecord {
        email: email("PAT@person.test"),
        now,
        invitations: vec![
            erasure_of(pending.invitation(), now),
            erasure_of(sent.invitation(), now),
        ],
    };
    let counts = store
        .opt_outs()
        .erase_invitations(&record)
        .await
        .expect("erase_invitations");
    assert_eq!(
        counts,
        ErasureCounts {
            invitations: 2,
            resolved: 2,
            emails_dropped: 1,
        }
    );
    for erased in &record.invitations {
        let stored = store
            .invitations()
            .get_invitation(erased.invitation.id())
            .await
            .expect("get_invitation")
            .expect("the invitation stays");
        assert_eq!(stored.email().as_str(), erased.invitation.email().as_str());
        assert!(stored.email().as_str().ends_with("@erased.invalid"));
        assert_eq!(
            (
                stored.first_name(),
                stored.last_name(),
                stored.phone(),
                stored.message()
            ),
            (None, None, None, None)
        );
        assert!(stored.custom_data().is_empty());
        assert_eq!(stored.status(), InvitationStatus::Cancelled);
        assert_eq!(stored.resolved_at(), Some(now));
    }
    for link in [pending.link_hash(), sent.link_hash()] {
        assert_eq!(
            store
                .invitations()
                .find_invitation_by_link(&link)
                .await
                .expect("find_invitation_by_link"),
            None
        );
    }
    assert!(
        store
            .invitations()
            .find_invitation_by_link(&bystander.link_hash())
            .await
            .expect("find_invitation_by_link")
            .is_some()
    );
    assert_eq!(
        store.outbox().outbox_depth().await.expect("outbox_depth"),
        1,
        "only the bystander's email is left"
    );
    let claimed = store
        .outbox()
        .claim_email_jobs(at(200), 10, Duration::minutes(1))
        .await
        .expect("claim_email_jobs");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].invitation_id, bystander.id());
    assert!(
        store
            .opt_outs()
            .invitations_to_email(&email("pat@person.test"))
            .await
            .expect("invitations_to_email")
            .is_empty(),
        "nothing is addressed to the person any more"
    );
    assert_eq!(
        kinds(&all_events(store, acme.id()).await),
        [
            EventKind::InvitationCreated,
            EventKind::InvitationCreated,
            EventKind::InvitationErased
        ]
    );
    assert_eq!(
        kinds(&all_events(store, globex.id()).await),
        [EventKind::InvitationCreated, EventKind::InvitationErased]
    );
    // The email may be invited again.
    insert(store, invite(&acme, "pat@person.test", at(300))).await;
}

/// `erase_invitations` skips an item whose row changed since it was read
/// (another status, or no longer that address), writing nothing of it.
pub async fn an_erasure_skips_an_invitation_changed_since_it_was_read_and_writes_nothing_for_it(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let pending = invited(store, &acme, "pat@person.test", at(1)).await;
    let read = pending.invitation().clone();
    // Answered meanwhile.
    store
        .invitations()
        .apply_transition(&crate::fixtures::reject(&read, at(5)))
        .await
        .expect("apply_transition");
    let record = ErasureRecord {
        email: email("pat@person.test"),
        now: at(10),
        invitations: vec![erasure_of(&read, at(10))],
    };
    assert_eq!(
        store
            .opt_outs()
            .erase_invitations(&record)
            .await
            .expect("erase_invitations"),
        ErasureCounts::default()
    );
    let stored = store
        .invitations()
        .get_invitation(pending.id())
        .await
        .expect("get_invitation")
        .expect("the invitation");
    assert_eq!(stored.email().as_str(), "pat@person.test");
    assert_eq!(stored.status(), InvitationStatus::Rejected);
    assert_eq!(
        kinds(&all_events(store, acme.id()).await),
        [EventKind::InvitationCreated, EventKind::InvitationRejected]
    );
    // Another address: nothing matches.
    let other = ErasureRecord {
        email: email("someone@else.test"),
        now: at(10),
        invitations: vec![erasure_of(&stored, at(10))],
    };
    assert_eq!(
        store
            .opt_outs()
            .erase_invitations(&other)
            .await
            .expect("erase_invitations"),
        ErasureCounts::default()
    );
}
