//! The event bus (`RSVP_EVENTS_NATS_*`): its settings, read and checked,
//! and the relay that publishes the event log to it (NATS JetStream, with
//! the cargo feature `nats`, a default one: a binary built without it
//! refuses the URL at start instead of ignoring it).

use std::sync::Arc;

use rsvp_app::{EventRelay, EventRelayObserver, Ports, Secret};

/// Where events go.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "nats"), allow(dead_code, reason = "only the nats feature connects"))]
pub struct EventBusSettings {
    /// The NATS server(s) (`RSVP_EVENTS_NATS_URL`; it may hold a password).
    pub url: Secret,
    /// The subject prefix (`RSVP_EVENTS_NATS_SUBJECT`).
    pub subject: String,
}

/// The subject prefix when `RSVP_EVENTS_NATS_SUBJECT` is unset.
pub const DEFAULT_SUBJECT: &str = "rsvp.events";

/// Reads the `RSVP_EVENTS_NATS_*` settings through `get`: `None` when the
/// URL is unset (no relay).
///
/// # Errors
/// `(variable, problem)`: a URL that is not `nats://` or `tls://` (a
/// comma-separated list of them), a subject prefix that is not plain, or a
/// URL given to a binary built without the `nats` feature.
pub fn event_bus_settings<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
) -> Result<Option<EventBusSettings>, (&'static str, String)> {
    let given = |name: &str| get(name).map(str::trim).filter(|v| !v.is_empty());
    let Some(url) = given("RSVP_EVENTS_NATS_URL") else {
        return Ok(None);
    };
    if !cfg!(feature = "nats") {
        return Err((
            "RSVP_EVENTS_NATS_URL",
            "is set, but this rsvp was built without the `nats` feature (a default feature): \
             build it with default features, or unset the variable"
                .to_owned(),
        ));
    }
    for server in url.split(',').map(str::trim) {
        let scheme_ok = ["nats://", "tls://"].iter().any(|s| server.starts_with(s)) && server.len() > 7;
        if !scheme_ok {
            return Err((
                "RSVP_EVENTS_NATS_URL",
                "must be nats://HOST:PORT or tls://HOST:PORT (several: comma-separated)".to_owned(),
            ));
        }
    }
    let subject = given("RSVP_EVENTS_NATS_SUBJECT").unwrap_or(DEFAULT_SUBJECT).to_owned();
    let plain = subject
        .split('.')
        .all(|token| !token.is_empty() && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    if !plain {
        return Err((
            "RSVP_EVENTS_NATS_SUBJECT",
            format!("'{subject}' is not dot-separated tokens of letters, digits, '-' and '_' (no wildcards)"),
        ));
    }
    Ok(Some(EventBusSettings {
        url: Secret::new(url),
        subject,
    }))
}

/// The relay to the bus of `settings` (`None`: no bus), its publications
/// told to `observer`; the CloudEvents `source` is `public_url` when the
/// operator set one, else `rsvp`. Connects in the background: a bus that
/// is down at start only delays the relay.
///
/// # Errors
/// A URL the NATS client cannot use.
#[cfg(feature = "nats")]
pub async fn event_relay(
    settings: Option<&EventBusSettings>,
    public_url: Option<&str>,
    ports: &Ports,
    observer: Arc<dyn EventRelayObserver>,
) -> anyhow::Result<Option<EventRelay>> {
    use anyhow::Context as _;

    let Some(settings) = settings else {
        return Ok(None);
    };
    let config = rsvp_nats::NatsConfig::new(settings.url.expose(), settings.subject.clone())
        .with_source(public_url.unwrap_or("rsvp"));
    let stream = config.stream_name();
    let bus = rsvp_nats::NatsEventBus::connect(config)
        .await
        .context("RSVP_EVENTS_NATS_URL")?;
    tracing::info!(subject = %settings.subject, stream, "relaying events to NATS JetStream");
    let relay = EventRelay::new(ports.clone(), Arc::new(bus), rsvp_app::EventRelaySettings::default());
    Ok(Some(relay.with_observer(observer)))
}

/// Without the `nats` feature there is no bus (the settings refuse a URL).
#[cfg(not(feature = "nats"))]
pub async fn event_relay(
    _settings: Option<&EventBusSettings>,
    _public_url: Option<&str>,
    _ports: &Ports,
    _observer: Arc<dyn EventRelayObserver>,
) -> anyhow::Result<Option<EventRelay>> {
    Ok(None)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<Option<EventBusSettings>, (&'static str, String)> {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        event_bus_settings(|name| map.get(name).copied())
    }

    #[test]
    fn no_url_no_bus_and_the_subject_defaults_to_rsvp_events() {
        assert!(read(&[("RSVP_EVENTS_NATS_SUBJECT", "x.y")]).unwrap().is_none());
        if cfg!(feature = "nats") {
            let bus = read(&[("RSVP_EVENTS_NATS_URL", "nats://127.0.0.1:4222")])
                .unwrap()
                .unwrap();
            assert_eq!(
                (bus.url.expose(), bus.subject.as_str()),
                ("nats://127.0.0.1:4222", DEFAULT_SUBJECT)
            );
            let two = read(&[
                ("RSVP_EVENTS_NATS_URL", "nats://a:4222, tls://b:4222"),
                ("RSVP_EVENTS_NATS_SUBJECT", "acme.rsvp-1"),
            ]);
            assert_eq!(two.unwrap().unwrap().subject, "acme.rsvp-1");
        }
    }

    #[test]
    fn a_bad_url_or_subject_is_refused_by_name() {
        if !cfg!(feature = "nats") {
            return;
        }
        for url in ["127.0.0.1:4222", "http://x:4222", "nats://"] {
            let error = read(&[("RSVP_EVENTS_NATS_URL", url)]).unwrap_err();
            assert_eq!(error.0, "RSVP_EVENTS_NATS_URL", "{url}");
        }
        for subject in ["rsvp.>", "rsvp.*.x", "rsvp..x", "rsvp events"] {
            let error = read(&[
                ("RSVP_EVENTS_NATS_URL", "nats://h:1"),
                ("RSVP_EVENTS_NATS_SUBJECT", subject),
            ]);
            assert_eq!(error.unwrap_err().0, "RSVP_EVENTS_NATS_SUBJECT", "{subject}");
        }
    }

    #[cfg(not(feature = "nats"))]
    #[test]
    fn without_the_nats_feature_a_url_is_refused_with_a_clear_message() {
        let error = read(&[("RSVP_EVENTS_NATS_URL", "nats://127.0.0.1:4222")]).unwrap_err();
        assert_eq!(error.0, "RSVP_EVENTS_NATS_URL");
        assert!(error.1.contains("without the `nats` feature"), "{}", error.1);
    }
}
