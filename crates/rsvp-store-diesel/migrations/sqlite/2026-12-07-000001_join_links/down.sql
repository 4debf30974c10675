CREATE TABLE events_rebuilt (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    invitation_id TEXT NOT NULL REFERENCES invitations (id),
    business_id TEXT NOT NULL REFERENCES businesses (id),
    invitee_business_id TEXT REFERENCES businesses (id),
    occurred_at INTEGER NOT NULL,
    data TEXT NOT NULL
) STRICT;
INSERT INTO events_rebuilt (id, kind, invitation_id, business_id, invitee_business_id, occurred_at, data)
    SELECT id, kind, invitation_id, business_id, invitee_business_id, occurred_at, data
    FROM events WHERE invitation_id IS NOT NULL ORDER BY rowid;
DROP TABLE events;
ALTER TABLE events_rebuilt RENAME TO events;
CREATE INDEX events_business_keyset_idx ON events (business_id, id);
CREATE INDEX events_invitee_keyset_idx ON events (invitee_business_id, id);

DROP TABLE connection_requests;

CREATE TABLE connections_rebuilt (
    id TEXT PRIMARY KEY NOT NULL,
    business_low TEXT NOT NULL REFERENCES businesses (id),
    business_high TEXT NOT NULL REFERENCES businesses (id),
    inviter_business_id TEXT NOT NULL REFERENCES businesses (id),
    invitee_business_id TEXT NOT NULL REFERENCES businesses (id),
    invitation_id TEXT NOT NULL REFERENCES invitations (id),
    roles TEXT NOT NULL,
    source_is_invitee INTEGER NOT NULL CHECK (source_is_invitee IN (0, 1)),
    created_at INTEGER NOT NULL,
    CHECK (business_low < business_high)
) STRICT;
INSERT INTO connections_rebuilt
    (id, business_low, business_high, inviter_business_id, invitee_business_id, invitation_id, roles,
     source_is_invitee, created_at)
    SELECT id, business_low, business_high, inviter_business_id, invitee_business_id, invitation_id, roles,
           source_is_invitee, created_at
    FROM connections WHERE invitation_id IS NOT NULL ORDER BY rowid;
DROP TABLE connections;
ALTER TABLE connections_rebuilt RENAME TO connections;
CREATE UNIQUE INDEX connections_one_per_pair ON connections (business_low, business_high);
CREATE INDEX connections_inviter_keyset_idx ON connections (inviter_business_id, created_at, id);
CREATE INDEX connections_invitee_keyset_idx ON connections (invitee_business_id, created_at, id);

DROP TABLE join_links;
