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
pub(crate) fn run_pending(conn: &mut DbConnection) -> HarnessResult<Vec<String>> {
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
