//! The port methods of the event relay: the event log in commit order, the
//! relay's cursor and its lease, PostgreSQL and SQLite side by side.
//!
//! The order (docs/DECISIONS.md): on PostgreSQL `(relay_tx, relay_seq)`,
//! the writing transaction's id and a sequence number, both column
//! defaults, read only below `pg_snapshot_xmin(pg_current_snapshot())`
//! (every transaction below it has ended, so nothing can still be placed
//! before what is read); on SQLite `relay_seq`, the rowid, since the one
//! writer commits in the order it writes. The cursor is the id of the last
//! event published; its place is looked up in the same order. The lease is
//! the `event_relay` row's holder and end, taken by one conditional upsert.

#[allow(clippy::wildcard_imports)]
use super::*;
use rsvp_app::{EventRelayStore, RelayCursor, RelayLag};

use crate::rows::{from_nanos, parse_id};
use crate::schema::event_relay;

/// The relay's row.
const RELAY: &str = "events";

/// Runs the SQL `$sql` (written with PostgreSQL's `$1` placeholders, which
/// SQLite reads as `?1`) on either backend, binding the values in order.
macro_rules! on_either {
    ($conn:expr, $sql:expr, $method:ident $(, $ty:ty => $value:expr)* $(,)?) => {
        match $conn {
            DbConnection::Pg(pg) => diesel::sql_query($sql)$(.bind::<$ty, _>($value))*.$method(pg),
            DbConnection::Sqlite(lite) => {
                diesel::sql_query($sql.replace('$', "?"))$(.bind::<$ty, _>($value))*.$method(lite)
            }
        }
    };
}

/// `SELECT` of the columns of [`EventRow`] `FROM events`, followed by `$rest`.
macro_rules! select_events {
    ($rest:literal) => {
        concat!(
            "SELECT events.id, events.kind, events.invitation_id, events.business_id, ",
            "events.invitee_business_id, events.occurred_at, events.data, events.join_link_id FROM events ",
            $rest
        )
    };
}

/// The events after the place of the event `$1`, at most `$2`, on
/// PostgreSQL: only those whose transaction and every one before it ended.
const PG_EVENTS_AFTER: &str = select_events!(
    "WHERE events.relay_tx < pg_snapshot_xmin(pg_current_snapshot()) \
     AND (events.relay_tx, events.relay_seq) > \
         (SELECT mark.relay_tx, mark.relay_seq FROM events AS mark WHERE mark.id = $1) \
     ORDER BY events.relay_tx, events.relay_seq LIMIT $2"
);

/// The same from the first event.
const PG_EVENTS_FROM_START: &str = select_events!(
    "WHERE events.relay_tx < pg_snapshot_xmin(pg_current_snapshot()) \
     ORDER BY events.relay_tx, events.relay_seq LIMIT $1"
);

/// The events after the place of the event `?1`, at most `?2`, on SQLite.
const SQLITE_EVENTS_AFTER: &str = select_events!(
    "WHERE events.relay_seq > (SELECT mark.relay_seq FROM events AS mark WHERE mark.id = ?1) \
     ORDER BY events.relay_seq LIMIT ?2"
);

/// The same from the first event (`relay_seq` counts from 1: a range of
/// the rowid, not a scan of the table).
const SQLITE_EVENTS_FROM_START: &str = select_events!("WHERE events.relay_seq > 0 ORDER BY events.relay_seq LIMIT ?1");

/// Takes or renews the lease: `$1` holder, `$2` its end, `$3` now.
const TAKE_LEASE: &str = "INSERT INTO event_relay (name, last_event_id, holder, lease_until) \
     VALUES ('events', NULL, $1, $2) \
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until \
     WHERE event_relay.holder IS NULL OR event_relay.holder = excluded.holder OR event_relay.lease_until <= $3";

/// Moves the cursor to the event `$2` for the holder `$1`, forward only.
const PG_ADVANCE: &str = "UPDATE event_relay SET last_event_id = target.id FROM events AS target \
     WHERE event_relay.name = 'events' AND event_relay.holder = $1 AND target.id = $2 \
     AND (event_relay.last_event_id IS NULL OR (target.relay_tx, target.relay_seq) > \
         (SELECT prior.relay_tx, prior.relay_seq FROM events AS prior WHERE prior.id = event_relay.last_event_id))";

/// The same on SQLite.
const SQLITE_ADVANCE: &str = "UPDATE event_relay SET last_event_id = ?2 \
     WHERE event_relay.name = 'events' AND event_relay.holder = ?1 \
     AND (SELECT target.relay_seq FROM events AS target WHERE target.id = ?2) > \
         COALESCE((SELECT prior.relay_seq FROM events AS prior WHERE prior.id = event_relay.last_event_id), 0)";

/// How many events come after the place of the event `$1`, and when the
/// first of them occurred.
const PG_LAG_AFTER: &str = "SELECT \
     (SELECT count(*) FROM events \
      WHERE (events.relay_tx, events.relay_seq) > \
          (SELECT mark.relay_tx, mark.relay_seq FROM events AS mark WHERE mark.id = $1)) AS behind, \
     (SELECT events.occurred_at FROM events \
      WHERE (events.relay_tx, events.relay_seq) > \
          (SELECT mark.relay_tx, mark.relay_seq FROM events AS mark WHERE mark.id = $1) \
      ORDER BY events.relay_tx, events.relay_seq LIMIT 1) AS oldest";

/// The same from the first event.
const PG_LAG_FROM_START: &str = "SELECT (SELECT count(*) FROM events) AS behind, \
     (SELECT events.occurred_at FROM events ORDER BY events.relay_tx, events.relay_seq LIMIT 1) AS oldest";

/// The same on SQLite.
const SQLITE_LAG_AFTER: &str = "SELECT \
     (SELECT count(*) FROM events \
      WHERE events.relay_seq > (SELECT mark.relay_seq FROM events AS mark WHERE mark.id = ?1)) AS behind, \
     (SELECT events.occurred_at FROM events \
      WHERE events.relay_seq > (SELECT mark.relay_seq FROM events AS mark WHERE mark.id = ?1) \
      ORDER BY events.relay_seq LIMIT 1) AS oldest";

/// The same from the first event.
const SQLITE_LAG_FROM_START: &str = "SELECT (SELECT count(*) FROM events WHERE events.relay_seq > 0) AS behind, \
     (SELECT events.occurred_at FROM events WHERE events.relay_seq > 0 ORDER BY events.relay_seq LIMIT 1) AS oldest";

#[derive(QueryableByName)]
struct LagRow {
    #[diesel(sql_type = BigInt)]
    behind: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    oldest: Option<i64>,
}

#[derive(QueryableByName)]
struct Found {
    #[diesel(sql_type = Text)]
    #[allow(dead_code)]
    id: String,
}

#[async_trait]
impl EventRelayStore for DieselStore {
    async fn take_relay_lease(
        &self,
        holder: &str,
        now: OffsetDateTime,
        lease: time::Duration,
    ) -> Result<bool, StoreError> {
        let holder = holder.to_owned();
        let until = bound_nanos(now + lease);
        let now = bound_nanos(now);
        self.run(op::TAKE_RELAY_LEASE, move |conn| {
            let taken = on_either!(conn, TAKE_LEASE, execute, Text => &holder, BigInt => until, BigInt => now)?;
            Ok(taken == 1)
        })
        .await
    }

    async fn release_relay_lease(&self, holder: &str) -> Result<(), StoreError> {
        let holder = holder.to_owned();
        self.run(op::RELEASE_RELAY_LEASE, move |conn| {
            diesel::update(
                event_relay::table
                    .filter(event_relay::name.eq(RELAY))
                    .filter(event_relay::holder.eq(&holder)),
            )
            .set((
                event_relay::holder.eq(None::<String>),
                event_relay::lease_until.eq(None::<i64>),
            ))
            .execute(conn)?;
            Ok(())
        })
        .await
    }

    async fn relay_cursor(&self) -> Result<Option<RelayCursor>, StoreError> {
        self.run(op::RELAY_CURSOR, move |conn| {
            let last: Option<Option<String>> = event_relay::table
                .filter(event_relay::name.eq(RELAY))
                .select(event_relay::last_event_id)
                .first(conn)
                .optional()?;
            Ok(last
                .flatten()
                .map(|id| parse_id("event_relay.last_event_id", &id).map(RelayCursor::after))
                .transpose()?)
        })
        .await
    }

    async fn relay_events_after(&self, after: Option<RelayCursor>, limit: usize) -> Result<Vec<Event>, StoreError> {
        let after = after.map(|cursor| id_text(cursor.event_id().as_uuid()));
        let limit = saturating_limit(limit);
        self.run(op::RELAY_EVENTS_AFTER, move |conn| {
            read_unit(conn, |conn| {
                let on_pg = matches!(conn, DbConnection::Pg(_));
                let rows: Vec<EventRow> = match &after {
                    Some(after) => {
                        let sql = if on_pg { PG_EVENTS_AFTER } else { SQLITE_EVENTS_AFTER };
                        on_either!(conn, sql, load, Text => after, BigInt => limit)?
                    }
                    None => {
                        let sql = if on_pg {
                            PG_EVENTS_FROM_START
                        } else {
                            SQLITE_EVENTS_FROM_START
                        };
                        on_either!(conn, sql, load, BigInt => limit)?
                    }
                };
                if let (true, Some(after)) = (rows.is_empty(), &after) {
                    // A cursor on no event would read nothing for ever: say so.
                    let found: Vec<Found> =
                        on_either!(conn, "SELECT events.id FROM events WHERE events.id = $1", load, Text => after)?;
                    if found.is_empty() {
                        return Err(
                            StoreError::Unavailable(format!("the relay's cursor names no event ({after})")).into(),
                        );
                    }
                }
                rows_into(rows, EventRow::into_domain)
            })
        })
        .await
    }

    async fn advance_relay_cursor(&self, holder: &str, to: RelayCursor) -> Result<bool, StoreError> {
        let holder = holder.to_owned();
        let to = id_text(to.event_id().as_uuid());
        self.run(op::ADVANCE_RELAY_CURSOR, move |conn| {
            let sql = match conn {
                DbConnection::Pg(_) => PG_ADVANCE,
                DbConnection::Sqlite(_) => SQLITE_ADVANCE,
            };
            let moved = on_either!(conn, sql, execute, Text => &holder, Text => &to)?;
            Ok(moved == 1)
        })
        .await
    }

    async fn relay_lag(&self) -> Result<RelayLag, StoreError> {
        self.run(op::RELAY_LAG, move |conn| {
            read_unit(conn, |conn| {
                let last: Option<Option<String>> = event_relay::table
                    .filter(event_relay::name.eq(RELAY))
                    .select(event_relay::last_event_id)
                    .first(conn)
                    .optional()?;
                let on_pg = matches!(conn, DbConnection::Pg(_));
                let rows: Vec<LagRow> = match last.flatten() {
                    Some(after) => {
                        let sql = if on_pg { PG_LAG_AFTER } else { SQLITE_LAG_AFTER };
                        on_either!(conn, sql, load, Text => &after)?
                    }
                    None => {
                        let sql = if on_pg {
                            PG_LAG_FROM_START
                        } else {
                            SQLITE_LAG_FROM_START
                        };
                        on_either!(conn, sql, load)?
                    }
                };
                let row = rows.into_iter().next().unwrap_or(LagRow {
                    behind: 0,
                    oldest: None,
                });
                Ok(RelayLag {
                    events: u64::try_from(row.behind).unwrap_or(0),
                    oldest: row.oldest.map(|at| from_nanos("events.occurred_at", at)).transpose()?,
                })
            })
        })
        .await
    }
}
