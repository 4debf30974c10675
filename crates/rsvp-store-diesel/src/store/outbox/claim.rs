//! Claiming due jobs, on both backends (the email outbox and the webhook
//! outbox share the form).

#[allow(clippy::wildcard_imports)]
use super::super::*;

/// The claim's update of the jobs in `due`, whichever way they were found:
/// the lease ends at `$3`, the attempt is counted, `$1` is the time.
macro_rules! lease_due_jobs {
    () => {
        "UPDATE email_jobs AS j \
         SET next_attempt_at = $3, attempts = j.attempts + 1, updated_at = $1 \
         FROM due WHERE j.id = due.id \
         RETURNING j.id, j.invitation_id, j.to_email, j.link_token, j.attempts, j.status, \
                   j.next_attempt_at, j.last_error, j.created_at, j.updated_at, j.business_id, \
                   j.provider_message_id, j.kind"
    };
}

/// Claims due jobs on PostgreSQL in one statement: the rows are locked with
/// `FOR UPDATE SKIP LOCKED`, so concurrent claimers (other replicas) skip
/// each other's jobs instead of waiting for them or taking them twice.
pub(in crate::store) fn claim_on_postgres(
    conn: &mut PgConnection,
    now: i64,
    limit: i64,
    lease_end: i64,
) -> Unit<Vec<EmailJobRow>> {
    let mut rows: Vec<EmailJobRow> = diesel::sql_query(concat!(
        "WITH due AS ( \
             SELECT id FROM email_jobs \
             WHERE status = 'queued' AND next_attempt_at <= $1 \
             ORDER BY created_at, id \
             LIMIT $2 \
             FOR UPDATE SKIP LOCKED) ",
        lease_due_jobs!()
    ))
    .bind::<BigInt, _>(now)
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(lease_end)
    .load(conn)?;
    // RETURNING keeps no order: restore the claim's.
    rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(rows)
}

/// Claims the jobs of `ids` that are still queued and due, by primary key,
/// on PostgreSQL (the claim hints of `wake.rs`): the same lease and locks
/// as [`claim_on_postgres`], without walking the queued jobs' index. In no
/// order: the caller sorts what it claimed in all.
pub(in crate::store) fn claim_hinted_on_postgres(
    conn: &mut PgConnection,
    now: i64,
    ids: &[String],
    lease_end: i64,
) -> Unit<Vec<EmailJobRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(diesel::sql_query(concat!(
        "WITH due AS ( \
             SELECT id FROM email_jobs \
             WHERE id = ANY($2) AND status = 'queued' AND next_attempt_at <= $1 \
             FOR UPDATE SKIP LOCKED) ",
        lease_due_jobs!()
    ))
    .bind::<BigInt, _>(now)
    .bind::<diesel::sql_types::Array<Text>, _>(ids)
    .bind::<BigInt, _>(lease_end)
    .load(conn)?)
}

/// Claims due jobs on SQLite inside one immediate transaction: SQLite has
/// one writer at a time, so no other claimer runs between the read and the
/// update.
pub(in crate::store) fn claim_on_sqlite(
    conn: &mut DbConnection,
    now: i64,
    limit: i64,
    lease_end: i64,
) -> Unit<Vec<EmailJobRow>> {
    use crate::schema::email_jobs::dsl as j;
    write_unit(conn, |conn| {
        let mut due: Vec<EmailJobRow> = j::email_jobs
            .filter(sql::<Bool>("email_jobs.status = 'queued'"))
            .filter(j::next_attempt_at.le(now))
            .order((j::created_at.asc(), j::id.asc()))
            .limit(limit)
            .select(EmailJobRow::as_select())
            .load(conn)?;
        let ids: Vec<String> = due.iter().map(|row| row.id.clone()).collect();
        if !ids.is_empty() {
            diesel::update(j::email_jobs.filter(j::id.eq_any(&ids)))
                .set((
                    j::next_attempt_at.eq(lease_end),
                    j::attempts.eq(j::attempts + 1),
                    j::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        for row in &mut due {
            row.next_attempt_at = lease_end;
            row.attempts = row.attempts.saturating_add(1);
            row.updated_at = now;
        }
        Ok(due)
    })
}
