//! The host platform's ids of businesses and users: stored, found by
//! (`list_businesses` with `external_id`, `find_user_by_external_id`), and
//! unique per kind on `create_business`, `add_user`, `update_business` and
//! `update_user`.

use rsvp_app::{BusinessQuery, Store, StoreError};
use rsvp_domain::ExternalId;

use crate::Harness;
use crate::fixtures::{Member, Tenant, at, email, limit};

fn external(id: &str) -> ExternalId {
    ExternalId::parse(id).expect("a valid external id")
}

/// A tenant whose business and user carry these host platform ids.
fn tenant_with(name: &str, address: &str, business: Option<&str>, user: Option<&str>) -> Tenant {
    let mut tenant = Tenant::build(name, address, at(0));
    tenant.business.external_id = business.map(external);
    tenant.user.external_id = user.map(external);
    tenant
}

async fn store_tenant(store: &dyn Store, tenant: &Tenant) -> Result<(), StoreError> {
    store
        .operator()
        .create_business(&tenant.business, &tenant.user, &tenant.key.record)
        .await
}

async fn businesses_with(store: &dyn Store, id: &str) -> Vec<rsvp_domain::Business> {
    let query = BusinessQuery {
        name: None,
        external_id: Some(external(id)),
        limit: limit(50),
        after: None,
    };
    store
        .operator()
        .list_businesses(&query)
        .await
        .expect("list_businesses")
        .items
}

/// A business's and a user's external ids read back as written, through
/// every read (by id, by key, in lists), and find them: exactly, case
/// included; the same text may name a business and a user.
pub async fn external_ids_read_back_and_find_their_business_and_user_exactly(h: Harness) {
    let store = h.store.as_ref();
    let acme = tenant_with("Acme", "ann@acme.test", Some("org_42"), Some("org_42"));
    store_tenant(store, &acme).await.expect("create_business");
    let plain = Tenant::create(store, "Plain", "pat@plain.test", at(1)).await;

    let business = store.operator().get_business(acme.id()).await.expect("get_business");
    assert_eq!(business.and_then(|b| b.external_id), Some(external("org_42")));
    let credential = store
        .operator()
        .find_credential(&acme.key.record.hash)
        .await
        .expect("find_credential")
        .expect("the key acts");
    assert_eq!(credential.principal.business.external_id, Some(external("org_42")));
    assert_eq!(credential.principal.user.external_id, Some(external("org_42")));

    assert_eq!(businesses_with(store, "org_42").await, vec![acme.business.clone()]);
    assert_eq!(businesses_with(store, "ORG_42").await, Vec::new(), "compared exactly");
    assert_eq!(businesses_with(store, "org_4").await, Vec::new(), "not a prefix match");

    let user = store
        .operator()
        .find_user_by_external_id(&external("org_42"))
        .await
        .expect("find_user_by_external_id");
    assert_eq!(user, Some(acme.user.clone()));
    for unknown in ["Org_42", "nobody"] {
        let none = store
            .operator()
            .find_user_by_external_id(&external(unknown))
            .await
            .expect("find_user_by_external_id");
        assert_eq!(none, None, "{unknown} finds no user");
    }
    let plain_user = store.operator().get_user(plain.user.id).await.expect("get_user");
    assert_eq!(plain_user.and_then(|u| u.external_id), None);
}

/// Many businesses and users without an external id never collide; a taken
/// id is refused with `ExternalIdTaken` on every write, which writes nothing.
pub async fn a_taken_external_id_is_refused_on_every_write_and_writes_nothing(h: Harness) {
    let store = h.store.as_ref();
    for n in 0..3 {
        Tenant::create(store, &format!("Anon {n}"), &format!("anon{n}@anon.test"), at(0)).await;
    }
    let acme = tenant_with("Acme", "ann@acme.test", Some("org_1"), Some("user_1"));
    store_tenant(store, &acme).await.expect("create_business");

    // A business whose id is taken: nothing of it is written.
    let copy = tenant_with("Copy", "cat@copy.test", Some("org_1"), None);
    assert_eq!(store_tenant(store, &copy).await, Err(StoreError::ExternalIdTaken));
    // A new business whose first user's id is taken: the business is not written either.
    let other = tenant_with("Other", "oli@other.test", Some("org_2"), Some("user_1"));
    assert_eq!(store_tenant(store, &other).await, Err(StoreError::ExternalIdTaken));
    for refused in [&copy, &other] {
        let business = store.operator().get_business(refused.id()).await.expect("get_business");
        assert_eq!(business, None, "{} was not created", refused.business.name);
        let user = store
            .operator()
            .find_user_by_email(&refused.user.email)
            .await
            .expect("find_user_by_email");
        assert_eq!(user, None, "{} was not created", refused.user.email);
    }
    assert!(businesses_with(store, "org_2").await.is_empty());

    // add_user with a taken id.
    let mut bob = Member::build(acme.id(), "bob@acme.test", at(1));
    bob.user.external_id = Some(external("user_1"));
    let added = store.operator().add_user(&bob.user, &bob.key.record).await;
    assert_eq!(added, Err(StoreError::ExternalIdTaken));
    let bob_stored = store
        .operator()
        .find_user_by_email(&email("bob@acme.test"))
        .await
        .expect("find_user_by_email");
    assert_eq!(bob_stored, None);
    bob.user.external_id = Some(external("user_2"));
    store
        .operator()
        .add_user(&bob.user, &bob.key.record)
        .await
        .expect("add_user");

    // Updates to a taken id change nothing.
    let globex = tenant_with("Globex", "gus@globex.test", Some("org_3"), None);
    store_tenant(store, &globex).await.expect("create_business");
    let mut renamed = globex.business.clone();
    renamed.name = rsvp_domain::BusinessName::parse("Globex Renamed").expect("a name");
    renamed.external_id = Some(external("org_1"));
    assert_eq!(
        store.operator().update_business(&renamed).await,
        Err(StoreError::ExternalIdTaken)
    );
    let unchanged = store.operator().get_business(globex.id()).await.expect("get_business");
    assert_eq!(unchanged, Some(globex.business.clone()), "name and id unchanged");
    let mut gus = globex.user.clone();
    gus.external_id = Some(external("user_2"));
    assert_eq!(
        store.operator().update_user(&gus).await,
        Err(StoreError::ExternalIdTaken)
    );
    let gus_stored = store.operator().get_user(gus.id).await.expect("get_user");
    assert_eq!(gus_stored.and_then(|u| u.external_id), None);

    // Cleared, an id is free for another; writing one's own id again is no conflict.
    let mut acme_cleared = acme.business.clone();
    acme_cleared.external_id = None;
    store.operator().update_business(&acme_cleared).await.expect("clear");
    assert!(businesses_with(store, "org_1").await.is_empty());
    renamed.external_id = Some(external("org_1"));
    store
        .operator()
        .update_business(&renamed)
        .await
        .expect("take the freed id");
    store
        .operator()
        .update_business(&renamed)
        .await
        .expect("write the same id again");
    assert_eq!(businesses_with(store, "org_1").await, vec![renamed.clone()]);
    let mut bob_cleared = bob.user.clone();
    bob_cleared.external_id = None;
    store.operator().update_user(&bob_cleared).await.expect("clear");
    store.operator().update_user(&gus).await.expect("take the freed id");
    let found = store
        .operator()
        .find_user_by_external_id(&external("user_2"))
        .await
        .expect("find_user_by_external_id");
    assert_eq!(found.map(|u| u.id), Some(gus.id));
}
