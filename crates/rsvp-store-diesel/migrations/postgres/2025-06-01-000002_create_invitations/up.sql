-- Invitations, their link tokens, connections, events and the email outbox (PostgreSQL).

CREATE TABLE invitations (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    business_id TEXT COLLATE "C" NOT NULL REFERENCES businesses (id),
    sent_by_user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    email TEXT NOT NULL,
    email_normalized TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected', 'cancelled', 'expired')),
    message TEXT,
    -- JSON object
    custom_data TEXT NOT NULL,
    -- JSON array of strings
    roles TEXT NOT NULL,
    first_name TEXT,
    last_name TEXT,
    phone TEXT,
    external_id TEXT,
    source_is_invitee BOOLEAN NOT NULL,
    invitee_business_id TEXT COLLATE "C" REFERENCES businesses (id),
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    resolved_at BIGINT,
    email_delivery TEXT COLLATE "C" CHECK (email_delivery IN ('queued', 'sent', 'failed')),
    last_sent_at BIGINT
);

-- At most one pending invitation per (sender business, normalized email).
CREATE UNIQUE INDEX invitations_one_pending_per_email
    ON invitations (business_id, email_normalized) WHERE status = 'pending';
-- Sent list: keyset on (created_at DESC, id DESC) within a business.
CREATE INDEX invitations_sent_keyset_idx ON invitations (business_id, created_at, id);
-- Received list: by the invited address, same keyset.
CREATE INDEX invitations_received_keyset_idx ON invitations (email_normalized, created_at, id);
-- Expiry sweep.
CREATE INDEX invitations_pending_expiry_idx ON invitations (expires_at, id) WHERE status = 'pending';

CREATE TABLE link_tokens (
    -- SHA-256 of the token, lowercase hex: the token itself is never stored here.
    token_hash TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    invitation_id TEXT COLLATE "C" NOT NULL REFERENCES invitations (id),
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE INDEX link_tokens_invitation_idx ON link_tokens (invitation_id);

CREATE TABLE connections (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    -- The pair in canonical order (smaller id first), computed by the application.
    business_low TEXT COLLATE "C" NOT NULL REFERENCES businesses (id),
    business_high TEXT COLLATE "C" NOT NULL REFERENCES businesses (id),
    inviter_business_id TEXT COLLATE "C" NOT NULL REFERENCES businesses (id),
    invitee_business_id TEXT COLLATE "C" NOT NULL REFERENCES businesses (id),
    invitation_id TEXT COLLATE "C" NOT NULL REFERENCES invitations (id),
    roles TEXT NOT NULL,
    source_is_invitee BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    CHECK (business_low < business_high)
);

-- One connection per unordered pair of businesses.
CREATE UNIQUE INDEX connections_one_per_pair ON connections (business_low, business_high);
CREATE INDEX connections_inviter_keyset_idx ON connections (inviter_business_id, created_at, id);
CREATE INDEX connections_invitee_keyset_idx ON connections (invitee_business_id, created_at, id);

CREATE TABLE events (
    -- UUIDv7: ids grow with time, events are listed in id order.
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    invitation_id TEXT COLLATE "C" NOT NULL REFERENCES invitations (id),
    business_id TEXT COLLATE "C" NOT NULL REFERENCES businesses (id),
    invitee_business_id TEXT COLLATE "C" REFERENCES businesses (id),
    occurred_at BIGINT NOT NULL,
    -- JSON
    data TEXT NOT NULL
);

CREATE INDEX events_business_keyset_idx ON events (business_id, id);
CREATE INDEX events_invitee_keyset_idx ON events (invitee_business_id, id);

CREATE TABLE email_jobs (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    invitation_id TEXT COLLATE "C" NOT NULL REFERENCES invitations (id),
    to_email TEXT NOT NULL,
    -- The link token in clear, only until the email is sent (then wiped).
    link_token TEXT,
    attempts INTEGER NOT NULL,
    status TEXT COLLATE "C" NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Outbox claim: queued jobs, oldest first (those not yet due are skipped).
CREATE INDEX email_jobs_queued_idx ON email_jobs (created_at, id) WHERE status = 'queued';
-- The latest job of an invitation.
CREATE INDEX email_jobs_invitation_idx ON email_jobs (invitation_id, created_at);
