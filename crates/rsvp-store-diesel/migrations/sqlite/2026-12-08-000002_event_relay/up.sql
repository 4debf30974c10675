-- The relay of the event log to an event bus (issue 23): each event's place
-- in commit order, and the relay's cursor and lease (docs/DECISIONS.md).
--
-- SQLite has one writer (the store's writer thread), so the order events
-- are written in is the order they commit in. relay_seq holds it: an
-- INTEGER PRIMARY KEY AUTOINCREMENT is the rowid itself, kept by VACUUM
-- (an implicit rowid may be renumbered) and never reused. SQLite cannot add
-- such a column, so the table is rebuilt (nothing references it); the id
-- stays unique, and the events written before keep their order.

CREATE TABLE events_rebuilt (
    relay_seq INTEGER PRIMARY KEY AUTOINCREMENT,
    -- UUIDv7: ids grow with time, events are listed in id order.
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    -- The invitation concerned, or NULL for a join link's event.
    invitation_id TEXT REFERENCES invitations (id),
    business_id TEXT NOT NULL REFERENCES businesses (id),
    invitee_business_id TEXT REFERENCES businesses (id),
    occurred_at INTEGER NOT NULL,
    -- JSON
    data TEXT NOT NULL,
    join_link_id TEXT REFERENCES join_links (id)
) STRICT;
INSERT INTO events_rebuilt (id, kind, invitation_id, business_id, invitee_business_id, occurred_at, data, join_link_id)
    SELECT id, kind, invitation_id, business_id, invitee_business_id, occurred_at, data, join_link_id
    FROM events ORDER BY rowid;
DROP TABLE events;
ALTER TABLE events_rebuilt RENAME TO events;
CREATE INDEX events_business_keyset_idx ON events (business_id, id);
CREATE INDEX events_invitee_keyset_idx ON events (invitee_business_id, id);

-- One row per relay (name 'events'), written by the relay's first lease:
-- the last event published (NULL: none yet) and who holds the lease, until
-- when (nanoseconds since the epoch, as every time here).
CREATE TABLE event_relay (
    name TEXT PRIMARY KEY NOT NULL,
    last_event_id TEXT REFERENCES events (id),
    holder TEXT,
    lease_until INTEGER
) STRICT;
