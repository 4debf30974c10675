//! The facts of a new invitation ([`CreateOutcome::Refused`](rsvp_app::CreateOutcome::Refused)):
//! the invitee user, the connection, the pending invitation and the strongest suppression
//! of a new invitation's email in one statement (one round trip on
//! PostgreSQL), written once for both backends (`$n` parameters on
//! PostgreSQL, `?n` on SQLite).

use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};

use crate::connection::DbConnection;
use crate::rows::UserRow;

/// `$1` is the sending business, `$2` the normalized email. The connection
/// is looked up in both orders of the pair (no text ordering involved, so
/// no collation question); `status = 'pending'` is a literal so that the
/// partial unique index answers.
const SQL: &str = "\
SELECT u.id, u.business_id, u.email, u.email_normalized, u.first_name, u.last_name, u.created_at, \
       u.deactivated_at, u.external_id, \
       CASE WHEN u.id IS NULL OR u.business_id = $1 THEN FALSE ELSE EXISTS (\
           SELECT 1 FROM connections c \
           WHERE (c.business_low = u.business_id AND c.business_high = $1) \
              OR (c.business_low = $1 AND c.business_high = u.business_id)) END AS connected, \
       EXISTS (SELECT 1 FROM invitations i \
               WHERE i.business_id = $1 AND i.email_normalized = $2 AND i.status = 'pending') AS pending, \
       (SELECT s.reason FROM suppressions s \
        WHERE s.email_normalized = $2 AND (s.business_id IS NULL OR s.business_id = $1) \
        ORDER BY CASE s.reason WHEN 'bounce' THEN 0 WHEN 'complaint' THEN 1 ELSE 2 END LIMIT 1) AS suppressed \
FROM (SELECT 1 AS one) AS one LEFT JOIN users u ON u.email_normalized = $2";

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Nullable<Text>)]
    id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    business_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    email: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    email_normalized: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    first_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    last_name: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    created_at: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    deactivated_at: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    external_id: Option<String>,
    #[diesel(sql_type = Bool)]
    connected: bool,
    #[diesel(sql_type = Bool)]
    pending: bool,
    /// The strongest reason among the suppressions (as
    /// `SuppressionReason::strongest` orders them).
    #[diesel(sql_type = Nullable<Text>)]
    suppressed: Option<String>,
}

/// What the statement found.
pub(crate) struct ContextRow {
    pub(crate) invitee: Option<UserRow>,
    pub(crate) connected: bool,
    pub(crate) pending: bool,
    pub(crate) suppressed: Option<String>,
}

pub(crate) fn read(conn: &mut DbConnection, business: &str, normalized: &str) -> diesel::QueryResult<ContextRow> {
    let row: Row = match conn {
        DbConnection::Pg(pg) => diesel::sql_query(SQL)
            .bind::<Text, _>(business)
            .bind::<Text, _>(normalized)
            .get_result(pg)?,
        DbConnection::Sqlite(lite) => diesel::sql_query(SQL.replace('$', "?"))
            .bind::<Text, _>(business)
            .bind::<Text, _>(normalized)
            .get_result(lite)?,
    };
    let invitee = match (row.id, row.business_id, row.email, row.email_normalized, row.created_at) {
        (Some(id), Some(business_id), Some(email), Some(email_normalized), Some(created_at)) => Some(UserRow {
            id,
            business_id,
            email,
            email_normalized,
            first_name: row.first_name,
            last_name: row.last_name,
            created_at,
            deactivated_at: row.deactivated_at,
            external_id: row.external_id,
        }),
        _ => None,
    };
    Ok(ContextRow {
        invitee,
        connected: row.connected,
        pending: row.pending,
        suppressed: row.suppressed,
    })
}
