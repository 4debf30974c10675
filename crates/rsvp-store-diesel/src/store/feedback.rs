//! The [`rsvp_app::FeedbackStore`] role of [`DieselStore`]: email providers' reports.

#[allow(clippy::wildcard_imports)]
use super::*;

#[async_trait]
impl rsvp_app::FeedbackStore for DieselStore {
    async fn record_email_report(
        &self,
        _report: &rsvp_app::EmailReport,
    ) -> Result<rsvp_app::ReportOutcome, StoreError> {
        Err(StoreError::Unavailable("work in progress".into()))
    }
}
