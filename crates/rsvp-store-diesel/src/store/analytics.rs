//! The [`rsvp_app::AnalyticsStore`] role of [`DieselStore`]: the funnel as
//! one statement on each backend, over the range of
//! `invitations_sent_keyset_idx (business_id, created_at, id)`, and the
//! first page view as one conditional update.
//!
//! The median time to answer is the database's: on PostgreSQL the lower and
//! the upper middle value (`percentile_disc(0.5)` in both orders, exact on
//! `bigint`, where `percentile_cont` would round through a double); on
//! SQLite, which has no percentile, the same two values read with
//! `ORDER BY ... LIMIT 1 OFFSET` the middle positions of the count. Both
//! give the mean of the two truncated, as the port defines it.

#[allow(clippy::wildcard_imports)]
use super::*;
use rsvp_app::{AnalyticsStore, FunnelQuery, InvitationFunnel};

/// `$t`'s invitations of the business `$1` created in `[$2, $3)`: the
/// range of `invitations_sent_keyset_idx`.
macro_rules! in_range {
    ($t:literal) => {
        concat!(
            $t,
            ".business_id = $1 AND ",
            $t,
            ".created_at >= $2 AND ",
            $t,
            ".created_at < $3"
        )
    };
}

/// `$t` is answered: accepted or declined, with its answer's time.
macro_rules! answered {
    ($t:literal) => {
        concat!(
            $t,
            ".status IN ('accepted', 'rejected') AND ",
            $t,
            ".resolved_at IS NOT NULL"
        )
    };
}

/// The counts both backends select alike (`$4`: now, for the pending
/// invitations that read as expired).
macro_rules! counts {
    () => {
        concat!(
            "SELECT count(*) AS created, ",
            "count(CASE WHEN COALESCE(invitations.email_feedback, invitations.email_delivery) ",
            "IN ('sent', 'delivered', 'bounced', 'complained') THEN 1 END) AS sent, ",
            "count(CASE WHEN invitations.email_feedback = 'delivered' THEN 1 END) AS delivered, ",
            "count(CASE WHEN invitations.email_feedback = 'bounced' THEN 1 END) AS bounced, ",
            "count(CASE WHEN invitations.email_feedback = 'complained' THEN 1 END) AS complained, ",
            "count(invitations.page_viewed_at) AS page_viewed, ",
            "count(CASE WHEN invitations.status = 'accepted' THEN 1 END) AS accepted, ",
            "count(CASE WHEN invitations.status = 'rejected' THEN 1 END) AS declined, ",
            "count(CASE WHEN invitations.status = 'cancelled' THEN 1 END) AS cancelled, ",
            "count(CASE WHEN invitations.status = 'expired' ",
            "OR (invitations.status = 'pending' AND invitations.expires_at <= $4) THEN 1 END) AS expired, "
        )
    };
}

/// The funnel on PostgreSQL: one pass over the index range.
const PG_FUNNEL: &str = concat!(
    counts!(),
    "(percentile_disc(0.5) WITHIN GROUP (ORDER BY invitations.resolved_at - invitations.created_at) ",
    "FILTER (WHERE ",
    answered!("invitations"),
    ") + percentile_disc(0.5) WITHIN GROUP (ORDER BY invitations.resolved_at - invitations.created_at DESC) ",
    "FILTER (WHERE ",
    answered!("invitations"),
    ")) / 2 AS median_nanos FROM invitations WHERE ",
    in_range!("invitations")
);

/// The answer time at the position `$offset` (an expression of `n`, the
/// count of answered invitations) in ascending order, on SQLite.
macro_rules! sqlite_middle {
    ($offset:literal) => {
        concat!(
            "(SELECT answered.resolved_at - answered.created_at FROM invitations AS answered WHERE ",
            in_range!("answered"),
            " AND ",
            answered!("answered"),
            " ORDER BY 1 LIMIT 1 OFFSET (SELECT ",
            $offset,
            " FROM invitations AS n WHERE ",
            in_range!("n"),
            " AND ",
            answered!("n"),
            "))"
        )
    };
}

/// The funnel on SQLite: the counts in one pass, the two middle values by
/// position (none when nothing was answered, so the median is NULL).
const SQLITE_FUNNEL: &str = concat!(
    counts!(),
    "(",
    sqlite_middle!("(count(*) - 1) / 2"),
    " + ",
    sqlite_middle!("count(*) / 2"),
    ") / 2 AS median_nanos FROM invitations WHERE ",
    in_range!("invitations")
);

#[derive(QueryableByName)]
struct FunnelRow {
    #[diesel(sql_type = BigInt)]
    created: i64,
    #[diesel(sql_type = BigInt)]
    sent: i64,
    #[diesel(sql_type = BigInt)]
    delivered: i64,
    #[diesel(sql_type = BigInt)]
    bounced: i64,
    #[diesel(sql_type = BigInt)]
    complained: i64,
    #[diesel(sql_type = BigInt)]
    page_viewed: i64,
    #[diesel(sql_type = BigInt)]
    accepted: i64,
    #[diesel(sql_type = BigInt)]
    declined: i64,
    #[diesel(sql_type = BigInt)]
    cancelled: i64,
    #[diesel(sql_type = BigInt)]
    expired: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    median_nanos: Option<i64>,
}

impl FunnelRow {
    fn into_funnel(self) -> InvitationFunnel {
        // A count is never negative; 0 would only hide a driver's nonsense.
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        InvitationFunnel {
            created: count(self.created),
            sent: count(self.sent),
            delivered: count(self.delivered),
            bounced: count(self.bounced),
            complained: count(self.complained),
            page_viewed: count(self.page_viewed),
            accepted: count(self.accepted),
            declined: count(self.declined),
            cancelled: count(self.cancelled),
            expired: count(self.expired),
            median_nanos_to_answer: self.median_nanos,
        }
    }
}

#[async_trait]
impl AnalyticsStore for DieselStore {
    async fn invitation_funnel(
        &self,
        business: BusinessId,
        query: &FunnelQuery,
    ) -> Result<InvitationFunnel, StoreError> {
        let business = id_text(business.as_uuid());
        let (from, to, now) = (bound_nanos(query.from), bound_nanos(query.to), bound_nanos(query.now));
        self.run(op::INVITATION_FUNNEL, move |conn| {
            let row: FunnelRow = match conn {
                DbConnection::Pg(pg) => diesel::sql_query(PG_FUNNEL)
                    .bind::<Text, _>(&business)
                    .bind::<BigInt, _>(from)
                    .bind::<BigInt, _>(to)
                    .bind::<BigInt, _>(now)
                    .get_result(pg)?,
                DbConnection::Sqlite(lite) => diesel::sql_query(SQLITE_FUNNEL.replace('$', "?"))
                    .bind::<Text, _>(&business)
                    .bind::<BigInt, _>(from)
                    .bind::<BigInt, _>(to)
                    .bind::<BigInt, _>(now)
                    .get_result(lite)?,
            };
            Ok(row.into_funnel())
        })
        .await
    }

    async fn record_page_view(&self, invitation: InvitationId, at: OffsetDateTime) -> Result<bool, StoreError> {
        let id = id_text(invitation.as_uuid());
        let at = to_nanos(at)?;
        self.run(op::RECORD_PAGE_VIEW, move |conn| {
            let changed = diesel::update(invitations::table)
                .filter(invitations::id.eq(&id))
                .filter(invitations::page_viewed_at.is_null())
                .set(invitations::page_viewed_at.eq(at))
                .execute(conn)?;
            Ok(changed == 1)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_statements_bind_the_same_four_parameters_and_only_those() {
        for sql in [PG_FUNNEL, SQLITE_FUNNEL] {
            for n in 1..=4 {
                assert!(sql.contains(&format!("${n}")), "${n} in {sql}");
            }
            assert!(!sql.contains("$5"), "{sql}");
        }
    }
}
