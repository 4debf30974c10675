//! What the email providers tell rsvp after a send: the [`SnsVerifier`]
//! port that proves an Amazon SNS message (SES's feedback) came from AWS.

use super::*;

/// The `Type` of an Amazon SNS message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnsMessageType {
    /// `Notification`: a message published to the topic.
    Notification,
    /// `SubscriptionConfirmation`: SNS asks the endpoint to confirm.
    SubscriptionConfirmation,
    /// `UnsubscribeConfirmation`: the subscription was removed.
    UnsubscribeConfirmation,
}

impl SnsMessageType {
    /// The wire name, as SNS writes it in `Type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Notification => "Notification",
            Self::SubscriptionConfirmation => "SubscriptionConfirmation",
            Self::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }

    /// The type of a wire name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Notification,
            Self::SubscriptionConfirmation,
            Self::UnsubscribeConfirmation,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == s)
    }
}

/// An Amazon SNS message as posted to rsvp's SES endpoint: the fields that
/// SNS signs, each exactly as received (the signature covers their text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsMessage {
    /// `Type`.
    pub kind: SnsMessageType,
    /// `MessageId`: unique per message; a redelivery keeps it.
    pub message_id: String,
    /// `TopicArn`.
    pub topic_arn: String,
    /// `Subject` (notifications may have one).
    pub subject: Option<String>,
    /// `Message`: for SES, the notification's JSON as a string.
    pub message: String,
    /// `Timestamp`, as sent (ISO 8601, e.g. `2026-12-06T10:00:00.000Z`).
    pub timestamp: String,
    /// `Token` (subscription and unsubscribe confirmations).
    pub token: Option<String>,
    /// `SubscribeURL` (subscription and unsubscribe confirmations).
    pub subscribe_url: Option<String>,
    /// `SignatureVersion`: `1` (SHA1withRSA) or `2` (SHA256withRSA).
    pub signature_version: String,
    /// `Signature`, base64.
    pub signature: String,
    /// `SigningCertURL`: where the signing certificate is.
    pub signing_cert_url: String,
}

/// Why an SNS message was not verified or a subscription not confirmed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnsError {
    /// The message is not AWS's: a bad signature, an unknown signature
    /// version, or a certificate or confirmation URL outside
    /// `https://sns.<region>.amazonaws.com/`. The endpoint answers 401.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The certificate or the confirmation URL could not be fetched: the
    /// message cannot be judged now (the endpoint answers 503; SNS retries).
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// Proves that an Amazon SNS message came from AWS, and confirms
/// subscriptions.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait SnsVerifier: Send + Sync {
    /// Checks `message.signature` (version 1: SHA1withRSA, version 2:
    /// SHA256withRSA) over the string AWS documents for its type, with the
    /// public key of the certificate at `signing_cert_url`. The certificate
    /// is fetched over https only from `sns.<region>.amazonaws.com` (an
    /// adapter may let a test point that check at a local server), and
    /// cached.
    ///
    /// # Errors
    /// [`SnsError::Rejected`] when the message is not proven AWS's;
    /// [`SnsError::Unavailable`] when the certificate cannot be fetched.
    async fn verify(&self, message: &SnsMessage) -> Result<(), SnsError>;

    /// Confirms a verified `SubscriptionConfirmation` by fetching its
    /// `SubscribeURL` (https, the same host rule as the certificate).
    ///
    /// # Errors
    /// [`SnsError::Rejected`] for a URL outside the allowed hosts;
    /// [`SnsError::Unavailable`] when the fetch fails.
    async fn confirm_subscription(&self, message: &SnsMessage) -> Result<(), SnsError>;
}
