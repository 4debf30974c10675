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

    /// Checks the HTTP Basic credentials of a Postmark webhook, each compared
    /// as digests ([`App::secret_matches`]), so the time says nothing of them.
    ///
    /// # Errors
    /// [`AppError::NotFound`] when Postmark's webhooks are not configured;
    /// [`AppError::Unauthorized`] for other credentials.
    pub fn authenticate_postmark(&self, user: &str, password: &str) -> Result<(), AppError> {
        let credentials = self.feedback.postmark.as_ref().ok_or(AppError::NotFound)?;
        // Both compared, whatever the first gives.
        let user_ok = self.secret_matches(user, &credentials.user);
        let password_ok = self.secret_matches(password, &credentials.password);
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
