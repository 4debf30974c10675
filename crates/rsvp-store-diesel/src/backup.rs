//! Online backups of the embedded SQLite database (`rsvp backup`).
//!
//! `VACUUM INTO` copies the database as one read transaction: a consistent
//! snapshot, taken while the server keeps writing (WAL readers never block
//! the writer). PostgreSQL is backed up with its own tools (`pg_dump`,
//! base backups and WAL archiving for point-in-time recovery).

use std::fs::File;
use std::path::{Path, PathBuf};

use diesel::RunQueryDsl;
use diesel::sql_types::Text;

use crate::DieselStore;
use crate::connection::DbConnection;

/// Why a backup was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackupError {
    /// The store is on PostgreSQL, whose own tools make better backups.
    #[error(
        "rsvp backup copies the embedded SQLite database only; back up PostgreSQL with pg_dump \
         (or base backups and WAL archiving for point-in-time recovery), see docs/OPERATIONS.md"
    )]
    NotSqlite,
    /// The target file exists: a backup never overwrites one.
    #[error("{0} already exists: a backup never overwrites a file")]
    TargetExists(PathBuf),
    /// The target path cannot be handed to SQLite (not UTF-8).
    #[error("the backup path {0} is not valid UTF-8")]
    InvalidPath(PathBuf),
    /// SQLite or the file system failed.
    #[error("backup to {path} failed: {message}")]
    Failed {
        /// The target.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl DieselStore {
    /// Writes a consistent copy of the SQLite database to `path` while the
    /// database stays in use, and returns its size in bytes.
    ///
    /// The copy is made under `<path>.partial`, flushed to disk, then
    /// renamed: a file at `path` is always a whole backup. Restore it by
    /// stopping rsvp and putting the file in place of the database file.
    ///
    /// # Errors
    /// [`BackupError::NotSqlite`] on PostgreSQL (use `pg_dump`);
    /// [`BackupError::TargetExists`] when `path` exists;
    /// [`BackupError::Failed`] with SQLite's or the file system's message.
    pub async fn backup_to(&self, path: &Path) -> Result<u64, BackupError> {
        if self.backend() != crate::Backend::Sqlite {
            return Err(BackupError::NotSqlite);
        }
        if path.exists() {
            return Err(BackupError::TargetExists(path.to_owned()));
        }
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let partial_text = partial
            .to_str()
            .ok_or_else(|| BackupError::InvalidPath(path.to_owned()))?
            .to_owned();
        let failed = |message: String| BackupError::Failed {
            path: path.to_owned(),
            message,
        };
        // A partial file is what an interrupted backup left behind; VACUUM
        // INTO refuses an existing file.
        match std::fs::remove_file(&partial) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(failed(format!("removing {}: {e}", partial.display()))),
        }
        self.with_connection(move |conn| match conn {
            DbConnection::Sqlite(lite) => diesel::sql_query("VACUUM INTO ?")
                .bind::<Text, _>(partial_text)
                .execute(lite)
                .map(drop)
                .map_err(|e| e.to_string()),
            DbConnection::Pg(_) => Err("not a SQLite connection".to_owned()),
        })
        .await
        .map_err(failed)?;
        // SQLite does not fsync the copy: do it before it takes the final name.
        let bytes = File::open(&partial)
            .and_then(|file| {
                file.sync_all()?;
                file.metadata()
            })
            .map_err(|e| failed(format!("flushing {}: {e}", partial.display())))?
            .len();
        std::fs::rename(&partial, path).map_err(|e| failed(format!("renaming {}: {e}", partial.display())))?;
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            // The rename itself is durable once its directory is synced.
            let _ = File::open(dir).and_then(|dir| dir.sync_all());
        }
        Ok(bytes)
    }
}
