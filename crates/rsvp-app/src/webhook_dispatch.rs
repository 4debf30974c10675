//! [`WebhookDispatcher`]: drains the webhook outbox the way
//! [`EmailDispatcher`](crate::EmailDispatcher) drains the email one —
//! claims due deliveries with a lease, renders each as its business sees
//! the event, signs it (Standard Webhooks), sends with bounded concurrency
//! (each send under its own timeout), records the outcome, retries on the
//! schedule of `rsvp_domain::webhook::retry_delay`, disables an endpoint
//! failing for five days, and gives back what it claimed but could not
//! handle.

use std::sync::Arc;

use futures_util::future::{self, Either};
use futures_util::stream::{self, StreamExt};
use rsvp_domain::EventId;
use rsvp_domain::webhook::{self, DISABLE_AFTER};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::ports::{
    DisabledNotice, StoreError, Timer, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookOutcome,
    WebhookRequest, WebhookSendError, WebhookSender,
};
use crate::view::{EventView, rfc3339, webhook_body};
use crate::{AppError, Ports};

/// Tunables of the webhook dispatcher.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDispatchSettings {
    /// Deliveries claimed per round.
    pub batch_size: usize,
    /// Sends in flight at once within a round.
    pub concurrency: usize,
    /// Longest one send may take (`RSVP_WEBHOOK_TIMEOUT_SECS`, default 10 s).
    pub send_timeout: Duration,
    /// How long a claimed delivery is reserved; kept at least `send_timeout
    /// + 5 s`.
    pub lease: Duration,
    /// Multiplies every retry delay: 1.0 in production; tests shorten the
    /// schedule with a small factor (`RSVP_WEBHOOK_RETRY_SCALE`).
    pub retry_scale: f64,
}

impl Default for WebhookDispatchSettings {
    /// 50 per round, 16 at once, 10 s per send, a 15 s lease, the brief's schedule.
    fn default() -> Self {
        Self {
            batch_size: 50,
            concurrency: 16,
            send_timeout: Duration::seconds(10),
            lease: Duration::seconds(15),
            retry_scale: 1.0,
        }
    }
}

impl WebhookDispatchSettings {
    /// The lease a claim takes: never less than the send timeout and 5 s.
    pub fn effective_lease(&self) -> Duration {
        self.lease.max(self.send_timeout + Duration::seconds(5))
    }
}

/// What came of one webhook attempt, as told to a [`WebhookObserver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookAttemptResult {
    /// 2xx.
    Succeeded,
    /// Failed; another attempt is scheduled.
    Retried,
    /// Failed for the last time (or nothing left to send).
    Failed,
}

impl WebhookAttemptResult {
    /// `succeeded`, `retried`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Retried => "retried",
            Self::Failed => "failed",
        }
    }
}

/// Told of every webhook attempt (for metrics). Keep it quick.
pub trait WebhookObserver: Send + Sync {
    /// One attempt ended with `result`; `reason` (`status`, `timeout`,
    /// `connection`, `not_allowed`, `gone`) unless it succeeded; `disabled`
    /// when it disabled its endpoint.
    fn attempted(&self, result: WebhookAttemptResult, reason: Option<&'static str>, disabled: bool);
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebhookDispatchReport {
    /// Deliveries claimed.
    pub claimed: usize,
    /// Delivered (2xx).
    pub succeeded: usize,
    /// Failed, scheduled again.
    pub retried: usize,
    /// Given up.
    pub failed: usize,
    /// Given back unsent.
    pub released: usize,
    /// Endpoints disabled.
    pub disabled: usize,
}

enum Handled {
    Done(WebhookAttemptResult, bool),
    Unsent(Box<WebhookDelivery>, Option<StoreError>),
    Unrecorded(WebhookAttemptResult, StoreError),
}

/// Drains the webhook outbox; several may run at once (claims never hand
/// one delivery to two dispatchers). Deliveries are at least once: one sent
/// whose outcome the store did not take comes back when its lease ends.
#[derive(Clone)]
pub struct WebhookDispatcher {
    ports: Ports,
    sender: Arc<dyn WebhookSender>,
    settings: WebhookDispatchSettings,
    timer: Option<Arc<dyn Timer>>,
    observer: Option<Arc<dyn WebhookObserver>>,
}

impl std::fmt::Debug for WebhookDispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookDispatcher")
            .field("settings", &self.settings)
            .field("has_timer", &self.timer.is_some())
            .finish_non_exhaustive()
    }
}

/// A number in `[0, 1)` from the delivery and attempt: the jitter of the
/// retry delay, deterministic so tests can predict it.
fn jitter(seed: u128, attempt: u32) -> f64 {
    let mix = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(u128::from(attempt).wrapping_mul(0xD1B5_4A32_D192_ED03))
        >> 64;
    (mix % 1000) as f64 / 1000.0
}

impl WebhookDispatcher {
    /// A dispatcher over the same ports as the [`App`](crate::App).
    pub fn new(ports: Ports, sender: Arc<dyn WebhookSender>, settings: WebhookDispatchSettings) -> Self {
        Self {
            ports,
            sender,
            settings,
            timer: None,
            observer: None,
        }
    }

    /// Bounds every send by `settings.send_timeout`, waiting with `timer`.
    #[must_use]
    pub fn with_timer(mut self, timer: Arc<dyn Timer>) -> Self {
        self.timer = Some(timer);
        self
    }

    /// Tells `observer` of every attempt.
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn WebhookObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The settings.
    pub fn settings(&self) -> &WebhookDispatchSettings {
        &self.settings
    }

    /// Claims up to `batch_size` due deliveries and handles them,
    /// `concurrency` at a time.
    ///
    /// # Errors
    /// Store failures only (after giving back what it could).
    pub async fn run_once(&self) -> Result<WebhookDispatchReport, AppError> {
        let now = self.ports.clock.now();
        let claimed = self
            .ports
            .store
            .webhooks()
            .claim_webhook_deliveries(now, self.settings.batch_size, self.settings.effective_lease())
            .await?;
        let mut report = WebhookDispatchReport {
            claimed: claimed.len(),
            ..WebhookDispatchReport::default()
        };
        let handled: Vec<Handled> = stream::iter(claimed)
            .map(|delivery| self.handle(delivery))
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await;
        let mut first_error = None;
        let mut unsent = Vec::new();
        for result in handled {
            let (result, disabled) = match result {
                Handled::Done(result, disabled) => (result, disabled),
                Handled::Unsent(delivery, error) => {
                    unsent.push(*delivery);
                    if let Some(error) = error {
                        first_error.get_or_insert(error);
                    }
                    continue;
                }
                Handled::Unrecorded(result, error) => {
                    first_error.get_or_insert(error);
                    (result, false)
                }
            };
            report.disabled += usize::from(disabled);
            match result {
                WebhookAttemptResult::Succeeded => report.succeeded += 1,
                WebhookAttemptResult::Retried => report.retried += 1,
                WebhookAttemptResult::Failed => report.failed += 1,
            }
        }
        if !unsent.is_empty() {
            match self
                .ports
                .store
                .webhooks()
                .release_webhook_deliveries(&unsent, self.ports.clock.now())
                .await
            {
                Ok(_) => report.released = unsent.len(),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) => Err(error.into()),
            None => Ok(report),
        }
    }

    /// The `data` of a delivery: its own payload, or the event as the
    /// receiving business sees it; `None` when the event is gone.
    async fn data(&self, delivery: &WebhookDelivery) -> Result<Option<Value>, StoreError> {
        if let Some(payload) = &delivery.payload {
            return Ok(Some(
                serde_json::from_str(payload).unwrap_or_else(|_| Value::String(payload.clone())),
            ));
        }
        let event = self.ports.store.network().get_event(delivery.event_id).await?;
        Ok(
            event
                .map(|event| serde_json::to_value(EventView::new(&event, delivery.business_id)).unwrap_or(Value::Null)),
        )
    }

    /// The signed request of a delivery, at `timestamp` (unix seconds).
    pub fn request(
        endpoint: &WebhookEndpoint,
        delivery: &WebhookDelivery,
        data: &Value,
        now: time::OffsetDateTime,
    ) -> WebhookRequest {
        let body = webhook_body(&delivery.event_type, delivery.occurred_at, data);
        let id = delivery.event_id.to_string();
        let timestamp = now.unix_timestamp();
        let signature = webhook::sign(&endpoint.signing_secrets(now), &id, timestamp, &body);
        WebhookRequest {
            url: endpoint.url.clone(),
            headers: vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("webhook-id".to_owned(), id),
                ("webhook-timestamp".to_owned(), timestamp.to_string()),
                ("webhook-signature".to_owned(), signature),
            ],
            body,
        }
    }

    async fn handle(&self, delivery: WebhookDelivery) -> Handled {
        let now = self.ports.clock.now();
        if now + self.settings.send_timeout > delivery.next_attempt_at {
            return Handled::Unsent(Box::new(delivery), None);
        }
        let endpoint = match self
            .ports
            .store
            .webhooks()
            .get_webhook_endpoint(delivery.endpoint_id)
            .await
        {
            Ok(Some(endpoint)) => endpoint,
            // Deleted with its deliveries meanwhile: nothing to record.
            Ok(None) => return Handled::Done(WebhookAttemptResult::Failed, false),
            Err(error) => return Handled::Unsent(Box::new(delivery), Some(error)),
        };
        if !endpoint.enabled {
            return self.record_gone(&delivery, "the endpoint is disabled").await;
        }
        let data = match self.data(&delivery).await {
            Ok(Some(data)) => data,
            Ok(None) => {
                return self.record_gone(&delivery, "the event no longer exists").await;
            }
            Err(error) => return Handled::Unsent(Box::new(delivery), Some(error)),
        };
        let request = Self::request(&endpoint, &delivery, &data, now);
        let started = self.ports.clock.now();
        let result = self.send(&request).await;
        let ended = self.ports.clock.now();
        let duration_ms = u64::try_from((ended - started).whole_milliseconds()).unwrap_or(0);
        let (status, error, reason) = match result {
            Ok(status) if (200..300).contains(&status) => {
                return self
                    .finish(
                        &delivery,
                        &endpoint,
                        WebhookOutcome::Succeeded,
                        Some(status),
                        duration_ms,
                        None,
                        None,
                    )
                    .await;
            }
            Ok(status) => (Some(status), format!("the endpoint answered {status}"), "status"),
            Err(WebhookSendError::Timeout) => (
                None,
                format!("no answer within {} s", self.settings.send_timeout.whole_seconds()),
                "timeout",
            ),
            Err(error @ WebhookSendError::NotAllowed(_)) => (None, error.to_string(), "not_allowed"),
            Err(error @ WebhookSendError::Connection(_)) => (None, error.to_string(), "connection"),
        };
        let outcome = match webhook::retry_delay(
            delivery.attempts,
            jitter(delivery.id.as_uuid().as_u128(), delivery.attempts),
        ) {
            Some(delay) => WebhookOutcome::Retry(ended + delay * self.settings.retry_scale.max(0.0)),
            None => WebhookOutcome::Failed,
        };
        self.finish(
            &delivery,
            &endpoint,
            outcome,
            status,
            duration_ms,
            Some(error),
            Some(reason),
        )
        .await
    }

    /// Records a failure that made no request.
    #[allow(clippy::too_many_arguments, reason = "one attempt's fields")]
    /// Records a delivery that can never be made (its endpoint or event is
    /// gone): failed at once, without a request.
    async fn record_gone(&self, delivery: &WebhookDelivery, error: &str) -> Handled {
        let attempt = attempt_of(
            delivery,
            WebhookOutcome::Failed,
            None,
            0,
            Some(error.to_owned()),
            self.ports.clock.now(),
            None,
        );
        self.store_attempt(&attempt, Some("gone")).await
    }

    #[allow(clippy::too_many_arguments, reason = "one attempt's fields")]
    async fn finish(
        &self,
        delivery: &WebhookDelivery,
        endpoint: &WebhookEndpoint,
        outcome: WebhookOutcome,
        status: Option<u16>,
        duration_ms: u64,
        error: Option<String>,
        reason: Option<&'static str>,
    ) -> Handled {
        let now = self.ports.clock.now();
        let failed = outcome != WebhookOutcome::Succeeded;
        let disable = endpoint
            .failing_since
            .filter(|since| failed && now - *since >= DISABLE_AFTER)
            .map(|since| DisabledNotice {
                event_id: EventId::from_uuid(self.ports.ids.new_id()),
                payload: serde_json::json!({
                    "endpoint_id": endpoint.id.to_string(),
                    "url": endpoint.url,
                    "failing_since": rfc3339(since),
                    "disabled_at": rfc3339(now),
                })
                .to_string(),
            });
        if let Some(error) = &error {
            tracing::warn!(
                delivery_id = %delivery.id,
                endpoint_id = %endpoint.id,
                event_id = %delivery.event_id,
                attempt = delivery.attempts,
                reason,
                %error,
                disabled = disable.is_some(),
                "webhook attempt failed"
            );
        }
        let attempt = attempt_of(delivery, outcome, status, duration_ms, error, now, disable);
        self.store_attempt(&attempt, reason).await
    }

    async fn store_attempt(&self, attempt: &WebhookAttempt, reason: Option<&'static str>) -> Handled {
        let result = match attempt.outcome {
            WebhookOutcome::Succeeded => WebhookAttemptResult::Succeeded,
            WebhookOutcome::Retry(_) => WebhookAttemptResult::Retried,
            WebhookOutcome::Failed => WebhookAttemptResult::Failed,
        };
        let disabled = attempt.disable.is_some();
        if let Some(observer) = &self.observer {
            observer.attempted(result, reason, disabled);
        }
        match self.ports.store.webhooks().finish_webhook_delivery(attempt).await {
            Ok(()) | Err(StoreError::NotFound) => Handled::Done(result, disabled),
            Err(error) => Handled::Unrecorded(result, error),
        }
    }

    async fn send(&self, request: &WebhookRequest) -> Result<u16, WebhookSendError> {
        let send = self.sender.send(request);
        match &self.timer {
            None => send.await,
            Some(timer) => match future::select(send, timer.sleep(self.settings.send_timeout.unsigned_abs())).await {
                Either::Left((result, _)) => result,
                Either::Right(((), _)) => Err(WebhookSendError::Timeout),
            },
        }
    }
}

/// What one attempt at `delivery` came to, for the store to record.
#[allow(clippy::too_many_arguments, reason = "one attempt's fields")]
fn attempt_of(
    delivery: &WebhookDelivery,
    outcome: WebhookOutcome,
    response_status: Option<u16>,
    duration_ms: u64,
    error: Option<String>,
    attempted_at: OffsetDateTime,
    disable: Option<DisabledNotice>,
) -> WebhookAttempt {
    WebhookAttempt {
        delivery_id: delivery.id,
        endpoint_id: delivery.endpoint_id,
        outcome,
        response_status,
        duration_ms,
        error,
        attempted_at,
        disable,
    }
}
