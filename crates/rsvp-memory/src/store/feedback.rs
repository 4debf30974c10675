//! The [`rsvp_app::FeedbackStore`] role of [`InMemoryStore`].

use rsvp_app::{EmailKind, EmailReport, FeedbackStore, ReportOutcome};
use rsvp_domain::{EmailDelivery, InvitationParts, SuppressionReason};

use super::*;

#[async_trait]
impl FeedbackStore for InMemoryStore {
    async fn record_email_report(&self, report: &EmailReport) -> Result<ReportOutcome, StoreError> {
        self.with(|s| {
            let key = (report.provider.as_str(), report.report_id.clone());
            if s.provider_reports.contains_key(&key) {
                return Ok(ReportOutcome::Duplicate);
            }
            s.provider_reports.insert(key, report.received_at);
            let job_id = report.job_id.filter(|id| s.email_jobs.contains_key(id)).or_else(|| {
                report
                    .provider_message_id
                    .as_ref()
                    .and_then(|id| s.provider_message_ids.get(id).copied())
            });
            let Some(job) = job_id
                .and_then(|id| s.email_jobs.get(&id))
                .filter(|job| job.kind == EmailKind::Invitation)
                .cloned()
            else {
                return Ok(ReportOutcome::UnknownEmail);
            };
            let Some(mut invitation) = s.invitations.get(&job.invitation_id).cloned() else {
                return Ok(ReportOutcome::UnknownEmail);
            };
            let latest = !s.email_jobs.values().any(|other| {
                other.invitation_id == job.invitation_id
                    && other.kind == EmailKind::Invitation
                    && other.created_at > job.created_at
            });
            let current = invitation.email_delivery().unwrap_or(EmailDelivery::Sent);
            if latest && let Some(next) = current.after(report.feedback) {
                invitation = Invitation::restore(InvitationParts {
                    email_delivery: Some(next),
                    ..invitation.into_parts()
                });
                s.invitations.insert(invitation.id(), invitation.clone());
            }
            let event = Event::email_feedback(report.event_id, &invitation, report.feedback, report.received_at);
            s.insert_event(&event);
            let mut suppressed = false;
            if let Some(reason) = SuppressionReason::for_feedback(report.feedback) {
                let standing = s.suppressions.values_mut().find(|existing| {
                    existing.email.normalized() == job.to.normalized() && existing.business_id.is_none()
                });
                match standing {
                    Some(existing) => {
                        let strongest = SuppressionReason::strongest([existing.reason, reason]);
                        if strongest != Some(existing.reason) {
                            existing.reason = reason;
                            suppressed = true;
                        }
                    }
                    None => {
                        s.suppressions.insert(
                            report.suppression_id,
                            Suppression {
                                id: report.suppression_id,
                                email: job.to.clone(),
                                business_id: None,
                                invitation_id: Some(invitation.id()),
                                created_at: report.received_at,
                                reason,
                            },
                        );
                        suppressed = true;
                    }
                }
            }
            Ok(ReportOutcome::Applied {
                invitation: Box::new(invitation),
                event: Box::new(event),
                suppressed,
            })
        })
    }

    async fn prune_email_reports(&self, received_before: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.with(|s| {
            let mut old: Vec<(OffsetDateTime, (&'static str, String))> = s
                .provider_reports
                .iter()
                .filter(|(_, at)| **at < received_before)
                .map(|(key, at)| (*at, key.clone()))
                .collect();
            old.sort();
            old.truncate(limit);
            for (_, key) in &old {
                s.provider_reports.remove(key);
            }
            Ok(old.len() as u64)
        })
    }
}
