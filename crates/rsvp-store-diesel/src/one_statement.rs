//! The PostgreSQL statements of the hot paths, each one round trip with a
//! fixed text, so diesel prepares it once per connection and finds it again
//! by a static query id: a new invitation ([`CallCreateInvitation`], one
//! `CALL` of the procedure `rsvp_create_invitation`: its facts, the email
//! cap and every row) and the outcome of one email job or of a group
//! ([`FinishEmailJob`], [`FinishEmailJobs`]). SQLite runs the same work as
//! several statements in one unit on its writer: in-process, a statement
//! costs no round trip there.

use diesel::pg::Pg;
use diesel::query_builder::Query;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text};
use diesel::{PgConnection, QueryResult, RunQueryDsl};

use crate::rows::{EmailJobRow, EventRow, InvitationRow, LinkTokenRow};

/// Pushes `value` as the next bound parameter, after a comma unless first.
macro_rules! binds {
    ($out:ident, $first:ty => $first_value:expr $(, $ty:ty => $value:expr)* $(,)?) => {{
        $out.push_bind_param::<$first, _>($first_value)?;
        $(
            $out.push_sql(", ");
            $out.push_bind_param::<$ty, _>($value)?;
        )*
    }};
}

/// Static query id of [`FinishEmailJob`].
#[derive(Debug)]
pub(crate) enum FinishEmailJobId {}

/// Records the outcome of an email job attempt, in one statement: the job
/// (status, next attempt, error, link token wiped unless retrying) and,
/// only if it is the invitation's latest job, the invitation's
/// `email_delivery`. Selects the number of jobs found (0 or 1).
///
/// It does what the transaction of SQLite does (read the job, update it,
/// update the invitation unless a newer job exists) with one round trip
/// instead of five; the `NOT EXISTS` reads the statement's snapshot, in
/// which the job's `created_at` is what the update leaves it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FinishEmailJob<'a> {
    /// The job.
    pub(crate) id: &'a str,
    /// `sent`, `queued` (a retry) or `failed`.
    pub(crate) status: &'a str,
    /// The next attempt, when retrying; `None` leaves it.
    pub(crate) retry_at: Option<i64>,
    /// The error, when retrying or failed; `None` leaves the last one.
    pub(crate) error: Option<&'a str>,
    /// Whether the link token stays (a retry needs it; a job that is done
    /// no longer does).
    pub(crate) keep_link_token: bool,
    /// The time of the outcome.
    pub(crate) now: i64,
}

impl FinishEmailJob<'_> {
    /// Runs the statement: whether the job exists.
    pub(crate) fn execute_on(self, conn: &mut PgConnection) -> QueryResult<bool> {
        let found: i64 = RunQueryDsl::get_result(self, conn)?;
        Ok(found > 0)
    }
}

impl QueryFragment<Pg> for FinishEmailJob<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH job AS (UPDATE email_jobs SET status = ");
        out.push_bind_param::<Text, _>(self.status)?;
        out.push_sql(", next_attempt_at = COALESCE(");
        out.push_bind_param::<Nullable<BigInt>, _>(&self.retry_at)?;
        out.push_sql(", next_attempt_at), last_error = COALESCE(");
        out.push_bind_param::<Nullable<Text>, _>(&self.error)?;
        out.push_sql(", last_error), link_token = CASE WHEN ");
        out.push_bind_param::<Bool, _>(&self.keep_link_token)?;
        out.push_sql(" THEN link_token END, updated_at = ");
        out.push_bind_param::<BigInt, _>(&self.now)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Text, _>(self.id)?;
        out.push_sql(
            " RETURNING invitation_id, created_at), \
             mirrored AS (UPDATE invitations SET email_delivery = ",
        );
        out.push_bind_param::<Text, _>(self.status)?;
        out.push_sql(
            " FROM job WHERE invitations.id = job.invitation_id AND NOT EXISTS (\
             SELECT 1 FROM email_jobs AS newer \
             WHERE newer.invitation_id = job.invitation_id AND newer.created_at > job.created_at)) \
             SELECT count(*) FROM job",
        );
        Ok(())
    }
}

impl QueryId for FinishEmailJob<'_> {
    type QueryId = FinishEmailJobId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for FinishEmailJob<'_> {
    type SqlType = BigInt;
}

impl RunQueryDsl<PgConnection> for FinishEmailJob<'_> {}

/// Records the outcomes of several email job attempts in one statement:
/// [`FinishEmailJob`] over arrays (one element per job, `unnest`ed), so a
/// group of outcomes costs one round trip. Selects the number of jobs found.
///
/// An invitation whose two jobs finish in one group gets the status of its
/// latest job only, as the `NOT EXISTS` keeps only the newest job of each
/// invitation.
#[derive(Debug, Clone)]
pub(crate) struct FinishEmailJobs {
    ids: Vec<String>,
    statuses: Vec<&'static str>,
    retry_ats: Vec<Option<i64>>,
    errors: Vec<Option<String>>,
    keep_link_tokens: Vec<bool>,
    now: i64,
}

impl FinishEmailJobs {
    /// The statement for `outcomes` (job id, outcome) at `now`.
    pub(crate) fn new(outcomes: &[(String, crate::store::Finish)], now: i64) -> Self {
        let mut statement = Self {
            ids: Vec::with_capacity(outcomes.len()),
            statuses: Vec::with_capacity(outcomes.len()),
            retry_ats: Vec::with_capacity(outcomes.len()),
            errors: Vec::with_capacity(outcomes.len()),
            keep_link_tokens: Vec::with_capacity(outcomes.len()),
            now,
        };
        for (id, outcome) in outcomes {
            let (status, retry_at, error, keep_link_token) = outcome.columns();
            statement.ids.push(id.clone());
            statement.statuses.push(status);
            statement.retry_ats.push(retry_at);
            statement.errors.push(error.map(str::to_owned));
            statement.keep_link_tokens.push(keep_link_token);
        }
        statement
    }

    /// Runs the statement: how many of the jobs exist.
    pub(crate) fn execute_on(self, conn: &mut PgConnection) -> QueryResult<u64> {
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
        out.push_sql(
            "::boolean[]) AS o (id, status, retry_at, error, keep_link_token)), \
             job AS (UPDATE email_jobs AS j SET status = o.status, \
             next_attempt_at = COALESCE(o.retry_at, j.next_attempt_at), \
             last_error = COALESCE(o.error, j.last_error), \
             link_token = CASE WHEN o.keep_link_token THEN j.link_token END, updated_at = ",
        );
        out.push_bind_param::<BigInt, _>(&self.now)?;
        out.push_sql(
            " FROM outcome AS o WHERE j.id = o.id \
             RETURNING j.invitation_id, j.created_at, o.status), \
             mirrored AS (UPDATE invitations SET email_delivery = job.status \
             FROM job WHERE invitations.id = job.invitation_id AND NOT EXISTS (\
             SELECT 1 FROM email_jobs AS newer \
             WHERE newer.invitation_id = job.invitation_id AND newer.created_at > job.created_at)) \
             SELECT count(*) FROM job",
        );
        Ok(())
    }
}

/// Static query id of [`FinishEmailJobs`].
#[derive(Debug)]
pub(crate) enum FinishEmailJobsId {}

impl QueryId for FinishEmailJobs {
    type QueryId = FinishEmailJobsId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for FinishEmailJobs {
    type SqlType = BigInt;
}

impl RunQueryDsl<PgConnection> for FinishEmailJobs {}

/// A new invitation in one call of the procedure `rsvp_create_invitation`
/// (migration `2026-12-06-000001_email_cap_minutes`): the facts that may
/// refuse it, the email cap and every row, in one round trip. Its text is
/// fixed, so diesel prepares it once per connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallCreateInvitation<'a> {
    pub(crate) invitation: &'a InvitationRow,
    pub(crate) link: &'a LinkTokenRow,
    pub(crate) event: &'a EventRow,
    job: JobColumns<'a>,
    /// The cap (`None`: uncapped).
    cap: Option<i32>,
    /// The unix minute of the email, and the first minute still counted.
    minute: i64,
    window_start: i64,
}

/// The columns of the email job that the call binds, each `None` without one.
#[derive(Debug, Clone, Copy, Default)]
struct JobColumns<'a> {
    id: Option<&'a str>,
    to_email: Option<&'a str>,
    link_token: Option<&'a str>,
    status: Option<&'a str>,
    next_attempt_at: Option<i64>,
    created_at: Option<i64>,
}

impl<'a> CallCreateInvitation<'a> {
    /// The call for these rows, counting the job (if any) against `cap` in `minute`.
    pub(crate) fn new(
        invitation: &'a InvitationRow,
        link: &'a LinkTokenRow,
        event: &'a EventRow,
        job: Option<&'a EmailJobRow>,
        cap: Option<rsvp_app::EmailCap>,
        minute: i64,
    ) -> Self {
        let job = job.map_or_else(JobColumns::default, |j| JobColumns {
            id: Some(&j.id),
            to_email: Some(&j.to_email),
            link_token: j.link_token.as_deref(),
            status: Some(&j.status),
            next_attempt_at: Some(j.next_attempt_at),
            created_at: Some(j.created_at),
        });
        Self {
            invitation,
            link,
            event,
            job,
            cap: cap.map(|cap| i32::try_from(cap.limit).unwrap_or(i32::MAX)),
            minute,
            window_start: rsvp_app::EmailCap::window_start(minute),
        }
    }
}

/// What the procedure answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallOutcome {
    /// Written; the invitee's business found (if any).
    Created(Option<String>),
    /// A fact that may refuse it holds; nothing written.
    Refused,
    /// Over the cap; the oldest minute counted.
    Capped(i64),
    /// A pending invitation to the email appeared meanwhile.
    AlreadyInvited,
}

impl CallCreateInvitation<'_> {
    /// Runs the call (outside any transaction: the procedure commits).
    pub(crate) fn execute_on(self, conn: &mut PgConnection) -> QueryResult<CallOutcome> {
        let (outcome, invitee_business, oldest): (String, Option<String>, Option<i64>) =
            RunQueryDsl::get_result(self, conn)?;
        Ok(match outcome.as_str() {
            "created" => CallOutcome::Created(invitee_business),
            "refused" => CallOutcome::Refused,
            "capped" => CallOutcome::Capped(oldest.unwrap_or(self.minute)),
            _ => CallOutcome::AlreadyInvited,
        })
    }
}

impl QueryFragment<Pg> for CallCreateInvitation<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let i = self.invitation;
        out.push_sql("CALL rsvp_create_invitation(");
        binds!(out,
            Text => &i.id,
            Text => &i.business_id,
            Text => &i.sent_by_user_id,
            Text => &i.email,
            Text => &i.email_normalized,
            Text => &i.status,
            Nullable<Text> => &i.message,
            Text => &i.custom_data,
            Text => &i.roles,
            Nullable<Text> => &i.first_name,
            Nullable<Text> => &i.last_name,
            Nullable<Text> => &i.phone,
            Nullable<Text> => &i.external_id,
            Bool => &i.source_is_invitee,
            BigInt => &i.expires_at,
            BigInt => &i.created_at,
            BigInt => &i.updated_at,
            Nullable<Text> => &i.email_delivery,
            Nullable<BigInt> => &i.last_sent_at,
            Nullable<Text> => &i.redirect_url,
            Nullable<Text> => &i.locale,
            Text => &self.link.token_hash,
            BigInt => &self.link.created_at,
            Text => &self.event.id,
            Text => &self.event.kind,
            BigInt => &self.event.occurred_at,
            Text => &self.event.data,
            Nullable<Text> => &self.job.id,
            Nullable<Text> => &self.job.to_email,
            Nullable<Text> => &self.job.link_token,
            Nullable<Text> => &self.job.status,
            Nullable<BigInt> => &self.job.next_attempt_at,
            Nullable<BigInt> => &self.job.created_at,
            Nullable<Integer> => &self.cap,
            BigInt => &self.minute,
            BigInt => &self.window_start,
        );
        out.push_sql(", NULL, NULL, NULL)");
        Ok(())
    }
}

/// Static query id of [`CallCreateInvitation`].
#[derive(Debug)]
pub(crate) enum CallCreateInvitationId {}

impl QueryId for CallCreateInvitation<'_> {
    type QueryId = CallCreateInvitationId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for CallCreateInvitation<'_> {
    type SqlType = (Text, Nullable<Text>, Nullable<BigInt>);
}

impl RunQueryDsl<PgConnection> for CallCreateInvitation<'_> {}
