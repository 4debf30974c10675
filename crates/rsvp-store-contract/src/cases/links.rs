//! Link tokens and resends: `find_invitation_by_link`, `record_resend`.

use rsvp_app::{EmailOutcome, StoreError};
use rsvp_domain::{EmailDelivery, InvitationStatus};

use crate::Harness;
use crate::fixtures::finish_email;
use crate::fixtures::{
    LEASE, Tenant, accept, all_events, at, claimed, insert, invite, invited, job_ids, resend, unknown_hash,
};

/// `find_invitation_by_link` finds the invitation by the hash of its token,
/// also once answered (whether it can still be answered is for the caller
/// to read); an unknown hash finds nothing.
pub async fn an_invitation_is_found_by_the_hash_of_its_link_token(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let to_bob = invited(store, &acme, "bob@globex.test", at(0)).await;
    let to_carol = invited(store, &acme, "carol@globex.test", at(1)).await;

    for invite in [&to_bob, &to_carol] {
        let found = store
            .invitations()
            .find_invitation_by_link(&invite.link_hash())
            .await
            .expect("find_invitation_by_link");
        assert_eq!(found.as_ref(), Some(invite.invitation()));
    }
    let unknown = store
        .invitations()
        .find_invitation_by_link(&unknown_hash())
        .await
        .expect("find_invitation_by_link");
    assert_eq!(unknown, None);

    let accepted = accept(to_bob.invitation(), globex.id(), at(10));
    store.invitations().apply_transition(&accepted).await.expect("accept");
    let found = store
        .invitations()
        .find_invitation_by_link(&to_bob.link_hash())
        .await
        .expect("find_invitation_by_link");
    assert_eq!(found, Some(accepted.invitation.clone()));
}

/// A resend adds a new link; earlier links keep working unless
/// `revoke_previous_links`, which kills every earlier link of that
/// invitation (and of no other).
pub async fn a_resend_keeps_earlier_links_unless_it_revokes_them(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let invite = invited(store, &acme, "bob@globex.test", at(0)).await;
    let neighbour = invited(store, &acme, "carol@globex.test", at(0)).await;
    let finds = |hash| async move {
        store
            .invitations()
            .find_invitation_by_link(&hash)
            .await
            .expect("find_invitation_by_link")
            .map(|i| i.id())
    };

    let kept = resend(invite.invitation(), at(100), false);
    store
        .invitations()
        .record_resend(&kept.record)
        .await
        .expect("record_resend");
    assert_eq!(
        finds(invite.link_hash()).await,
        Some(invite.id()),
        "the first link survives"
    );
    assert_eq!(finds(kept.link_hash()).await, Some(invite.id()), "the new link works");

    let revoking = resend(invite.invitation(), at(200), true);
    store
        .invitations()
        .record_resend(&revoking.record)
        .await
        .expect("record_resend");
    assert_eq!(finds(invite.link_hash()).await, None, "the first link is revoked");
    assert_eq!(finds(kept.link_hash()).await, None, "the second link is revoked");
    assert_eq!(
        finds(revoking.link_hash()).await,
        Some(invite.id()),
        "the newest link works"
    );
    assert_eq!(
        finds(neighbour.link_hash()).await,
        Some(neighbour.id()),
        "another invitation's link is untouched"
    );
}

/// `record_resend` MUST return `Cooldown` with the last send time when the
/// invitation was last sent after `not_sent_after`, writing nothing (no link,
/// no revocation, no event, no email); at exactly the cooldown it is allowed.
pub async fn a_resend_within_the_cooldown_is_refused_and_writes_nothing(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let invite = invited(store, &acme, "bob@globex.test", at(0)).await;
    let events = all_events(store, acme.id()).await;

    let too_soon = resend(invite.invitation(), at(30), true);
    assert_eq!(
        store.invitations().record_resend(&too_soon.record).await,
        Err(StoreError::Cooldown { last_sent_at: at(0) })
    );
    let new_link = store
        .invitations()
        .find_invitation_by_link(&too_soon.link_hash())
        .await
        .expect("find_invitation_by_link");
    assert_eq!(new_link, None);
    let old_link = store
        .invitations()
        .find_invitation_by_link(&invite.link_hash())
        .await
        .expect("find_invitation_by_link");
    assert_eq!(old_link.as_ref(), Some(invite.invitation()), "nothing was revoked");
    assert_eq!(all_events(store, acme.id()).await, events);
    let jobs = store
        .outbox()
        .claim_email_jobs(at(30), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(job_ids(&jobs), [invite.job().id], "no second email was queued");
    let stored = store
        .invitations()
        .get_invitation(invite.id())
        .await
        .expect("get_invitation");
    assert_eq!(stored.as_ref(), Some(invite.invitation()));

    let on_time = resend(invite.invitation(), at(60), false);
    let resent = store
        .invitations()
        .record_resend(&on_time.record)
        .await
        .expect("a resend exactly one cooldown after the last send");
    assert_eq!(resent.last_sent_at(), Some(at(60)));
    let again = resend(invite.invitation(), at(61), false);
    assert_eq!(
        store.invitations().record_resend(&again.record).await,
        Err(StoreError::Cooldown { last_sent_at: at(60) })
    );
}

/// `record_resend` MUST return `Conflict` when the invitation does not read
/// as pending at `now` (answered, or past its expiry), writing nothing.
pub async fn resending_an_invitation_that_is_not_pending_is_a_conflict_and_writes_nothing(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let answered = insert(store, invite(&acme, "bob@globex.test", at(0)).without_email()).await;
    let accepted = accept(answered.invitation(), globex.id(), at(10));
    store.invitations().apply_transition(&accepted).await.expect("accept");
    let lapsed = insert(
        store,
        invite(&acme, "carol@globex.test", at(0))
            .without_email()
            .expiring_at(at(100)),
    )
    .await;
    let events = all_events(store, acme.id()).await;

    for (invitation, now, current) in [
        (&accepted.invitation, at(500), InvitationStatus::Accepted),
        (lapsed.invitation(), at(100), InvitationStatus::Expired),
    ] {
        let attempt = resend(invitation, now, true);
        assert_eq!(
            store.invitations().record_resend(&attempt.record).await,
            Err(StoreError::Conflict { current }),
            "resending an invitation that reads as {current}"
        );
        let link = store
            .invitations()
            .find_invitation_by_link(&attempt.link_hash())
            .await
            .expect("find_invitation_by_link");
        assert_eq!(link, None);
        let stored = store
            .invitations()
            .get_invitation(invitation.id())
            .await
            .expect("get_invitation");
        assert_eq!(stored.as_ref(), Some(invitation));
    }
    let old_link = store
        .invitations()
        .find_invitation_by_link(&lapsed.link_hash())
        .await
        .expect("find_invitation_by_link");
    assert_eq!(old_link.as_ref(), Some(lapsed.invitation()), "nothing was revoked");
    assert_eq!(all_events(store, acme.id()).await, events);
    let jobs = store
        .outbox()
        .claim_email_jobs(at(1000), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert!(jobs.is_empty(), "no email was queued");
}

/// `record_resend` MUST return `NotFound` when there is no such invitation.
pub async fn resending_an_unknown_invitation_is_not_found(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let never_stored = invite(&acme, "bob@globex.test", at(0));
    let attempt = resend(never_stored.invitation(), at(100), false);
    assert_eq!(
        store.invitations().record_resend(&attempt.record).await,
        Err(StoreError::NotFound)
    );
    let link = store
        .invitations()
        .find_invitation_by_link(&attempt.link_hash())
        .await
        .expect("find_invitation_by_link");
    assert_eq!(link, None);
    assert!(all_events(store, acme.id()).await.is_empty());
    let jobs = store
        .outbox()
        .claim_email_jobs(at(1000), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert!(jobs.is_empty());
}

/// A resend sets `last_sent_at` to `now` and `email_delivery` to `queued`
/// (also after a failed delivery, and for an invitation created without
/// email), queues its email with the new token, and writes its event.
pub async fn a_resend_queues_a_new_email_and_records_the_send(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let bob = invited(store, &acme, "bob@globex.test", at(0)).await;
    let first = store
        .outbox()
        .claim_email_jobs(at(0), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(job_ids(&first), [bob.job().id]);
    let failure = EmailOutcome::Failed {
        error: "mailbox unavailable".to_owned(),
    };
    finish_email(store, bob.job().id, &failure, at(1)).await;

    let resent = resend(bob.invitation(), at(100), false);
    let returned = store
        .invitations()
        .record_resend(&resent.record)
        .await
        .expect("record_resend");
    assert_eq!(returned.id(), bob.id());
    assert_eq!(returned.status(), InvitationStatus::Pending);
    assert_eq!(returned.last_sent_at(), Some(at(100)));
    assert_eq!(returned.updated_at(), at(100), "a resend is a change");
    assert_eq!(returned.email_delivery(), Some(EmailDelivery::Queued));
    let stored = store
        .invitations()
        .get_invitation(bob.id())
        .await
        .expect("get_invitation");
    assert_eq!(stored.as_ref(), Some(&returned));

    let jobs = store
        .outbox()
        .claim_email_jobs(at(100), 10, LEASE)
        .await
        .expect("claim_email_jobs");
    assert_eq!(jobs, [claimed(&resent.record.email_job, at(100), LEASE)]);
    assert_eq!(
        jobs[0].link_token.as_ref().map(|t| t.expose()),
        Some(resent.token.expose()),
        "the new email carries the new token"
    );
    let last = all_events(store, acme.id()).await.pop().expect("events");
    assert_eq!(last, resent.record.event);

    let silent = insert(store, invite(&acme, "carol@globex.test", at(0)).without_email()).await;
    let first_send = resend(silent.invitation(), at(1), false);
    let returned = store
        .invitations()
        .record_resend(&first_send.record)
        .await
        .expect("an invitation never sent has no cooldown");
    assert_eq!(returned.last_sent_at(), Some(at(1)));
    assert_eq!(returned.email_delivery(), Some(EmailDelivery::Queued));
}
