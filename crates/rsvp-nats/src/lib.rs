//! # rsvp-nats
//!
//! rsvp's event bus on NATS JetStream: [`NatsEventBus`] implements
//! [`rsvp_app::EventBus`], which `rsvp_app::EventRelay` publishes the event
//! log to, in commit order.
//!
//! * One message per event on `<subject>.<business id>.<event type>`
//!   ([`cloud_event::subject`]), e.g.
//!   `rsvp.events.0190….invitation.accepted`.
//! * Its body is a CloudEvents 1.0 event in JSON ([`cloud_event::body`]),
//!   `data` being the event as `GET /v1/events` shows it.
//! * The header `Nats-Msg-Id` is the event's id: JetStream drops a message
//!   published again within the stream's duplicate window (2 minutes), so
//!   the relay's at-least-once becomes once.
//! * Each message is published after the previous one was acknowledged
//!   (stored by JetStream), so a business's events are stored in order.
//! * The stream ([`NatsConfig::stream_name`], subjects `<subject>.>`) is
//!   created when missing, with that duplicate window; one that exists (or
//!   another stream holding these subjects) is used as it is.
//!
//! [`NatsEventBus::connect`] returns at once even when the server is down:
//! the client connects and reconnects in the background, and publishing
//! fails (the relay backs off and tries again) until it is up.
//!
//! ```no_run
//! use std::sync::Arc;
//! use rsvp_nats::{NatsConfig, NatsEventBus};
//!
//! # async fn run(ports: rsvp_app::Ports) -> Result<(), rsvp_nats::NatsError> {
//! let bus = NatsEventBus::connect(NatsConfig::new("nats://127.0.0.1:4222", "rsvp.events")).await?;
//! let relay = rsvp_app::EventRelay::new(ports, Arc::new(bus), rsvp_app::EventRelaySettings::default());
//! # drop(relay);
//! # Ok(())
//! # }
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage, stream};
use async_trait::async_trait;
use rsvp_app::{EventBus, EventBusError};
use rsvp_domain::Event;

pub mod cloud_event;

/// How long JetStream remembers a message id to drop a copy (2 minutes,
/// JetStream's own default): a relay that stops mid-batch and starts again
/// (or another replica taking over after the relay's 15 s lease) publishes
/// the unacknowledged rest well within it.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Where and how to publish.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NatsConfig {
    /// The server(s), e.g. `nats://127.0.0.1:4222` (`RSVP_EVENTS_NATS_URL`;
    /// a user and password in the URL are used to log in).
    pub url: String,
    /// The subject prefix (`RSVP_EVENTS_NATS_SUBJECT`, default
    /// `rsvp.events`).
    pub subject: String,
    /// The CloudEvents `source` of every event (default `rsvp`; the server
    /// gives its public URL when `RSVP_PUBLIC_URL` is set).
    pub source: String,
    /// The duplicate window of a stream this bus creates (default
    /// [`DUPLICATE_WINDOW`]).
    pub duplicate_window: Duration,
    /// How long one publication waits for its acknowledgement (default
    /// 5 s).
    pub ack_timeout: Duration,
}

impl std::fmt::Debug for NatsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("NatsConfig")
            .field("url", &"<redacted>")
            .field("subject", &self.subject)
            .field("source", &self.source)
            .field("duplicate_window", &self.duplicate_window)
            .field("ack_timeout", &self.ack_timeout)
            .finish()
    }
}

impl NatsConfig {
    /// The defaults for the server `url` and the subject prefix `subject`.
    pub fn new(url: impl Into<String>, subject: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            subject: subject.into(),
            source: "rsvp".to_owned(),
            duplicate_window: DUPLICATE_WINDOW,
            ack_timeout: Duration::from_secs(5),
        }
    }

    /// The same with `source` as the CloudEvents `source`.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// The stream's name: the subject prefix upper-cased, its dots and
    /// other characters a stream name cannot hold as `_` (`rsvp.events` →
    /// `RSVP_EVENTS`).
    pub fn stream_name(&self) -> String {
        self.subject
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect()
    }

    /// Checks the subject prefix: tokens of letters, digits, `-` and `_`
    /// separated by dots (no wildcard, no empty token).
    ///
    /// # Errors
    /// [`NatsError::Subject`] naming what is wrong.
    pub fn check(&self) -> Result<(), NatsError> {
        let valid_token =
            |token: &str| !token.is_empty() && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if self.subject.split('.').all(valid_token) {
            Ok(())
        } else {
            Err(NatsError::Subject(self.subject.clone()))
        }
    }
}

/// Why the bus could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NatsError {
    /// The subject prefix is not a plain subject.
    #[error("{0:?} is not a subject prefix: dot-separated tokens of letters, digits, '-' and '_' (no wildcards)")]
    Subject(String),
    /// The URL cannot be used.
    #[error("cannot use the NATS server URL: {0}")]
    Connect(String),
}

/// The [`EventBus`] on NATS JetStream (see the crate doc).
#[derive(Debug)]
pub struct NatsEventBus {
    jetstream: jetstream::Context,
    config: NatsConfig,
    /// Whether the stream was found or created since the last failure.
    stream_ready: AtomicBool,
}

impl NatsEventBus {
    /// A bus on the server of `config`. Returns at once whether or not the
    /// server answers: the client connects (and reconnects) in the
    /// background.
    ///
    /// # Errors
    /// [`NatsError::Subject`] for a subject prefix that is not plain,
    /// [`NatsError::Connect`] for a URL that cannot be used.
    pub async fn connect(config: NatsConfig) -> Result<Self, NatsError> {
        config.check()?;
        let client = async_nats::ConnectOptions::new()
            .name("rsvp")
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(2))
            .connect(config.url.as_str())
            .await
            .map_err(|e| NatsError::Connect(e.to_string()))?;
        let mut jetstream = jetstream::new(client);
        jetstream.set_timeout(config.ack_timeout);
        Ok(Self {
            jetstream,
            config,
            stream_ready: AtomicBool::new(false),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &NatsConfig {
        &self.config
    }

    /// Finds the stream, creating it when missing (once, then again after
    /// a failure: it may have been deleted).
    async fn ensure_stream(&self) -> Result<(), String> {
        if self.stream_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let subjects = format!("{}.>", self.config.subject);
        let config = stream::Config {
            name: self.config.stream_name(),
            subjects: vec![subjects.clone()],
            duplicate_window: self.config.duplicate_window,
            ..stream::Config::default()
        };
        match self.jetstream.get_or_create_stream(config).await {
            Ok(_) => {}
            Err(error) => {
                // The platform may keep these subjects in a stream of its own.
                let other = self.jetstream.stream_by_subject(subjects.clone()).await;
                if other.is_err() {
                    return Err(format!("no stream for {subjects}: {error}"));
                }
            }
        }
        self.stream_ready.store(true, Ordering::Release);
        Ok(())
    }

    async fn publish_one(&self, event: &Event) -> Result<(), String> {
        let body = cloud_event::body(event, &self.config.source).map_err(|e| e.to_string())?;
        let publish = PublishMessage::build()
            .payload(body.into())
            .message_id(event.id.to_string());
        let subject = cloud_event::subject(&self.config.subject, event);
        let ack = self
            .jetstream
            .send_publish(subject, publish)
            .await
            .map_err(|e| e.to_string())?;
        ack.await.map_err(|e| e.to_string())?;
        Ok(())
    }
}

#[async_trait]
impl EventBus for NatsEventBus {
    async fn publish(&self, events: &[Event]) -> Result<(), EventBusError> {
        self.ensure_stream().await.map_err(|reason| EventBusError {
            acknowledged: 0,
            reason,
        })?;
        for (acknowledged, event) in events.iter().enumerate() {
            if let Err(reason) = self.publish_one(event).await {
                self.stream_ready.store(false, Ordering::Release);
                return Err(EventBusError { acknowledged, reason });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_named_after_the_subject_and_the_subject_is_checked() {
        let config = NatsConfig::new("nats://127.0.0.1:4222", "rsvp.events");
        assert_eq!(config.stream_name(), "RSVP_EVENTS");
        assert!(config.check().is_ok());
        assert_eq!(NatsConfig::new("", "my-app.rsvp_1").stream_name(), "MY-APP_RSVP_1");
        for bad in ["", "rsvp.", ".rsvp", "rsvp.*", "rsvp.>", "rsvp events", "rsvp..events"] {
            assert!(NatsConfig::new("", bad).check().is_err(), "{bad:?}");
        }
        assert!(!format!("{:?}", NatsConfig::new("nats://u:secret@h", "s")).contains("secret"));
    }
}

// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
