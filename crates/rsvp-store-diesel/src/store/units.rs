//! Units of work: how a port call runs (pool or the one SQLite writer), the port operations by kind, and the failures a unit stops on.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The PostgreSQL advisory lock taken by the email pruner, so that one
/// replica prunes at a time ("rsvp" in ASCII, then 1).
pub(super) const PRUNE_LOCK_KEY: i64 = 0x7273_7670_0000_0001;

/// The PostgreSQL advisory lock taken by the pruner of idempotency records.
pub(super) const IDEMPOTENCY_PRUNE_LOCK_KEY: i64 = 0x7273_7670_0000_0002;

/// A unit of work queued to the SQLite writer, with where to send its
/// outcome (and whether it failed on storage).
pub(super) struct QueuedUnit<T, F> {
    pub(super) operation: Operation,
    pub(super) work: F,
    pub(super) span: tracing::Span,
    pub(super) reply: tokio::sync::oneshot::Sender<(Result<T, StoreError>, bool)>,
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
                        "{}: the commit failed: {error}",
                        operation.name
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
            Err(StoreError::Unavailable(format!("{}: {error}", self.operation.name))),
            is_storage_failure(error),
        ));
    }
}

/// Whether a SQLite error says the storage cannot take writes.
pub(super) fn is_storage_failure(error: &DieselError) -> bool {
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
pub(super) const SQLITE_WRITE_PROBE: &str = "BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS rsvp_write_probe (x INTEGER); \
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
    pub(super) fn into_store(self) -> StoreError {
        match self {
            Self::Store(error) => error,
            // A field that did not read names its column; its source, the value.
            Self::Db(error) => StoreError::Unavailable(format!("database error: {}", rsvp_app::error_chain(&error))),
        }
    }
}

pub(crate) type Unit<T> = Result<T, Failure>;

/// Maps a unique violation of the statement to the port's `error`.
pub(super) fn unique_is(error: StoreError) -> impl FnOnce(DieselError) -> Failure {
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
pub(super) fn in_transaction(conn: &mut DbConnection) -> bool {
    let depth = match conn {
        DbConnection::Sqlite(inner) => {
            AnsiTransactionManager::transaction_manager_status_mut(inner).transaction_depth()
        }
        DbConnection::Pg(inner) => AnsiTransactionManager::transaction_manager_status_mut(inner).transaction_depth(),
    };
    matches!(depth, Ok(Some(_)))
}

pub(super) fn finish_unit<T>(conn: &mut DbConnection, work: impl FnOnce(&mut DbConnection) -> Unit<T>) -> Unit<T> {
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

#[cfg(test)]
mod tests;
