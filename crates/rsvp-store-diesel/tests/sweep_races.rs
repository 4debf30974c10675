//! Several replicas sweeping expiry at once, on a real database: each due
//! invitation is expired, and announced with `invitation.expired`, exactly once.

use std::sync::Arc;

use rsvp_app::{App, Ports, Principal, Settings, Store};
use rsvp_domain::{EventKind, InvitationInput, InvitationStatus};
use rsvp_memory::ManualClock;
use rsvp_store_diesel::testing::TestDatabase;
use rsvp_system::{RandomSecrets, UuidV7Ids};
use time::{Duration, OffsetDateTime};

const INVITATIONS: usize = 40;
const REPLICAS: usize = 4;

async fn race(database: TestDatabase) {
    let store: Arc<dyn Store> = Arc::new(database.migrated_store().await);
    let clock = Arc::new(ManualClock::new(
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
    ));
    let replica = || {
        App::new(
            Ports {
                store: store.clone(),
                clock: clock.clone(),
                ids: Arc::new(UuidV7Ids),
                secrets: Arc::new(RandomSecrets),
            },
            Settings::default(),
        )
    };
    let app = replica();
    let acme = app
        .provision_business(rsvp_app::NewBusinessInput {
            name: Some("Acme".into()),
            user: rsvp_app::NewUserInput {
                email: Some("ann@acme.test".into()),
                ..Default::default()
            },
            external_id: None,
        })
        .await
        .unwrap();
    let principal = Principal {
        business: acme.business.clone(),
        user: acme.user.clone(),
    };
    for i in 0..INVITATIONS {
        let request = InvitationInput {
            email: Some(format!("p{i}@partner.test")),
            expires_in_days: Some(1),
            ..Default::default()
        }
        .validate()
        .unwrap();
        app.invite(&principal, request).await.unwrap();
    }
    clock.advance(Duration::days(2));

    let barrier = Arc::new(tokio::sync::Barrier::new(REPLICAS));
    let sweepers: Vec<_> = (0..REPLICAS)
        .map(|_| {
            let app = replica();
            let barrier = barrier.clone();
            // Small batches so that the replicas really interleave.
            tokio::spawn(async move {
                barrier.wait().await;
                let mut expired = 0;
                loop {
                    let n = app.expire_due(7).await.unwrap();
                    if n == 0 {
                        break expired;
                    }
                    expired += n;
                }
            })
        })
        .collect();
    let mut total = 0;
    for sweeper in sweepers {
        total += sweeper.await.unwrap();
    }
    assert_eq!(total, INVITATIONS, "the replicas together expired each invitation once");

    let events = app
        .list_events(
            &principal,
            rsvp_app::EventQuery {
                limit: rsvp_app::PageSize::new(200).unwrap(),
                after: None,
            },
        )
        .await
        .unwrap();
    let expired_events = events
        .items
        .iter()
        .filter(|e| e.kind == EventKind::InvitationExpired)
        .count();
    assert_eq!(expired_events, INVITATIONS, "one invitation.expired per invitation");
    let sent = app
        .list_sent(
            &principal,
            rsvp_app::ListParams {
                limit: rsvp_app::PageSize::new(200).unwrap(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(sent.items.iter().all(|i| i.status() == InvitationStatus::Expired));
    for invitation in &sent.items {
        let stored = store
            .invitations()
            .get_invitation(invitation.id())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.status(),
            InvitationStatus::Expired,
            "persisted, not only read as expired"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sweepers_expire_each_invitation_once_on_sqlite() {
    race(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sweepers_expire_each_invitation_once_on_postgresql() {
    race(TestDatabase::postgres()).await;
}
