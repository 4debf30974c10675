//! The [`rsvp_app::OutboxStore`] role of [`InMemoryStore`].

use super::*;

#[async_trait]
impl OutboxStore for InMemoryStore {
    async fn claim_email_jobs(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<EmailJob>, StoreError> {
        self.with(|s| Ok(s.claim_email_jobs(now, limit, lease)))
    }

    async fn finish_email_jobs(
        &self,
        outcomes: &[(EmailJobId, EmailOutcome)],
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.with(|s| {
            let mut found = 0;
            for (id, outcome) in outcomes {
                match s.finish_email_job(*id, outcome, now) {
                    Ok(()) => found += 1,
                    Err(StoreError::NotFound) => {}
                    Err(error) => return Err(error),
                }
            }
            Ok(found)
        })
    }

    async fn release_email_jobs(&self, jobs: &[EmailJob], now: OffsetDateTime) -> Result<u64, StoreError> {
        self.with(|s| {
            let mut released = 0;
            for claimed in jobs {
                if let Some(job) = s.email_jobs.get_mut(&claimed.id)
                    && job.status == EmailJobStatus::Queued
                {
                    released += give_back(
                        &mut job.next_attempt_at,
                        &mut job.attempts,
                        claimed.next_attempt_at,
                        now,
                    );
                }
            }
            Ok(released)
        })
    }

    async fn oldest_queued_email(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        self.with(|s| {
            Ok(s.email_jobs
                .values()
                .filter(|j| j.status == EmailJobStatus::Queued)
                .map(|j| j.created_at)
                .min())
        })
    }

    async fn prune_email_jobs(&self, finished_before: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        self.with(|s| {
            let mut done: Vec<(OffsetDateTime, EmailJobId)> = s
                .email_jobs
                .values()
                .filter(|job| job.status != EmailJobStatus::Queued)
                .filter_map(|job| {
                    let at = *s.email_jobs_finished_at.get(&job.id)?;
                    (at < finished_before).then_some((at, job.id))
                })
                .collect();
            done.sort();
            done.truncate(limit);
            for (_, id) in &done {
                s.email_jobs.remove(id);
                s.email_jobs_finished_at.remove(id);
            }
            if !done.is_empty() {
                let pruned: std::collections::HashSet<EmailJobId> = done.iter().map(|(_, id)| *id).collect();
                s.provider_message_ids.retain(|_, job| !pruned.contains(job));
            }
            Ok(done.len() as u64)
        })
    }

    async fn outbox_depth(&self) -> Result<u64, StoreError> {
        self.with(|s| {
            Ok(s.email_jobs
                .values()
                .filter(|j| j.status == EmailJobStatus::Queued)
                .count() as u64)
        })
    }
}

/// Gives a claimed item back when it is still ours (its lease is the very
/// one our claim set): due at `now`, its attempt uncounted. 1 when given
/// back, else 0.
pub(super) fn give_back(
    next_attempt_at: &mut OffsetDateTime,
    attempts: &mut u32,
    claimed_lease: OffsetDateTime,
    now: OffsetDateTime,
) -> u64 {
    if *next_attempt_at != claimed_lease {
        return 0;
    }
    *next_attempt_at = now;
    *attempts = attempts.saturating_sub(1);
    1
}
