//! A dispatcher that dies mid-send (kill -9, a crashed replica), on a real
//! database: the email it claimed is sent by another dispatcher as soon as
//! the lease ends, which the default settings keep under a minute.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration as StdDuration, Instant};

use async_trait::async_trait;
use rsvp_app::{
    DispatchSettings, EmailDispatcher, EmailRenderer, InvitationEmail, MailError, Mailer, OutgoingEmail, Ports,
    RenderError, RenderedEmail, SentEmail, Store,
};
use rsvp_memory::ManualClock;
use rsvp_store_contract::fixtures::{Tenant, at, invited};
use rsvp_store_diesel::testing::TestDatabase;
use rsvp_system::{RandomSecrets, TokioTimer, UuidV7Ids};
use time::Duration;

struct PlainRenderer;

impl EmailRenderer for PlainRenderer {
    fn render(&self, email: &InvitationEmail) -> Result<RenderedEmail, RenderError> {
        Ok(RenderedEmail {
            subject: "invitation".into(),
            text: email.accept_url.clone(),
            html: email.accept_url.clone(),
        })
    }
}

/// Counts calls; hangs forever when told to (the process "dies" meanwhile).
struct CountingMailer {
    calls: AtomicUsize,
    hang: bool,
}

#[async_trait]
impl Mailer for CountingMailer {
    async fn send(&self, _email: &OutgoingEmail) -> Result<SentEmail, MailError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.hang {
            std::future::pending::<()>().await;
        }
        Ok(SentEmail::default())
    }
}

async fn a_dead_claimers_email_is_sent_by_another_when_its_lease_ends(database: TestDatabase) {
    let store: Arc<dyn Store> = Arc::new(database.migrated_store().await);
    let clock = Arc::new(ManualClock::new(at(0)));
    let acme = Tenant::create(store.as_ref(), "Acme", "ann@acme.test", at(0)).await;
    invited(store.as_ref(), &acme, "bob@globex.test", at(0)).await;
    let dispatcher = |mailer: Arc<CountingMailer>| {
        let ports = Ports {
            store: store.clone(),
            clock: clock.clone(),
            ids: Arc::new(UuidV7Ids),
            secrets: Arc::new(RandomSecrets),
        };
        EmailDispatcher::new(
            ports,
            Arc::new(PlainRenderer),
            mailer,
            DispatchSettings::new("https://rsvp.test"),
        )
        .with_timer(Arc::new(TokioTimer))
    };

    // The first dispatcher claims the email and dies in the middle of sending it.
    let dying = Arc::new(CountingMailer {
        calls: AtomicUsize::new(0),
        hang: true,
    });
    let first = dispatcher(dying.clone());
    let round = tokio::spawn(async move { first.run_once().await });
    let deadline = Instant::now() + StdDuration::from_secs(10);
    while dying.calls.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the first dispatcher never sent");
        tokio::task::yield_now().await;
    }
    round.abort();
    assert!(round.await.unwrap_err().is_cancelled());

    let survivor_mailer = Arc::new(CountingMailer {
        calls: AtomicUsize::new(0),
        hang: false,
    });
    let survivor = dispatcher(survivor_mailer.clone());
    assert_eq!(survivor.run_once().await.unwrap().claimed, 0, "leased to the dead one");
    let lease = survivor.settings().effective_lease();
    assert!(
        lease <= Duration::seconds(60),
        "a dead claimer's email comes back within a minute: {lease}"
    );
    clock.advance(lease - Duration::seconds(1));
    assert_eq!(
        survivor.run_once().await.unwrap().claimed,
        0,
        "not before the lease ends"
    );
    clock.advance(Duration::seconds(1));
    let report = survivor.run_once().await.unwrap();
    assert_eq!((report.claimed, report.sent), (1, 1), "{report:?}");
    assert_eq!(survivor_mailer.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_a_dead_claimers_email_is_sent_by_another_within_a_minute() {
    a_dead_claimers_email_is_sent_by_another_when_its_lease_ends(TestDatabase::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_dead_claimers_email_is_sent_by_another_within_a_minute() {
    let database = tokio::task::spawn_blocking(TestDatabase::postgres).await.unwrap();
    a_dead_claimers_email_is_sent_by_another_when_its_lease_ends(database).await;
}
