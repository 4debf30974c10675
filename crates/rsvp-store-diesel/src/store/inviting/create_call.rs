//! The PostgreSQL form of a create: one `CALL` of the procedure
//! `rsvp_create_invitation` with a fixed text, so diesel prepares it once
//! per connection and finds it again by a static query id. SQLite runs the
//! same work as several statements in one unit on its writer (in-process, a
//! statement costs no round trip there).

#[allow(clippy::wildcard_imports)]
use super::super::*;
use diesel::PgConnection;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::Integer;

/// A new invitation in one call of the procedure `rsvp_create_invitation`
/// (migrations `2026-12-06-000001_email_cap_minutes`, rewritten by
/// `2026-12-10-000001_create_call_generic_plans`): the facts that may
/// refuse it, the email cap and every row, in one round trip. Its text is
/// fixed, so diesel prepares it once per connection.
#[derive(Debug, Clone, Copy)]
pub(in crate::store) struct CallCreateInvitation<'a> {
    pub(in crate::store) invitation: &'a InvitationRow,
    pub(in crate::store) link: &'a LinkTokenRow,
    pub(in crate::store) event: &'a EventRow,
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
    pub(in crate::store) fn new(
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
pub(in crate::store) enum CallOutcome {
    /// Written; the invitee's business found (if any).
    Created(Option<String>),
    /// A fact that may refuse it holds (a pending invitation to the address
    /// among them: the insert's conflict); nothing written.
    Refused,
    /// Over the cap; the oldest minute counted.
    Capped(i64),
}

impl CallCreateInvitation<'_> {
    /// Runs the call (outside any transaction: the procedure commits).
    pub(in crate::store) fn execute_on(self, conn: &mut PgConnection) -> QueryResult<CallOutcome> {
        let (outcome, invitee_business, oldest): (String, Option<String>, Option<i64>) =
            RunQueryDsl::get_result(self, conn)?;
        Ok(match outcome.as_str() {
            "created" => CallOutcome::Created(invitee_business),
            "capped" => CallOutcome::Capped(oldest.unwrap_or(self.minute)),
            // "refused", and anything else: nothing was written, and the
            // facts read next let the domain decide.
            _ => CallOutcome::Refused,
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
pub(in crate::store) enum CallCreateInvitationId {}

impl QueryId for CallCreateInvitation<'_> {
    type QueryId = CallCreateInvitationId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for CallCreateInvitation<'_> {
    type SqlType = (Text, Nullable<Text>, Nullable<BigInt>);
}

impl RunQueryDsl<PgConnection> for CallCreateInvitation<'_> {}
