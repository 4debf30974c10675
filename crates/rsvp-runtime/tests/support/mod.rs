//! What the worker tests share: an app over the in-memory store, on a
//! manual clock, with one business (Acme) and its first user (Ann).

#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use rsvp_app::{App, NewBusinessInput, NewUserInput, Ports, Principal, Settings};
use rsvp_memory::{InMemoryStore, ManualClock};
use rsvp_system::{RandomSecrets, UuidV7Ids};
use time::OffsetDateTime;

pub struct World {
    pub ports: Ports,
    pub clock: Arc<ManualClock>,
    pub app: App,
    pub ann: Principal,
}

pub async fn world() -> World {
    let clock = Arc::new(ManualClock::new(
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
    ));
    let ports = Ports {
        store: Arc::new(InMemoryStore::new()),
        clock: clock.clone(),
        ids: Arc::new(UuidV7Ids),
        secrets: Arc::new(RandomSecrets),
    };
    let app = App::new(ports.clone(), Settings::default());
    let acme = app
        .provision_business(NewBusinessInput {
            name: Some("Acme".into()),
            user: NewUserInput {
                email: Some("ann@acme.test".into()),
                ..Default::default()
            },
            external_id: None,
        })
        .await
        .unwrap();
    let ann = app.authenticate(acme.api_key.expose()).await.unwrap();
    World { ports, clock, app, ann }
}
