//! Background workers: the email dispatcher, the webhook dispatcher, the
//! expiry sweeper, the
//! pruner of old email jobs and the pruner of idempotency records past
//! their 24 hours. All are safe with several replicas (the store's claims
//! and conditional updates make each job and each expiry happen once; one
//! replica prunes at a time).

use std::sync::Arc;
use std::time::Duration;

use rsvp_app::{App, EmailDispatcher, WebhookDispatcher, WorkSignal};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long the dispatcher rests when the outbox was empty, unless the
/// store's [`WorkSignal`] wakes it first (new jobs). The poll remains for
/// what no signal announces: retries coming due, leases of a dead replica
/// running out, a wake-up lost while the listener reconnected.
const DISPATCH_IDLE: Duration = Duration::from_secs(1);
/// How often the sweeper looks for due invitations.
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// Invitations expired per sweep round.
const SWEEP_BATCH: usize = 500;
/// How often the pruner deletes old finished email jobs.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Email jobs deleted per statement: short transactions, one after another.
const PRUNE_BATCH: usize = 1000;
/// How often idempotency records past their retention are deleted: a key
/// is honoured until it expires whether or not it is deleted (a begin treats
/// an expired record as absent), so this only bounds the table's size.
const IDEMPOTENCY_PRUNE_EVERY: Duration = Duration::from_secs(600);
/// Idempotency records deleted per statement.
const IDEMPOTENCY_PRUNE_BATCH: usize = 1000;

/// Waits `period` unless told to stop first; `true` means stop.
async fn rest(stop: &mut watch::Receiver<bool>, period: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(period) => *stop.borrow(),
        changed = stop.changed() => changed.is_err() || *stop.borrow(),
    }
}

/// Waits for `signal` (new email jobs) at most `period`, unless told to
/// stop first; `true` means stop.
async fn rest_until_work(stop: &mut watch::Receiver<bool>, signal: &dyn WorkSignal, period: Duration) -> bool {
    tokio::select! {
        _ = signal.wait_for_work(period) => *stop.borrow(),
        changed = stop.changed() => changed.is_err() || *stop.borrow(),
    }
}

/// Starts the workers (dispatcher, woken by `signal` or its poll; sweeper; pruner of email jobs finished
/// more than `email_retention` ago, pruner of expired idempotency records);
/// they finish their current round and return when `stop` turns true.
pub fn spawn(
    app: App,
    dispatcher: EmailDispatcher,
    webhooks: WebhookDispatcher,
    signal: Arc<dyn WorkSignal>,
    email_retention: time::Duration,
    stop: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let mut webhook_stop = stop.clone();
    let webhook = tokio::spawn(async move {
        loop {
            let busy = match webhooks.run_once().await {
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
            if *webhook_stop.borrow() || (!busy && rest(&mut webhook_stop, DISPATCH_IDLE).await) {
                break;
            }
        }
    });
    let mut dispatch_stop = stop.clone();
    let dispatch = tokio::spawn(async move {
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
            if *dispatch_stop.borrow()
                || (!busy && rest_until_work(&mut dispatch_stop, signal.as_ref(), DISPATCH_IDLE).await)
            {
                break;
            }
        }
    });
    let mut prune_stop = stop.clone();
    let pruner = app.clone();
    let prune = tokio::spawn(async move {
        loop {
            let mut pruned = 0u64;
            // Batch after batch while full ones come back; one replica at a
            // time on PostgreSQL (the store's advisory lock).
            loop {
                match pruner.prune_finished_emails(email_retention, PRUNE_BATCH).await {
                    Ok(n) => {
                        pruned += n;
                        if n < PRUNE_BATCH as u64 || *prune_stop.borrow() {
                            break;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "email retention failed");
                        break;
                    }
                }
            }
            if pruned > 0 {
                tracing::info!(pruned, "old email jobs deleted");
            }
            if rest(&mut prune_stop, PRUNE_EVERY).await {
                break;
            }
        }
    });
    let mut keys_stop = stop.clone();
    let keys_pruner = app.clone();
    let keys = tokio::spawn(async move {
        loop {
            let mut pruned = 0u64;
            loop {
                match keys_pruner.prune_idempotency_records(IDEMPOTENCY_PRUNE_BATCH).await {
                    Ok(n) => {
                        pruned += n;
                        if n < IDEMPOTENCY_PRUNE_BATCH as u64 || *keys_stop.borrow() {
                            break;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "idempotency key retention failed");
                        break;
                    }
                }
            }
            if pruned > 0 {
                tracing::info!(pruned, "expired idempotency keys deleted");
            }
            if rest(&mut keys_stop, IDEMPOTENCY_PRUNE_EVERY).await {
                break;
            }
        }
    });
    let mut sweep_stop = stop;
    let sweep = tokio::spawn(async move {
        loop {
            match app.expire_due(SWEEP_BATCH).await {
                Ok(0) => {}
                Ok(expired) => tracing::info!(expired, "expiry sweep"),
                Err(error) => tracing::warn!(%error, "expiry sweep failed"),
            }
            if rest(&mut sweep_stop, SWEEP_EVERY).await {
                break;
            }
        }
    });
    vec![dispatch, webhook, sweep, prune, keys]
}
