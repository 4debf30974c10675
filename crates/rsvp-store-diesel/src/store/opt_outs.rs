//! The port methods of opt-outs (suppressions) and idempotency records.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) async fn begin_idempotent(
    store: &DieselStore,
    claim: &IdempotencyClaim,
) -> Result<IdempotencyBegin, StoreError> {
    let claim = idempotency::ClaimRows::new(claim)?;
    store
        .run(op::BEGIN_IDEMPOTENT, move |conn| {
            write_unit(conn, |conn| idempotency::begin(conn, &claim))
        })
        .await
}

pub(super) async fn add_suppression(store: &DieselStore, suppression: &Suppression) -> Result<Suppression, StoreError> {
    let row = SuppressionRow::from_domain(suppression)?;
    store
        .run(op::ADD_SUPPRESSION, move |conn| {
            write_unit(conn, |conn| {
                // The unique index decides between racing opt-outs; the loser reads the winner's row.
                match &mut *conn {
                    DbConnection::Pg(pg) => diesel::insert_into(suppressions::table)
                        .values(&row)
                        .on_conflict_do_nothing()
                        .execute(pg)?,
                    DbConnection::Sqlite(lite) => diesel::insert_into(suppressions::table)
                        .values(&row)
                        .on_conflict_do_nothing()
                        .execute(lite)?,
                };
                let stored = suppression_of(conn, &row.email_normalized, row.business_id.as_deref())?
                    .ok_or_else(|| StoreError::Unavailable("the suppression just written is not there".into()))?;
                Ok(stored.into_domain()?)
            })
        })
        .await
}

pub(super) async fn complete_idempotent(
    store: &DieselStore,
    scope: &IdempotencyScope,
    key: &IdempotencyKey,
    attempt: Uuid,
    response: &StoredResponse,
) -> Result<bool, StoreError> {
    let slot = idempotency::Slot::new(scope, key, attempt);
    let response = idempotency::CompletedRow::new(response)?;
    store
        .run(op::COMPLETE_IDEMPOTENT, move |conn| {
            idempotency::complete(conn, &slot, &response)
        })
        .await
}

pub(super) async fn abandon_idempotent(
    store: &DieselStore,
    scope: &IdempotencyScope,
    key: &IdempotencyKey,
    attempt: Uuid,
) -> Result<bool, StoreError> {
    let slot = idempotency::Slot::new(scope, key, attempt);
    store
        .run(op::ABANDON_IDEMPOTENT, move |conn| idempotency::abandon(conn, &slot))
        .await
}

pub(super) async fn prune_idempotency_records(
    store: &DieselStore,
    expired_by: OffsetDateTime,
    limit: usize,
) -> Result<u64, StoreError> {
    let expired_by = bound_nanos(expired_by);
    let limit = saturating_limit(limit);
    if limit == 0 {
        return Ok(0);
    }
    // One replica prunes at a time; the others find the lock taken and skip.
    let lock = format!("pg_try_advisory_xact_lock({IDEMPOTENCY_PRUNE_LOCK_KEY})");
    store
        .run(op::PRUNE_IDEMPOTENCY_RECORDS, move |conn| {
            write_unit(conn, |conn| idempotency::prune(conn, expired_by, limit, Some(&lock)))
        })
        .await
}

pub(super) async fn suppressions_for(
    store: &DieselStore,
    business: BusinessId,
    emails: &[EmailAddress],
) -> Result<Vec<Suppression>, StoreError> {
    let normalized: Vec<String> = emails.iter().map(|e| e.normalized().to_owned()).collect();
    if normalized.is_empty() {
        return Ok(Vec::new());
    }
    let business = id_text(business.as_uuid());
    store
        .run(op::SUPPRESSIONS_FOR, move |conn| {
            let rows = suppressions::table
                .filter(suppressions::email_normalized.eq_any(&normalized))
                .filter(
                    suppressions::business_id
                        .is_null()
                        .or(suppressions::business_id.eq(&business)),
                )
                .select(SuppressionRow::as_select())
                .load(conn)?;
            rows_into(rows, SuppressionRow::into_domain)
        })
        .await
}

pub(super) async fn list_suppressions(
    store: &DieselStore,
    query: &SuppressionQuery,
) -> Result<Page<Suppression>, StoreError> {
    let email = query.email.as_ref().map(|e| e.normalized().to_owned());
    let (limit, after) = (query.limit, query.after);
    store
        .run(op::LIST_SUPPRESSIONS, move |conn| {
            use crate::schema::suppressions::dsl as s;
            let mut q = s::suppressions
                .select(SuppressionRow::as_select())
                .into_boxed::<MultiBackend>();
            if let Some(email) = email {
                q = q.filter(s::email_normalized.eq(email));
            }
            if let Some(cursor) = after {
                q = q.filter(
                    sql::<Bool>("(suppressions.created_at, suppressions.id) < (")
                        .bind::<BigInt, _>(bound_nanos(cursor.created_at))
                        .sql(", ")
                        .bind::<Text, _>(id_text(cursor.id))
                        .sql(")"),
                );
            }
            let rows = q
                .order((s::created_at.desc(), s::id.desc()))
                .limit(overfetch(limit))
                .load(conn)?;
            let items = rows_into(rows, SuppressionRow::into_domain)?;
            Ok(Page::from_overfetch(items, limit, |sup: &Suppression| Cursor {
                created_at: sup.created_at,
                id: sup.id.as_uuid(),
            }))
        })
        .await
}

pub(super) async fn delete_suppression(store: &DieselStore, id: SuppressionId) -> Result<(), StoreError> {
    let id = id_text(id.as_uuid());
    store
        .run(op::DELETE_SUPPRESSION, move |conn| {
            let deleted = diesel::delete(suppressions::table.find(&id)).execute(conn)?;
            if deleted == 0 {
                return Err(StoreError::NotFound.into());
            }
            Ok(())
        })
        .await
}
