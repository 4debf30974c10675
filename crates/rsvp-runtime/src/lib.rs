//! # rsvp-runtime
//!
//! rsvp's background workers on tokio, for the `rsvp` binary and for host
//! applications that embed rsvp:
//!
//! - the **email dispatcher** ([`rsvp_app::EmailDispatcher`]), woken by the
//!   store's [`WorkSignal`] when there is one, else polling every second;
//! - the **webhook dispatcher** ([`rsvp_app::WebhookDispatcher`]);
//! - the **event relay** ([`rsvp_app::EventRelay`]), publishing the event
//!   log to a bus in commit order, one replica at a time (the store's
//!   lease), paced by [`RelayPacing`] and backing off while the bus fails;
//! - the **expiry sweeper** ([`App::expire_due`]), which persists `expired`
//!   for invitations past their time (they already *read* as expired), with
//!   the notice to each one's sender, and then queues the reminders of
//!   invitations about to expire ([`App::send_reminders`]);
//! - the **pruners** of email jobs finished longer ago than the retention
//!   ([`App::prune_finished_emails`]) and of idempotency records past their
//!   24 hours ([`App::prune_idempotency_records`]).
//!
//! All are safe with several replicas (the store's claims and conditional
//! updates make each job, each expiry and each reminder happen once; one
//! replica prunes at a time). Each worker finishes its current round when told to stop.
//!
//! ```no_run
//! use rsvp_runtime::{WorkerSettings, Workers};
//!
//! # async fn run(app: rsvp_app::App, emails: rsvp_app::EmailDispatcher) {
//! let workers = Workers::new(app)
//!     .with_emails(emails)
//!     .with_settings(WorkerSettings::default())
//!     .start(); // on the current tokio runtime
//! // ... serve requests ...
//! workers.stop().await;
//! # }
//! ```
//!
//! This crate knows no adapter: the store, the mailer and the webhook
//! sender come in through the dispatchers and the [`App`] you build.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rsvp_app::{App, EmailDispatcher, EventRelay, WebhookDispatcher, WorkSignal};
use tokio::sync::watch;
use tokio::task::JoinHandle;

mod relay;

pub use relay::RelayPacing;

/// How often each worker runs, and how much it does per round.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSettings {
    /// How long the dispatchers rest when there was nothing to send, unless
    /// the store's [`WorkSignal`] wakes the email dispatcher first (default
    /// 1 s). The poll stays for what no signal announces: retries coming
    /// due, leases of a dead replica running out, a lost wake-up.
    pub dispatch_idle: Duration,
    /// How often the sweeper looks for due invitations, to expire or to
    /// remind (default 30 s).
    pub sweep_every: Duration,
    /// Invitations expired, and invitations reminded, per sweep round
    /// (default 500 each).
    pub sweep_batch: usize,
    /// How often finished email jobs are pruned (default 1 h).
    pub prune_every: Duration,
    /// Email jobs deleted per statement (default 1000): short
    /// transactions, one after another.
    pub prune_batch: usize,
    /// How long finished email jobs are kept (default 30 days).
    pub email_retention: time::Duration,
    /// How often idempotency records past their retention are deleted
    /// (default 10 min). A key is honoured until it expires whether or not
    /// it is deleted, so this only bounds the table's size.
    pub idempotency_prune_every: Duration,
    /// Idempotency records deleted per statement (default 1000).
    pub idempotency_prune_batch: usize,
    /// How the event relay paces itself (with [`Workers::with_event_relay`]).
    pub relay: RelayPacing,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            dispatch_idle: Duration::from_secs(1),
            sweep_every: Duration::from_secs(30),
            sweep_batch: 500,
            prune_every: Duration::from_secs(3600),
            prune_batch: 1000,
            email_retention: time::Duration::days(30),
            idempotency_prune_every: Duration::from_secs(600),
            idempotency_prune_batch: 1000,
            relay: RelayPacing::default(),
        }
    }
}

impl WorkerSettings {
    /// The defaults with email jobs kept for `retention`.
    pub fn with_email_retention(mut self, retention: time::Duration) -> Self {
        self.email_retention = retention;
        self
    }
}

/// The workers to start: the sweeper and the idempotency pruner always; the
/// email dispatcher and the email pruner with [`Workers::with_emails`]; the
/// webhook dispatcher with [`Workers::with_webhooks`]; the event relay
/// with [`Workers::with_event_relay`].
pub struct Workers {
    app: App,
    emails: Option<EmailDispatcher>,
    signal: Option<Arc<dyn WorkSignal>>,
    webhooks: Option<WebhookDispatcher>,
    relay: Option<EventRelay>,
    settings: WorkerSettings,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("emails", &self.emails.is_some())
            .field("signal", &self.signal.is_some())
            .field("webhooks", &self.webhooks.is_some())
            .field("relay", &self.relay.is_some())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Workers {
    /// The sweeper and the idempotency pruner over `app`, with default settings.
    pub fn new(app: App) -> Self {
        Self {
            app,
            emails: None,
            signal: None,
            webhooks: None,
            relay: None,
            settings: WorkerSettings::default(),
        }
    }

    /// Also drain the email outbox with `dispatcher`, and prune old email jobs.
    pub fn with_emails(mut self, dispatcher: EmailDispatcher) -> Self {
        self.emails = Some(dispatcher);
        self
    }

    /// Wake the email dispatcher on the store's signal (new jobs) instead of
    /// only at its next poll.
    pub fn with_work_signal(mut self, signal: Arc<dyn WorkSignal>) -> Self {
        self.signal = Some(signal);
        self
    }

    /// Also deliver webhooks with `dispatcher`.
    pub fn with_webhooks(mut self, dispatcher: WebhookDispatcher) -> Self {
        self.webhooks = Some(dispatcher);
        self
    }

    /// Also publish the event log to a bus with `relay` (on a task of its
    /// own: the API never waits for the bus).
    pub fn with_event_relay(mut self, relay: EventRelay) -> Self {
        self.relay = Some(relay);
        self
    }

    /// Tunes the rounds and intervals.
    pub fn with_settings(mut self, settings: WorkerSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Spawns every worker on the current tokio runtime; they run until
    /// [`RunningWorkers::stop`].
    ///
    /// # Panics
    /// Outside a tokio runtime (as `tokio::spawn` does).
    pub fn start(self) -> RunningWorkers {
        let (stop, stopped) = watch::channel(false);
        let Self {
            app,
            emails,
            signal,
            webhooks,
            relay,
            settings,
        } = self;
        let mut handles = Vec::new();
        if let Some(dispatcher) = emails {
            handles.push(tokio::spawn(dispatch_emails(
                dispatcher,
                signal,
                settings.dispatch_idle,
                stopped.clone(),
            )));
            let pruner = app.clone();
            let (retention, batch) = (settings.email_retention, settings.prune_batch);
            let told = stopped.clone();
            handles.push(tokio::spawn(every(settings.prune_every, stopped.clone(), move || {
                let (pruner, told) = (pruner.clone(), told.clone());
                async move {
                    prune("old email jobs", batch, &told, |n| {
                        pruner.prune_finished_emails(retention, n)
                    })
                    .await;
                }
            })));
        }
        if let Some(dispatcher) = webhooks {
            handles.push(tokio::spawn(dispatch_webhooks(
                dispatcher,
                settings.dispatch_idle,
                stopped.clone(),
            )));
        }
        if let Some(relay) = relay {
            handles.push(tokio::spawn(relay::relay_events(
                relay,
                settings.relay.clone(),
                stopped.clone(),
            )));
        }
        let keys = app.clone();
        let batch = settings.idempotency_prune_batch;
        let told = stopped.clone();
        handles.push(tokio::spawn(every(
            settings.idempotency_prune_every,
            stopped.clone(),
            move || {
                let (keys, told) = (keys.clone(), told.clone());
                async move {
                    prune("expired idempotency keys", batch, &told, |n| {
                        keys.prune_idempotency_records(n)
                    })
                    .await;
                    // The providers' report ids, on the same cadence.
                    prune("old provider report ids", batch, &told, |n| {
                        keys.prune_provider_reports(n)
                    })
                    .await;
                }
            },
        )));
        let batch = settings.sweep_batch;
        handles.push(tokio::spawn(every(settings.sweep_every, stopped, move || {
            let app = app.clone();
            async move {
                match app.expire_due(batch).await {
                    Ok(0) => {}
                    Ok(expired) => tracing::info!(expired, "expiry sweep"),
                    Err(error) => tracing::warn!(%error, "expiry sweep failed"),
                }
                // Reminders come after expiries: one that expires meanwhile
                // is expired, not reminded.
                match app.send_reminders(batch).await {
                    Ok(0) => {}
                    Ok(reminded) => tracing::info!(reminded, "reminder round"),
                    Err(error) => tracing::warn!(%error, "reminder round failed"),
                }
            }
        })));
        RunningWorkers { stop, handles }
    }
}

/// Workers running on tokio.
#[derive(Debug)]
pub struct RunningWorkers {
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
}

impl RunningWorkers {
    /// How many workers run.
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// Whether none runs.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// Tells every worker to stop and waits until each has finished its
    /// current round.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for handle in self.handles {
            if let Err(error) = handle.await {
                tracing::error!(%error, "a worker ended abnormally");
            }
        }
    }
}

/// Waits `period` unless told to stop first; `true` means stop.
async fn rest(stop: &mut watch::Receiver<bool>, period: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(period) => *stop.borrow(),
        changed = stop.changed() => changed.is_err() || *stop.borrow(),
    }
}

/// Waits for `signal` (new email jobs, when there is a signal) at most
/// `period`, unless told to stop first; `true` means stop.
async fn rest_until_work(stop: &mut watch::Receiver<bool>, signal: Option<&dyn WorkSignal>, period: Duration) -> bool {
    let Some(signal) = signal else {
        return rest(stop, period).await;
    };
    tokio::select! {
        _ = signal.wait_for_work(period) => *stop.borrow(),
        changed = stop.changed() => changed.is_err() || *stop.borrow(),
    }
}

/// Runs `round` at once, then every `period`, until told to stop.
async fn every<F, Fut>(period: Duration, mut stop: watch::Receiver<bool>, round: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        round().await;
        if rest(&mut stop, period).await {
            break;
        }
    }
}

/// Deletes batch after batch while full ones come back, unless told to stop
/// (one replica at a time on PostgreSQL: the store's advisory lock).
async fn prune<F, Fut, E>(what: &'static str, batch: usize, stop: &watch::Receiver<bool>, mut delete: F)
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<u64, E>>,
    E: std::fmt::Display,
{
    let mut pruned = 0u64;
    loop {
        match delete(batch).await {
            Ok(n) => {
                pruned += n;
                if n < batch as u64 || *stop.borrow() {
                    break;
                }
            }
            Err(error) => {
                tracing::warn!(%error, what, "pruning failed");
                break;
            }
        }
    }
    if pruned > 0 {
        tracing::info!(pruned, what, "pruned");
    }
}

async fn dispatch_emails(
    dispatcher: EmailDispatcher,
    signal: Option<Arc<dyn WorkSignal>>,
    idle: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let busy = match dispatcher.run_once().await {
            Ok(report) if report.claimed > 0 => {
                tracing::info!(
                    claimed = report.claimed,
                    sent = report.sent,
                    retried = report.retried,
                    failed = report.failed,
                    released = report.released,
                    "email round"
                );
                true
            }
            Ok(_) => false,
            Err(error) => {
                tracing::warn!(%error, "email round failed");
                false
            }
        };
        if *stop.borrow() || (!busy && rest_until_work(&mut stop, signal.as_deref(), idle).await) {
            break;
        }
    }
}

async fn dispatch_webhooks(dispatcher: WebhookDispatcher, idle: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        let busy = match dispatcher.run_once().await {
            Ok(report) if report.claimed > 0 => {
                tracing::info!(
                    claimed = report.claimed,
                    succeeded = report.succeeded,
                    retried = report.retried,
                    failed = report.failed,
                    released = report.released,
                    disabled = report.disabled,
                    "webhook round"
                );
                true
            }
            Ok(_) => false,
            Err(error) => {
                tracing::warn!(%error, "webhook round failed");
                false
            }
        };
        if *stop.borrow() || (!busy && rest(&mut stop, idle).await) {
            break;
        }
    }
}

// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
