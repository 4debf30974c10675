//! Email providers' reports: Postmark's webhooks (HTTP Basic credentials)
//! and Amazon SES's through Amazon SNS (signed messages), applied to the
//! invitations their emails were about.

use std::sync::Arc;

use rsvp_domain::{EmailFeedback, EmailJobId, EventId, SuppressionId};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::ports::{EmailProvider, EmailReport, ReportOutcome, SnsError, SnsMessage, SnsMessageType, SnsVerifier};
use crate::{App, AppError, Secret};

/// How old an SNS message may be (its signed `Timestamp`): a replay of an
/// older one is refused. SNS retries an HTTP delivery for about an hour at
/// most with its default policy.
pub const SNS_MAX_AGE: Duration = Duration::hours(1);

/// How long a provider's report id is remembered, so that its retries
/// (within hours, at most a few days) have no second effect.
pub const REPORT_ID_RETENTION: Duration = Duration::days(7);

/// How far in the future an SNS `Timestamp` may be (clock skew).
const SNS_MAX_SKEW: Duration = Duration::minutes(5);

/// What a provider reported, read from its payload by the HTTP adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderReport {
    /// Who reported.
    pub provider: EmailProvider,
    /// The provider's id of this report: the same id twice has one effect.
    pub report_id: String,
    /// rsvp's email job id, when the report carries it back.
    pub job_id: Option<EmailJobId>,
    /// The provider's id of the email.
    pub provider_message_id: Option<String>,
    /// What happened to the email.
    pub feedback: EmailFeedback,
}

/// What an SNS message was, once verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnsReceipt {
    /// A notification: its `Message` holds the provider's report.
    Notification,
    /// A subscription confirmation, confirmed.
    SubscriptionConfirmed,
    /// An unsubscribe confirmation: nothing to do.
    Unsubscribed,
}

/// The Postmark webhook's HTTP Basic credentials.
struct PostmarkCredentials {
    user: Secret,
    password: Secret,
}

/// Amazon SES's feedback through SNS: the verifier and the topics allowed.
struct SesFeedback {
    verifier: Arc<dyn SnsVerifier>,
    topic_arns: Vec<String>,
}

/// Which providers' reports are accepted.
#[derive(Clone, Default)]
pub(crate) struct Feedback {
    postmark: Option<Arc<PostmarkCredentials>>,
    ses: Option<Arc<SesFeedback>>,
}

impl std::fmt::Debug for Feedback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feedback")
            .field("postmark", &self.postmark.is_some())
            .field("ses", &self.ses.is_some())
            .finish()
    }
}

/// Whether `given` equals `expected`, in a time that does not depend on
/// where they first differ (credentials must not leak through timing).
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let differences = given
        .iter()
        .zip(expected)
        .fold(given.len() ^ expected.len(), |acc, (a, b)| acc | usize::from(a ^ b));
    // Walk the whole expected value even when `given` is shorter.
    let padding = expected
        .iter()
        .skip(given.len())
        .fold(0usize, |acc, b| acc | usize::from(*b));
    std::hint::black_box(padding);
    differences == 0
}

impl App {
    /// Accepts Postmark's webhooks sent with these HTTP Basic credentials
    /// ([`App::authenticate_postmark`]).
    #[must_use]
    pub fn with_postmark_webhook(mut self, user: Secret, password: Secret) -> Self {
        self.feedback.postmark = Some(Arc::new(PostmarkCredentials { user, password }));
        self
    }

    /// Accepts Amazon SES's reports through SNS messages from `topic_arns`,
    /// verified by `verifier` ([`App::receive_sns`]).
    #[must_use]
    pub fn with_ses_feedback(mut self, verifier: Arc<dyn SnsVerifier>, topic_arns: Vec<String>) -> Self {
        self.feedback.ses = Some(Arc::new(SesFeedback { verifier, topic_arns }));
        self
    }

    /// Whether Postmark's webhooks are accepted.
    pub fn accepts_postmark(&self) -> bool {
        self.feedback.postmark.is_some()
    }

    /// Whether Amazon SES's reports are accepted.
    pub fn accepts_ses(&self) -> bool {
        self.feedback.ses.is_some()
    }

    /// Checks the HTTP Basic credentials of a Postmark webhook, in constant
    /// time.
    ///
    /// # Errors
    /// [`AppError::NotFound`] when Postmark's webhooks are not configured;
    /// [`AppError::Unauthorized`] for other credentials.
    pub fn authenticate_postmark(&self, user: &str, password: &str) -> Result<(), AppError> {
        let credentials = self.feedback.postmark.as_ref().ok_or(AppError::NotFound)?;
        // Both compared, whatever the first gives.
        let user_ok = same_secret(user.as_bytes(), credentials.user.expose().as_bytes());
        let password_ok = same_secret(password.as_bytes(), credentials.password.expose().as_bytes());
        if user_ok & password_ok {
            Ok(())
        } else {
            Err(AppError::Unauthorized)
        }
    }

    /// Verifies an SNS message for the SES endpoint: its topic is allowed,
    /// its `Timestamp` is at most [`SNS_MAX_AGE`] old, its signature is
    /// AWS's; a subscription confirmation is then confirmed.
    ///
    /// # Errors
    /// [`AppError::NotFound`] when SES's reports are not configured;
    /// [`AppError::Unauthorized`] for a topic not allowed, a stale or
    /// unreadable timestamp, or a signature not proven AWS's;
    /// [`AppError::Unavailable`] when the certificate or the confirmation
    /// URL cannot be fetched now.
    pub async fn receive_sns(&self, message: &SnsMessage) -> Result<SnsReceipt, AppError> {
        let ses = self.feedback.ses.as_ref().ok_or(AppError::NotFound)?;
        if !ses.topic_arns.contains(&message.topic_arn) {
            tracing::warn!(topic_arn = %message.topic_arn, "an SNS message from a topic not in RSVP_SES_TOPIC_ARNS");
            return Err(AppError::Unauthorized);
        }
        let sent_at = OffsetDateTime::parse(&message.timestamp, &Rfc3339).map_err(|_| AppError::Unauthorized)?;
        let now = self.now();
        if sent_at < now - SNS_MAX_AGE || sent_at > now + SNS_MAX_SKEW {
            tracing::warn!(sent_at = %message.timestamp, "a stale SNS message refused");
            return Err(AppError::Unauthorized);
        }
        let sns_error = |error: SnsError| match error {
            SnsError::Rejected(reason) => {
                tracing::warn!(%reason, "an SNS message not proven AWS's");
                AppError::Unauthorized
            }
            SnsError::Unavailable(reason) => AppError::Unavailable(reason),
        };
        ses.verifier.verify(message).await.map_err(sns_error)?;
        match message.kind {
            SnsMessageType::Notification => Ok(SnsReceipt::Notification),
            SnsMessageType::SubscriptionConfirmation => {
                ses.verifier.confirm_subscription(message).await.map_err(sns_error)?;
                tracing::info!(topic_arn = %message.topic_arn, "SNS subscription confirmed");
                Ok(SnsReceipt::SubscriptionConfirmed)
            }
            SnsMessageType::UnsubscribeConfirmation => {
                tracing::warn!(topic_arn = %message.topic_arn, "SNS unsubscribed this endpoint");
                Ok(SnsReceipt::Unsubscribed)
            }
        }
    }

    /// Applies a provider's report: the invitation's `email_delivery`, its
    /// event and webhook, and the suppression of a hard bounce or a
    /// complaint (see [`FeedbackStore::record_email_report`](crate::FeedbackStore::record_email_report)).
    ///
    /// # Errors
    /// [`AppError::Unavailable`] when the store fails.
    pub async fn record_provider_report(&self, report: ProviderReport) -> Result<ReportOutcome, AppError> {
        let report = EmailReport {
            provider: report.provider,
            report_id: report.report_id,
            job_id: report.job_id,
            provider_message_id: report.provider_message_id,
            feedback: report.feedback,
            received_at: self.now(),
            event_id: EventId::from_uuid(self.new_id()),
            suppression_id: SuppressionId::from_uuid(self.new_id()),
        };
        let outcome = self.ports.store.feedback().record_email_report(&report).await?;
        if let ReportOutcome::Applied { suppressed: true, .. } = &outcome {
            tracing::info!(
                provider = report.provider.as_str(),
                "an address was suppressed on the provider's report"
            );
        }
        Ok(outcome)
    }

    /// Forgets up to `batch` providers' report ids older than
    /// [`REPORT_ID_RETENTION`]; returns how many. Call it again while it
    /// returns `batch`.
    ///
    /// # Errors
    /// [`AppError::Unavailable`] when the store fails.
    pub async fn prune_provider_reports(&self, batch: usize) -> Result<u64, AppError> {
        let cutoff = self.now() - REPORT_ID_RETENTION;
        Ok(self.ports.store.feedback().prune_email_reports(cutoff, batch).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_match_only_when_equal_in_length_and_every_byte() {
        assert!(same_secret(b"hunter2", b"hunter2"));
        assert!(!same_secret(b"hunter3", b"hunter2"));
        assert!(!same_secret(b"hunter", b"hunter2"));
        assert!(!same_secret(b"hunter22", b"hunter2"));
        assert!(!same_secret(b"", b"x"));
        assert!(same_secret(b"", b""));
    }
}
