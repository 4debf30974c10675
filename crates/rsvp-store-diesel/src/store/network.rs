//! The port methods of connections and events.

#[allow(clippy::wildcard_imports)]
use super::*;
use diesel::sql_types::Array;

/// Which of the pairs `($1[i], $2[i])` are connected, on PostgreSQL: one
/// lookup in `connections_one_per_pair` per pair (the `LIMIT 1` keeps each
/// a lookup of its own; see `PENDING_FOR_EMAILS` in `inviting.rs`), so the
/// cost follows the pairs asked about, not the business's connections.
const CONNECTED_PAIRS: &str = "SELECT c.business_low, c.business_high \
     FROM unnest($1::text[], $2::text[]) AS pair (low, high) \
     CROSS JOIN LATERAL (SELECT business_low, business_high FROM connections \
     WHERE connections.business_low = pair.low AND connections.business_high = pair.high LIMIT 1) AS c";

/// A row of [`CONNECTED_PAIRS`].
#[derive(QueryableByName)]
struct PairRow {
    #[diesel(sql_type = Text)]
    business_low: String,
    #[diesel(sql_type = Text)]
    business_high: String,
}

#[async_trait]
impl NetworkStore for DieselStore {
    async fn connected_among(
        &self,
        business: BusinessId,
        others: &[BusinessId],
    ) -> Result<Vec<BusinessId>, StoreError> {
        if others.is_empty() {
            return Ok(Vec::new());
        }
        // Pairs are stored (smaller id, larger id): the caller is on either side.
        let me = id_text(business.as_uuid());
        let (mine, others) = (me.clone(), others.to_vec());
        let rows: Vec<(String, String)> = self
            .run(op::CONNECTED_AMONG, move |conn| {
                Ok(match conn {
                    // One probe of the pair's unique index per other business.
                    DbConnection::Pg(pg) => {
                        let (lows, highs): (Vec<String>, Vec<String>) = others
                            .iter()
                            .map(|other| {
                                let (low, high) = rsvp_domain::ordered_pair(business, *other);
                                (id_text(low.as_uuid()), id_text(high.as_uuid()))
                            })
                            .unzip();
                        diesel::sql_query(CONNECTED_PAIRS)
                            .bind::<Array<Text>, _>(&lows)
                            .bind::<Array<Text>, _>(&highs)
                            .load::<PairRow>(pg)?
                            .into_iter()
                            .map(|pair| (pair.business_low, pair.business_high))
                            .collect()
                    }
                    DbConnection::Sqlite(_) => {
                        let others: Vec<String> = others.iter().map(|b| id_text(b.as_uuid())).collect();
                        connections::table
                            .filter(
                                connections::business_low
                                    .eq(&mine)
                                    .and(connections::business_high.eq_any(&others))
                                    .or(connections::business_high
                                        .eq(&mine)
                                        .and(connections::business_low.eq_any(&others))),
                            )
                            .select((connections::business_low, connections::business_high))
                            .load(conn)?
                    }
                })
            })
            .await?;
        rows.into_iter()
            .map(|(low, high)| {
                let other = if low == me { high } else { low };
                uuid::Uuid::try_parse(&other)
                    .map(BusinessId::from_uuid)
                    .map_err(|e| StoreError::Unavailable(format!("a stored business id is not a UUID: {e}")))
            })
            .collect()
    }

    async fn list_connections(
        &self,
        business: BusinessId,
        page: &PageRequest,
    ) -> Result<Page<DomainConnection>, StoreError> {
        let business = id_text(business.as_uuid());
        let page = *page;
        self.run(op::LIST_CONNECTIONS, move |conn| {
            // Two index range scans (one per end) merged, rather than one OR
            // that no index serves in order.
            let mut rows = read_unit(conn, |conn| {
                let mut rows = connections_at_one_end(conn, &business, true, &page)?;
                rows.extend(connections_at_one_end(conn, &business, false, &page)?);
                Ok(rows)
            })?;
            rows.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
            rows.dedup_by(|a, b| a.id == b.id);
            rows.truncate(page.limit.as_usize() + 1);
            domain_page(rows, ConnectionRow::into_domain, page.limit, |c: &DomainConnection| {
                Cursor {
                    created_at: c.created_at,
                    id: c.id.as_uuid(),
                }
            })
        })
        .await
    }

    async fn list_events(&self, business: BusinessId, query: &EventQuery) -> Result<Page<Event, EventId>, StoreError> {
        let business = id_text(business.as_uuid());
        let query = *query;
        self.run(op::LIST_EVENTS, move |conn| {
            let mut rows = read_unit(conn, |conn| {
                let mut rows = events_on_one_side(conn, &business, true, &query)?;
                rows.extend(events_on_one_side(conn, &business, false, &query)?);
                Ok(rows)
            })?;
            rows.sort_by(|a, b| a.id.cmp(&b.id));
            rows.dedup_by(|a, b| a.id == b.id);
            rows.truncate(query.limit.as_usize() + 1);
            domain_page(rows, EventRow::into_domain, query.limit, |e: &Event| e.id)
        })
        .await
    }

    async fn get_event(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        let id = id_text(id.as_uuid());
        self.run(op::GET_EVENT, move |conn| {
            read_unit(conn, |conn| {
                let row: Option<EventRow> = events::table
                    .filter(events::id.eq(&id))
                    .select(EventRow::as_select())
                    .first(conn)
                    .optional()?;
                Ok(row.map(EventRow::into_domain).transpose()?)
            })
        })
        .await
    }
}

/// Connections at one end (`inviter` or `invitee`) of `business`, newest first.
fn connections_at_one_end(
    conn: &mut DbConnection,
    business: &str,
    as_inviter: bool,
    page: &PageRequest,
) -> Unit<Vec<ConnectionRow>> {
    use crate::schema::connections::dsl as c;
    let mut query = c::connections
        .select(ConnectionRow::as_select())
        .into_boxed::<MultiBackend>();
    query = if as_inviter {
        query.filter(c::inviter_business_id.eq(business.to_owned()))
    } else {
        query.filter(c::invitee_business_id.eq(business.to_owned()))
    };
    Ok(newest_first_page!(query, connections, page.after, page.limit).load(conn)?)
}

/// Events on one side (`sender` or known `invitee`) of `business`, by id.
fn events_on_one_side(
    conn: &mut DbConnection,
    business: &str,
    as_sender: bool,
    query: &EventQuery,
) -> Unit<Vec<EventRow>> {
    use crate::schema::events::dsl as e;
    let mut q = e::events.select(EventRow::as_select()).into_boxed::<MultiBackend>();
    q = if as_sender {
        q.filter(e::business_id.eq(business.to_owned()))
    } else {
        q.filter(e::invitee_business_id.eq(business.to_owned()))
    };
    if let Some(after) = query.after {
        q = q.filter(e::id.gt(id_text(after.as_uuid())));
    }
    Ok(q.order(e::id.asc()).limit(overfetch(query.limit)).load(conn)?)
}
