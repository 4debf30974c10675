//! The webhook half of the store: endpoints, the webhook outbox (deliveries
//! queued with each event, in the event's transaction), claims, outcomes.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use rsvp_app::{Page, PageRequest, StoreError, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookOutcome};
use rsvp_domain::{BusinessId, WebhookEndpointId};
use time::OffsetDateTime;

use super::op;
use super::{DieselStore, Unit, changed_one, domain_page, rows_into, saturating_limit, write_unit};
use crate::connection::{DbConnection, MultiBackend};
use crate::rows::{EventRow, WebhookDeliveryRow, WebhookEndpointRow, id_text, to_nanos};
use crate::schema::{events, webhook_deliveries, webhook_endpoints};
use async_trait::async_trait;
use rsvp_app::WebhookStore;

/// The columns of a new delivery, in the order of [`queue_for_event_sql`].
pub(crate) const DELIVERY_COLUMNS: &str = "endpoint_id, id, business_id, event_id, event_type, payload, \
     occurred_at, attempts, status, next_attempt_at, response_status, duration_ms, attempted_at, last_error, created_at";

/// One pending delivery per enabled endpoint of each business that can see
/// the event `ev` (its sender, its invitee business once known) whose filter
/// matches: `INSERT ... SELECT` from `source` (the `events` table, or on
/// PostgreSQL the `RETURNING` of the statement that inserts the event).
pub(crate) fn queue_for_event_sql(source: &str, filter: &str) -> String {
    format!(
        "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}) \
         SELECT e.id, ev.id, e.business_id, ev.id, ev.kind, NULL, ev.occurred_at, 0, 'pending', ev.occurred_at, \
                NULL, NULL, NULL, NULL, ev.occurred_at \
         FROM {source} AS ev \
         JOIN webhook_endpoints AS e ON e.business_id IN (ev.business_id, ev.invitee_business_id) \
         WHERE {filter}e.enabled AND (e.event_types = '' OR e.event_types LIKE '%,' || ev.kind || ',%')"
    )
}

/// [`queue_for_event_sql`] from the `new_event` CTE of the statements of a
/// bulk on PostgreSQL (`bulk.rs`).
pub(crate) static QUEUE_FROM_NEW_EVENT: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| queue_for_event_sql("new_event", ""));

/// Inserts an event and queues its deliveries: every event the store writes
/// goes through here (or through the one statement of a new invitation on
/// PostgreSQL, which does the same).
pub(crate) fn insert_event(conn: &mut DbConnection, event: &EventRow) -> Unit<()> {
    diesel::insert_into(events::table).values(event).execute(conn)?;
    match conn {
        DbConnection::Pg(pg) => {
            diesel::sql_query(queue_for_event_sql("events", "ev.id = $1 AND "))
                .bind::<Text, _>(&event.id)
                .execute(pg)?;
        }
        DbConnection::Sqlite(lite) => {
            diesel::sql_query(queue_for_event_sql("events", "ev.id = ?1 AND "))
                .bind::<Text, _>(&event.id)
                .execute(lite)?;
        }
    }
    Ok(())
}

/// The `webhook_endpoint.disabled` notice, queued for the other enabled
/// endpoints of the business that want it.
fn queue_notice_sql(p: &str) -> String {
    format!(
        "INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}) \
         SELECT e.id, {p}1, e.business_id, {p}1, 'webhook_endpoint.disabled', {p}2, {p}3, 0, 'pending', {p}3, \
                NULL, NULL, NULL, NULL, {p}3 \
         FROM webhook_endpoints AS e \
         WHERE e.business_id = {p}4 AND e.id <> {p}5 AND e.enabled \
           AND (e.event_types = '' OR e.event_types LIKE '%,webhook_endpoint.disabled,%')"
    )
}

/// Claims due deliveries on PostgreSQL in one statement, `FOR UPDATE SKIP
/// LOCKED`: concurrent claimers skip each other's rows.
fn claim_on_postgres(
    conn: &mut diesel::PgConnection,
    now: i64,
    limit: i64,
    lease_end: i64,
) -> Unit<Vec<WebhookDeliveryRow>> {
    let mut rows: Vec<WebhookDeliveryRow> = diesel::sql_query(
        "WITH due AS ( \
             SELECT endpoint_id, id FROM webhook_deliveries \
             WHERE status = 'pending' AND next_attempt_at <= $1 \
             ORDER BY created_at, id \
             LIMIT $2 \
             FOR UPDATE SKIP LOCKED) \
         UPDATE webhook_deliveries AS d \
         SET next_attempt_at = $3, attempts = d.attempts + 1 \
         FROM due WHERE d.endpoint_id = due.endpoint_id AND d.id = due.id \
         RETURNING d.endpoint_id, d.id, d.business_id, d.event_id, d.event_type, d.payload, d.occurred_at, \
                   d.attempts, d.status, d.next_attempt_at, d.response_status, d.duration_ms, d.attempted_at, \
                   d.last_error, d.created_at",
    )
    .bind::<BigInt, _>(now)
    .bind::<BigInt, _>(limit)
    .bind::<BigInt, _>(lease_end)
    .load(conn)?;
    rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(rows)
}

/// Claims due deliveries on SQLite inside one immediate transaction (one
/// writer at a time).
fn claim_on_sqlite(conn: &mut DbConnection, now: i64, limit: i64, lease_end: i64) -> Unit<Vec<WebhookDeliveryRow>> {
    use crate::schema::webhook_deliveries::dsl as d;
    write_unit(conn, |conn| {
        let mut due: Vec<WebhookDeliveryRow> = d::webhook_deliveries
            .filter(sql::<Bool>("webhook_deliveries.status = 'pending'"))
            .filter(d::next_attempt_at.le(now))
            .order((d::created_at.asc(), d::id.asc()))
            .limit(limit)
            .select(WebhookDeliveryRow::as_select())
            .load(conn)?;
        for row in &mut due {
            diesel::update(
                d::webhook_deliveries
                    .filter(d::endpoint_id.eq(&row.endpoint_id))
                    .filter(d::id.eq(&row.id)),
            )
            .set((d::next_attempt_at.eq(lease_end), d::attempts.eq(d::attempts + 1)))
            .execute(conn)?;
            row.next_attempt_at = lease_end;
            row.attempts = row.attempts.saturating_add(1);
        }
        Ok(due)
    })
}

fn endpoint_row(conn: &mut DbConnection, id: &str) -> Unit<Option<WebhookEndpointRow>> {
    Ok(webhook_endpoints::table
        .filter(webhook_endpoints::id.eq(id))
        .select(WebhookEndpointRow::as_select())
        .first(conn)
        .optional()?)
}

impl DieselStore {}

#[async_trait]
impl WebhookStore for DieselStore {
    async fn insert_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<(), StoreError> {
        let row = WebhookEndpointRow::from_domain(endpoint)?;
        self.run(op::INSERT_WEBHOOK_ENDPOINT, move |conn| {
            diesel::insert_into(webhook_endpoints::table)
                .values(&row)
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    async fn get_webhook_endpoint(&self, id: WebhookEndpointId) -> Result<Option<WebhookEndpoint>, StoreError> {
        let id = id_text(id.as_uuid());
        self.run(op::GET_WEBHOOK_ENDPOINT, move |conn| {
            Ok(endpoint_row(conn, &id)?
                .map(WebhookEndpointRow::into_domain)
                .transpose()?)
        })
        .await
    }

    async fn list_webhook_endpoints(&self, business: BusinessId) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let business = id_text(business.as_uuid());
        self.run(op::LIST_WEBHOOK_ENDPOINTS, move |conn| {
            let rows: Vec<WebhookEndpointRow> = webhook_endpoints::table
                .filter(webhook_endpoints::business_id.eq(&business))
                .order((webhook_endpoints::created_at.asc(), webhook_endpoints::id.asc()))
                .select(WebhookEndpointRow::as_select())
                .load(conn)?;
            rows_into(rows, WebhookEndpointRow::into_domain)
        })
        .await
    }

    async fn update_webhook_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<(), StoreError> {
        use crate::schema::webhook_endpoints::dsl as w;
        let row = WebhookEndpointRow::from_domain(endpoint)?;
        self.run(op::UPDATE_WEBHOOK_ENDPOINT, move |conn| {
            write_unit(conn, |conn| {
                let Some(stored) = endpoint_row(conn, &row.id)? else {
                    return Err(StoreError::NotFound.into());
                };
                let failing_since = if row.enabled && !stored.enabled {
                    None
                } else {
                    stored.failing_since
                };
                diesel::update(w::webhook_endpoints.filter(w::id.eq(&row.id)))
                    .set((
                        w::url.eq(&row.url),
                        w::event_types.eq(&row.event_types),
                        w::description.eq(&row.description),
                        w::enabled.eq(row.enabled),
                        w::secret.eq(&row.secret),
                        w::previous_secret.eq(&row.previous_secret),
                        w::previous_secret_until.eq(row.previous_secret_until),
                        w::failing_since.eq(failing_since),
                        w::updated_at.eq(row.updated_at),
                    ))
                    .execute(conn)?;
                Ok(())
            })
        })
        .await
    }

    async fn delete_webhook_endpoint(&self, id: WebhookEndpointId) -> Result<(), StoreError> {
        let id = id_text(id.as_uuid());
        self.run(op::DELETE_WEBHOOK_ENDPOINT, move |conn| {
            write_unit(conn, |conn| {
                diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(&id)))
                    .execute(conn)?;
                let deleted =
                    diesel::delete(webhook_endpoints::table.filter(webhook_endpoints::id.eq(&id))).execute(conn)?;
                if deleted == 0 {
                    return Err(StoreError::NotFound.into());
                }
                Ok(())
            })
        })
        .await
    }

    async fn list_webhook_deliveries(
        &self,
        endpoint: WebhookEndpointId,
        page: &PageRequest,
    ) -> Result<Page<WebhookDelivery>, StoreError> {
        use crate::schema::webhook_deliveries::dsl as d;
        let endpoint = id_text(endpoint.as_uuid());
        let page = *page;
        self.run(op::LIST_WEBHOOK_DELIVERIES, move |conn| {
            let query = d::webhook_deliveries
                .filter(d::endpoint_id.eq(endpoint))
                .select(WebhookDeliveryRow::as_select())
                .into_boxed::<MultiBackend>();
            let rows = newest_first_page!(query, webhook_deliveries, page.after, page.limit).load(conn)?;
            domain_page(
                rows,
                WebhookDeliveryRow::into_domain,
                page.limit,
                |d: &WebhookDelivery| rsvp_app::Cursor {
                    created_at: d.created_at,
                    id: d.id.as_uuid(),
                },
            )
        })
        .await
    }

    async fn insert_webhook_delivery(&self, delivery: &WebhookDelivery) -> Result<(), StoreError> {
        let row = WebhookDeliveryRow::from_domain(delivery)?;
        self.run(op::INSERT_WEBHOOK_DELIVERY, move |conn| {
            write_unit(conn, |conn| {
                if endpoint_row(conn, &row.endpoint_id)?.is_none() {
                    return Err(StoreError::NotFound.into());
                }
                diesel::insert_into(webhook_deliveries::table)
                    .values(&row)
                    .execute(conn)?;
                Ok(())
            })
        })
        .await
    }

    async fn claim_webhook_deliveries(
        &self,
        now: OffsetDateTime,
        limit: usize,
        lease: time::Duration,
    ) -> Result<Vec<WebhookDelivery>, StoreError> {
        let lease_end = to_nanos(now + lease)?;
        let now = to_nanos(now)?;
        let limit = saturating_limit(limit);
        self.run(op::CLAIM_WEBHOOK_DELIVERIES, move |conn| {
            if limit == 0 {
                return Ok(Vec::new());
            }
            let rows = match conn {
                DbConnection::Pg(pg) => claim_on_postgres(pg, now, limit, lease_end)?,
                DbConnection::Sqlite(_) => claim_on_sqlite(conn, now, limit, lease_end)?,
            };
            rows_into(rows, WebhookDeliveryRow::into_domain)
        })
        .await
    }

    async fn finish_webhook_delivery(&self, attempt: &WebhookAttempt) -> Result<(), StoreError> {
        use crate::schema::webhook_deliveries::dsl as d;
        use crate::schema::webhook_endpoints::dsl as w;
        let endpoint_id = id_text(attempt.endpoint_id.as_uuid());
        let id = id_text(attempt.delivery_id.as_uuid());
        let at = to_nanos(attempt.attempted_at)?;
        let (status, retry_at) = match attempt.outcome {
            WebhookOutcome::Succeeded => ("succeeded", None),
            WebhookOutcome::Retry(when) => ("pending", Some(to_nanos(when)?)),
            WebhookOutcome::Failed => ("failed", None),
        };
        let succeeded = attempt.outcome == WebhookOutcome::Succeeded;
        let response_status = attempt.response_status.map(i32::from);
        let duration = i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX);
        let error = attempt.error.clone();
        let notice = attempt
            .disable
            .as_ref()
            .map(|n| (id_text(n.event_id.as_uuid()), n.payload.clone()));
        self.run(op::FINISH_WEBHOOK_DELIVERY, move |conn| {
            write_unit(conn, |conn| {
                let changed = diesel::update(
                    d::webhook_deliveries
                        .filter(d::endpoint_id.eq(&endpoint_id))
                        .filter(d::id.eq(&id)),
                )
                .set((
                    d::status.eq(status),
                    d::next_attempt_at.eq(diesel::dsl::sql::<BigInt>("COALESCE(")
                        .bind::<Nullable<BigInt>, _>(retry_at)
                        .sql(", next_attempt_at)")),
                    d::response_status.eq(response_status),
                    d::duration_ms.eq(Some(duration)),
                    d::attempted_at.eq(Some(at)),
                    d::last_error.eq(&error),
                ))
                .execute(conn)?;
                changed_one(changed)?;
                let health = w::webhook_endpoints.filter(w::id.eq(&endpoint_id));
                if succeeded {
                    diesel::update(health)
                        .set(w::failing_since.eq(None::<i64>))
                        .execute(conn)?;
                } else {
                    diesel::update(health.filter(w::failing_since.is_null()))
                        .set(w::failing_since.eq(Some(at)))
                        .execute(conn)?;
                }
                if let Some((notice_id, payload)) = &notice {
                    let disabled = diesel::update(
                        w::webhook_endpoints
                            .filter(w::id.eq(&endpoint_id))
                            .filter(w::enabled.eq(true)),
                    )
                    .set((w::enabled.eq(false), w::updated_at.eq(at)))
                    .execute(conn)?;
                    if disabled == 1 {
                        let Some(stored) = endpoint_row(conn, &endpoint_id)? else {
                            return Ok(());
                        };
                        match conn {
                            DbConnection::Pg(pg) => {
                                diesel::sql_query(queue_notice_sql("$"))
                                    .bind::<Text, _>(notice_id)
                                    .bind::<Text, _>(payload)
                                    .bind::<BigInt, _>(at)
                                    .bind::<Text, _>(&stored.business_id)
                                    .bind::<Text, _>(&endpoint_id)
                                    .execute(pg)?;
                            }
                            DbConnection::Sqlite(lite) => {
                                diesel::sql_query(queue_notice_sql("?"))
                                    .bind::<Text, _>(notice_id)
                                    .bind::<Text, _>(payload)
                                    .bind::<BigInt, _>(at)
                                    .bind::<Text, _>(&stored.business_id)
                                    .bind::<Text, _>(&endpoint_id)
                                    .execute(lite)?;
                            }
                        }
                    }
                }
                Ok(())
            })
        })
        .await
    }

    async fn release_webhook_deliveries(
        &self,
        deliveries: &[WebhookDelivery],
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        use crate::schema::webhook_deliveries::dsl as d;
        let claims = deliveries
            .iter()
            .map(|delivery| {
                Ok((
                    id_text(delivery.endpoint_id.as_uuid()),
                    id_text(delivery.id.as_uuid()),
                    to_nanos(delivery.next_attempt_at)?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let now = to_nanos(now)?;
        if claims.is_empty() {
            return Ok(0);
        }
        self.run(op::RELEASE_WEBHOOK_DELIVERIES, move |conn| {
            write_unit(conn, |conn| {
                let mut released = 0u64;
                for (endpoint, id, lease_end) in &claims {
                    let changed = diesel::update(
                        d::webhook_deliveries
                            .filter(d::endpoint_id.eq(endpoint))
                            .filter(d::id.eq(id))
                            .filter(sql::<Bool>("webhook_deliveries.status = 'pending'"))
                            .filter(d::next_attempt_at.eq(*lease_end)),
                    )
                    .set((d::next_attempt_at.eq(now), d::attempts.eq(d::attempts - 1)))
                    .execute(conn)?;
                    released += u64::try_from(changed).unwrap_or(0);
                }
                Ok(released)
            })
        })
        .await
    }

    async fn webhook_outbox_depth(&self) -> Result<u64, StoreError> {
        self.run(op::WEBHOOK_OUTBOX_DEPTH, |conn| {
            let pending: i64 = webhook_deliveries::table
                .filter(sql::<Bool>("webhook_deliveries.status = 'pending'"))
                .count()
                .get_result(conn)?;
            Ok(u64::try_from(pending).unwrap_or(0))
        })
        .await
    }
}
