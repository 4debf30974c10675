//! Units of work under failure (panics, full disks, dropped connections)
//! and the settings every connection gets.

#![allow(clippy::wildcard_imports)]

use std::sync::Arc;

use rsvp_domain::{BusinessName, UserId};

use crate::store::test_support::{id, migrated_store, test_key};
use crate::store::*;
use crate::testing::TestDatabase;
use uuid::Uuid;

#[tokio::test]
async fn a_panic_inside_a_unit_of_work_is_unavailable_and_the_store_goes_on() {
    let database = TestDatabase::sqlite();
    let store = migrated_store(&database, 1).await;
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
        store.operator().get_business(BusinessId::from_uuid(Uuid::nil())).await,
        Ok(None)
    );
}

const READ: op::Operation = op::Operation {
    name: "probe",
    kind: op::Kind::Read,
};

#[tokio::test]
async fn no_more_units_run_at_once_than_the_pool_has_connections() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let database = TestDatabase::sqlite();
    let store = migrated_store(&database, 2).await;
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let units = (0..24).map(|_| {
        let (running, most) = (Arc::clone(&running), Arc::clone(&most));
        let store = store.clone();
        async move {
            store
                .run(READ, move |_| -> Unit<()> {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(())
                })
                .await
        }
    });
    for result in futures_join_all(units).await {
        result.unwrap();
    }
    assert_eq!(most.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_unit_that_finds_every_connection_busy_past_the_checkout_timeout_is_unavailable() {
    let database = TestDatabase::sqlite();
    let mut options = StoreOptions::new(database.url());
    options.max_connections = 1;
    options.min_idle = Some(0);
    options.connection_timeout = std::time::Duration::from_millis(200);
    let store = DieselStore::connect_with(options).await.unwrap();
    store.run_migrations().await.unwrap();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (started, has_started) = tokio::sync::oneshot::channel::<()>();
    let holder = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .run(READ, move |_| -> Unit<()> {
                    let _ = started.send(());
                    let _ = released.recv();
                    Ok(())
                })
                .await
        })
    };
    has_started.await.unwrap();
    let waited = std::time::Instant::now();
    match store.run(READ, |_| -> Unit<()> { Ok(()) }).await {
        // It waited for a permit, as a task, not in the pool on a thread.
        Err(StoreError::Unavailable(message)) => assert!(
            message.contains("probe: no database connection within 200 ms"),
            "{message}"
        ),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(waited.elapsed() >= std::time::Duration::from_millis(200));
    release.send(()).unwrap();
    holder.await.unwrap().unwrap();
    // The connection is free again: the next unit runs.
    store.run(READ, |_| -> Unit<()> { Ok(()) }).await.unwrap();
}

/// Awaits every future (the crate has no `futures` dependency).
async fn futures_join_all<F: std::future::Future + Send + 'static>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
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
            external_id: None,
        };
        let user = User {
            id: UserId::from_uuid(id()),
            business_id: business.id,
            email: EmailAddress::parse(&format!("user{n}@filling.test")).unwrap(),
            first_name: None,
            last_name: None,
            created_at: now,
            deactivated_at: None,
            external_id: None,
        };
        let mut hash = [0u8; 32];
        hash[..4].copy_from_slice(&n.to_be_bytes());
        let key = test_key(user.id, SecretHash(hash), now);
        if let Err(error) = store.operator().create_business(&business, &user, &key).await {
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
    let store = migrated_store(&database, 1).await;
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
        store.operator().get_business(BusinessId::from_uuid(Uuid::nil())).await,
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
    let store = migrated_store(&database, 2).await;
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
    let first = store.operator().get_business(unknown).await;
    let second = store.operator().get_business(unknown).await;
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
    let store = migrated_store(&database, 3).await;
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
