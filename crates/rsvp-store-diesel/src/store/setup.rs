//! Building a store: options, pool, writer, migrations, readiness; how a unit of work is run.

#[allow(clippy::wildcard_imports)]
use super::*;

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
        let wake = std::sync::Arc::new(Wake::default());
        let own_backends = wake.own_backends();
        let pool = tokio::task::spawn_blocking(move || build_pool(&target, &shape, own_backends))
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
            units_on_pool: std::sync::Arc::new(tokio::sync::Semaphore::new(
                usize::try_from(options.max_connections.max(1)).unwrap_or(usize::MAX),
            )),
            connection_timeout: options.connection_timeout,
            backend,
            ping_timeout: options.ping_timeout,
            storage_failure: std::sync::Arc::default(),
            writer,
            wake,
            listen_url,
        })
    }

    /// The signal that wakes the email dispatcher when jobs are queued: by
    /// this store (after the commit), and on PostgreSQL by any replica
    /// (`LISTEN/NOTIFY`; the first call starts the listener thread, which
    /// ends when the store and its signals are dropped, or at
    /// [`stop_listening`](Self::stop_listening)).
    pub fn work_signal(&self) -> StoreWorkSignal {
        if let Some(url) = &self.listen_url {
            self.wake.listen(url);
        }
        StoreWorkSignal::new(self.wake.clone())
    }

    /// Stops the PostgreSQL listener that [`work_signal`](Self::work_signal)
    /// started, and waits until its thread has closed its connection: a
    /// process calls it once it stopped serving, before it exits (returning
    /// from `main` while that thread still closes a TLS connection races
    /// OpenSSL's exit handlers). Blocks for a tick (20 ms), or for the
    /// connect timeout if a reconnection is under way. Commits of this
    /// store still wake its dispatcher; other replicas are no longer heard.
    /// Whether a listener was running.
    pub fn stop_listening(&self) -> bool {
        self.wake.stop_listening()
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
    pub(crate) async fn run<T, F>(&self, operation: Operation, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Unit<T> + Send + 'static,
    {
        let (result, storage) = match &self.writer {
            Some(writer) if !operation.reads_only() => Self::queue(writer, operation, work).await,
            _ => self.on_pool(operation, work).await,
        };
        if self.backend == Backend::Sqlite && operation.writes() {
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
            tracing::warn!(operation = operation.name, error = %message, "store unavailable");
        }
        // A hinting operation wakes the dispatcher once its hints are in.
        if result.is_ok() && operation.queues_email() && !(operation.hints_email_jobs() && self.hints_claims()) {
            self.wake.queued_unhinted();
        }
        result
    }

    /// Whether the dispatcher claims hinted jobs by id (PostgreSQL, whose
    /// scan of the queued jobs walks dead index entries; `wake.rs`).
    pub(super) fn hints_claims(&self) -> bool {
        self.backend == Backend::Postgres
    }

    /// Hands the ids of email jobs just committed to this process's
    /// dispatcher (see [`hints_claims`](Self::hints_claims)), and wakes it.
    pub(super) fn hint_email_jobs(&self, ids: impl IntoIterator<Item = String>) {
        if self.hints_claims() {
            self.wake.queued_hinted(ids);
        }
    }

    /// A unit for SQLite's writer: queued, answered after its group commits.
    pub(super) async fn queue<T, F>(writer: &Writer, operation: Operation, work: F) -> (Result<T, StoreError>, bool)
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
                    "{}: the SQLite writer stopped",
                    operation.name
                ))),
                false,
            );
        }
        answer.await.unwrap_or_else(|_| {
            (
                Err(StoreError::Unavailable(format!(
                    "{}: the SQLite writer dropped the unit",
                    operation.name
                ))),
                false,
            )
        })
    }

    /// A unit on a pooled connection, inside one `spawn_blocking`.
    ///
    /// A unit first waits, as a task, for one of as many permits as the pool
    /// has connections, and only then takes a blocking thread: under load
    /// the units beyond the pool wait without a thread each (at 64
    /// connections, 105 threads parked on the pool's condition variable,
    /// each wake-up a futex call, each thread a malloc arena). The wait is
    /// bounded by the pool's checkout timeout, as before.
    pub(super) async fn on_pool<T, F>(&self, operation: Operation, work: F) -> (Result<T, StoreError>, bool)
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Unit<T> + Send + 'static,
    {
        // One checkout budget: the permit's wait and the pool's share it.
        let deadline = tokio::time::Instant::now() + self.connection_timeout;
        let permit = match tokio::time::timeout_at(deadline, self.units_on_pool.clone().acquire_owned()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(closed)) => {
                return (
                    Err(StoreError::Unavailable(format!("{}: {closed}", operation.name))),
                    false,
                );
            }
            Err(_) => {
                return (
                    Err(StoreError::Unavailable(format!(
                        "{}: no database connection within {} ms: every one is busy",
                        operation.name,
                        self.connection_timeout.as_millis()
                    ))),
                    false,
                );
            }
        };
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        let joined = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _entered = span.enter();
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let mut conn = pool.get_timeout(left.max(Duration::from_millis(1))).map_err(|e| {
                (
                    StoreError::Unavailable(format!("{}: no database connection: {e}", operation.name)),
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
            Err(panic) => (
                Err(StoreError::Unavailable(format!("{}: {panic}", operation.name))),
                false,
            ),
        }
    }
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
