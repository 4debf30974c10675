//! Businesses, users and API keys: `create_business`, `add_user`,
//! `get_business`, `find_credential`, `find_user_by_email`.

use rsvp_app::{Principal, StoreError};
use rsvp_domain::BusinessId;

use crate::Harness;
use crate::fixtures::{Member, Tenant, at, email, new_uuid, principal, unknown_hash};

/// `get_user` finds a user by id, and nothing for an unknown id.
pub async fn users_are_found_by_id(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "Ann.Lee@Acme.test", at(0)).await;
    let found = store.operator().get_user(acme.user.id).await.expect("get_user");
    assert_eq!(found, Some(acme.user.clone()));
    let unknown = store
        .operator()
        .get_user(rsvp_domain::UserId::from_uuid(new_uuid()))
        .await
        .expect("get_user");
    assert_eq!(unknown, None);
}

/// `create_business` stores the business, its user and the key; the key's
/// hash finds the principal; unknown ids and hashes find nothing.
pub async fn a_created_business_is_found_with_its_user_and_api_key(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "Ann.Lee@Acme.test", at(0)).await;

    let business = store.operator().get_business(acme.id()).await.expect("get_business");
    assert_eq!(business, Some(acme.business.clone()));
    let credential = store
        .operator()
        .find_credential(&acme.key.record.hash)
        .await
        .expect("find_credential")
        .expect("the key acts as the business's first user");
    assert_eq!(credential.key, acme.key.record.key, "the key reads back as written");
    assert_eq!(
        credential.principal,
        Principal {
            business: acme.business.clone(),
            user: acme.user.clone(),
        }
    );
    assert_eq!(
        credential.principal.user.email.as_str(),
        "Ann.Lee@Acme.test",
        "the email keeps the spelling it was given"
    );

    let unknown_business = store
        .operator()
        .get_business(BusinessId::from_uuid(new_uuid()))
        .await
        .expect("get_business");
    assert_eq!(unknown_business, None);
    let unknown_key = principal(store, &unknown_hash()).await;
    assert_eq!(unknown_key, None);
}

/// `create_business` MUST return `EmailTaken` when a user with the same
/// normalized email exists, creating nothing.
pub async fn creating_a_business_with_a_taken_email_in_any_case_is_refused_and_creates_nothing(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let copycat = Tenant::build("Copycat", "  ANN@Acme.TEST ", at(1));

    let result = store
        .operator()
        .create_business(&copycat.business, &copycat.user, &copycat.key.record)
        .await;
    assert_eq!(result, Err(StoreError::EmailTaken));

    assert_eq!(
        store.operator().get_business(copycat.id()).await.expect("get_business"),
        None
    );
    assert_eq!(principal(store, &copycat.key.record.hash).await, None);
    let owner = store
        .operator()
        .find_user_by_email(&email("ann@acme.test"))
        .await
        .expect("find_user_by_email");
    assert_eq!(owner, Some(acme.user.clone()), "the first owner keeps the email");
    assert_eq!(owner.map(|u| u.business_id), Some(acme.id()));
}

/// `add_user` MUST return `NotFound` when the business does not exist.
pub async fn adding_a_user_to_a_missing_business_is_not_found_and_creates_nothing(h: Harness) {
    let store = h.store.as_ref();
    let ghost = BusinessId::from_uuid(new_uuid());
    let member = Member::build(ghost, "bob@ghost.test", at(0));

    let result = store.operator().add_user(&member.user, &member.key.record).await;
    assert_eq!(result, Err(StoreError::NotFound));

    let user = store
        .operator()
        .find_user_by_email(&email("bob@ghost.test"))
        .await
        .expect("find_user_by_email");
    assert_eq!(user, None);
    let principal = principal(store, &member.key.record.hash).await;
    assert_eq!(principal, None);
}

/// `add_user` MUST return `EmailTaken` when the email is taken, by a user of
/// any business, whatever its case; nothing is written.
pub async fn adding_a_user_with_a_taken_email_in_any_case_is_refused_and_creates_nothing(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;

    for (business, address) in [(globex.id(), "ANN@acme.test"), (acme.id(), "Ann@Acme.Test")] {
        let member = Member::build(business, address, at(1));
        let result = store.operator().add_user(&member.user, &member.key.record).await;
        assert_eq!(result, Err(StoreError::EmailTaken), "adding {address}");
        let principal = principal(store, &member.key.record.hash).await;
        assert_eq!(principal, None, "the refused user's key must not act");
    }
    let owner = store
        .operator()
        .find_user_by_email(&email("ann@acme.test"))
        .await
        .expect("find_user_by_email");
    assert_eq!(owner, Some(acme.user.clone()));
}

/// A user added with `add_user` is found by its key's hash, with its
/// business; the first user's key keeps working.
pub async fn an_added_user_acts_for_its_business_through_its_api_key(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let _globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let carol = Member::add(store, acme.id(), "carol@acme.test", at(5)).await;

    let carols = principal(store, &carol.key.record.hash)
        .await
        .expect("the new key acts");
    assert_eq!(
        carols,
        Principal {
            business: acme.business.clone(),
            user: carol.user.clone(),
        }
    );
    let first = principal(store, &acme.key.record.hash)
        .await
        .expect("the first key still acts");
    assert_eq!(first.user, acme.user);
    let found = store
        .operator()
        .find_user_by_email(&email("carol@acme.test"))
        .await
        .expect("find_user_by_email");
    assert_eq!(found, Some(carol.user.clone()));
}

/// `find_user_by_email` compares normalized emails and returns the user as
/// stored.
pub async fn users_are_found_by_email_whatever_the_case(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "Ann.Lee@Acme.test", at(0)).await;

    for address in ["ann.lee@acme.test", "ANN.LEE@ACME.TEST", " Ann.Lee@Acme.test "] {
        let found = store
            .operator()
            .find_user_by_email(&email(address))
            .await
            .expect("find_user_by_email");
        assert_eq!(found, Some(acme.user.clone()), "looking up {address:?}");
        assert_eq!(
            found.map(|u| u.email.as_str().to_owned()).as_deref(),
            Some("Ann.Lee@Acme.test")
        );
    }
    let nobody = store
        .operator()
        .find_user_by_email(&email("ann.lee@acme.example"))
        .await
        .expect("find_user_by_email");
    assert_eq!(nobody, None);
}
