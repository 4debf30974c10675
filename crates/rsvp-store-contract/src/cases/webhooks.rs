//! Webhooks: endpoints (CRUD) and the deliveries every event queues in its
//! own unit of work (filter, visibility, disabled endpoints). What happens
//! to a delivery after that is in `webhook_deliveries`.

use std::collections::BTreeSet;

use rsvp_app::{
    PageRequest, Store, StoreError, WebhookAttempt, WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint,
    WebhookOutcome,
};
use rsvp_domain::webhook::{ENDPOINT_DISABLED, EventTypeFilter, WebhookSecret};
use rsvp_domain::{BusinessId, EventId, WebhookEndpointId};
use time::OffsetDateTime;

use crate::Harness;
use crate::fixtures::{LEASE, Tenant, accept, at, insert, invite, invited, limit, new_uuid};

/// An endpoint of `business` receiving `types` (`None`: every type).
pub fn endpoint(business: BusinessId, types: Option<&[&str]>, now: OffsetDateTime) -> WebhookEndpoint {
    WebhookEndpoint {
        id: WebhookEndpointId::from_uuid(new_uuid()),
        business_id: business,
        url: format!("https://hooks.example.com/{}", new_uuid()),
        event_types: types.map_or_else(EventTypeFilter::all, |t| {
            EventTypeFilter::parse(t).expect("known event types")
        }),
        description: Some("integration".to_owned()),
        enabled: true,
        secret: WebhookSecret::from_key(new_uuid().as_bytes()),
        previous_secret: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    }
}

pub(super) async fn registered(store: &dyn Store, endpoint: WebhookEndpoint) -> WebhookEndpoint {
    store
        .webhooks()
        .insert_webhook_endpoint(&endpoint)
        .await
        .expect("insert_webhook_endpoint");
    endpoint
}

/// Every delivery of an endpoint, newest first, through every page.
pub(super) async fn deliveries(store: &dyn Store, endpoint: WebhookEndpointId) -> Vec<WebhookDelivery> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .webhooks()
            .list_webhook_deliveries(endpoint, &PageRequest { limit: limit(2), after })
            .await
            .expect("list_webhook_deliveries");
        all.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return all,
        }
    }
}

pub(super) fn event_ids(deliveries: &[WebhookDelivery]) -> BTreeSet<EventId> {
    deliveries.iter().map(|d| d.event_id).collect()
}

pub(super) fn attempt(delivery: &WebhookDelivery, outcome: WebhookOutcome, now: OffsetDateTime) -> WebhookAttempt {
    WebhookAttempt {
        delivery_id: delivery.id,
        endpoint_id: delivery.endpoint_id,
        outcome,
        response_status: Some(if outcome == WebhookOutcome::Succeeded { 200 } else { 500 }),
        duration_ms: 12,
        error: (outcome != WebhookOutcome::Succeeded).then(|| "the endpoint answered 500".to_owned()),
        attempted_at: now,
        disable: None,
    }
}

pub(super) async fn stored(store: &dyn Store, id: WebhookEndpointId) -> WebhookEndpoint {
    store
        .webhooks()
        .get_webhook_endpoint(id)
        .await
        .expect("get_webhook_endpoint")
        .expect("the endpoint exists")
}

/// An endpoint reads back exactly as written (secrets included); a
/// business lists its own endpoints only, oldest first.
pub async fn a_webhook_endpoint_reads_back_as_written_and_is_listed_only_for_its_business(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let mut second = endpoint(acme.id(), Some(&["invitation.accepted", ENDPOINT_DISABLED]), at(2));
    second.previous_secret = Some((WebhookSecret::from_key(b"the old key"), at(86_402)));
    second.description = None;
    let second = registered(store, second).await;
    let first = registered(store, endpoint(acme.id(), None, at(1))).await;
    let theirs = registered(store, endpoint(globex.id(), None, at(0))).await;

    assert_eq!(stored(store, second.id).await, second);
    assert_eq!(
        store.webhooks().list_webhook_endpoints(acme.id()).await.expect("list"),
        [first, second]
    );
    assert_eq!(
        store
            .webhooks()
            .list_webhook_endpoints(globex.id())
            .await
            .expect("list"),
        [theirs]
    );
    assert_eq!(
        store
            .webhooks()
            .get_webhook_endpoint(WebhookEndpointId::from_uuid(new_uuid()))
            .await
            .expect("get"),
        None
    );
}

/// An update writes the settings but not `failing_since`, which it clears
/// only when the endpoint goes from disabled to enabled; an unknown endpoint
/// is not found and nothing is written.
pub async fn updating_a_webhook_endpoint_writes_its_settings_and_enabling_it_forgets_its_failures(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let original = registered(store, endpoint(acme.id(), None, at(0))).await;
    invited(store, &acme, "bob@globex.test", at(1)).await;
    let claimed = store
        .webhooks()
        .claim_webhook_deliveries(at(2), 10, LEASE)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    store
        .webhooks()
        .finish_webhook_delivery(&attempt(&claimed[0], WebhookOutcome::Failed, at(3)))
        .await
        .expect("finish");
    assert_eq!(stored(store, original.id).await.failing_since, Some(at(3)));

    let mut changed = stored(store, original.id).await;
    changed.url = "https://other.example.com/hook".to_owned();
    changed.event_types = EventTypeFilter::parse(&["invitation.created"]).expect("types");
    changed.description = None;
    changed.enabled = false;
    changed.failing_since = None;
    changed.secret = WebhookSecret::from_key(b"new key");
    changed.previous_secret = Some((original.secret.clone(), at(86_410)));
    changed.updated_at = at(10);
    store
        .webhooks()
        .update_webhook_endpoint(&changed)
        .await
        .expect("update");
    let read = stored(store, original.id).await;
    assert_eq!(read.failing_since, Some(at(3)), "an update keeps the failures");
    assert_eq!(
        WebhookEndpoint {
            failing_since: None,
            ..read
        },
        changed
    );

    changed.enabled = true;
    changed.updated_at = at(20);
    store
        .webhooks()
        .update_webhook_endpoint(&changed)
        .await
        .expect("update");
    assert_eq!(
        stored(store, original.id).await.failing_since,
        None,
        "enabling forgets them"
    );

    let mut unknown = endpoint(acme.id(), None, at(0));
    unknown.id = WebhookEndpointId::from_uuid(new_uuid());
    assert_eq!(
        store.webhooks().update_webhook_endpoint(&unknown).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        store.webhooks().get_webhook_endpoint(unknown.id).await.expect("get"),
        None
    );
}

/// Deleting an endpoint deletes its deliveries (they are never claimed);
/// deleting an unknown endpoint is not found.
pub async fn deleting_a_webhook_endpoint_deletes_its_deliveries(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let gone = registered(store, endpoint(acme.id(), None, at(0))).await;
    let kept = registered(store, endpoint(acme.id(), None, at(0))).await;
    invited(store, &acme, "bob@globex.test", at(1)).await;
    assert_eq!(store.webhooks().webhook_outbox_depth().await.expect("depth"), 2);

    store.webhooks().delete_webhook_endpoint(gone.id).await.expect("delete");
    assert_eq!(store.webhooks().get_webhook_endpoint(gone.id).await.expect("get"), None);
    assert!(deliveries(store, gone.id).await.is_empty());
    let claimed = store
        .webhooks()
        .claim_webhook_deliveries(at(2), 10, LEASE)
        .await
        .expect("claim");
    assert_eq!(claimed.iter().map(|d| d.endpoint_id).collect::<Vec<_>>(), [kept.id]);
    assert_eq!(
        store.webhooks().delete_webhook_endpoint(gone.id).await,
        Err(StoreError::NotFound)
    );
}

/// Every event queues, in its own unit of work, one pending delivery per
/// enabled endpoint of each business that can see it whose filter matches:
/// the sender's endpoints see every event of its invitations, the
/// invitee's business the events written once it is known; a disabled
/// endpoint, a non-matching filter and another business get none.
pub async fn every_event_queues_one_delivery_per_matching_enabled_endpoint_of_each_business_that_can_see_it(
    h: Harness,
) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let initech = Tenant::create(store, "Initech", "peter@initech.test", at(0)).await;
    let acme_all = registered(store, endpoint(acme.id(), None, at(0))).await;
    let acme_accepted = registered(store, endpoint(acme.id(), Some(&["invitation.accepted"]), at(0))).await;
    let mut off = endpoint(acme.id(), None, at(0));
    off.enabled = false;
    let acme_off = registered(store, off).await;
    let globex_all = registered(store, endpoint(globex.id(), None, at(0))).await;
    let initech_all = registered(store, endpoint(initech.id(), None, at(0))).await;

    let unknown = invited(store, &acme, "bob@globex.test", at(1)).await;
    let accepted = accept(unknown.invitation(), globex.id(), at(10));
    store.invitations().apply_transition(&accepted).await.expect("accept");
    let (_, connection_created) = accepted.connection.clone().expect("a connection");

    let acme_deliveries = deliveries(store, acme_all.id).await;
    assert_eq!(
        event_ids(&acme_deliveries),
        BTreeSet::from([unknown.record.event.id, accepted.event.id, connection_created.id])
    );
    for delivery in &acme_deliveries {
        assert_eq!(delivery.status, WebhookDeliveryStatus::Pending);
        assert_eq!(delivery.attempts, 0);
        assert_eq!(delivery.business_id, acme.id());
        assert_eq!(delivery.payload, None);
        assert_eq!(delivery.id.as_uuid(), delivery.event_id.as_uuid());
    }
    let created = acme_deliveries
        .iter()
        .find(|d| d.event_id == unknown.record.event.id)
        .expect("the creation's delivery");
    assert_eq!(created.event_type, "invitation.created");
    assert_eq!((created.occurred_at, created.next_attempt_at), (at(1), at(1)));
    assert_eq!(
        event_ids(&deliveries(store, acme_accepted.id).await),
        BTreeSet::from([accepted.event.id])
    );
    assert!(deliveries(store, acme_off.id).await.is_empty());
    let globex_deliveries = deliveries(store, globex_all.id).await;
    assert_eq!(
        event_ids(&globex_deliveries),
        BTreeSet::from([accepted.event.id, connection_created.id]),
        "the invitee's business gets the events that name it, not the creation written before"
    );
    assert!(globex_deliveries.iter().all(|d| d.business_id == globex.id()));
    assert!(deliveries(store, initech_all.id).await.is_empty());

    // A known invitee from the start, a resend, a bulk insert: each queues too.
    let known = insert(
        store,
        invite(&acme, "carol@globex.test", at(20)).to_member_of(globex.id()),
    )
    .await;
    let bulk = [
        invite(&acme, "p1@partner.test", at(21)),
        invite(&acme, "p2@partner.test", at(21)),
    ];
    let results = store
        .invitations()
        .insert_invitations(&[bulk[0].record.clone(), bulk[1].record.clone()], None)
        .await
        .expect("insert_invitations");
    assert!(results.iter().all(Result::is_ok));
    assert!(event_ids(&deliveries(store, globex_all.id).await).contains(&known.record.event.id));
    let acme_events = event_ids(&deliveries(store, acme_all.id).await);
    for event in [&known.record.event, &bulk[0].record.event, &bulk[1].record.event] {
        assert!(acme_events.contains(&event.id), "{}", event.kind);
    }
    // Acme's all-types endpoint 6, its accepted-only one 1, Globex's 3.
    assert_eq!(store.webhooks().webhook_outbox_depth().await.expect("depth"), 6 + 1 + 3);
}
