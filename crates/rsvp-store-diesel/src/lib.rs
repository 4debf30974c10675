//! # rsvp-store-diesel
//!
//! rsvp's [`Store`](rsvp_app::Store) port on diesel 2, for embedded SQLite
//! (the zero-configuration default) and PostgreSQL (the production store),
//! from one codebase: [`DieselStore`].
//!
//! ```no_run
//! # async fn start() -> Result<(), rsvp_store_diesel::SetupError> {
//! use rsvp_store_diesel::{DieselStore, StoreOptions};
//!
//! let mut options = StoreOptions::new("sqlite://data/rsvp.db"); // or postgres://...
//! options.max_connections = 16;
//! let store = DieselStore::connect_with(options).await?;
//! store.run_migrations().await?;
//! # Ok(()) }
//! ```
//!
//! ## Design
//!
//! * **One schema, two backends.** A `#[derive(diesel::MultiConnection)]`
//!   enum over `PgConnection` and `SqliteConnection` runs the queries written
//!   once against the portable `schema.rs`. The backend is chosen from the
//!   URL's scheme by this crate ([`Backend`]), never by trying each in turn
//!   (which would report a PostgreSQL that is down as an invalid URL), and
//!   the first connection is opened before the pool is built, so start-up
//!   fails at once with the database's own message ([`SetupError`]).
//! * **Column types both backends share.** Ids are `TEXT`, the hyphenated
//!   lowercase UUID: it sorts like the UUID's bytes (PostgreSQL key columns
//!   use `COLLATE "C"` so the server's locale cannot change that), hence
//!   UUIDv7 event ids sort in time order. Times are `BIGINT` unix
//!   **nanoseconds** UTC: exact for the clock's full precision (a time reads
//!   back equal to what was written, on both backends — PostgreSQL's
//!   `timestamptz` would round to microseconds, SQLite has no time type),
//!   one 8-byte integer comparison in every index and keyset, and the range
//!   1677..=2262 is ample for invitations. `custom_data`, `roles` and event
//!   data are JSON `TEXT`. API keys and link tokens are stored only as
//!   SHA-256 hashes in lowercase hex. (The outbox keeps a new link token in
//!   clear only until its email is sent, as the port asks; then it is wiped.)
//! * **Migrations** live in this crate's `migrations/sqlite` and
//!   `migrations/postgres` (same folder names, checked by a test; shipped in
//!   the published crate), are embedded in the binary, and
//!   the set is picked by the connection's variant, explicitly:
//!   [`DieselStore::run_migrations`], [`DieselStore::revert_all_migrations`].
//!   What SQL cannot compute (IDNA, Unicode categories) a migration queues
//!   in `pending_fixups`, and `run_migrations` does it in Rust right after,
//!   in batches, idempotently (`fixups.rs`).
//! * **Invariants kept by the database, race-proof.** A partial unique index
//!   on `(business_id, email_normalized) WHERE status = 'pending'` makes a
//!   second pending invitation fail as `AlreadyInvited`; a unique index on
//!   users' normalized email gives `EmailTaken`; a unique index on the
//!   ordered pair `(business_low, business_high)` (computed in Rust with
//!   `rsvp_domain::ordered_pair`) allows one connection per pair. A
//!   transition is one conditional `UPDATE ... WHERE id = ? AND status =
//!   'pending' [AND expires_at > now]`: zero rows means someone else won, and
//!   the row is read again to report `Conflict` with what it reads as. Each
//!   write is one transaction: the invitation with its link, event and email
//!   job; a transition with its event, connection and new invitee. On
//!   PostgreSQL the two hottest writes are one round trip each: a new
//!   invitation (one `CALL` of the procedure `rsvp_create_invitation`: its
//!   facts, the email cap's count, then its rows; `store/inviting/create_call.rs`)
//!   and the outcome of an email job (`store/outbox/finish.rs`). Otherwise on
//!   PostgreSQL, transactions are READ COMMITTED and lean on those indexes
//!   and conditional updates; on SQLite every write unit starts with `BEGIN
//!   IMMEDIATE`, taking the single writer lock up front (no deadlock
//!   upgrading a read lock), and every connection gets WAL, a 5 s
//!   `busy_timeout` and `foreign_keys = ON` from an r2d2
//!   `CustomizeConnection`.
//! * **Fast at a million rows.** Lists are keyset paged with a row-value
//!   comparison `(created_at, id) < (?, ?)` over indexes `(business_id,
//!   created_at, id)` (sent) and `(email_normalized, created_at, id)`
//!   (received, a semi-join on the business's users' emails); connections
//!   and events read two index ranges (one per end) and merge them. Filters
//!   on the stored status `pending`/`queued` are SQL literals so that the
//!   planners use the partial indexes; the sent list filtered on `pending`
//!   reads its own partial keyset index (tagged so that point lookups never
//!   take it) with `expires_at + 0 > now`, out of reach of the misleading
//!   expiry index. The outbox claim reads the queued
//!   jobs oldest first from a partial index and is one statement on
//!   PostgreSQL (`FOR UPDATE SKIP LOCKED` in a CTE, then `next_attempt_at =
//!   now + lease, attempts + 1`), so replicas never take the same job; on
//!   SQLite the same in one immediate transaction (one writer at a time).
//!   Bulk inserts are one transaction, inserted in the order of the
//!   pending-email key so that concurrent batches on PostgreSQL never
//!   deadlock on the unique index: on PostgreSQL one statement per 250
//!   items (the rows as arrays through `unnest`, the invitations `ON
//!   CONFLICT ... DO NOTHING RETURNING id`, their links, events, email jobs
//!   and webhook deliveries as CTEs joined on the ids returned; an item not
//!   returned is `AlreadyInvited`), six round trips for a bulk of 1,000
//!   instead of three per item; should the database refuse the statement
//!   otherwise (a foreign key...), the batch runs again with a savepoint per
//!   item so each item keeps its own outcome. SQLite always takes a
//!   savepoint per item (`store/bulk.rs`).
//! * **Waking the dispatcher.** [`DieselStore::work_signal`] resolves when
//!   email jobs were queued: by this store (raised after the commit), and on
//!   PostgreSQL by any replica (a trigger's `pg_notify`, heard by one
//!   dedicated `LISTEN` connection that reconnects after failures). Every
//!   replica wakes; `SKIP LOCKED` decides who sends.
//! * **Sync diesel under async.** Each port method runs its whole unit of
//!   work — pool checkout, transaction, queries — in one
//!   `tokio::task::spawn_blocking` closure, with the caller's tracing span
//!   entered inside; a panic there becomes `StoreError::Unavailable`.
//!   Database errors other than the port's refusals become `Unavailable`
//!   with a message; no diesel type leaves the crate.
//! * **Few round trips.** Statements diesel may cache are prepared once per
//!   connection and reused (INSERTs bind `None` as NULL instead of
//!   `DEFAULT`, which would make diesel parse and plan them every time);
//!   queries holding an SQL literal (the `pending` filters, keyset cursors)
//!   are planned for their values at each call, on purpose. The pool pings a connection before handing
//!   it out only when it has been idle for
//!   [`StoreOptions::check_after_idle`] (1 s), and drops at once a
//!   connection a unit of work found closed. `rsvp-bench` measures it all
//!   (docs/BENCHMARKS.md).
//!
//! With the `testing` feature, [`testing`] makes a fresh database per test:
//! a SQLite file, or a PostgreSQL database on the server it finds or starts.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod backup;
mod connection;
mod copy;
mod fixups;
mod migrations;
mod rows;
mod schema;
mod sql;
mod store;
mod stored_event;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod wake;
mod writer;

pub use backup::BackupError;
pub use connection::{Backend, DatabaseUrl};
pub use copy::{CopyError, CopyReport};
pub use store::{DieselStore, StoreOptions};
pub use wake::StoreWorkSignal;

/// Why a store could not be set up (connected or migrated).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// The database URL names no supported backend, or no database.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// The database refused or could not be reached.
    #[error("cannot connect to the {backend} database: {message}")]
    Connect {
        /// The backend the URL chose.
        backend: Backend,
        /// The database's own message.
        message: String,
    },
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migration(String),
}

// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
