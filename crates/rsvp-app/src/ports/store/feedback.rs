//! The [`FeedbackStore`] role of the store port.

use rsvp_domain::{EmailFeedback, SuppressionId};

use super::super::*;

/// The email provider a report came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmailProvider {
    /// Postmark (its webhooks).
    Postmark,
    /// Amazon SES (through Amazon SNS).
    Ses,
}

impl EmailProvider {
    /// The stored and metric name: `postmark`, `ses`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postmark => "postmark",
            Self::Ses => "ses",
        }
    }
}

/// What a provider reported about one sent email, with the ids the store
/// writes if it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailReport {
    /// Who reported.
    pub provider: EmailProvider,
    /// The provider's id of this report (Postmark's record id, SNS's
    /// `MessageId`): the same id twice has one effect.
    pub report_id: String,
    /// The email job, when the report carries rsvp's own id (Postmark's
    /// `Metadata`, the `Message-ID` rsvp set).
    pub job_id: Option<EmailJobId>,
    /// The provider's id of the email, as its send returned it.
    pub provider_message_id: Option<String>,
    /// What happened to the email.
    pub feedback: EmailFeedback,
    /// When rsvp received the report.
    pub received_at: OffsetDateTime,
    /// The id of the event the report writes.
    pub event_id: EventId,
    /// The id of the suppression a hard bounce or a complaint writes.
    pub suppression_id: SuppressionId,
}

/// What came of a report.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportOutcome {
    /// Applied: `event` was written (with its webhook deliveries); the
    /// invitation as it now reads.
    Applied {
        /// The invitation the email was about, after the report.
        invitation: Box<Invitation>,
        /// The event written.
        event: Box<Event>,
        /// Whether a suppression was added or its reason raised (a hard
        /// bounce or a complaint of an address not yet suppressed for it).
        suppressed: bool,
    },
    /// A report with this provider and id was applied before: nothing
    /// changed.
    Duplicate,
    /// No invitation email rsvp sent matches it (unknown ids, an email job
    /// since pruned, or the notice of an expiry): nothing changed.
    UnknownEmail,
}

/// Reports from email providers: delivered, bounced, complained.
///
/// Part of the [`Store`] port: its methods are its contract, checked on
/// every adapter by `rsvp-store-contract`.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait FeedbackStore: Send + Sync {
    /// Applies a provider's report on an invitation email, in one unit of
    /// work:
    ///
    /// 1. a report whose `(provider, report_id)` was recorded before is
    ///    [`ReportOutcome::Duplicate`]; otherwise the pair is recorded;
    /// 2. the email job is found by `job_id`, else by
    ///    `provider_message_id`; only invitation emails
    ///    ([`EmailKind::Invitation`]) match; none: [`ReportOutcome::UnknownEmail`];
    /// 3. when the job is its invitation's latest (newest `created_at`), the
    ///    invitation's `email_delivery` becomes
    ///    [`EmailDelivery::after`](rsvp_domain::EmailDelivery::after) the
    ///    feedback, when that is `Some` (an unsent invitation's `None` reads
    ///    as `sent`); its `updated_at` is unchanged;
    /// 4. the event [`Event::email_feedback`] (id `event_id`, at
    ///    `received_at`) is written with its webhook deliveries, whatever
    ///    step 3 did;
    /// 5. when the feedback [suppresses](EmailFeedback::suppresses), a
    ///    suppression of the job's address for every business (id
    ///    `suppression_id`, the invitation's id, the reason
    ///    [`SuppressionReason::for_feedback`](rsvp_domain::SuppressionReason::for_feedback))
    ///    is added; when a suppression of the address for every business
    ///    stands (one per address and scope), its reason becomes the
    ///    [strongest](rsvp_domain::SuppressionReason::strongest) of the two.
    async fn record_email_report(&self, report: &EmailReport) -> Result<ReportOutcome, StoreError>;

    /// Forgets up to `limit` recorded `(provider, report_id)` pairs received
    /// before `received_before`, oldest first (a provider's retries come
    /// within hours; after that the same id would be applied again).
    /// Returns how many were forgotten.
    async fn prune_email_reports(&self, received_before: OffsetDateTime, limit: usize) -> Result<u64, StoreError>;
}
