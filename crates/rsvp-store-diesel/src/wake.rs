//! Waking the email dispatcher when jobs are queued ([`StoreWorkSignal`],
//! the [`WorkSignal`] port).
//!
//! * In the process: the store raises the signal after each commit that
//!   queued email jobs (both backends; all there is on SQLite, whose
//!   database has one process).
//! * Across replicas, on PostgreSQL: a trigger on `email_jobs` runs
//!   `pg_notify('rsvp_email_jobs', '')`, delivered at commit to every
//!   session listening. A dedicated thread holds one connection (outside the
//!   pool) that `LISTEN`s and raises the signal for each notification. It
//!   reconnects after a database failure, raising the signal once it
//!   listens again (jobs may have been queued while it could not hear).
//!
//! Every replica wakes; `FOR UPDATE SKIP LOCKED` in the claim decides who
//! sends what. A lost wake-up costs one poll period, never an email.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use rsvp_app::WorkSignal;
use tokio::sync::Notify;

use crate::connection::with_connect_timeout;

/// The channel the trigger of migration `2026-12-01-000001_email_jobs_notify` notifies.
pub(crate) const CHANNEL: &str = "rsvp_email_jobs";

/// How often the listener reads what its connection received: libpq's
/// notifications arrive on the socket, which diesel does not expose to wait
/// on, so the thread looks every tick (a non-blocking read, no round trip).
/// This bounds the delay a notification adds.
const LISTEN_TICK: Duration = Duration::from_millis(20);
/// How often a quiet listener checks its connection with a round trip (a
/// server that closes it is noticed at the next tick; this is for a network
/// that died silently).
const LISTEN_CHECK_EVERY: Duration = Duration::from_secs(15);
/// Wait between reconnection attempts while the database is away.
const RECONNECT_EVERY: Duration = Duration::from_millis(500);

/// What the store and its signals share: the in-process wake-up, and the
/// PostgreSQL listener thread, if started.
#[derive(Debug, Default)]
pub(crate) struct Wake {
    notify: Notify,
    /// The listener thread (`None` inside once it was joined, or could not start).
    listener: OnceLock<Mutex<Option<JoinHandle<()>>>>,
    /// Set by [`Wake::stop_listening`]: the listener ends at its next tick.
    stopped: AtomicBool,
}

impl Wake {
    /// Wakes the dispatcher of this process (or its next wait).
    pub(crate) fn raise(&self) {
        self.notify.notify_one();
    }

    /// Starts the PostgreSQL listener for `url` unless it runs already; it
    /// stops once the store and every signal are dropped.
    pub(crate) fn listen(self: &Arc<Self>, url: &str) {
        self.listener.get_or_init(|| {
            let url = listener_url(url);
            let wake = Arc::downgrade(self);
            let spawned = std::thread::Builder::new()
                .name("rsvp-email-listener".into())
                .spawn(move || listen(&url, &wake));
            match spawned {
                Ok(handle) => Mutex::new(Some(handle)),
                Err(error) => {
                    // The dispatcher still polls: degraded latency, not lost work.
                    tracing::warn!(%error, "cannot start the email job listener; the dispatcher will poll");
                    Mutex::new(None)
                }
            }
        });
    }

    /// Stops the listener thread and waits until it has closed its
    /// connection (a tick, or a connection attempt under way). Whether a
    /// listener was running.
    ///
    /// Why wait: a process that returns from `main` while this thread still
    /// holds its connection races libpq's TLS shutdown on this thread
    /// against OpenSSL's exit handlers (a SIGSEGV at exit, seen in tests).
    pub(crate) fn stop_listening(&self) -> bool {
        self.stopped.store(true, Ordering::Release);
        let handle = self
            .listener
            .get()
            .and_then(|slot| slot.lock().unwrap_or_else(PoisonError::into_inner).take());
        match handle {
            Some(handle) => {
                // A panic of the thread was logged by the panic hook; nothing is left to stop.
                let _ = handle.join();
                true
            }
            None => false,
        }
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }
}

/// The [`WorkSignal`] of a [`DieselStore`](crate::DieselStore): see the
/// module doc.
#[derive(Debug, Clone)]
pub struct StoreWorkSignal {
    wake: Arc<Wake>,
}

impl StoreWorkSignal {
    pub(crate) fn new(wake: Arc<Wake>) -> Self {
        Self { wake }
    }
}

#[async_trait]
impl WorkSignal for StoreWorkSignal {
    async fn wait_for_work(&self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, self.wake.notify.notified()).await.is_ok()
    }
}

/// The listener's URL: the store's, with a connect timeout and a TCP user
/// timeout (so that its health check cannot hang on a dead network).
fn listener_url(url: &str) -> String {
    let url = with_connect_timeout(url).into_owned();
    if url.contains("tcp_user_timeout=") {
        return url;
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}tcp_user_timeout=10000")
}

/// Whether the listener should go on: its [`Wake`] is alive and not stopped.
fn wanted(wake: &Weak<Wake>) -> Option<Arc<Wake>> {
    wake.upgrade().filter(|wake| !wake.is_stopped())
}

/// The listener thread: connect, `LISTEN`, raise on each notification;
/// reconnect after a failure. Returns once the [`Wake`] is dropped or
/// stopped.
fn listen(url: &str, wake: &Weak<Wake>) {
    let mut outage: Option<Instant> = None;
    while wanted(wake).is_some() {
        let listening = PgConnection::establish(url)
            .map_err(|e| e.to_string())
            .and_then(|mut conn| {
                conn.batch_execute(&format!("LISTEN {CHANNEL}"))
                    .map(|()| conn)
                    .map_err(|e| e.to_string())
            });
        let mut conn = match listening {
            Ok(conn) => conn,
            Err(error) => {
                if outage.is_none() {
                    tracing::warn!(%error, "the email job listener cannot connect; retrying, the dispatcher polls meanwhile");
                    outage = Some(Instant::now());
                }
                std::thread::sleep(RECONNECT_EVERY);
                continue;
            }
        };
        match outage.take() {
            Some(since) => tracing::info!(
                after_ms = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX),
                "the email job listener listens again"
            ),
            None => tracing::debug!("the email job listener listens"),
        }
        // Jobs queued while nobody listened were not announced.
        if let Some(wake) = wake.upgrade() {
            wake.raise();
        }
        let error = hear(&mut conn, wake);
        if let Some(error) = error {
            tracing::warn!(%error, "the email job listener lost its connection; reconnecting");
            outage = Some(Instant::now());
        }
    }
}

/// Reads notifications until the connection fails (the error) or the
/// [`Wake`] is dropped or stopped (`None`).
fn hear(conn: &mut PgConnection, wake: &Weak<Wake>) -> Option<String> {
    let mut checked = Instant::now();
    loop {
        std::thread::sleep(LISTEN_TICK);
        let wake = wanted(wake)?;
        let mut heard = false;
        for notification in conn.notifications_iter() {
            match notification {
                Ok(_) => heard = true,
                Err(error) => return Some(error.to_string()),
            }
        }
        if heard {
            wake.raise();
            checked = Instant::now();
        } else if checked.elapsed() >= LISTEN_CHECK_EVERY {
            if let Err(error) = conn.batch_execute("SELECT 1") {
                return Some(error.to_string());
            }
            checked = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use rsvp_store_contract::fixtures::{Tenant, invited, t0};

    use super::*;
    use crate::testing::TestDatabase;
    use crate::{DieselStore, StoreOptions};

    const SOON: Duration = Duration::from_secs(10);
    const QUIET: Duration = Duration::from_millis(100);

    async fn store_on(url: &str) -> DieselStore {
        let mut options = StoreOptions::new(url);
        options.min_idle = Some(0);
        options.max_connections = 2;
        let store = DieselStore::connect_with(options).await.unwrap();
        store.run_migrations().await.unwrap();
        store
    }

    /// Takes the wake-up a listener raises when it starts listening; once
    /// it has, the signal is quiet until something happens.
    async fn settled(signal: &StoreWorkSignal) {
        assert!(
            signal.wait_for_work(SOON).await,
            "the listener announces that it listens"
        );
        assert!(!signal.wait_for_work(QUIET).await, "nothing queued: no wake-up");
    }

    #[tokio::test]
    async fn a_queued_email_wakes_the_dispatcher_of_its_own_process_on_sqlite() {
        let database = TestDatabase::sqlite();
        let store = store_on(database.url()).await;
        let signal = store.work_signal();
        let tenant = Tenant::create(&store, "Acme", "ann@acme.test", t0()).await;
        assert!(!signal.wait_for_work(QUIET).await, "no email queued yet");
        // Raised while nobody waits: kept for the next wait.
        invited(&store, &tenant, "bob@globex.test", t0()).await;
        assert!(signal.wait_for_work(SOON).await);
        assert!(!signal.wait_for_work(QUIET).await, "one wake-up per commit");
    }

    #[tokio::test]
    async fn an_email_queued_by_another_replica_wakes_every_listener_on_postgres() {
        let database = tokio::task::spawn_blocking(TestDatabase::postgres).await.unwrap();
        let (here, there, elsewhere) = (
            store_on(database.url()).await,
            store_on(database.url()).await,
            store_on(database.url()).await,
        );
        let (signal, other) = (here.work_signal(), elsewhere.work_signal());
        settled(&signal).await;
        settled(&other).await;
        let tenant = Tenant::create(&there, "Acme", "ann@acme.test", t0()).await;
        assert!(!signal.wait_for_work(QUIET).await, "no email queued yet");
        invited(&there, &tenant, "bob@globex.test", t0()).await;
        assert!(signal.wait_for_work(SOON).await, "woken by the other store's job");
        assert!(other.wait_for_work(SOON).await, "every replica wakes");
    }

    #[tokio::test]
    async fn the_listener_reconnects_after_losing_its_connection_and_wakes_on_the_next_job() {
        #[derive(diesel::QueryableByName)]
        struct Ended {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            ended: i64,
        }
        let database = tokio::task::spawn_blocking(TestDatabase::postgres).await.unwrap();
        let (here, there) = (store_on(database.url()).await, store_on(database.url()).await);
        let signal = here.work_signal();
        settled(&signal).await;
        let url = database.url().to_owned();
        let ended = tokio::task::spawn_blocking(move || {
            use diesel::RunQueryDsl as _;
            let mut admin = PgConnection::establish(&url).unwrap();
            diesel::sql_query(
                "SELECT count(pg_terminate_backend(pid, 10000)) AS ended FROM pg_stat_activity \
                 WHERE datname = current_database() AND query LIKE 'LISTEN %'",
            )
            .get_result::<Ended>(&mut admin)
            .unwrap()
            .ended
        })
        .await
        .unwrap();
        assert_eq!(ended, 1, "the listener's own connection");
        // Back: it announces that it listens again (jobs may have been missed).
        assert!(signal.wait_for_work(SOON).await, "the listener listens again");
        assert!(!signal.wait_for_work(QUIET).await);
        let tenant = Tenant::create(&there, "Acme", "ann@acme.test", t0()).await;
        invited(&there, &tenant, "bob@globex.test", t0()).await;
        assert!(signal.wait_for_work(SOON).await, "woken through the new connection");
    }

    #[tokio::test]
    async fn stopping_the_listener_closes_its_connection_before_returning_and_commits_still_wake() {
        #[derive(diesel::QueryableByName)]
        struct Listening {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            listening: i64,
        }
        fn listening_sessions(url: &str) -> i64 {
            use diesel::RunQueryDsl as _;
            let mut admin = PgConnection::establish(url).unwrap();
            diesel::sql_query(
                "SELECT count(*) AS listening FROM pg_stat_activity \
                 WHERE datname = current_database() AND query LIKE 'LISTEN %'",
            )
            .get_result::<Listening>(&mut admin)
            .unwrap()
            .listening
        }
        let database = tokio::task::spawn_blocking(TestDatabase::postgres).await.unwrap();
        let store = Arc::new(store_on(database.url()).await);
        let signal = store.work_signal();
        settled(&signal).await;
        let url = database.url().to_owned();
        let before = tokio::task::spawn_blocking({
            let url = url.clone();
            move || listening_sessions(&url)
        });
        assert_eq!(before.await.unwrap(), 1, "the listener's connection");

        let stopping = Arc::clone(&store);
        let stopped = tokio::task::spawn_blocking(move || stopping.stop_listening());
        assert!(stopped.await.unwrap(), "a listener was running");
        // Closed when stop_listening returned, not some time later: the
        // server's session ends as the client's connection closes, so one
        // poll at most for the backend to go.
        let deadline = Instant::now() + SOON;
        loop {
            let url = url.clone();
            let left = tokio::task::spawn_blocking(move || listening_sessions(&url))
                .await
                .unwrap();
            if left == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "the listener's session is still there");
            tokio::task::yield_now().await;
        }
        assert!(!store.stop_listening(), "stopped once; nothing left to stop");
        let tenant = Tenant::create(store.as_ref(), "Acme", "ann@acme.test", t0()).await;
        invited(store.as_ref(), &tenant, "bob@globex.test", t0()).await;
        assert!(signal.wait_for_work(SOON).await, "a commit of this store still wakes");
    }

    #[test]
    fn the_listener_gets_a_tcp_user_timeout_unless_the_url_sets_one() {
        assert_eq!(
            listener_url("postgres://u@h/db"),
            "postgres://u@h/db?connect_timeout=2&tcp_user_timeout=10000"
        );
        assert_eq!(
            listener_url("postgres://u@h/db?tcp_user_timeout=3"),
            "postgres://u@h/db?tcp_user_timeout=3&connect_timeout=2"
        );
    }
}
