//! The event relay's loop: rounds of [`EventRelay::run_once`] on a task of
//! their own (the API never waits for the bus), back to back while there
//! is a backlog, resting when idle or while another replica holds the
//! lease, and backing off after a failure (the cursor stays where the bus
//! stopped acknowledging, so the next round publishes the rest again).

use std::time::Duration;

use rsvp_app::{EventRelay, RelayRound};
use tokio::sync::watch;

use crate::rest;

/// How the relay's loop paces itself.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayPacing {
    /// Rest when nothing was new (default 250 ms): how long an event may
    /// wait before it is read.
    pub idle: Duration,
    /// Rest while another replica holds the lease (default 5 s, a third of
    /// the relay's default lease).
    pub standby: Duration,
    /// The first pause after a failure (default 500 ms), doubled after each
    /// failure in a row up to `max_backoff`.
    pub backoff: Duration,
    /// The longest pause after failures (default 30 s).
    pub max_backoff: Duration,
}

impl Default for RelayPacing {
    fn default() -> Self {
        Self {
            idle: Duration::from_millis(250),
            standby: Duration::from_secs(5),
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl RelayPacing {
    /// The pause after `failures` failed rounds in a row (at least one).
    pub fn backoff_after(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(20);
        self.backoff.saturating_mul(1 << doublings).min(self.max_backoff)
    }
}

/// Runs `relay` until told to stop, then gives its lease up.
pub(crate) async fn relay_events(relay: EventRelay, pacing: RelayPacing, mut stop: watch::Receiver<bool>) {
    let mut failures = 0u32;
    loop {
        let pause = match relay.run_once().await {
            Ok(round) => {
                failures = 0;
                match round {
                    RelayRound::Published(events) => {
                        tracing::debug!(events, "events relayed");
                        Duration::ZERO
                    }
                    RelayRound::Idle => pacing.idle,
                    RelayRound::Standby => pacing.standby,
                    RelayRound::LeaseLost => {
                        tracing::info!("the event relay's lease passed to another replica");
                        pacing.standby
                    }
                }
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                let pause = pacing.backoff_after(failures);
                tracing::warn!(%error, failures, retry_in_ms = pause.as_millis() as u64, "event relay round failed");
                pause
            }
        };
        if *stop.borrow() {
            break;
        }
        if pause.is_zero() {
            tokio::task::yield_now().await;
        } else if rest(&mut stop, pause).await {
            break;
        }
    }
    relay.release().await;
}
