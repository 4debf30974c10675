//! [`DieselStore`]: the `rsvp_app::Store` port on diesel.

use std::fmt;
use std::time::Duration;

use crate::sql::FixedSelection;
use async_trait::async_trait;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use rsvp_app::{
    ApiKeyRecord, BusinessQuery, CreateOutcome, Credential, Cursor, EmailCap, EmailJob, EmailOutcome, ErasureCounts,
    ErasureRecord, EventQuery, IdempotencyBegin, IdempotencyClaim, IdempotencyStore, IdempotencyTicket,
    InvitationContext, InvitationFilter, InvitationQuery, InvitationStore, NetworkStore, NewInvitationRecord,
    OperatorStore, OptOutStore, OutboxStore, Page, PageRequest, Principal, ResendRecord, SecretHash, Store, StoreError,
    StoredResponse, SuppressionQuery, TransitionOutcome, TransitionRecord, WebhookStore,
};
use rsvp_domain::{
    ApiKey, ApiKeyId, Business, BusinessId, Connection as DomainConnection, EmailAddress, EmailJobId, Event, EventId,
    ExternalId, Invitation, InvitationId, InvitationStatus, Suppression, SuppressionId, User, UserId,
};
use time::OffsetDateTime;

use crate::SetupError;
use crate::connection::{Backend, DatabaseUrl, DbConnection, MultiBackend, Pool, PoolShape, build_pool};
use crate::migrations;
use crate::rows::{
    ApiKeyRow, BusinessRow, ConnectionRow, EmailJobRow, EventRow, InvitationRow, LinkTokenRow, StoredInvitationRow,
    SuppressionRow, UserRow, bound_nanos, id_text, to_nanos,
};
use crate::schema::{
    api_keys, businesses, connections, email_jobs, events, invitations, link_tokens, suppressions, users,
};
use crate::sql::{Condition, KeysetBefore};
use crate::wake::{StoreWorkSignal, Wake};
use crate::writer::Writer;
use op::Operation;

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

/// `query` (a boxed query of the table `$table`) narrowed to one page of a
/// newest-first list (`created_at`, then `id`) after the cursor `after`,
/// one row over the page: the keyset every list of the operator shares.
macro_rules! newest_first_page {
    ($query:expr, $table:ident, $after:expr, $limit:expr) => {{
        let mut query = $query;
        if let Some(cursor) = $after {
            query = query.filter($crate::sql::KeysetBefore::new(
                concat!("(", stringify!($table), ".created_at, ", stringify!($table), ".id)"),
                &cursor,
            ));
        }
        query
            .order(($table::created_at.desc(), $table::id.desc()))
            .limit($crate::store::overfetch($limit))
    }};
}

mod bulk;
mod context;
mod email_cap;
pub(crate) mod op;
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
    /// One permit per pooled connection: a unit holds one while it runs
    /// (see `on_pool`).
    units_on_pool: std::sync::Arc<tokio::sync::Semaphore>,
    /// How long a unit waits for a connection.
    connection_timeout: Duration,
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

mod analytics;
mod event_relay;
mod feedback;
mod idempotency;
mod inviting;
mod joining;
mod network;
mod operator;
mod opt_outs;
mod outbox;
mod setup;
mod units;

use idempotency::units as idempotency_units;
use inviting::{create_call::*, rows::*};
use outbox::{claim::*, finish::*};
pub(crate) use units::*;

fn rows_into<R, T>(rows: Vec<R>, convert: impl Fn(R) -> Result<T, StoreError>) -> Unit<Vec<T>> {
    Ok(rows.into_iter().map(convert).collect::<Result<Vec<_>, _>>()?)
}

/// `Ok` when an update changed a row; the port's `NotFound` when nothing matched.
fn changed_one(changed: usize) -> Unit<()> {
    if changed == 0 {
        Err(StoreError::NotFound.into())
    } else {
        Ok(())
    }
}

/// A page of rows read into the domain, the extra row of an over-fetching
/// query telling whether there is a next page (its cursor from `cursor_of`).
fn domain_page<R, T, C>(
    rows: Vec<R>,
    convert: impl Fn(R) -> Result<T, StoreError>,
    limit: rsvp_app::PageSize,
    cursor_of: impl Fn(&T) -> C,
) -> Unit<Page<T, C>> {
    Ok(Page::from_overfetch(rows_into(rows, convert)?, limit, cursor_of))
}

/// The limit of an over-fetching page query: one row more than the page.
pub(crate) fn overfetch(limit: rsvp_app::PageSize) -> i64 {
    i64::from(limit.get()) + 1
}

fn saturating_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[async_trait]
impl Store for DieselStore {
    fn operator(&self) -> &dyn OperatorStore {
        self
    }

    fn invitations(&self) -> &dyn InvitationStore {
        self
    }

    fn network(&self) -> &dyn NetworkStore {
        self
    }

    fn join_links(&self) -> &dyn rsvp_app::JoinLinkStore {
        self
    }

    fn outbox(&self) -> &dyn OutboxStore {
        self
    }

    fn idempotency(&self) -> &dyn IdempotencyStore {
        self
    }

    fn opt_outs(&self) -> &dyn OptOutStore {
        self
    }

    fn webhooks(&self) -> &dyn WebhookStore {
        self
    }

    fn event_relay(&self) -> &dyn rsvp_app::EventRelayStore {
        self
    }

    fn feedback(&self) -> &dyn rsvp_app::FeedbackStore {
        self
    }

    fn analytics(&self) -> &dyn rsvp_app::AnalyticsStore {
        self
    }

    /// Readiness: a query within [`StoreOptions::ping_timeout`] (checkout
    /// included). On SQLite, also fails while the last write failed on
    /// storage (full disk, read-only file, I/O error), retrying a small write
    /// itself so that it recovers without traffic.
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

#[cfg(test)]
mod port_walk;
#[cfg(test)]
mod query_plans;
#[cfg(test)]
mod test_support;
