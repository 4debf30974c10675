//! Rows of email jobs.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) fn job_status_text(status: EmailJobStatus) -> &'static str {
    match status {
        EmailJobStatus::Queued => "queued",
        EmailJobStatus::Sent => "sent",
        EmailJobStatus::Failed => "failed",
    }
}

pub(super) fn parse_job_status(text: &str) -> Result<EmailJobStatus, StoreError> {
    match text {
        "queued" => Ok(EmailJobStatus::Queued),
        "sent" => Ok(EmailJobStatus::Sent),
        "failed" => Ok(EmailJobStatus::Failed),
        other => Err(corrupt("email_jobs.status", other)),
    }
}

/// `email_jobs`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, QueryableByName)]
#[diesel(table_name = email_jobs, treat_none_as_default_value = false)]
pub(crate) struct EmailJobRow {
    pub(crate) id: String,
    pub(crate) invitation_id: String,
    pub(crate) to_email: String,
    pub(crate) link_token: Option<String>,
    pub(crate) attempts: i32,
    pub(crate) status: String,
    pub(crate) next_attempt_at: i64,
    pub(crate) last_error: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    /// The sending business (of the job's invitation), for the email cap.
    pub(crate) business_id: String,
    /// The provider's id of the sent email, once the provider answered.
    pub(crate) provider_message_id: Option<String>,
    /// What the email is (`EmailKind`).
    pub(crate) kind: String,
}

impl EmailJobRow {
    pub(crate) fn from_domain(job: &EmailJob, business: BusinessId) -> Result<Self, StoreError> {
        Ok(Self {
            id: id_text(job.id.as_uuid()),
            invitation_id: id_text(job.invitation_id.as_uuid()),
            to_email: job.to.as_str().to_owned(),
            link_token: job.link_token.as_ref().map(|t| t.expose().to_owned()),
            attempts: i32::try_from(job.attempts).unwrap_or(i32::MAX),
            status: job_status_text(job.status).to_owned(),
            next_attempt_at: to_nanos(job.next_attempt_at)?,
            last_error: job.last_error.clone(),
            created_at: to_nanos(job.created_at)?,
            updated_at: to_nanos(job.created_at)?,
            business_id: id_text(business.as_uuid()),
            provider_message_id: None,
            kind: job.kind.as_str().to_owned(),
        })
    }

    pub(crate) fn into_domain(self) -> Result<EmailJob, StoreError> {
        Ok(EmailJob {
            id: parse_id("email_jobs.id", &self.id)?,
            invitation_id: parse_id("email_jobs.invitation_id", &self.invitation_id)?,
            to: parse_email("email_jobs.to_email", &self.to_email)?,
            link_token: self.link_token.map(rsvp_app::Secret::new),
            attempts: u32::try_from(self.attempts).map_err(|e| corrupt("email_jobs.attempts", e))?,
            status: parse_job_status(&self.status)?,
            next_attempt_at: from_nanos("email_jobs.next_attempt_at", self.next_attempt_at)?,
            last_error: self.last_error,
            created_at: from_nanos("email_jobs.created_at", self.created_at)?,
            kind: EmailKind::parse(&self.kind)
                .ok_or_else(|| corrupt("email_jobs.kind", format!("unknown kind {:?}", self.kind)))?,
        })
    }
}
