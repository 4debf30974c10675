//! [`DieselStore`]: the `rsvp_app::Store` port on diesel.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use rsvp_app::{
    ApiKeyRecord, BusinessQuery, Credential, Cursor, EmailJob, EmailOutcome, EmailsQueued, ErasureCounts,
    ErasureRecord, EventQuery, IdempotencyBegin, IdempotencyClaim, IdempotencyKey, IdempotencyScope, InvitationContext,
    InvitationFilter, InvitationQuery, NewInvitationRecord, Page, PageRequest, ResendRecord, SecretHash, Store,
    StoreError, StoredResponse, SuppressionQuery, TransitionOutcome, TransitionRecord, WebhookAttempt, WebhookDelivery,
    WebhookEndpoint,
};
use rsvp_domain::{
    ApiKey, ApiKeyId, Business, BusinessId, Connection as DomainConnection, EmailAddress, EmailJobId, Event, EventId,
    Invitation, InvitationId, InvitationStatus, Suppression, SuppressionId, User, UserId, WebhookEndpointId,
    ordered_pair,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::SetupError;
use crate::connection::{Backend, DatabaseUrl, DbConnection, MultiBackend, Pool, PoolShape, build_pool};
use crate::idempotency;
use crate::migrations;
use crate::one_statement::{FinishEmailJob, FinishEmailJobs, InsertNewInvitation};
use crate::rows::{
    ApiKeyRow, BusinessRow, ConnectionRow, EmailJobRow, EventRow, InvitationRow, LinkTokenRow, SuppressionRow, UserRow,
    bound_nanos, from_nanos, id_text, to_nanos,
};
use crate::schema::{api_keys, businesses, connections, email_jobs, invitations, link_tokens, suppressions, users};
use crate::wake::{StoreWorkSignal, Wake};
use crate::writer::Writer;

mod bulk;
mod context;
mod webhooks;

diesel::define_sql_function! {
    /// SQL `COALESCE` of two nullable texts (both backends have it).
    fn coalesce(first: Nullable<Text>, second: Nullable<Text>) -> Nullable<Text>;
}

/// How to reach the database and size the pool.
///
/// `StoreOptions::new(url)` gives the defaults; change the public fields
/// after it.
#[derive(Clone)]
#[non_exhaustive]
pub struct StoreOptions {
    /// `postgres://...` / `postgresql://...` for PostgreSQL; `sqlite://path`,
    /// `sqlite:path` or a bare file path for SQLite (created when missing;
    /// its directory must exist).
    pub url: String,
    /// Most connections the pool opens (default 10). SQLite serializes
    /// writers whatever the size; readers run in parallel (WAL).
    pub max_connections: u32,
    /// Connections kept open while idle (default 1; `None`: as many as
    /// `max_connections`).
    pub min_idle: Option<u32>,
    /// How long a unit of work waits for a connection (a free one, or a new
    /// one when the pool has none) before failing with `Unavailable`
    /// (default 1 s): with the database unreachable, requests fail fast
    /// (503) instead of queueing. New PostgreSQL connections also give up
    /// after libpq's `connect_timeout` (added to the URL as 2 s, libpq's
    /// minimum, when the URL does not set it).
    pub connection_timeout: Duration,
    /// The whole budget of [`Store::ping`] (the readiness check): checkout
    /// and query (default 1 s).
    pub ping_timeout: Duration,
    /// Whether a connection is pinged before use, so that a connection the
    /// server dropped while it sat in the pool is replaced instead of
    /// failing a request (default true). Only connections idle for
    /// [`check_after_idle`](Self::check_after_idle) are pinged; a connection
    /// that fails during a unit of work is dropped, whatever this says.
    pub test_on_check_out: bool,
    /// How long a connection may sit unused and still be handed out without
    /// a ping (default 1 s; zero pings before every unit of work). A ping is
    /// one round trip: under load, nearly every unit of work skips it. The
    /// price: a connection the server drops within this window of its last
    /// use fails the one unit of work that next takes it.
    pub check_after_idle: Duration,
}

impl StoreOptions {
    /// The defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 10,
            min_idle: Some(1),
            connection_timeout: Duration::from_secs(1),
            ping_timeout: Duration::from_secs(1),
            test_on_check_out: true,
            check_after_idle: Duration::from_secs(1),
        }
    }
}

impl fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password.
        f.debug_struct("StoreOptions")
            .field("url", &"<redacted>")
            .field("max_connections", &self.max_connections)
            .field("min_idle", &self.min_idle)
            .field("connection_timeout", &self.connection_timeout)
            .field("ping_timeout", &self.ping_timeout)
            .field("test_on_check_out", &self.test_on_check_out)
            .field("check_after_idle", &self.check_after_idle)
            .finish()
    }
}

/// The store on PostgreSQL or SQLite. Cheap to clone (the pool is shared); every method
/// is one unit of work run on tokio's blocking pool.
#[derive(Clone)]
pub struct DieselStore {
    pool: Pool,
    backend: Backend,
    ping_timeout: Duration,
    /// SQLite: the last write unit failed on storage (full disk, read-only
    /// file, I/O error) and none has succeeded since; readiness fails.
    storage_failure: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    /// SQLite: the one connection every write goes through (see `writer`).
    writer: Option<Writer>,
    /// Wakes the email dispatcher after a commit that queued email jobs.
    wake: std::sync::Arc<Wake>,
    /// PostgreSQL: where the listener of other replicas' jobs connects.
    listen_url: Option<String>,
}

/// The port methods that queue email jobs: their success wakes the dispatcher.
const QUEUEING_OPERATIONS: [&str; 3] = ["insert_invitation", "insert_invitations", "record_resend"];

/// The PostgreSQL advisory lock taken by the email pruner, so that one
/// replica prunes at a time ("rsvp" in ASCII, then 1).
const PRUNE_LOCK_KEY: i64 = 0x7273_7670_0000_0001;

/// The PostgreSQL advisory lock taken by the pruner of idempotency records.
const IDEMPOTENCY_PRUNE_LOCK_KEY: i64 = 0x7273_7670_0000_0002;

/// The port methods that write: their success proves the storage writable.
const WRITE_OPERATIONS: [&str; 30] = [
    "create_business",
    "create_api_key",
    "revoke_api_key",
    "update_business",
    "update_user",
    "erase_invitations",
    "record_api_key_use",
    "add_user",
    "insert_invitation",
    "insert_invitations",
    "apply_transition",
    "record_resend",
    "claim_email_jobs",
    "finish_email_job",
    "finish_email_jobs",
    "release_email_jobs",
    "prune_email_jobs",
    "begin_idempotent",
    "complete_idempotent",
    "abandon_idempotent",
    "prune_idempotency_records",
    "add_suppression",
    "delete_suppression",
    "insert_webhook_endpoint",
    "update_webhook_endpoint",
    "delete_webhook_endpoint",
    "insert_webhook_delivery",
    "claim_webhook_deliveries",
    "finish_webhook_delivery",
    "release_webhook_deliveries",
];

/// The port methods that only read. On SQLite they use the pool's read
/// connections; every other operation (a method added later included) goes
/// to the one writer, which is always correct, never a lock storm.
const READ_OPERATIONS: [&str; 32] = [
    "are_connected",
    "invitation_context",
    "due_for_expiry",
    "emails_queued_since",
    "find_credential",
    "find_invitation_by_link",
    "find_pending",
    "find_pending_for_emails",
    "find_user_by_email",
    "find_users_by_emails",
    "get_business",
    "get_event",
    "get_invitation",
    "get_invitations",
    "get_user",
    "get_webhook_endpoint",
    "invitations_to_email",
    "list_api_keys",
    "list_businesses",
    "list_connections",
    "list_events",
    "list_received",
    "list_sent",
    "list_suppressions",
    "list_users",
    "list_webhook_deliveries",
    "list_webhook_endpoints",
    "oldest_queued_email",
    "outbox_depth",
    "ping",
    "suppressions_for",
    "webhook_outbox_depth",
];

/// A unit of work queued to the SQLite writer, with where to send its
/// outcome (and whether it failed on storage).
struct QueuedUnit<T, F> {
    operation: &'static str,
    work: F,
    span: tracing::Span,
    reply: tokio::sync::oneshot::Sender<(Result<T, StoreError>, bool)>,
}

impl<T, F> crate::writer::Unit for QueuedUnit<T, F>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Unit<T> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &mut DbConnection) -> (bool, crate::writer::Completion) {
        let this = *self;
        let result = {
            let _entered = this.span.enter();
            (this.work)(conn)
        };
        let failed = result.is_err();
        let storage = matches!(&result, Err(Failure::Db(error)) if is_storage_failure(error));
        let result = result.map_err(Failure::into_store);
        let (operation, reply) = (this.operation, this.reply);
        let completion = move |commit: Option<&DieselError>| {
            let outcome = match (result, commit) {
                // Its own refusal stands: it wrote nothing either way.
                (Err(error), _) => (Err(error), storage),
                (Ok(value), None) => (Ok(value), false),
                (Ok(_), Some(error)) => (
                    Err(StoreError::Unavailable(format!(
                        "{operation}: the commit failed: {error}"
                    ))),
                    is_storage_failure(error),
                ),
            };
            let _ = reply.send(outcome);
        };
        (failed, Box::new(completion))
    }

    fn abandon(self: Box<Self>, error: &DieselError) {
        let _ = self.reply.send((
            Err(StoreError::Unavailable(format!("{}: {error}", self.operation))),
            is_storage_failure(error),
        ));
    }
}

/// Whether a SQLite error says the storage cannot take writes.
fn is_storage_failure(error: &DieselError) -> bool {
    let message = error.to_string().to_ascii_lowercase();
    [
        "disk is full",
        "readonly database",
        "disk i/o error",
        "unable to open database",
    ]
    .iter()
    .any(|needle| message.contains(needle))
}

/// A small committed write that needs a new page (SQLite readiness, after a
/// storage failure): creates and drops a table.
const SQLITE_WRITE_PROBE: &str = "BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS rsvp_write_probe (x INTEGER); \
     DROP TABLE rsvp_write_probe; COMMIT;";

impl fmt::Debug for DieselStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.pool.state();
        f.debug_struct("DieselStore")
            .field("backend", &self.backend)
            .field("connections", &state.connections)
            .field("idle_connections", &state.idle_connections)
            .finish()
    }
}

/// Why a unit of work stopped: a refusal of the port, or a database error.
#[derive(Debug)]
pub(crate) enum Failure {
    Store(StoreError),
    Db(DieselError),
}

impl From<DieselError> for Failure {
    fn from(error: DieselError) -> Self {
        Self::Db(error)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl Failure {
    fn into_store(self) -> StoreError {
        match self {
            Self::Store(error) => error,
            Self::Db(error) => StoreError::Unavailable(format!("database error: {error}")),
        }
    }
}

pub(crate) type Unit<T> = Result<T, Failure>;

/// Maps a unique violation of the statement to the port's `error`.
fn unique_is(error: StoreError) -> impl FnOnce(DieselError) -> Failure {
    move |db| match db {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => Failure::Store(error),
        other => Failure::Db(other),
    }
}

/// Runs `work` as one write transaction, and commits it unless it fails.
///
/// SQLite: `BEGIN IMMEDIATE` takes the write lock up front, so two writers
/// never both hold a read lock and then deadlock upgrading it (the second
/// waits, up to the busy timeout, instead of failing with `SQLITE_BUSY`).
/// PostgreSQL: READ COMMITTED, explicitly; the unique indexes and the
/// conditional updates keep the invariants under concurrency.
pub(crate) fn write_unit<T>(conn: &mut DbConnection, work: impl FnOnce(&mut DbConnection) -> Unit<T>) -> Unit<T> {
    if in_transaction(conn) {
        // Inside the SQLite writer's group: a savepoint of its transaction.
        <DbConnection as Connection>::TransactionManager::begin_transaction(conn)?;
        return finish_unit(conn, work);
    }
    match conn {
        DbConnection::Sqlite(inner) => AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?,
        DbConnection::Pg(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN ISOLATION LEVEL READ COMMITTED")?
        }
    }
    finish_unit(conn, work)
}

/// Runs `work` as one read-only transaction: one snapshot for its several
/// queries (PostgreSQL REPEATABLE READ; SQLite a deferred transaction, which
/// in WAL mode reads one snapshot).
pub(crate) fn read_unit<T>(conn: &mut DbConnection, work: impl FnOnce(&mut DbConnection) -> Unit<T>) -> Unit<T> {
    if in_transaction(conn) {
        <DbConnection as Connection>::TransactionManager::begin_transaction(conn)?;
        return finish_unit(conn, work);
    }
    match conn {
        DbConnection::Sqlite(inner) => AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN DEFERRED")?,
        DbConnection::Pg(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?
        }
    }
    finish_unit(conn, work)
}

/// Whether `conn` is inside a transaction already (the SQLite writer runs
/// each unit inside its group's transaction).
fn in_transaction(conn: &mut DbConnection) -> bool {
    let depth = match conn {
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::transaction_manager_status_mut(inner).transaction_depth()
        }
        DbConnection::Pg(inner) => AnsiTransactionManager::transaction_manager_status_mut(inner).transaction_depth(),
    };
    matches!(depth, Ok(Some(_)))
}

fn finish_unit<T>(conn: &mut DbConnection, work: impl FnOnce(&mut DbConnection) -> Unit<T>) -> Unit<T> {
    type Manager = <DbConnection as Connection>::TransactionManager;
    match work(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(failure) => match Manager::rollback_transaction(conn) {
            Ok(()) | Err(DieselError::BrokenTransactionManager) => Err(failure),
            // SQLite rolls back by itself on some errors (a full disk): the
            // failed ROLLBACK must not hide the error that caused it.
            Err(_) if matches!(failure, Failure::Db(_)) => Err(failure),
            Err(rollback) => Err(Failure::Db(rollback)),
        },
    }
}

/// Everything one new invitation writes.
struct NewInvitationRows {
    invitation: InvitationRow,
    link: LinkTokenRow,
    event: EventRow,
    job: Option<EmailJobRow>,
}

impl NewInvitationRows {
    fn from_domain(record: &NewInvitationRecord) -> Result<Self, StoreError> {
        Ok(Self {
            invitation: InvitationRow::from_domain(&record.invitation)?,
            link: LinkTokenRow::from_domain(&record.link)?,
            event: EventRow::from_domain(&record.event)?,
            job: record
                .email_job
                .as_ref()
                .map(|job| EmailJobRow::from_domain(job, record.invitation.business_id))
                .transpose()?,
        })
    }

    /// Inserts the rows: on PostgreSQL one statement (atomic by itself, see
    /// [`InsertNewInvitation`]), on SQLite four, to be run inside a write
    /// unit.
    fn insert(&self, conn: &mut DbConnection) -> Unit<()> {
        if let DbConnection::Pg(pg) = conn {
            let statement = InsertNewInvitation {
                invitation: &self.invitation,
                link: &self.link,
                event: &self.event,
                job: self.job.as_ref(),
                queue_sql: &webhooks::QUEUE_FROM_NEW_EVENT,
            };
            return Ok(statement.execute_on(pg)??);
        }
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
fn stored_pending() -> diesel::expression::SqlLiteral<Bool> {
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
fn listed_pending() -> diesel::expression::SqlLiteral<Bool> {
    sql::<Bool>("invitations.status = 'pending' AND invitations.source_is_invitee IN (TRUE, FALSE)")
}

fn get_invitation_row(conn: &mut DbConnection, id: &str) -> Unit<Option<InvitationRow>> {
    Ok(invitations::table
        .find(id)
        .select(InvitationRow::as_select())
        .first(conn)
        .optional()?)
}

fn stored_invitation(conn: &mut DbConnection, id: &str) -> Unit<Invitation> {
    match get_invitation_row(conn, id)? {
        Some(row) => Ok(row.into_domain()?),
        None => Err(StoreError::Unavailable(format!("invitation {id} vanished inside its own transaction")).into()),
    }
}

fn rows_into<R, T>(rows: Vec<R>, convert: impl Fn(R) -> Result<T, StoreError>) -> Unit<Vec<T>> {
    Ok(rows.into_iter().map(convert).collect::<Result<Vec<_>, _>>()?)
}

/// The stored suppression of this address and scope, if any.
fn suppression_of(
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

type InvitationPredicate = Box<dyn BoxableExpression<invitations::table, MultiBackend, SqlType = Bool>>;

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
fn reads_as(status: InvitationStatus, now: i64) -> InvitationPredicate {
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

fn invitation_cursor(invitation: &Invitation) -> Cursor {
    Cursor {
        created_at: invitation.created_at,
        id: invitation.id.as_uuid(),
    }
}

/// Connections at one end (`inviter` or `invitee`) of `business`, newest first.
fn connections_at_one_end(
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
fn events_on_one_side(
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
    fn from_domain(outcome: &EmailOutcome) -> Result<Self, StoreError> {
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
    fn statement<'a>(&'a self, id: &'a str, now: i64) -> FinishEmailJob<'a> {
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
fn finish_on_sqlite(conn: &mut DbConnection, id: &str, outcome: Finish, now: i64) -> Unit<bool> {
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

fn saturating_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Claims due jobs on PostgreSQL in one statement: the rows are locked with
/// `FOR UPDATE SKIP LOCKED`, so concurrent claimers (other replicas) skip
/// each other's jobs instead of waiting for them or taking them twice.
fn claim_on_postgres(conn: &mut PgConnection, now: i64, limit: i64, lease_end: i64) -> Unit<Vec<EmailJobRow>> {
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
fn claim_on_sqlite(conn: &mut DbConnection, now: i64, limit: i64, lease_end: i64) -> Unit<Vec<EmailJobRow>> {
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
fn start_writer(target: &DatabaseUrl) -> Result<Writer, SetupError> {
    let failed = |message: String| SetupError::Connect {
        backend: Backend::Sqlite,
        message,
    };
    let mut conn = target.establish().map_err(|e| failed(e.to_string()))?;
    crate::connection::prepare(&mut conn).map_err(|e| failed(e.to_string()))?;
    Writer::start(conn).map_err(|e| failed(format!("cannot start the writer thread: {e}")))
}

impl DieselStore {
    /// Connects with the default [`StoreOptions`] for `url`.
    ///
    /// # Errors
    /// [`SetupError::InvalidUrl`] for a URL of no supported backend;
    /// [`SetupError::Connect`] with the database's own message when the
    /// first connection fails.
    pub async fn connect(url: &str) -> Result<Self, SetupError> {
        Self::connect_with(StoreOptions::new(url)).await
    }

    /// Connects: picks the backend by the URL's scheme, opens one connection
    /// to fail fast with the real error, then builds the pool. Does not
    /// migrate (see [`run_migrations`](Self::run_migrations)).
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn connect_with(options: StoreOptions) -> Result<Self, SetupError> {
        let target = DatabaseUrl::parse(&options.url)?;
        let backend = target.backend();
        let shape = PoolShape {
            max_size: options.max_connections.max(1),
            min_idle: options.min_idle.map(|idle| idle.min(options.max_connections.max(1))),
            connection_timeout: options.connection_timeout,
            test_on_check_out: options.test_on_check_out,
            check_after_idle: options.check_after_idle,
        };
        let writer_target = target.clone();
        let listen_url = match &target {
            DatabaseUrl::Postgres(url) => Some(url.clone()),
            DatabaseUrl::Sqlite(_) => None,
        };
        let pool = tokio::task::spawn_blocking(move || build_pool(&target, &shape))
            .await
            .map_err(|e| SetupError::Connect {
                backend,
                message: format!("connecting failed: {e}"),
            })??;
        let writer = match backend {
            Backend::Sqlite => Some(
                tokio::task::spawn_blocking(move || start_writer(&writer_target))
                    .await
                    .map_err(|e| SetupError::Connect {
                        backend,
                        message: format!("starting the SQLite writer failed: {e}"),
                    })??,
            ),
            Backend::Postgres => None,
        };
        Ok(Self {
            pool,
            backend,
            ping_timeout: options.ping_timeout,
            storage_failure: std::sync::Arc::default(),
            writer,
            wake: std::sync::Arc::default(),
            listen_url,
        })
    }

    /// The signal that wakes the email dispatcher when jobs are queued: by
    /// this store (after the commit), and on PostgreSQL by any replica
    /// (`LISTEN/NOTIFY`; the first call starts the listener thread, which
    /// ends when the store and its signals are dropped).
    pub fn work_signal(&self) -> StoreWorkSignal {
        if let Some(url) = &self.listen_url {
            self.wake.listen(url);
        }
        StoreWorkSignal::new(self.wake.clone())
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for work that needs connections of two stores at once.
    pub(crate) fn pool(&self) -> Pool {
        self.pool.clone()
    }

    pub(crate) async fn with_connection<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> Result<T, String> + Send + 'static,
    ) -> Result<T, String> {
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = pool.get().map_err(|e| format!("no database connection: {e}"))?;
            work(&mut conn)
        })
        .await
        .map_err(|e| format!("the database task failed: {e}"))?
    }

    /// Applies the migrations not yet applied, from the set of this store's
    /// backend (embedded in the binary), then the data fix-ups they queued;
    /// returns the versions applied.
    /// `rsvp migrate` and `rsvp serve` call it at start.
    ///
    /// # Errors
    /// [`SetupError::Migration`] naming the migration and the database error.
    pub async fn run_migrations(&self) -> Result<Vec<String>, SetupError> {
        self.with_connection(|conn| migrations::run_pending(conn).map_err(|e| e.to_string()))
            .await
            .map_err(SetupError::Migration)
    }

    /// Reverts every applied migration, newest first, running each
    /// `down.sql`: the database is left without rsvp's tables. For tests and
    /// for operators removing rsvp; returns the versions reverted.
    ///
    /// # Errors
    /// [`SetupError::Migration`] naming the migration and the database error.
    pub async fn revert_all_migrations(&self) -> Result<Vec<String>, SetupError> {
        self.with_connection(|conn| migrations::revert_all(conn).map_err(|e| e.to_string()))
            .await
            .map_err(SetupError::Migration)
    }

    /// Runs one unit of work: checkout, transaction and queries all inside
    /// one `spawn_blocking` closure, under the caller's tracing span. A
    /// panic inside becomes `Unavailable`, never a hung request.
    pub(crate) async fn run<T, F>(&self, operation: &'static str, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Unit<T> + Send + 'static,
    {
        let (result, storage) = match &self.writer {
            Some(writer) if !READ_OPERATIONS.contains(&operation) => Self::queue(writer, operation, work).await,
            _ => self.on_pool(operation, work).await,
        };
        if self.backend == Backend::Sqlite && WRITE_OPERATIONS.contains(&operation) {
            let mut failure = self
                .storage_failure
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match &result {
                Err(StoreError::Unavailable(message)) if storage => *failure = Some(message.clone()),
                Ok(_) => *failure = None,
                Err(_) => {}
            }
        }
        if let Err(StoreError::Unavailable(message)) = &result {
            tracing::warn!(operation, error = %message, "store unavailable");
        }
        if result.is_ok() && QUEUEING_OPERATIONS.contains(&operation) {
            self.wake.raise();
        }
        result
    }

    /// A unit for SQLite's writer: queued, answered after its group commits.
    async fn queue<T, F>(writer: &Writer, operation: &'static str, work: F) -> (Result<T, StoreError>, bool)
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Unit<T> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let unit = QueuedUnit {
            operation,
            work,
            span: tracing::Span::current(),
            reply,
        };
        if !writer.submit(Box::new(unit)) {
            return (
                Err(StoreError::Unavailable(format!(
                    "{operation}: the SQLite writer stopped"
                ))),
                false,
            );
        }
        answer.await.unwrap_or_else(|_| {
            (
                Err(StoreError::Unavailable(format!(
                    "{operation}: the SQLite writer dropped the unit"
                ))),
                false,
            )
        })
    }

    /// A unit on a pooled connection, inside one `spawn_blocking`.
    async fn on_pool<T, F>(&self, operation: &'static str, work: F) -> (Result<T, StoreError>, bool)
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Unit<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        let joined = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = pool.get().map_err(|e| {
                (
                    StoreError::Unavailable(format!("{operation}: no database connection: {e}")),
                    false,
                )
            })?;
            let result = work(&mut conn);
            let mut storage = false;
            if let Err(Failure::Db(error)) = &result {
                // A connection the server dropped goes, instead of failing the next unit too.
                conn.note(error);
                storage = is_storage_failure(error);
            }
            result.map_err(Failure::into_store).map_err(|e| (e, storage))
        })
        .await;
        match joined {
            Ok(Ok(value)) => (Ok(value), false),
            Ok(Err((error, storage))) => (Err(error), storage),
            Err(panic) => (Err(StoreError::Unavailable(format!("{operation}: {panic}"))), false),
        }
    }
}

#[async_trait]
impl Store for DieselStore {
    async fn create_business(&self, business: &Business, user: &User, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let business = BusinessRow::from_domain(business)?;
        let user = UserRow::from_domain(user)?;
        let key = ApiKeyRow::from_domain(key)?;
        self.run("create_business", move |conn| {
            write_unit(conn, |conn| {
                diesel::insert_into(businesses::table).values(&business).execute(conn)?;
                diesel::insert_into(users::table)
                    .values(&user)
                    .execute(conn)
                    .map_err(unique_is(StoreError::EmailTaken))?;
                diesel::insert_into(api_keys::table).values(&key).execute(conn)?;
                Ok(())
            })
        })
        .await
    }

    async fn add_user(&self, user: &User, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let user = UserRow::from_domain(user)?;
        let key = ApiKeyRow::from_domain(key)?;
        self.run("add_user", move |conn| {
            write_unit(conn, |conn| {
                let business: Option<String> = businesses::table
                    .find(&user.business_id)
                    .select(businesses::id)
                    .first(conn)
                    .optional()?;
                if business.is_none() {
                    return Err(StoreError::NotFound.into());
                }
                diesel::insert_into(users::table)
                    .values(&user)
                    .execute(conn)
                    .map_err(unique_is(StoreError::EmailTaken))?;
                diesel::insert_into(api_keys::table).values(&key).execute(conn)?;
                Ok(())
            })
        })
        .await
    }

    async fn get_business(&self, id: BusinessId) -> Result<Option<Business>, StoreError> {
        let id = id_text(id.as_uuid());
        self.run("get_business", move |conn| {
            let row = businesses::table
                .find(&id)
                .select(BusinessRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(BusinessRow::into_domain).transpose()?)
        })
        .await
    }

    async fn find_credential(&self, key_hash: &SecretHash) -> Result<Option<Credential>, StoreError> {
        self.find_credential_by_hash(key_hash).await
    }

    async fn create_api_key(&self, record: &ApiKeyRecord) -> Result<(), StoreError> {
        self.insert_api_key(record).await
    }

    async fn list_api_keys(&self, user: UserId) -> Result<Vec<ApiKey>, StoreError> {
        self.api_keys_of(user).await
    }

    async fn revoke_api_key(&self, id: ApiKeyId) -> Result<(), StoreError> {
        self.delete_api_key(id).await
    }

    async fn record_api_key_use(
        &self,
        id: ApiKeyId,
        now: OffsetDateTime,
        not_used_since: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.touch_api_key(id, now, not_used_since).await
    }

    async fn list_businesses(&self, query: &BusinessQuery) -> Result<Page<Business>, StoreError> {
        self.businesses_page(query).await
    }

    async fn update_business(&self, business: &Business) -> Result<(), StoreError> {
        self.write_business(business).await
    }

    async fn list_users(&self, business: BusinessId, page: &PageRequest) -> Result<Page<User>, StoreError> {
        self.users_page(business, page).await
    }

    async fn update_user(&self, user: &User) -> Result<(), StoreError> {
        self.write_user(user).await
    }

    async fn invitations_to_email(&self, email: &EmailAddress) -> Result<Vec<Invitation>, StoreError> {
        self.invitations_addressed_to(email).await
    }

    async fn erase_invitations(&self, record: &ErasureRecord) -> Result<ErasureCounts, StoreError> {
        self.erase(record).await
    }

    async fn find_user_by_email(&self, email: &EmailAddress) -> Result<Option<User>, StoreError> {
        let normalized = email.normalized().to_owned();
        self.run("find_user_by_email", move |conn| {
            let row = users::table
                .filter(users::email_normalized.eq(&normalized))
                .select(UserRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(UserRow::into_domain).transpose()?)
        })
        .await
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let id = id_text(id.as_uuid());
        self.run("get_user", move |conn| {
            let row = users::table
                .filter(users::id.eq(&id))
                .select(UserRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(UserRow::into_domain).transpose()?)
        })
        .await
    }

    async fn find_users_by_emails(&self, emails: &[EmailAddress]) -> Result<Vec<User>, StoreError> {
        let normalized: Vec<String> = emails.iter().map(|e| e.normalized().to_owned()).collect();
        if normalized.is_empty() {
            return Ok(Vec::new());
        }
        self.run("find_users_by_emails", move |conn| {
            let rows = users::table
                .filter(users::email_normalized.eq_any(&normalized))
                .select(UserRow::as_select())
                .load(conn)?;
            Ok(rows
                .into_iter()
                .map(UserRow::into_domain)
                .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn connected_among(
        &self,
        business: BusinessId,
        others: &[BusinessId],
    ) -> Result<Vec<BusinessId>, StoreError> {
        if others.is_empty() {
            return Ok(Vec::new());
        }
        let me = id_text(business.as_uuid());
        let others: Vec<String> = others.iter().map(|b| id_text(b.as_uuid())).collect();
        let rows: Vec<(String, String)> = self
            .run("connected_among", move |conn| {
                // Pairs are stored (smaller id, larger id): the caller is on either side.
                Ok(connections::table
                    .filter(
                        connections::business_low
                            .eq(&me)
                            .and(connections::business_high.eq_any(&others))
                            .or(connections::business_high
                                .eq(&me)
                                .and(connections::business_low.eq_any(&others))),
                    )
                    .select((connections::business_low, connections::business_high))
                    .load(conn)?)
            })
            .await?;
        let me = id_text(business.as_uuid());
        rows.into_iter()
            .map(|(low, high)| {
                let other = if low == me { high } else { low };
                uuid::Uuid::try_parse(&other)
                    .map(BusinessId::from_uuid)
                    .map_err(|e| StoreError::Unavailable(format!("a stored business id is not a UUID: {e}")))
            })
            .collect()
    }

    async fn find_pending_for_emails(
        &self,
        business: BusinessId,
        emails: &[EmailAddress],
    ) -> Result<Vec<Invitation>, StoreError> {
        let normalized: Vec<String> = emails.iter().map(|e| e.normalized().to_owned()).collect();
        if normalized.is_empty() {
            return Ok(Vec::new());
        }
        let business = id_text(business.as_uuid());
        self.run("find_pending_for_emails", move |conn| {
            let rows = invitations::table
                .filter(invitations::business_id.eq(&business))
                .filter(invitations::email_normalized.eq_any(&normalized))
                .filter(stored_pending())
                .select(InvitationRow::as_select())
                .load(conn)?;
            Ok(rows
                .into_iter()
                .map(InvitationRow::into_domain)
                .collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn are_connected(&self, a: BusinessId, b: BusinessId) -> Result<bool, StoreError> {
        let (low, high) = ordered_pair(a, b);
        let (low, high) = (id_text(low.as_uuid()), id_text(high.as_uuid()));
        self.run("are_connected", move |conn| {
            let found: Option<String> = connections::table
                .filter(connections::business_low.eq(&low))
                .filter(connections::business_high.eq(&high))
                .select(connections::id)
                .first(conn)
                .optional()?;
            Ok(found.is_some())
        })
        .await
    }

    async fn find_pending(&self, business: BusinessId, email: &EmailAddress) -> Result<Option<Invitation>, StoreError> {
        let business = id_text(business.as_uuid());
        let normalized = email.normalized().to_owned();
        self.run("find_pending", move |conn| {
            let row = invitations::table
                .filter(invitations::business_id.eq(&business))
                .filter(invitations::email_normalized.eq(&normalized))
                .filter(stored_pending())
                .select(InvitationRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(InvitationRow::into_domain).transpose()?)
        })
        .await
    }

    async fn invitation_context(
        &self,
        business: BusinessId,
        email: &EmailAddress,
    ) -> Result<InvitationContext, StoreError> {
        let business = id_text(business.as_uuid());
        let normalized = email.normalized().to_owned();
        self.run("invitation_context", move |conn| {
            let row = context::read(conn, &business, &normalized)?;
            let pending = if row.pending {
                // Rare (the answer is `already_invited` or a lazy expiry): a second read.
                invitations::table
                    .filter(invitations::business_id.eq(&business))
                    .filter(invitations::email_normalized.eq(&normalized))
                    .filter(stored_pending())
                    .select(InvitationRow::as_select())
                    .first(conn)
                    .optional()?
                    .map(InvitationRow::into_domain)
                    .transpose()?
            } else {
                None
            };
            Ok(InvitationContext {
                invitee: row.invitee.map(UserRow::into_domain).transpose()?,
                connected: row.connected,
                pending,
                suppressed: row.suppressed,
            })
        })
        .await
    }

    async fn insert_invitation(&self, record: &NewInvitationRecord) -> Result<(), StoreError> {
        let rows = NewInvitationRows::from_domain(record)?;
        self.run("insert_invitation", move |conn| match conn {
            // One statement: no transaction needed.
            DbConnection::Pg(_) => rows.insert(conn),
            DbConnection::Sqlite(_) => write_unit(conn, |conn| rows.insert(conn)),
        })
        .await
    }

    async fn insert_invitations(
        &self,
        records: &[NewInvitationRecord],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        // Key-ordered, one transaction; on PostgreSQL a statement per chunk
        // of items, on SQLite a savepoint per item (`bulk.rs`).
        let batch = bulk::Batch::new(records);
        self.run("insert_invitations", move |conn| batch.insert(conn)).await
    }

    async fn get_invitations(&self, ids: &[InvitationId]) -> Result<Vec<Invitation>, StoreError> {
        let mut ids: Vec<String> = ids.iter().map(|id| id_text(id.as_uuid())).collect();
        ids.sort_unstable();
        ids.dedup();
        self.run("get_invitations", move |conn| {
            let mut found = Vec::with_capacity(ids.len());
            // Bounded IN lists: SQLite caps bound parameters per statement.
            for chunk in ids.chunks(500) {
                let rows = invitations::table
                    .filter(invitations::id.eq_any(chunk))
                    .select(InvitationRow::as_select())
                    .load(conn)?;
                found.extend(rows_into(rows, InvitationRow::into_domain)?);
            }
            Ok(found)
        })
        .await
    }

    async fn get_invitation(&self, id: InvitationId) -> Result<Option<Invitation>, StoreError> {
        let id = id_text(id.as_uuid());
        self.run("get_invitation", move |conn| {
            Ok(get_invitation_row(conn, &id)?
                .map(InvitationRow::into_domain)
                .transpose()?)
        })
        .await
    }

    async fn list_sent(&self, business: BusinessId, query: &InvitationQuery) -> Result<Page<Invitation>, StoreError> {
        let business = id_text(business.as_uuid());
        let query = query.clone();
        self.run("list_sent", move |conn| {
            let base = invitations::table
                .filter(invitations::business_id.eq(business))
                .into_boxed::<MultiBackend>();
            let rows: Vec<InvitationRow> = invitation_page(base, &query.filter, query.after, query.now, query.limit)
                .select(InvitationRow::as_select())
                .load(conn)?;
            let items = rows_into(rows, InvitationRow::into_domain)?;
            Ok(Page::from_overfetch(items, query.limit, invitation_cursor))
        })
        .await
    }

    async fn list_received(
        &self,
        business: BusinessId,
        query: &InvitationQuery,
    ) -> Result<Page<Invitation>, StoreError> {
        let business = id_text(business.as_uuid());
        let query = query.clone();
        self.run("list_received", move |conn| {
            let emails = users::table
                .filter(users::business_id.eq(business))
                .select(users::email_normalized);
            let base = invitations::table
                .filter(invitations::email_normalized.eq_any(emails))
                .filter(invitations::status.ne(InvitationStatus::Cancelled.as_str()))
                .into_boxed::<MultiBackend>();
            let rows: Vec<InvitationRow> = invitation_page(base, &query.filter, query.after, query.now, query.limit)
                .select(InvitationRow::as_select())
                .load(conn)?;
            let items = rows_into(rows, InvitationRow::into_domain)?;
            Ok(Page::from_overfetch(items, query.limit, invitation_cursor))
        })
        .await
    }

    async fn apply_transition(&self, record: &TransitionRecord) -> Result<TransitionOutcome, StoreError> {
        let after = &record.invitation;
        let id = id_text(after.id.as_uuid());
        let expected = record.expected.as_str();
        let new_status = after.status.as_str();
        let expiring = after.status == InvitationStatus::Expired;
        let now = bound_nanos(record.now);
        let read_at = record.now;
        let updated_at = to_nanos(after.updated_at)?;
        let resolved_at = after.resolved_at.map(to_nanos).transpose()?;
        let invitee_business = after.invitee_business_id.map(|b| id_text(b.as_uuid()));
        let event = EventRow::from_domain(&record.event)?;
        let connection = match &record.connection {
            Some((connection, created)) => Some((
                connection.clone(),
                ConnectionRow::from_domain(connection)?,
                EventRow::from_domain(created)?,
            )),
            None => None,
        };
        let new_invitee = match &record.new_invitee {
            Some(new) => Some((
                BusinessRow::from_domain(&new.business)?,
                UserRow::from_domain(&new.user)?,
            )),
            None => None,
        };
        self.run("apply_transition", move |conn| {
            write_unit(conn, |conn| {
                use crate::schema::invitations::dsl as i;
                if let Some((business, _)) = &new_invitee {
                    // First, so that the invitation may point at it.
                    diesel::insert_into(businesses::table).values(business).execute(conn)?;
                }
                let mut target = diesel::update(i::invitations)
                    .filter(i::id.eq(id.clone()))
                    .filter(i::status.eq(expected))
                    .into_boxed();
                if !expiring {
                    target = target.filter(i::expires_at.gt(now));
                }
                let changed = target
                    .set((
                        i::status.eq(new_status),
                        i::updated_at.eq(updated_at),
                        i::resolved_at.eq(resolved_at),
                        i::invitee_business_id.eq(coalesce(invitee_business.clone(), i::invitee_business_id)),
                    ))
                    .execute(conn)?;
                if changed == 0 {
                    return Err(match get_invitation_row(conn, &id)? {
                        None => StoreError::NotFound,
                        Some(row) => StoreError::Conflict {
                            current: row.into_domain()?.status_at(read_at),
                        },
                    }
                    .into());
                }
                if let Some((_, user)) = &new_invitee {
                    diesel::insert_into(users::table)
                        .values(user)
                        .execute(conn)
                        .map_err(unique_is(StoreError::EmailTaken))?;
                }
                webhooks::insert_event(conn, &event)?;
                let connection = match &connection {
                    None => None,
                    Some((domain, row, created)) => {
                        let inserted = match &mut *conn {
                            DbConnection::Pg(pg) => diesel::insert_into(connections::table)
                                .values(row)
                                .on_conflict_do_nothing()
                                .execute(pg)?,
                            DbConnection::Sqlite(lite) => diesel::insert_into(connections::table)
                                .values(row)
                                .on_conflict_do_nothing()
                                .execute(lite)?,
                        };
                        if inserted == 1 {
                            webhooks::insert_event(conn, created)?;
                            Some(domain.clone())
                        } else {
                            let existing: ConnectionRow = connections::table
                                .filter(connections::business_low.eq(&row.business_low))
                                .filter(connections::business_high.eq(&row.business_high))
                                .select(ConnectionRow::as_select())
                                .first(conn)?;
                            Some(existing.into_domain()?)
                        }
                    }
                };
                Ok(TransitionOutcome {
                    invitation: stored_invitation(conn, &id)?,
                    connection,
                })
            })
        })
        .await
    }

    async fn record_resend(&self, record: &ResendRecord) -> Result<Invitation, StoreError> {
        let id = id_text(record.invitation_id.as_uuid());
        let read_at = record.now;
        let now = to_nanos(record.now)?;
        let not_sent_after_time = record.not_sent_after;
        let not_sent_after = bound_nanos(record.not_sent_after);
        let revoke = record.revoke_previous_links;
        let link = LinkTokenRow::from_domain(&record.link)?;
        let event = EventRow::from_domain(&record.event)?;
        // The resent event names the sending business, whose cap the job counts against.
        let job = EmailJobRow::from_domain(&record.email_job, record.event.business_id)?;
        self.run("record_resend", move |conn| {
            write_unit(conn, |conn| {
                use crate::schema::invitations::dsl as i;
                let changed = diesel::update(i::invitations)
                    .filter(i::id.eq(&id))
                    .filter(i::status.eq(InvitationStatus::Pending.as_str()))
                    .filter(i::expires_at.gt(now))
                    .filter(i::last_sent_at.is_null().or(i::last_sent_at.le(not_sent_after)))
                    .set((
                        i::last_sent_at.eq(now),
                        i::email_delivery.eq("queued"),
                        i::updated_at.eq(now),
                    ))
                    .execute(conn)?;
                if changed == 0 {
                    let Some(row) = get_invitation_row(conn, &id)? else {
                        return Err(StoreError::NotFound.into());
                    };
                    let invitation = row.into_domain()?;
                    let current = invitation.status_at(read_at);
                    return Err(match invitation.last_sent_at {
                        _ if current != InvitationStatus::Pending => StoreError::Conflict { current },
                        Some(last_sent_at) if last_sent_at > not_sent_after_time => {
                            StoreError::Cooldown { last_sent_at }
                        }
                        _ => StoreError::Unavailable(format!("the resend of invitation {id} matched no row")),
                    }
                    .into());
                }
                if revoke {
                    diesel::update(link_tokens::table)
                        .filter(link_tokens::invitation_id.eq(&id))
                        .filter(link_tokens::revoked_at.is_null())
                        .set(link_tokens::revoked_at.eq(now))
                        .execute(conn)?;
                }
                diesel::insert_into(link_tokens::table).values(&link).execute(conn)?;
                webhooks::insert_event(conn, &event)?;
                diesel::insert_into(email_jobs::table).values(&job).execute(conn)?;
                stored_invitation(conn, &id)
            })
        })
        .await
    }

    async fn find_invitation_by_link(&self, token_hash: &SecretHash) -> Result<Option<Invitation>, StoreError> {
        let hash = token_hash.to_hex();
        self.run("find_invitation_by_link", move |conn| {
            let row = link_tokens::table
                .inner_join(invitations::table)
                .filter(link_tokens::token_hash.eq(&hash))
                .filter(link_tokens::revoked_at.is_null())
                .select(InvitationRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(InvitationRow::into_domain).transpose()?)
        })
        .await
    }

    async fn due_for_expiry(&self, now: OffsetDateTime, limit: usize) -> Result<Vec<Invitation>, StoreError> {
        let now = bound_nanos(now);
        let limit = saturating_limit(limit);
        self.run("due_for_expiry", move |conn| {
            let rows = invitations::table
                .filter(stored_pending())
                .filter(invitations::expires_at.le(now))
                .order((invitations::expires_at.asc(), invitations::id.asc()))
                .limit(limit)
                .select(InvitationRow::as_select())
                .load(conn)?;
            rows_into(rows, InvitationRow::into_domain)
        })
        .await
    }

    async fn list_connections(
        &self,
        business: BusinessId,
        page: &PageRequest,
    ) -> Result<Page<DomainConnection>, StoreError> {
        let business = id_text(business.as_uuid());
        let page = *page;
        self.run("list_connections", move |conn| {
            // Two index range scans (one per end) merged, rather than one OR
            // that no index serves in order.
            let mut rows = read_unit(conn, |conn| {
                let mut rows = connections_at_one_end(conn, &business, true, &page)?;
                rows.extend(connections_at_one_end(conn, &business, false, &page)?);
                Ok(rows)
            })?;
            rows.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
            rows.dedup_by(|a, b| a.id == b.id);
            rows.truncate(page.limit.as_usize() + 1);
            let items = rows_into(rows, ConnectionRow::into_domain)?;
            Ok(Page::from_overfetch(items, page.limit, |c: &DomainConnection| Cursor {
                created_at: c.created_at,
                id: c.id.as_uuid(),
            }))
        })
        .await
    }

    async fn list_events(&self, business: BusinessId, query: &EventQuery) -> Result<Page<Event, EventId>, StoreError> {
        let business = id_text(business.as_uuid());
        let query = *query;
        self.run("list_events", move |conn| {
            let mut rows = read_unit(conn, |conn| {
                let mut rows = events_on_one_side(conn, &business, true, &query)?;
                rows.extend(events_on_one_side(conn, &business, false, &query)?);
                Ok(rows)
            })?;
            rows.sort_by(|a, b| a.id.cmp(&b.id));
            rows.dedup_by(|a, b| a.id == b.id);
            rows.truncate(query.limit.as_usize() + 1);
            let items = rows_into(rows, EventRow::into_domain)?;
            Ok(Page::from_overfetch(items, query.limit, |e: &Event| e.id))
        })
        .await
    }

    async fn claim_email_jobs(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: time::Duration,
    ) -> Result<Vec<EmailJob>, StoreError> {
        let lease_end = to_nanos(now + lease)?;
        let now = to_nanos(now)?;
        let limit = saturating_limit(limit);
        self.run("claim_email_jobs", move |conn| {
            if limit == 0 {
                return Ok(Vec::new());
            }
            let rows = match conn {
                DbConnection::Pg(pg) => claim_on_postgres(pg, now, limit, lease_end)?,
                DbConnection::Sqlite(_) => claim_on_sqlite(conn, now, limit, lease_end)?,
            };
            rows_into(rows, EmailJobRow::into_domain)
        })
        .await
    }

    async fn finish_email_job(
        &self,
        id: EmailJobId,
        outcome: &EmailOutcome,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let id = id_text(id.as_uuid());
        let now = to_nanos(now)?;
        let outcome = Finish::from_domain(outcome)?;
        self.run("finish_email_job", move |conn| {
            let found = match conn {
                DbConnection::Pg(pg) => outcome.statement(&id, now).execute_on(pg)?,
                DbConnection::Sqlite(_) => write_unit(conn, |conn| finish_on_sqlite(conn, &id, outcome, now))?,
            };
            if found {
                Ok(())
            } else {
                Err(StoreError::NotFound.into())
            }
        })
        .await
    }

    async fn finish_email_jobs(
        &self,
        outcomes: &[(EmailJobId, EmailOutcome)],
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let now = to_nanos(now)?;
        let outcomes = outcomes
            .iter()
            .map(|(id, outcome)| Ok((id_text(id.as_uuid()), Finish::from_domain(outcome)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        if outcomes.is_empty() {
            return Ok(0);
        }
        self.run("finish_email_jobs", move |conn| match conn {
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

    async fn emails_queued_since(
        &self,
        business: BusinessId,
        since: OffsetDateTime,
    ) -> Result<EmailsQueued, StoreError> {
        let business = id_text(business.as_uuid());
        let since = bound_nanos(since);
        self.run("emails_queued_since", move |conn| {
            // One range of email_jobs_business_created_idx.
            let (count, oldest): (i64, Option<i64>) = email_jobs::table
                .filter(email_jobs::business_id.eq(&business))
                .filter(email_jobs::created_at.ge(since))
                .select((diesel::dsl::count_star(), diesel::dsl::min(email_jobs::created_at)))
                .get_result(conn)?;
            Ok(EmailsQueued {
                count: u64::try_from(count).unwrap_or(0),
                oldest: oldest.map(|n| from_nanos("email_jobs.created_at", n)).transpose()?,
            })
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
        self.run("prune_email_jobs", move |conn| {
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
        self.run("outbox_depth", |conn| {
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
        self.run("release_email_jobs", move |conn| {
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
        .await
    }

    async fn oldest_queued_email(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        use crate::schema::email_jobs::dsl as j;
        let oldest: Option<i64> = self
            .run("oldest_queued_email", |conn| {
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

    async fn insert_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<(), StoreError> {
        self.webhook_insert_endpoint(endpoint).await
    }

    async fn get_webhook_endpoint(&self, id: WebhookEndpointId) -> Result<Option<WebhookEndpoint>, StoreError> {
        self.webhook_get_endpoint(id).await
    }

    async fn list_webhook_endpoints(&self, business: BusinessId) -> Result<Vec<WebhookEndpoint>, StoreError> {
        self.webhook_list_endpoints(business).await
    }

    async fn update_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<(), StoreError> {
        self.webhook_update_endpoint(endpoint).await
    }

    async fn delete_webhook_endpoint(&self, id: WebhookEndpointId) -> Result<(), StoreError> {
        self.webhook_delete_endpoint(id).await
    }

    async fn get_event(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        self.event_by_id(id).await
    }

    async fn list_webhook_deliveries(
        &self,
        endpoint: WebhookEndpointId,
        page: &PageRequest,
    ) -> Result<Page<WebhookDelivery>, StoreError> {
        self.webhook_list_deliveries(endpoint, page).await
    }

    async fn insert_webhook_delivery(&self, delivery: &WebhookDelivery) -> Result<(), StoreError> {
        self.webhook_insert_delivery(delivery).await
    }

    async fn claim_webhook_deliveries(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: time::Duration,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        self.webhook_claim(now, limit, lease).await
    }

    async fn finish_webhook_delivery(&self, attempt: &WebhookAttempt) -> Result<(), StoreError> {
        self.webhook_finish(attempt).await
    }

    async fn release_webhook_deliveries(
        &self,
        deliveries: &[WebhookDelivery],
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.webhook_release(deliveries, now).await
    }

    async fn webhook_outbox_depth(&self) -> Result<u64, StoreError> {
        self.webhook_outbox_depth_count().await
    }

    /// Readiness: a query within [`StoreOptions::ping_timeout`] (checkout
    /// included). On SQLite, also fails while the last write failed on
    /// storage (full disk, read-only file, I/O error), retrying a small write
    /// itself so that it recovers without traffic.
    async fn begin_idempotent(&self, claim: &IdempotencyClaim) -> Result<IdempotencyBegin, StoreError> {
        let claim = idempotency::ClaimRows::new(claim)?;
        self.run("begin_idempotent", move |conn| {
            write_unit(conn, |conn| idempotency::begin(conn, &claim))
        })
        .await
    }

    async fn add_suppression(&self, suppression: &Suppression) -> Result<Suppression, StoreError> {
        let row = SuppressionRow::from_domain(suppression)?;
        self.run("add_suppression", move |conn| {
            write_unit(conn, |conn| {
                // The unique index decides between racing opt-outs; the loser reads the winner's row.
                match &mut *conn {
                    DbConnection::Pg(pg) => diesel::insert_into(suppressions::table)
                        .values(&row)
                        .on_conflict_do_nothing()
                        .execute(pg)?,
                    DbConnection::Sqlite(lite) => diesel::insert_into(suppressions::table)
                        .values(&row)
                        .on_conflict_do_nothing()
                        .execute(lite)?,
                };
                let stored = suppression_of(conn, &row.email_normalized, row.business_id.as_deref())?
                    .ok_or_else(|| StoreError::Unavailable("the suppression just written is not there".into()))?;
                Ok(stored.into_domain()?)
            })
        })
        .await
    }

    async fn complete_idempotent(
        &self,
        scope: &IdempotencyScope,
        key: &IdempotencyKey,
        attempt: Uuid,
        response: &StoredResponse,
    ) -> Result<bool, StoreError> {
        let slot = idempotency::Slot::new(scope, key, attempt);
        let response = idempotency::CompletedRow::new(response)?;
        self.run("complete_idempotent", move |conn| {
            idempotency::complete(conn, &slot, &response)
        })
        .await
    }

    async fn abandon_idempotent(
        &self,
        scope: &IdempotencyScope,
        key: &IdempotencyKey,
        attempt: Uuid,
    ) -> Result<bool, StoreError> {
        let slot = idempotency::Slot::new(scope, key, attempt);
        self.run("abandon_idempotent", move |conn| idempotency::abandon(conn, &slot))
            .await
    }

    async fn prune_idempotency_records(&self, expired_by: OffsetDateTime, limit: usize) -> Result<u64, StoreError> {
        let expired_by = bound_nanos(expired_by);
        let limit = saturating_limit(limit);
        if limit == 0 {
            return Ok(0);
        }
        // One replica prunes at a time; the others find the lock taken and skip.
        let lock = format!("pg_try_advisory_xact_lock({IDEMPOTENCY_PRUNE_LOCK_KEY})");
        self.run("prune_idempotency_records", move |conn| {
            write_unit(conn, |conn| idempotency::prune(conn, expired_by, limit, Some(&lock)))
        })
        .await
    }

    async fn suppressions_for(
        &self,
        business: BusinessId,
        emails: &[EmailAddress],
    ) -> Result<Vec<Suppression>, StoreError> {
        let normalized: Vec<String> = emails.iter().map(|e| e.normalized().to_owned()).collect();
        if normalized.is_empty() {
            return Ok(Vec::new());
        }
        let business = id_text(business.as_uuid());
        self.run("suppressions_for", move |conn| {
            let rows = suppressions::table
                .filter(suppressions::email_normalized.eq_any(&normalized))
                .filter(
                    suppressions::business_id
                        .is_null()
                        .or(suppressions::business_id.eq(&business)),
                )
                .select(SuppressionRow::as_select())
                .load(conn)?;
            rows_into(rows, SuppressionRow::into_domain)
        })
        .await
    }

    async fn list_suppressions(&self, query: &SuppressionQuery) -> Result<Page<Suppression>, StoreError> {
        let email = query.email.as_ref().map(|e| e.normalized().to_owned());
        let (limit, after) = (query.limit, query.after);
        self.run("list_suppressions", move |conn| {
            use crate::schema::suppressions::dsl as s;
            let mut q = s::suppressions
                .select(SuppressionRow::as_select())
                .into_boxed::<MultiBackend>();
            if let Some(email) = email {
                q = q.filter(s::email_normalized.eq(email));
            }
            if let Some(cursor) = after {
                q = q.filter(
                    sql::<Bool>("(suppressions.created_at, suppressions.id) < (")
                        .bind::<BigInt, _>(bound_nanos(cursor.created_at))
                        .sql(", ")
                        .bind::<Text, _>(id_text(cursor.id))
                        .sql(")"),
                );
            }
            let rows = q
                .order((s::created_at.desc(), s::id.desc()))
                .limit(overfetch(limit))
                .load(conn)?;
            let items = rows_into(rows, SuppressionRow::into_domain)?;
            Ok(Page::from_overfetch(items, limit, |sup: &Suppression| Cursor {
                created_at: sup.created_at,
                id: sup.id.as_uuid(),
            }))
        })
        .await
    }

    async fn delete_suppression(&self, id: SuppressionId) -> Result<(), StoreError> {
        let id = id_text(id.as_uuid());
        self.run("delete_suppression", move |conn| {
            let deleted = diesel::delete(suppressions::table.find(&id)).execute(conn)?;
            if deleted == 0 {
                return Err(StoreError::NotFound.into());
            }
            Ok(())
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let pool = self.pool.clone();
        let budget = self.ping_timeout;
        let storage_failure = self.storage_failure.clone();
        let span = tracing::Span::current();
        let probe = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = pool
                .get_timeout(budget)
                .map_err(|e| StoreError::Unavailable(format!("ping: no database connection: {e}")))?;
            let failed_write = storage_failure
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            let result = match (failed_write, &mut **conn) {
                (Some(last), DbConnection::Sqlite(sqlite)) => match sqlite.batch_execute(SQLITE_WRITE_PROBE) {
                    Ok(()) => Ok(()),
                    Err(error) => {
                        let _ = sqlite.batch_execute("ROLLBACK");
                        Err(StoreError::Unavailable(format!(
                            "the database cannot be written: {error} (last write: {last})"
                        )))
                    }
                },
                (_, conn) => conn
                    .batch_execute("SELECT 1")
                    .map_err(|e| StoreError::Unavailable(format!("ping: {e}"))),
            };
            if result.is_ok() {
                *storage_failure
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
            }
            result
        });
        match tokio::time::timeout(budget, probe).await {
            Ok(Ok(result)) => result,
            Ok(Err(panic)) => Err(StoreError::Unavailable(format!("ping: {panic}"))),
            Err(_) => Err(StoreError::Unavailable(format!(
                "ping: no answer within {} ms",
                budget.as_millis()
            ))),
        }
    }
}

/// Work run on the SQLite writer's connection as it is (tests only).
#[cfg(test)]
struct RawUnit {
    work: Box<dyn FnOnce(&mut DbConnection) + Send>,
    done: tokio::sync::oneshot::Sender<()>,
}

#[cfg(test)]
impl crate::writer::Unit for RawUnit {
    fn run(self: Box<Self>, conn: &mut DbConnection) -> (bool, crate::writer::Completion) {
        let this = *self;
        (this.work)(conn);
        let done = this.done;
        (
            false,
            Box::new(move |_| {
                let _ = done.send(());
            }),
        )
    }

    fn abandon(self: Box<Self>, _: &DieselError) {}
}

#[cfg(test)]
impl DieselStore {
    /// Runs `work` on every connection the store holds: the pool's (tests
    /// use a pool of one) and, on SQLite, the writer's.
    async fn on_every_connection<W>(&self, work: W)
    where
        W: Fn(&mut DbConnection) + Clone + Send + 'static,
    {
        let pool = self.pool.clone();
        let on_pool = work.clone();
        tokio::task::spawn_blocking(move || on_pool(&mut pool.get().unwrap()))
            .await
            .unwrap();
        if let Some(writer) = &self.writer {
            let (done, finished) = tokio::sync::oneshot::channel();
            let unit = RawUnit {
                work: Box::new(move |conn| work(conn)),
                done,
            };
            assert!(writer.submit(Box::new(unit)));
            finished.await.unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex};

    use diesel::connection::InstrumentationEvent;
    use rsvp_app::{EmailJobStatus, IdGenerator, InvitationFilter, LinkTokenRecord, PageSize, Secret};
    use rsvp_domain::{Actor, ApiKeyId, BusinessName, ConnectionId, EmailJobId, InvitationInput, PersonName, UserId};
    use time::Duration;
    use uuid::Uuid;

    use super::*;
    use crate::testing::TestDatabase;

    async fn sqlite_store(database: &TestDatabase, max_connections: u32) -> DieselStore {
        let mut options = StoreOptions::new(database.url());
        options.max_connections = max_connections;
        options.min_idle = Some(0);
        let store = DieselStore::connect_with(options).await.unwrap();
        store.run_migrations().await.unwrap();
        store
    }

    #[tokio::test]
    async fn a_panic_inside_a_unit_of_work_is_unavailable_and_the_store_goes_on() {
        let database = TestDatabase::sqlite();
        let store = sqlite_store(&database, 1).await;
        let result: Result<(), StoreError> = store
            .run("explode", |_| -> Unit<()> { panic!("boom inside the unit of work") })
            .await;
        match result {
            Err(StoreError::Unavailable(message)) => assert!(message.contains("explode"), "{message}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
        // The pool (of one) replaced the connection the panic left behind.
        store.ping().await.unwrap();
        assert_eq!(store.get_business(BusinessId::from_uuid(Uuid::nil())).await, Ok(None));
    }

    /// Creates businesses until one fails; the error.
    async fn write_until_refused(store: &DieselStore) -> StoreError {
        let now = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        for n in 0..10_000u32 {
            let business = Business {
                id: BusinessId::from_uuid(id()),
                name: BusinessName::parse(&format!("Business number {n} with a long name to fill pages")).unwrap(),
                created_at: now,
                suspended_at: None,
            };
            let user = User {
                id: UserId::from_uuid(id()),
                business_id: business.id,
                email: EmailAddress::parse(&format!("user{n}@filling.test")).unwrap(),
                first_name: None,
                last_name: None,
                created_at: now,
                deactivated_at: None,
            };
            let mut hash = [0u8; 32];
            hash[..4].copy_from_slice(&n.to_be_bytes());
            let key = test_key(user.id, SecretHash(hash), now);
            if let Err(error) = store.create_business(&business, &user, &key).await {
                return error;
            }
        }
        panic!("10,000 writes and no refusal");
    }

    /// Caps (or uncaps) the SQLite file of a one-connection store at its
    /// current size: a write that needs a new page fails as on a full disk.
    async fn cap_file(store: &DieselStore, capped: bool) {
        let pragma = if capped {
            "PRAGMA max_page_count = 1"
        } else {
            "PRAGMA max_page_count = 1000000"
        };
        store
            .on_every_connection(move |conn: &mut DbConnection| conn.batch_execute(pragma).unwrap())
            .await;
    }

    #[tokio::test]
    async fn a_sqlite_store_whose_disk_is_full_is_not_ready_until_a_write_succeeds_again() {
        let database = TestDatabase::sqlite();
        let store = sqlite_store(&database, 1).await;
        store.ping().await.expect("ready at first");
        cap_file(&store, true).await;
        let refused = write_until_refused(&store).await;
        assert!(
            matches!(&refused, StoreError::Unavailable(message) if message.contains("full")),
            "{refused:?}"
        );
        let not_ready = store.ping().await;
        assert!(
            matches!(&not_ready, Err(StoreError::Unavailable(message)) if message.contains("cannot be written")),
            "{not_ready:?}"
        );
        // Reads still work: only readiness reports the failed writes.
        assert_eq!(store.get_business(BusinessId::from_uuid(Uuid::nil())).await, Ok(None));
        cap_file(&store, false).await;
        store
            .ping()
            .await
            .expect("ready again once a write succeeds, without traffic");
        store.ping().await.expect("and stays ready");
    }

    #[tokio::test]
    async fn a_sqlite_write_unit_holds_the_write_lock_from_its_first_statement() {
        let database = TestDatabase::sqlite();
        let store = sqlite_store(&database, 2).await;
        let pool = store.pool.clone();
        let refused = tokio::task::spawn_blocking(move || {
            let mut first = pool.get().unwrap();
            let mut second = pool.get().unwrap();
            write_unit(&mut first, |_| {
                // No statement yet in this unit, and still no other writer may start.
                second.batch_execute("PRAGMA busy_timeout = 0").unwrap();
                let refused = second.batch_execute("BEGIN IMMEDIATE").unwrap_err().to_string();
                second
                    .batch_execute(&format!(
                        "PRAGMA busy_timeout = {}",
                        crate::connection::SQLITE_BUSY_TIMEOUT_MS
                    ))
                    .unwrap();
                Ok(refused)
            })
            .unwrap()
        })
        .await
        .unwrap();
        assert!(refused.contains("locked"), "{refused}");
    }

    #[tokio::test]
    async fn a_postgres_write_unit_is_read_committed_whatever_the_server_default() {
        #[derive(QueryableByName)]
        struct Isolation {
            #[diesel(sql_type = Text)]
            level: String,
        }
        let database = tokio::task::spawn_blocking(TestDatabase::postgres).await.unwrap();
        let store = database.migrated_store().await;
        let pool = store.pool.clone();
        let levels = tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().unwrap();
            conn.batch_execute("SET default_transaction_isolation = 'serializable'")
                .unwrap();
            let query = "SELECT current_setting('transaction_isolation') AS level";
            let write = write_unit(&mut conn, |conn| {
                Ok(diesel::sql_query(query).get_result::<Isolation>(conn)?)
            })
            .unwrap()
            .level;
            let read = read_unit(&mut conn, |conn| {
                Ok(diesel::sql_query(query).get_result::<Isolation>(conn)?)
            })
            .unwrap()
            .level;
            conn.batch_execute("RESET default_transaction_isolation").unwrap();
            (write, read)
        })
        .await
        .unwrap();
        assert_eq!(levels, ("read committed".to_owned(), "repeatable read".to_owned()));
    }

    /// Opens a one-connection store, uses its connection, has the server
    /// end that connection, then runs two units of work: their outcomes.
    async fn units_after_the_server_drops_the_connection(
        check_after_idle: std::time::Duration,
    ) -> (
        Result<Option<Business>, StoreError>,
        Result<Option<Business>, StoreError>,
    ) {
        #[derive(QueryableByName)]
        struct Backend {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            pid: i32,
        }
        #[derive(QueryableByName)]
        struct Terminated {
            #[diesel(sql_type = Bool)]
            done: bool,
        }
        let database = tokio::task::spawn_blocking(TestDatabase::postgres).await.unwrap();
        let mut options = StoreOptions::new(database.url());
        options.max_connections = 1;
        options.check_after_idle = check_after_idle;
        let store = DieselStore::connect_with(options).await.unwrap();
        store.run_migrations().await.unwrap();
        let pool = store.pool.clone();
        let url = database.url().to_owned();
        tokio::task::spawn_blocking(move || {
            let pid = diesel::sql_query("SELECT pg_backend_pid() AS pid")
                .get_result::<Backend>(&mut **pool.get().unwrap())
                .unwrap()
                .pid;
            let mut admin = PgConnection::establish(&url).unwrap();
            // Waits (up to 10 s) until the backend is gone.
            let ended = diesel::sql_query(format!("SELECT pg_terminate_backend({pid}, 10000) AS done"))
                .get_result::<Terminated>(&mut admin)
                .unwrap();
            assert!(ended.done);
        })
        .await
        .unwrap();
        let unknown = BusinessId::from_uuid(Uuid::nil());
        let first = store.get_business(unknown).await;
        let second = store.get_business(unknown).await;
        (first, second)
    }

    #[tokio::test]
    async fn a_connection_dropped_by_the_server_right_after_use_fails_one_unit_and_is_replaced() {
        let (first, second) = units_after_the_server_drops_the_connection(std::time::Duration::from_secs(3600)).await;
        assert!(matches!(first, Err(StoreError::Unavailable(_))), "{first:?}");
        assert_eq!(second, Ok(None), "the lost connection must not be handed out again");
    }

    #[tokio::test]
    async fn a_connection_dropped_by_the_server_while_idle_is_replaced_before_any_unit_fails() {
        let (first, second) = units_after_the_server_drops_the_connection(std::time::Duration::ZERO).await;
        assert_eq!((first, second), (Ok(None), Ok(None)));
    }

    #[tokio::test]
    async fn every_sqlite_connection_gets_wal_a_busy_timeout_and_foreign_keys() {
        #[derive(QueryableByName)]
        struct Pragmas {
            #[diesel(sql_type = Text)]
            journal_mode: String,
            #[diesel(sql_type = BigInt)]
            busy_timeout: i64,
            #[diesel(sql_type = BigInt)]
            foreign_keys: i64,
        }
        let database = TestDatabase::sqlite();
        let store = sqlite_store(&database, 3).await;
        // Hold three connections at once, so that the pool must open each.
        let pool = store.pool.clone();
        let seen = tokio::task::spawn_blocking(move || {
            let mut held = Vec::new();
            for _ in 0..3 {
                held.push(pool.get().unwrap());
            }
            held.iter_mut()
                .map(|conn| {
                    diesel::sql_query(
                        "SELECT (SELECT * FROM pragma_journal_mode) AS journal_mode, \
                         (SELECT * FROM pragma_busy_timeout) AS busy_timeout, \
                         (SELECT * FROM pragma_foreign_keys) AS foreign_keys",
                    )
                    .get_result::<Pragmas>(&mut ***conn)
                    .unwrap()
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        assert_eq!(seen.len(), 3);
        for pragmas in seen {
            assert_eq!(pragmas.journal_mode, "wal");
            assert_eq!(
                pragmas.busy_timeout,
                i64::from(crate::connection::SQLITE_BUSY_TIMEOUT_MS)
            );
            assert_eq!(pragmas.foreign_keys, 1);
        }
    }

    fn id() -> Uuid {
        rsvp_system::UuidV7Ids.new_id()
    }

    fn test_key(user_id: UserId, hash: SecretHash, now: OffsetDateTime) -> ApiKeyRecord {
        ApiKeyRecord {
            key: rsvp_domain::ApiKey {
                id: ApiKeyId::from_uuid(id()),
                user_id,
                name: rsvp_domain::ApiKeyName::parse("default").unwrap(),
                prefix: "rsvp_".to_owned(),
                created_at: now,
                expires_at: None,
                last_used_at: None,
            },
            hash,
        }
    }

    /// Runs every method of the port, with and without filters and cursors.
    async fn exercise_every_query(store: &DieselStore) {
        let now = OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        let business = |name: &str| Business {
            id: BusinessId::from_uuid(id()),
            name: BusinessName::parse(name).unwrap(),
            created_at: now,
            suspended_at: None,
        };
        let user = |business: BusinessId, email: &str| User {
            id: UserId::from_uuid(id()),
            business_id: business,
            email: EmailAddress::parse(email).unwrap(),
            first_name: Some(PersonName::parse("Test").unwrap()),
            last_name: None,
            created_at: now,
            deactivated_at: None,
        };
        let key = |user: UserId, byte: u8| test_key(user, SecretHash([byte; 32]), now);
        let acme = business("Acme");
        let ann = user(acme.id, "ann@acme.test");
        store.create_business(&acme, &ann, &key(ann.id, 1)).await.unwrap();
        let globex = business("Globex");
        let bob = user(globex.id, "bob@globex.test");
        store.create_business(&globex, &bob, &key(bob.id, 2)).await.unwrap();
        let carol = user(globex.id, "carol@globex.test");
        store.add_user(&carol, &key(carol.id, 3)).await.unwrap();
        store.get_business(acme.id).await.unwrap().unwrap();
        let credential = store.find_credential(&SecretHash([1; 32])).await.unwrap().unwrap();
        // The operator lifecycle (the business list reads every business by
        // nature, so it is left out of this check).
        let extra = key(ann.id, 9);
        store.create_api_key(&extra).await.unwrap();
        assert_eq!(store.list_api_keys(ann.id).await.unwrap().len(), 2);
        store
            .record_api_key_use(credential.key.id, now, now - Duration::minutes(1))
            .await
            .unwrap();
        store.revoke_api_key(extra.key.id).await.unwrap();
        let first_users = PageRequest {
            limit: PageSize::new(1).unwrap(),
            after: None,
        };
        let users_page = store.list_users(globex.id, &first_users).await.unwrap();
        let next_users = PageRequest {
            limit: PageSize::new(1).unwrap(),
            after: users_page.next,
        };
        store.list_users(globex.id, &next_users).await.unwrap();
        store.update_business(&acme).await.unwrap();
        store.update_user(&ann).await.unwrap();
        store.find_user_by_email(&bob.email).await.unwrap().unwrap();
        assert!(!store.are_connected(acme.id, globex.id).await.unwrap());

        let new_record = |email: &str, hash: u8| {
            let request = InvitationInput {
                email: Some(email.into()),
                ..Default::default()
            }
            .validate()
            .unwrap();
            let invitation = Invitation::new(InvitationId::from_uuid(id()), acme.id, ann.id, request, now);
            NewInvitationRecord {
                link: LinkTokenRecord {
                    hash: SecretHash([hash; 32]),
                    invitation_id: invitation.id,
                    created_at: now,
                },
                event: Event::created(EventId::from_uuid(id()), &invitation, Actor::Sender { user_id: ann.id }),
                email_job: Some(EmailJob {
                    id: EmailJobId::from_uuid(id()),
                    invitation_id: invitation.id,
                    to: invitation.email.clone(),
                    link_token: Some(Secret::new("token")),
                    attempts: 0,
                    status: EmailJobStatus::Queued,
                    next_attempt_at: now,
                    last_error: None,
                    created_at: now,
                }),
                invitation,
            }
        };
        let first = new_record("bob@globex.test", 10);
        store.insert_invitation(&first).await.unwrap();
        let bulk = [new_record("dan@initech.test", 11), new_record("eve@initech.test", 12)];
        assert!(store.insert_invitations(&bulk).await.unwrap().iter().all(Result::is_ok));
        // Enough rows, from enough businesses, for PostgreSQL's statistics
        // to tell the indexes apart as they would in production.
        let mut many = Vec::new();
        for n in 0..40u8 {
            let sender = business(&format!("Partner {n}"));
            let member = user(sender.id, &format!("owner{n}@partner{n}.test"));
            let mut owner_key = key(member.id, 100);
            owner_key.hash.0[0] = n;
            store.create_business(&sender, &member, &owner_key).await.unwrap();
            for m in 0..5u8 {
                let mut record = new_record(&format!("p{m}@customer{n}.test"), 0);
                record.invitation.business_id = sender.id;
                record.invitation.sent_by_user_id = member.id;
                record.event.business_id = sender.id;
                record.link.hash = SecretHash([200; 32]);
                record.link.hash.0[0] = n;
                record.link.hash.0[1] = m;
                many.push(record);
            }
        }
        assert!(store.insert_invitations(&many).await.unwrap().iter().all(Result::is_ok));
        if let Some(DbConnection::Pg(pg)) = store.pool.get().ok().as_deref_mut().map(|c| &mut **c) {
            pg.batch_execute("ANALYZE").unwrap();
        }
        store.find_pending(acme.id, &bob.email).await.unwrap().unwrap();
        assert!(!store.invitations_to_email(&bob.email).await.unwrap().is_empty());
        store.get_invitation(first.invitation.id).await.unwrap().unwrap();
        let query = InvitationQuery {
            filter: InvitationFilter {
                statuses: vec![InvitationStatus::Pending, InvitationStatus::Expired],
                email: Some(bob.email.clone()),
            },
            limit: PageSize::new(1).unwrap(),
            after: Some(Cursor {
                created_at: now + Duration::hours(1),
                id: Uuid::max(),
            }),
            now,
        };
        store.list_sent(acme.id, &query).await.unwrap();
        store.list_received(globex.id, &query).await.unwrap();
        let outstanding = InvitationQuery {
            filter: InvitationFilter {
                statuses: vec![InvitationStatus::Pending],
                email: None,
            },
            ..query.clone()
        };
        store.list_sent(acme.id, &outstanding).await.unwrap();
        let unfiltered = InvitationQuery {
            filter: InvitationFilter::default(),
            ..query
        };
        assert_eq!(store.list_sent(acme.id, &unfiltered).await.unwrap().items.len(), 1);
        assert_eq!(
            store.list_received(globex.id, &unfiltered).await.unwrap().items.len(),
            1
        );
        store
            .find_invitation_by_link(&SecretHash([10; 32]))
            .await
            .unwrap()
            .unwrap();
        store.due_for_expiry(now, 10).await.unwrap();
        let jobs = store.claim_email_jobs(now, 10, Duration::minutes(1)).await.unwrap();
        assert_eq!(jobs.len(), 10);
        store
            .finish_email_job(jobs[0].id, &EmailOutcome::Sent, now)
            .await
            .unwrap();
        let group = [
            (jobs[3].id, EmailOutcome::Sent),
            (
                jobs[4].id,
                EmailOutcome::Retry {
                    retry_at: now + Duration::minutes(5),
                    error: "451".into(),
                },
            ),
        ];
        assert_eq!(store.finish_email_jobs(&group, now).await.unwrap(), 2);
        let round: Vec<InvitationId> = jobs.iter().map(|job| job.invitation_id).collect();
        assert_eq!(store.get_invitations(&round).await.unwrap().len(), 10);
        assert_eq!(store.release_email_jobs(&jobs[1..3], now).await.unwrap(), 2);
        store.oldest_queued_email().await.unwrap().unwrap();
        let resend = ResendRecord {
            invitation_id: bulk[0].invitation.id,
            now: now + Duration::hours(1),
            not_sent_after: now + Duration::minutes(59),
            link: LinkTokenRecord {
                hash: SecretHash([13; 32]),
                invitation_id: bulk[0].invitation.id,
                created_at: now,
            },
            revoke_previous_links: true,
            event: Event::resent(
                EventId::from_uuid(id()),
                &bulk[0].invitation,
                Actor::Sender { user_id: ann.id },
                now,
            ),
            email_job: new_record("dan@initech.test", 14).email_job.unwrap(),
        };
        let mut resend = resend;
        resend.email_job.invitation_id = bulk[0].invitation.id;
        store.record_resend(&resend).await.unwrap();
        let queued = store.emails_queued_since(acme.id, now).await.unwrap();
        assert!(queued.count >= 2, "{queued:?}");
        let later = now + Duration::hours(2);
        let mut accepted = first
            .invitation
            .accept(&Actor::Invitee { user_id: Some(bob.id) }, later)
            .unwrap();
        accepted.invitee_business_id = Some(globex.id);
        let connection = DomainConnection::from_invitation(ConnectionId::from_uuid(id()), &accepted, globex.id, later);
        let actor = Actor::Invitee { user_id: Some(bob.id) };
        let created = Event::connection_created(EventId::from_uuid(id()), &accepted, &connection, actor);
        let record = TransitionRecord {
            event: Event::transition(EventId::from_uuid(id()), &first.invitation, &accepted, actor).unwrap(),
            invitation: accepted,
            expected: InvitationStatus::Pending,
            now: later,
            connection: Some((connection, created)),
            new_invitee: None,
        };
        store.apply_transition(&record).await.unwrap();
        assert!(store.are_connected(globex.id, acme.id).await.unwrap());
        let page = PageRequest {
            limit: PageSize::new(1).unwrap(),
            after: Some(Cursor {
                created_at: later + Duration::hours(1),
                id: Uuid::max(),
            }),
        };
        assert_eq!(store.list_connections(acme.id, &page).await.unwrap().items.len(), 1);
        let events = EventQuery {
            limit: PageSize::new(2).unwrap(),
            after: Some(EventId::from_uuid(Uuid::nil())),
        };
        assert_eq!(store.list_events(globex.id, &events).await.unwrap().items.len(), 2);
        // The job sent alone and the one sent in a group.
        assert_eq!(store.prune_email_jobs(now + Duration::days(1), 100).await.unwrap(), 2);

        let claim = |key: &str, fingerprint: u8, at: OffsetDateTime| rsvp_app::IdempotencyClaim {
            scope: rsvp_app::IdempotencyScope(SecretHash([9; 32])),
            key: rsvp_app::IdempotencyKey::parse(key).unwrap(),
            fingerprint: rsvp_app::RequestFingerprint(SecretHash([fingerprint; 32])),
            attempt: id(),
            now: at,
            expires_at: at + Duration::hours(24),
            stale_before: at - Duration::seconds(60),
        };
        let response = rsvp_app::StoredResponse {
            status: 201,
            headers: vec![("location".into(), "/v1/x".into())],
            body: b"{}".to_vec(),
        };
        let begin = |claim| async move { store.begin_idempotent(&claim).await.unwrap() };
        let first = claim("k1", 1, now);
        assert_eq!(begin(first.clone()).await, rsvp_app::IdempotencyBegin::Started);
        let (scope, key, attempt) = (first.scope, first.key.clone(), first.attempt);
        assert!(
            store
                .complete_idempotent(&scope, &key, attempt, &response)
                .await
                .unwrap()
        );
        assert!(matches!(
            begin(claim("k1", 1, now)).await,
            rsvp_app::IdempotencyBegin::Replay(_)
        ));
        let running = claim("k2", 1, now);
        assert_eq!(begin(running.clone()).await, rsvp_app::IdempotencyBegin::Started);
        let later = now + Duration::minutes(2);
        assert_eq!(
            begin(claim("k2", 1, later)).await,
            rsvp_app::IdempotencyBegin::Started,
            "taken over"
        );
        let abandoned = claim("k3", 1, now);
        assert_eq!(begin(abandoned.clone()).await, rsvp_app::IdempotencyBegin::Started);
        let (scope, key, attempt) = (abandoned.scope, abandoned.key.clone(), abandoned.attempt);
        assert!(store.abandon_idempotent(&scope, &key, attempt).await.unwrap());
        let pruned = store
            .prune_idempotency_records(now + Duration::days(2), 100)
            .await
            .unwrap();
        assert_eq!(pruned, 2);
    }

    /// Every SQL statement the store sends while `exercise_every_query`
    /// runs, without its binds. The store must have a pool of one.
    async fn statements_of_every_query(store: &DieselStore) -> Vec<String> {
        let statements = Arc::new(Mutex::new(BTreeSet::new()));
        let sink = Arc::clone(&statements);
        store
            .on_every_connection(move |conn: &mut DbConnection| {
                let sink = Arc::clone(&sink);
                conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
                    if let InstrumentationEvent::StartQuery { query, .. } = event {
                        let text = query.to_string();
                        let sql = text.split(" -- binds: ").next().unwrap_or_default().trim().to_owned();
                        sink.lock().unwrap().insert(sql);
                    }
                });
            })
            .await;
        exercise_every_query(store).await;
        store
            .on_every_connection(|conn: &mut DbConnection| {
                conn.set_instrumentation(|_: InstrumentationEvent<'_>| {});
            })
            .await;
        let statements = statements.lock().unwrap();
        let explained: Vec<String> = statements
            .iter()
            .filter(|sql| {
                ["SELECT", "UPDATE", "DELETE", "WITH"]
                    .iter()
                    .any(|verb| sql.starts_with(verb))
            })
            .filter(|sql| sql.as_str() != "SELECT 1")
            .cloned()
            .collect();
        assert!(explained.len() >= 20, "too few statements captured: {statements:#?}");
        explained
    }

    #[derive(QueryableByName)]
    struct SqlitePlanStep {
        #[diesel(sql_type = Text)]
        detail: String,
    }

    #[derive(QueryableByName)]
    struct PgPlanLine {
        #[diesel(sql_type = Text)]
        #[diesel(column_name = "QUERY PLAN")]
        line: String,
    }

    /// The plan of each statement: on SQLite `EXPLAIN QUERY PLAN` (unbound
    /// parameters read as NULL, and the plan does not depend on them); on
    /// PostgreSQL the generic plan (the one a prepared statement gets,
    /// whatever its parameters) with sequential scans priced out, so that
    /// one shows only where no index can serve the query.
    async fn plans(store: &DieselStore, statements: Vec<String>) -> Vec<(String, Vec<String>)> {
        let pool = store.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().unwrap();
            statements
                .into_iter()
                .map(|sql| {
                    let steps = match &mut **conn {
                        DbConnection::Sqlite(lite) => diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
                            .load::<SqlitePlanStep>(lite)
                            .unwrap_or_else(|e| panic!("explaining {sql}: {e}"))
                            .into_iter()
                            .map(|step| step.detail)
                            .collect(),
                        DbConnection::Pg(pg) => {
                            let params = (1..=64).take_while(|n| sql.contains(&format!("${n}"))).count();
                            let nulls = vec!["NULL"; params].join(", ");
                            pg.batch_execute(&format!(
                                "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off; \
                                 PREPARE rsvp_plan AS {sql}"
                            ))
                            .unwrap_or_else(|e| panic!("preparing {sql}: {e}"));
                            let explain = if params == 0 {
                                "EXPLAIN EXECUTE rsvp_plan".to_owned()
                            } else {
                                format!("EXPLAIN EXECUTE rsvp_plan({nulls})")
                            };
                            let lines = diesel::sql_query(explain)
                                .load::<PgPlanLine>(pg)
                                .unwrap_or_else(|e| panic!("explaining {sql}: {e}"));
                            pg.batch_execute("DEALLOCATE rsvp_plan").unwrap();
                            lines.into_iter().map(|l| l.line.trim().to_owned()).collect()
                        }
                    };
                    (sql, steps)
                })
                .collect()
        })
        .await
        .unwrap()
    }

    const EXPECTED_INDEXES: [&str; 14] = [
        "invitations_one_pending_per_email",
        "invitations_sent_keyset_idx",
        "invitations_sent_pending_keyset_idx",
        "invitations_received_keyset_idx",
        "invitations_pending_expiry_idx",
        "email_jobs_queued_idx",
        "email_jobs_business_created_idx",
        "events_business_keyset_idx",
        "events_invitee_keyset_idx",
        "connections_inviter_keyset_idx",
        "connections_invitee_keyset_idx",
        "connections_one_per_pair",
        "users_email_normalized_key",
        "api_keys_key_hash_key",
    ];

    fn assert_every_query_uses_an_index(plans: &[(String, Vec<String>)], is_full_scan: impl Fn(&str) -> bool) {
        for (sql, steps) in plans {
            assert!(
                !steps.iter().any(|step| is_full_scan(step)),
                "full scan in the plan of\n{sql}\n{steps:#?}"
            );
        }
        for index in EXPECTED_INDEXES {
            assert!(
                plans.iter().any(|(_, steps)| steps.iter().any(|s| s.contains(index))),
                "no query used {index}: {plans:#?}"
            );
        }
    }

    #[tokio::test]
    async fn every_query_on_sqlite_is_served_by_an_index_never_a_full_scan() {
        let database = TestDatabase::sqlite();
        let store = sqlite_store(&database, 1).await;
        let statements = statements_of_every_query(&store).await;
        let plans = plans(&store, statements).await;
        // A scan is full unless it reads, in order and up to the limit, the
        // partial index that holds only the queued jobs (the outbox claim).
        assert_every_query_uses_an_index(&plans, |step| {
            step.starts_with("SCAN ")
                && !step.starts_with("SCAN CONSTANT")
                && !step.ends_with("USING INDEX email_jobs_queued_idx")
        });
    }

    #[tokio::test]
    async fn every_query_on_postgres_is_served_by_an_index_never_a_sequential_scan() {
        let database = tokio::task::spawn_blocking(TestDatabase::postgres).await.unwrap();
        let mut options = StoreOptions::new(database.url());
        options.max_connections = 1;
        options.min_idle = Some(0);
        let store = DieselStore::connect_with(options).await.unwrap();
        store.run_migrations().await.unwrap();
        let statements = statements_of_every_query(&store).await;
        let plans = plans(&store, statements).await;
        assert_every_query_uses_an_index(&plans, |step| step.contains("Seq Scan"));
        // The sent list reads its index in order: no sort.
        let sent = plans
            .iter()
            .find(|(sql, steps)| {
                sql.contains("\"invitations\".\"business_id\" = $1") && steps.iter().any(|s| s.contains("sent_keyset"))
            })
            .expect("the sent list's plan");
        assert!(
            !sent.1.iter().any(|s| s.starts_with("Sort") || s.contains("-> Sort")),
            "{sent:#?}"
        );
        drop(store);
    }
}
