//! Background workers: the email dispatcher and the expiry sweeper. Both are
//! safe with several replicas (the store's claims and conditional updates
//! make each job and each expiry happen once).

use std::time::Duration;

use rsvp_app::{App, EmailDispatcher};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long the dispatcher rests when the outbox was empty.
const DISPATCH_IDLE: Duration = Duration::from_millis(500);
/// How often the sweeper looks for due invitations.
const SWEEP_EVERY: Duration = Duration::from_secs(30);
/// Invitations expired per sweep round.
const SWEEP_BATCH: usize = 500;

/// Waits `period` unless told to stop first; `true` means stop.
async fn rest(stop: &mut watch::Receiver<bool>, period: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(period) => *stop.borrow(),
        changed = stop.changed() => changed.is_err() || *stop.borrow(),
    }
}

/// Starts both workers; they finish their current round and return when
/// `stop` turns true.
pub fn spawn(app: App, dispatcher: EmailDispatcher, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
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
            if *dispatch_stop.borrow() || (!busy && rest(&mut dispatch_stop, DISPATCH_IDLE).await) {
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
    vec![dispatch, sweep]
}
