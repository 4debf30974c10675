//! Idempotency records (`idempotency_records`): the units of work behind
//! `IdempotencyStore::begin_idempotent`, `complete_idempotent`, `abandon_idempotent`
//! and `prune_idempotency_records`.
//!
//! A begin is `INSERT ... ON CONFLICT DO NOTHING` on the primary key
//! `(scope, idempotency_key)`: of racing begins exactly one inserts. A
//! begin that finds a record expired, or in progress past the takeover
//! time, takes it over with an `UPDATE` conditional on the attempt and
//! status it read (a compare-and-set: of two takers, one wins, the other
//! sees the winner's record on its next look). Completing and abandoning are
//! conditional on the attempt too, so an attempt whose record was taken over
//! changes nothing.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use rsvp_app::{IdempotencyBegin, IdempotencyClaim, IdempotencyKey, IdempotencyScope, StoreError, StoredResponse};
use uuid::Uuid;

use crate::connection::DbConnection;
use crate::rows::{id_text, to_nanos};
use crate::schema::idempotency_records::{self, dsl as r};
use crate::store::Unit;

const IN_PROGRESS: &str = "in_progress";
const COMPLETED: &str = "completed";

/// How many times a begin looks again when the record it read changed
/// under it (taken over or deleted meanwhile) before answering "in progress".
const BEGIN_ROUNDS: usize = 4;

/// `idempotency_records`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_records, treat_none_as_default_value = false)]
pub(crate) struct IdempotencyRow {
    scope: String,
    idempotency_key: String,
    fingerprint: String,
    attempt_id: String,
    status: String,
    started_at: i64,
    expires_at: i64,
    response_status: Option<i32>,
    response_headers: Option<String>,
    response_body: Option<Vec<u8>>,
}

impl IdempotencyRow {
    fn response(self) -> Result<StoredResponse, StoreError> {
        let corrupt = |column: &str, detail: &dyn std::fmt::Display| {
            StoreError::Unavailable(format!(
                "unreadable value in column idempotency_records.{column}: {detail}"
            ))
        };
        let status = self
            .response_status
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| corrupt("response_status", &"missing or out of range"))?;
        let headers = match self.response_headers {
            Some(json) => serde_json::from_str(&json).map_err(|e| corrupt("response_headers", &e))?,
            None => Vec::new(),
        };
        Ok(StoredResponse {
            status,
            headers,
            body: self.response_body.unwrap_or_default(),
        })
    }
}

/// A claim's bound values, made outside the unit of work.
pub(crate) struct ClaimRows {
    row: IdempotencyRow,
    now: i64,
    stale_before: i64,
}

impl ClaimRows {
    pub(crate) fn new(claim: &IdempotencyClaim) -> Result<Self, StoreError> {
        Ok(Self {
            row: IdempotencyRow {
                scope: claim.scope.0.to_hex(),
                idempotency_key: claim.key.as_str().to_owned(),
                fingerprint: claim.fingerprint.0.to_hex(),
                attempt_id: id_text(claim.attempt),
                status: IN_PROGRESS.to_owned(),
                started_at: to_nanos(claim.now)?,
                expires_at: to_nanos(claim.expires_at)?,
                response_status: None,
                response_headers: None,
                response_body: None,
            },
            now: to_nanos(claim.now)?,
            stale_before: to_nanos(claim.stale_before)?,
        })
    }
}

/// The record's key, bound.
#[derive(Clone)]
pub(crate) struct Slot {
    scope: String,
    key: String,
    attempt: String,
}

impl Slot {
    pub(crate) fn new(scope: &IdempotencyScope, key: &IdempotencyKey, attempt: Uuid) -> Self {
        Self {
            scope: scope.0.to_hex(),
            key: key.as_str().to_owned(),
            attempt: id_text(attempt),
        }
    }
}

fn insert_if_absent(conn: &mut DbConnection, row: &IdempotencyRow) -> QueryResult<usize> {
    match conn {
        DbConnection::Pg(pg) => diesel::insert_into(r::idempotency_records)
            .values(row)
            .on_conflict_do_nothing()
            .execute(pg),
        DbConnection::Sqlite(lite) => diesel::insert_into(r::idempotency_records)
            .values(row)
            .on_conflict_do_nothing()
            .execute(lite),
    }
}

/// `IdempotencyStore::begin_idempotent`, inside a write unit.
pub(crate) fn begin(conn: &mut DbConnection, claim: &ClaimRows) -> Unit<IdempotencyBegin> {
    let ours = &claim.row;
    for _ in 0..BEGIN_ROUNDS {
        if insert_if_absent(conn, ours)? == 1 {
            return Ok(IdempotencyBegin::Started);
        }
        let found: Option<IdempotencyRow> = r::idempotency_records
            .filter(r::scope.eq(&ours.scope))
            .filter(r::idempotency_key.eq(&ours.idempotency_key))
            .select(IdempotencyRow::as_select())
            .first(conn)
            .optional()?;
        // Deleted since the insert found it (abandoned, pruned): insert again.
        let Some(found) = found else { continue };
        let expired = found.expires_at <= claim.now;
        if !expired {
            if found.fingerprint != ours.fingerprint {
                return Ok(IdempotencyBegin::Mismatch);
            }
            if found.status == COMPLETED {
                return Ok(IdempotencyBegin::Replay(found.response()?));
            }
            if found.started_at > claim.stale_before {
                return Ok(IdempotencyBegin::InProgress);
            }
        }
        // Expired, or in progress for too long: take it over, unless another
        // attempt changed it since it was read.
        let taken = diesel::update(
            r::idempotency_records
                .filter(r::scope.eq(&ours.scope))
                .filter(r::idempotency_key.eq(&ours.idempotency_key))
                .filter(r::attempt_id.eq(&found.attempt_id))
                .filter(r::status.eq(&found.status)),
        )
        .set((
            r::fingerprint.eq(&ours.fingerprint),
            r::attempt_id.eq(&ours.attempt_id),
            r::status.eq(IN_PROGRESS),
            r::started_at.eq(ours.started_at),
            r::expires_at.eq(ours.expires_at),
            r::response_status.eq(None::<i32>),
            r::response_headers.eq(None::<String>),
            r::response_body.eq(None::<Vec<u8>>),
        ))
        .execute(conn)?;
        if taken == 1 {
            return Ok(IdempotencyBegin::Started);
        }
    }
    // Others keep changing the record: one of them is running the request.
    Ok(IdempotencyBegin::InProgress)
}

/// The values `complete` writes, bound outside the unit of work.
pub(crate) struct CompletedRow {
    status: i32,
    headers: String,
    body: Vec<u8>,
}

impl CompletedRow {
    pub(crate) fn new(response: &StoredResponse) -> Result<Self, StoreError> {
        Ok(Self {
            status: i32::from(response.status),
            headers: serde_json::to_string(&response.headers)
                .map_err(|e| StoreError::Unavailable(format!("response headers: {e}")))?,
            body: response.body.clone(),
        })
    }
}

/// `IdempotencyStore::complete_idempotent`: one conditional UPDATE.
pub(crate) fn complete(conn: &mut DbConnection, slot: &Slot, response: &CompletedRow) -> Unit<bool> {
    let updated = diesel::update(
        r::idempotency_records
            .filter(r::scope.eq(&slot.scope))
            .filter(r::idempotency_key.eq(&slot.key))
            .filter(r::attempt_id.eq(&slot.attempt))
            .filter(r::status.eq(IN_PROGRESS)),
    )
    .set((
        r::status.eq(COMPLETED),
        r::response_status.eq(Some(response.status)),
        r::response_headers.eq(Some(&response.headers)),
        r::response_body.eq(Some(&response.body)),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}

/// `IdempotencyStore::abandon_idempotent`: one conditional DELETE.
pub(crate) fn abandon(conn: &mut DbConnection, slot: &Slot) -> Unit<bool> {
    let deleted = diesel::delete(
        r::idempotency_records
            .filter(r::scope.eq(&slot.scope))
            .filter(r::idempotency_key.eq(&slot.key))
            .filter(r::attempt_id.eq(&slot.attempt))
            .filter(r::status.eq(IN_PROGRESS)),
    )
    .execute(conn)?;
    Ok(deleted == 1)
}

/// `IdempotencyStore::prune_idempotency_records`, inside a write unit: the batch's
/// attempts, earliest expiry first, then one DELETE of those (bounded by
/// the batch's first and last expiry, so the index serves it).
pub(crate) fn prune(conn: &mut DbConnection, expired_by: i64, limit: i64, lock: Option<&str>) -> Unit<u64> {
    if let (Some(lock), DbConnection::Pg(pg)) = (lock, &mut *conn) {
        let ours: bool = diesel::select(sql::<Bool>(lock)).get_result(pg)?;
        if !ours {
            return Ok(0);
        }
    }
    let batch: Vec<(i64, String)> = r::idempotency_records
        .filter(r::expires_at.le(expired_by))
        .order((r::expires_at.asc(), r::attempt_id.asc()))
        .limit(limit)
        .select((r::expires_at, r::attempt_id))
        .load(conn)?;
    let (Some((first, _)), Some((last, _))) = (batch.first(), batch.last()) else {
        return Ok(0);
    };
    let (first, last) = (*first, *last);
    let attempts: Vec<String> = batch.into_iter().map(|(_, attempt)| attempt).collect();
    // The batch's expiry range bounds what the DELETE reads: the attempts'
    // list filters that range, not every expired record.
    let deleted = diesel::delete(
        r::idempotency_records
            .filter(r::expires_at.between(first, last))
            .filter(r::attempt_id.eq_any(&attempts)),
    )
    .execute(conn)?;
    Ok(u64::try_from(deleted).unwrap_or(0))
}
