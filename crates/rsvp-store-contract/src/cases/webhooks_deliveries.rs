//! Webhook deliveries after they are queued: claims (one claimer per
//! delivery), outcomes (retries, the endpoint's failures, disabling with
//! its notice), redeliveries and releases.

use super::webhooks::{attempt, deliveries, endpoint, event_ids, registered, stored};
use crate::Harness;
use crate::fixtures::{LEASE, Tenant, at, invited, new_uuid};
use rsvp_app::{DisabledNotice, StoreError, WebhookAttempt, WebhookDelivery, WebhookDeliveryStatus, WebhookOutcome};
use rsvp_domain::webhook::ENDPOINT_DISABLED;
use rsvp_domain::{EventId, WebhookDeliveryId, WebhookEndpointId};
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::sync::Barrier;

/// A claim returns due pending deliveries oldest first, up to the limit,
/// with the attempt counted and the lease as `next_attempt_at`; a claimed
/// delivery is not returned again before its lease ends, and is after it.
pub async fn a_claimed_delivery_is_not_claimed_again_before_its_lease_ends(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let hook = registered(store, endpoint(acme.id(), None, at(0))).await;
    let first = invited(store, &acme, "p1@partner.test", at(1)).await;
    let second = invited(store, &acme, "p2@partner.test", at(2)).await;
    invited(store, &acme, "p3@partner.test", at(50)).await;

    let claimed = store
        .webhooks()
        .claim_webhook_deliveries(at(10), 5, LEASE)
        .await
        .expect("claim");
    assert_eq!(
        claimed.iter().map(|d| d.event_id).collect::<Vec<_>>(),
        [first.record.event.id, second.record.event.id],
        "due only, oldest first"
    );
    for delivery in &claimed {
        assert_eq!(delivery.attempts, 1);
        assert_eq!(delivery.next_attempt_at, at(10) + LEASE);
        assert_eq!(delivery.endpoint_id, hook.id);
    }
    let limited = store
        .webhooks()
        .claim_webhook_deliveries(at(55), 1, LEASE)
        .await
        .expect("claim");
    assert_eq!(limited.len(), 1, "the limit holds");
    assert_eq!(limited[0].event_type, "invitation.created");
    assert!(
        store
            .webhooks()
            .claim_webhook_deliveries(at(60), 5, LEASE)
            .await
            .expect("claim")
            .is_empty(),
        "leased deliveries are not claimed again"
    );
    let again = store
        .webhooks()
        .claim_webhook_deliveries(at(10) + LEASE, 5, LEASE)
        .await
        .expect("claim");
    assert_eq!(again.len(), 2, "after the lease they come back");
    assert!(again.iter().all(|d| d.attempts == 2));
}

/// Racing claimers never get the same delivery.
pub async fn concurrent_claimers_never_get_the_same_delivery(h: Harness) {
    const CLAIMERS: usize = 8;
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    registered(store, endpoint(acme.id(), None, at(0))).await;
    registered(store, endpoint(acme.id(), None, at(0))).await;
    for n in 0..10 {
        invited(store, &acme, &format!("p{n}@partner.test"), at(0)).await;
    }
    let barrier = Arc::new(Barrier::new(CLAIMERS));
    let mut tasks = Vec::new();
    for _ in 0..CLAIMERS {
        let store = Arc::clone(&h.store);
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.webhooks().claim_webhook_deliveries(at(100), 3, LEASE).await
        }));
    }
    let mut seen = BTreeSet::new();
    for task in tasks {
        for delivery in task.await.expect("a claimer panicked").expect("claim") {
            assert!(
                seen.insert((delivery.endpoint_id, delivery.id)),
                "delivery {} was claimed twice",
                delivery.id
            );
            assert_eq!(delivery.attempts, 1);
        }
    }
    let rest = store
        .webhooks()
        .claim_webhook_deliveries(at(100), 100, LEASE)
        .await
        .expect("claim");
    assert_eq!(seen.len() + rest.len(), 20, "every delivery is claimed once");
}

/// A retried delivery stays pending and comes back at its retry time with
/// its status, duration and error; the endpoint's `failing_since` is the
/// first failure's time, and a success marks the delivery succeeded and
/// clears it; a failed delivery is never claimed again.
pub async fn a_retried_delivery_comes_back_at_its_retry_time_and_a_success_clears_the_failures(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let hook = registered(store, endpoint(acme.id(), None, at(0))).await;
    invited(store, &acme, "p1@partner.test", at(0)).await;
    invited(store, &acme, "p2@partner.test", at(1)).await;
    let claimed = store
        .webhooks()
        .claim_webhook_deliveries(at(5), 10, LEASE)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 2);
    let (retried, failed) = (&claimed[0], &claimed[1]);
    store
        .webhooks()
        .finish_webhook_delivery(&attempt(retried, WebhookOutcome::Retry(at(300)), at(6)))
        .await
        .expect("finish");
    store
        .webhooks()
        .finish_webhook_delivery(&attempt(failed, WebhookOutcome::Failed, at(7)))
        .await
        .expect("finish");
    assert_eq!(stored(store, hook.id).await.failing_since, Some(at(6)));

    let log = deliveries(store, hook.id).await;
    let read = log.iter().find(|d| d.id == retried.id).expect("listed");
    assert_eq!(read.status, WebhookDeliveryStatus::Pending);
    assert_eq!(
        (
            read.response_status,
            read.duration_ms,
            read.attempted_at,
            read.next_attempt_at
        ),
        (Some(500), Some(12), Some(at(6)), at(300))
    );
    assert_eq!(read.last_error.as_deref(), Some("the endpoint answered 500"));
    let gave_up = log.iter().find(|d| d.id == failed.id).expect("listed");
    assert_eq!(gave_up.status, WebhookDeliveryStatus::Failed);

    assert!(
        store
            .webhooks()
            .claim_webhook_deliveries(at(299), 10, LEASE)
            .await
            .expect("claim")
            .is_empty()
    );
    let back = store
        .webhooks()
        .claim_webhook_deliveries(at(300), 10, LEASE)
        .await
        .expect("claim");
    assert_eq!(back.iter().map(|d| d.id).collect::<Vec<_>>(), [retried.id]);
    assert_eq!(back[0].attempts, 2);
    store
        .webhooks()
        .finish_webhook_delivery(&attempt(&back[0], WebhookOutcome::Succeeded, at(301)))
        .await
        .expect("finish");
    assert_eq!(stored(store, hook.id).await.failing_since, None);
    let done = deliveries(store, hook.id).await;
    assert_eq!(
        done.iter()
            .find(|d| d.id == retried.id)
            .map(|d| (d.status, d.last_error.clone())),
        Some((WebhookDeliveryStatus::Succeeded, None))
    );
    assert_eq!(store.webhooks().webhook_outbox_depth().await.expect("depth"), 0);
    assert!(
        store
            .webhooks()
            .claim_webhook_deliveries(at(100_000), 10, LEASE)
            .await
            .expect("claim")
            .is_empty()
    );

    let unknown = WebhookAttempt {
        delivery_id: WebhookDeliveryId::from_uuid(new_uuid()),
        ..attempt(retried, WebhookOutcome::Failed, at(400))
    };
    assert_eq!(
        store.webhooks().finish_webhook_delivery(&unknown).await,
        Err(StoreError::NotFound)
    );
}

/// A failure with `disable` disables the endpoint and queues one
/// `webhook_endpoint.disabled` notice for each other enabled endpoint of
/// the business that wants it; a second disabling failure (a racing
/// attempt) queues no second notice; disabled endpoints get no new events.
pub async fn a_failure_that_disables_an_endpoint_queues_one_notice_for_the_other_endpoints(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let globex = Tenant::create(store, "Globex", "bob@globex.test", at(0)).await;
    let failing = registered(store, endpoint(acme.id(), None, at(0))).await;
    let watcher = registered(store, endpoint(acme.id(), Some(&[ENDPOINT_DISABLED]), at(0))).await;
    let deaf = registered(store, endpoint(acme.id(), Some(&["invitation.accepted"]), at(0))).await;
    let stranger = registered(store, endpoint(globex.id(), None, at(0))).await;
    invited(store, &acme, "p1@partner.test", at(0)).await;
    invited(store, &acme, "p2@partner.test", at(0)).await;
    let claimed = store
        .webhooks()
        .claim_webhook_deliveries(at(1), 10, LEASE)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 2);

    let notice = DisabledNotice {
        event_id: EventId::from_uuid(new_uuid()),
        payload: r#"{"endpoint_id":"x"}"#.to_owned(),
    };
    for (delivery, second) in claimed.iter().zip([false, true]) {
        let mut failed = attempt(delivery, WebhookOutcome::Failed, at(if second { 3 } else { 2 }));
        failed.disable = Some(DisabledNotice {
            event_id: if second {
                EventId::from_uuid(new_uuid())
            } else {
                notice.event_id
            },
            ..notice.clone()
        });
        store.webhooks().finish_webhook_delivery(&failed).await.expect("finish");
    }
    let read = stored(store, failing.id).await;
    assert!(!read.enabled);
    assert_eq!(read.updated_at, at(2));

    let notices = deliveries(store, watcher.id).await;
    assert_eq!(notices.len(), 1, "one notice, whatever the racing attempts");
    let sent = &notices[0];
    assert_eq!(
        (sent.event_id, sent.event_type.as_str(), sent.payload.as_deref()),
        (notice.event_id, ENDPOINT_DISABLED, Some(r#"{"endpoint_id":"x"}"#))
    );
    assert_eq!(
        (sent.status, sent.next_attempt_at, sent.occurred_at, sent.business_id),
        (WebhookDeliveryStatus::Pending, at(2), at(2), acme.id())
    );
    assert!(deliveries(store, deaf.id).await.is_empty());
    assert!(deliveries(store, stranger.id).await.is_empty());
    assert!(
        !event_ids(&deliveries(store, failing.id).await).contains(&notice.event_id),
        "the disabled endpoint does not hear of itself"
    );

    let before = deliveries(store, failing.id).await.len();
    invited(store, &acme, "p3@partner.test", at(10)).await;
    assert_eq!(
        deliveries(store, failing.id).await.len(),
        before,
        "a disabled endpoint gets no new event"
    );
}

/// A redelivery is queued as given, beside the first delivery of the same
/// event; for an unknown endpoint it is not found and writes nothing.
pub async fn a_redelivery_is_queued_beside_the_first_and_only_for_an_existing_endpoint(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    let hook = registered(store, endpoint(acme.id(), None, at(0))).await;
    let invite = invited(store, &acme, "p1@partner.test", at(0)).await;
    let first = deliveries(store, hook.id).await.pop().expect("the first delivery");
    let again = WebhookDelivery {
        id: WebhookDeliveryId::from_uuid(new_uuid()),
        next_attempt_at: at(100),
        created_at: at(100),
        ..first.clone()
    };
    store.webhooks().insert_webhook_delivery(&again).await.expect("insert");
    assert_eq!(deliveries(store, hook.id).await, [again.clone(), first]);
    assert!(
        deliveries(store, hook.id)
            .await
            .iter()
            .all(|d| d.event_id == invite.record.event.id)
    );

    let orphan = WebhookDelivery {
        id: WebhookDeliveryId::from_uuid(new_uuid()),
        endpoint_id: WebhookEndpointId::from_uuid(new_uuid()),
        ..again
    };
    assert_eq!(
        store.webhooks().insert_webhook_delivery(&orphan).await,
        Err(StoreError::NotFound)
    );
    assert!(deliveries(store, orphan.endpoint_id).await.is_empty());
}

/// A released delivery is due again at once with its attempt uncounted;
/// one finished or claimed again since is left alone.
pub async fn a_released_delivery_is_due_again_at_once_and_others_are_left_alone(h: Harness) {
    let store = h.store.as_ref();
    let acme = Tenant::create(store, "Acme", "ann@acme.test", at(0)).await;
    registered(store, endpoint(acme.id(), None, at(0))).await;
    invited(store, &acme, "p1@partner.test", at(0)).await;
    invited(store, &acme, "p2@partner.test", at(1)).await;
    let claimed = store
        .webhooks()
        .claim_webhook_deliveries(at(5), 10, LEASE)
        .await
        .expect("claim");
    store
        .webhooks()
        .finish_webhook_delivery(&attempt(&claimed[1], WebhookOutcome::Succeeded, at(6)))
        .await
        .expect("finish");
    let released = store
        .webhooks()
        .release_webhook_deliveries(&claimed, at(7))
        .await
        .expect("release");
    assert_eq!(released, 1, "only the unfinished one");
    let back = store
        .webhooks()
        .claim_webhook_deliveries(at(7), 10, LEASE)
        .await
        .expect("claim");
    assert_eq!(back.iter().map(|d| d.id).collect::<Vec<_>>(), [claimed[0].id]);
    assert_eq!(back[0].attempts, 1, "the released attempt was uncounted");
    assert_eq!(
        store
            .webhooks()
            .release_webhook_deliveries(&claimed, at(8))
            .await
            .expect("release"),
        0,
        "claimed again since: left alone"
    );
}
