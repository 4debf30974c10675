//! Prometheus metrics, kept in-process and rendered as text at `/metrics`:
//! requests by route, method and status; latency histograms by route; state
//! transitions by target status; email attempts by transport, outcome and
//! reason (as the [`DispatchObserver`] of the email dispatcher); the outbox
//! depth and the age of its oldest queued email; the event relay's lag and
//! its publications (as the relay's [`EventRelayObserver`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use rsvp_app::{
    AttemptOutcome, DispatchObserver, EventRelayObserver, FailureReason, WebhookAttemptResult, WebhookObserver,
};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    transitions: BTreeMap<String, u64>,
    /// (transport, outcome, reason or "") → attempts.
    emails: BTreeMap<(String, &'static str, &'static str), u64>,
    /// (result, reason or "") → webhook attempts.
    webhooks: BTreeMap<(&'static str, &'static str), u64>,
    /// Webhook endpoints disabled after failing for days.
    webhook_endpoints_disabled: u64,
    /// Events the relay published (acknowledged by the bus).
    relay_published: u64,
    /// Publications of the relay that failed.
    relay_publish_failures: u64,
    /// (provider, result) → provider POSTs received.
    provider_events: BTreeMap<(&'static str, &'static str), u64>,
}

/// The outbox gauges, read from the store at scrape time (`None`: the store
/// did not answer, the gauge is left out).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OutboxGauges {
    /// Email jobs queued.
    pub depth: Option<u64>,
    /// Seconds since the oldest queued email job was created (0 when none).
    pub oldest_queued_age_seconds: Option<f64>,
    /// Webhook deliveries pending.
    pub webhook_depth: Option<u64>,
    /// Events the relay has not published yet (`None`: no relay, or the
    /// store did not answer).
    pub relay_lag_events: Option<u64>,
    /// Seconds since the first of them occurred (0 when none).
    pub relay_lag_seconds: Option<f64>,
}

/// The metrics registry of one server.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        // A panic elsewhere while holding the lock must not take metrics down with it.
        let mut guard = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }

    /// Records one request.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        self.with(|inner| {
            *inner
                .requests
                .entry((route.to_owned(), method.to_owned(), status))
                .or_default() += 1;
            let histogram = inner.latency.entry(route.to_owned()).or_default();
            for (i, bound) in BUCKETS.iter().enumerate() {
                if seconds <= *bound {
                    histogram.counts[i] += 1;
                }
            }
            histogram.count += 1;
            histogram.sum += seconds;
        });
    }

    /// Records one provider POST and what came of it (`applied`,
    /// `duplicate`, `unknown_message`, `ignored`, `subscription_confirmed`).
    pub fn observe_provider_event(&self, provider: &'static str, result: &'static str) {
        self.with(|inner| *inner.provider_events.entry((provider, result)).or_default() += 1);
    }

    /// Records one state transition into `status`.
    pub fn observe_transition(&self, status: &str) {
        self.with(|inner| *inner.transitions.entry(status.to_owned()).or_default() += 1);
    }

    /// Records one email attempt.
    pub fn observe_email(&self, transport: &str, outcome: AttemptOutcome, reason: Option<FailureReason>) {
        self.with(|inner| {
            *inner
                .emails
                .entry((
                    transport.to_owned(),
                    outcome.as_str(),
                    reason.map_or("", FailureReason::as_str),
                ))
                .or_default() += 1;
        });
    }

    /// The Prometheus text exposition (format 0.0.4), with the outbox gauges
    /// the store told.
    pub fn render(&self, outbox: &OutboxGauges) -> String {
        self.with(|inner| {
            let mut out = String::new();
            if let Some(depth) = outbox.depth {
                out.push_str("# HELP rsvp_email_outbox_depth Email jobs queued (due or waiting for a retry).\n");
                out.push_str("# TYPE rsvp_email_outbox_depth gauge\n");
                let _ = writeln!(out, "rsvp_email_outbox_depth {depth}");
            }
            if let Some(age) = outbox.oldest_queued_age_seconds {
                out.push_str(
                    "# HELP rsvp_email_oldest_queued_age_seconds Seconds since the oldest queued email job was created.\n",
                );
                out.push_str("# TYPE rsvp_email_oldest_queued_age_seconds gauge\n");
                let _ = writeln!(out, "rsvp_email_oldest_queued_age_seconds {age}");
            }
            if let Some(depth) = outbox.webhook_depth {
                out.push_str(
                    "# HELP rsvp_webhook_outbox_depth Webhook deliveries pending (due or waiting for a retry).\n",
                );
                out.push_str("# TYPE rsvp_webhook_outbox_depth gauge\n");
                let _ = writeln!(out, "rsvp_webhook_outbox_depth {depth}");
            }
            if let Some(lag) = outbox.relay_lag_events {
                out.push_str("# HELP rsvp_event_relay_lag_events Events not yet published to the event bus.\n");
                out.push_str("# TYPE rsvp_event_relay_lag_events gauge\n");
                let _ = writeln!(out, "rsvp_event_relay_lag_events {lag}");
            }
            if let Some(lag) = outbox.relay_lag_seconds {
                out.push_str(
                    "# HELP rsvp_event_relay_lag_seconds Seconds since the oldest event not yet published to the event bus occurred.\n",
                );
                out.push_str("# TYPE rsvp_event_relay_lag_seconds gauge\n");
                let _ = writeln!(out, "rsvp_event_relay_lag_seconds {lag}");
            }
            out.push_str("# HELP rsvp_event_relay_published_total Events published to the event bus and acknowledged.\n");
            out.push_str("# TYPE rsvp_event_relay_published_total counter\n");
            let _ = writeln!(out, "rsvp_event_relay_published_total {}", inner.relay_published);
            out.push_str(
                "# HELP rsvp_event_relay_publish_failures_total Publications to the event bus that failed (retried with backoff).\n",
            );
            out.push_str("# TYPE rsvp_event_relay_publish_failures_total counter\n");
            let _ = writeln!(
                out,
                "rsvp_event_relay_publish_failures_total {}",
                inner.relay_publish_failures
            );
            for (outcome, name, help, with_reason) in [
                ("sent", "rsvp_emails_sent_total", "Emails the transport accepted, by transport.", false),
                (
                    "retried",
                    "rsvp_emails_retried_total",
                    "Email attempts that failed and will be retried, by transport and reason.",
                    true,
                ),
                (
                    "failed",
                    "rsvp_emails_failed_total",
                    "Emails given up, by transport and reason.",
                    true,
                ),
            ] {
                let _ = writeln!(out, "# HELP {name} {help}");
                let _ = writeln!(out, "# TYPE {name} counter");
                for ((transport, _, reason), n) in inner.emails.iter().filter(|((_, o, _), _)| *o == outcome) {
                    let transport = escape(transport);
                    if with_reason {
                        let _ = writeln!(out, "{name}{{transport=\"{transport}\",reason=\"{reason}\"}} {n}");
                    } else {
                        let _ = writeln!(out, "{name}{{transport=\"{transport}\"}} {n}");
                    }
                }
            }
            out.push_str("# HELP rsvp_webhook_attempts_total Webhook delivery attempts by result and reason.\n");
            out.push_str("# TYPE rsvp_webhook_attempts_total counter\n");
            for ((result, reason), n) in &inner.webhooks {
                let _ = writeln!(
                    out,
                    "rsvp_webhook_attempts_total{{result=\"{result}\",reason=\"{reason}\"}} {n}"
                );
            }
            out.push_str(
                "# HELP rsvp_webhook_endpoints_disabled_total Webhook endpoints disabled after failing for 5 days.\n",
            );
            out.push_str("# TYPE rsvp_webhook_endpoints_disabled_total counter\n");
            let _ = writeln!(
                out,
                "rsvp_webhook_endpoints_disabled_total {}",
                inner.webhook_endpoints_disabled
            );
            out.push_str("# HELP rsvp_http_requests_total HTTP requests by route, method and status.\n");
            out.push_str("# TYPE rsvp_http_requests_total counter\n");
            for ((route, method, status), n) in &inner.requests {
                let _ = writeln!(
                    out,
                    "rsvp_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                    escape(route),
                    escape(method)
                );
            }
            out.push_str("# HELP rsvp_http_request_duration_seconds HTTP request latency by route.\n");
            out.push_str("# TYPE rsvp_http_request_duration_seconds histogram\n");
            for (route, h) in &inner.latency {
                let route = escape(route);
                for (bound, count) in BUCKETS.iter().zip(h.counts) {
                    let _ = writeln!(
                        out,
                        "rsvp_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}"
                    );
                }
                let _ = writeln!(
                    out,
                    "rsvp_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "rsvp_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                    h.sum
                );
                let _ = writeln!(
                    out,
                    "rsvp_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    h.count
                );
            }
            out.push_str(
                "# HELP rsvp_provider_events_total Email providers' reports received, by provider and result (unknown_message: no email rsvp sent matches).\n",
            );
            out.push_str("# TYPE rsvp_provider_events_total counter\n");
            for ((provider, result), n) in &inner.provider_events {
                let _ = writeln!(
                    out,
                    "rsvp_provider_events_total{{provider=\"{provider}\",result=\"{result}\"}} {n}"
                );
            }
            out.push_str("# HELP rsvp_invitation_transitions_total Invitation state transitions by new status.\n");
            out.push_str("# TYPE rsvp_invitation_transitions_total counter\n");
            for (status, n) in &inner.transitions {
                let _ = writeln!(
                    out,
                    "rsvp_invitation_transitions_total{{status=\"{}\"}} {n}",
                    escape(status)
                );
            }
            out
        })
    }
}

/// The email dispatcher's attempts, counted.
impl DispatchObserver for Metrics {
    fn attempted(&self, transport: &str, outcome: AttemptOutcome, reason: Option<FailureReason>) {
        self.observe_email(transport, outcome, reason);
    }
}

/// The webhook dispatcher's attempts, counted.
impl WebhookObserver for Metrics {
    fn attempted(&self, result: WebhookAttemptResult, reason: Option<&'static str>, disabled: bool) {
        self.with(|inner| {
            *inner
                .webhooks
                .entry((result.as_str(), reason.unwrap_or("")))
                .or_default() += 1;
            inner.webhook_endpoints_disabled += u64::from(disabled);
        });
    }
}

/// The event relay's publications, counted.
impl EventRelayObserver for Metrics {
    fn published(&self, events: usize) {
        self.with(|inner| inner.relay_published += events as u64);
    }

    fn publish_failed(&self) {
        self.with(|inner| inner.relay_publish_failures += 1);
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_latency_are_counted_per_route() {
        let metrics = Metrics::new();
        metrics.observe_request("/v1/invitations", "POST", 201, Duration::from_millis(3));
        metrics.observe_request("/v1/invitations", "POST", 201, Duration::from_millis(30));
        metrics.observe_transition("accepted");
        let text = metrics.render(&OutboxGauges {
            depth: Some(7),
            oldest_queued_age_seconds: Some(12.5),
            webhook_depth: Some(3),
            relay_lag_events: Some(4),
            relay_lag_seconds: Some(1.5),
        });
        assert!(text.contains("rsvp_email_outbox_depth 7"));
        assert!(text.contains("rsvp_email_oldest_queued_age_seconds 12.5"));
        assert!(text.contains("rsvp_webhook_outbox_depth 3"));
        let without_store = metrics.render(&OutboxGauges::default());
        assert!(!without_store.contains("outbox_depth"));
        assert!(!without_store.contains("oldest_queued"));
        assert!(!without_store.contains("webhook_outbox_depth"));
        assert!(text.contains("rsvp_event_relay_lag_events 4"));
        assert!(text.contains("rsvp_event_relay_lag_seconds 1.5"));
        assert!(!without_store.contains("rsvp_event_relay_lag"), "no relay, no lag");
        assert!(text.contains("rsvp_http_requests_total{route=\"/v1/invitations\",method=\"POST\",status=\"201\"} 2"));
        assert!(text.contains("rsvp_http_request_duration_seconds_bucket{route=\"/v1/invitations\",le=\"0.005\"} 1"));
        assert!(text.contains("rsvp_http_request_duration_seconds_count{route=\"/v1/invitations\"} 2"));
        assert!(text.contains("rsvp_invitation_transitions_total{status=\"accepted\"} 1"));
    }

    #[test]
    fn email_attempts_are_counted_by_transport_outcome_and_reason() {
        let metrics = Metrics::new();
        let observer: &dyn DispatchObserver = &metrics;
        observer.attempted("smtp", AttemptOutcome::Sent, None);
        observer.attempted("smtp", AttemptOutcome::Sent, None);
        observer.attempted("smtp", AttemptOutcome::Retried, Some(FailureReason::Timeout));
        observer.attempted("http", AttemptOutcome::Failed, Some(FailureReason::Permanent));
        let text = metrics.render(&OutboxGauges::default());
        assert!(text.contains("rsvp_emails_sent_total{transport=\"smtp\"} 2"), "{text}");
        assert!(text.contains("rsvp_emails_retried_total{transport=\"smtp\",reason=\"timeout\"} 1"));
        assert!(text.contains("rsvp_emails_failed_total{transport=\"http\",reason=\"permanent\"} 1"));
        assert!(text.contains("# TYPE rsvp_emails_failed_total counter"));
    }

    #[test]
    fn the_relays_publications_and_failures_are_counted() {
        let metrics = Metrics::new();
        let observer: &dyn EventRelayObserver = &metrics;
        let text = metrics.render(&OutboxGauges::default());
        assert!(text.contains("rsvp_event_relay_publish_failures_total 0"), "{text}");
        observer.published(3);
        observer.publish_failed();
        observer.publish_failed();
        let text = metrics.render(&OutboxGauges::default());
        assert!(text.contains("rsvp_event_relay_published_total 3"), "{text}");
        assert!(text.contains("rsvp_event_relay_publish_failures_total 2"), "{text}");
        assert!(text.contains("# TYPE rsvp_event_relay_publish_failures_total counter"));
    }
}
