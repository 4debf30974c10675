//! The per-business email cap ([`EmailCap`]) on diesel: minute buckets in
//! `email_cap_minutes`, read and counted inside the unit of work that
//! queues the emails, so the check and the count are one atomic step.
//!
//! On PostgreSQL a per-business advisory lock, taken first, serializes the
//! units of one business (the single create does the same inside the
//! procedure `rsvp_create_invitation`); the sum that follows reads a
//! snapshot taken after the lock was granted, so it sees every count
//! committed before. On SQLite the one writer serializes everything.

use diesel::QueryableByName;
use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Nullable, Text};
use rsvp_app::{EmailCap, StoreError};

use super::Unit;
use crate::connection::DbConnection;

/// The first key of the cap's advisory locks ("rsvp" read as an i32); the
/// second is `hashtext(business_id)`. The procedure uses the same pair.
const LOCK_CLASS: i32 = 1_920_169_584;

#[derive(QueryableByName)]
struct Window {
    #[diesel(sql_type = BigInt)]
    queued: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    oldest: Option<i64>,
}

/// How many more emails `business` may queue in `minute` under `cap` (0:
/// none), after taking the business's lock on PostgreSQL; the error to
/// refuse one more with.
pub(super) fn room(conn: &mut DbConnection, business: &str, cap: EmailCap, minute: i64) -> Unit<(u64, StoreError)> {
    let window_start = EmailCap::window_start(minute);
    let window: Window = match conn {
        DbConnection::Pg(pg) => {
            diesel::sql_query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
                .bind::<diesel::sql_types::Integer, _>(LOCK_CLASS)
                .bind::<Text, _>(business)
                .execute(pg)?;
            diesel::sql_query(
                "SELECT coalesce(sum(queued), 0)::bigint AS queued, min(minute) AS oldest \
                 FROM email_cap_minutes WHERE business_id = $1 AND minute >= $2",
            )
            .bind::<Text, _>(business)
            .bind::<BigInt, _>(window_start)
            .get_result(pg)?
        }
        DbConnection::Sqlite(lite) => diesel::sql_query(
            "SELECT coalesce(sum(queued), 0) AS queued, min(minute) AS oldest \
             FROM email_cap_minutes WHERE business_id = ?1 AND minute >= ?2",
        )
        .bind::<Text, _>(business)
        .bind::<BigInt, _>(window_start)
        .get_result(lite)?,
    };
    let queued = u64::try_from(window.queued).unwrap_or(0);
    let refusal = StoreError::EmailCapReached {
        retry_at: EmailCap::leaves_window_at(window.oldest.unwrap_or(minute)),
    };
    Ok((u64::from(cap.limit).saturating_sub(queued), refusal))
}

/// Counts `queued` more emails of `business` in `minute` (fewer when
/// negative: places given back), and drops the business's buckets that left
/// the window (the table stays small).
pub(super) fn count(conn: &mut DbConnection, business: &str, minute: i64, queued: i64) -> Unit<()> {
    if queued == 0 {
        return Ok(());
    }
    let window_start = EmailCap::window_start(minute);
    // Written once for both backends: `$n` on PostgreSQL, `?n` on SQLite.
    const UPSERT: &str = "INSERT INTO email_cap_minutes (business_id, minute, queued) VALUES ($1, $2, $3) \
         ON CONFLICT (business_id, minute) DO UPDATE SET queued = email_cap_minutes.queued + excluded.queued";
    const PRUNE: &str = "DELETE FROM email_cap_minutes WHERE business_id = $1 AND minute < $2";
    let queued = i32::try_from(queued).unwrap_or(i32::MAX);
    match conn {
        DbConnection::Pg(pg) => {
            diesel::sql_query(UPSERT)
                .bind::<Text, _>(business)
                .bind::<BigInt, _>(minute)
                .bind::<diesel::sql_types::Integer, _>(queued)
                .execute(pg)?;
            diesel::sql_query(PRUNE)
                .bind::<Text, _>(business)
                .bind::<BigInt, _>(window_start)
                .execute(pg)?;
        }
        DbConnection::Sqlite(lite) => {
            diesel::sql_query(UPSERT.replace('$', "?"))
                .bind::<Text, _>(business)
                .bind::<BigInt, _>(minute)
                .bind::<diesel::sql_types::Integer, _>(queued)
                .execute(lite)?;
            diesel::sql_query(PRUNE.replace('$', "?"))
                .bind::<Text, _>(business)
                .bind::<BigInt, _>(window_start)
                .execute(lite)?;
        }
    }
    Ok(())
}
