//! The outcome of email job attempts: one statement per round on
//! PostgreSQL (fixed texts, prepared once per connection), a few statements
//! in the caller's write unit on SQLite.

#[allow(clippy::wildcard_imports)]
use super::super::*;
use diesel::PgConnection;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};

/// What an attempt leaves on its job.
pub(in crate::store) enum Finish {
    /// Sent, with the provider's message id when the transport returned one.
    Sent(Option<String>),
    Retry(i64, String),
    Failed(String),
}

impl Finish {
    pub(in crate::store) fn from_domain(outcome: &EmailOutcome) -> Result<Self, StoreError> {
        Ok(match outcome {
            EmailOutcome::Sent { provider_message_id } => Self::Sent(provider_message_id.clone()),
            EmailOutcome::Retry { retry_at, error } => Self::Retry(to_nanos(*retry_at)?, error.clone()),
            EmailOutcome::Failed { error } => Self::Failed(error.clone()),
        })
    }

    /// The job's new status, next attempt (`None` leaves it), error (`None`
    /// leaves the last one), whether its link token stays (a retry needs
    /// it; a job that is done no longer does) and the provider's message id
    /// (`None` leaves the stored one).
    pub(in crate::store) fn columns(&self) -> (&'static str, Option<i64>, Option<&str>, bool, Option<&str>) {
        match self {
            Self::Sent(provider_id) => ("sent", None, None, false, provider_id.as_deref()),
            Self::Retry(retry_at, error) => ("queued", Some(*retry_at), Some(error.as_str()), true, None),
            Self::Failed(error) => ("failed", None, Some(error.as_str()), false, None),
        }
    }
}

/// Records one outcome on SQLite (inside the caller's write unit): whether
/// the job exists.
pub(in crate::store) fn finish_on_sqlite(conn: &mut DbConnection, id: &str, outcome: Finish, now: i64) -> Unit<bool> {
    use crate::schema::email_jobs::dsl as j;
    let Some(job) = j::email_jobs
        .find(id)
        .select(EmailJobRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(false);
    };
    // A job that is done no longer needs its link token in clear.
    let (status, next_attempt_at, last_error, link_token, provider_id) = match outcome {
        Finish::Sent(provider_id) => (
            "sent",
            job.next_attempt_at,
            job.last_error,
            None,
            provider_id.or(job.provider_message_id),
        ),
        Finish::Retry(retry_at, error) => ("queued", retry_at, Some(error), job.link_token, job.provider_message_id),
        Finish::Failed(error) => (
            "failed",
            job.next_attempt_at,
            Some(error),
            None,
            job.provider_message_id,
        ),
    };
    diesel::update(j::email_jobs.find(id))
        .set((
            j::status.eq(status),
            j::next_attempt_at.eq(next_attempt_at),
            j::last_error.eq(last_error),
            j::link_token.eq(link_token),
            j::provider_message_id.eq(provider_id),
            j::updated_at.eq(now),
        ))
        .execute(conn)?;
    // The invitation shows the fate of its latest email to the invitee
    // only: an older job finishing after a resend, or the sender's expiry
    // notice, does not overwrite it.
    if job.kind != rsvp_app::EmailKind::Invitation.as_str() {
        return Ok(true);
    }
    let newer = email_jobs::table
        .filter(j::invitation_id.eq(job.invitation_id.clone()))
        .filter(j::created_at.gt(job.created_at))
        .filter(j::kind.eq(rsvp_app::EmailKind::Invitation.as_str()))
        .select(j::id);
    diesel::update(invitations::table.find(&job.invitation_id))
        .filter(diesel::dsl::not(diesel::dsl::exists(newer)))
        .set(invitations::email_delivery.eq(status))
        .execute(conn)?;
    Ok(true)
}

/// Records the outcomes of several email job attempts in one statement,
/// over arrays (one element per job, `unnest`ed), so a group of outcomes
/// costs one round trip: each job (status, next attempt, error, link token
/// wiped unless retrying, the provider's message id of a sent one) and, only if it is its invitation's latest job
/// to the invitee (not an expiry notice), the invitation's `email_delivery`, as SQLite's transaction does. Selects
/// the number of jobs found.
///
/// An invitation whose two jobs finish in one group gets the status of its
/// latest job only, as the `NOT EXISTS` keeps only the newest job of each
/// invitation.
#[derive(Debug, Clone)]
pub(in crate::store) struct FinishEmailJobs {
    ids: Vec<String>,
    statuses: Vec<&'static str>,
    retry_ats: Vec<Option<i64>>,
    errors: Vec<Option<String>>,
    keep_link_tokens: Vec<bool>,
    provider_ids: Vec<Option<String>>,
    now: i64,
}

impl FinishEmailJobs {
    /// The statement for `outcomes` (job id, outcome) at `now`.
    pub(in crate::store) fn new(outcomes: &[(String, crate::store::Finish)], now: i64) -> Self {
        let mut statement = Self {
            ids: Vec::with_capacity(outcomes.len()),
            statuses: Vec::with_capacity(outcomes.len()),
            retry_ats: Vec::with_capacity(outcomes.len()),
            errors: Vec::with_capacity(outcomes.len()),
            keep_link_tokens: Vec::with_capacity(outcomes.len()),
            provider_ids: Vec::with_capacity(outcomes.len()),
            now,
        };
        for (id, outcome) in outcomes {
            let (status, retry_at, error, keep_link_token, provider_id) = outcome.columns();
            statement.ids.push(id.clone());
            statement.statuses.push(status);
            statement.retry_ats.push(retry_at);
            statement.errors.push(error.map(str::to_owned));
            statement.keep_link_tokens.push(keep_link_token);
            statement.provider_ids.push(provider_id.map(str::to_owned));
        }
        statement
    }

    /// Runs the statement: how many of the jobs exist.
    pub(in crate::store) fn execute_on(self, conn: &mut PgConnection) -> QueryResult<u64> {
        let found: i64 = RunQueryDsl::get_result(self, conn)?;
        Ok(u64::try_from(found).unwrap_or(0))
    }
}

impl QueryFragment<Pg> for FinishEmailJobs {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        use diesel::sql_types::Array;
        // The casts name the arrays' types in the text itself (unnest is
        // overloaded), so the statement plans the same without its binds.
        out.push_sql("WITH outcome AS (SELECT * FROM unnest(");
        out.push_bind_param::<Array<Text>, _>(&self.ids)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Text>, _>(&self.statuses)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Nullable<BigInt>>, _>(&self.retry_ats)?;
        out.push_sql("::bigint[], ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.errors)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Bool>, _>(&self.keep_link_tokens)?;
        out.push_sql("::boolean[], ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.provider_ids)?;
        out.push_sql(
            "::text[]) AS o (id, status, retry_at, error, keep_link_token, provider_message_id)), \
             job AS (UPDATE email_jobs AS j SET status = o.status, \
             next_attempt_at = COALESCE(o.retry_at, j.next_attempt_at), \
             last_error = COALESCE(o.error, j.last_error), \
             link_token = CASE WHEN o.keep_link_token THEN j.link_token END, \
             provider_message_id = COALESCE(o.provider_message_id, j.provider_message_id), updated_at = ",
        );
        out.push_bind_param::<BigInt, _>(&self.now)?;
        out.push_sql(
            " FROM outcome AS o WHERE j.id = o.id \
             RETURNING j.invitation_id, j.created_at, j.kind, o.status), \
             mirrored AS (UPDATE invitations SET email_delivery = job.status \
             FROM job WHERE invitations.id = job.invitation_id AND job.kind = 'invitation' AND NOT EXISTS (\
             SELECT 1 FROM email_jobs AS newer \
             WHERE newer.invitation_id = job.invitation_id AND newer.kind = 'invitation' \
             AND newer.created_at > job.created_at)) \
             SELECT count(*) FROM job",
        );
        Ok(())
    }
}

/// Static query id of [`FinishEmailJobs`].
#[derive(Debug)]
pub(in crate::store) enum FinishEmailJobsId {}

impl QueryId for FinishEmailJobs {
    type QueryId = FinishEmailJobsId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for FinishEmailJobs {
    type SqlType = BigInt;
}

impl RunQueryDsl<PgConnection> for FinishEmailJobs {}
