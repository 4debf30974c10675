//! The port methods of join links and connection requests. A redemption and
//! an answer are each one write unit: on PostgreSQL the link's (or the
//! request's) row is locked first (`FOR UPDATE`), so the redemptions of one
//! link, and a revocation with them, run one after another and their counts
//! are exact; on SQLite the one writer serializes them already. The unique
//! indexes (one connection per pair, one pending request per business and
//! link) and the `uses <= max_uses` check are the last guards.

use rsvp_app::{JoinLinkStore, RedeemRecord, Redemption, RequestAnswerRecord, RequestSide};
use rsvp_domain::{
    ConnectionRequest, ConnectionRequestId, ConnectionRequestStatus, JoinFacts, JoinLink, JoinLinkId, JoinRefusal,
    ordered_pair,
};

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::rows::{ConnectionRequestRow, JoinLinkRow};
use crate::schema::{connection_requests, join_links};

/// The link whose token hashes to `hash`, its row locked on PostgreSQL.
fn lock_link_by_token(conn: &mut DbConnection, hash: &str) -> Unit<Option<JoinLinkRow>> {
    // A macro, not a value: `as_select` is typed by the backend it runs on.
    macro_rules! query {
        () => {
            join_links::table
                .filter(join_links::token_hash.eq(hash.to_owned()))
                .select(JoinLinkRow::as_select())
        };
    }
    Ok(match conn {
        DbConnection::Pg(pg) => query!().for_update().first(pg).optional()?,
        DbConnection::Sqlite(lite) => query!().first(lite).optional()?,
    })
}

/// The request `id` on `business`'s links, its row locked on PostgreSQL.
fn lock_request(conn: &mut DbConnection, id: &str, business: &str) -> Unit<Option<ConnectionRequestRow>> {
    macro_rules! query {
        () => {
            connection_requests::table
                .filter(connection_requests::id.eq(id.to_owned()))
                .filter(connection_requests::business_id.eq(business.to_owned()))
                .select(ConnectionRequestRow::as_select())
        };
    }
    Ok(match conn {
        DbConnection::Pg(pg) => query!().for_update().first(pg).optional()?,
        DbConnection::Sqlite(lite) => query!().first(lite).optional()?,
    })
}

/// The connection of the pair, if any.
fn connection_of_pair(conn: &mut DbConnection, a: BusinessId, b: BusinessId) -> Unit<Option<ConnectionRow>> {
    let (low, high) = ordered_pair(a, b);
    Ok(connections::table
        .filter(connections::business_low.eq(id_text(low.as_uuid())))
        .filter(connections::business_high.eq(id_text(high.as_uuid())))
        .select(ConnectionRow::as_select())
        .first(conn)
        .optional()?)
}

fn link_row_by_id(conn: &mut DbConnection, id: &str) -> Unit<Option<JoinLinkRow>> {
    Ok(join_links::table
        .filter(join_links::id.eq(id.to_owned()))
        .select(JoinLinkRow::as_select())
        .first(conn)
        .optional()?)
}

/// Writes a connection; a pair connected meanwhile is the refusal `AlreadyConnected`.
fn insert_connection(conn: &mut DbConnection, connection: &DomainConnection) -> Unit<()> {
    diesel::insert_into(connections::table)
        .values(ConnectionRow::from_domain(connection)?)
        .execute(conn)
        .map_err(unique_is(StoreError::JoinRefused(JoinRefusal::AlreadyConnected)))?;
    Ok(())
}

fn redeem(conn: &mut DbConnection, record: &RedeemRecord) -> Unit<Redemption> {
    let row = lock_link_by_token(conn, &record.token_hash.to_hex())?.ok_or(StoreError::NotFound)?;
    let mut link = row.into_domain()?;
    let link_id = id_text(link.id.as_uuid());
    let redeemer = id_text(record.redeemer.as_uuid());
    let pending: i64 = connection_requests::table
        .filter(connection_requests::join_link_id.eq(&link_id))
        .filter(connection_requests::requester_business_id.eq(&redeemer))
        .filter(connection_requests::status.eq(ConnectionRequestStatus::Pending.as_str()))
        .count()
        .get_result(conn)?;
    let facts = JoinFacts {
        connected: connection_of_pair(conn, link.business_id, record.redeemer)?.is_some(),
        requested: pending > 0,
    };
    link.redeem(record.redeemer, facts, record.now)
        .map_err(StoreError::JoinRefused)?;
    let uses = i32::try_from(link.uses).map_err(|e| StoreError::Unavailable(format!("join_links.uses: {e}")))?;
    diesel::update(join_links::table.filter(join_links::id.eq(&link_id)))
        .set(join_links::uses.eq(uses))
        .execute(conn)?;
    let (redemption, events) = record.outcome(link);
    match &redemption {
        Redemption::Connected { connection, .. } => insert_connection(conn, connection)?,
        Redemption::Requested { request, .. } => {
            diesel::insert_into(connection_requests::table)
                .values(ConnectionRequestRow::from_domain(request)?)
                .execute(conn)
                .map_err(unique_is(StoreError::JoinRefused(JoinRefusal::AlreadyRequested)))?;
        }
    }
    for event in &events {
        webhooks::insert_event(conn, &EventRow::from_domain(event)?)?;
    }
    Ok(redemption)
}

fn answer(
    conn: &mut DbConnection,
    record: &RequestAnswerRecord,
) -> Unit<(ConnectionRequest, Option<DomainConnection>)> {
    let business = id_text(record.business.as_uuid());
    let request = lock_request(conn, &id_text(record.request_id.as_uuid()), &business)?
        .ok_or(StoreError::NotFound)?
        .into_domain()?;
    let existing = connection_of_pair(conn, request.business_id, request.requester_business_id)?
        .map(ConnectionRow::into_domain)
        .transpose()?;
    let outcome = record.outcome(&request, existing)?;
    if let Some(connection) = outcome.connection.as_ref().filter(|_| outcome.connection_is_new) {
        // The request points at the connection: write it first (the request
        // was read under its lock, so it is still pending here).
        insert_connection(conn, connection)?;
    }
    let answered = &outcome.request;
    let changed = diesel::update(
        connection_requests::table
            .filter(connection_requests::id.eq(id_text(answered.id.as_uuid())))
            .filter(connection_requests::status.eq(ConnectionRequestStatus::Pending.as_str())),
    )
    .set((
        connection_requests::status.eq(answered.status.as_str()),
        connection_requests::resolved_at.eq(answered.resolved_at.map(bound_nanos)),
        connection_requests::connection_id.eq(answered.connection_id.map(|id| id_text(id.as_uuid()))),
    ))
    .execute(conn)?;
    if changed == 0 {
        // Answered between the read and the write (only where rows are not locked).
        let current = connection_requests::table
            .filter(connection_requests::id.eq(id_text(answered.id.as_uuid())))
            .select(connection_requests::status)
            .first::<String>(conn)?;
        let current = current
            .parse::<ConnectionRequestStatus>()
            .map_err(|e| crate::rows::corrupt("connection_requests.status", e))?;
        return Err(StoreError::RequestAnswered { current }.into());
    }
    for event in &outcome.events {
        webhooks::insert_event(conn, &EventRow::from_domain(event)?)?;
    }
    if answered.status == ConnectionRequestStatus::Declined {
        diesel::update(
            join_links::table
                .filter(join_links::id.eq(id_text(request.join_link_id.as_uuid())))
                .filter(join_links::uses.gt(0)),
        )
        .set(join_links::uses.eq(join_links::uses - 1))
        .execute(conn)?;
    }
    Ok((outcome.request, outcome.connection))
}

#[async_trait]
impl JoinLinkStore for DieselStore {
    async fn insert_join_link(&self, link: &JoinLink, token_hash: &SecretHash) -> Result<(), StoreError> {
        let row = JoinLinkRow::from_domain(link, token_hash)?;
        self.run(op::INSERT_JOIN_LINK, move |conn| {
            write_unit(conn, |conn| {
                diesel::insert_into(join_links::table).values(&row).execute(conn)?;
                Ok(())
            })
        })
        .await
    }

    async fn get_join_link(&self, id: JoinLinkId) -> Result<Option<JoinLink>, StoreError> {
        let id = id_text(id.as_uuid());
        self.run(op::GET_JOIN_LINK, move |conn| {
            Ok(link_row_by_id(conn, &id)?.map(JoinLinkRow::into_domain).transpose()?)
        })
        .await
    }

    async fn find_join_link_by_token(&self, token_hash: &SecretHash) -> Result<Option<JoinLink>, StoreError> {
        let hash = token_hash.to_hex();
        self.run(op::FIND_JOIN_LINK_BY_TOKEN, move |conn| {
            let row: Option<JoinLinkRow> = join_links::table
                .filter(join_links::token_hash.eq(hash))
                .select(JoinLinkRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(JoinLinkRow::into_domain).transpose()?)
        })
        .await
    }

    async fn list_join_links(&self, business: BusinessId, page: &PageRequest) -> Result<Page<JoinLink>, StoreError> {
        let business = id_text(business.as_uuid());
        let page = *page;
        self.run(op::LIST_JOIN_LINKS, move |conn| {
            let q = join_links::table
                .filter(join_links::business_id.eq(business))
                .select(JoinLinkRow::as_select())
                .into_boxed::<MultiBackend>();
            let rows: Vec<JoinLinkRow> = newest_first_page!(q, join_links, page.after, page.limit).load(conn)?;
            domain_page(rows, JoinLinkRow::into_domain, page.limit, |l: &JoinLink| Cursor {
                created_at: l.created_at,
                id: l.id.as_uuid(),
            })
        })
        .await
    }

    async fn revoke_join_link(
        &self,
        business: BusinessId,
        id: JoinLinkId,
        now: OffsetDateTime,
    ) -> Result<JoinLink, StoreError> {
        let business = id_text(business.as_uuid());
        let id = id_text(id.as_uuid());
        let now = bound_nanos(now);
        self.run(op::REVOKE_JOIN_LINK, move |conn| {
            write_unit(conn, |conn| {
                // A revoked link keeps its first revocation time.
                diesel::update(
                    join_links::table
                        .filter(join_links::id.eq(&id))
                        .filter(join_links::business_id.eq(&business))
                        .filter(join_links::revoked_at.is_null()),
                )
                .set(join_links::revoked_at.eq(now))
                .execute(conn)?;
                let row = link_row_by_id(conn, &id)?.filter(|row| row.business_id == business);
                Ok(row.ok_or(StoreError::NotFound)?.into_domain()?)
            })
        })
        .await
    }

    async fn redeem_join_link(&self, record: &RedeemRecord) -> Result<Redemption, StoreError> {
        let record = record.clone();
        self.run(op::REDEEM_JOIN_LINK, move |conn| {
            write_unit(conn, |conn| redeem(conn, &record))
        })
        .await
    }

    async fn get_connection_request(&self, id: ConnectionRequestId) -> Result<Option<ConnectionRequest>, StoreError> {
        let id = id_text(id.as_uuid());
        self.run(op::GET_CONNECTION_REQUEST, move |conn| {
            let row: Option<ConnectionRequestRow> = connection_requests::table
                .filter(connection_requests::id.eq(id))
                .select(ConnectionRequestRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(ConnectionRequestRow::into_domain).transpose()?)
        })
        .await
    }

    async fn list_connection_requests(
        &self,
        business: BusinessId,
        side: RequestSide,
        page: &PageRequest,
    ) -> Result<Page<ConnectionRequest>, StoreError> {
        let business = id_text(business.as_uuid());
        let page = *page;
        self.run(op::LIST_CONNECTION_REQUESTS, move |conn| {
            let mut q = connection_requests::table
                .select(ConnectionRequestRow::as_select())
                .into_boxed::<MultiBackend>();
            q = match side {
                RequestSide::Received => q.filter(connection_requests::business_id.eq(business)),
                RequestSide::Sent => q.filter(connection_requests::requester_business_id.eq(business)),
            };
            let rows: Vec<ConnectionRequestRow> =
                newest_first_page!(q, connection_requests, page.after, page.limit).load(conn)?;
            domain_page(
                rows,
                ConnectionRequestRow::into_domain,
                page.limit,
                |r: &ConnectionRequest| Cursor {
                    created_at: r.created_at,
                    id: r.id.as_uuid(),
                },
            )
        })
        .await
    }

    async fn answer_connection_request(
        &self,
        record: &RequestAnswerRecord,
    ) -> Result<(ConnectionRequest, Option<DomainConnection>), StoreError> {
        let record = record.clone();
        self.run(op::ANSWER_CONNECTION_REQUEST, move |conn| {
            write_unit(conn, |conn| answer(conn, &record))
        })
        .await
    }
}
