//! The operator's tenants after provisioning: API keys (`create_api_key`,
//! `list_api_keys`, `revoke_api_key`, `record_api_key_use`,
//! `find_credential`), businesses and users (`list_businesses`,
//! `update_business`, `list_users`, `update_user`).

use rsvp_app::{BusinessQuery, PageRequest, StoreError};
use rsvp_domain::{ApiKeyId, Business, BusinessId, BusinessName, PersonName, User, UserId};
use time::Duration;

use crate::Harness;
use crate::fixtures::{Member, Tenant, at, email, limit, named_api_key, new_uuid, principal};

/// Every business on every page of `list_businesses` with `name`, following
/// the cursors with pages of `size`.
async fn all_businesses(store: &dyn rsvp_app::Store, name: Option<&str>, size: i64) -> Vec<Business> {
    let mut found = Vec::new();
    let mut after = None;
    for _ in 0..1000 {
        let page = store
            .operator()
            .list_businesses(&BusinessQuery {
                name: name.map(str::to_owned),
                external_id: None,
                limit: limit(size),
                after,
            })
            .await
            .expect("list_businesses");
        found.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return found,
        }
    }
    panic!("list_businesses never ends");
}

fn names(businesses: &[Business]) -> Vec<&str> {
    businesses.iter().map(|b| b.name.as_str()).collect()
}

/// `create_api_key` adds a key to a user beside the first; `list_api_keys`
/// lists them newest first; each key's hash finds its key and owner.
pub async fn api_keys_are_added_listed_newest_first_and_found_with_their_owner(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let other = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let ci = named_api_key(acme.user.id, "ci deploy", Some(at(3600)), at(10));
    store
        .operator()
        .create_api_key(&ci.record)
        .await
        .expect("create_api_key");

    let keys = store
        .operator()
        .list_api_keys(acme.user.id)
        .await
        .expect("list_api_keys");
    assert_eq!(keys, vec![ci.record.key.clone(), acme.key.record.key.clone()]);
    let found = store
        .operator()
        .find_credential(&ci.record.hash)
        .await
        .expect("find_credential")
        .expect("the new key is found");
    assert_eq!(found.key, ci.record.key);
    assert_eq!(found.principal.user, acme.user);
    assert_eq!(
        store
            .operator()
            .list_api_keys(other.user.id)
            .await
            .expect("list_api_keys"),
        vec![other.key.record.key.clone()]
    );
    assert_eq!(
        store
            .operator()
            .list_api_keys(UserId::from_uuid(new_uuid()))
            .await
            .expect("list_api_keys"),
        Vec::new()
    );
}

/// `create_api_key` MUST return `NotFound` for an unknown user, writing nothing.
pub async fn adding_an_api_key_to_a_missing_user_is_not_found_and_writes_nothing(h: Harness) {
    let store = h.store.as_ref();
    let ghost = UserId::from_uuid(new_uuid());
    let key = named_api_key(ghost, "ghost", None, at(0));
    assert_eq!(
        store.operator().create_api_key(&key.record).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(principal(store, &key.record.hash).await, None);
    assert_eq!(
        store.operator().list_api_keys(ghost).await.expect("list_api_keys"),
        Vec::new()
    );
}

/// `revoke_api_key`: the key's hash finds nothing at once; the user's other
/// keys keep working; revoking again (or an unknown key) MUST be `NotFound`.
pub async fn a_revoked_key_is_found_by_nothing_and_revoking_it_again_is_not_found(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let spare = named_api_key(acme.user.id, "spare", None, at(1));
    store
        .operator()
        .create_api_key(&spare.record)
        .await
        .expect("create_api_key");

    store
        .operator()
        .revoke_api_key(acme.key.record.key.id)
        .await
        .expect("revoke_api_key");
    assert_eq!(principal(store, &acme.key.record.hash).await, None);
    assert!(
        principal(store, &spare.record.hash).await.is_some(),
        "the other key still acts"
    );
    assert_eq!(
        store
            .operator()
            .list_api_keys(acme.user.id)
            .await
            .expect("list_api_keys"),
        vec![spare.record.key.clone()]
    );
    assert_eq!(
        store.operator().revoke_api_key(acme.key.record.key.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.operator().revoke_api_key(ApiKeyId::from_uuid(new_uuid())).await,
        Err(StoreError::NotFound)
    );
    assert!(principal(store, &spare.record.hash).await.is_some());
}

/// `record_api_key_use` writes `now` only when `last_used_at` is unset or at
/// or before `not_used_since`, MUST never move it backwards, and does
/// nothing for an unknown key.
pub async fn a_key_use_is_recorded_at_most_once_a_minute_and_never_backwards(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let id = acme.key.record.key.id;
    let last_used = || async move {
        store
            .operator()
            .find_credential(&acme.key.record.hash)
            .await
            .expect("find_credential")
            .expect("the key")
            .key
            .last_used_at
    };
    let minute = Duration::MINUTE;
    store
        .operator()
        .record_api_key_use(id, at(100), at(100) - minute)
        .await
        .expect("use");
    assert_eq!(last_used().await, Some(at(100)), "the first use is recorded");
    store
        .operator()
        .record_api_key_use(id, at(130), at(130) - minute)
        .await
        .expect("use");
    assert_eq!(
        last_used().await,
        Some(at(100)),
        "a use within the minute is not written"
    );
    store
        .operator()
        .record_api_key_use(id, at(160), at(160) - minute)
        .await
        .expect("use");
    assert_eq!(last_used().await, Some(at(160)), "a minute later it is");
    store
        .operator()
        .record_api_key_use(id, at(50), at(500))
        .await
        .expect("use");
    assert_eq!(last_used().await, Some(at(160)), "never backwards");
    store
        .operator()
        .record_api_key_use(ApiKeyId::from_uuid(new_uuid()), at(200), at(140))
        .await
        .expect("an unknown key is no error");
}

/// `list_businesses`: newest first, keyset paged without skips or repeats,
/// filtered by a folded substring of the name in which `%` and `_` are
/// plain characters.
pub async fn businesses_are_listed_newest_first_paged_and_filtered_by_a_folded_name(h: Harness) {
    let store = h.store.as_ref();
    let names_in_order = [
        "Acme Corp",
        "ÄCME Süd",
        "Globex",
        "100% Widgets",
        "Under_score Ltd",
        "Underscore Ltd",
        "acme north",
    ];
    for (n, name) in names_in_order.iter().enumerate() {
        let n = i64::try_from(n).expect("a small index");
        Tenant::create(store, name, &format!("user{n}@tenant{n}.test"), at(n)).await;
    }
    let newest_first: Vec<&str> = names_in_order.iter().rev().copied().collect();
    for size in [1, 2, 3, 200] {
        assert_eq!(
            names(&all_businesses(store, None, size).await),
            newest_first,
            "pages of {size}"
        );
    }
    assert_eq!(
        names(&all_businesses(store, Some("acme"), 1).await),
        ["acme north", "Acme Corp"]
    );
    assert_eq!(names(&all_businesses(store, Some("äcme"), 2).await), ["ÄCME Süd"]);
    assert_eq!(names(&all_businesses(store, Some("100%"), 2).await), ["100% Widgets"]);
    assert_eq!(names(&all_businesses(store, Some("r_s"), 2).await), ["Under_score Ltd"]);
    assert_eq!(names(&all_businesses(store, Some("%"), 2).await), ["100% Widgets"]);
    assert_eq!(
        names(&all_businesses(store, Some("nobody"), 2).await),
        Vec::<&str>::new()
    );
}

/// `update_business` writes the name (also for the filter) and the
/// suspension; an unknown business MUST be `NotFound`, creating nothing.
pub async fn updating_a_business_writes_its_name_and_suspension_and_an_unknown_one_is_not_found(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let renamed = Business {
        name: BusinessName::parse("Initech").expect("a name"),
        ..acme.business.clone()
    }
    .with_suspension(true, at(5));
    store
        .operator()
        .update_business(&renamed)
        .await
        .expect("update_business");
    assert_eq!(
        store.operator().get_business(acme.id()).await.expect("get_business"),
        Some(renamed.clone())
    );
    assert_eq!(names(&all_businesses(store, Some("initech"), 5).await), ["Initech"]);
    assert_eq!(names(&all_businesses(store, Some("acme"), 5).await), Vec::<&str>::new());
    let credential = store
        .operator()
        .find_credential(&acme.key.record.hash)
        .await
        .expect("find_credential")
        .expect("a suspended business's key is still found: the caller decides");
    assert!(credential.principal.business.is_suspended());

    let ghost = Business {
        id: BusinessId::from_uuid(new_uuid()),
        ..renamed
    };
    assert_eq!(
        store.operator().update_business(&ghost).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.operator().get_business(ghost.id).await.expect("get_business"),
        None
    );
}

/// `list_users`: a business's users, newest first, paged; nothing of others.
pub async fn users_of_a_business_are_listed_newest_first_and_paged(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let _globex = Tenant::create(store, "Globex", "bob@globex.test", at(1)).await;
    let carol = Member::add(store, acme.id(), "carol@acme.test", at(2)).await;
    let dave = Member::add(store, acme.id(), "dave@acme.test", at(3)).await;
    let mut seen: Vec<User> = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .operator()
            .list_users(acme.id(), &PageRequest { limit: limit(1), after })
            .await
            .expect("list_users");
        assert!(page.items.len() <= 1);
        seen.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, vec![dave.user, carol.user, acme.user]);
    let nobody = store
        .operator()
        .list_users(
            BusinessId::from_uuid(new_uuid()),
            &PageRequest {
                limit: limit(5),
                after: None,
            },
        )
        .await
        .expect("list_users");
    assert!(nobody.items.is_empty() && nobody.next.is_none());
}

/// `update_user` writes the names and the deactivation, nothing else; an
/// unknown user MUST be `NotFound`, writing nothing.
pub async fn updating_a_user_writes_its_names_and_deactivation_and_an_unknown_one_is_not_found(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let changed = User {
        first_name: Some(PersonName::parse("Anna").expect("a name")),
        last_name: None,
        ..acme.user.clone()
    }
    .with_deactivation(true, at(9));
    store.operator().update_user(&changed).await.expect("update_user");
    assert_eq!(
        store.operator().get_user(acme.user.id).await.expect("get_user"),
        Some(changed.clone())
    );
    let credential = store
        .operator()
        .find_credential(&acme.key.record.hash)
        .await
        .expect("find_credential")
        .expect("a deactivated user's key is still found: the caller decides");
    assert!(credential.principal.user.is_deactivated());

    let ghost = User {
        id: UserId::from_uuid(new_uuid()),
        email: email("ghost@acme.test"),
        ..changed
    };
    assert_eq!(store.operator().update_user(&ghost).await, Err(StoreError::NotFound));
    assert_eq!(store.operator().get_user(ghost.id).await.expect("get_user"), None);
    assert_eq!(
        store
            .operator()
            .find_user_by_email(&email("ghost@acme.test"))
            .await
            .expect("find_user_by_email"),
        None
    );
}
