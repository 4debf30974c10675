//! Moving from the embedded SQLite database to PostgreSQL
//! (`rsvp copy-database`).
//!
//! Both backends hold the same tables with the same columns (ids and JSON as
//! text, times as integer nanoseconds), so a row moves unchanged. Each table
//! is read from SQLite in rowid order, a thousand rows at a time, as one
//! JSON array (`json_object` per row, blobs as PostgreSQL's `\x` hex), and
//! written with `INSERT ... SELECT FROM json_populate_recordset`: one round
//! trip per thousand rows, no per-table Rust code to keep in step with the
//! schema. The whole copy is one read transaction on SQLite (a consistent
//! snapshot) and one transaction on PostgreSQL (all or nothing), into a
//! target that must hold no data yet; then every table's row count is
//! compared on both sides.

use diesel::connection::Connection;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};

use crate::connection::DbConnection;
use crate::{Backend, DieselStore};

/// Every table rsvp keeps, in an order where a row's references are copied
/// before it. A test checks it against the migrated schema, so a new table
/// cannot be forgotten.
pub(crate) const TABLES: [&str; 18] = [
    "businesses",
    "users",
    "api_keys",
    "invitations",
    "link_tokens",
    "join_links",
    "connections",
    "connection_requests",
    "events",
    "event_relay",
    "email_jobs",
    "email_cap_minutes",
    "suppressions",
    "provider_events",
    "webhook_endpoints",
    "webhook_deliveries",
    "idempotency_records",
    "pending_fixups",
];

/// Columns each backend fills itself, left out of the copy: an event's
/// place in the relay's commit order (`relay_seq` on SQLite; `relay_tx` and
/// `relay_seq` on PostgreSQL). The events arrive in SQLite's order (rowid,
/// which is `relay_seq`) in one transaction, so PostgreSQL numbers them in
/// the same order, and the relay's cursor (an event id) keeps its place.
const FILLED_BY_EACH_BACKEND: [(&str, &str); 2] = [("events", "relay_seq"), ("events", "relay_tx")];

/// Data fix-ups a migration of the target queued itself: the source's own
/// rows merge with them instead of making the target count as not empty.
const MERGED_TABLE: &str = "pending_fixups";

/// Rows moved per round trip.
const BATCH_ROWS: i64 = 1_000;

/// Why a copy did not happen; the target holds nothing of it then.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CopyError {
    /// Only SQLite → PostgreSQL is supported.
    #[error("rsvp copy-database copies the SQLite database into PostgreSQL; this is {from} into {target}")]
    UnsupportedBackends {
        /// The configured database's backend.
        from: Backend,
        /// The target's backend.
        target: Backend,
    },
    /// The target already holds rsvp data: a copy never merges into it.
    #[error("the target database already holds rows in {0}: copy into an empty database")]
    TargetNotEmpty(String),
    /// The two schemas differ (one of them is not fully migrated).
    #[error("table {table} differs between the databases: {detail}; run `rsvp migrate` on both first")]
    SchemaMismatch {
        /// The table.
        table: String,
        /// What differs.
        detail: String,
    },
    /// A database failed during the copy (nothing was committed).
    #[error("copy failed: {0}")]
    Failed(String),
}

/// How many rows each table received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// `(table, rows)` in copy order.
    pub tables: Vec<(String, i64)>,
}

impl CopyReport {
    /// Rows copied in all.
    pub fn total_rows(&self) -> i64 {
        self.tables.iter().map(|(_, rows)| rows).sum()
    }
}

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    declared_type: String,
}

#[derive(QueryableByName)]
struct Batch {
    #[diesel(sql_type = Nullable<Text>)]
    rows: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    last_rowid: Option<i64>,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

impl DieselStore {
    /// Copies every row of this (SQLite) store into `target` (PostgreSQL,
    /// migrated, holding no data), in one transaction on each side, and
    /// checks that every table's row count matches. Stop `rsvp serve`
    /// first: rows written during the copy would stay behind.
    ///
    /// # Errors
    /// [`CopyError::UnsupportedBackends`] unless SQLite into PostgreSQL;
    /// [`CopyError::TargetNotEmpty`]; [`CopyError::SchemaMismatch`] when the
    /// two are at different migrations; [`CopyError::Failed`] on a database
    /// error, with nothing committed.
    pub async fn copy_into(&self, target: &DieselStore) -> Result<CopyReport, CopyError> {
        if self.backend() != Backend::Sqlite || target.backend() != Backend::Postgres {
            return Err(CopyError::UnsupportedBackends {
                from: self.backend(),
                target: target.backend(),
            });
        }
        let source_pool = self.pool();
        let target_pool = target.pool();
        tokio::task::spawn_blocking(move || {
            let mut source = source_pool.get().map_err(|e| CopyError::Failed(e.to_string()))?;
            let mut target = target_pool.get().map_err(|e| CopyError::Failed(e.to_string()))?;
            match (&mut **source, &mut **target) {
                (DbConnection::Sqlite(lite), DbConnection::Pg(pg)) => copy_all(lite, pg),
                _ => Err(CopyError::Failed("unexpected connection kinds".to_owned())),
            }
        })
        .await
        .map_err(|e| CopyError::Failed(format!("the copy task failed: {e}")))?
    }
}

fn failed(error: diesel::result::Error) -> CopyError {
    CopyError::Failed(error.to_string())
}

/// The transactions' error: a copy error, or diesel's own (rollback).
enum Abort {
    Copy(CopyError),
    Database(diesel::result::Error),
}

impl From<diesel::result::Error> for Abort {
    fn from(error: diesel::result::Error) -> Self {
        Abort::Database(error)
    }
}

impl From<CopyError> for Abort {
    fn from(error: CopyError) -> Self {
        Abort::Copy(error)
    }
}

fn copy_all(lite: &mut SqliteConnection, pg: &mut PgConnection) -> Result<CopyReport, CopyError> {
    let outcome = lite.transaction::<_, Abort, _>(|lite| {
        pg.transaction::<_, Abort, _>(|pg| {
            let mut report = CopyReport { tables: Vec::new() };
            for table in TABLES {
                let columns = matching_columns(lite, pg, table)?;
                if table != MERGED_TABLE && count_pg(pg, table)? > 0 {
                    return Err(CopyError::TargetNotEmpty(table.to_owned()).into());
                }
                let copied = copy_table(lite, pg, table, &columns)?;
                let expected = count_sqlite(lite, table)?;
                if copied != expected {
                    return Err(CopyError::Failed(format!("{table}: read {expected} rows, wrote {copied}")).into());
                }
                report.tables.push((table.to_owned(), copied));
            }
            Ok(report)
        })
    });
    match outcome {
        Ok(report) => Ok(report),
        Err(Abort::Copy(error)) => Err(error),
        Err(Abort::Database(error)) => Err(failed(error)),
    }
}

/// The table's columns on SQLite (name, declared type), after checking that
/// PostgreSQL has the same set.
fn matching_columns(lite: &mut SqliteConnection, pg: &mut PgConnection, table: &str) -> Result<Vec<ColumnRow>, Abort> {
    let copied = |name: &str| !FILLED_BY_EACH_BACKEND.contains(&(table, name));
    let columns: Vec<ColumnRow> =
        diesel::sql_query("SELECT name, upper(type) AS declared_type FROM pragma_table_info(?) ORDER BY cid")
            .bind::<Text, _>(table)
            .load::<ColumnRow>(lite)?
            .into_iter()
            .filter(|column| copied(&column.name))
            .collect();
    let mut on_pg: Vec<String> = diesel::sql_query(
        "SELECT column_name::text AS name, data_type::text AS declared_type FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1",
    )
    .bind::<Text, _>(table)
    .load::<ColumnRow>(pg)?
    .into_iter()
    .map(|column| column.name)
    .filter(|name| copied(name))
    .collect();
    let mut on_sqlite: Vec<String> = columns.iter().map(|column| column.name.clone()).collect();
    on_pg.sort();
    on_sqlite.sort();
    if on_pg != on_sqlite {
        return Err(CopyError::SchemaMismatch {
            table: table.to_owned(),
            detail: format!("SQLite has {on_sqlite:?}, PostgreSQL has {on_pg:?}"),
        }
        .into());
    }
    Ok(columns)
}

// `table` is one of TABLES, never input, in both counts.
fn count_sqlite(conn: &mut SqliteConnection, table: &str) -> Result<i64, Abort> {
    let row: Count = diesel::sql_query(format!("SELECT count(*) AS count FROM {table}")).get_result(conn)?;
    Ok(row.count)
}

fn count_pg(conn: &mut PgConnection, table: &str) -> Result<i64, Abort> {
    let row: Count = diesel::sql_query(format!("SELECT count(*) AS count FROM {table}")).get_result(conn)?;
    Ok(row.count)
}

/// Copies one table in rowid order, [`BATCH_ROWS`] at a time; returns the
/// rows written.
fn copy_table(
    lite: &mut SqliteConnection,
    pg: &mut PgConnection,
    table: &str,
    columns: &[ColumnRow],
) -> Result<i64, Abort> {
    let fields = columns
        .iter()
        .map(|column| {
            let value = if column.declared_type == "BLOB" {
                // JSON holds no bytes: PostgreSQL reads `\x` hex as bytea.
                format!(
                    "CASE WHEN {0} IS NULL THEN NULL ELSE '\\x' || hex({0}) END",
                    column.name
                )
            } else {
                column.name.clone()
            };
            format!("'{}', {value}", column.name)
        })
        .collect::<Vec<_>>()
        .join(", ");
    let read = format!(
        "SELECT json_group_array(json_object({fields})) AS rows, max(rowid) AS last_rowid, count(*) AS count \
         FROM (SELECT rowid, * FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?)"
    );
    let names = columns
        .iter()
        .map(|column| column.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let conflict = if table == MERGED_TABLE {
        " ON CONFLICT DO NOTHING"
    } else {
        ""
    };
    let write = format!(
        "INSERT INTO {table} ({names}) SELECT {names} FROM json_populate_recordset(NULL::{table}, $1::json){conflict}"
    );
    let mut after = 0_i64;
    let mut copied = 0_i64;
    loop {
        let batch: Batch = diesel::sql_query(&read)
            .bind::<BigInt, _>(after)
            .bind::<BigInt, _>(BATCH_ROWS)
            .get_result(lite)?;
        let (Some(rows), Some(last_rowid)) = (batch.rows, batch.last_rowid) else {
            break;
        };
        diesel::sql_query(&write).bind::<Text, _>(rows).execute(pg)?;
        copied += batch.count;
        after = last_rowid;
        if batch.count < BATCH_ROWS {
            break;
        }
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_copy_list_names_every_table_of_the_migrated_schema() {
        let db = crate::testing::TestDatabase::sqlite();
        let store = db.migrated_store().await;
        let tables = store
            .with_connection(|conn| {
                #[derive(QueryableByName)]
                struct Name {
                    #[diesel(sql_type = Text)]
                    name: String,
                }
                let DbConnection::Sqlite(lite) = conn else {
                    return Err("not SQLite".to_owned());
                };
                diesel::sql_query(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
                     AND name != '__diesel_schema_migrations' ORDER BY name",
                )
                .load::<Name>(lite)
                .map(|names| names.into_iter().map(|n| n.name).collect::<Vec<_>>())
                .map_err(|e| e.to_string())
            })
            .await
            .unwrap();
        let mut listed: Vec<String> = TABLES.iter().map(|t| (*t).to_owned()).collect();
        listed.sort();
        assert_eq!(tables, listed);
    }

    /// Runs `sql` on the store's connection, returning the single text
    /// column `value` of its rows.
    async fn texts(store: &DieselStore, sql: &'static str) -> Vec<String> {
        #[derive(QueryableByName)]
        struct Value {
            #[diesel(sql_type = Text)]
            value: String,
        }
        store
            .with_connection(move |conn| {
                let rows = match conn {
                    DbConnection::Sqlite(lite) => diesel::sql_query(sql).load::<Value>(lite),
                    DbConnection::Pg(pg) => diesel::sql_query(sql).load::<Value>(pg),
                };
                rows.map(|rows| rows.into_iter().map(|row| row.value).collect())
                    .map_err(|e| e.to_string())
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn many_batches_bytes_and_awkward_text_arrive_unchanged() {
        let lite_db = crate::testing::TestDatabase::sqlite();
        let lite = lite_db.migrated_store().await;
        let pg_db = crate::testing::TestDatabase::postgres();
        let pg = pg_db.migrated_store().await;
        // 2,345 rows: two whole batches and a part; text with quotes,
        // backslashes, newlines and astral characters; bytes that are not UTF-8.
        texts(
            &lite,
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2345) \
             INSERT INTO businesses (id, name, created_at, name_folded) \
             SELECT printf('00000000-0000-7000-8000-%012d', i), \
                    'B' || i || ' \"q\" \\ ' || char(10) || ' \u{1F600}', i * 1000000000 + 7, 'b' || i FROM n \
             RETURNING id AS value",
        )
        .await;
        texts(
            &lite,
            "INSERT INTO idempotency_records (scope, idempotency_key, fingerprint, attempt_id, status, started_at, \
             expires_at, response_status, response_headers, response_body) \
             VALUES ('s', 'k', 'f', 'a', 'completed', 1, 2, 201, '[]', x'00ff80c3') RETURNING scope AS value",
        )
        .await;

        let report = lite.copy_into(&pg).await.unwrap();
        assert!(report.tables.contains(&("businesses".to_owned(), 2345)));
        assert!(report.tables.contains(&("idempotency_records".to_owned(), 1)));

        let digest = "SELECT count(*) || ':' || sum(length(name)) || ':' || max(name) || ':' || sum(created_at) \
                      AS value FROM businesses";
        assert_eq!(texts(&lite, digest).await, texts(&pg, digest).await);
        assert_eq!(
            texts(
                &pg,
                "SELECT encode(response_body, 'hex') AS value FROM idempotency_records"
            )
            .await,
            ["00ff80c3"]
        );

        // Copying again would mix two histories.
        assert_eq!(
            lite.copy_into(&pg).await,
            Err(CopyError::TargetNotEmpty("businesses".to_owned()))
        );
        // And PostgreSQL into anything is refused.
        assert!(matches!(
            pg.copy_into(&lite).await,
            Err(CopyError::UnsupportedBackends { .. })
        ));
    }
}
