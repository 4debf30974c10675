DROP TABLE event_relay;

CREATE TABLE events_rebuilt (
    -- UUIDv7: ids grow with time, events are listed in id order.
    id TEXT PRIMARY KEY NOT NULL,
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
    FROM events ORDER BY relay_seq;
DROP TABLE events;
ALTER TABLE events_rebuilt RENAME TO events;
CREATE INDEX events_business_keyset_idx ON events (business_id, id);
CREATE INDEX events_invitee_keyset_idx ON events (invitee_business_id, id);
