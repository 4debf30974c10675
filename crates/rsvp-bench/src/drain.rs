//! `drain`: how fast `EmailDispatcher`s empty the outbox, with the real
//! Postmark transport (`rsvp_mail::HttpMailer`, reqwest) posting to an
//! in-process stand-in, on PostgreSQL. Each dispatcher has its own store
//! (pool), mailer and timer, as a replica of `rsvp serve` has: N
//! dispatchers are N replicas on one database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rsvp_app::{DispatchSettings, EmailDispatcher, Store as _};
use rsvp_mail::{HttpMailer, PostmarkConfig, TemplateRenderer};
use time::OffsetDateTime;

use crate::db::BenchDatabase;
use crate::fixture;
use crate::postmark::FakePostmark;
use crate::stats::{rate, thousands};

/// Invitations written per `insert_invitations` call while seeding.
const SEED_BATCH: usize = 1000;

/// What one drain measured.
#[derive(Debug, Clone, Copy)]
pub struct DrainReport {
    /// Dispatchers run at once.
    pub dispatchers: usize,
    /// Emails sent.
    pub emails: usize,
    /// From the first claim to the empty outbox.
    pub elapsed: Duration,
    /// Rounds (`run_once` calls) in all.
    pub rounds: usize,
}

impl DrainReport {
    /// Emails per second.
    pub fn per_second(&self) -> f64 {
        rate(self.emails, self.elapsed)
    }

    /// Prints the figures.
    pub fn print(&self) {
        println!(
            "  {} dispatcher(s): {} emails in {:.2} s = {:>7.0} emails/s ({} rounds of run_once)",
            self.dispatchers,
            thousands(self.emails as u64),
            self.elapsed.as_secs_f64(),
            self.per_second(),
            self.rounds
        );
    }
}

/// Queues `emails` invitations on a fresh database, then runs
/// `dispatchers` dispatchers at once, each calling `run_once` until it
/// claims nothing, and checks that every email went out exactly once.
pub async fn run(server: &str, emails: usize, dispatchers: usize, batch_size: usize) -> anyhow::Result<DrainReport> {
    let database = BenchDatabase::create(server)?;
    let store = Arc::new(database.migrated_store().await?);
    let app = fixture::app(store.clone());
    let sender = fixture::sender(&app, "Drain Sender", "owner@drain-sender.example").await?;
    let label = fixture::run_label();
    let mut n = 0;
    while n < emails {
        let now = OffsetDateTime::now_utc();
        let batch: Vec<_> = (n..(n + SEED_BATCH).min(emails))
            .map(|i| {
                let request = fixture::request(&fixture::email(&label, i))?;
                Ok(fixture::new_record(sender.business.id, sender.user.id, request, now))
            })
            .collect::<anyhow::Result<_>>()?;
        n += batch.len();
        let results = store
            .invitations()
            .insert_invitations(&batch, None)
            .await
            .context("seeding the outbox")?;
        anyhow::ensure!(results.iter().all(Result::is_ok), "a seeded invitation was refused");
    }

    let postmark = FakePostmark::start().await?;
    let mut replicas = Vec::with_capacity(dispatchers);
    for _ in 0..dispatchers {
        let mut config = PostmarkConfig::new("bench-server-token", "Bench <no-reply@rsvp.example>");
        config.base_url = postmark.base_url();
        let mailer = Arc::new(HttpMailer::new(config).context("building the HTTP mailer")?);
        let renderer = Arc::new(TemplateRenderer::new());
        // The production settings (`rsvp serve`'s defaults), but the batch.
        let mut settings = DispatchSettings::new("https://rsvp.example");
        settings.batch_size = batch_size;
        settings.lease = settings.send_timeout + time::Duration::seconds(15);
        settings.transport = "http".into();
        let own = Arc::new(database.migrated_store().await?);
        replicas.push(
            EmailDispatcher::new(fixture::ports(own), renderer, mailer, settings)
                .with_timer(Arc::new(rsvp_system::TokioTimer)),
        );
    }

    let started = Instant::now();
    let tasks: Vec<_> = replicas
        .iter()
        .map(|dispatcher| {
            let dispatcher = dispatcher.clone();
            tokio::spawn(async move {
                let (mut sent, mut rounds) = (0usize, 0usize);
                loop {
                    let report = dispatcher
                        .run_once()
                        .await
                        .map_err(|e| anyhow::anyhow!("run_once: {e}"))?;
                    rounds += 1;
                    anyhow::ensure!(report.failed == 0 && report.retried == 0, "an email failed: {report:?}");
                    sent += report.sent;
                    if report.claimed == 0 {
                        break;
                    }
                }
                anyhow::Ok((sent, rounds))
            })
        })
        .collect();
    let (mut sent, mut rounds) = (0, 0);
    for task in tasks {
        let (s, r) = task.await??;
        sent += s;
        rounds += r;
    }
    let elapsed = started.elapsed();

    let mut conn = database.connect()?;
    let done = fixture::count(&mut conn, "SELECT count(*) AS n FROM email_jobs WHERE status = 'sent'")?;
    anyhow::ensure!(
        sent == emails && usize::try_from(done).ok() == Some(emails) && postmark.received() == emails as u64,
        "expected {emails} emails sent once each: dispatchers sent {sent}, the store has {done} sent, \
         the stand-in received {}",
        postmark.received()
    );
    drop(replicas);
    drop(app);
    drop(store);
    Ok(DrainReport {
        dispatchers,
        emails: sent,
        elapsed,
        rounds,
    })
}
