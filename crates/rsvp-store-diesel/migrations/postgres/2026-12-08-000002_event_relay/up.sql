-- The relay of the event log to an event bus (issue 23): each event's place
-- in commit order, and the relay's cursor and lease (docs/DECISIONS.md).
--
-- relay_tx is the id of the transaction that wrote the event and relay_seq
-- a number drawn as it was written: both are defaults, so every path that
-- inserts an event (the store's statements, the procedure
-- rsvp_create_invitation) fills them without naming them. The relay reads
-- only events whose relay_tx is below the oldest transaction still running
-- (pg_snapshot_xmin(pg_current_snapshot())): every transaction below it has
-- ended, so no event can still be written before them in (relay_tx,
-- relay_seq) order, and a cursor in that order never skips an event whose
-- transaction commits late.
ALTER TABLE events ADD COLUMN relay_tx xid8 NOT NULL DEFAULT pg_current_xact_id();
ALTER TABLE events ADD COLUMN relay_seq BIGINT;
-- The events written before: in id order (UUIDv7, time order), all in this
-- migration's transaction.
UPDATE events SET relay_seq = numbered.n
    FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM events) AS numbered
    WHERE events.id = numbered.id;
CREATE SEQUENCE events_relay_seq_seq AS BIGINT OWNED BY events.relay_seq;
SELECT setval('events_relay_seq_seq', COALESCE((SELECT max(relay_seq) FROM events), 0) + 1, false);
ALTER TABLE events ALTER COLUMN relay_seq SET DEFAULT nextval('events_relay_seq_seq');
ALTER TABLE events ALTER COLUMN relay_seq SET NOT NULL;
CREATE UNIQUE INDEX events_relay_order_idx ON events (relay_tx, relay_seq);

-- One row per relay (name 'events'), written by the relay's first lease:
-- the last event published (NULL: none yet) and who holds the lease, until
-- when (nanoseconds since the epoch, as every time here).
CREATE TABLE event_relay (
    name TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    last_event_id TEXT COLLATE "C" REFERENCES events (id),
    holder TEXT,
    lease_until BIGINT
);
