//! The reminder before expiry: the invitations due for it, and the unit
//! that records one. The conditional update on `reminded_at IS NULL` marks
//! an invitation once, whatever the replicas do.

#[allow(clippy::wildcard_imports)]
use super::super::*;
use rsvp_app::{ReminderQuery, ReminderRecord};

/// No suppression of the invitation's address, for its business or for
/// everyone: a correlated subquery diesel's DSL cannot write, as fixed
/// text (the statement stays cacheable), served by
/// `suppressions_email_keyset_idx`.
const NOT_SUPPRESSED: Condition = Condition(
    "NOT EXISTS (SELECT 1 FROM suppressions WHERE suppressions.email_normalized = invitations.email_normalized \
     AND (suppressions.business_id IS NULL OR suppressions.business_id = invitations.business_id))",
);

/// No bounce or complaint reported on the invitation's latest email.
const NOT_BOUNCED: Condition =
    Condition("(invitations.email_feedback IS NULL OR invitations.email_feedback NOT IN ('bounced', 'complained'))");

/// `$query` (a select or an update of `invitations`) narrowed to the
/// invitations due for their reminder at `$now` for `$window` (both
/// nanoseconds), as `ReminderQuery::is_due` reads them, never reminded and
/// not suppressed. `expires_at` in the window is the range
/// `invitations_pending_expiry_idx` serves.
macro_rules! due {
    ($query:expr, $now:expr, $window:expr) => {{
        use crate::schema::invitations::dsl as i;
        let (now, window): (i64, i64) = ($now, $window);
        $query
            .filter(stored_pending())
            .filter(i::expires_at.gt(now))
            .filter(i::expires_at.le(now.saturating_add(window)))
            .filter(i::reminded_at.is_null())
            .filter(i::last_sent_at.lt((i::expires_at - window).nullable()))
            .filter(NOT_BOUNCED)
            .filter(NOT_SUPPRESSED)
    }};
}

/// A window as nanoseconds (a window too long to count saturates).
fn window_nanos(window: time::Duration) -> i64 {
    i64::try_from(window.whole_nanoseconds()).unwrap_or(i64::MAX)
}

/// [`InvitationStore::due_for_reminder`]'s read.
pub(in crate::store) struct DueQuery {
    now: i64,
    window: i64,
    skip: Vec<String>,
    limit: i64,
}

impl DueQuery {
    pub(in crate::store) fn new(query: &ReminderQuery) -> Self {
        Self {
            now: bound_nanos(query.now),
            window: window_nanos(query.window),
            skip: query.skip_businesses.iter().map(|b| id_text(b.as_uuid())).collect(),
            limit: saturating_limit(query.limit),
        }
    }

    pub(in crate::store) fn load(&self, conn: &mut DbConnection) -> Unit<Vec<Invitation>> {
        use crate::schema::invitations::dsl as i;
        let mut query = due!(invitations::table.into_boxed::<MultiBackend>(), self.now, self.window);
        if !self.skip.is_empty() {
            query = query.filter(i::business_id.ne_all(self.skip.clone()));
        }
        let rows = query
            .order((i::expires_at.asc(), i::id.asc()))
            .limit(self.limit)
            .select(StoredInvitationRow::as_select())
            .load(conn)?;
        rows_into(rows, StoredInvitationRow::into_domain)
    }
}

/// Everything [`InvitationStore::record_reminder`] writes.
pub(in crate::store) struct ReminderRows {
    id: String,
    now: i64,
    window: i64,
    link: LinkTokenRow,
    event: EventRow,
    job: EmailJobRow,
    cap: Option<EmailCap>,
    minute: i64,
}

impl ReminderRows {
    pub(in crate::store) fn from_domain(record: &ReminderRecord) -> Result<Self, StoreError> {
        Ok(Self {
            id: id_text(record.invitation_id.as_uuid()),
            now: to_nanos(record.now)?,
            window: window_nanos(record.window),
            link: LinkTokenRow::from_domain(&record.link)?,
            event: EventRow::from_domain(&record.event)?,
            // The event names the sending business, whose cap the job counts against.
            job: EmailJobRow::from_domain(&record.email_job, record.event.business_id)?,
            cap: record.email_cap,
            minute: EmailCap::minute_of(record.email_job.created_at),
        })
    }

    /// The unit of work (inside a write unit): the invitation as stored
    /// after the reminder, or `None` when it is not due.
    pub(in crate::store) fn record(&self, conn: &mut DbConnection) -> Unit<Option<Invitation>> {
        use crate::schema::invitations::dsl as i;
        // Read first, so that an invitation that is not due never meets the
        // cap, and the cap's lock (taken before any row lock, as a resend
        // does) is taken only for one that is.
        let due_now: Option<String> = due!(
            i::invitations.filter(i::id.eq(&self.id)).into_boxed(),
            self.now,
            self.window
        )
        .select(i::id)
        .first(conn)
        .optional()?;
        if due_now.is_none() {
            return Ok(None);
        }
        if let Some(cap) = self.cap {
            let (room, refusal) = email_cap::room(conn, &self.job.business_id, cap, self.minute)?;
            if room == 0 {
                return Err(refusal.into());
            }
        }
        // Conditional: among racing replicas, one changes the row.
        let changed = due!(
            diesel::update(i::invitations).filter(i::id.eq(&self.id)).into_boxed(),
            self.now,
            self.window
        )
        .set((
            i::reminded_at.eq(Some(self.now)),
            i::last_sent_at.eq(Some(self.now)),
            i::email_delivery.eq("queued"),
            // The provider's report was on the earlier email.
            i::email_feedback.eq(None::<String>),
            i::updated_at.eq(self.now),
        ))
        .execute(conn)?;
        if changed == 0 {
            return Ok(None);
        }
        diesel::insert_into(link_tokens::table)
            .values(&self.link)
            .execute(conn)?;
        webhooks::insert_event(conn, &self.event)?;
        diesel::insert_into(email_jobs::table).values(&self.job).execute(conn)?;
        if self.cap.is_some() {
            email_cap::count(conn, &self.job.business_id, self.minute, 1)?;
        }
        Ok(Some(stored_invitation(conn, &self.id)?))
    }
}
