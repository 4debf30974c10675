-- Join links (issue 21): one link many businesses use to connect, each use
-- counted against max_uses, and the connection requests of the links that
-- ask for approval. Connections and events may now come from a join link
-- instead of an invitation: SQLite cannot drop a NOT NULL, so both tables
-- are rebuilt (nothing references them; same columns, one more at the end).

CREATE TABLE join_links (
    id TEXT PRIMARY KEY NOT NULL,
    business_id TEXT NOT NULL REFERENCES businesses (id),
    created_by_user_id TEXT NOT NULL REFERENCES users (id),
    -- SHA-256 of the token, lowercase hex: the token itself is never stored.
    token_hash TEXT NOT NULL UNIQUE,
    -- NULL: unlimited.
    max_uses INTEGER CHECK (max_uses BETWEEN 1 AND 10000),
    -- Connections made and requests pending or approved; the check is the
    -- last guard of "never more than max_uses".
    uses INTEGER NOT NULL CHECK (uses >= 0 AND (max_uses IS NULL OR uses <= max_uses)),
    -- JSON array of strings
    roles TEXT NOT NULL,
    -- JSON object
    custom_data TEXT NOT NULL,
    requires_approval INTEGER NOT NULL CHECK (requires_approval IN (0, 1)),
    note TEXT,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    created_at INTEGER NOT NULL
) STRICT;

-- A business's links: keyset on (created_at DESC, id DESC).
CREATE INDEX join_links_keyset_idx ON join_links (business_id, created_at, id);

CREATE TABLE connections_rebuilt (
    id TEXT PRIMARY KEY NOT NULL,
    -- The pair in canonical order (smaller id first), computed by the application.
    business_low TEXT NOT NULL REFERENCES businesses (id),
    business_high TEXT NOT NULL REFERENCES businesses (id),
    inviter_business_id TEXT NOT NULL REFERENCES businesses (id),
    invitee_business_id TEXT NOT NULL REFERENCES businesses (id),
    -- The accepted invitation, or NULL for a join link's connection.
    invitation_id TEXT REFERENCES invitations (id),
    roles TEXT NOT NULL,
    source_is_invitee INTEGER NOT NULL CHECK (source_is_invitee IN (0, 1)),
    created_at INTEGER NOT NULL,
    join_link_id TEXT REFERENCES join_links (id),
    CHECK (business_low < business_high)
) STRICT;
INSERT INTO connections_rebuilt
    (id, business_low, business_high, inviter_business_id, invitee_business_id, invitation_id, roles,
     source_is_invitee, created_at, join_link_id)
    SELECT id, business_low, business_high, inviter_business_id, invitee_business_id, invitation_id, roles,
           source_is_invitee, created_at, NULL
    FROM connections ORDER BY rowid;
DROP TABLE connections;
ALTER TABLE connections_rebuilt RENAME TO connections;
CREATE UNIQUE INDEX connections_one_per_pair ON connections (business_low, business_high);
CREATE INDEX connections_inviter_keyset_idx ON connections (inviter_business_id, created_at, id);
CREATE INDEX connections_invitee_keyset_idx ON connections (invitee_business_id, created_at, id);

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
    SELECT id, kind, invitation_id, business_id, invitee_business_id, occurred_at, data, NULL
    FROM events ORDER BY rowid;
DROP TABLE events;
ALTER TABLE events_rebuilt RENAME TO events;
CREATE INDEX events_business_keyset_idx ON events (business_id, id);
CREATE INDEX events_invitee_keyset_idx ON events (invitee_business_id, id);

CREATE TABLE connection_requests (
    id TEXT PRIMARY KEY NOT NULL,
    join_link_id TEXT NOT NULL REFERENCES join_links (id),
    -- The link's business: who approves.
    business_id TEXT NOT NULL REFERENCES businesses (id),
    requester_business_id TEXT NOT NULL REFERENCES businesses (id),
    requester_user_id TEXT NOT NULL REFERENCES users (id),
    -- JSON array of strings
    roles TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'declined')),
    created_at INTEGER NOT NULL,
    resolved_at INTEGER,
    connection_id TEXT REFERENCES connections (id)
) STRICT;

-- One pending request per business and link: a business redeeming twice uses the link once.
CREATE UNIQUE INDEX connection_requests_one_pending
    ON connection_requests (join_link_id, requester_business_id) WHERE status = 'pending';
CREATE INDEX connection_requests_received_keyset_idx ON connection_requests (business_id, created_at, id);
CREATE INDEX connection_requests_sent_keyset_idx ON connection_requests (requester_business_id, created_at, id);
