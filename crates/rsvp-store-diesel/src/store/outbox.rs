//! The port methods of the email outbox.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) mod claim;
pub(super) mod finish;

#[async_trait]
impl OutboxStore for DieselStore {
    async fn claim_email_jobs(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: time::Duration,
    ) -> Result<Vec<EmailJob>, StoreError> {
        let lease_end = to_nanos(now + lease)?;
        let now = to_nanos(now)?;
        // On PostgreSQL: the hinted jobs by id, and a scan only when one is
        // due (`wake.rs`). SQLite is never hinted, and always reads in order.
        let plan = self.wake.claim_plan(limit, now);
        let limit = saturating_limit(limit);
        let claimed = self
            .run(op::CLAIM_EMAIL_JOBS, move |conn| {
                if limit == 0 {
                    return Ok((Vec::new(), false));
                }
                let (rows, work_left) = match conn {
                    DbConnection::Pg(pg) => {
                        let mut rows = claim_hinted_on_postgres(pg, now, &plan.hinted, lease_end)?;
                        // A hinted job not claimed (not due, or taken by
                        // another replica) is left to a scan.
                        let mut work_left = rows.len() < plan.hinted.len();
                        let room = limit.saturating_sub(i64::try_from(rows.len()).unwrap_or(i64::MAX));
                        if plan.scan && room > 0 {
                            let scanned = claim_on_postgres(pg, now, room, lease_end)?;
                            work_left |= i64::try_from(scanned.len()).unwrap_or(i64::MAX) >= room;
                            rows.extend(scanned);
                        }
                        // RETURNING keeps no order: the claim's, oldest first.
                        rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
                        (rows, work_left)
                    }
                    DbConnection::Sqlite(_) => (claim_on_sqlite(conn, now, limit, lease_end)?, false),
                };
                Ok((rows_into(rows, EmailJobRow::into_domain)?, work_left))
            })
            .await;
        match claimed {
            Ok((jobs, work_left)) => {
                self.wake.claimed((!jobs.is_empty()).then_some(lease_end), work_left);
                Ok(jobs)
            }
            Err(error) => {
                // The hints it took may not have been claimed: scan next time.
                self.wake.rescan();
                Err(error)
            }
        }
    }

    async fn finish_email_jobs(
        &self,
        outcomes: &[(EmailJobId, EmailOutcome)],
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let now = to_nanos(now)?;
        // A retry is due again at its time: the claim then scans (`wake.rs`).
        for (_, outcome) in outcomes {
            if let EmailOutcome::Retry { retry_at, .. } = outcome {
                self.wake.due_at(to_nanos(*retry_at)?);
            }
        }
        let outcomes = outcomes
            .iter()
            .map(|(id, outcome)| Ok((id_text(id.as_uuid()), Finish::from_domain(outcome)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        if outcomes.is_empty() {
            return Ok(0);
        }
        self.run(op::FINISH_EMAIL_JOBS, move |conn| match conn {
            DbConnection::Pg(pg) => Ok(FinishEmailJobs::new(&outcomes, now).execute_on(pg)?),
            DbConnection::Sqlite(_) => write_unit(conn, |conn| {
                let mut found = 0;
                for (id, outcome) in outcomes {
                    found += u64::from(finish_on_sqlite(conn, &id, outcome, now)?);
                }
                Ok(found)
            }),
        })
        .await
    }

    async fn prune_email_jobs(&self, finished_before: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        use crate::schema::email_jobs::dsl as j;
        let before = to_nanos(finished_before)?;
        let limit = saturating_limit(limit);
        if limit == 0 {
            return Ok(0);
        }
        self.run(op::PRUNE_EMAIL_JOBS, move |conn| {
            write_unit(conn, |conn| {
                // One replica prunes at a time; the others find the lock taken and skip.
                if let DbConnection::Pg(pg) = conn {
                    let ours: bool =
                        diesel::select(sql::<Bool>(&format!("pg_try_advisory_xact_lock({PRUNE_LOCK_KEY})")))
                            .get_result(pg)?;
                    if !ours {
                        return Ok(0);
                    }
                }
                let ids: Vec<String> = j::email_jobs
                    .filter(sql::<Bool>("email_jobs.status <> 'queued'"))
                    .filter(j::updated_at.lt(before))
                    .order(j::updated_at.asc())
                    .limit(limit)
                    .select(j::id)
                    .load(conn)?;
                if ids.is_empty() {
                    return Ok(0);
                }
                let deleted = diesel::delete(j::email_jobs.filter(j::id.eq_any(&ids))).execute(conn)?;
                Ok(u64::try_from(deleted).unwrap_or(0))
            })
        })
        .await
    }

    async fn outbox_depth(&self) -> Result<u64, StoreError> {
        self.run(op::OUTBOX_DEPTH, |conn| {
            let queued: i64 = email_jobs::table
                .filter(sql::<Bool>("email_jobs.status = 'queued'"))
                .count()
                .get_result(conn)?;
            Ok(u64::try_from(queued).unwrap_or(0))
        })
        .await
    }

    async fn release_email_jobs(&self, jobs: &[EmailJob], now: OffsetDateTime) -> Result<u64, StoreError> {
        use crate::schema::email_jobs::dsl as j;
        let claims = jobs
            .iter()
            .map(|job| Ok((id_text(job.id.as_uuid()), to_nanos(job.next_attempt_at)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let now = to_nanos(now)?;
        if claims.is_empty() {
            return Ok(0);
        }
        let released = self
            .run(op::RELEASE_EMAIL_JOBS, move |conn| {
                write_unit(conn, |conn| {
                    let mut released = 0u64;
                    for (id, lease_end) in &claims {
                        // Still ours: queued, with the very lease our claim set.
                        let changed = diesel::update(
                            j::email_jobs
                                .filter(j::id.eq(id))
                                .filter(sql::<Bool>("email_jobs.status = 'queued'"))
                                .filter(j::next_attempt_at.eq(*lease_end)),
                        )
                        .set((
                            j::next_attempt_at.eq(now),
                            j::attempts.eq(j::attempts - 1),
                            j::updated_at.eq(now),
                        ))
                        .execute(conn)?;
                        released += u64::try_from(changed).unwrap_or(0);
                    }
                    Ok(released)
                })
            })
            .await;
        // Due again at once: the next claim scans (`wake.rs`).
        self.wake.rescan();
        released
    }

    async fn oldest_queued_email(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        use crate::schema::email_jobs::dsl as j;
        let oldest: Option<i64> = self
            .run(op::OLDEST_QUEUED_EMAIL, |conn| {
                Ok(j::email_jobs
                    .filter(sql::<Bool>("email_jobs.status = 'queued'"))
                    .select(diesel::dsl::min(j::created_at))
                    .get_result(conn)?)
            })
            .await?;
        oldest
            .map(|nanos| crate::rows::from_nanos("email_jobs.created_at", nanos))
            .transpose()
    }
}
