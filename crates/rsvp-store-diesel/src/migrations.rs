//! The embedded migrations: one set per backend, picked by the connection's
//! variant (SQLite would silently accept PostgreSQL's SQL, so the set is
//! never left to chance), followed by the data fix-ups they queue that SQL
//! cannot do (`fixups.rs`).

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::connection::DbConnection;
use crate::fixups;

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

type HarnessResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Applies the pending migrations of the connection's backend, then runs the
/// data fix-ups still queued (also those an earlier, interrupted start left);
/// returns the versions applied.
///
/// On PostgreSQL under a session advisory lock: replicas that start
/// together on an empty database take turns (the second finds nothing
/// pending), instead of creating the same tables at once (one then failed
/// with `duplicate key value violates unique constraint
/// "pg_type_typname_nsp_index"`).
pub(crate) fn run_pending(conn: &mut DbConnection) -> HarnessResult<Vec<String>> {
    if let DbConnection::Pg(pg) = conn {
        use diesel::connection::SimpleConnection as _;
        pg.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
        let applied = apply(conn);
        // On every path: the session (a pooled connection) outlives this call.
        let unlocked = match conn {
            DbConnection::Pg(pg) => pg.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")),
            DbConnection::Sqlite(_) => Ok(()),
        };
        let versions = applied?;
        unlocked?;
        return Ok(versions);
    }
    apply(conn)
}

/// The advisory lock key of [`run_pending`] ("rsvp" and 3; the store's
/// other keys are 1 and 2).
const MIGRATION_LOCK_KEY: i64 = 0x7273_7670_0000_0003;

/// The migrations and fix-ups, without the lock.
fn apply(conn: &mut DbConnection) -> HarnessResult<Vec<String>> {
    let versions: Vec<String> = match conn {
        DbConnection::Pg(conn) => conn
            .run_pending_migrations(POSTGRES)?
            .iter()
            .map(ToString::to_string)
            .collect(),
        DbConnection::Sqlite(conn) => conn
            .run_pending_migrations(SQLITE)?
            .iter()
            .map(ToString::to_string)
            .collect(),
    };
    let fixed = fixups::run_pending(conn).map_err(|e| format!("data fix-up after the migrations: {e}"))?;
    if !fixed.is_empty() {
        tracing::info!(fixups = ?fixed, "data fix-ups done");
    }
    Ok(versions)
}

/// Reverts every applied migration, newest first (running each `down.sql`);
/// returns the versions reverted.
pub(crate) fn revert_all(conn: &mut DbConnection) -> HarnessResult<Vec<String>> {
    let versions = match conn {
        DbConnection::Pg(conn) => conn.revert_all_migrations(POSTGRES)?,
        DbConnection::Sqlite(conn) => conn.revert_all_migrations(SQLITE)?,
    };
    Ok(versions.into_iter().map(|v| v.to_string()).collect())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    fn folders(backend: &str) -> BTreeSet<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
        std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[tokio::test]
    async fn replicas_starting_together_on_an_empty_postgres_database_all_migrate_it_once() {
        use crate::testing::TestDatabase;
        use crate::{DieselStore, StoreOptions};
        let database = tokio::task::spawn_blocking(TestDatabase::postgres).await.unwrap();
        let mut replicas = Vec::new();
        for _ in 0..4 {
            let mut options = StoreOptions::new(database.url());
            options.max_connections = 1;
            replicas.push(DieselStore::connect_with(options).await.unwrap());
        }
        let [a, b, c, d] = &replicas[..] else { unreachable!() };
        let results = tokio::join!(
            a.run_migrations(),
            b.run_migrations(),
            c.run_migrations(),
            d.run_migrations()
        );
        let applied: Vec<usize> = [results.0, results.1, results.2, results.3]
            .into_iter()
            .map(|result| result.expect("every replica starts").len())
            .collect();
        let all = folders("postgres").len();
        assert_eq!(
            applied.iter().filter(|n| **n == all).count(),
            1,
            "one applies them: {applied:?}"
        );
        assert_eq!(
            applied.iter().filter(|n| **n == 0).count(),
            3,
            "the others find none pending: {applied:?}"
        );
    }

    #[test]
    fn both_backends_have_the_same_migration_folders_each_with_up_and_down() {
        let sqlite = folders("sqlite");
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, folders("postgres"));
        for backend in ["sqlite", "postgres"] {
            for folder in &sqlite {
                for file in ["up.sql", "down.sql"] {
                    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("migrations")
                        .join(backend)
                        .join(folder)
                        .join(file);
                    let sql = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    assert!(!sql.trim().is_empty(), "{} is empty", path.display());
                }
            }
        }
    }
}
