//! The readers of the expiry sweep and of bulk requests.

use crate::Harness;
use crate::fixtures::{Tenant, accept, at, cancel, expire, ids, insert, invite};

/// `due_for_expiry` returns up to `limit` invitations whose stored status is
/// `pending` and whose `expires_at` is at or before `now`, oldest expiry
/// first, from every business; answered and not-yet-due ones are left out.
pub async fn due_for_expiry_returns_stored_pending_invitations_past_expiry_oldest_first_and_limited(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let initech = Tenant::create(store, "Initech", "peter@initech.test", at(0)).await;
    let expiring = |sender: &Tenant, address: &str, expires_at| invite(sender, address, at(0)).expiring_at(expires_at);

    let a = insert(store, expiring(&acme, "a@partner.test", at(100))).await;
    let b = insert(store, expiring(&acme, "b@partner.test", at(50))).await;
    let _not_yet = insert(store, expiring(&acme, "c@partner.test", at(200))).await;
    let cancelled = insert(store, expiring(&acme, "d@partner.test", at(10))).await;
    store
        .invitations()
        .apply_transition(&cancel(cancelled.invitation(), at(5)))
        .await
        .expect("cancel");
    let on_the_dot = insert(store, expiring(&acme, "e@partner.test", at(150))).await;
    let other_tenant = insert(store, expiring(&initech, "f@partner.test", at(120))).await;

    let due = store
        .invitations()
        .due_for_expiry(at(150), 10)
        .await
        .expect("due_for_expiry");
    assert_eq!(
        due,
        [
            b.invitation().clone(),
            a.invitation().clone(),
            other_tenant.invitation().clone(),
            on_the_dot.invitation().clone(),
        ]
    );
    let first_two = store
        .invitations()
        .due_for_expiry(at(150), 2)
        .await
        .expect("due_for_expiry");
    assert_eq!(ids(&first_two), [b.id(), a.id()]);

    store
        .invitations()
        .apply_transition(&expire(b.invitation(), at(150)))
        .await
        .expect("expire");
    let due = store
        .invitations()
        .due_for_expiry(at(150), 10)
        .await
        .expect("due_for_expiry");
    assert_eq!(ids(&due), [a.id(), other_tenant.id(), on_the_dot.id()]);
    assert!(
        store
            .invitations()
            .due_for_expiry(at(49), 10)
            .await
            .expect("due_for_expiry")
            .is_empty()
    );
}

/// The batch lookups of a bulk request answer, in one call each, what the
/// single lookups answer one by one.
pub async fn batch_lookups_answer_for_a_whole_bulk_request(h: Harness) {
    use crate::fixtures::{email, invited};
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let initech = Tenant::create(store, "Initech", "eve@initech.test", at(0)).await;
    let to_bob = insert(store, invite(&acme, "bob@globex.test", at(0)).to_member_of(globex.id())).await;
    store
        .invitations()
        .apply_transition(&accept(to_bob.invitation(), globex.id(), at(1)))
        .await
        .expect("accept");
    let to_carol = invited(store, &acme, "carol@x.test", at(2)).await;
    let to_dave = invited(store, &acme, "dave@x.test", at(2)).await;
    store
        .invitations()
        .apply_transition(&cancel(to_dave.invitation(), at(3)))
        .await
        .expect("cancel");
    invited(store, &globex, "frank@x.test", at(2)).await;

    let mut users: Vec<String> = store
        .operator()
        .find_users_by_emails(&[
            email("BOB@globex.test"),
            email("eve@initech.test"),
            email("nobody@x.test"),
        ])
        .await
        .expect("find_users_by_emails")
        .into_iter()
        .map(|u| u.email.normalized().to_owned())
        .collect();
    users.sort();
    assert_eq!(users, ["bob@globex.test", "eve@initech.test"]);
    assert!(
        store
            .operator()
            .find_users_by_emails(&[])
            .await
            .expect("find_users_by_emails")
            .is_empty()
    );

    let connected = store
        .network()
        .connected_among(acme.id(), &[globex.id(), initech.id()])
        .await
        .expect("connected_among");
    assert_eq!(connected, [globex.id()]);
    let connected = store
        .network()
        .connected_among(globex.id(), &[acme.id(), initech.id()])
        .await
        .expect("connected_among");
    assert_eq!(connected, [acme.id()], "either side of the pair");
    assert!(
        store
            .network()
            .connected_among(acme.id(), &[])
            .await
            .expect("connected_among")
            .is_empty()
    );

    let pending = store
        .invitations()
        .find_pending_for_emails(
            acme.id(),
            &[email("CAROL@x.test"), email("dave@x.test"), email("frank@x.test")],
        )
        .await
        .expect("find_pending_for_emails");
    let ids: Vec<_> = pending.iter().map(|i| i.id()).collect();
    assert_eq!(ids, [to_carol.id()], "only the sender's stored-pending invitations");
    assert!(
        store
            .invitations()
            .find_pending_for_emails(acme.id(), &[])
            .await
            .expect("find_pending_for_emails")
            .is_empty()
    );
}
