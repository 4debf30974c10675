//! `insert_invitations`: many new invitations in one unit of work.
//!
//! The items are sorted by the pending-email key `(business_id,
//! email_normalized)` (stable: among equal keys the first item of the
//! request comes first), so that concurrent batches take the unique index's
//! locks in the same order and never deadlock; results go back in request
//! order. Within the batch, an item whose key an earlier item already has
//! is `AlreadyInvited` without reaching the database: the first one either
//! wins or is itself refused by a pending invitation already stored.
//!
//! On PostgreSQL the batch is one transaction of one statement per
//! [`CHUNK`] (250) items ([`InsertBatch`]): the invitations are one multi-row
//! `INSERT ... SELECT FROM unnest(...) ORDER BY ordinality ON CONFLICT
//! (business_id, email_normalized) WHERE status = 'pending' DO NOTHING
//! RETURNING id`, and the link tokens, events, email jobs and the events'
//! webhook deliveries are data-modifying CTEs of the same statement that
//! join on the ids it returned, so an item the index refused writes
//! nothing. An item whose id is not returned is `AlreadyInvited`. Six
//! round trips for a bulk of 1,000 (`BEGIN`, four statements, `COMMIT`)
//! instead of a savepoint, a statement and a release per item. Any other
//! database error (a foreign key, a lost race on a primary key) fails the
//! statement as a whole: the transaction is rolled back and the batch runs
//! again item by item, so
//! each item still gets its own outcome.
//!
//! The email cap: before the inserts, each business's room under its cap is
//! taken and counted (on PostgreSQL under the business's advisory lock, in
//! a short transaction of its own, so concurrent bulks of one business do
//! not wait for each other's inserts), and the items past it are refused,
//! in request order, with `EmailCapReached`; the insert's transaction gives
//! back the places of the items it did not write. If the insert fails as a
//! whole the places stay taken: the cap errs on the side of fewer emails.
//!
//! SQLite keeps the item-by-item path (a savepoint per item inside one
//! transaction): it runs in-process, where a statement costs no round trip.

use std::collections::{BTreeMap, HashSet};

use diesel::connection::{Connection as _, SimpleConnection as _};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text};
use diesel::{PgConnection, QueryResult, RunQueryDsl};
use rsvp_app::{EmailCap, NewInvitationRecord, StoreError};

use super::{Failure, NewInvitationRows, Unit, email_cap, webhooks, write_unit};
use crate::connection::DbConnection;
use crate::rows::{EmailJobRow, EventRow, InvitationRow, LinkTokenRow};

/// Most items per statement on PostgreSQL. A bulk of 1,000 is four
/// statements: larger ones save a few round trips but cost memory (the
/// bound arrays, ~1 KB per item, are encoded on a blocking thread and
/// copied into libpq's buffer). Measured with `rsvp-bench http` (5 s runs):
/// at 1,000 per statement the server's peak RSS under two concurrent bulk
/// clients rose from ~60 to ~90 MB, at 250 it stayed at 59-64 MB. In 10 s
/// runs (five times the bulks the item-by-item path served) it still
/// reaches 74-77 MB against 62-65 before, but 61 MB with
/// `MALLOC_ARENA_MAX=2`: glibc's per-thread arenas, not live memory.
const CHUNK: usize = 250;

/// One item of a batch: its index in the request and its rows, or why they
/// could not be made.
type Item = (usize, Result<NewInvitationRows, StoreError>);

/// The outcome of each item, in request order.
pub(super) type Outcomes = Vec<Result<(), StoreError>>;

/// A batch of new invitations, converted and sorted for insertion.
pub(super) struct Batch {
    items: Vec<Item>,
    count: usize,
    /// The email cap the batch's emails count against.
    cap: Option<EmailCap>,
    /// The items that queue an email, in request order: (index, business, minute).
    emails: Vec<(usize, String, i64)>,
}

/// Per request index, the cap's refusal of the item (if refused).
type CapRefusals = Vec<Option<StoreError>>;

/// The places a batch took under the email cap.
struct Reserved {
    /// The items refused.
    refused: CapRefusals,
    /// Per business: its minute and the items with a place.
    groups: Vec<(String, i64, Vec<usize>)>,
}

impl Batch {
    /// Converts `records` to rows (an item that cannot be converted keeps
    /// its error) and sorts them by the pending-email key.
    pub(super) fn new(records: &[NewInvitationRecord], cap: Option<EmailCap>) -> Self {
        let emails = records
            .iter()
            .enumerate()
            .filter_map(|(index, record)| {
                let job = record.email_job.as_ref()?;
                let business = crate::rows::id_text(record.invitation.business_id().as_uuid());
                Some((index, business, EmailCap::minute_of(job.created_at)))
            })
            .collect();
        let mut items: Vec<Item> = records.iter().map(NewInvitationRows::from_domain).enumerate().collect();
        items.sort_by(|(_, a), (_, b)| match (a, b) {
            (Ok(a), Ok(b)) => key(a).cmp(&key(b)),
            (Ok(_), Err(_)) => std::cmp::Ordering::Less,
            (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
            (Err(_), Err(_)) => std::cmp::Ordering::Equal,
        });
        Self {
            items,
            count: records.len(),
            cap,
            emails,
        }
    }

    /// Inserts the batch on `conn`: one transaction, see the module's
    /// documentation.
    pub(super) fn insert(&self, conn: &mut DbConnection) -> Unit<Outcomes> {
        if !matches!(conn, DbConnection::Pg(_)) {
            return write_unit(conn, |conn| {
                let reserved = self.reserve(conn)?;
                let outcomes = self.item_by_item(conn, &reserved.refused)?;
                self.give_back(conn, &reserved, &outcomes)?;
                Ok(outcomes)
            });
        }
        // The room is taken and counted in a short transaction of its own:
        // the business's lock is held for that alone, so concurrent bulks of
        // one business insert side by side. The insert gives back what it
        // did not write.
        let reserved = write_unit(conn, |conn| self.reserve(conn))?;
        let attempt = |conn: &mut DbConnection,
                       insert: fn(&Self, &mut DbConnection, &CapRefusals) -> Unit<Outcomes>| {
            write_unit(conn, |conn| {
                let outcomes = insert(self, conn, &reserved.refused)?;
                self.give_back(conn, &reserved, &outcomes)?;
                Ok(outcomes)
            })
        };
        match attempt(conn, Self::in_statements) {
            Err(Failure::Db(error)) => {
                tracing::warn!(%error, "a bulk statement failed; inserting the batch item by item");
                attempt(conn, Self::item_by_item)
            }
            done => done,
        }
    }

    /// Takes each business's room under the email cap (its lock taken on
    /// PostgreSQL, in business order, and the transaction's commit not
    /// waited for: the insert's own commit flushes the log past it) and
    /// counts the emails that fit; the items past it, in request order, are
    /// refused.
    fn reserve(&self, conn: &mut DbConnection) -> Unit<Reserved> {
        let mut reserved = Reserved {
            refused: vec![None; self.count],
            groups: Vec::new(),
        };
        let Some(cap) = self.cap else {
            return Ok(reserved);
        };
        let mut by_business: BTreeMap<&str, (i64, Vec<usize>)> = BTreeMap::new();
        for (index, business, minute) in &self.emails {
            let entry = by_business.entry(business).or_insert((*minute, Vec::new()));
            entry.0 = entry.0.max(*minute);
            entry.1.push(*index);
        }
        if let DbConnection::Pg(pg) = conn
            && !by_business.is_empty()
        {
            pg.batch_execute("SET LOCAL synchronous_commit = off")?;
        }
        for (business, (minute, mut indexes)) in by_business {
            let (room, refusal) = email_cap::room(conn, business, cap, minute)?;
            let fits = usize::try_from(room).unwrap_or(usize::MAX).min(indexes.len());
            for index in indexes.split_off(fits) {
                reserved.refused[index] = Some(refusal.clone());
            }
            email_cap::count(conn, business, minute, i64::try_from(fits).unwrap_or(i64::MAX))?;
            reserved.groups.push((business.to_owned(), minute, indexes));
        }
        Ok(reserved)
    }

    /// Gives back the places reserved for emails that were not written.
    fn give_back(&self, conn: &mut DbConnection, reserved: &Reserved, outcomes: &Outcomes) -> Unit<()> {
        for (business, minute, indexes) in &reserved.groups {
            let unwritten = indexes.iter().filter(|index| outcomes[**index].is_err()).count();
            email_cap::count(conn, business, *minute, -i64::try_from(unwritten).unwrap_or(0))?;
        }
        Ok(())
    }

    /// A savepoint per item, inside the caller's transaction: an item that
    /// fails is rolled back to its savepoint alone.
    fn item_by_item(&self, conn: &mut DbConnection, refused: &CapRefusals) -> Unit<Outcomes> {
        let mut outcomes: Outcomes = vec![Ok(()); self.count];
        for (index, item) in &self.items {
            if let Some(refusal) = &refused[*index] {
                outcomes[*index] = Err(refusal.clone());
                continue;
            }
            outcomes[*index] = match item {
                Ok(rows) => conn
                    .transaction::<_, Failure, _>(|conn| rows.insert(conn))
                    .map_err(Failure::into_store),
                Err(refused) => Err(refused.clone()),
            };
        }
        Ok(outcomes)
    }

    /// PostgreSQL: one statement per [`CHUNK`] items, inside the caller's
    /// transaction.
    fn in_statements(&self, conn: &mut DbConnection, refused: &CapRefusals) -> Unit<Outcomes> {
        let DbConnection::Pg(pg) = conn else {
            return self.item_by_item(conn, refused);
        };
        let mut outcomes: Outcomes = vec![Ok(()); self.count];
        let mut sent: Vec<(usize, &NewInvitationRows)> = Vec::with_capacity(self.items.len());
        let mut previous: Option<(&str, &str)> = None;
        for (index, item) in &self.items {
            if let Some(refusal) = &refused[*index] {
                outcomes[*index] = Err(refusal.clone());
                continue;
            }
            match item {
                Ok(rows) if previous == Some(key(rows)) => outcomes[*index] = Err(StoreError::AlreadyInvited),
                Ok(rows) => {
                    previous = Some(key(rows));
                    sent.push((*index, rows));
                }
                Err(refused) => outcomes[*index] = Err(refused.clone()),
            }
        }
        for chunk in sent.chunks(CHUNK) {
            let inserted: HashSet<String> = InsertBatch::new(chunk).execute_on(pg)?.into_iter().collect();
            for (index, rows) in chunk {
                if !inserted.contains(&rows.invitation.id) {
                    outcomes[*index] = Err(StoreError::AlreadyInvited);
                }
            }
        }
        Ok(outcomes)
    }
}

/// The pending-email key of an item.
fn key(rows: &NewInvitationRows) -> (&str, &str) {
    (&rows.invitation.business_id, &rows.invitation.email_normalized)
}

/// A column value as bound in an array: texts borrowed, numbers copied.
trait Element<'a> {
    /// The bound value.
    type Bound: 'a;
    /// The value to bind.
    fn bound(&'a self) -> Self::Bound;
}

impl<'a> Element<'a> for String {
    type Bound = &'a str;
    fn bound(&'a self) -> &'a str {
        self
    }
}

impl<'a> Element<'a> for Option<String> {
    type Bound = Option<&'a str>;
    fn bound(&'a self) -> Option<&'a str> {
        self.as_deref()
    }
}

macro_rules! copied_element {
    ($($ty:ty),+) => {$(
        impl<'a> Element<'a> for $ty {
            type Bound = $ty;
            fn bound(&'a self) -> $ty {
                *self
            }
        }
    )+};
}

copied_element!(i64, Option<i64>, i32, bool);

/// Declares the columns of one table as arrays (one element per row), with
/// `push` (a row's values) and `bind` (the arrays as `unnest`'s arguments,
/// each cast to its type in the text, so that the statement plans without
/// its binds).
macro_rules! columns {
    ($(#[$doc:meta])* $name:ident of $row:ty { $($field:ident: $rust:ty => $sql:ty as $cast:literal),+ $(,)? }) => {
        $(#[$doc])*
        struct $name<'a> {
            $($field: Vec<<$rust as Element<'a>>::Bound>,)+
        }

        impl<'a> $name<'a> {
            /// The column names, in the order of `bind`.
            const NAMES: &'static str = concat!($(stringify!($field), ", ",)+);

            /// Empty columns with room for `rows` rows.
            fn with_capacity(rows: usize) -> Self {
                Self {
                    $($field: Vec::with_capacity(rows),)+
                }
            }

            /// Appends the values of `row`.
            fn push(&mut self, row: &'a $row) {
                $(self.$field.push(Element::bound(&row.$field));)+
            }

            /// Binds the arrays, comma-separated.
            fn bind<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
                let mut separator = "";
                $(
                    out.push_sql(separator);
                    out.push_bind_param::<Array<$sql>, _>(&self.$field)?;
                    out.push_sql(concat!("::", $cast, "[]"));
                    separator = ", ";
                )+
                let _ = separator;
                Ok(())
            }
        }

        impl std::fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
}

columns! {
    /// `invitations` columns.
    InvitationColumns of InvitationRow {
        id: String => Text as "text",
        business_id: String => Text as "text",
        sent_by_user_id: String => Text as "text",
        email: String => Text as "text",
        email_normalized: String => Text as "text",
        status: String => Text as "text",
        message: Option<String> => Nullable<Text> as "text",
        custom_data: String => Text as "text",
        roles: String => Text as "text",
        first_name: Option<String> => Nullable<Text> as "text",
        last_name: Option<String> => Nullable<Text> as "text",
        phone: Option<String> => Nullable<Text> as "text",
        external_id: Option<String> => Nullable<Text> as "text",
        source_is_invitee: bool => Bool as "boolean",
        invitee_business_id: Option<String> => Nullable<Text> as "text",
        expires_at: i64 => BigInt as "bigint",
        created_at: i64 => BigInt as "bigint",
        updated_at: i64 => BigInt as "bigint",
        resolved_at: Option<i64> => Nullable<BigInt> as "bigint",
        email_delivery: Option<String> => Nullable<Text> as "text",
        last_sent_at: Option<i64> => Nullable<BigInt> as "bigint",
        redirect_url: Option<String> => Nullable<Text> as "text",
        locale: Option<String> => Nullable<Text> as "text",
    }
}

columns! {
    /// `link_tokens` columns.
    LinkColumns of LinkTokenRow {
        token_hash: String => Text as "text",
        invitation_id: String => Text as "text",
        created_at: i64 => BigInt as "bigint",
        revoked_at: Option<i64> => Nullable<BigInt> as "bigint",
    }
}

columns! {
    /// `events` columns.
    EventColumns of EventRow {
        id: String => Text as "text",
        kind: String => Text as "text",
        invitation_id: Option<String> => Nullable<Text> as "text",
        business_id: String => Text as "text",
        invitee_business_id: Option<String> => Nullable<Text> as "text",
        occurred_at: i64 => BigInt as "bigint",
        data: String => Text as "text",
    }
}

columns! {
    /// `email_jobs` columns.
    JobColumns of EmailJobRow {
        id: String => Text as "text",
        invitation_id: String => Text as "text",
        to_email: String => Text as "text",
        link_token: Option<String> => Nullable<Text> as "text",
        attempts: i32 => Integer as "integer",
        status: String => Text as "text",
        next_attempt_at: i64 => BigInt as "bigint",
        last_error: Option<String> => Nullable<Text> as "text",
        created_at: i64 => BigInt as "bigint",
        updated_at: i64 => BigInt as "bigint",
        business_id: String => Text as "text",
    }
}

/// The rows of many new invitations as one statement on PostgreSQL; selects
/// the ids of the invitations inserted (those the pending-email index did
/// not refuse). Its text is fixed (the rows travel as arrays), so diesel
/// prepares it once per connection.
#[derive(Debug)]
struct InsertBatch<'a> {
    invitations: InvitationColumns<'a>,
    links: LinkColumns<'a>,
    events: EventColumns<'a>,
    jobs: JobColumns<'a>,
}

impl<'a> InsertBatch<'a> {
    /// The statement for `items`, inserted in the order given.
    fn new(items: &[(usize, &'a NewInvitationRows)]) -> Self {
        let mut statement = Self {
            invitations: InvitationColumns::with_capacity(items.len()),
            links: LinkColumns::with_capacity(items.len()),
            events: EventColumns::with_capacity(items.len()),
            jobs: JobColumns::with_capacity(items.len()),
        };
        for (_, rows) in items {
            statement.invitations.push(&rows.invitation);
            statement.links.push(&rows.link);
            statement.events.push(&rows.event);
            if let Some(job) = &rows.job {
                statement.jobs.push(job);
            }
        }
        statement
    }

    /// Runs the statement: the ids of the invitations inserted.
    fn execute_on(self, conn: &mut PgConnection) -> QueryResult<Vec<String>> {
        RunQueryDsl::load(self, conn)
    }
}

/// `NAMES` without its trailing `", "`.
fn names(list: &'static str) -> &'static str {
    list.trim_end_matches(", ")
}

impl QueryFragment<Pg> for InsertBatch<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let invitation = names(InvitationColumns::NAMES);
        out.push_sql("WITH item AS (SELECT * FROM unnest(");
        self.invitations.bind(&mut out)?;
        out.push_sql(") WITH ORDINALITY AS i (");
        out.push_sql(invitation);
        out.push_sql(", ord)), new_invitation AS (INSERT INTO invitations (");
        out.push_sql(invitation);
        out.push_sql(") SELECT ");
        out.push_sql(invitation);
        // The order of the key (the arrays are sorted): concurrent batches
        // lock the unique index's entries in the same order.
        out.push_sql(
            " FROM item ORDER BY ord \
             ON CONFLICT (business_id, email_normalized) WHERE status = 'pending' DO NOTHING \
             RETURNING id)",
        );
        let link = names(LinkColumns::NAMES);
        out.push_sql(", new_link AS (INSERT INTO link_tokens (");
        out.push_sql(link);
        out.push_sql(") SELECT l.* FROM unnest(");
        self.links.bind(&mut out)?;
        out.push_sql(") AS l (");
        out.push_sql(link);
        out.push_sql(") JOIN new_invitation AS n ON n.id = l.invitation_id)");
        let event = names(EventColumns::NAMES);
        out.push_sql(", new_event AS (INSERT INTO events (");
        out.push_sql(event);
        out.push_sql(") SELECT e.* FROM unnest(");
        self.events.bind(&mut out)?;
        out.push_sql(") AS e (");
        out.push_sql(event);
        out.push_sql(
            ") JOIN new_invitation AS n ON n.id = e.invitation_id \
             RETURNING id, kind, business_id, invitee_business_id, occurred_at)",
        );
        let job = names(JobColumns::NAMES);
        out.push_sql(", new_job AS (INSERT INTO email_jobs (");
        out.push_sql(job);
        out.push_sql(") SELECT j.* FROM unnest(");
        self.jobs.bind(&mut out)?;
        out.push_sql(") AS j (");
        out.push_sql(job);
        out.push_sql(") JOIN new_invitation AS n ON n.id = j.invitation_id)");
        // The events' webhook deliveries, as a single insert queues them.
        out.push_sql(", new_delivery AS (");
        out.push_sql(&webhooks::QUEUE_FROM_NEW_EVENT);
        out.push_sql(") SELECT id FROM new_invitation");
        Ok(())
    }
}

/// Static query id of [`InsertBatch`].
#[derive(Debug)]
enum InsertBatchId {}

impl QueryId for InsertBatch<'_> {
    type QueryId = InsertBatchId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for InsertBatch<'_> {
    type SqlType = Text;
}

impl RunQueryDsl<PgConnection> for InsertBatch<'_> {}
