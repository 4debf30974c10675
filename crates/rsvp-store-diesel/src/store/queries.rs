//! The queries and rows several port methods share.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Everything one new invitation writes.
pub(super) struct NewInvitationRows {
    pub(super) invitation: InvitationRow,
    pub(super) link: LinkTokenRow,
    pub(super) event: EventRow,
    pub(super) job: Option<EmailJobRow>,
}

impl NewInvitationRows {
    pub(super) fn from_domain(record: &NewInvitationRecord) -> Result<Self, StoreError> {
        Ok(Self {
            invitation: InvitationRow::from_domain(&record.invitation)?,
            link: LinkTokenRow::from_domain(&record.link)?,
            event: EventRow::from_domain(&record.event)?,
            job: record
                .email_job
                .as_ref()
                .map(|job| EmailJobRow::from_domain(job, record.invitation.business_id()))
                .transpose()?,
        })
    }

    /// Inserts the rows, inside a write unit: SQLite's create, and a bulk
    /// item by item (a PostgreSQL create is one procedure call instead,
    /// [`CallCreateInvitation`](crate::one_statement::CallCreateInvitation)).
    pub(super) fn insert(&self, conn: &mut DbConnection) -> Unit<()> {
        diesel::insert_into(invitations::table)
            .values(&self.invitation)
            .execute(conn)
            .map_err(unique_is(StoreError::AlreadyInvited))?;
        diesel::insert_into(link_tokens::table)
            .values(&self.link)
            .execute(conn)?;
        webhooks::insert_event(conn, &self.event)?;
        if let Some(job) = &self.job {
            diesel::insert_into(email_jobs::table).values(job).execute(conn)?;
        }
        Ok(())
    }
}

/// The stored status `pending`, written as a literal so that the planners
/// of both backends can use the partial indexes `WHERE status = 'pending'`
/// (a bound parameter would hide the value from them).
pub(super) fn stored_pending() -> diesel::expression::SqlLiteral<Bool> {
    sql::<Bool>("invitations.status = 'pending'")
}

/// [`stored_pending`] for lists, with the tautology that
/// `invitations_sent_pending_keyset_idx` carries in its predicate
/// (`source_is_invitee` is a NOT NULL boolean): only a query that states it
/// may read that index. Point lookups (`find_pending`) do not, so a planner
/// without statistics yet (a fresh database) can never pick the keyset
/// index, scanning a sender's pending rows in time order, over the unique
/// `(business_id, email_normalized)` one; measured: `App::invite` fell from
/// ~700 to ~250 creates/s before the tag (docs/BENCHMARKS.md).
pub(super) fn listed_pending() -> diesel::expression::SqlLiteral<Bool> {
    sql::<Bool>("invitations.status = 'pending' AND invitations.source_is_invitee IN (TRUE, FALSE)")
}

pub(super) fn get_invitation_row(conn: &mut DbConnection, id: &str) -> Unit<Option<InvitationRow>> {
    Ok(invitations::table
        .find(id)
        .select(InvitationRow::as_select())
        .first(conn)
        .optional()?)
}

pub(super) fn stored_invitation(conn: &mut DbConnection, id: &str) -> Unit<Invitation> {
    match get_invitation_row(conn, id)? {
        Some(row) => Ok(row.into_domain()?),
        None => Err(StoreError::Unavailable(format!("invitation {id} vanished inside its own transaction")).into()),
    }
}

pub(super) fn rows_into<R, T>(rows: Vec<R>, convert: impl Fn(R) -> Result<T, StoreError>) -> Unit<Vec<T>> {
    Ok(rows.into_iter().map(convert).collect::<Result<Vec<_>, _>>()?)
}

/// The stored suppression of this address and scope, if any.
pub(super) fn suppression_of(
    conn: &mut DbConnection,
    email_normalized: &str,
    business: Option<&str>,
) -> Unit<Option<SuppressionRow>> {
    let query = suppressions::table
        .filter(suppressions::email_normalized.eq(email_normalized.to_owned()))
        .select(SuppressionRow::as_select())
        .into_boxed::<MultiBackend>();
    let query = match business {
        Some(business) => query.filter(suppressions::business_id.eq(business.to_owned())),
        None => query.filter(suppressions::business_id.is_null()),
    };
    Ok(query.first(conn).optional()?)
}

/// The limit of an over-fetching page query: one row more than the page.
pub(crate) fn overfetch(limit: rsvp_app::PageSize) -> i64 {
    i64::from(limit.get()) + 1
}

pub(super) type InvitationPredicate = Box<dyn BoxableExpression<invitations::table, MultiBackend, SqlType = Bool>>;

/// Whether the invitation reads as `status` at `now` (nanoseconds).
///
/// `pending` is the literal [`listed_pending`], so that the sent list
/// filtered on it reads `invitations_sent_pending_keyset_idx` (only the
/// pending rows, in keyset order), and its `expires_at > now` is written
/// `expires_at + 0 > now`: an expression no index serves and no statistic
/// estimates. Written plainly, the planners see an index range on
/// `invitations_pending_expiry_idx` and, taking the two conditions as
/// independent (pending rows are in fact almost all unexpired), expect a
/// few hundred rows where there are all the pending ones: PostgreSQL then
/// reads and sorts every pending row of the table for each page (15-25 ms
/// at 1M rows instead of 0.2 ms; docs/BENCHMARKS.md).
pub(super) fn reads_as(status: InvitationStatus, now: i64) -> InvitationPredicate {
    use crate::schema::invitations::dsl as i;
    match status {
        InvitationStatus::Pending => Box::new(listed_pending().and((i::expires_at + 0_i64).gt(now))),
        InvitationStatus::Expired => Box::new(
            i::status
                .eq("expired")
                .or(i::status.eq("pending").and(i::expires_at.le(now))),
        ),
        other => Box::new(i::status.eq(other.as_str())),
    }
}

/// The filters, keyset and order shared by both invitation lists.
pub(super) fn invitation_page(
    mut query: invitations::BoxedQuery<'static, MultiBackend>,
    filter: &InvitationFilter,
    after: Option<Cursor>,
    now: OffsetDateTime,
    limit: rsvp_app::PageSize,
) -> invitations::BoxedQuery<'static, MultiBackend> {
    use crate::schema::invitations::dsl as i;
    let now = bound_nanos(now);
    let mut statuses = filter.statuses.clone();
    statuses.sort();
    statuses.dedup();
    let mut wanted: Option<InvitationPredicate> = None;
    for status in statuses {
        let next = reads_as(status, now);
        wanted = Some(match wanted {
            None => next,
            Some(previous) => Box::new(previous.or(next)),
        });
    }
    if let Some(wanted) = wanted {
        query = query.filter(wanted);
    }
    if let Some(email) = &filter.email {
        query = query.filter(i::email_normalized.eq(email.normalized().to_owned()));
    }
    if let Some(cursor) = after {
        // A row-value comparison: both backends read it as one index range
        // on (created_at, id), so a deep page costs as much as the first.
        query = query.filter(
            sql::<Bool>("(invitations.created_at, invitations.id) < (")
                .bind::<BigInt, _>(bound_nanos(cursor.created_at))
                .sql(", ")
                .bind::<Text, _>(id_text(cursor.id))
                .sql(")"),
        );
    }
    query
        .order((i::created_at.desc(), i::id.desc()))
        .limit(overfetch(limit))
}

pub(super) fn invitation_cursor(invitation: &Invitation) -> Cursor {
    Cursor {
        created_at: invitation.created_at(),
        id: invitation.id().as_uuid(),
    }
}

/// Connections at one end (`inviter` or `invitee`) of `business`, newest first.
pub(super) fn connections_at_one_end(
    conn: &mut DbConnection,
    business: &str,
    as_inviter: bool,
    page: &PageRequest,
) -> Unit<Vec<ConnectionRow>> {
    use crate::schema::connections::dsl as c;
    let mut query = c::connections
        .select(ConnectionRow::as_select())
        .into_boxed::<MultiBackend>();
    query = if as_inviter {
        query.filter(c::inviter_business_id.eq(business.to_owned()))
    } else {
        query.filter(c::invitee_business_id.eq(business.to_owned()))
    };
    if let Some(cursor) = page.after {
        query = query.filter(
            sql::<Bool>("(connections.created_at, connections.id) < (")
                .bind::<BigInt, _>(bound_nanos(cursor.created_at))
                .sql(", ")
                .bind::<Text, _>(id_text(cursor.id))
                .sql(")"),
        );
    }
    Ok(query
        .order((c::created_at.desc(), c::id.desc()))
        .limit(overfetch(page.limit))
        .load(conn)?)
}

/// Events on one side (`sender` or known `invitee`) of `business`, by id.
pub(super) fn events_on_one_side(
    conn: &mut DbConnection,
    business: &str,
    as_sender: bool,
    query: &EventQuery,
) -> Unit<Vec<EventRow>> {
    use crate::schema::events::dsl as e;
    let mut q = e::events.select(EventRow::as_select()).into_boxed::<MultiBackend>();
    q = if as_sender {
        q.filter(e::business_id.eq(business.to_owned()))
    } else {
        q.filter(e::invitee_business_id.eq(business.to_owned()))
    };
    if let Some(after) = query.after {
        q = q.filter(e::id.gt(id_text(after.as_uuid())));
    }
    Ok(q.order(e::id.asc()).limit(overfetch(query.limit)).load(conn)?)
}

/// What an attempt leaves on its job.
pub(crate) enum Finish {
    Sent,
    Retry(i64, String),
    Failed(String),
}

impl Finish {
    pub(super) fn from_domain(outcome: &EmailOutcome) -> Result<Self, StoreError> {
        Ok(match outcome {
            EmailOutcome::Sent => Self::Sent,
            EmailOutcome::Retry { retry_at, error } => Self::Retry(to_nanos(*retry_at)?, error.clone()),
            EmailOutcome::Failed { error } => Self::Failed(error.clone()),
        })
    }

    /// The job's new status, next attempt (`None` leaves it), error (`None`
    /// leaves the last one) and whether its link token stays (a retry needs
    /// it; a job that is done no longer does).
    pub(crate) fn columns(&self) -> (&'static str, Option<i64>, Option<&str>, bool) {
        match self {
            Self::Sent => ("sent", None, None, false),
            Self::Retry(retry_at, error) => ("queued", Some(*retry_at), Some(error.as_str()), true),
            Self::Failed(error) => ("failed", None, Some(error.as_str()), false),
        }
    }

    /// PostgreSQL's one statement for this outcome of job `id`.
    pub(super) fn statement<'a>(&'a self, id: &'a str, now: i64) -> FinishEmailJob<'a> {
        let (status, retry_at, error, keep_link_token) = self.columns();
        FinishEmailJob {
            id,
            status,
            retry_at,
            error,
            keep_link_token,
            now,
        }
    }
}

/// Records one outcome on SQLite (inside the caller's write unit): whether
/// the job exists.
pub(super) fn finish_on_sqlite(conn: &mut DbConnection, id: &str, outcome: Finish, now: i64) -> Unit<bool> {
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
    let (status, next_attempt_at, last_error, link_token) = match outcome {
        Finish::Sent => ("sent", job.next_attempt_at, job.last_error, None),
        Finish::Retry(retry_at, error) => ("queued", retry_at, Some(error), job.link_token),
        Finish::Failed(error) => ("failed", job.next_attempt_at, Some(error), None),
    };
    diesel::update(j::email_jobs.find(id))
        .set((
            j::status.eq(status),
            j::next_attempt_at.eq(next_attempt_at),
            j::last_error.eq(last_error),
            j::link_token.eq(link_token),
            j::updated_at.eq(now),
        ))
        .execute(conn)?;
    // The invitation shows the fate of its latest email only: an older job
    // finishing after a resend does not overwrite it.
    let newer = email_jobs::table
        .filter(j::invitation_id.eq(job.invitation_id.clone()))
        .filter(j::created_at.gt(job.created_at))
        .select(j::id);
    diesel::update(invitations::table.find(&job.invitation_id))
        .filter(diesel::dsl::not(diesel::dsl::exists(newer)))
        .set(invitations::email_delivery.eq(status))
        .execute(conn)?;
    Ok(true)
}

pub(super) fn saturating_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Claims due jobs on PostgreSQL in one statement: the rows are locked with
/// `FOR UPDATE SKIP LOCKED`, so concurrent claimers (other replicas) skip
/// each other's jobs instead of waiting for them or taking them twice.
pub(super) fn claim_on_postgres(
    conn: &mut PgConnection,
    now: i64,
    limit: i64,
    lease_end: i64,
) -> Unit<Vec<EmailJobRow>> {
    let mut rows: Vec<EmailJobRow> = diesel::sql_query(
        "WITH due AS ( \
             SELECT id FROM email_jobs \
             WHERE status = 'queued' AND next_attempt_at <= $1 \
             ORDER BY created_at, id \
             LIMIT $2 \
             FOR UPDATE SKIP LOCKED) \
         UPDATE email_jobs AS j \
         SET next_attempt_at = $3, attempts = j.attempts + 1, updated_at = $1 \
         FROM due WHERE j.id = due.id \
         RETURNING j.id, j.invitation_id, j.to_email, j.link_token, j.attempts, j.status, \
                   j.next_attempt_at, j.last_error, j.created_at, j.updated_at, j.business_id",
    )
    .bind::<BigInt, _>(now)
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(lease_end)
    .load(conn)?;
    // RETURNING keeps no order: restore the claim's.
    rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(rows)
}

/// Claims due jobs on SQLite inside one immediate transaction: SQLite has
/// one writer at a time, so no other claimer runs between the read and the
/// update.
pub(super) fn claim_on_sqlite(conn: &mut DbConnection, now: i64, limit: i64, lease_end: i64) -> Unit<Vec<EmailJobRow>> {
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

/// Opens SQLite's writer connection (with the pool's pragmas) and its thread.
pub(super) fn start_writer(target: &DatabaseUrl) -> Result<Writer, SetupError> {
    let failed = |message: String| SetupError::Connect {
        backend: Backend::Sqlite,
        message,
    };
    let mut conn = target.establish().map_err(|e| failed(e.to_string()))?;
    crate::connection::prepare(&mut conn).map_err(|e| failed(e.to_string()))?;
    Writer::start(conn).map_err(|e| failed(format!("cannot start the writer thread: {e}")))
}
