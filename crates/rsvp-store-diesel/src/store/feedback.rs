//! The [`rsvp_app::FeedbackStore`] role of [`DieselStore`]: email providers' reports.

use rsvp_app::{EmailKind, EmailReport, FeedbackStore, ReportOutcome};
use rsvp_domain::{EmailDelivery, InvitationParts, SuppressionReason};

use super::webhooks::insert_event;
use crate::rows::{parse_email, parse_id};
use crate::schema::provider_events;

#[allow(clippy::wildcard_imports)]
use super::*;

/// The email job a report names: its id, invitation, address and age.
type ReportedJob = (String, String, String, i64);

fn reported_job(conn: &mut DbConnection, report: &EmailReport) -> Unit<Option<ReportedJob>> {
    let columns = (
        email_jobs::id,
        email_jobs::invitation_id,
        email_jobs::to_email,
        email_jobs::created_at,
    );
    let invitation_kind = EmailKind::Invitation.as_str();
    if let Some(job_id) = report.job_id {
        let found = email_jobs::table
            .find(id_text(job_id.as_uuid()))
            .filter(email_jobs::kind.eq(invitation_kind))
            .select(columns)
            .first::<ReportedJob>(conn)
            .optional()?;
        if found.is_some() {
            return Ok(found);
        }
    }
    let Some(provider_id) = &report.provider_message_id else {
        return Ok(None);
    };
    // email_jobs_provider_message_idx.
    Ok(email_jobs::table
        .filter(email_jobs::provider_message_id.eq(provider_id))
        .filter(email_jobs::kind.eq(invitation_kind))
        .select(columns)
        .first::<ReportedJob>(conn)
        .optional()?)
}

/// Adds the suppression a hard bounce or complaint calls for, or raises the
/// reason of the one standing for every business; whether anything changed.
fn suppress(
    conn: &mut DbConnection,
    report: &EmailReport,
    reason: SuppressionReason,
    address: &EmailAddress,
    invitation_id: &str,
) -> Unit<bool> {
    let normalized = address.normalized().to_owned();
    let standing: Option<(String, String)> = suppressions::table
        .filter(suppressions::email_normalized.eq(&normalized))
        .filter(suppressions::business_id.is_null())
        .select((suppressions::id, suppressions::reason))
        .first(conn)
        .optional()?;
    if let Some((id, stored)) = standing {
        let stored = SuppressionReason::parse(&stored)
            .ok_or_else(|| crate::rows::corrupt("suppressions.reason", format!("unknown reason {stored:?}")))?;
        if SuppressionReason::strongest([stored, reason]) == Some(stored) {
            return Ok(false);
        }
        diesel::update(suppressions::table.find(id))
            .set(suppressions::reason.eq(reason.as_str()))
            .execute(conn)?;
        return Ok(true);
    }
    let row = SuppressionRow::from_domain(&Suppression {
        id: report.suppression_id,
        email: address.clone(),
        business_id: None,
        invitation_id: Some(parse_id("email_jobs.invitation_id", invitation_id)?),
        created_at: report.received_at,
        reason,
    })?;
    diesel::insert_into(suppressions::table).values(&row).execute(conn)?;
    Ok(true)
}

#[async_trait]
impl FeedbackStore for DieselStore {
    async fn record_email_report(&self, report: &EmailReport) -> Result<ReportOutcome, StoreError> {
        let report = report.clone();
        let received_at = to_nanos(report.received_at)?;
        self.run(op::RECORD_EMAIL_REPORT, move |conn| {
            write_unit(conn, |conn| {
                let recorded = diesel::insert_into(provider_events::table)
                    .values((
                        provider_events::provider.eq(report.provider.as_str()),
                        provider_events::event_id.eq(&report.report_id),
                        provider_events::received_at.eq(received_at),
                    ))
                    .on_conflict_do_nothing();
                let inserted = match &mut *conn {
                    DbConnection::Pg(pg) => recorded.execute(pg)?,
                    DbConnection::Sqlite(lite) => recorded.execute(lite)?,
                };
                if inserted == 0 {
                    return Ok(ReportOutcome::Duplicate);
                }
                let Some((_, invitation_id, to_email, job_created_at)) = reported_job(conn, &report)? else {
                    return Ok(ReportOutcome::UnknownEmail);
                };
                let Some(row) = get_invitation_row(conn, &invitation_id)? else {
                    return Ok(ReportOutcome::UnknownEmail);
                };
                let mut invitation = row.into_domain()?;
                // email_jobs_invitation_idx (invitation_id, created_at).
                let superseded: bool = diesel::select(diesel::dsl::exists(
                    email_jobs::table
                        .filter(email_jobs::invitation_id.eq(&invitation_id))
                        .filter(email_jobs::kind.eq(EmailKind::Invitation.as_str()))
                        .filter(email_jobs::created_at.gt(job_created_at)),
                ))
                .get_result(conn)?;
                let current = invitation.email_delivery().unwrap_or(EmailDelivery::Sent);
                if !superseded && let Some(next) = current.after(report.feedback) {
                    diesel::update(invitations::table.find(&invitation_id))
                        .set(invitations::email_feedback.eq(next.as_str()))
                        .execute(conn)?;
                    // The row as it now reads, without reading it again.
                    invitation = Invitation::restore(InvitationParts {
                        email_delivery: Some(next),
                        ..invitation.into_parts()
                    });
                }
                let event = Event::email_feedback(report.event_id, &invitation, report.feedback, report.received_at);
                insert_event(conn, &EventRow::from_domain(&event)?)?;
                let address = parse_email("email_jobs.to_email", &to_email)?;
                let suppressed = match SuppressionReason::for_feedback(report.feedback) {
                    Some(reason) => suppress(conn, &report, reason, &address, &invitation_id)?,
                    None => false,
                };
                Ok(ReportOutcome::Applied {
                    invitation: Box::new(invitation),
                    event: Box::new(event),
                    suppressed,
                })
            })
        })
        .await
    }

    async fn prune_email_reports(&self, received_before: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let before = crate::rows::bound_nanos(received_before);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(op::PRUNE_EMAIL_REPORTS, move |conn| {
            write_unit(conn, |conn| {
                // provider_events_received_idx, oldest first, then by key.
                let keys: Vec<(String, String)> = provider_events::table
                    .filter(provider_events::received_at.lt(before))
                    .order((
                        provider_events::received_at,
                        provider_events::provider,
                        provider_events::event_id,
                    ))
                    .select((provider_events::provider, provider_events::event_id))
                    .limit(limit)
                    .load(conn)?;
                let mut deleted = 0u64;
                for (provider, event_id) in &keys {
                    deleted += diesel::delete(provider_events::table.find((provider, event_id))).execute(conn)? as u64;
                }
                Ok(deleted)
            })
        })
        .await
    }
}
