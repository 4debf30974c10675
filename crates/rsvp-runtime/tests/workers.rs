//! The workers on a real tokio runtime, over the in-memory store.

mod support;

use support::{World, world};

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rsvp_app::{
    DispatchSettings, EmailDispatcher, EmailRenderer, InvitationEmail, MailError, Mailer, OutgoingEmail, RenderError,
    RenderedEmail, SentEmail,
};
use rsvp_app::{EventQuery, PageSize};
use rsvp_domain::InvitationInput;
use rsvp_runtime::{WorkerSettings, Workers};
use tokio::sync::mpsc;

struct LinkOnly;

impl EmailRenderer for LinkOnly {
    fn render(&self, email: &InvitationEmail) -> Result<RenderedEmail, RenderError> {
        Ok(RenderedEmail {
            subject: "invitation".to_owned(),
            text: email.accept_url.clone(),
            html: String::new(),
        })
    }
}

/// Hands every email to the test.
struct Recording(mpsc::UnboundedSender<OutgoingEmail>);

#[async_trait]
impl Mailer for Recording {
    async fn send(&self, email: &OutgoingEmail) -> Result<SentEmail, MailError> {
        let _ = self.0.send(email.clone());
        Ok(SentEmail::default())
    }
}

async fn invite(world: &World, email: &str, days: i64) {
    let request = InvitationInput {
        email: Some(email.into()),
        expires_in_days: Some(days),
        ..Default::default()
    }
    .validate()
    .unwrap();
    world.app.invite(&world.ann, request).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_workers_persist_the_expiry_of_due_invitations_and_return_when_stopped() {
    let world = world().await;
    invite(&world, "bob@globex.test", 1).await;
    world.clock.advance(time::Duration::days(2));
    let workers = Workers::new(world.app.clone()).start();
    assert_eq!(workers.len(), 2, "the sweeper and the idempotency pruner");
    // Each worker runs a round at once; stopping waits for it.
    workers.stop().await;
    let query = EventQuery {
        limit: PageSize::new(50).unwrap(),
        after: None,
    };
    let events = world.app.list_events(&world.ann, query).await.unwrap();
    let kinds: Vec<_> = events.items.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["invitation.created", "invitation.expired"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_email_worker_sends_what_an_invitation_queued_with_its_link() {
    let world = world().await;
    let (sent, mut inbox) = mpsc::unbounded_channel();
    let dispatcher = EmailDispatcher::new(
        world.ports.clone(),
        Arc::new(LinkOnly),
        Arc::new(Recording(sent)),
        DispatchSettings::new("https://host.test/network"),
    );
    let settings = WorkerSettings {
        dispatch_idle: Duration::from_millis(20),
        ..WorkerSettings::default()
    };
    let workers = Workers::new(world.app.clone())
        .with_emails(dispatcher)
        .with_settings(settings)
        .start();
    assert_eq!(workers.len(), 4, "the email dispatcher and its pruner too");
    invite(&world, "bob@globex.test", 14).await;
    let email = tokio::time::timeout(Duration::from_secs(10), inbox.recv())
        .await
        .expect("the dispatcher polls the outbox")
        .unwrap();
    workers.stop().await;
    assert_eq!(email.to.as_str(), "bob@globex.test");
    assert!(
        email.content.text.starts_with("https://host.test/network/invite/"),
        "{}",
        email.content.text
    );
    assert!(inbox.try_recv().is_err(), "one invitation, one email");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_reminds_an_invitation_about_to_expire_once() {
    let world = world().await;
    invite(&world, "bob@globex.test", 5).await;
    // Two days before expiry: inside the default 72 hours, last sent before.
    world.clock.advance(time::Duration::days(3));
    Workers::new(world.app.clone()).start().stop().await;
    Workers::new(world.app.clone()).start().stop().await;
    let query = EventQuery {
        limit: PageSize::new(50).unwrap(),
        after: None,
    };
    let events = world.app.list_events(&world.ann, query).await.unwrap();
    let kinds: Vec<_> = events.items.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["invitation.created", "invitation.reminded"],
        "two rounds, one reminder"
    );
}
