//! `DieselStore::backup_to`: a SQLite copy that opens as a store with the
//! same rows; refused on PostgreSQL (pg_dump's job) and over an existing file.

use rsvp_app::Store;
use rsvp_store_contract::fixtures::{Tenant, at};
use rsvp_store_diesel::testing::TestDatabase;
use rsvp_store_diesel::{BackupError, DieselStore};

#[tokio::test]
async fn a_sqlite_backup_opens_as_a_store_with_the_same_rows() {
    let database = TestDatabase::sqlite();
    let store = database.migrated_store().await;
    let acme = Tenant::create(&store, "Acme", "ann@acme.test", at(0)).await;
    let target = TestDatabase::sqlite();
    let path = target.url().trim_start_matches("sqlite://").to_owned();
    let bytes = store.backup_to(path.as_ref()).await.unwrap();
    assert_eq!(bytes, std::fs::metadata(&path).unwrap().len());
    assert!(!std::path::Path::new(&format!("{path}.partial")).exists());

    let copy = DieselStore::connect(target.url()).await.unwrap();
    assert!(
        copy.run_migrations().await.unwrap().is_empty(),
        "the copy is fully migrated"
    );
    let business = copy.operator().get_business(acme.business.id).await.unwrap();
    assert_eq!(business.map(|b| b.name), Some(acme.business.name.clone()));

    assert_eq!(
        store.backup_to(path.as_ref()).await,
        Err(BackupError::TargetExists(path.clone().into())),
        "a backup never overwrites a file"
    );
}

#[tokio::test]
async fn a_postgres_store_refuses_a_backup_and_points_to_pg_dump() {
    let database = tokio::task::spawn_blocking(TestDatabase::postgres).await.unwrap();
    let store = database.migrated_store().await;
    let target = std::env::temp_dir().join(format!("rsvp-pg-backup-{}.db", std::process::id()));
    let refused = store.backup_to(&target).await.unwrap_err();
    assert_eq!(refused, BackupError::NotSqlite);
    assert!(refused.to_string().contains("pg_dump"));
    assert!(!target.exists(), "wrote nothing");
}
