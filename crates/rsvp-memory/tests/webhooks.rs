//! Webhooks at the use-case level: the dispatcher over the in-memory store,
//! a manual clock and a recording stand-in for the HTTP sender. What is
//! sent, how it is signed (across a secret rotation), the retry schedule,
//! and the endpoint disabled after five days of failures with its event.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rsvp_app::{
    App, Clock, EventQuery, EventView, NewBusinessInput, NewUserInput, PageRequest, PageSize, Ports, Principal,
    Settings, WebhookDeliveryStatus, WebhookDispatchSettings, WebhookDispatcher, WebhookEndpoint, WebhookEndpointInput,
    WebhookRequest, WebhookSendError, WebhookSender,
};
use rsvp_domain::webhook::{self, ENDPOINT_DISABLED, WebhookHeaders};
use rsvp_domain::{Action, InvitationInput};
use rsvp_memory::{InMemoryStore, ManualClock};
use rsvp_system::{RandomSecrets, UuidV7Ids};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

/// Records every request; answers 500 to the URLs in `failing`, 204 to the rest.
#[derive(Default)]
struct Receiver {
    requests: Mutex<Vec<WebhookRequest>>,
    failing: Mutex<HashSet<String>>,
}

#[async_trait]
impl WebhookSender for Receiver {
    async fn send(&self, request: &WebhookRequest) -> Result<u16, WebhookSendError> {
        self.requests.lock().unwrap().push(request.clone());
        Ok(if self.failing.lock().unwrap().contains(&request.url) {
            500
        } else {
            204
        })
    }
}

impl Receiver {
    fn take(&self) -> Vec<WebhookRequest> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

fn header<'a>(request: &'a WebhookRequest, name: &str) -> &'a str {
    request
        .headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} header"))
}

struct World {
    clock: Arc<ManualClock>,
    app: App,
    dispatcher: WebhookDispatcher,
    receiver: Arc<Receiver>,
}

impl World {
    fn new() -> Self {
        let clock = Arc::new(ManualClock::new(
            OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap(),
        ));
        let ports = Ports {
            store: Arc::new(InMemoryStore::new()),
            clock: clock.clone(),
            ids: Arc::new(UuidV7Ids),
            secrets: Arc::new(RandomSecrets),
        };
        let receiver = Arc::new(Receiver::default());
        let dispatcher = WebhookDispatcher::new(ports.clone(), receiver.clone(), WebhookDispatchSettings::default());
        Self {
            clock,
            app: App::new(ports, Settings::default()),
            dispatcher,
            receiver,
        }
    }

    async fn business(&self, name: &str, email: &str) -> Principal {
        let made = self
            .app
            .provision_business(NewBusinessInput {
                name: Some(name.into()),
                user: NewUserInput {
                    email: Some(email.into()),
                    ..NewUserInput::default()
                },
                external_id: None,
            })
            .await
            .unwrap();
        self.app.authenticate(made.api_key.expose()).await.unwrap()
    }

    async fn endpoint(&self, owner: &Principal, url: &str, types: Option<&[&str]>) -> WebhookEndpoint {
        self.app
            .create_webhook_endpoint(
                owner,
                &WebhookEndpointInput {
                    url: Some(url.into()),
                    event_types: types.map(|t| t.iter().map(|s| (*s).to_owned()).collect()),
                    description: None,
                },
            )
            .await
            .unwrap()
    }

    async fn invite(&self, sender: &Principal, email: &str) -> rsvp_domain::InvitationId {
        let request = InvitationInput {
            email: Some(email.into()),
            ..InvitationInput::default()
        }
        .validate()
        .unwrap();
        self.app.invite(sender, request).await.unwrap().invitation.id()
    }
}

fn verifies(secret: &str, request: &WebhookRequest, now: OffsetDateTime) -> bool {
    let headers = WebhookHeaders {
        id: header(request, "webhook-id"),
        timestamp: header(request, "webhook-timestamp"),
        signature: header(request, "webhook-signature"),
    };
    webhook::verify(secret, &headers, &request.body, now, webhook::DEFAULT_TOLERANCE).is_ok()
}

#[tokio::test]
async fn each_business_receives_the_event_as_its_event_list_shows_it_signed_with_its_secret() {
    let world = World::new();
    let acme = world.business("Acme", "ann@acme.test").await;
    let globex = world.business("Globex", "bob@globex.test").await;
    let acme_hook = world.endpoint(&acme, "https://acme.example.com/hook", None).await;
    let globex_hook = world
        .endpoint(
            &globex,
            "https://globex.example.com/hook",
            Some(&["invitation.rejected"]),
        )
        .await;
    let id = world.invite(&acme, "bob@globex.test").await;
    world.app.change_status(&globex, id, Action::Reject).await.unwrap();

    let report = world.dispatcher.run_once().await.unwrap();
    assert_eq!((report.claimed, report.succeeded), (3, 3), "{report:?}");
    let requests = world.receiver.take();
    let now = world.clock.now();
    for (principal, hook) in [(&acme, &acme_hook), (&globex, &globex_hook)] {
        let listed = world
            .app
            .list_events(
                principal,
                EventQuery {
                    limit: PageSize::new(200).unwrap(),
                    after: None,
                },
            )
            .await
            .unwrap()
            .items;
        let sent: Vec<&WebhookRequest> = requests.iter().filter(|r| r.url == hook.url).collect();
        assert_eq!(sent.len(), if hook.id == acme_hook.id { 2 } else { 1 });
        for request in sent {
            assert!(
                verifies(hook.secret.expose(), request, now),
                "signed with the endpoint's secret"
            );
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            let event = listed
                .iter()
                .find(|e| e.id.to_string() == header(request, "webhook-id"))
                .expect("webhook-id is the event id");
            assert_eq!(body["type"], event.kind.as_str());
            assert_eq!(
                body["data"],
                serde_json::to_value(EventView::new(event, principal.business.id)).unwrap()
            );
            assert_eq!(header(request, "webhook-timestamp"), now.unix_timestamp().to_string());
        }
    }
    // The rejection names the invitee's user only on the invitee's side.
    let rejected = |url: &str| -> Value {
        let request = requests
            .iter()
            .find(|r| {
                r.url == url && serde_json::from_slice::<Value>(&r.body).unwrap()["type"] == "invitation.rejected"
            })
            .unwrap();
        serde_json::from_slice(&request.body).unwrap()
    };
    assert_eq!(
        rejected(&acme_hook.url)["data"]["data"]["actor"]["user_id"],
        Value::Null
    );
    assert_eq!(
        rejected(&globex_hook.url)["data"]["data"]["actor"]["user_id"],
        globex.user.id.to_string()
    );
    assert!(
        !requests
            .iter()
            .any(|r| verifies(acme_hook.secret.expose(), r, now) && r.url == globex_hook.url),
        "each endpoint has its own secret"
    );
}

#[tokio::test]
async fn after_a_rotation_both_secrets_sign_for_24_hours_then_only_the_new_one() {
    let world = World::new();
    let acme = world.business("Acme", "ann@acme.test").await;
    let hook = world.endpoint(&acme, "https://acme.example.com/hook", None).await;
    let rotated = world.app.rotate_webhook_secret(&acme, hook.id).await.unwrap();
    assert_ne!(rotated.secret, hook.secret);

    world.clock.advance(Duration::hours(23));
    world.invite(&acme, "p1@partner.test").await;
    world.dispatcher.run_once().await.unwrap();
    let sent = world.receiver.take();
    assert_eq!(sent.len(), 1);
    let now = world.clock.now();
    assert_eq!(
        header(&sent[0], "webhook-signature").split(' ').count(),
        2,
        "two signatures"
    );
    assert!(
        verifies(hook.secret.expose(), &sent[0], now),
        "the old secret still verifies"
    );
    assert!(verifies(rotated.secret.expose(), &sent[0], now), "the new one too");

    world.clock.advance(Duration::hours(1));
    world.invite(&acme, "p2@partner.test").await;
    world.dispatcher.run_once().await.unwrap();
    let sent = world.receiver.take();
    let now = world.clock.now();
    assert_eq!(header(&sent[0], "webhook-signature").split(' ').count(), 1);
    assert!(
        !verifies(hook.secret.expose(), &sent[0], now),
        "24 h on, the old secret no longer signs"
    );
    assert!(verifies(rotated.secret.expose(), &sent[0], now));
}

#[tokio::test]
async fn failures_follow_the_retry_schedule_and_five_days_of_them_disable_the_endpoint_with_its_event() {
    let world = World::new();
    let acme = world.business("Acme", "ann@acme.test").await;
    let failing = world.endpoint(&acme, "https://down.example.com/hook", None).await;
    let watcher = world
        .endpoint(&acme, "https://ops.example.com/hook", Some(&[ENDPOINT_DISABLED]))
        .await;
    world.receiver.failing.lock().unwrap().insert(failing.url.clone());
    let started = world.clock.now();
    world.invite(&acme, "p0@partner.test").await;

    // The first delivery's attempts: 8 in all, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h apart (±10 %).
    let mut attempts_at = Vec::new();
    for _ in 0..8 {
        let log = world
            .app
            .list_webhook_deliveries(
                &acme,
                failing.id,
                &PageRequest {
                    limit: PageSize::new(200).unwrap(),
                    after: None,
                },
            )
            .await
            .unwrap()
            .items;
        world.clock.set(log[0].next_attempt_at.max(world.clock.now()));
        world.dispatcher.run_once().await.unwrap();
        attempts_at.push(world.clock.now());
    }
    let log = world
        .app
        .list_webhook_deliveries(
            &acme,
            failing.id,
            &PageRequest {
                limit: PageSize::new(200).unwrap(),
                after: None,
            },
        )
        .await
        .unwrap()
        .items;
    assert_eq!(
        (log[0].status, log[0].attempts, log[0].response_status),
        (WebhookDeliveryStatus::Failed, 8, Some(500))
    );
    for (gap, expected) in attempts_at.windows(2).map(|w| w[1] - w[0]).zip(webhook::RETRY_DELAYS) {
        assert!(gap >= expected * 0.9 && gap <= expected * 1.1, "{gap} for {expected}");
    }
    let endpoint = world.app.get_webhook_endpoint(&acme, failing.id).await.unwrap();
    assert!(endpoint.enabled, "about 33 h of failures: still enabled");

    // Events keep coming and keep failing; past 5 days the endpoint is disabled.
    let mut n = 1;
    while world.app.get_webhook_endpoint(&acme, failing.id).await.unwrap().enabled {
        assert!(
            world.clock.now() - started < Duration::days(6),
            "not disabled after 6 days"
        );
        world.clock.advance(Duration::hours(6));
        world.invite(&acme, &format!("p{n}@partner.test")).await;
        n += 1;
        world.dispatcher.run_once().await.unwrap();
    }
    let disabled_at = world.clock.now();
    assert!(disabled_at - started >= webhook::DISABLE_AFTER);
    world.receiver.take();
    world.dispatcher.run_once().await.unwrap();
    let notices = world.receiver.take();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].url, watcher.url);
    assert!(verifies(watcher.secret.expose(), &notices[0], world.clock.now()));
    let body: Value = serde_json::from_slice(&notices[0].body).unwrap();
    assert_eq!(body["type"], ENDPOINT_DISABLED);
    assert_eq!(body["data"]["endpoint_id"], failing.id.to_string());
    assert_eq!(body["data"]["url"], failing.url);

    // No more deliveries are queued for it; enabling it forgets the failures.
    world.invite(&acme, "later@partner.test").await;
    world.dispatcher.run_once().await.unwrap();
    assert!(world.receiver.take().iter().all(|r| r.url != failing.url));
    let enabled = world
        .app
        .update_webhook_endpoint(
            &acme,
            failing.id,
            &rsvp_app::WebhookEndpointPatch {
                enabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(enabled.enabled && enabled.failing_since.is_none());
}
