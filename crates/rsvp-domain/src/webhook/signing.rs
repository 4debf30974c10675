//! `whsec_` secrets and the `webhook-signature` header: signing for rsvp,
//! verifying for Rust receivers.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::{Duration, OffsetDateTime};

/// An endpoint's signing secret, `whsec_<base64 of the key>`. Its `Debug`
/// never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    text: String,
    key: Vec<u8>,
}

/// Why a secret or a signature was refused by [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The secret is not `whsec_<base64>`.
    InvalidSecret,
    /// `webhook-timestamp` is not unix seconds.
    InvalidTimestamp,
    /// `webhook-timestamp` is further from now than the tolerance (a replay,
    /// or a clock off).
    TimestampOutOfTolerance,
    /// No `v1` signature of the header matches.
    NoMatchingSignature,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidSecret => "the secret is not whsec_<base64>",
            Self::InvalidTimestamp => "webhook-timestamp is not unix seconds",
            Self::TimestampOutOfTolerance => "webhook-timestamp is too far from now",
            Self::NoMatchingSignature => "no signature matches",
        })
    }
}

impl std::error::Error for VerifyError {}

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(signed_content(id, timestamp, body).as_slice());
    mac
}

/// What is signed: `{id}.{timestamp}.{body}`.
pub fn signed_content(id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut content = format!("{id}.{timestamp}.").into_bytes();
    content.extend_from_slice(body);
    content
}

impl WebhookSecret {
    /// A secret whose key is `key` (rsvp makes keys of 43 random URL-safe
    /// characters: 256 bits).
    pub fn from_key(key: &[u8]) -> Self {
        Self {
            text: format!("whsec_{}", STANDARD.encode(key)),
            key: key.to_vec(),
        }
    }

    /// Reads `whsec_<base64>` (the prefix may be left out, as the Standard
    /// Webhooks libraries allow).
    ///
    /// # Errors
    /// [`VerifyError::InvalidSecret`] when the rest is not base64 of at least
    /// one byte.
    pub fn parse(text: &str) -> Result<Self, VerifyError> {
        let encoded = text.strip_prefix("whsec_").unwrap_or(text);
        let key = STANDARD.decode(encoded).map_err(|_| VerifyError::InvalidSecret)?;
        if key.is_empty() {
            return Err(VerifyError::InvalidSecret);
        }
        Ok(Self {
            text: format!("whsec_{encoded}"),
            key,
        })
    }

    /// `whsec_<base64>`: only to show it to its owner, or to store it.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// `v1,<base64 HMAC-SHA256 of {id}.{timestamp}.{body}>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!(
            "v1,{}",
            STANDARD.encode(mac(&self.key, id, timestamp, body).finalize().into_bytes())
        )
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// The `webhook-signature` header: one signature per secret, space-separated
/// (during a rotation's overlap, the new secret's and the previous one's).
pub fn sign(secrets: &[&WebhookSecret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| secret.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The three headers of a delivery, as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookHeaders<'a> {
    /// `webhook-id`: the event id, the same on every retry (dedupe on it).
    pub id: &'a str,
    /// `webhook-timestamp`: unix seconds of the attempt.
    pub timestamp: &'a str,
    /// `webhook-signature`: space-separated `v1,<base64>` signatures.
    pub signature: &'a str,
}

/// Verifies a delivery: the timestamp is within `tolerance` of `now`, and
/// one of the `v1` signatures is the HMAC of `{id}.{timestamp}.{body}` with
/// `secret` (compared in constant time). `body` must be the raw bytes
/// received, before any JSON parsing.
///
/// # Errors
/// A [`VerifyError`] saying what failed.
pub fn verify(
    secret: &str,
    headers: &WebhookHeaders<'_>,
    body: &[u8],
    now: OffsetDateTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let secret = WebhookSecret::parse(secret)?;
    let timestamp: i64 = headers
        .timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::InvalidTimestamp)?;
    let skew = Duration::seconds(now.unix_timestamp().saturating_sub(timestamp)).abs();
    if skew > tolerance {
        return Err(VerifyError::TimestampOutOfTolerance);
    }
    let expected = mac(&secret.key, headers.id, timestamp, body);
    let matches = headers
        .signature
        .split(' ')
        .filter_map(|part| part.strip_prefix("v1,"))
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .any(|given| expected.clone().verify_slice(&given).is_ok());
    if matches {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}
