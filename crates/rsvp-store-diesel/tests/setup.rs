//! Setting a store up on both backends: choosing the backend, the errors a
//! wrong setting gives, and migrations that go up, all the way down, and up
//! again.

use rsvp_app::{Store, StoreError};
use rsvp_domain::{Business, BusinessId, BusinessName};
use rsvp_store_diesel::testing::{Cluster, TestDatabase};
use rsvp_store_diesel::{Backend, DieselStore, SetupError, StoreOptions};
use time::OffsetDateTime;
use uuid::Uuid;

fn acme() -> Business {
    Business {
        id: BusinessId::from_uuid(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001)),
        name: BusinessName::parse("Acme").unwrap_or_else(|e| panic!("{e:?}")),
        created_at: OffsetDateTime::UNIX_EPOCH,
        suspended_at: None,
        external_id: None,
    }
}

/// The migrations of each backend: the folders of `migrations/postgres`
/// (`migrations/sqlite` has the same, checked by a unit test).
fn migration_count() -> usize {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter(|entry| entry.as_ref().is_ok_and(|e| e.path().is_dir()))
        .count()
}

async fn migrations_go_up_down_and_up_again(database: &TestDatabase, backend: Backend) {
    let store = DieselStore::connect(database.url()).await.unwrap();
    assert_eq!(store.backend(), backend);

    // Before any migration there is no table to read.
    assert!(matches!(
        store.operator().get_business(acme().id).await,
        Err(StoreError::Unavailable(_))
    ));
    let applied = store.run_migrations().await.unwrap();
    assert_eq!(applied.len(), migration_count(), "{applied:?}");
    assert_eq!(
        store.run_migrations().await.unwrap(),
        Vec::<String>::new(),
        "nothing left to apply"
    );
    assert_eq!(store.operator().get_business(acme().id).await, Ok(None));

    // Every down.sql runs, newest first, and leaves no table behind.
    let mut reverted = store.revert_all_migrations().await.unwrap();
    reverted.reverse();
    assert_eq!(reverted, applied);
    match store.operator().get_business(acme().id).await {
        Err(StoreError::Unavailable(message)) => assert!(message.contains("businesses"), "{message}"),
        other => panic!("the tables must be gone, got {other:?}"),
    }

    // And up again, to a working schema.
    assert_eq!(store.run_migrations().await.unwrap(), applied);
    assert_eq!(store.ping().await, Ok(()));
    assert_eq!(store.operator().get_business(acme().id).await, Ok(None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migrations_go_up_all_the_way_down_and_up_again() {
    let database = TestDatabase::sqlite();
    migrations_go_up_down_and_up_again(&database, Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrations_go_up_all_the_way_down_and_up_again() {
    let database = tokio::task::spawn_blocking(TestDatabase::postgres).await.unwrap();
    migrations_go_up_down_and_up_again(&database, Backend::Postgres).await;
}

#[tokio::test]
async fn every_url_form_of_sqlite_opens_the_same_file() {
    let database = TestDatabase::sqlite();
    let path = database.url().trim_start_matches("sqlite://").to_owned();
    let first = DieselStore::connect(database.url()).await.unwrap();
    first.run_migrations().await.unwrap();
    let business = acme();
    let user = rsvp_domain::User {
        id: rsvp_domain::UserId::from_uuid(Uuid::from_u128(2)),
        business_id: business.id,
        email: rsvp_domain::EmailAddress::parse("ann@acme.test").unwrap(),
        first_name: None,
        last_name: None,
        created_at: business.created_at,
        deactivated_at: None,
        external_id: None,
    };
    let key = rsvp_app::ApiKeyRecord {
        key: rsvp_domain::ApiKey {
            id: rsvp_domain::ApiKeyId::from_uuid(Uuid::from_u128(3)),
            user_id: user.id,
            name: rsvp_domain::ApiKeyName::parse("default").unwrap_or_else(|e| panic!("{e:?}")),
            prefix: "rsvp_".to_owned(),
            created_at: business.created_at,
            expires_at: None,
            last_used_at: None,
        },
        hash: rsvp_app::SecretHash([7; 32]),
    };
    first.operator().create_business(&business, &user, &key).await.unwrap();
    for url in [format!("sqlite:{path}"), path.clone()] {
        let store = DieselStore::connect(&url).await.unwrap();
        assert_eq!(store.backend(), Backend::Sqlite, "{url}");
        assert_eq!(
            store.operator().get_business(business.id).await,
            Ok(Some(business.clone())),
            "{url}"
        );
    }
}

#[tokio::test]
async fn an_unsupported_scheme_or_in_memory_sqlite_is_an_invalid_url() {
    for url in ["mysql://localhost/rsvp", ":memory:", "sqlite::memory:", ""] {
        match DieselStore::connect(url).await {
            Err(SetupError::InvalidUrl(message)) => assert!(!message.is_empty()),
            other => panic!("{url:?}: expected InvalidUrl, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_postgres_server_that_is_down_fails_at_once_with_the_real_error() {
    // Port 1 on loopback: nothing listens there.
    let mut options = StoreOptions::new("postgres://postgres@127.0.0.1:1/rsvp");
    options.connection_timeout = std::time::Duration::from_secs(30);
    let started = std::time::Instant::now();
    match DieselStore::connect_with(options).await {
        Err(SetupError::Connect { backend, message }) => {
            assert_eq!(backend, Backend::Postgres);
            assert!(
                message.contains("refused") || message.contains("connect"),
                "the message must be PostgreSQL's own: {message}"
            );
            assert!(!message.contains("Invalid connection url"), "{message}");
        }
        other => panic!("expected Connect, got {other:?}"),
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "a refused connection must not wait for the pool's timeout"
    );
}

#[tokio::test]
async fn a_sqlite_file_in_a_missing_directory_fails_with_the_real_error() {
    let url = std::env::temp_dir()
        .join("rsvp-no-such-directory-for-tests")
        .join("rsvp.db");
    match DieselStore::connect(&url.display().to_string()).await {
        Err(SetupError::Connect { backend, message }) => {
            assert_eq!(backend, Backend::Sqlite);
            assert!(message.contains("nable to open the database file"), "{message}");
            assert!(
                message.contains("rsvp-no-such-directory-for-tests"),
                "the file is named: {message}"
            );
        }
        other => panic!("expected Connect, got {other:?}"),
    }
}

#[tokio::test]
async fn a_dropped_postgres_test_database_is_gone_from_the_server() {
    let database = tokio::task::spawn_blocking(TestDatabase::postgres).await.unwrap();
    let url = database.url().to_owned();
    let store = database.migrated_store().await;
    assert_eq!(store.ping().await, Ok(()));
    drop(store);
    tokio::task::spawn_blocking(move || drop(database)).await.unwrap();
    match DieselStore::connect(&url).await {
        Err(SetupError::Connect { message, .. }) => assert!(message.contains("does not exist"), "{message}"),
        other => panic!("the database must be dropped, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throwaway_cluster_serves_a_migrated_store_and_is_removed_on_drop() {
    let cluster = tokio::task::spawn_blocking(Cluster::start)
        .await
        .unwrap()
        .unwrap_or_else(|message| panic!("{message}"));
    let url = cluster.url().to_owned();
    assert!(url.starts_with("postgres://postgres@127.0.0.1:"), "{url}");
    let store = DieselStore::connect(&url).await.unwrap();
    assert_eq!(store.run_migrations().await.unwrap().len(), migration_count());
    assert_eq!(store.operator().get_business(acme().id).await, Ok(None));
    drop(store);
    tokio::task::spawn_blocking(move || drop(cluster)).await.unwrap();
    assert!(
        matches!(DieselStore::connect(&url).await, Err(SetupError::Connect { .. })),
        "the cluster must be stopped"
    );
}
