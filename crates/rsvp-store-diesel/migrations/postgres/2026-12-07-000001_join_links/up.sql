-- Join links (issue 21): one link many businesses use to connect, each use
-- counted against max_uses, and the connection requests of the links that
-- ask for approval. Connections and events may now come from a join link
-- instead of an invitation.

CREATE TABLE join_links (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    business_id TEXT COLLATE "C" NOT NULL REFERENCES businesses (id),
    created_by_user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    -- SHA-256 of the token, lowercase hex: the token itself is never stored.
    token_hash TEXT COLLATE "C" NOT NULL UNIQUE,
    -- NULL: unlimited.
    max_uses INTEGER CHECK (max_uses BETWEEN 1 AND 10000),
    -- Connections made and requests pending or approved; the check is the
    -- last guard of "never more than max_uses".
    uses INTEGER NOT NULL CHECK (uses >= 0 AND (max_uses IS NULL OR uses <= max_uses)),
    -- JSON array of strings
    roles TEXT NOT NULL,
    -- JSON object
    custom_data TEXT NOT NULL,
    requires_approval BOOLEAN NOT NULL,
    note TEXT,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    created_at BIGINT NOT NULL
);

-- A business's links: keyset on (created_at DESC, id DESC).
CREATE INDEX join_links_keyset_idx ON join_links (business_id, created_at, id);

CREATE TABLE connection_requests (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    join_link_id TEXT COLLATE "C" NOT NULL REFERENCES join_links (id),
    -- The link's business: who approves.
    business_id TEXT COLLATE "C" NOT NULL REFERENCES businesses (id),
    requester_business_id TEXT COLLATE "C" NOT NULL REFERENCES businesses (id),
    requester_user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    -- JSON array of strings
    roles TEXT NOT NULL,
    status TEXT COLLATE "C" NOT NULL CHECK (status IN ('pending', 'approved', 'declined')),
    created_at BIGINT NOT NULL,
    resolved_at BIGINT,
    connection_id TEXT COLLATE "C" REFERENCES connections (id)
);

-- One pending request per business and link: a business redeeming twice uses the link once.
CREATE UNIQUE INDEX connection_requests_one_pending
    ON connection_requests (join_link_id, requester_business_id) WHERE status = 'pending';
CREATE INDEX connection_requests_received_keyset_idx ON connection_requests (business_id, created_at, id);
CREATE INDEX connection_requests_sent_keyset_idx ON connection_requests (requester_business_id, created_at, id);

ALTER TABLE connections ALTER COLUMN invitation_id DROP NOT NULL;
ALTER TABLE connections ADD COLUMN join_link_id TEXT COLLATE "C" REFERENCES join_links (id);
ALTER TABLE events ALTER COLUMN invitation_id DROP NOT NULL;
ALTER TABLE events ADD COLUMN join_link_id TEXT COLLATE "C" REFERENCES join_links (id);
