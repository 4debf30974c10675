//! # rsvp-sns
//!
//! The [`SnsVerifier`] port for Amazon SNS ([`AwsSnsVerifier`]): proves that
//! a message posted to rsvp's SES feedback endpoint came from AWS, and
//! confirms subscriptions.
//!
//! A message is verified as AWS documents it ("Verifying the signatures of
//! Amazon SNS messages"):
//! - its `SignatureVersion` is `1` (SHA1withRSA) or `2` (SHA256withRSA);
//!   anything else is rejected;
//! - its `SigningCertURL` is `https://sns.<region>.amazonaws.com/….pem` (or
//!   `….amazonaws.com.cn` for China): https, no user or password, the
//!   default port, a path ending in `.pem`. Any other URL is rejected
//!   before anything is fetched;
//! - the certificate is fetched over https (the platform's roots, no
//!   redirect, no proxy, [`SnsSettings::fetch_timeout`], 64 KiB at most),
//!   and kept by URL ([`SnsSettings::cache_ttl`], at most
//!   [`SnsSettings::max_cached`] URLs; callers share a fetch);
//! - the certificate is valid now, its key is RSA (2048 to 8192 bits), and
//!   the `Signature` (base64) verifies over the string AWS signs for the
//!   message's type (its fields as `Name\nvalue\n`, in AWS's order).
//!
//! [`SnsVerifier::confirm_subscription`] GETs the `SubscribeURL` of a
//! `SubscriptionConfirmation` under the same host rule (https,
//! `sns.<region>.amazonaws.com`), once per call; the caller verifies the
//! message first.
//!
//! Nothing here logs a message's fields or a `SubscribeURL` (it carries the
//! subscription's token): a fetch logs the host and why it failed.
//!
//! ## Tests
//!
//! [`SnsSettings::test_endpoint`] points the host rule at one local https
//! server (`host:port`) whose certificate is trusted under a CA of the test's
//! own; it is refused unless [`SnsSettings::allow_test_endpoint`] is set too.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod cache;
mod fetch;
mod hosts;
mod settings;
mod signing;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use rsvp_app::Clock;
use rsvp_app::ports::{SnsError, SnsMessage, SnsMessageType, SnsVerifier};
use time::OffsetDateTime;

use cache::CertCache;
use fetch::{Fetcher, MAX_CONFIRM_BYTES};
use hosts::{HostRule, Purpose};
pub use settings::{
    DEFAULT_CACHE_TTL, DEFAULT_FETCH_TIMEOUT, DEFAULT_MAX_CACHED, SnsSettings, SnsSetupError, TestEndpoint,
};
use signing::{SignatureVersion, decode_signature, string_to_sign};

/// The system's clock (the default of [`AwsSnsVerifier::new`]).
struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// Verifies Amazon SNS messages and confirms subscriptions (see the crate's
/// documentation for what is checked).
pub struct AwsSnsVerifier {
    settings: SnsSettings,
    rule: HostRule,
    fetcher: Fetcher,
    cache: CertCache,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for AwsSnsVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsSnsVerifier")
            .field("settings", &self.settings)
            .field("certificates", &self.cache.len())
            .finish_non_exhaustive()
    }
}

impl AwsSnsVerifier {
    /// A verifier under `settings`, on the system's clock. Nothing is
    /// fetched yet. Installs rustls' `ring` provider as the process default
    /// unless one is installed already.
    ///
    /// # Errors
    /// [`SnsSetupError`] when the settings are refused (a zero timeout or
    /// cache, a test endpoint without the test flag or with a bad authority
    /// or CA) or the HTTP client cannot be built.
    pub fn new(settings: SnsSettings) -> Result<Self, SnsSetupError> {
        Self::with_clock(settings, Arc::new(SystemClock))
    }

    /// As [`AwsSnsVerifier::new`], time read from `clock` (the certificate's
    /// validity and the cache's age).
    ///
    /// # Errors
    /// As [`AwsSnsVerifier::new`].
    pub fn with_clock(settings: SnsSettings, clock: Arc<dyn Clock>) -> Result<Self, SnsSetupError> {
        if settings.fetch_timeout.is_zero() {
            return Err(SnsSetupError::Invalid("fetch timeout must be above zero"));
        }
        if settings.max_cached == 0 {
            return Err(SnsSetupError::Invalid("max cached certificates must be at least 1"));
        }
        let ttl = time::Duration::try_from(settings.cache_ttl)
            .map_err(|_| SnsSetupError::Invalid("cache time to live is out of range"))?;
        let rule = match &settings.test_endpoint {
            None => HostRule::Aws,
            Some(_) if !settings.allow_test_endpoint => return Err(SnsSetupError::TestEndpointNotAllowed),
            Some(endpoint) => {
                let (host, port) = endpoint.host_and_port()?;
                tracing::warn!(
                    authority = %endpoint.authority,
                    "SNS test endpoint in use: AWS's hosts are refused (tests only)"
                );
                HostRule::Exact { host, port }
            }
        };
        let fetcher = Fetcher::new(&settings)?;
        let cache = CertCache::new(fetcher.clone(), ttl, settings.max_cached, clock.clone());
        Ok(Self {
            settings,
            rule,
            fetcher,
            cache,
            clock,
        })
    }

    /// The settings this verifier runs under.
    pub fn settings(&self) -> &SnsSettings {
        &self.settings
    }
}

#[async_trait]
impl SnsVerifier for AwsSnsVerifier {
    async fn verify(&self, message: &SnsMessage) -> Result<(), SnsError> {
        // Everything that needs no fetch is judged first.
        let version = SignatureVersion::parse(&message.signature_version)?;
        let signature = decode_signature(&message.signature)?;
        let signed = string_to_sign(message)?;
        let url = self.rule.check(&message.signing_cert_url, Purpose::Certificate)?;
        let cert = self.cache.get(&url).await?;
        cert.verify(version, signed.as_bytes(), &signature, self.clock.now())
    }

    async fn confirm_subscription(&self, message: &SnsMessage) -> Result<(), SnsError> {
        if message.kind != SnsMessageType::SubscriptionConfirmation {
            return Err(SnsError::Rejected(format!(
                "{} is not a SubscriptionConfirmation",
                message.kind.as_str()
            )));
        }
        let raw = message
            .subscribe_url
            .as_deref()
            .ok_or_else(|| SnsError::Rejected("SubscriptionConfirmation without SubscribeURL".to_owned()))?;
        let url = self.rule.check(raw, Purpose::Subscribe)?;
        let host = url.host_str().unwrap_or_default();
        match self.fetcher.get(&url, MAX_CONFIRM_BYTES).await {
            Ok(_) => {
                tracing::info!(host, topic_arn = %message.topic_arn, "SNS subscription confirmed");
                Ok(())
            }
            Err(why) => {
                tracing::warn!(host, topic_arn = %message.topic_arn, reason = %why, "SNS subscription not confirmed");
                Err(SnsError::Unavailable(format!("SubscribeURL: {why}")))
            }
        }
    }
}

// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
