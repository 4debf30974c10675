//! The rows of invitations that several port methods share: what a new one
//! writes, how a stored one is read, and the pages of both lists.

#[allow(clippy::wildcard_imports)]
use super::super::*;

/// Everything one new invitation writes.
pub(in crate::store) struct NewInvitationRows {
    pub(in crate::store) invitation: InvitationRow,
    pub(in crate::store) link: LinkTokenRow,
    pub(in crate::store) event: EventRow,
    pub(in crate::store) job: Option<EmailJobRow>,
}

impl NewInvitationRows {
    pub(in crate::store) fn from_domain(record: &NewInvitationRecord) -> Result<Self, StoreError> {
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
    /// [`CallCreateInvitation`](super::create_call::CallCreateInvitation)).
    pub(in crate::store) fn insert(&self, conn: &mut DbConnection) -> Unit<()> {
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
///
/// Diesel's literal, so the point lookups that hold it are planned at every
/// call: without statistics (a fresh or freshly bulk-loaded table), the
/// generic plan of "this business's pending invitation to these addresses"
/// reads `invitations_pending_expiry_idx` whole, every pending invitation
/// of every business, where the call's own plan seeks
/// `invitations_one_pending_per_email`; measured: bulks with 2 clients fell
/// from 7,561 to 2,670 invitations/s when they were prepared.
pub(in crate::store) fn stored_pending() -> diesel::expression::SqlLiteral<Bool> {
    sql::<Bool>("invitations.status = 'pending'")
}

/// [`stored_pending`] for lists, with the tautology that
/// `invitations_sent_pending_keyset_idx` carries in its predicate
/// (`source_is_invitee` is a NOT NULL boolean): only a query that states it
/// may read that index. Point lookups (`find_pending_for_emails`) do not, so a planner
/// without statistics yet (a fresh database) can never pick the keyset
/// index, scanning a sender's pending rows in time order, over the unique
/// `(business_id, email_normalized)` one; measured: `App::invite` fell from
/// ~700 to ~250 creates/s before the tag (docs/BENCHMARKS.md).
pub(in crate::store) fn listed_pending() -> Condition {
    Condition("invitations.status = 'pending' AND invitations.source_is_invitee IN (TRUE, FALSE)")
}

pub(in crate::store) fn get_invitation_row(conn: &mut DbConnection, id: &str) -> Unit<Option<StoredInvitationRow>> {
    Ok(invitations::table
        .find(id)
        .select(StoredInvitationRow::as_select())
        .first(conn)
        .optional()?)
}

pub(in crate::store) fn stored_invitation(conn: &mut DbConnection, id: &str) -> Unit<Invitation> {
    match get_invitation_row(conn, id)? {
        Some(row) => Ok(row.into_domain()?),
        None => Err(StoreError::Unavailable(format!("invitation {id} vanished inside its own transaction")).into()),
    }
}

pub(in crate::store) type InvitationPredicate =
    Box<dyn BoxableExpression<invitations::table, MultiBackend, SqlType = Bool>>;

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
pub(in crate::store) fn reads_as(status: InvitationStatus, now: i64) -> InvitationPredicate {
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
fn invitation_page(
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
        query = query.filter(KeysetBefore::new("(invitations.created_at, invitations.id)", &cursor));
    }
    query
        .order((i::created_at.desc(), i::id.desc()))
        .limit(overfetch(limit))
}

/// The select list of [`StoredInvitationRow`], for the pages of both lists:
/// rendered once per process ([`FixedSelection`]).
fn stored_invitation_columns() -> Unit<FixedSelection<StoredInvitationSelection>> {
    static SQL: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    let sql = match SQL.get() {
        Some(sql) => sql,
        None => {
            let columns = <StoredInvitationRow as Selectable<diesel::pg::Pg>>::construct_selection();
            let rendered = FixedSelection::render(&columns)?;
            // Once per process: the text lives as long as the statements prepared from it.
            SQL.get_or_init(|| Box::leak(rendered.into_boxed_str()))
        }
    };
    Ok(FixedSelection::new(sql))
}

/// The columns of [`StoredInvitationRow`], in its order.
type StoredInvitationSelection = <StoredInvitationRow as Selectable<diesel::pg::Pg>>::SelectExpression;

/// The page of `base` that `query` asks for, read into the domain.
pub(in crate::store) fn load_invitation_page(
    conn: &mut DbConnection,
    base: invitations::BoxedQuery<'static, MultiBackend>,
    query: &InvitationQuery,
) -> Unit<Page<Invitation>> {
    let rows: Vec<StoredInvitationRow> = invitation_page(base, &query.filter, query.after, query.now, query.limit)
        .select(stored_invitation_columns()?)
        .load(conn)?;
    domain_page(rows, StoredInvitationRow::into_domain, query.limit, invitation_cursor)
}

pub(in crate::store) fn invitation_cursor(invitation: &Invitation) -> Cursor {
    Cursor {
        created_at: invitation.created_at(),
        id: invitation.id().as_uuid(),
    }
}
