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
    AccountStore, ApiKeyRecord, BusinessQuery, CreateOutcome, Credential, Cursor, EmailCap, EmailJob, EmailOutcome,
    ErasureCounts, ErasureRecord, EventQuery, IdempotencyBegin, IdempotencyClaim, IdempotencyKey, IdempotencyScope,
    IdempotencyStore, InvitationContext, InvitationFilter, InvitationQuery, InvitationStore, NetworkStore,
    NewInvitationRecord, OptOutStore, OutboxStore, Page, PageRequest, Principal, ResendRecord, SecretHash, Store,
    StoreError, StoredResponse, SuppressionQuery, TransitionOutcome, TransitionRecord, WebhookStore,
};
use rsvp_domain::{
    ApiKey, ApiKeyId, Business, BusinessId, Connection as DomainConnection, EmailAddress, EmailJobId, Event, EventId,
    Invitation, InvitationId, InvitationStatus, Suppression, SuppressionId, User, UserId, ordered_pair,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::SetupError;
use crate::connection::{Backend, DatabaseUrl, DbConnection, MultiBackend, Pool, PoolShape, build_pool};
use crate::idempotency;
use crate::migrations;
use crate::one_statement::{CallCreateInvitation, CallOutcome, FinishEmailJob, FinishEmailJobs};
use crate::rows::{
    ApiKeyRow, BusinessRow, ConnectionRow, EmailJobRow, EventRow, InvitationRow, LinkTokenRow, SuppressionRow, UserRow,
    bound_nanos, id_text, to_nanos,
};
use crate::schema::{
    api_keys, businesses, connections, email_jobs, events, invitations, link_tokens, suppressions, users,
};
use crate::wake::{StoreWorkSignal, Wake};
use crate::writer::Writer;
use op::Operation;

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

mod accounts;
mod idempotency_records;
mod inviting;
mod network;
mod opt_outs;
mod outbox;
mod queries;
mod setup;
mod units;

pub(crate) use queries::*;
pub(crate) use units::*;

#[async_trait]
impl Store for DieselStore {
    fn accounts(&self) -> &dyn AccountStore {
        self
    }

    fn invitations(&self) -> &dyn InvitationStore {
        self
    }

    fn network(&self) -> &dyn NetworkStore {
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
    use rsvp_domain::{
        Actor, ApiKeyId, BusinessName, ConnectionId, EmailJobId, InvitationInput, InvitationParts, PersonName, UserId,
    };
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
            .run(
                op::Operation {
                    name: "explode",
                    kind: op::Kind::Write,
                },
                |_| -> Unit<()> { panic!("boom inside the unit of work") },
            )
            .await;
        match result {
            Err(StoreError::Unavailable(message)) => assert!(message.contains("explode"), "{message}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
        // The pool (of one) replaced the connection the panic left behind.
        store.ping().await.unwrap();
        assert_eq!(
            store.accounts().get_business(BusinessId::from_uuid(Uuid::nil())).await,
            Ok(None)
        );
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
            if let Err(error) = store.accounts().create_business(&business, &user, &key).await {
                return error;
            }
        }
        panic!("10,000 writes and no refusal");
    }

    /// Caps (or uncaps) the SQLite file of a one-connection store at its
    /// current size: a write that needs a new page fails as on a full disk.
    async fn cap_file(store: &DieselStore, capped: bool) {
        if capped {
            // Free pages (a migration drops an index) would let a small write
            // through after a larger one was refused: none left.
            store
                .with_connection(|conn: &mut DbConnection| conn.batch_execute("VACUUM").map_err(|e| e.to_string()))
                .await
                .unwrap();
        }
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
        assert_eq!(
            store.accounts().get_business(BusinessId::from_uuid(Uuid::nil())).await,
            Ok(None)
        );
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
        let first = store.accounts().get_business(unknown).await;
        let second = store.accounts().get_business(unknown).await;
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
        store
            .accounts()
            .create_business(&acme, &ann, &key(ann.id, 1))
            .await
            .unwrap();
        let globex = business("Globex");
        let bob = user(globex.id, "bob@globex.test");
        store
            .accounts()
            .create_business(&globex, &bob, &key(bob.id, 2))
            .await
            .unwrap();
        let carol = user(globex.id, "carol@globex.test");
        store.accounts().add_user(&carol, &key(carol.id, 3)).await.unwrap();
        store.accounts().get_business(acme.id).await.unwrap().unwrap();
        let credential = store
            .accounts()
            .find_credential(&SecretHash([1; 32]))
            .await
            .unwrap()
            .unwrap();
        // The operator lifecycle (the business list reads every business by
        // nature, so it is left out of this check).
        let extra = key(ann.id, 9);
        store.accounts().create_api_key(&extra).await.unwrap();
        assert_eq!(store.accounts().list_api_keys(ann.id).await.unwrap().len(), 2);
        store
            .accounts()
            .record_api_key_use(credential.key.id, now, now - Duration::minutes(1))
            .await
            .unwrap();
        store.accounts().revoke_api_key(extra.key.id).await.unwrap();
        let first_users = PageRequest {
            limit: PageSize::new(1).unwrap(),
            after: None,
        };
        let users_page = store.accounts().list_users(globex.id, &first_users).await.unwrap();
        let next_users = PageRequest {
            limit: PageSize::new(1).unwrap(),
            after: users_page.next,
        };
        store.accounts().list_users(globex.id, &next_users).await.unwrap();
        store.accounts().update_business(&acme).await.unwrap();
        store.accounts().update_user(&ann).await.unwrap();
        store.accounts().find_user_by_email(&bob.email).await.unwrap().unwrap();
        assert!(!store.network().are_connected(acme.id, globex.id).await.unwrap());

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
                    invitation_id: invitation.id(),
                    created_at: now,
                },
                event: Event::created(EventId::from_uuid(id()), &invitation, Actor::Sender { user_id: ann.id }),
                email_job: Some(EmailJob {
                    id: EmailJobId::from_uuid(id()),
                    invitation_id: invitation.id(),
                    to: invitation.email().clone(),
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
        let created = store
            .invitations()
            .create_invitation(&first, Some(EmailCap { limit: 1_000 }))
            .await
            .unwrap();
        assert!(matches!(created, CreateOutcome::Created { .. }), "{created:?}");
        let bulk = [new_record("dan@initech.test", 11), new_record("eve@initech.test", 12)];
        assert!(
            store
                .invitations()
                .insert_invitations(&bulk, Some(EmailCap { limit: 1_000 }))
                .await
                .unwrap()
                .iter()
                .all(Result::is_ok)
        );
        // Enough rows, from enough businesses, for PostgreSQL's statistics
        // to tell the indexes apart as they would in production.
        let mut many = Vec::new();
        for n in 0..40u8 {
            let sender = business(&format!("Partner {n}"));
            let member = user(sender.id, &format!("owner{n}@partner{n}.test"));
            let mut owner_key = key(member.id, 100);
            owner_key.hash.0[0] = n;
            store
                .accounts()
                .create_business(&sender, &member, &owner_key)
                .await
                .unwrap();
            for m in 0..5u8 {
                let mut record = new_record(&format!("p{m}@customer{n}.test"), 0);
                record.invitation = Invitation::restore(InvitationParts {
                    business_id: sender.id,
                    sent_by_user_id: member.id,
                    ..record.invitation.into_parts()
                });
                record.event.business_id = sender.id;
                record.link.hash = SecretHash([200; 32]);
                record.link.hash.0[0] = n;
                record.link.hash.0[1] = m;
                many.push(record);
            }
        }
        assert!(
            store
                .invitations()
                .insert_invitations(&many, Some(EmailCap { limit: 1_000 }))
                .await
                .unwrap()
                .iter()
                .all(Result::is_ok)
        );
        if let Some(DbConnection::Pg(pg)) = store.pool.get().ok().as_deref_mut().map(|c| &mut **c) {
            pg.batch_execute("ANALYZE").unwrap();
        }
        store
            .invitations()
            .find_pending(acme.id, &bob.email)
            .await
            .unwrap()
            .unwrap();
        assert!(
            !store
                .opt_outs()
                .invitations_to_email(&bob.email)
                .await
                .unwrap()
                .is_empty()
        );
        store
            .invitations()
            .get_invitation(first.invitation.id())
            .await
            .unwrap()
            .unwrap();
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
        store.invitations().list_sent(acme.id, &query).await.unwrap();
        store.invitations().list_received(globex.id, &query).await.unwrap();
        let outstanding = InvitationQuery {
            filter: InvitationFilter {
                statuses: vec![InvitationStatus::Pending],
                email: None,
            },
            ..query.clone()
        };
        store.invitations().list_sent(acme.id, &outstanding).await.unwrap();
        let unfiltered = InvitationQuery {
            filter: InvitationFilter::default(),
            ..query
        };
        assert_eq!(
            store
                .invitations()
                .list_sent(acme.id, &unfiltered)
                .await
                .unwrap()
                .items
                .len(),
            1
        );
        assert_eq!(
            store
                .invitations()
                .list_received(globex.id, &unfiltered)
                .await
                .unwrap()
                .items
                .len(),
            1
        );
        store
            .invitations()
            .find_invitation_by_link(&SecretHash([10; 32]))
            .await
            .unwrap()
            .unwrap();
        store.invitations().due_for_expiry(now, 10).await.unwrap();
        let jobs = store
            .outbox()
            .claim_email_jobs(now, 10, Duration::minutes(1))
            .await
            .unwrap();
        assert_eq!(jobs.len(), 10);
        store
            .outbox()
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
        assert_eq!(store.outbox().finish_email_jobs(&group, now).await.unwrap(), 2);
        let round: Vec<InvitationId> = jobs.iter().map(|job| job.invitation_id).collect();
        assert_eq!(store.invitations().get_invitations(&round).await.unwrap().len(), 10);
        assert_eq!(store.outbox().release_email_jobs(&jobs[1..3], now).await.unwrap(), 2);
        store.outbox().oldest_queued_email().await.unwrap().unwrap();
        let resend = ResendRecord {
            invitation_id: bulk[0].invitation.id(),
            now: now + Duration::hours(1),
            not_sent_after: now + Duration::minutes(59),
            link: LinkTokenRecord {
                hash: SecretHash([13; 32]),
                invitation_id: bulk[0].invitation.id(),
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
            email_cap: Some(EmailCap { limit: 1_000 }),
        };
        let mut resend = resend;
        resend.email_job.invitation_id = bulk[0].invitation.id();
        store.invitations().record_resend(&resend).await.unwrap();
        let later = now + Duration::hours(2);
        let accepted = first
            .invitation
            .accept(&Actor::Invitee { user_id: Some(bob.id) }, globex.id, later)
            .unwrap();
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
        store.invitations().apply_transition(&record).await.unwrap();
        assert!(store.network().are_connected(globex.id, acme.id).await.unwrap());
        let page = PageRequest {
            limit: PageSize::new(1).unwrap(),
            after: Some(Cursor {
                created_at: later + Duration::hours(1),
                id: Uuid::max(),
            }),
        };
        assert_eq!(
            store
                .network()
                .list_connections(acme.id, &page)
                .await
                .unwrap()
                .items
                .len(),
            1
        );
        let events = EventQuery {
            limit: PageSize::new(2).unwrap(),
            after: Some(EventId::from_uuid(Uuid::nil())),
        };
        assert_eq!(
            store
                .network()
                .list_events(globex.id, &events)
                .await
                .unwrap()
                .items
                .len(),
            2
        );
        // The job sent alone and the one sent in a group.
        assert_eq!(
            store
                .outbox()
                .prune_email_jobs(now + Duration::days(1), 100)
                .await
                .unwrap(),
            2
        );

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
        let begin = |claim| async move { store.idempotency().begin_idempotent(&claim).await.unwrap() };
        let first = claim("k1", 1, now);
        assert_eq!(begin(first.clone()).await, rsvp_app::IdempotencyBegin::Started);
        let (scope, key, attempt) = (first.scope, first.key.clone(), first.attempt);
        assert!(
            store
                .idempotency()
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
        assert!(
            store
                .idempotency()
                .abandon_idempotent(&scope, &key, attempt)
                .await
                .unwrap()
        );
        let pruned = store
            .idempotency()
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

    const EXPECTED_INDEXES: [&str; 13] = [
        "invitations_one_pending_per_email",
        "invitations_sent_keyset_idx",
        "invitations_sent_pending_keyset_idx",
        "invitations_received_keyset_idx",
        "invitations_pending_expiry_idx",
        "email_jobs_queued_idx",
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
        // partial index that holds only the queued jobs (the outbox claim),
        // or the one constant row that the facts of a new invitation join
        // the invitee user to (`context.rs`).
        assert_every_query_uses_an_index(&plans, |step| {
            step.starts_with("SCAN ")
                && !step.starts_with("SCAN CONSTANT")
                && step != "SCAN one"
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
