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
//!
//! Claim hints, on PostgreSQL ([`Wake::claim_plan`]): a create or a bulk of
//! this process hands the ids of the jobs it committed to its dispatcher,
//! which claims them by primary key. The claim that scans the queued jobs'
//! index in order runs only when something was queued without a hint (by
//! another replica, by a resend of this one, while hints overflowed), when
//! the last claim had no hint, or every [`SCAN_EVERY`] (retries and expired
//! leases come due without a notice). Why: the scan walks the index entries
//! of every job sent since the table was last vacuumed (a job's row changes
//! twice, leaving dead entries), which on a server with autovacuum off
//! cost a claim 5-20 ms after some 100,000 emails and grew on
//! (docs/BENCHMARKS.md). Notifications that this store's own connections
//! sent are recognised by the backend's process id and ignored: the commit
//! woke the dispatcher already.

use std::collections::{HashSet, VecDeque};
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

/// Least time between two scans of the queued jobs while hints are enough.
pub(crate) const SCAN_EVERY: Duration = Duration::from_millis(200);
/// Most hinted job ids kept; past it new hints are dropped and the next
/// claim scans.
const MOST_HINTS: usize = 20_000;

/// The backend process ids of this store's pooled PostgreSQL connections
/// (filled as the pool opens them).
#[derive(Debug, Default)]
pub(crate) struct OwnBackends(Mutex<HashSet<i32>>);

impl OwnBackends {
    /// Notes a connection's backend.
    pub(crate) fn insert(&self, pid: i32) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(pid);
    }

    fn contains(&self, pid: i32) -> bool {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).contains(&pid)
    }
}

/// The claim hints: see the module doc.
#[derive(Debug, Default)]
struct Hints {
    /// Ids of committed jobs not yet claimed through a hint, oldest first.
    ids: VecDeque<String>,
    /// Something was queued that no hint names: the next claim scans.
    scan_needed: bool,
    /// When a claim last scanned.
    last_scan: Option<Instant>,
    /// Whether the last claim took hinted ids.
    last_claim_hinted: bool,
    /// The earliest time (nanoseconds, the store's clock) at which a job
    /// this store claimed or rescheduled may be due again: a lease that
    /// ends, a retry. A claim at or past it scans.
    next_due: Option<i64>,
}

/// The least time between two scans ([`SCAN_EVERY`]; longer in tests).
#[derive(Debug)]
struct ScanEvery(Duration);

impl Default for ScanEvery {
    fn default() -> Self {
        Self(SCAN_EVERY)
    }
}

/// What one claim does: take these hinted ids, and scan or not.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ClaimPlan {
    /// Hinted job ids to claim by primary key.
    pub(crate) hinted: Vec<String>,
    /// Whether to also claim by scanning the queued jobs in order.
    pub(crate) scan: bool,
}

/// What the store and its signals share: the in-process wake-up, the claim
/// hints, and the PostgreSQL listener thread, if started.
#[derive(Debug, Default)]
pub(crate) struct Wake {
    notify: Notify,
    hints: Mutex<Hints>,
    scan_every: ScanEvery,
    own_backends: Arc<OwnBackends>,
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

    /// Jobs were committed that no hint names: the next claim scans.
    pub(crate) fn queued_unhinted(&self) {
        self.hints.lock().unwrap_or_else(PoisonError::into_inner).scan_needed = true;
        self.raise();
    }

    /// The next claim scans (a claim that took hints failed), without a
    /// wake-up: the dispatcher retries after its rest.
    pub(crate) fn rescan(&self) {
        self.hints.lock().unwrap_or_else(PoisonError::into_inner).scan_needed = true;
    }

    /// These jobs were committed: the dispatcher may claim them by id.
    pub(crate) fn queued_hinted(&self, ids: impl IntoIterator<Item = String>) {
        {
            let mut hints = self.hints.lock().unwrap_or_else(PoisonError::into_inner);
            for id in ids {
                if hints.ids.len() >= MOST_HINTS {
                    hints.scan_needed = true;
                    break;
                }
                hints.ids.push_back(id);
            }
        }
        self.raise();
    }

    /// What the next claim of up to `limit` jobs at `now` (nanoseconds)
    /// does (see the module doc).
    pub(crate) fn claim_plan(&self, limit: usize, now: i64) -> ClaimPlan {
        let mut hints = self.hints.lock().unwrap_or_else(PoisonError::into_inner);
        let take = hints.ids.len().min(limit);
        let hinted: Vec<String> = hints.ids.drain(..take).collect();
        let instant = Instant::now();
        let scan = hints.scan_needed
            || (hinted.is_empty() && !hints.last_claim_hinted)
            || hints.next_due.is_some_and(|due| now >= due)
            || hints
                .last_scan
                .is_none_or(|at| instant.duration_since(at) >= self.scan_every.0);
        if scan {
            hints.scan_needed = false;
            hints.last_scan = Some(instant);
            // Everything due by `now` is found by this scan.
            hints.next_due = hints.next_due.filter(|due| *due > now);
        }
        hints.last_claim_hinted = !hinted.is_empty();
        ClaimPlan { hinted, scan }
    }

    /// After a claim: the jobs it took are due again when their lease ends
    /// (`lease_end`, if it took any), and a scan that filled its room or
    /// hints it could not claim leave work for the next claim's scan.
    pub(crate) fn claimed(&self, lease_end: Option<i64>, work_left: bool) {
        let mut hints = self.hints.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(end) = lease_end {
            hints.next_due = Some(hints.next_due.map_or(end, |due| due.min(end)));
        }
        hints.scan_needed |= work_left;
    }

    /// A job of this store was rescheduled: due again at `at` (nanoseconds).
    pub(crate) fn due_at(&self, at: i64) {
        let mut hints = self.hints.lock().unwrap_or_else(PoisonError::into_inner);
        hints.next_due = Some(hints.next_due.map_or(at, |due| due.min(at)));
    }

    /// Where the pool notes its connections' backends.
    pub(crate) fn own_backends(&self) -> Arc<OwnBackends> {
        Arc::clone(&self.own_backends)
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
            wake.queued_unhinted();
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
        let (mut heard, mut from_elsewhere) = (false, false);
        for notification in conn.notifications_iter() {
            match notification {
                Ok(notification) => {
                    heard = true;
                    // This store's own commits woke the dispatcher already.
                    from_elsewhere |= !wake.own_backends.contains(notification.process_id);
                }
                Err(error) => return Some(error.to_string()),
            }
        }
        if heard {
            if from_elsewhere {
                wake.queued_unhinted();
            }
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

    /// A wake whose time rule never fires within a test.
    fn hinting_wake() -> Wake {
        Wake {
            scan_every: ScanEvery(Duration::from_secs(3600)),
            ..Wake::default()
        }
    }

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn hinted_jobs_are_claimed_by_id_and_the_scan_runs_only_when_something_may_be_unhinted() {
        let wake = hinting_wake();
        let plan = wake.claim_plan(10, 0);
        assert_eq!(
            plan,
            ClaimPlan {
                hinted: vec![],
                scan: true
            },
            "the first claim scans"
        );
        wake.claimed(None, false);
        wake.queued_hinted(ids(&["a", "b", "c"]));
        let plan = wake.claim_plan(2, 1);
        assert_eq!(
            plan,
            ClaimPlan {
                hinted: ids(&["a", "b"]),
                scan: false
            },
            "at most the limit"
        );
        wake.claimed(Some(100), false);
        assert_eq!(
            wake.claim_plan(10, 2),
            ClaimPlan {
                hinted: ids(&["c"]),
                scan: false
            }
        );
        wake.claimed(Some(100), false);
        assert_eq!(
            wake.claim_plan(10, 3),
            ClaimPlan {
                hinted: vec![],
                scan: false
            },
            "hints were enough: nothing unhinted was queued"
        );
        wake.claimed(None, false);
        assert!(
            wake.claim_plan(10, 4).scan,
            "a claim with no hints after one with none scans"
        );
        wake.claimed(None, false);

        wake.queued_hinted(ids(&["d"]));
        wake.queued_unhinted();
        assert_eq!(
            wake.claim_plan(10, 5),
            ClaimPlan {
                hinted: ids(&["d"]),
                scan: true
            },
            "a resend, another replica"
        );
        wake.claimed(Some(100), false);
        wake.queued_hinted(ids(&["e"]));
        assert!(!wake.claim_plan(10, 6).scan);
        wake.claimed(Some(100), true);
        wake.queued_hinted(ids(&["f"]));
        assert!(
            wake.claim_plan(10, 7).scan,
            "a hint not claimed, or a full scan, leaves work"
        );
        wake.claimed(Some(100), false);
        wake.queued_hinted(ids(&["g"]));
        assert!(wake.claim_plan(10, 100).scan, "a lease that ended");
        wake.claimed(Some(200), false);
        wake.queued_hinted(ids(&["h"]));
        assert!(!wake.claim_plan(10, 101).scan, "that lease was seen by the scan");
        wake.claimed(Some(200), false);
        wake.due_at(150);
        wake.queued_hinted(ids(&["i"]));
        assert!(wake.claim_plan(10, 150).scan, "a retry come due");
        wake.claimed(Some(300), false);
        wake.queued_hinted(ids(&["j"]));
        wake.rescan();
        assert!(wake.claim_plan(10, 151).scan, "a release, a failed claim");
    }

    #[test]
    fn hints_past_the_most_kept_are_dropped_and_the_next_claim_scans() {
        let wake = hinting_wake();
        wake.claim_plan(10, 0);
        wake.claimed(None, false);
        wake.queued_hinted((0..=MOST_HINTS).map(|n| n.to_string()));
        let plan = wake.claim_plan(MOST_HINTS + 10, 1);
        assert_eq!(plan.hinted.len(), MOST_HINTS);
        assert!(plan.scan);
    }

    #[tokio::test]
    async fn a_commit_wakes_the_dispatcher_of_its_own_process_once_on_postgres_its_own_notification_ignored() {
        let database = tokio::task::spawn_blocking(TestDatabase::postgres).await.unwrap();
        let store = store_on(database.url()).await;
        let signal = store.work_signal();
        settled(&signal).await;
        let tenant = Tenant::create(&store, "Acme", "ann@acme.test", t0()).await;
        invited(&store, &tenant, "bob@globex.test", t0()).await;
        assert!(signal.wait_for_work(SOON).await);
        // The trigger's notification comes back to this store's listener
        // within a tick: recognised as its own, it wakes nobody.
        assert!(!signal.wait_for_work(QUIET).await, "one wake-up per commit");
    }

    #[tokio::test]
    async fn a_job_another_replica_queues_is_claimed_by_the_next_claim_after_its_wake_up_on_postgres() {
        use rsvp_app::Store as _;
        let database = tokio::task::spawn_blocking(TestDatabase::postgres).await.unwrap();
        let (here, there) = (store_on(database.url()).await, store_on(database.url()).await);
        let signal = here.work_signal();
        settled(&signal).await;
        let lease = time::Duration::minutes(5);
        let tenant = Tenant::create(&here, "Acme", "ann@acme.test", t0()).await;
        let ours = invited(&here, &tenant, "bob@globex.test", t0()).await;
        assert!(signal.wait_for_work(SOON).await);
        let claimed = here.outbox().claim_email_jobs(t0(), 10, lease).await.unwrap();
        assert_eq!(claimed.iter().map(|job| job.id).collect::<Vec<_>>(), [ours.job().id]);
        let theirs = invited(&there, &tenant, "carol@globex.test", t0()).await;
        assert!(signal.wait_for_work(SOON).await, "woken by the other replica's job");
        let claimed = here.outbox().claim_email_jobs(t0(), 10, lease).await.unwrap();
        assert_eq!(
            claimed.iter().map(|job| job.id).collect::<Vec<_>>(),
            [theirs.job().id],
            "not hinted here: found by the scan its wake-up asked for"
        );
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
